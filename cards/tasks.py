"""Celery tasks of the cards app: thin, idempotent, each calling one service."""
from celery import shared_task

from cards import projection
from cards.services import commission


@shared_task(name="cards.commissions_settle_due_task")
def commissions_settle_due_task() -> int:
    return commission.commissions_settle_due()


@shared_task(name="cards.graph_rebuild_task")
def graph_rebuild_task() -> dict:
    return projection.graph_rebuild()
