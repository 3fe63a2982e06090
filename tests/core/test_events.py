from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from core.events import EventDeliveryFailed, event_deliver, events_redeliver, record_event, subscribe, unsubscribe
from core.models import BehaviourEvent, EventDelivery
from core.tasks import events_deliver_task
from tests.factories import UserFactory
from tests.helpers import race

pytestmark = pytest.mark.django_db


@pytest.fixture
def flaky_handler():
    """Subscribes a handler to "flaky_thing" that fails on its first call and records an effect event after."""
    calls = {"count": 0}

    @subscribe("flaky_thing", name="tests.flaky")
    def handler(event):
        calls["count"] += 1
        record_event(kind="flaky_effect", object_type="core.behaviourevent", object_id=event.pk)
        if calls["count"] == 1:
            raise RuntimeError("first delivery fails on purpose")

    yield calls
    unsubscribe("flaky_thing", "tests.flaky")


def test_record_event_writes_in_the_callers_transaction():
    user = UserFactory()
    with pytest.raises(RuntimeError), transaction.atomic():
        record_event(kind="product_viewed", actor=user, object_type="supply.product", object_id=7)
        raise RuntimeError("the change fails")
    assert not BehaviourEvent.objects.filter(kind="product_viewed").exists()

    event = record_event(kind="product_viewed", actor=user, object_type="supply.product", object_id=7,
                         payload={"source": "feed"})
    stored = BehaviourEvent.objects.get(pk=event.pk)
    assert (stored.actor, stored.kind, stored.object_id, stored.payload) == (user, "product_viewed", "7",
                                                                             {"source": "feed"})
    assert stored.handled_at is not None  # no handler subscribes to it


def test_a_handler_that_fails_once_is_retried_and_its_effect_happens_exactly_once(
    flaky_handler, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):  # deliver by hand, step by step
        event = record_event(kind="flaky_thing")

    with pytest.raises(EventDeliveryFailed):
        event_deliver(event_id=event.pk)
    delivery = EventDelivery.objects.get(event=event, handler="tests.flaky")
    assert delivery.attempts == 1 and delivery.done_at is None and "on purpose" in delivery.last_error
    assert BehaviourEvent.objects.filter(kind="flaky_effect").count() == 0  # the failed run left nothing
    event.refresh_from_db()
    assert event.handled_at is None

    event_deliver(event_id=event.pk)  # the retry
    event_deliver(event_id=event.pk)  # a duplicate delivery (sweep, second worker)
    assert BehaviourEvent.objects.filter(kind="flaky_effect").count() == 1
    assert flaky_handler["count"] == 2
    delivery.refresh_from_db()
    assert delivery.attempts == 2 and delivery.done_at is not None
    event.refresh_from_db()
    assert event.handled_at is not None


def test_the_celery_task_retries_when_a_handler_fails(flaky_handler, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        event = record_event(kind="flaky_thing")
    # Eager apply runs the task's retry at once (a worker waits for the backoff: see test_worker.py).
    result = events_deliver_task.apply(args=[event.pk], throw=False)
    assert result.state == "SUCCESS"
    assert flaky_handler["count"] == 2
    assert BehaviourEvent.objects.filter(kind="flaky_effect").count() == 1
    assert EventDelivery.objects.get(event=event).attempts == 2


def test_the_sweep_redelivers_an_event_whose_task_was_lost(django_capture_on_commit_callbacks):
    calls = []
    subscribe("lost_thing", name="tests.lost")(lambda event: calls.append(event.pk))
    try:
        with django_capture_on_commit_callbacks(execute=False):  # the task is never sent: "lost"
            event = record_event(kind="lost_thing")
        assert calls == []
        assert events_redeliver(older_than=timezone.now() - timedelta(hours=1)) == 0  # too young to sweep
        assert events_redeliver(older_than=timezone.now() + timedelta(seconds=1)) == 1
        assert calls == [event.pk]
        assert events_redeliver(older_than=timezone.now() + timedelta(seconds=1)) == 0  # nothing left
    finally:
        unsubscribe("lost_thing", "tests.lost")


def test_a_handler_that_keeps_failing_is_given_up_and_left_visible(settings, django_capture_on_commit_callbacks):
    settings.EVENTS_MAX_ATTEMPTS = 2

    def always_fails(event):
        raise ValueError("broken handler")

    subscribe("doomed_thing", name="tests.doomed")(always_fails)
    try:
        with django_capture_on_commit_callbacks(execute=False):
            event = record_event(kind="doomed_thing")
        for _ in range(2):
            with pytest.raises(EventDeliveryFailed):
                event_deliver(event_id=event.pk)
        event_deliver(event_id=event.pk)  # third: given up, no exception, no retry storm
        delivery = EventDelivery.objects.get(event=event)
        assert delivery.attempts == 2 and delivery.done_at is None and "broken handler" in delivery.last_error
        event.refresh_from_db()
        assert event.handled_at is not None
    finally:
        unsubscribe("doomed_thing", "tests.doomed")


@pytest.mark.django_db(transaction=True)
def test_concurrent_deliveries_of_one_event_apply_the_effect_once(django_capture_on_commit_callbacks):
    import tests.core.event_probe  # noqa: F401  (subscribes the probe handler)

    with django_capture_on_commit_callbacks(execute=False):
        event = record_event(kind="probe_ping")
    _results, errors = race(4, lambda index: event_deliver(event_id=event.pk))
    assert errors == []
    assert BehaviourEvent.objects.filter(kind="probe_pong", object_id=str(event.pk)).count() == 1


def test_events_are_indexed_for_user_timelines_and_kind_windows():
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE tablename = 'core_behaviourevent'")
        definitions = " ".join(row[0] for row in cursor.fetchall())
    assert "(actor_id, created_at)" in definitions
    assert "(kind, created_at)" in definitions
