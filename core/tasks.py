"""Celery tasks of the kernel: event delivery, its sweep, and the batch consumers' runs."""
from celery import shared_task

from core.events import EventDeliveryFailed, batch_consumers, consumer_run, event_deliver, events_redeliver
from core.transactions import publish

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


@shared_task(name="core.events_consume_task")
def events_consume_task(name: str) -> int:
    """Feed one batch consumer until it has caught up (a second copy finds it busy and returns 0)."""
    return consumer_run(name=name)


@shared_task(name="core.events_consumers_run_task")
def events_consumers_run_task() -> int:
    """Beat: start a run of every batch consumer, each on its own queue."""
    sent = 0
    for consumer in batch_consumers():
        sent += publish(events_consume_task.s(consumer.name).set(queue=consumer.queue))
    return sent


@shared_task(name="core.ping_task", ignore_result=False)
def ping_task() -> str:
    """Answers "pong": lets health checks and tests see that a worker consumes the broker."""
    return "pong"
