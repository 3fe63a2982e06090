"""Celery tasks of engagement: thin, idempotent, each calling one service."""
from celery import shared_task

from engagement.services import ledger


@shared_task(name="engagement.ledger_expiry_tick_task")
def ledger_expiry_tick_task() -> None:
    """Beat: lots due by now expire (recorded as an event, applied by the engine in event order)."""
    ledger.expiry_tick_record()
