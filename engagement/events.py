"""Behaviour events engagement emits, and the rules engine's batch consumer.

The engine reads, as one batch consumer in a transaction with its cursor (exactly once, in commit order), every
kind some reactor reacts to (engagement/triggers.py) and the ledger's own kinds. High-volume kinds (`card_action`)
are among them: a batch consumer reads them in bulk, and the reactor drops the ordinary ones without a query.
The consumer is registered here with the kinds declared so far and registered again by `EngagementConfig.ready`,
once every app's events.py has declared its kinds (a reactor may react to a kind of an app to engagement's right).
"""
from decimal import Decimal

from core.events import Actor, batch_consumer, declare
from core.models import BehaviourEvent
from engagement import registry, triggers  # noqa: F401  (registers the built-in triggers and reactors)
from engagement.services import engine

RULES = engine.RULES

declare("checked_in", meaning="a shopper checked in for the day (签到); `day` is the Asia/Shanghai date",
        fields={"day": str})
declare("ledger_spent", meaning="points or card energy were put on an order or a redemption (a spend hold); the "
        "rules engine debits them at this point of the event order",
        fields={"currency": str, "amount": int, "reference": str, "reason": str, "base": Decimal | None})
declare("ledger_spend_released", meaning="a spend hold was given back (its order was cancelled unpaid)",
        fields={"currency": str, "amount": int, "reference": str})
declare("ledger_expiry_tick", meaning="the expiry job: lots due by `until` expire at this point of the event order",
        fields={"until": str}, actor=Actor.ANY)


BATCH_SIZE = 500


def rules_consumer_register(*, batch_size: int = BATCH_SIZE) -> None:
    """(Re-)register the engine's consumer with every kind declared now. `batch_size` is how many events one
    transaction applies (tests vary it: the outcome must not depend on where batches end)."""
    kinds = sorted(set(registry.reacted_kinds()) | set(engine.LEDGER_KINDS))

    @batch_consumer(*kinds, name=RULES, batch_size=batch_size,
                    meaning="任务规则与积分账本 task rules, awards and the points ledger")
    def engagement_rules(events: list[BehaviourEvent]) -> None:
        engine.rules_events_apply(events=events)


rules_consumer_register()
