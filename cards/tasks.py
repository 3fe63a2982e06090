"""Celery tasks of the cards app: thin, idempotent, each calling one service."""
from celery import shared_task

from cards import projection
from cards.services import commission, intent

# Training reads a year of visits and fits the model: more than the default time limit at scale.
TRAINING_SOFT_TIME_LIMIT = 900


@shared_task(name="cards.commissions_settle_due_task")
def commissions_settle_due_task() -> int:
    return commission.commissions_settle_due()


@shared_task(name="cards.graph_rebuild_task")
def graph_rebuild_task() -> dict:
    return projection.graph_rebuild()


@shared_task(name="cards.intent_train_task", ignore_result=False, soft_time_limit=TRAINING_SOFT_TIME_LIMIT,
             time_limit=TRAINING_SOFT_TIME_LIMIT + 60)
def intent_train_task() -> dict:
    """Train, judge and register a new version of the intent model, then score the leads with what is active."""
    result = intent.intent_model_train()
    scored = intent.leads_score()
    return {"status": result.status, "version": result.version.label if result.version else None,
            "note": result.note, "scored": scored["scored"], "scored_with": scored["model"]}


@shared_task(name="cards.leads_score_task", soft_time_limit=TRAINING_SOFT_TIME_LIMIT,
             time_limit=TRAINING_SOFT_TIME_LIMIT + 60)
def leads_score_task() -> dict:
    """Score the leads (intent, reasons, interest tags) with the active model, or the points formula."""
    return intent.leads_score()
