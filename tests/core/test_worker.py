"""Tasks go through a real Celery worker process on the real Redis broker."""
import time

import pytest
from celery.result import allow_join_result
from django.db import transaction

import tests.core.event_probe  # noqa: F401  (the same handler the worker imports)
from config.celery import app
from core.events import record_event
from core.models import BehaviourEvent, EventDelivery
from core.tasks import ping_task

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.fixture
def real_broker():
    app.conf.task_always_eager = False
    yield
    app.conf.task_always_eager = True


def test_a_task_runs_on_a_real_worker(celery_worker_process, real_broker):
    # Eager tasks run by threads of earlier tests can leave Celery's process-wide "inside a task" flag set (it is a
    # global, not per thread); this test is not inside a task.
    with allow_join_result():
        assert ping_task.delay().get(timeout=30) == "pong"


def wait_for_event(kind: str, about: BehaviourEvent, timeout: float = 30) -> BehaviourEvent | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = BehaviourEvent.objects.filter(kind=kind, object_id=str(about.pk)).first()
        if found is not None:
            return found
        time.sleep(0.2)
    return None


def test_an_event_is_delivered_by_the_worker_after_commit(celery_worker_process, real_broker):
    with transaction.atomic():
        ping = record_event(kind="probe_ping", payload={"hello": "世界"})
    pong = wait_for_event("probe_pong", ping)
    assert pong is not None, "the worker did not deliver the event within 30 s"
    assert pong.payload == {"ping": ping.pk}
    assert EventDelivery.objects.get(event_id=ping.pk).done_at is not None


def test_a_handler_failing_once_on_the_worker_is_retried_and_acts_once(celery_worker_process, real_broker):
    with transaction.atomic():
        event = record_event(kind="probe_flaky")
    effect = wait_for_event("probe_flaky_effect", event)  # the retry comes after a 5 s backoff
    assert effect is not None, "the retry did not deliver the event within 30 s"
    delivery = EventDelivery.objects.get(event_id=event.pk)
    assert delivery.attempts == 2 and delivery.done_at is not None
    assert "fails on purpose" in delivery.last_error
    time.sleep(1)
    assert BehaviourEvent.objects.filter(kind="probe_flaky_effect", object_id=str(event.pk)).count() == 1
