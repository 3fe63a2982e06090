"""Celery tasks of the kernel: event delivery and the re-delivery sweep."""
from celery import shared_task

from core.events import EventDeliveryFailed, event_deliver, events_redeliver

RETRY_BACKOFF_SECONDS = 5
RETRY_BACKOFF_MAX_SECONDS = 600


@shared_task(name="core.events_deliver_task", bind=True, max_retries=8, acks_late=True)
def events_deliver_task(self, event_id: int) -> None:
    try:
        event_deliver(event_id=event_id)
    except EventDeliveryFailed as failure:
        countdown = min(RETRY_BACKOFF_SECONDS * 2**self.request.retries, RETRY_BACKOFF_MAX_SECONDS)
        raise self.retry(exc=failure, countdown=countdown) from failure


@shared_task(name="core.events_redeliver_task")
def events_redeliver_task() -> int:
    return events_redeliver()


@shared_task(name="core.ping_task")
def ping_task() -> str:
    """Answers "pong": lets health checks and tests see that a worker consumes the broker."""
    return "pong"
