"""The behaviour-event spine: record events in the writer's transaction, deliver them to handlers after commit.

Writers call `record_event(...)` inside the transaction that makes the change. Consumers subscribe a handler per
event kind in their app's `events.py` (imported at start-up by `CoreConfig.ready`):

    @subscribe("order_paid")
    def award_points_for_order(event: BehaviourEvent) -> None: ...

Delivery runs in Celery after commit. Each (event, handler) pair has one `EventDelivery` row; the handler runs
in a transaction that also marks that row done, under a row lock, so a delivery that runs twice (a retried task,
the sweep, two workers) has its effect exactly once. A handler that raises is rolled back and retried with
backoff; the periodic sweep re-delivers events that a lost task or a crashed worker left unhandled.
"""
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import models, transaction
from django.db.models import F
from django.utils import timezone

from core.models import BehaviourEvent, EventDelivery
from core.transactions import enqueue_on_commit

logger = logging.getLogger(__name__)

Handler = Callable[[BehaviourEvent], None]


@dataclass(frozen=True)
class _Subscription:
    name: str
    function: Handler


_subscriptions: dict[str, dict[str, _Subscription]] = {}


class EventDeliveryFailed(Exception):
    """Some handlers of an event failed this time; the delivery is to be retried."""

    def __init__(self, event_id: int, failed_handlers: list[str]):
        super().__init__(f"event {event_id}: handlers failed: {', '.join(failed_handlers)}")
        self.event_id = event_id
        self.failed_handlers = failed_handlers


def subscribe(*kinds: str, name: str | None = None) -> Callable[[Handler], Handler]:
    """Register the decorated function as a handler of the given event kinds.

    The handler's name (default: its dotted path) is stored with each delivery, so renaming a handler
    makes it a new subscriber.
    """

    def decorator(function: Handler) -> Handler:
        handler_name = name or f"{function.__module__}.{function.__qualname__}"
        for kind in kinds:
            _subscriptions.setdefault(kind, {})[handler_name] = _Subscription(handler_name, function)
        return function

    return decorator


def unsubscribe(kind: str, name: str) -> None:
    _subscriptions.get(kind, {}).pop(name, None)


def handlers_for(kind: str) -> list[_Subscription]:
    return list(_subscriptions.get(kind, {}).values())


def record_event(
    *,
    kind: str,
    actor: Any = None,
    target: models.Model | None = None,
    object_type: str = "",
    object_id: str | int = "",
    payload: dict[str, Any] | None = None,
    occurred_at: datetime | None = None,
) -> BehaviourEvent:
    """Append one behaviour event in the caller's transaction and deliver it to its handlers after commit.

    `target` names the object the event is about (its model label and pk); `object_type`/`object_id` do the same
    for objects that are not rows. `occurred_at` is for imports of history (the demo loader); live code leaves it.
    """
    if target is not None:
        object_type = target._meta.label_lower
        object_id = target.pk
    now = timezone.now()
    has_handlers = bool(handlers_for(kind))
    event = BehaviourEvent.objects.create(
        actor=actor if actor is not None and getattr(actor, "pk", None) else None,
        kind=kind,
        object_type=object_type,
        object_id=str(object_id),
        payload=payload or {},
        created_at=occurred_at or now,
        handled_at=None if has_handlers else now,
    )
    if has_handlers:
        from core.tasks import events_deliver_task

        enqueue_on_commit(events_deliver_task, event.pk)
    return event


def event_deliver(*, event_id: int) -> None:
    """Run every handler of the event that has not yet succeeded. Safe to call any number of times.

    Raises EventDeliveryFailed when a handler failed and may be retried.
    """
    event = BehaviourEvent.objects.filter(pk=event_id).first()
    if event is None or event.handled_at is not None:
        return
    subscriptions = handlers_for(event.kind)
    EventDelivery.objects.bulk_create(
        [EventDelivery(event=event, handler=s.name) for s in subscriptions], ignore_conflicts=True
    )
    failed: list[str] = []
    for subscription in subscriptions:
        outcome = _deliver_once(event, subscription)
        if outcome == "failed":
            failed.append(subscription.name)
    if failed:
        raise EventDeliveryFailed(event.pk, failed)
    BehaviourEvent.objects.filter(pk=event.pk, handled_at__isnull=True).update(handled_at=timezone.now())


def _deliver_once(event: BehaviourEvent, subscription: _Subscription) -> str:
    try:
        with transaction.atomic():
            delivery = EventDelivery.objects.select_for_update().get(event=event, handler=subscription.name)
            if delivery.done_at is not None:
                return "done"
            if delivery.attempts >= settings.EVENTS_MAX_ATTEMPTS:
                # Given up: left visible in admin with its last error; an operator may reset it.
                return "dead"
            subscription.function(event)
            EventDelivery.objects.filter(pk=delivery.pk).update(done_at=timezone.now(), attempts=F("attempts") + 1)
            return "done"
    except Exception as error:  # a handler may fail in any way; its transaction is rolled back
        logger.exception("handler %s failed on event %s", subscription.name, event.pk)
        EventDelivery.objects.filter(event=event, handler=subscription.name).update(
            attempts=F("attempts") + 1, last_error=f"{type(error).__name__}: {error}"[:2000]
        )
        return "failed"


def events_redeliver(*, older_than: datetime | None = None, limit: int = 1000) -> int:
    """Re-send unhandled events older than `older_than` (the sweep). Returns how many were sent."""
    from core.tasks import events_deliver_task

    cutoff = older_than or timezone.now() - settings.EVENTS_REDELIVER_AFTER
    event_ids = list(
        BehaviourEvent.objects.filter(handled_at__isnull=True, created_at__lt=cutoff)
        .order_by("created_at")
        .values_list("pk", flat=True)[:limit]
    )
    for event_id in event_ids:
        events_deliver_task.delay(event_id)
    return len(event_ids)


def event_delivery_reset(*, delivery_id: int) -> None:
    """Operator action: give a dead delivery a new round of attempts."""
    with transaction.atomic():
        delivery = EventDelivery.objects.select_for_update().get(pk=delivery_id)
        if delivery.done_at is not None:
            return
        EventDelivery.objects.filter(pk=delivery.pk).update(attempts=0, last_error="")
        BehaviourEvent.objects.filter(pk=delivery.event_id).update(handled_at=None)
        from core.tasks import events_deliver_task

        enqueue_on_commit(events_deliver_task, delivery.event_id)
