"""The rules engine: the batch consumer `engagement.rules` turns behaviour events into awards and writes the ledger,
in commit order, in one transaction with its cursor (so each event takes effect exactly once).

Per event:
1. ledger events first: `order_paid` (the engine remembers the order's total), `refund_succeeded` (the points the
   order earned are taken back in proportion, the points spent on it given back in proportion), `ledger_spent` (a
   spend hold is debited from the lots, first to expire first), `ledger_spend_released` (a cancelled order's
   points come back), `ledger_expiry_tick` (every lot due by then expires);
2. the kind's reactors (engagement/triggers.py) keep the engine's facts and say which triggers occurred, for whom;
3. each occurrence is held against the active rules of its trigger (validity window, audience, condition), and a
   rule that passes awards its reward once per (rule, user, period key), its N-th time in a period as `key#N`;
4. the occurrence counters move on (the `first_time` condition reads them before).

Every decision depends only on the events (their payloads and times) and the rules, never on the clock or on rows
other code changes, so resetting the engine's rows and reading the whole log again (`engine_replay`) rebuilds the
same balances. Ledger rules, the same in the pure model of tests/engagement/reference.py:
- a credit pays the account's debt first; the rest becomes a lot (expiring after the rule's or the currency's
  validity) and the balance;
- before any change to an account at time t, its lots due by t expire (a tick expires every account's);
- a spend takes lots in expiry order (no expiry last, then oldest first); what the lots cannot cover becomes debt;
- a refund takes back round_half_up(award x refunded / order total) of each award of the order (all of it once
  everything is refunded) from the award's own lot; what that lot no longer holds becomes debt;
- it gives back floor(points spent x refunded / goods payable) of the order's spend (all once the goods are
  refunded), as a lot that expires when the latest lot the spend took would have.

The engine works on in-memory copies of the rows a batch touches and writes them at the end of the batch (`flush`),
all in the batch's transaction; `balance` and `debt` are written only here, `held` only through guarded updates.
"""
import bisect
import itertools
from collections import defaultdict
from datetime import datetime, timedelta
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from core.errors import DomainError
from core.models import BehaviourEvent
from engagement import registry
from engagement.models import (
    Currency,
    EngineCounter,
    EngineKey,
    EngineOrder,
    EngineSpend,
    EngineUser,
    LedgerAccount,
    LedgerEntry,
    LedgerLot,
    LevelChange,
    MemberLevel,
    Membership,
    RewardGrant,
    SpendHold,
    TaskAward,
    TaskRule,
)
from mall.services import coupons

RULES = "engagement.rules"  # the batch consumer's name (engagement/events.py registers it)
LEDGER_KINDS = ("order_paid", "refund_succeeded", "ledger_spent", "ledger_spend_released", "ledger_expiry_tick")
E = LedgerEntry.Kind
NEVER = datetime.max.replace(tzinfo=timezone.get_fixed_timezone(0))
NEW_ROW = 10**18  # lots not written yet sort after every written one (their ids will be larger)
TICK_CHUNK = 500
ALIAS_HOPS = 5


def validity_days(currency: str) -> int:
    """A currency's default validity in days (0: never expires). Experience never expires."""
    if currency == Currency.POINTS:
        return settings.ENGAGEMENT_POINTS_VALIDITY_DAYS
    if currency == Currency.ENERGY:
        return settings.ENGAGEMENT_ENERGY_VALIDITY_DAYS
    return 0


def expiry_after(days: int | None, at: datetime) -> datetime | None:
    return at + timedelta(days=days) if days else None


def streak_schedule(text: str) -> list[int]:
    return [int(part) for part in (text or "").replace("，", ",").split(",") if part.strip().isdigit()]


def reward_amount(rule: TaskRule, *, amount: Decimal | None = None, streak: int = 0) -> int:
    """What one award of the rule is worth: the streak schedule's amount for that day of the streak, else the fixed
    amount plus the amount per yuan of the occurrence's money, rounded down."""
    schedule = streak_schedule(rule.streak_rewards)
    if schedule and streak > 0:
        return schedule[min(streak, len(schedule)) - 1]
    value = rule.reward_amount
    if rule.reward_per_yuan and amount is not None and amount > 0:
        value += int((rule.reward_per_yuan * amount).to_integral_value(rounding=ROUND_FLOOR))
    return value


def _fifo(lot: LedgerLot) -> tuple:
    return (lot.expires_at is None, lot.expires_at or NEVER, lot.pk or NEW_ROW + lot._seq)


class Engine:
    """One batch's worth of the engine: its caches of the rows it reads and writes, and the Facts reactors use."""

    def __init__(self):
        self.rules: dict[str, list[TaskRule]] = defaultdict(list)
        for rule in TaskRule.objects.filter(is_active=True).order_by("position", "pk"):
            self.rules[rule.trigger].append(rule)
        self.levels = list(MemberLevel.objects.order_by("min_experience"))
        self.level_ranks = {level.pk: level.rank for level in self.levels}
        self._users: dict[int, EngineUser] = {}
        self._counters: dict[tuple[int, str], int] = {}
        self._keys: dict[str, str | None] = {}
        self._accounts: dict[tuple[int, str], LedgerAccount] = {}
        self._accounts_by_pk: dict[int, LedgerAccount] = {}
        self._lots: dict[int, list[LedgerLot]] = {}
        self._award_counts: dict[tuple, int] = {}
        self._orders: dict[int, EngineOrder | None] = {}
        self._spends: dict[str, list[EngineSpend]] = {}
        self._memberships: dict[int, Membership] = {}
        self._seq = itertools.count(1)
        self._pending_clear()

    def _pending_clear(self) -> None:
        self._dirty: dict[str, dict[int, object]] = defaultdict(dict)
        self._new_awards: list[TaskAward] = []
        self._new_lots: list[LedgerLot] = []
        self._entries: list[LedgerEntry] = []
        self._level_changes: list[LevelChange] = []

    def _mark(self, group: str, row) -> None:
        self._dirty[group][id(row)] = row

    # --- the batch ----------------------------------------------------------------------------------------------
    def prefetch(self, events: list[BehaviourEvent]) -> None:
        """Read in one statement each what the batch's actors will need (facts, counters, accounts, levels)."""
        user_ids = {event.actor_id for event in events if event.actor_id is not None}
        if not user_ids:
            return
        for row in EngineUser.objects.filter(user_id__in=user_ids):
            self._users[row.user_id] = row
        for user_id in user_ids:
            self._users.setdefault(user_id, EngineUser(user_id=user_id))
        for row in EngineCounter.objects.filter(user_id__in=user_ids):
            self._counters[(row.user_id, row.trigger)] = row.count
        for user_id in user_ids:
            for trigger in registry.triggers():
                self._counters.setdefault((user_id, trigger.name), 0)
        for account in LedgerAccount.objects.filter(user_id__in=user_ids):
            self._account_keep(account)
        for membership in Membership.objects.filter(user_id__in=user_ids):
            self._memberships[membership.user_id] = membership
        for user_id in user_ids:
            self._memberships.setdefault(user_id, Membership(user_id=user_id))
        open_lots = defaultdict(list)
        for lot in LedgerLot.objects.filter(account__user_id__in=user_ids, remaining__gt=0):
            open_lots[lot.account_id].append(lot)
        for account in self._accounts_by_pk.values():
            self._lots.setdefault(account.pk, sorted(open_lots[account.pk], key=_fifo))

    def apply(self, event: BehaviourEvent) -> None:
        if event.kind == "ledger_expiry_tick":
            self._tick(event)
            return
        if event.kind == "order_paid":
            self._order_paid(event)
        elif event.kind == "refund_succeeded":
            self._refunded(event)
        elif event.kind == "ledger_spent":
            self._spent(event)
        elif event.kind == "ledger_spend_released":
            self._released(event)
        occurrences = [occurrence for react in registry.reactors_for(event.kind) for occurrence in react(self, event)
                       if occurrence.user_id is not None]
        for occurrence in occurrences:
            self._evaluate(occurrence, event)
        for occurrence in occurrences:
            key = (occurrence.user_id, occurrence.trigger)
            self._counters[key] = self.count(*key) + 1
            self._dirty["counters"][key] = key

    # --- Facts (engagement/registry.py) ---------------------------------------------------------------------------
    def user(self, user_id: int) -> EngineUser:
        row = self._users.get(user_id)
        if row is None:
            row = EngineUser.objects.filter(user_id=user_id).first() or EngineUser(user_id=user_id)
            self._users[user_id] = row
        return row

    def touch(self, user_row: EngineUser) -> None:
        self._mark("users", user_row)

    def count(self, user_id: int, trigger: str) -> int:
        key = (user_id, trigger)
        if key not in self._counters:
            self._counters[key] = EngineCounter.objects.filter(user_id=user_id, trigger=trigger).values_list(
                "count", flat=True).first() or 0
        return self._counters[key]

    def key_get(self, key: str) -> str | None:
        if key not in self._keys:
            self._keys[key] = EngineKey.objects.filter(key=key[:160]).values_list("value", flat=True).first()
        return self._keys[key]

    def key_set(self, key: str, value: str, *, replace: bool = True) -> bool:
        if not replace and self.key_get(key) is not None:
            return False
        self._keys[key] = value[:80]
        self._dirty["keys"][key] = key
        return True

    def canonical(self, visitor_key: str) -> str:
        key = visitor_key or ""
        for _hop in range(ALIAS_HOPS):
            if not key.startswith("v:"):
                break
            alias = self.key_get(f"a:{key}")
            if alias is None:
                break
            key = alias
        return key

    def level_rank(self, user_id: int) -> int | None:
        membership = self._membership(user_id)
        return self.level_ranks.get(membership.level_id) if membership.level_id else None

    # --- rules ----------------------------------------------------------------------------------------------------
    def _evaluate(self, occurrence: registry.Occurrence, event: BehaviourEvent) -> None:
        at = event.created_at
        for rule in self.rules.get(occurrence.trigger, ()):
            if (rule.valid_from and at < rule.valid_from) or (rule.valid_to and at >= rule.valid_to):
                continue
            audience = registry.audience_get(rule.audience)
            if audience is None or not audience.available() or not audience.check(
                    occurrence.user_id, rule.audience_value, at, self):
                continue
            condition = registry.condition_get(rule.condition)
            if condition is None or not condition.check(occurrence, rule, self):
                continue
            streak = int(occurrence.values.get("streak", {}).get(rule.streak_reset, 0))
            amount = reward_amount(rule, amount=occurrence.amount, streak=streak)
            if amount <= 0 and rule.coupon_template_id is None:
                continue
            key = self._period_slot(rule, occurrence, event)
            if key is not None:
                self._award(rule, occurrence, event, key, amount)

    def _period_slot(self, rule: TaskRule, occurrence: registry.Occurrence, event: BehaviourEvent) -> str | None:
        base = registry.period_key(rule.period, day=timezone.localdate(event.created_at),
                                   subject=occurrence.subject or f"e:{event.pk}")[:90]
        counted = (rule.pk, occurrence.user_id, base)
        if counted not in self._award_counts:
            trigger = registry.trigger_get(rule.trigger)
            fresh = rule.period == TaskRule.Period.PER_SUBJECT and occurrence.subject and trigger.subject_unique
            self._award_counts[counted] = 0 if fresh else self._awards_counted(rule, occurrence.user_id, base)
        taken = self._award_counts[counted]
        if taken >= rule.max_per_period:
            return None
        self._award_counts[counted] = taken + 1
        return base if rule.max_per_period == 1 else f"{base}#{taken + 1}"

    @staticmethod
    def _awards_counted(rule: TaskRule, user_id: int, base: str) -> int:
        """Awards the rule already gave the user in this period, from the table (the hottest read of the engine: one
        indexed lookup per occurrence, written without the ORM's statement building)."""
        table = connection.ops.quote_name(TaskAward._meta.db_table)
        with connection.cursor() as cursor:
            if rule.max_per_period == 1:
                cursor.execute(f"SELECT COUNT(*) FROM {table} WHERE rule_id = %s AND user_id = %s "  # noqa: S608
                               "AND period_key = %s", [rule.pk, user_id, base])
            else:
                cursor.execute(f"SELECT COUNT(*) FROM {table} WHERE rule_id = %s AND user_id = %s "  # noqa: S608
                               "AND period_key LIKE %s", [rule.pk, user_id, f"{base}#%"])
            return cursor.fetchone()[0]

    def _award(self, rule: TaskRule, occurrence: registry.Occurrence, event: BehaviourEvent, key: str,
               amount: int) -> None:
        award = TaskAward(rule=rule, user_id=occurrence.user_id, period_key=key, subject=occurrence.subject[:64],
                          source_event_id=event.pk, order_id=occurrence.order_id, currency=rule.currency,
                          amount=max(amount, 0), created_at=event.created_at)
        self._new_awards.append(award)
        if amount > 0:
            account = self._account(occurrence.user_id, rule.currency)
            expires = expiry_after(rule.validity_days if rule.validity_days is not None
                                   else validity_days(rule.currency), event.created_at)
            self._credit(account, amount, event=event, kind=E.AWARD, reason=rule.name, reference=f"rule:{rule.code}",
                         expires_at=expires, award=award)
        if rule.coupon_template_id is not None:
            self._coupon_grant(rule, occurrence.user_id, key)

    def _coupon_grant(self, rule: TaskRule, user_id: int, key: str) -> None:
        """Issue the rule's coupon once per award key. A replay finds the grant and issues nothing again."""
        if RewardGrant.objects.filter(rule=rule, user_id=user_id, period_key=key).exists():
            return
        coupon, note = None, ""
        try:
            with transaction.atomic():
                coupon = coupons.coupon_claim(user=get_user_model()(pk=user_id),
                                              template_id=rule.coupon_template_id)
        except DomainError as refusal:  # sold out, claim limit: the grant says so, the rest of the award stands
            note = refusal.code
        RewardGrant.objects.create(rule=rule, user_id=user_id, period_key=key, user_coupon=coupon, note=note)

    # --- accounts and lots ----------------------------------------------------------------------------------------
    def _account_keep(self, account: LedgerAccount) -> LedgerAccount:
        """Every account the batch touches is one Python object (balances are changed in memory, then written)."""
        self._accounts[(account.user_id, account.currency)] = self._accounts_by_pk[account.pk] = account
        return account

    def _account(self, user_id: int, currency: str) -> LedgerAccount:
        account = self._accounts.get((user_id, currency))
        if account is None:
            account, _created = LedgerAccount.objects.get_or_create(user_id=user_id, currency=currency)
            self._account_keep(account)
        return account

    def _account_of(self, spend: EngineSpend) -> LedgerAccount:
        """The batch's copy of a spend's account (a spend read from the database would bring its own)."""
        account = self._accounts_by_pk.get(spend.account_id)
        if account is None:
            account = self._account_keep(LedgerAccount.objects.get(pk=spend.account_id))
        spend.account = account
        return account

    def _open_lots(self, account: LedgerAccount) -> list[LedgerLot]:
        """The account's lots that still hold something, first to expire first (spends and expiry walk it from the
        front, so an account with many lots costs no more per change than one with few)."""
        lots = self._lots.get(account.pk)
        if lots is None:
            lots = self._lots[account.pk] = sorted(LedgerLot.objects.filter(account=account, remaining__gt=0),
                                                   key=_fifo)
        return lots

    @staticmethod
    def _drop_empty_front(lots: list[LedgerLot]) -> None:
        while lots and lots[0].remaining == 0:
            lots.pop(0)

    def _entry(self, account: LedgerAccount, kind: str, amount: int, debt_change: int, *, event: BehaviourEvent,
               at: datetime, reason: str, reference: str = "", expires_at: datetime | None = None) -> None:
        self._entries.append(LedgerEntry(account=account, kind=kind, amount=amount, debt_change=debt_change,
                                         reason=str(reason)[:200], reference=reference[:64],
                                         source_event_id=event.pk, expires_at=expires_at, created_at=at))
        self._mark("accounts", account)

    def _expire_due(self, account: LedgerAccount, at: datetime, event: BehaviourEvent) -> None:
        lots = self._open_lots(account)
        expired_any = False
        self._drop_empty_front(lots)
        while lots and lots[0].expires_at is not None and lots[0].expires_at <= at:
            lot = lots.pop(0)
            if lot.remaining == 0:
                continue
            expired, lot.remaining = lot.remaining, 0
            self._mark("lots", lot)
            account.balance -= expired
            expired_any = True
            self._entry(account, E.EXPIRY, -expired, 0, event=event, at=at, reason="过期 expired",
                        reference=f"lot:{lot.pk}" if lot.pk else "", expires_at=lot.expires_at)
        if expired_any and account.currency == Currency.EXPERIENCE:
            self._level_check(account, event)

    def _credit(self, account: LedgerAccount, amount: int, *, event: BehaviourEvent, kind: str, reason: str,
                reference: str, expires_at: datetime | None, award: TaskAward | None = None,
                at: datetime | None = None) -> None:
        at = at or event.created_at
        self._expire_due(account, at, event)
        paid = min(account.debt, amount)
        rest = amount - paid
        account.debt -= paid
        if rest:
            lot = LedgerLot(account=account, award=award, amount=rest, remaining=rest, expires_at=expires_at,
                            source_event_id=event.pk, created_at=at)
            lot._seq = next(self._seq)
            self._new_lots.append(lot)
            bisect.insort(self._open_lots(account), lot, key=_fifo)
            account.balance += rest
        self._entry(account, kind, rest, -paid, event=event, at=at, reason=reason, reference=reference,
                    expires_at=expires_at if rest else None)
        if account.currency == Currency.EXPERIENCE:
            self._level_check(account, event)

    def _debit(self, account: LedgerAccount, amount: int, *, event: BehaviourEvent, reason: str,
               reference: str) -> datetime | None:
        """Take `amount` from the lots, first to expire first; what they cannot cover becomes debt. Returns the
        latest expiry among the lots it took from (None when it took none that expires)."""
        at = event.created_at
        self._expire_due(account, at, event)
        left, latest = amount, None
        for lot in self._open_lots(account):
            if left == 0:
                break
            take = min(lot.remaining, left)
            if take == 0:
                continue
            lot.remaining -= take
            left -= take
            self._mark("lots", lot)
            if lot.expires_at is not None and (latest is None or lot.expires_at > latest):
                latest = lot.expires_at
        self._drop_empty_front(self._open_lots(account))
        taken = amount - left
        account.balance -= taken
        account.debt += left
        self._entry(account, E.SPEND, -taken, left, event=event, at=at, reason=reason, reference=reference)
        return latest

    def _reverse(self, award: TaskAward, amount: int, *, event: BehaviourEvent) -> None:
        """Take back part of an award from the award's own lot; what it no longer holds becomes debt."""
        account = self._account(award.user_id, award.currency)
        self._expire_due(account, event.created_at, event)
        lot = self._award_lot(award, account)
        take = min(lot.remaining, amount) if lot is not None else 0
        if take:
            lot.remaining -= take
            self._mark("lots", lot)
        account.balance -= take
        account.debt += amount - take
        award.reversed_amount += amount
        self._mark("awards", award)
        self._entry(account, E.REVERSAL, -take, amount - take, event=event, at=event.created_at,
                    reason=f"退款冲回 refunded: {award.rule.name}", reference=f"order:{award.order_id}")
        if account.currency == Currency.EXPERIENCE:
            self._level_check(account, event)

    def _award_lot(self, award: TaskAward, account: LedgerAccount) -> LedgerLot | None:
        """The lot the award made, if it still holds something."""
        return next((lot for lot in self._open_lots(account) if lot.award_id == award.pk), None)

    # --- ledger events --------------------------------------------------------------------------------------------
    def _order_paid(self, event: BehaviourEvent) -> None:
        order_id = int(event.object_id)
        self._orders[order_id] = order = EngineOrder(order_id=order_id, user_id=event.actor_id,
                                                     total=Decimal(str(event.payload["total"])))
        self._mark("orders", order)

    def _order(self, order_id: int) -> EngineOrder | None:
        if order_id not in self._orders:
            self._orders[order_id] = EngineOrder.objects.filter(order_id=order_id).first()
        return self._orders[order_id]

    def _awards_of_order(self, order_id: int) -> list[TaskAward]:
        """The awards an order earned. Read at a refund only (rare): what the batch holds is written first, so
        this one read sees every award, and the changes go back through the batch's caches (lots by award id)."""
        self.flush()
        awards = list(TaskAward.objects.filter(order_id=order_id).select_related("rule").order_by("pk"))
        for award in awards:
            self._mark("awards", award)
        return awards

    def _refunded(self, event: BehaviourEvent) -> None:
        order_id = int(event.object_id)
        amount = Decimal(str(event.payload["amount"]))
        order = self._order(order_id)
        if order is not None:
            order.refunded += amount
            self._mark("orders", order)
            for award in self._awards_of_order(order_id):
                if order.total <= 0 or order.refunded >= order.total:
                    target = award.amount
                else:
                    target = int((Decimal(award.amount) * order.refunded / order.total).quantize(
                        Decimal(1), rounding=ROUND_HALF_UP))
                if target > award.reversed_amount:
                    self._reverse(award, target - award.reversed_amount, event=event)
        for spend in self._spends_of(f"order:{order_id}"):
            spend.refunded += amount
            self._mark("spends", spend)
            if spend.base is None or spend.base <= 0 or spend.refunded >= spend.base:
                target = spend.amount
            else:
                target = int((Decimal(spend.amount) * spend.refunded / spend.base).to_integral_value(
                    rounding=ROUND_FLOOR))
            if target > spend.returned:
                self._give_back(spend, target - spend.returned, event=event)

    def _spends_of(self, reference: str) -> list[EngineSpend]:
        if reference not in self._spends:
            self._spends[reference] = list(EngineSpend.objects.filter(reference=reference).order_by("pk"))
            for spend in self._spends[reference]:
                self._account_of(spend)
        return self._spends[reference]

    def _give_back(self, spend: EngineSpend, amount: int, *, event: BehaviourEvent) -> None:
        account = self._account_of(spend)
        expires = spend.expires_at or expiry_after(validity_days(account.currency), event.created_at)
        spend.returned += amount
        self._mark("spends", spend)
        self._credit(account, amount, event=event, kind=E.RESTORE, reason="退回 given back",
                     reference=spend.reference, expires_at=expires)

    def _spent(self, event: BehaviourEvent) -> None:
        payload = event.payload
        currency, reference, amount = payload["currency"], payload["reference"], int(payload["amount"])
        account = self._account(event.actor_id, currency)
        if SpendHold.objects.filter(currency=currency, reference=reference, status=SpendHold.Status.HELD).update(
                status=SpendHold.Status.SETTLED, updated_at=timezone.now()):
            # The hold leaves `held` here, unless the order's cancellation released it first (then it did).
            LedgerAccount.objects.filter(pk=account.pk).update(held=F("held") - amount)
        latest = self._debit(account, amount, event=event, reason=payload.get("reason") or "使用 spent",
                             reference=reference)
        base = payload.get("base")
        spend = EngineSpend(account=account, reference=reference, amount=amount,
                            base=Decimal(str(base)) if base is not None else None, expires_at=latest)
        self._spends_of(reference).append(spend)
        self._mark("spends", spend)

    def _released(self, event: BehaviourEvent) -> None:
        account = self._account(event.actor_id, event.payload["currency"])
        for spend in self._spends_of(event.payload["reference"]):
            if spend.account_id == account.pk and spend.amount > spend.returned:
                self._give_back(spend, spend.amount - spend.returned, event=event)

    def _tick(self, event: BehaviourEvent) -> None:
        """Expire every lot due by the tick's time, account by account (a job records ticks; see tasks.py)."""
        until = parse_datetime(event.payload["until"])
        self.flush()
        account_ids = sorted(set(LedgerLot.objects.filter(remaining__gt=0, expires_at__lte=until).values_list(
            "account_id", flat=True)))
        cached = self._accounts_by_pk
        for start in range(0, len(account_ids), TICK_CHUNK):
            chunk = account_ids[start:start + TICK_CHUNK]
            missing = [pk for pk in chunk if pk not in cached]
            for account in LedgerAccount.objects.filter(pk__in=missing):
                self._account_keep(account)
            lots = defaultdict(list)
            for lot in LedgerLot.objects.filter(account_id__in=[pk for pk in missing], remaining__gt=0):
                lots[lot.account_id].append(lot)
            for pk in missing:
                self._lots.setdefault(pk, lots[pk])
            for pk in chunk:
                self._expire_due(cached[pk], until, event)
            self.flush()

    # --- levels ---------------------------------------------------------------------------------------------------
    def _membership(self, user_id: int) -> Membership:
        membership = self._memberships.get(user_id)
        if membership is None:
            membership = Membership.objects.filter(user_id=user_id).first() or Membership(user_id=user_id)
            self._memberships[user_id] = membership
        return membership

    def _level_check(self, account: LedgerAccount, event: BehaviourEvent) -> None:
        """The user's level follows their experience; every change is recorded with the event that caused it."""
        experience = account.balance
        level = None
        for candidate in self.levels:
            if experience >= candidate.min_experience:
                level = candidate
        membership = self._membership(account.user_id)
        level_id = level.pk if level is not None else None
        if membership.experience == experience and membership.level_id == level_id:
            return
        if membership.level_id != level_id:
            self._level_changes.append(LevelChange(user_id=account.user_id, from_level_id=membership.level_id,
                                                   to_level_id=level_id, experience=experience,
                                                   source_event_id=event.pk, created_at=event.created_at))
            membership.level_id, membership.changed_at = level_id, event.created_at
        membership.experience = experience
        self._mark("memberships", membership)

    # --- writing --------------------------------------------------------------------------------------------------
    def flush(self) -> None:
        """Write what the batch changed so far (in the batch's transaction); the caches stay valid."""
        dirty = self._dirty
        new_awards = set(map(id, self._new_awards))
        if self._new_awards:
            TaskAward.objects.bulk_create(self._new_awards)
        _update_from_values(TaskAward, ["reversed_amount"],
                            [(award.pk, award.reversed_amount) for award in dirty["awards"].values()
                             if id(award) not in new_awards])
        new_lots = set(map(id, self._new_lots))
        if self._new_lots:
            LedgerLot.objects.bulk_create(self._new_lots)
        _update_from_values(LedgerLot, ["remaining"], [(lot.pk, lot.remaining) for lot in dirty["lots"].values()
                                                       if id(lot) not in new_lots])
        now = timezone.now()
        _update_from_values(LedgerAccount, ["balance", "debt", "updated_at"],
                            [(account.pk, account.balance, account.debt, now)
                             for account in dirty["accounts"].values()])
        if self._entries:
            LedgerEntry.objects.bulk_create(self._entries)
        self._upsert(EngineUser, list(dirty["users"].values()), ["user_id"],
                     ["registered_at", "profile_fields", "profile_complete", "last_check_in", "streak_none",
                      "streak_weekly", "streak_monthly", "inviter_key"])
        self._upsert(EngineCounter, [EngineCounter(user_id=user_id, trigger=trigger[:64],
                                                   count=self._counters[(user_id, trigger)])
                                     for user_id, trigger in dirty["counters"].values()],
                     ["user_id", "trigger"], ["count"])
        self._upsert(EngineKey, [EngineKey(key=key[:160], value=self._keys[key]) for key in dirty["keys"].values()],
                     ["key"], ["value"])
        self._upsert(EngineOrder, list(dirty["orders"].values()), ["order_id"], ["user_id", "total", "refunded"])
        spends = list(dirty["spends"].values())
        self._upsert(EngineSpend, spends, ["account", "reference"], ["returned", "refunded"])
        self._upsert(Membership, list(dirty["memberships"].values()), ["user"],
                     ["level", "experience", "changed_at"])
        if self._level_changes:
            LevelChange.objects.bulk_create(self._level_changes)
        self._pending_clear()

    @staticmethod
    def _upsert(model, rows: list, unique: list[str], update: list[str]) -> None:
        """Insert new rows, update known ones (ON CONFLICT ... DO UPDATE); new rows get their ids."""
        if rows:
            model.objects.bulk_create(rows, update_conflicts=True, unique_fields=unique, update_fields=update)


def _update_from_values(model, fields: list[str], rows: list[tuple]) -> None:
    """One `UPDATE ... FROM (VALUES ...)` for rows given as (pk, *values): a batch's changed rows in one statement
    (bulk_update's CASE per field costs the ORM more time than the database spends)."""
    if not rows:
        return
    table = connection.ops.quote_name(model._meta.db_table)
    columns = [model._meta.get_field(name).column for name in fields]
    types = [model._meta.get_field(name).db_type(connection) for name in fields]
    assignments = ", ".join(f"{connection.ops.quote_name(column)} = v.{connection.ops.quote_name(column)}"
                            for column in columns)
    row_sql = "(%s, " + ", ".join(f"%s::{kind}" for kind in types) + ")"
    names = ", ".join(["id", *(connection.ops.quote_name(column) for column in columns)])
    with connection.cursor() as cursor:
        for start in range(0, len(rows), 1000):
            chunk = rows[start:start + 1000]
            cursor.execute(
                f"UPDATE {table} SET {assignments} FROM (VALUES {', '.join([row_sql] * len(chunk))}) "  # noqa: S608
                f"AS v({names}) WHERE {table}.id = v.id", [value for row in chunk for value in row])


def rules_events_apply(*, events: list[BehaviourEvent]) -> None:
    """The consumer's work on one batch, in the batch's transaction."""
    engine = Engine()
    engine.prefetch(events)
    for event in events:
        engine.apply(event)
    engine.flush()


# --- replay -----------------------------------------------------------------------------------------------------------
ENGINE_TABLES = (LedgerEntry, LedgerLot, EngineSpend, TaskAward, LevelChange, Membership, EngineUser, EngineCounter,
                 EngineKey, EngineOrder)


def engine_state_reset() -> None:
    """Forget everything the engine derived from the events (awards, the ledger's lots, entries, balances and debts,
    levels, its facts); keep what shoppers and operators did (rules, holds, check-ins, redemptions, coupons
    granted). Runs in `consumer_rewind`'s transaction."""
    tables = ", ".join(connection.ops.quote_name(model._meta.db_table) for model in ENGINE_TABLES)
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {tables}")
    LedgerAccount.objects.update(balance=0, debt=0, updated_at=timezone.now())
