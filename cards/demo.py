"""The demo's business cards: a card for each staff member of the demo stores, a share forest grown by a documented,
seeded branching process (no public data of share chains exists), and the real demo customers (UCI Online Retail,
loaded as orders by `load_demo`) as visitors of the cards of the stores they bought from, arriving some days
before their real orders, so conversions and distribution bindings come out of the real orders.

docs/demo-data.md ("Business cards") explains the process for people; the constants below are the process.

Two halves, as in mall/demo.py:
- `cards_plan_build` is pure: the cards, the customers' real orders and the listings in, a `CardsPlan` out (shares,
  and visits as the tracking events a card page would have sent, with chat messages). Seeded per card, so two runs
  give the same plan.
- `demo_cards_load` creates the cards through the real services (card_save, card_publish, distribution plans),
  then writes the history in one transaction with COPY: shares, visits, first-touch referrals, leads, customer
  assignments, distribution bindings, chat messages and the events the share graph is projected from
  (card_shared, card_referral_bound, lead_converted, card_message_sent). The rows are the ones the visit consumer
  makes from the same tracking events replayed in time order (tests/cards/test_demo_cards.py checks it against
  the real consumer): the consumer cannot make them itself, because it reads events in commit order and the
  orders were committed before any visit, so it would see every purchase before the visits that led to it.
  The tracking events themselves (card_action) are not written for history: their record is the CardVisit rows,
  and the live visit consumer would apply them a second time.
"""
import base64
import bisect
import hashlib
import heapq
import itertools
import math
import random
import time
import zlib
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Sum

from accounts.models import User
from cards import radar
from cards.models import (
    BusinessCard,
    CardMessage,
    CardVisit,
    CustomerAssignment,
    DistributionBinding,
    DistributionPlan,
    Lead,
    Referral,
    Share,
)
from cards.services import commission, sharing
from cards.services.sharing import Action
from core.db.bulk import analyze, copy_rows, ids_reserve
from core.models import BehaviourEvent
from mall.demo import STORES
from mall.models import Listing, Order, OrderLine, Store

DEMO_SEED = 2026
# Times of the demo: the cards go online five weeks before the first UCI invoice; nothing happens after the last.
CARDS_PUBLISHED_AT = datetime.fromisoformat("2010-10-25T09:00:00+08:00")
HOUR, DAY = timedelta(hours=1), timedelta(days=1)

# --- the branching process (per card) ---------------------------------------------------------------------------
# Root shares: the card's owner shares it as a Poisson process of this rate, channels in these proportions.
ROOT_SHARES_PER_WEEK = 4.0
ROOT_CHANNELS = (("moments", 0.45), ("group", 0.25), ("poster", 0.15), ("qr", 0.15))
# How many people open a share: a friend share reaches one person with this probability; the others a
# Poisson number of people with these means. Each opens it after an exponential delay of this mean.
FRIEND_OPENED = 0.85
OPENERS_MEAN = {"group": 3.5, "moments": 2.5, "poster": 5.0, "qr": 4.0}
OPEN_DELAY_HOURS = {"friend": 2.0, "group": 4.0, "moments": 10.0, "poster": 36.0, "qr": 48.0}
# A visitor who arrived through a share of depth d forwards the card during that first visit with probability
# FORWARD_PROBABILITY * FORWARD_DECAY ** (d - 1) (twice with SECOND_FORWARD more), by these channels.
FORWARD_PROBABILITY = 0.35
FORWARD_DECAY = 0.8
SECOND_FORWARD = 0.2
FORWARD_CHANNELS = (("friend", 0.55), ("group", 0.25), ("moments", 0.20))
MAX_DEPTH = 10

# --- the demo customers -----------------------------------------------------------------------------------------
# This share of (customer, store) pairs came through a card (crc32 of "customer:store" decides); the others bought
# without ever opening one. A pair belongs to the store's sales rep's card, or for OWNER_CARD_SHARE of them (by
# crc32) to the store owner's card.
CARD_REACH = 0.8
OWNER_CARD_SHARE = 0.3
# A customer first arrives through a share opened within ARRIVAL_WINDOW before their first order in the store (and
# at least ARRIVAL_MARGIN before it); when no share is opened on their card in that window, someone shares it with
# them ARRIVAL_DAYS (uniform) before that order: a visitor of the card from the last 60 days (with this
# probability) or the card's owner.
ARRIVAL_WINDOW = 21 * DAY
ARRIVAL_MARGIN = 6 * HOUR
ARRIVAL_DAYS = (1.0, 14.0)
REFERRED_BY_VISITOR = 0.55
# Before each later order a customer visits the card with this probability, 2 hours to 7 days before it, and
# looks at the products of that order; between first arrival and 45 days after their last order they also drop
# by now and then (a Poisson process, one visit per BROWSE_EVERY_DAYS on average).
PRE_ORDER_VISIT = 0.6
PRE_ORDER_HOURS = (2.0, 168.0)
BROWSE_EVERY_DAYS = 60.0
BROWSE_AFTER_LAST_ORDER = 45 * DAY
# Anonymous visitors come back with this probability after each visit (exponential gap, mean 6 days), at most
# 4 times; a return opens the same share link with probability RETURN_BY_LINK, else the card directly.
RETURN_PROBABILITY = 0.3
RETURN_GAP_DAYS = 6.0
RETURN_BY_LINK = 0.5
# Visits that are not before an order still look keen this often (people who do not buy, or not yet).
KEEN_BROWSE_SHARE = 0.12


@dataclass(frozen=True)
class Behaviour:
    """How a visit goes: dwell (log-normal around `dwell_median` seconds), Poisson product views, the chance of each
    high-intent action, of chatting and what a chat is about."""

    dwell_median: float
    products_mean: float
    high_intent: tuple[tuple[str, float], ...]
    chat: float
    topics: tuple[tuple[str, float], ...]


BROWSE = Behaviour(dwell_median=25, products_mean=0.7,
                   high_intent=(("copy_wechat", 0.03), ("save_phone", 0.02), ("call", 0.01),
                                ("authorize_phone", 0.02)),
                   chat=0.03, topics=(("price", 0.3), ("comparison", 0.2), ("delivery", 0.2), ("after_sale", 0.1),
                                      ("none", 0.2)))
KEEN = Behaviour(dwell_median=75, products_mean=2.0,
                 high_intent=(("copy_wechat", 0.15), ("save_phone", 0.10), ("call", 0.05),
                              ("authorize_phone", 0.12)),
                 chat=0.25, topics=(("price", 0.4), ("comparison", 0.2), ("delivery", 0.25), ("after_sale", 0.05),
                                    ("none", 0.1)))
MAX_DWELL_SECONDS = 1800

# Chat a visitor may write (our own sentences; {p} is a product's Chinese title), by topic, and the rep's answers.
CHAT_TEMPLATES: dict[str, tuple[str, ...]] = {
    "price": ("「{p}」现在多少钱？有优惠吗？", "请问「{p}」多买几件能便宜点吗？", "这个价格还能再优惠一些吗？",
              "「{p}」有没有满减活动？", "批发价怎么算？"),
    "comparison": ("「{p}」和店里另一款有什么区别？", "这两款哪个好？", "能帮我对比一下这几款吗？",
                   "「{p}」跟别家的同款比起来怎么样？"),
    "delivery": ("「{p}」什么时候发货？", "下单后几天到？", "包邮吗？运费怎么算？", "可以发顺丰吗？",
                 "我在外地，能配送到吗？"),
    "after_sale": ("收到的「{p}」有破损，怎么处理？", "不合适可以退换吗？", "售后保修多久？",
                   "有质量问题可以退货吗？"),
    "none": ("你好，在吗？", "「{p}」还有货吗？", "这款有其他颜色吗？", "想送朋友，帮我推荐一下。"),
}
REP_ANSWERS = ("您好，我是{name}，这就帮您查一下。", "收到，稍后把详细信息发给您。", "好的，我整理一下马上回复您。",
               "您好，已经记下了，有消息第一时间告诉您。")

# The demo stores' staff and their cards (people of the demo, invented; phones are the demo logins of mall/demo.py).
CARD_PROFILES: dict[str, dict[str, str]] = {
    "16600000011": {"name": "林晓", "title": "家居顾问", "wechat_id": "xinyi-linxiao", "theme": "fresh",
                    "intro": "心意生活馆导购，擅长家居软装和节日布置，欢迎咨询。"},
    "16600000001": {"name": "陈心怡", "title": "店长", "wechat_id": "xinyi-chen", "theme": "classic",
                    "intro": "心意生活馆店长，全品类好物，量大可议价。"},
    "16600000012": {"name": "周悦", "title": "选品顾问", "wechat_id": "yuejia-zhou", "theme": "business",
                    "intro": "悦家好物优选导购，精选厨房餐具和收纳好物。"},
    "16600000002": {"name": "吴家明", "title": "店长", "wechat_id": "yuejia-wu", "theme": "classic",
                    "intro": "悦家好物优选店长，只卖自己家里也用的东西。"},
    "16600000013": {"name": "吴乐", "title": "礼品顾问", "wechat_id": "lexiang-wule", "theme": "night",
                    "intro": "乐享礼品小铺导购，帮您挑礼物、配包装。"},
    "16600000003": {"name": "何乐", "title": "店长", "wechat_id": "lexiang-he", "theme": "classic",
                    "intro": "乐享礼品小铺店长，节日礼品一站配齐。"},
}
FEATURED_PER_CARD = 6
COMMISSION_RATES = (Decimal("0.0500"), Decimal("0.0200"))  # the demo stores' two-level plan when they have none


def stable_hash(text: str) -> int:
    return zlib.crc32(text.encode("utf-8"))


def opaque_id(*parts: object, length: int = 16) -> str:
    """A deterministic id that looks like the random ones (URL-safe base64 of a SHA-256)."""
    digest = hashlib.sha256(":".join(str(part) for part in ("demo-cards", *parts)).encode()).digest()
    return base64.urlsafe_b64encode(digest).decode()[:length]


# --- inputs and the plan ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CardSpec:
    """A demo card as the plan needs it."""

    card_id: int
    owner_id: int
    owner_phone: str
    owner_name: str
    is_rep: bool  # the store's sales rep (else its owner)
    store_id: int
    featured: tuple[int, ...]  # listing ids
    listings: tuple[int, ...]  # every listing of the store on sale


@dataclass(frozen=True)
class PaidOrder:
    order_id: int
    paid_at: datetime
    total: Decimal
    listing_ids: tuple[int, ...]  # its first few lines' listings


@dataclass
class CustomerHistory:
    """A demo customer's paid orders in one store, oldest first. `key` names the customer the same way in every
    database (their demo phone, 199 + the UCI customer id): every draw about them hashes it, never an id."""

    customer_id: int
    store_id: int
    orders: list[PaidOrder]
    key: str = ""

    @property
    def stable_key(self) -> str:
        return self.key or str(self.customer_id)


@dataclass
class PlannedShare:
    id: str
    card_id: int
    sharer_key: str
    parent_id: str | None
    channel: str
    depth: int
    at: datetime


@dataclass
class PlannedAction:
    """One tracking event: what the page would have sent to POST /api/v1/cards/track."""

    at: datetime
    action: str
    listing_id: int | None = None
    dwell_seconds: int | None = None


@dataclass
class PlannedMessage:
    at: datetime
    direction: str  # "in" (the visitor) / "out" (the rep)
    text: str
    client_key: str


@dataclass
class PlannedVisit:
    card_id: int
    visit_id: str
    visitor_key: str
    share_id: str | None
    actions: list[PlannedAction]
    messages: list[PlannedMessage] = field(default_factory=list)

    @property
    def started_at(self) -> datetime:
        return self.actions[0].at

    @property
    def ended_at(self) -> datetime:
        return self.actions[-1].at


@dataclass
class CardsPlan:
    shares: list[PlannedShare] = field(default_factory=list)
    visits: list[PlannedVisit] = field(default_factory=list)


@dataclass
class _Person:
    key: str
    arrived_at: datetime
    depth: int  # of the share that brought them
    customer: CustomerHistory | None = None


class _CardSimulation:
    """The branching process of one card, with its own random generator (seeded by the card's owner)."""

    def __init__(self, *, card: CardSpec, customers: list[CustomerHistory], titles: dict[int, str], end: datetime):
        self.card, self.titles, self.end = card, titles, end
        self.rng = random.Random(f"{DEMO_SEED}:{card.owner_phone}")  # noqa: S311 (a seeded simulation, no secret)
        self.owner_key = f"u:{card.owner_id}"
        self.shares: list[PlannedShare] = []
        self.visits: list[PlannedVisit] = []
        self.people: list[_Person] = []
        self.heap: list[tuple] = []
        self.sequence = itertools.count()
        # Customers not arrived yet, by their first order: (time, stable key) keys and the histories beside them.
        self.pending = sorted(customers, key=lambda customer: (customer.orders[0].paid_at, customer.stable_key))
        self.pending_keys = [(customer.orders[0].paid_at, customer.stable_key) for customer in self.pending]
        self.arrivals: list[datetime] = []  # of self.people, in order (people arrive in time order)
        self.messages = itertools.count()
        self.share_by_id: dict[str, PlannedShare] = {}
        self.arrival_share: dict[str, str] = {}  # visitor key -> the share they first arrived through

    # --- helpers
    def _pick(self, weighted: tuple[tuple[str, float], ...]) -> str:
        roll, total = self.rng.random(), 0.0
        for value, weight in weighted:
            total += weight
            if roll < total:
                return value
        return weighted[-1][0]

    def _poisson(self, mean: float) -> int:
        # Knuth's method: small means only.
        limit, count, product = math.exp(-mean), 0, self.rng.random()
        while product > limit:
            count += 1
            product *= self.rng.random()
        return count

    def _share(self, *, sharer_key: str, parent: PlannedShare | None, channel: str, at: datetime,
               openers: bool = True) -> PlannedShare:
        share = PlannedShare(id=opaque_id(self.card.owner_phone, "share", len(self.shares)), card_id=self.card.card_id,
                             sharer_key=sharer_key, parent_id=parent.id if parent else None, channel=channel,
                             depth=parent.depth + 1 if parent else 1, at=at)
        self.shares.append(share)
        self.share_by_id[share.id] = share
        if openers:
            count = int(self.rng.random() < FRIEND_OPENED) if channel == "friend" else self._poisson(
                OPENERS_MEAN[channel])
            for _ in range(count):
                delay = timedelta(hours=self.rng.expovariate(1 / OPEN_DELAY_HOURS[channel]))
                heapq.heappush(self.heap, (at + delay + timedelta(seconds=1), next(self.sequence), "open", share))
        return share

    def _take_pending(self, at: datetime) -> CustomerHistory | None:
        """The customer whose first order comes soonest after `at + ARRIVAL_MARGIN`, if within ARRIVAL_WINDOW."""
        index = bisect.bisect_left(self.pending_keys, (at + ARRIVAL_MARGIN, ""))
        if index < len(self.pending) and self.pending_keys[index][0] <= at + ARRIVAL_WINDOW:
            self.pending_keys.pop(index)
            return self.pending.pop(index)
        return None

    def _pending_remove(self, customer: CustomerHistory) -> bool:
        key = (customer.orders[0].paid_at, customer.stable_key)
        index = bisect.bisect_left(self.pending_keys, key)
        if index < len(self.pending_keys) and self.pending_keys[index] == key:
            self.pending_keys.pop(index)
            self.pending.pop(index)
            return True
        return False

    # --- the process
    def run(self) -> None:
        start = CARDS_PUBLISHED_AT
        at = start
        while True:
            at += timedelta(days=7 * self.rng.expovariate(ROOT_SHARES_PER_WEEK))
            if at > self.end:
                break
            self._share(sharer_key=self.owner_key, parent=None, channel=self._pick(ROOT_CHANNELS), at=at)
        for customer in list(self.pending):
            days = self.rng.uniform(*ARRIVAL_DAYS)
            due = max(customer.orders[0].paid_at - timedelta(days=days), start + HOUR)
            heapq.heappush(self.heap, (due, next(self.sequence), "due", customer))
        while self.heap:
            at, _order, kind, item = heapq.heappop(self.heap)
            if at > self.end:
                continue
            if kind == "open":
                customer = self._take_pending(at)
                key = f"u:{customer.customer_id}" if customer else self._device_key()
                self._arrive(_Person(key, at, item.depth, customer), share=item)
            elif self._pending_remove(item):
                self._arrive(_Person(f"u:{item.customer_id}", at, 0, item), share=self._share_for_due(at))
        for person in self.people:
            if person.customer is None:
                self._anonymous_returns(person)
            else:
                self._customer_visits(person)

    def _device_key(self) -> str:
        return f"v:demo-{self.card.card_id}-{len(self.people):06d}"

    def _share_for_due(self, at: datetime) -> PlannedShare:
        """Someone shares the card with a customer who is due: a recent visitor of the card, or its owner."""
        shared_at = max(at - timedelta(hours=self.rng.uniform(0.2, 6.0)), CARDS_PUBLISHED_AT)
        first = bisect.bisect_left(self.arrivals, at - 60 * DAY)
        last = bisect.bisect_right(self.arrivals, shared_at)
        sharer = self.people[self.rng.randrange(first, last)] if last > first else None
        if sharer is not None and sharer.depth < MAX_DEPTH and self.rng.random() < REFERRED_BY_VISITOR:
            parent = self.share_by_id[self.arrival_share[sharer.key]]
            return self._share(sharer_key=sharer.key, parent=parent, channel="friend", at=shared_at, openers=False)
        return self._share(sharer_key=self.owner_key, parent=None, channel="friend", at=shared_at, openers=False)

    def _arrive(self, person: _Person, *, share: PlannedShare) -> None:
        person.depth = share.depth
        self.people.append(person)
        self.arrivals.append(person.arrived_at)
        self.arrival_share[person.key] = share.id
        customer = person.customer
        next_order = customer.orders[0] if customer else None
        keen = (next_order is not None and next_order.paid_at - person.arrived_at <= 10 * DAY) \
            or self.rng.random() < KEEN_BROWSE_SHARE
        products = self._products(customer, next_order if keen else None)
        visit = self._visit(person.key, share.id, person.arrived_at, KEEN if keen else BROWSE, products)
        forwards = 0
        if share.depth < MAX_DEPTH and self.rng.random() < FORWARD_PROBABILITY * FORWARD_DECAY ** (share.depth - 1):
            forwards = 1 + (self.rng.random() < SECOND_FORWARD)
        for _ in range(forwards):
            inside = visit.started_at + (visit.ended_at - visit.started_at) * self.rng.uniform(0.3, 0.95)
            visit.actions.append(PlannedAction(inside, Action.SHARE))
            self._share(sharer_key=person.key, parent=share, channel=self._pick(FORWARD_CHANNELS), at=inside)
        visit.actions.sort(key=lambda action: (action.at, action.action == Action.LEAVE))

    def _products(self, customer: CustomerHistory | None, order: PaidOrder | None) -> list[int]:
        """What a visit looks at: the order it comes before; else, 40 % of the time for a customer, products of their
        orders in the store (bought before, or to be bought: people look before they buy); else the featured ones."""
        if order is not None:
            return list(order.listing_ids)
        bought = [listing for past in (customer.orders if customer else []) for listing in past.listing_ids]
        pool = bought if bought and self.rng.random() < 0.4 else list(self.card.featured or self.card.listings)
        return pool

    def _visit(self, key: str, share_id: str | None, at: datetime, behaviour: Behaviour, products: list[int]
               ) -> PlannedVisit:
        rng = self.rng
        dwell = int(min(MAX_DWELL_SECONDS, max(3, rng.lognormvariate(math.log(behaviour.dwell_median), 0.8))))
        visit_id = f"demo-{self.card.card_id}-{len(self.visits):07d}"
        visit = PlannedVisit(card_id=self.card.card_id, visit_id=visit_id, visitor_key=key, share_id=share_id,
                             actions=[PlannedAction(at, Action.VIEW_CARD)])

        def moment() -> datetime:
            return at + timedelta(seconds=rng.uniform(1, max(dwell - 1, 1.5)))

        viewed = self._poisson(behaviour.products_mean) + (1 if behaviour is KEEN and products else 0)
        for listing_id in (rng.choice(products) for _ in range(viewed if products else 0)):
            visit.actions.append(PlannedAction(moment(), Action.VIEW_PRODUCT, listing_id=listing_id))
        for action, chance in behaviour.high_intent:
            if rng.random() < chance:
                visit.actions.append(PlannedAction(moment(), action))
        if rng.random() < behaviour.chat:
            when = moment()
            visit.actions.append(PlannedAction(when, Action.CHAT))
            topic = self._pick(behaviour.topics)
            title = self.titles.get(rng.choice(products), "这款商品") if products else "这款商品"
            text = rng.choice(CHAT_TEMPLATES[topic]).format(p=title)
            number = next(self.messages)
            visit.messages.append(PlannedMessage(when, "in", text, f"demo-{self.card.card_id}-{number}-in"))
            answer = rng.choice(REP_ANSWERS).format(name=self.card.owner_name)
            visit.messages.append(PlannedMessage(when + timedelta(minutes=rng.uniform(2, 30)), "out", answer,
                                                 f"demo-{self.card.card_id}-{number}-out"))
        visit.actions.append(PlannedAction(at + timedelta(seconds=dwell), Action.LEAVE, dwell_seconds=dwell))
        visit.actions.sort(key=lambda action: (action.at, action.action == Action.LEAVE))
        self.visits.append(visit)
        return visit

    def _anonymous_returns(self, person: _Person) -> None:
        at = person.arrived_at
        keen = self.rng.random() < KEEN_BROWSE_SHARE
        for _ in range(4):
            if self.rng.random() >= RETURN_PROBABILITY:
                break
            at += HOUR + timedelta(days=self.rng.expovariate(1 / RETURN_GAP_DAYS))
            if at > self.end:
                break
            share_id = self.arrival_share[person.key] if self.rng.random() < RETURN_BY_LINK else None
            self._visit(person.key, share_id, at, KEEN if keen else BROWSE, list(self.card.featured))

    def _customer_visits(self, person: _Person) -> None:
        customer = person.customer
        arrival_share = self.arrival_share[person.key]
        for order in customer.orders:
            if order is customer.orders[0] and order.paid_at - person.arrived_at <= 10 * DAY:
                continue  # the arrival itself was the visit before this order
            if self.rng.random() >= PRE_ORDER_VISIT:
                continue
            at = order.paid_at - timedelta(hours=self.rng.uniform(*PRE_ORDER_HOURS))
            if at > person.arrived_at + HOUR:
                share_id = arrival_share if self.rng.random() < RETURN_BY_LINK else None
                self._visit(person.key, share_id, at, KEEN, self._products(customer, order))
        browse_until = min(customer.orders[-1].paid_at + BROWSE_AFTER_LAST_ORDER, self.end)
        paid = [order.paid_at for order in customer.orders]
        at = person.arrived_at
        while True:
            at += timedelta(days=self.rng.expovariate(1 / BROWSE_EVERY_DAYS))
            if at > browse_until:
                break
            index = bisect.bisect_left(paid, at - HOUR)
            if index < len(paid) and paid[index] <= at + HOUR:
                continue  # nobody browses the card in the hour of their own order
            keen = self.rng.random() < KEEN_BROWSE_SHARE
            self._visit(person.key, None, at, KEEN if keen else BROWSE, self._products(customer, None))


def card_for_customer(*, customer_key: str, store_id: int, cards: list[CardSpec]) -> CardSpec | None:
    """Which of the store's cards a (customer, store) pair came through, or None when it never came through one.
    The store is named by its cards' owners' phones, the customer by their stable key: the same in any database."""
    own = [card for card in cards if card.store_id == store_id]
    if not own:
        return None
    store_key = min(card.owner_phone for card in own)
    if stable_hash(f"{customer_key}:{store_key}") % 1000 >= CARD_REACH * 1000:
        return None
    reps = [card for card in own if card.is_rep]
    owners = [card for card in own if not card.is_rep]
    if owners and (not reps or stable_hash(f"card:{customer_key}:{store_key}") % 1000 < OWNER_CARD_SHARE * 1000):
        return owners[0]
    return reps[0]



def cards_plan_build(*, cards: list[CardSpec], customers: list[CustomerHistory], titles: dict[int, str],
                     end: datetime) -> CardsPlan:
    """The whole demo history of the cards: one simulation per card (independent, each seeded by its owner)."""
    by_card: dict[int, list[CustomerHistory]] = defaultdict(list)
    for customer in customers:
        if not customer.orders:
            continue
        card = card_for_customer(customer_key=customer.stable_key, store_id=customer.store_id, cards=cards)
        if card is not None:
            by_card[card.card_id].append(customer)
    plan = CardsPlan()
    for card in sorted(cards, key=lambda spec: spec.card_id):
        simulation = _CardSimulation(card=card, customers=by_card[card.card_id], titles=titles, end=end)
        simulation.run()
        plan.shares += simulation.shares
        plan.visits += sorted(simulation.visits, key=lambda visit: (visit.started_at, visit.visit_id))
    return plan


# --- from the plan to the rows the visit consumer makes ---------------------------------------------------------
def user_of(key: str) -> int | None:
    return int(key[2:]) if key.startswith("u:") else None


@dataclass
class LeadRow:
    owner_id: int
    card_id: int
    store_id: int
    visitor_key: str
    visits: int = 0
    dwell_seconds: int = 0
    actions: dict[str, int] = field(default_factory=dict)
    first_seen_at: datetime | None = None
    last_seen_at: datetime | None = None
    stage: str = "new"
    converted_at: datetime | None = None
    converted_by: PaidOrder | None = None
    # When each of its visits ended: the lead's last_seen_at as it stood at any moment. A demo visit never spans
    # one of the visitor's orders (visits before an order end hours before it; others keep an hour away).
    seen: list[datetime] = field(default_factory=list)


@dataclass
class HistoryRows:
    visits: list[tuple]
    referrals: list[tuple[int, str, PlannedShare, datetime]]  # card, visitor key, share, first arrival
    leads: list[LeadRow]
    assignments: list[tuple[int, int, int, datetime]]  # store, customer, rep, at
    bindings: list[tuple[int, int, PlannedShare, int, int | None, datetime]]  # store, buyer, share, level 1, 2, at


def history_rows(*, plan: CardsPlan, cards: dict[int, CardSpec], customers: list[CustomerHistory],
                 conversion_days: int, one_rep_per_store: bool = True) -> HistoryRows:
    """The visit consumer's rules (cards/services/visits.py) applied to the plan's tracking events in time order:
    one CardVisit per page opening; the first share a visitor arrived through fixes their referral (returns come
    through the same link or none, so no attribution setting moves it); one lead per card owner and visitor, which
    becomes `interested` on a high-intent action and `won` when the visitor pays in the store within
    `conversion_days` of their last visit before paying; a logged-in visitor who arrived through a share belongs to
    the card's owner in that store and is bound to the share's sharer (level 1) and its parent's (level 2)."""
    shares = {share.id: share for share in plan.shares}
    visit_rows, leads, firsts = [], {}, {}
    for visit in sorted(plan.visits, key=lambda visit: (visit.started_at, visit.card_id, visit.visit_id)):
        card = cards[visit.card_id]
        counts: dict[str, int] = {}
        products: list[int] = []
        for action in visit.actions:
            counts[action.action] = counts.get(action.action, 0) + 1
            if action.listing_id and action.listing_id not in products:
                products.append(action.listing_id)
        dwell = max((action.dwell_seconds or 0) for action in visit.actions)
        visit_rows.append((f"{visit.card_id}:{visit.visit_id}", visit.card_id, visit.visitor_key,
                           user_of(visit.visitor_key), visit.share_id, visit.started_at, visit.ended_at, dwell, counts,
                           products[:50]))
        if visit.share_id:
            firsts.setdefault((visit.card_id, visit.visitor_key), (visit.share_id, visit.started_at))
        lead = leads.get((card.owner_id, visit.visitor_key))
        if lead is None:
            lead = leads[(card.owner_id, visit.visitor_key)] = LeadRow(card.owner_id, card.card_id, card.store_id,
                                                                       visit.visitor_key)
        lead.visits += 1
        lead.dwell_seconds += dwell
        for action, count in counts.items():
            lead.actions[action] = lead.actions.get(action, 0) + count
        lead.first_seen_at = min(filter(None, (lead.first_seen_at, visit.started_at)))
        lead.last_seen_at = max(filter(None, (lead.last_seen_at, visit.ended_at)))
        lead.seen.append(visit.ended_at)
        if any(lead.actions.get(action) for action in Action.HIGH_INTENT):
            lead.stage = "interested"
    window = timedelta(days=conversion_days)
    orders = {(customer.customer_id, customer.store_id): customer.orders for customer in customers}
    for lead in leads.values():
        buyer = user_of(lead.visitor_key)
        seen = sorted(lead.seen)
        for order in orders.get((buyer, lead.store_id), ()) if buyer is not None else ():
            index = bisect.bisect_right(seen, order.paid_at)
            if index and order.paid_at - window <= seen[index - 1] <= order.paid_at:
                lead.converted_at, lead.converted_by, lead.stage = order.paid_at, order, "won"
                break
    referrals, assignments, bindings = [], [], []
    for (card_id, key), (share_id, at) in sorted(firsts.items(), key=lambda item: (item[1][1], item[0])):
        card, share = cards[card_id], shares[share_id]
        if key in (f"u:{card.owner_id}", share.sharer_key):
            continue
        referrals.append((card_id, key, share, at))
        buyer = user_of(key)
        if buyer is None or buyer == card.owner_id:
            continue
        if one_rep_per_store:
            assignments.append((card.store_id, buyer, card.owner_id, at))
        level1 = user_of(share.sharer_key)
        if level1 is None or level1 == buyer:
            continue
        level2 = user_of(shares[share.parent_id].sharer_key) if share.parent_id else None
        bindings.append((card.store_id, buyer, share, level1, None if level2 in (buyer, level1) else level2, at))
    return HistoryRows(visits=visit_rows, referrals=referrals, leads=list(leads.values()), assignments=assignments,
                       bindings=bindings)


# --- writing ----------------------------------------------------------------------------------------------------
Say = Callable[[str], None]
ORDER_KEY_PREFIX = "demo:"
LINES_PER_ORDER = 4  # the products a visit before an order looks at: its first lines
RADAR_HISTORY = 20  # radar items per rep from the history, so the radar page has something to show


def _demo_staff() -> list[tuple[Store, User, bool]]:
    """(store, staff member, is the sales rep) for each demo store's owner and rep, in STORES order."""
    found = []
    for spec in STORES:
        store = Store.objects.filter(owner__phone=spec.owner_phone, name=spec.name).select_related("owner").first()
        if store is None:
            continue
        rep = User.objects.filter(phone=spec.rep_phone).first()
        found.append((store, store.owner, False))
        if rep is not None:
            found.append((store, rep, True))
    return found


def _best_sellers(*, store: Store, count: int) -> list[int]:
    """The store's listings that sold the most units in the demo orders (ties: lower id)."""
    return list(OrderLine.objects.filter(order__store=store, order__idempotency_key__startswith=ORDER_KEY_PREFIX,
                                         listing__status=Listing.Status.ACTIVE)
                .values("listing_id").annotate(units=Sum("quantity")).order_by("-units", "listing_id")
                .values_list("listing_id", flat=True)[:count])


def demo_cards_ensure() -> list[CardSpec]:
    """A published card for every staff member of the demo stores (through card_save and card_publish), featuring
    the store's best sellers; a card that exists is left as its owner edited it. Each demo store gets a two-level
    distribution plan (COMMISSION_RATES) unless it has one."""
    specs = []
    for store, user, is_rep in _demo_staff():
        profile = CARD_PROFILES.get(user.phone, {"name": user.nickname or user.phone, "title": "", "intro": "",
                                                 "wechat_id": "", "theme": BusinessCard.Theme.CLASSIC})
        card = BusinessCard.objects.filter(owner=user, store=store).first()
        if card is None:
            card = sharing.card_save(owner=user, store_id=store.pk, company=store.name, phone=user.phone,
                                     featured_listing_ids=_best_sellers(store=store, count=FEATURED_PER_CARD),
                                     **profile)
        if card.status != BusinessCard.Status.PUBLISHED:
            card = sharing.card_publish(owner=user, card_id=card.pk)
        featured = tuple(card.featured_links.values_list("listing_id", flat=True))
        listings = tuple(Listing.objects.filter(store=store, status=Listing.Status.ACTIVE).order_by("pk")
                         .values_list("pk", flat=True))
        specs.append(CardSpec(card_id=card.pk, owner_id=user.pk, owner_phone=user.phone, owner_name=card.name,
                              is_rep=is_rep, store_id=store.pk, featured=featured, listings=listings))
        if not DistributionPlan.objects.filter(store=store).exists():
            commission.distribution_plan_save(store_id=store.pk, level1_rate=COMMISSION_RATES[0],
                                              level2_rate=COMMISSION_RATES[1])
    return specs


@dataclass
class PlanInputs:
    customers: list[CustomerHistory]
    titles: dict[int, str]  # listing id -> its product's Chinese title
    end: datetime  # the last demo order: nothing happens after it


def demo_cards_inputs(*, cards: list[CardSpec]) -> PlanInputs | None:
    """What the plan is built from, read from the database (None when there are no demo orders)."""
    customers, end = _customers_with_orders()
    if end is None:
        return None
    titles = dict(Listing.objects.filter(store_id__in={card.store_id for card in cards})
                  .values_list("pk", "sku__product__title"))
    return PlanInputs(customers=customers, titles=titles, end=end)


def _customers_with_orders() -> tuple[list[CustomerHistory], datetime | None]:
    """Every demo customer's paid demo orders per store, each with the listings of its first lines; and the time of
    the last one."""
    rows = list(Order.objects.filter(idempotency_key__startswith=ORDER_KEY_PREFIX, paid_at__isnull=False)
                .order_by("paid_at", "number").values_list("pk", "buyer_id", "store_id", "paid_at", "total",
                                                           "buyer__phone"))
    if not rows:
        return [], None
    lines: dict[int, list[int]] = defaultdict(list)
    table = connection.ops.quote_name(OrderLine._meta.db_table)
    orders_table = connection.ops.quote_name(Order._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT order_id, listing_id FROM (SELECT l.order_id, l.listing_id, row_number() OVER "  # noqa: S608
            f"(PARTITION BY l.order_id ORDER BY l.id) AS n FROM {table} l JOIN {orders_table} o ON o.id = l.order_id "
            f"WHERE o.idempotency_key LIKE %s) AS first WHERE n <= %s ORDER BY order_id, n",
            [f"{ORDER_KEY_PREFIX}%", LINES_PER_ORDER])
        for order_id, listing_id in cursor.fetchall():
            lines[order_id].append(listing_id)
    histories: dict[tuple[int, int], CustomerHistory] = {}
    for order_id, buyer_id, store_id, paid_at, total, phone in rows:
        history = histories.get((buyer_id, store_id))
        if history is None:
            history = histories[(buyer_id, store_id)] = CustomerHistory(buyer_id, store_id, [], key=phone)
        history.orders.append(PaidOrder(order_id, paid_at, total, tuple(lines[order_id])))
    return list(histories.values()), rows[-1][3]


def demo_cards_history_loaded(*, cards: list[CardSpec]) -> bool:
    """The history was written when the first share of any demo card's plan exists (the ids are deterministic)."""
    return Share.objects.filter(pk__in=[opaque_id(card.owner_phone, "share", 0) for card in cards]).exists()


def demo_cards_load(*, say: Say | None = None) -> dict[str, int]:
    """Cards (idempotent, through the services), then the history in one transaction, written once."""
    say = say or (lambda _message: None)
    started = time.monotonic()
    cards = demo_cards_ensure()
    counts = {"cards": len(cards), "shares": 0, "visits": 0, "leads": 0, "conversions": 0, "bindings": 0,
              "messages": 0}
    if not cards:
        say("没有演示店铺 no demo stores: run load_demo first")
        return counts
    if demo_cards_history_loaded(cards=cards):
        say("名片演示数据已完整 the cards' demo history is already loaded: nothing to do")
        return counts
    inputs = demo_cards_inputs(cards=cards)
    if inputs is None:
        say("没有演示订单 no demo orders: cards without history")
        return counts
    customers, titles = inputs.customers, inputs.titles
    plan = cards_plan_build(cards=cards, customers=customers, titles=titles, end=inputs.end)
    by_id = {card.card_id: card for card in cards}
    rows = history_rows(plan=plan, cards=by_id, customers=customers, conversion_days=settings.CARDS_CONVERSION_DAYS,
                        one_rep_per_store=settings.CARDS_ONE_REP_PER_STORE)
    say(f"计划 plan: {len(plan.shares)} shares, {len(plan.visits)} visits, {len(rows.leads)} leads "
        f"({time.monotonic() - started:.1f} s)")
    with transaction.atomic():
        _history_write(plan=plan, rows=rows, cards=by_id)
        counts.update(shares=len(plan.shares), visits=len(rows.visits), leads=len(rows.leads),
                      conversions=sum(lead.converted_at is not None for lead in rows.leads),
                      bindings=len(rows.bindings), messages=sum(len(visit.messages) for visit in plan.visits))
    _radar_history_push(plan=plan, cards=by_id, titles=titles)
    say(f"写入 written: {counts} ({time.monotonic() - started:.1f} s)")
    return counts


def _history_write(*, plan: CardsPlan, rows: HistoryRows, cards: dict[int, CardSpec]) -> None:
    copy_rows(model=Share, columns=("id", "card_id", "sharer_id", "sharer_key", "parent_id", "channel", "depth",
                                    "created_at"),
              rows=((share.id, share.card_id, user_of(share.sharer_key), share.sharer_key, share.parent_id,
                     share.channel, share.depth, share.at) for share in plan.shares))
    copy_rows(model=CardVisit, columns=("visit_key", "card_id", "visitor_key", "user_id", "share_id", "started_at",
                                        "last_seen_at", "dwell_seconds", "actions", "products"), rows=rows.visits)
    copy_rows(model=Referral, columns=("card_id", "visitor_key", "share_id", "first_at", "bound_at"),
              rows=((card_id, key, share.id, at, at) for card_id, key, share, at in rows.referrals))
    lead_ids = ids_reserve(model=Lead, count=len(rows.leads))
    copy_rows(model=Lead, columns=("id", "owner_id", "card_id", "store_id", "visitor_key", "user_id", "stage",
                                   "visits", "dwell_seconds", "actions", "first_seen_at", "last_seen_at",
                                   "converted_at", "created_at", "updated_at"),
              rows=((lead_id, lead.owner_id, lead.card_id, lead.store_id, lead.visitor_key,
                     user_of(lead.visitor_key), lead.stage, lead.visits, lead.dwell_seconds, lead.actions,
                     lead.first_seen_at, lead.last_seen_at, lead.converted_at, lead.first_seen_at, lead.last_seen_at)
                    for lead_id, lead in zip(lead_ids, rows.leads, strict=True)))
    CustomerAssignment.objects.bulk_create(
        [CustomerAssignment(store_id=store_id, customer_id=customer_id, rep_id=rep_id, source="first_touch")
         for store_id, customer_id, rep_id, _at in rows.assignments], ignore_conflicts=True, batch_size=2000)
    DistributionBinding.objects.bulk_create(
        [DistributionBinding(store_id=store_id, buyer_id=buyer_id, share_id=share.id, level1_id=level1,
                             level2_id=level2, bound_at=at)
         for store_id, buyer_id, share, level1, level2, at in rows.bindings], ignore_conflicts=True, batch_size=2000)
    messages = [(visit, message) for visit in plan.visits for message in visit.messages]
    message_ids = ids_reserve(model=CardMessage, count=len(messages))
    text_field = CardMessage._meta.get_field("text")
    copy_rows(model=CardMessage, columns=("id", "card_id", "visitor_key", "direction", "text", "author_id",
                                          "client_key", "created_at"),
              rows=((message_id, visit.card_id, visit.visitor_key, message.direction,
                     text_field.get_prep_value(message.text),
                     user_of(visit.visitor_key) if message.direction == "in" else cards[visit.card_id].owner_id,
                     message.client_key, message.at)
                    for message_id, (visit, message) in zip(message_ids, messages, strict=True)))
    copy_rows(model=BehaviourEvent, columns=EVENT_COLUMNS, rows=itertools.chain(
        _shared_events(plan), _bound_events(rows), _message_events(messages, message_ids),
        _converted_events(rows, lead_ids)))
    BusinessCard.objects.filter(pk__in=list(cards)).update(published_at=CARDS_PUBLISHED_AT)
    analyze(Share, CardVisit, Referral, Lead, CardMessage, CustomerAssignment, DistributionBinding, BehaviourEvent)


EVENT_COLUMNS = ("kind", "actor_id", "visitor_id", "object_type", "object_id", "payload", "created_at")
CARD_OBJECT = "cards.businesscard"


def _actor(key: str) -> tuple[int | None, str]:
    user_id = user_of(key)
    return (user_id, "") if user_id is not None else (None, key[2:])


def _shared_events(plan: CardsPlan):
    for share in plan.shares:
        yield ("card_shared", *_actor(share.sharer_key), CARD_OBJECT, str(share.card_id),
               {"share_id": share.id, "parent_id": share.parent_id, "channel": share.channel, "depth": share.depth,
                "sharer_key": share.sharer_key}, share.at)


def _bound_events(rows: HistoryRows):
    for card_id, key, share, at in rows.referrals:
        yield ("card_referral_bound", None, "", CARD_OBJECT, str(card_id),
               {"card_id": card_id, "visitor_key": key, "share_id": share.id, "sharer_key": share.sharer_key,
                "depth": share.depth, "channel": share.channel, "replaced": None}, at)


def _message_events(messages, message_ids):
    for message_id, (visit, message) in zip(message_ids, messages, strict=True):
        if message.direction == "in":
            yield ("card_message_sent", *_actor(visit.visitor_key), CARD_OBJECT, str(visit.card_id),
                   {"message_id": message_id, "direction": "in", "length": len(message.text)}, message.at)


def _converted_events(rows: HistoryRows, lead_ids: list[int]):
    for lead_id, lead in zip(lead_ids, rows.leads, strict=True):
        if lead.converted_by is not None:
            yield ("lead_converted", None, "", "cards.lead", str(lead_id),
                   {"lead_id": lead_id, "card_id": lead.card_id, "visitor_key": lead.visitor_key,
                    "order_id": lead.converted_by.order_id, "amount": lead.converted_by.total}, lead.converted_at)


def _radar_history_push(*, plan: CardsPlan, cards: dict[int, CardSpec], titles: dict[int, str]) -> None:
    """The last RADAR_HISTORY visits of each card, as radar items of its owner (oldest first)."""
    by_card: dict[int, list[PlannedVisit]] = defaultdict(list)
    for visit in plan.visits:
        by_card[visit.card_id].append(visit)
    items = []
    for card_id, visits in by_card.items():
        for visit in sorted(visits, key=lambda visit: visit.started_at)[-RADAR_HISTORY:]:
            done = {action.action for action in visit.actions}
            telling = next((action for action in Action.HIGH_INTENT if action in done), None)
            viewed = [action.listing_id for action in visit.actions if action.listing_id]
            action = telling or (Action.VIEW_PRODUCT if viewed else Action.VIEW_CARD)
            dwell = max((item.dwell_seconds or 0) for item in visit.actions)
            who = "访客" + visit.visitor_key[-4:] if visit.visitor_key.startswith("v:") else "客户"
            items.append((cards[card_id].owner_id, {
                "at": visit.ended_at.isoformat(), "card_id": card_id, "visitor_key": visit.visitor_key,
                "lead_id": None, "action": action, "visit_number": 1, "new_visit": True,
                "text": radar.radar_sentence(who=who, action=action, visit_number=1, dwell_seconds=dwell,
                                             product=titles.get(viewed[-1], "") if viewed else "")}))
    radar.radar_push(items=items)
