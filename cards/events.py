"""Behaviour events the cards app emits, and how it reacts to the spine.

- Tracking (`card_action`) is the high-volume kind: the tracking endpoint only records it (group commit, no other
  write); the batch consumer `cards.visits` turns it into visits, first-touch referrals, leads, customer
  assignments and distribution bindings, and feeds the rep's radar. Decisions it takes are recorded as events of
  their own (`card_referral_bound`, `lead_converted`) in its transaction, so the share graph, a projection, is built
  from them by the `cards.graph` consumer (cards/projection.py).
- Money (`order_paid`, deliveries, refunds) reaches the commission ledger through transactional handlers: exactly
  once, in the same transaction as their delivery row. Mall knows nothing of cards.
"""
from decimal import Decimal

from cards import projection
from cards.services import commission, visits
from core.events import Actor, batch_consumer, declare, subscribe
from core.models import BehaviourEvent

VISITS = "cards.visits"
GRAPH = projection.CONSUMER

# --- cards and shares ---
declare("card_published", meaning="a rep published their business card", fields={"store_id": int})
declare("card_unpublished", meaning="a rep took their business card offline", fields={"store_id": int})
declare("card_shared", meaning="someone forwarded a card: a new share (its id is the only thing the link carries)",
        fields={"share_id": str, "parent_id": str | None, "channel": str, "depth": int, "sharer_key": str},
        actor=Actor.VISITOR)
declare("card_action", meaning="a visitor did something on a card page (tracking endpoint; high volume, read by "
        "batch consumers only)",
        fields={"visit_id": str, "action": str, "share_id": str | None},
        optional={"dwell_seconds": int, "listing_id": int}, actor=Actor.VISITOR)
declare("card_message_sent", meaning="a visitor wrote to a card's rep (在线咨询); the text stays in the message row",
        fields={"message_id": int, "direction": str, "length": int}, actor=Actor.VISITOR)
declare("visitor_identified", meaning="an anonymous visitor (device id) logged in: their visits follow the user",
        fields={"visitor_id": str})

# --- decisions of the visit consumer (projected into the share graph) ---
declare("card_referral_bound", meaning="a visitor's referrer for a card was fixed (first touch, or moved by the "
        "attribution setting)", fields={"card_id": int, "visitor_key": str, "share_id": str, "sharer_key": str,
                                        "depth": int, "channel": str, "replaced": str | None}, actor=Actor.ANY)
declare("visitor_merged", meaning="an anonymous visitor's rows moved to the user they logged in as",
        fields={"from_key": str, "to_key": str}, actor=Actor.ANY)
declare("lead_converted", meaning="a lead's visitor paid an order in the card's store within the conversion window",
        fields={"lead_id": int, "card_id": int, "visitor_key": str, "order_id": int, "amount": Decimal},
        actor=Actor.ANY)

# --- leads and customers ---
declare("lead_stage_changed", meaning="a rep moved a lead to another stage",
        fields={"lead_id": int, "from_stage": str, "to_stage": str})
declare("customer_reassigned", meaning="a store manager gave a customer to another rep",
        fields={"store_id": int, "customer_id": int, "from_rep": int, "to_rep": int, "reason": str})

# --- commission (分销) ---
declare("commission_earned", meaning="a paid order earned a level-1 or level-2 commission (pending)",
        fields={"order_id": int, "level": int, "amount": Decimal, "beneficiary_id": int}, actor=Actor.ANY)
declare("commission_reversed", meaning="a refund took back (part of) a commission",
        fields={"order_id": int, "level": int, "amount": Decimal, "beneficiary_id": int}, actor=Actor.ANY)
declare("withdrawal_requested", meaning="a beneficiary asked to withdraw commission",
        fields={"withdrawal_id": int, "amount": Decimal})
declare("withdrawal_decided", meaning="an operator paid or rejected a withdrawal",
        fields={"withdrawal_id": int, "status": str}, actor=Actor.ANY)


@batch_consumer("card_action", "visitor_identified", "order_paid", name=VISITS, batch_size=1000,
                meaning="名片访问、首次归属、线索与雷达 visits, first touch, leads and the radar")
def cards_visits(events: list[BehaviourEvent]) -> None:
    visits.visit_events_apply(events=events)


@batch_consumer("card_shared", "card_referral_bound", "visitor_merged", "lead_converted", name=GRAPH, batch_size=2000,
                in_transaction=False, queue="graph", meaning="分享关系图投影 share graph projection")
def cards_graph(events: list[BehaviourEvent]) -> None:
    projection.graph_events_project(events=events)


@subscribe("order_paid", name="cards.commission_on_paid")
def commission_on_paid(event: BehaviourEvent) -> None:
    commission.commission_on_order_paid(order_id=int(event.object_id))


@subscribe("order_delivered", name="cards.commission_on_delivered")
def commission_on_delivered(event: BehaviourEvent) -> None:
    commission.commission_freeze(order_id=int(event.object_id))


@subscribe("refund_succeeded", name="cards.commission_on_refund")
def commission_on_refund(event: BehaviourEvent) -> None:
    commission.commission_reverse(order_id=int(event.object_id), refund_id=int(event.payload["refund_id"]))
