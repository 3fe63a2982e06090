"""The demo's cards (cards/demo.py, `manage.py load_demo_cards`): the seeded branching process, the real demo
customers arriving before their real orders, one write, and rows equal to what the real visit consumer makes from
the same tracking events."""
import re
from collections import defaultdict
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command

from cards import demo
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
from cards.services.sharing import SHARE_ID, Action
from cards.services.visits import visit_events_apply
from core.models import BehaviourEvent
from mall.management.commands.load_demo import default_data_dir
from mall.models import Order

CSV_PATH = default_data_dir() / "online_retail" / "online_retail.csv.gz"
needs_data = pytest.mark.skipif(not CSV_PATH.exists(), reason=f"{CSV_PATH} is not there")
LIMIT = 400
START = datetime.fromisoformat("2010-12-01T08:00:00+08:00")


# --- the plan, on inputs made here ------------------------------------------------------------------------------
def synthetic_inputs():
    cards = [demo.CardSpec(card_id=1, owner_id=900, owner_phone="16600000011", owner_name="林晓", is_rep=True,
                           store_id=1, featured=(101, 102, 103), listings=tuple(range(101, 121))),
             demo.CardSpec(card_id=2, owner_id=901, owner_phone="16600000001", owner_name="陈心怡", is_rep=False,
                           store_id=1, featured=(104, 105), listings=tuple(range(101, 121)))]
    customers = []
    for customer_id in range(1, 121):
        orders = [demo.PaidOrder(order_id=customer_id * 10 + number,
                                 paid_at=START + timedelta(days=(customer_id * 7 + number * 23) % 100, hours=number),
                                 total=Decimal("88.00"), listing_ids=(101 + customer_id % 20, 102))
                  for number in range(1 + customer_id % 4)]
        customers.append(demo.CustomerHistory(customer_id, 1, sorted(orders, key=lambda order: order.paid_at)))
    titles = {listing: f"商品{listing}" for listing in range(101, 121)}
    return cards, customers, titles, START + timedelta(days=130)


def test_the_plan_is_seeded_and_follows_the_branching_process():
    cards, customers, titles, end = synthetic_inputs()
    plan = demo.cards_plan_build(cards=cards, customers=customers, titles=titles, end=end)
    assert plan == demo.cards_plan_build(cards=cards, customers=customers, titles=titles, end=end)  # same seed
    shares = {share.id: share for share in plan.shares}
    assert len(shares) == len(plan.shares) > 100
    assert all(SHARE_ID.fullmatch(share_id) for share_id in shares)
    first_visit: dict[tuple[int, str], demo.PlannedVisit] = {}
    for visit in sorted(plan.visits, key=lambda visit: visit.started_at):
        first_visit.setdefault((visit.card_id, visit.visitor_key), visit)
        assert visit.actions[0].action == Action.VIEW_CARD and visit.actions[-1].action == Action.LEAVE
        assert visit.actions[-1].dwell_seconds == (visit.ended_at - visit.started_at).total_seconds()
        assert [action.at for action in visit.actions] == sorted(action.at for action in visit.actions)
        assert visit.ended_at <= end + timedelta(seconds=demo.MAX_DWELL_SECONDS)
        assert visit.visitor_key.startswith(("u:", "v:demo-"))
    for share in plan.shares:
        card = next(card for card in cards if card.card_id == share.card_id)
        if share.parent_id is None:
            assert (share.depth, share.sharer_key) == (1, f"u:{card.owner_id}")
            continue
        parent = shares[share.parent_id]
        assert (share.depth, share.card_id) == (parent.depth + 1, parent.card_id) and share.depth <= demo.MAX_DEPTH
        # A visitor forwards the card during the first visit, which came through the parent share.
        arrival = first_visit[(share.card_id, share.sharer_key)]
        assert arrival.share_id == parent.id and arrival.started_at <= share.at
    # Every customer a card reached arrives through a share before their first order, at most 21 days before it;
    # the others never open a card.
    reached = 0
    for customer in customers:
        card = demo.card_for_customer(customer_key=customer.stable_key, store_id=1, cards=cards)
        arrival = first_visit.get((card.card_id, f"u:{customer.customer_id}")) if card else None
        if card is None:
            assert not any(visit.visitor_key == f"u:{customer.customer_id}" for visit in plan.visits)
            continue
        reached += 1
        first_order = customer.orders[0].paid_at
        assert arrival is not None and arrival.share_id in shares
        assert first_order - timedelta(days=21) <= arrival.started_at < first_order
        assert shares[arrival.share_id].at <= arrival.started_at
    assert 0.65 * len(customers) <= reached <= 0.95 * len(customers)  # CARD_REACH is 0.8
    assert sum(visit.visitor_key.startswith("v:") for visit in plan.visits) > 0
    # Another database numbers the same customers differently: the plan draws on their stable keys, not their ids.
    renumbered = [demo.CustomerHistory(customer.customer_id + 5000, 1, customer.orders,
                                       key=customer.stable_key) for customer in customers]
    again = demo.cards_plan_build(cards=cards, customers=renumbered, titles=titles, end=end)
    assert [share.id for share in again.shares] == [share.id for share in plan.shares]
    assert [(visit.visit_id, visit.started_at) for visit in again.visits] == [
        (visit.visit_id, visit.started_at) for visit in plan.visits]


# --- against the database ---------------------------------------------------------------------------------------
def demo_loaded() -> None:
    call_command("load_demo", "--limit-invoices", str(LIMIT), "--quiet")
    call_command("load_demo_cards", "--quiet")


def stored_counts() -> dict[str, int]:
    return {"cards": BusinessCard.objects.count(), "shares": Share.objects.count(),
            "visits": CardVisit.objects.count(), "referrals": Referral.objects.count(), "leads": Lead.objects.count(),
            "assignments": CustomerAssignment.objects.count(), "bindings": DistributionBinding.objects.count(),
            "messages": CardMessage.objects.count(), "events": BehaviourEvent.objects.count()}


@needs_data
@pytest.mark.django_db
def test_load_demo_cards_builds_the_history_once_from_the_real_orders():
    demo_loaded()
    cards = BusinessCard.objects.select_related("store", "owner")
    assert cards.count() == 6 and all(card.status == "published" for card in cards)
    assert {card.owner.phone for card in cards} == set(demo.CARD_PROFILES)
    for card in cards:
        featured = list(card.featured_links.values_list("listing__store_id", flat=True))
        assert 0 < len(featured) <= demo.FEATURED_PER_CARD and set(featured) == {card.store_id}
    assert DistributionPlan.objects.count() == 3
    counts = stored_counts()
    assert counts["shares"] > 300 and counts["visits"] > 1000 and counts["bindings"] > 0
    assert BehaviourEvent.objects.filter(kind="card_shared").count() == counts["shares"]
    assert BehaviourEvent.objects.filter(kind="card_referral_bound").count() == counts["referrals"]
    assert BehaviourEvent.objects.filter(kind="card_message_sent").count() == CardMessage.objects.filter(
        direction="in").count() > 0
    assert not BehaviourEvent.objects.filter(kind="card_action").exists()  # their record is the visits
    # Conversions come from the real orders: the buyer paid in the card's store within 30 days of a visit.
    converted = Lead.objects.filter(converted_at__isnull=False)
    assert converted.count() == BehaviourEvent.objects.filter(kind="lead_converted").count() > 0
    for lead in converted:
        assert Order.objects.filter(buyer_id=lead.user_id, store_id=lead.store_id, paid_at=lead.converted_at).exists()
        assert CardVisit.objects.filter(card__owner_id=lead.owner_id, visitor_key=lead.visitor_key,
                                        last_seen_at__lte=lead.converted_at,
                                        last_seen_at__gte=lead.converted_at - timedelta(days=30)).exists()
        assert lead.stage == Lead.Stage.WON
    # Every customer lead visited before buying, and their first order in the store, days later, converted it.
    paid: dict[tuple[int, int], list[datetime]] = defaultdict(list)
    for buyer_id, store_id, paid_at in Order.objects.filter(idempotency_key__startswith="demo:").values_list(
            "buyer_id", "store_id", "paid_at"):
        paid[(buyer_id, store_id)].append(paid_at)
    customer_leads = Lead.objects.filter(user__isnull=False)
    assert customer_leads.count() == converted.count()
    for lead in customer_leads:
        assert lead.first_seen_at < min(paid[(lead.user_id, lead.store_id)]) == lead.converted_at
    assert CardMessage.objects.filter(direction="in").first().text  # stored encrypted, read back in clear
    assert re.fullmatch(r"v1:t2:.+", _raw_message_text())

    call_command("load_demo_cards", "--quiet")
    assert stored_counts() == counts  # a second run adds nothing


def _raw_message_text() -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"SELECT text FROM {CardMessage._meta.db_table} LIMIT 1")  # noqa: S608
        return cursor.fetchone()[0]


def consumer_rows() -> dict[str, set]:
    """The rows the visit consumer is responsible for, in a form that does not depend on ids or write times."""
    lead_keys = dict(Lead.objects.values_list("pk", "visitor_key"))
    return {
        "visits": {(*row[:8], tuple(sorted(row[8].items())), tuple(row[9])) for row in CardVisit.objects.values_list(
            "visit_key", "card_id", "visitor_key", "user_id", "share_id", "started_at", "last_seen_at",
            "dwell_seconds", "actions", "products")},
        "referrals": set(Referral.objects.values_list("card_id", "visitor_key", "share_id", "first_at")),
        "leads": {(*row[:9], tuple(sorted(row[9].items())), row[10]) for row in Lead.objects.values_list(
            "owner_id", "card_id", "store_id", "visitor_key", "user_id", "stage", "visits", "dwell_seconds",
            "first_seen_at", "actions", "converted_at")},
        "assignments": set(CustomerAssignment.objects.values_list("store_id", "customer_id", "rep_id")),
        "bindings": set(DistributionBinding.objects.values_list("store_id", "buyer_id", "share_id", "level1_id",
                                                                "level2_id")),
        "converted": {(lead_keys[event.payload["lead_id"]], event.payload["card_id"], event.payload["order_id"],
                       event.payload["amount"]) for event in BehaviourEvent.objects.filter(kind="lead_converted")},
        "bound": {(event.payload["card_id"], event.payload["visitor_key"], event.payload["share_id"],
                   event.payload["depth"]) for event in BehaviourEvent.objects.filter(kind="card_referral_bound")},
    }


def tracking_events(plan: demo.CardsPlan) -> list[BehaviourEvent]:
    """The plan's visits as the tracking endpoint records them (cards.services.sharing.card_track)."""
    events = []
    for visit in plan.visits:
        user_id = demo.user_of(visit.visitor_key)
        for action in visit.actions:
            payload = {"visit_id": visit.visit_id, "action": action.action, "share_id": visit.share_id}
            if action.dwell_seconds is not None:
                payload["dwell_seconds"] = action.dwell_seconds
            if action.listing_id is not None:
                payload["listing_id"] = action.listing_id
            events.append(BehaviourEvent(kind="card_action", actor_id=user_id,
                                         visitor_id="" if user_id else visit.visitor_key[2:],
                                         object_type="cards.businesscard", object_id=str(visit.card_id),
                                         payload=payload, created_at=action.at))
    return events


@needs_data
@pytest.mark.django_db
def test_the_bulk_rows_are_the_rows_the_visit_consumer_makes_from_the_same_events():
    demo_loaded()
    bulk = consumer_rows()
    assert all(bulk.values()), {name: len(rows) for name, rows in bulk.items()}

    # Start again from the shares alone, and feed the real consumer the plan's tracking events and the demo's real
    # order_paid events in time order (a payment after every action before it, as they happened).
    BehaviourEvent.objects.filter(kind__in=["card_referral_bound", "lead_converted"]).delete()
    for model in (DistributionBinding, CustomerAssignment, Referral, CardVisit, Lead):
        model.objects.all().delete()
    cards = demo.demo_cards_ensure()
    inputs = demo.demo_cards_inputs(cards=cards)
    plan = demo.cards_plan_build(cards=cards, customers=inputs.customers, titles=inputs.titles, end=inputs.end)
    payments = list(BehaviourEvent.objects.filter(kind="order_paid"))
    timeline = sorted(tracking_events(plan) + payments,
                      key=lambda event: (event.created_at, event.kind == "order_paid", event.pk or 0))
    batch: list[BehaviourEvent] = []
    for event in timeline:
        if event.kind == "order_paid":
            if batch:
                visit_events_apply(events=batch)
                batch = []
            visit_events_apply(events=[event])
        else:
            batch.append(event)
    if batch:
        visit_events_apply(events=batch)

    replayed = consumer_rows()
    for name in bulk:
        assert replayed[name] == bulk[name], name
