"""The behaviour-event spine: declared kinds, transactional handlers (exactly once), batch consumers (never skip)."""
import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.utils import timezone

import tests.core.event_probe  # noqa: F401  (declares the probe kinds and subscribes the probe handlers)
from core.consumers import DAILY_COUNTS
from core.events import (
    Actor,
    EventDeliveryFailed,
    EventPayloadInvalid,
    UndeclaredEventKind,
    batch_consumer,
    consumer_lag,
    consumer_run,
    declare,
    event_deliver,
    events_redeliver,
    kinds_declared,
    record_event,
    remove_batch_consumer,
    subscribe,
    unsubscribe,
)
from core.models import BehaviourEvent, EventCursor, EventDailyCount, EventDelivery
from core.tasks import events_deliver_task
from tests.factories import UserFactory
from tests.helpers import race

pytestmark = pytest.mark.django_db

declare("tests_thing", meaning="test: a thing happened", fields={"size": int}, optional={"note": str},
        actor=Actor.ANY)
declare("tests_effect", meaning="test: a handler's effect", actor=Actor.ANY)


@pytest.fixture
def flaky_handler():
    """Subscribes a handler to "tests_thing" that fails on its first call and records an effect event after."""
    calls = {"count": 0}

    @subscribe("tests_thing", name="tests.flaky")
    def handler(event):
        calls["count"] += 1
        record_event(kind="tests_effect", object_type="core.behaviourevent", object_id=event.pk)
        if calls["count"] == 1:
            raise RuntimeError("first delivery fails on purpose")

    yield calls
    unsubscribe("tests_thing", "tests.flaky")


@pytest.fixture
def collected():
    """A batch consumer of probe visits that collects the ids it is given (in memory: for the tests only)."""
    seen: list[int] = []

    @batch_consumer("probe_visit", name="tests.collector", batch_size=3)
    def collect(events):
        seen.extend(event.pk for event in events)

    yield seen
    remove_batch_consumer("tests.collector")


# --- declared kinds ---------------------------------------------------------------------------------------------
def test_record_event_refuses_what_was_not_declared_and_writes_nothing():
    user = UserFactory()
    before = BehaviourEvent.objects.count()
    with pytest.raises(UndeclaredEventKind):
        record_event(kind="nobody_declared_this", actor=user)
    with pytest.raises(EventPayloadInvalid, match="missing fields"):
        record_event(kind="tests_thing", payload={})
    with pytest.raises(EventPayloadInvalid, match="undeclared fields"):
        record_event(kind="tests_thing", payload={"size": 1, "colour": "red"})
    with pytest.raises(EventPayloadInvalid, match="declared int"):
        record_event(kind="tests_thing", payload={"size": "big"})
    with pytest.raises(EventPayloadInvalid, match="user or a visitor"):
        record_event(kind="probe_visit", payload={"page": "/"})
    with pytest.raises(EventPayloadInvalid, match="needs a user"):
        record_event(kind="order_paid", visitor_id="device-1",
                     payload={"total": Decimal("1.00"), "store_id": 1, "kind": "normal", "lines": []})
    assert BehaviourEvent.objects.count() == before


def test_an_anonymous_visitor_is_an_actor():
    event = record_event(kind="probe_visit", visitor_id="device-7f3a", payload={"page": "/cards/1"})
    stored = BehaviourEvent.objects.get(pk=event.pk)
    assert (stored.actor_id, stored.visitor_id, stored.payload) == (None, "device-7f3a", {"page": "/cards/1"})
    assert stored.transaction_id > 0


def test_every_app_declares_its_kinds_and_the_catalogue_is_up_to_date():
    from core.management.commands.events_catalogue import catalogue_markdown
    from tests.conftest import PROJECT_ROOT

    declared = {kind.name: kind for kind in kinds_declared()}
    assert declared["order_paid"].declared_in == "mall.events"
    assert declared["user_logged_in"].declared_in == "accounts.events"
    assert declared["product_viewed"].actor == Actor.VISITOR
    written = (PROJECT_ROOT / "docs" / "events.md").read_text()
    assert written == catalogue_markdown(exclude_modules=("tests.",)), (
        "docs/events.md is stale: run `python manage.py events_catalogue`")


def test_record_event_writes_in_the_callers_transaction():
    user = UserFactory()
    with pytest.raises(RuntimeError), transaction.atomic():
        record_event(kind="product_viewed", actor=user, object_type="supply.product", object_id=7,
                     payload={"sku_id": 7})
        raise RuntimeError("the change fails")
    assert not BehaviourEvent.objects.filter(kind="product_viewed").exists()


def test_a_kind_nobody_handles_gets_no_delivery_rows_and_no_task(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        for _ in range(20):
            record_event(kind="probe_visit", visitor_id="device-1", payload={"page": "/"})
    assert callbacks == []
    assert EventDelivery.objects.count() == 0


# --- transactional handlers -------------------------------------------------------------------------------------
def test_a_handler_that_fails_once_is_retried_and_its_effect_happens_exactly_once(
    flaky_handler, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):  # deliver by hand, step by step
        event = record_event(kind="tests_thing", payload={"size": 3})
    delivery = EventDelivery.objects.get(event_id=event.pk, handler="tests.flaky")
    assert (delivery.kind, delivery.attempts, delivery.done_at) == ("tests_thing", 0, None)

    with pytest.raises(EventDeliveryFailed):
        event_deliver(event_id=event.pk)
    delivery.refresh_from_db()
    assert delivery.attempts == 1 and delivery.done_at is None and "on purpose" in delivery.last_error
    assert BehaviourEvent.objects.filter(kind="tests_effect").count() == 0  # the failed run left nothing

    event_deliver(event_id=event.pk)  # the retry
    event_deliver(event_id=event.pk)  # a duplicate delivery (sweep, second worker)
    assert BehaviourEvent.objects.filter(kind="tests_effect").count() == 1
    assert flaky_handler["count"] == 2
    delivery.refresh_from_db()
    assert delivery.attempts == 2 and delivery.done_at is not None


def test_the_celery_task_retries_when_a_handler_fails(flaky_handler, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        event = record_event(kind="tests_thing", payload={"size": 1})
    # Eager apply runs the task's retry at once (a worker waits for the backoff: see test_worker.py).
    result = events_deliver_task.apply(args=[event.pk], throw=False)
    assert result.state == "SUCCESS"
    assert flaky_handler["count"] == 2
    assert BehaviourEvent.objects.filter(kind="tests_effect").count() == 1
    assert EventDelivery.objects.get(event_id=event.pk).attempts == 2


def test_the_sweep_redelivers_an_event_whose_task_was_lost(django_capture_on_commit_callbacks):
    calls = []
    subscribe("tests_thing", name="tests.lost")(lambda event: calls.append(event.pk))
    try:
        with django_capture_on_commit_callbacks(execute=False):  # the task is never sent: "lost"
            event = record_event(kind="tests_thing", payload={"size": 1})
        assert calls == []
        assert events_redeliver(older_than=timezone.now() - timedelta(hours=1)) == 0  # too young to sweep
        assert events_redeliver(older_than=timezone.now() + timedelta(seconds=1)) == 1
        assert calls == [event.pk]
        assert events_redeliver(older_than=timezone.now() + timedelta(seconds=1)) == 0  # nothing left
    finally:
        unsubscribe("tests_thing", "tests.lost")


def test_a_handler_that_keeps_failing_is_given_up_and_left_visible(settings, django_capture_on_commit_callbacks):
    settings.EVENTS_MAX_ATTEMPTS = 2

    def always_fails(event):
        raise ValueError("broken handler")

    subscribe("tests_thing", name="tests.doomed")(always_fails)
    try:
        with django_capture_on_commit_callbacks(execute=False):
            event = record_event(kind="tests_thing", payload={"size": 1})
        for _ in range(2):
            with pytest.raises(EventDeliveryFailed):
                event_deliver(event_id=event.pk)
        event_deliver(event_id=event.pk)  # third: given up, no exception, no retry storm
        assert events_redeliver(older_than=timezone.now() + timedelta(seconds=1)) == 0  # the sweep leaves it too
        delivery = EventDelivery.objects.get(event_id=event.pk)
        assert delivery.attempts == 2 and delivery.done_at is None and "broken handler" in delivery.last_error
    finally:
        unsubscribe("tests_thing", "tests.doomed")


@pytest.mark.django_db(transaction=True)
def test_concurrent_deliveries_of_one_event_apply_the_effect_once(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        event = record_event(kind="probe_ping")
    _results, errors = race(4, lambda index: event_deliver(event_id=event.pk))
    assert errors == []
    assert BehaviourEvent.objects.filter(kind="probe_pong", object_id=str(event.pk)).count() == 1


# --- batch consumers --------------------------------------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
def test_a_batch_consumer_handles_each_event_once_in_commit_order(collected):
    ids = [record_event(kind="probe_visit", visitor_id=f"d{i}", payload={"page": "/"}).pk for i in range(7)]
    record_event(kind="tests_thing", payload={"size": 1})
    assert consumer_run(name="tests.collector", max_batches=2) == 6  # two batches of three
    assert consumer_run(name="tests.collector") == 1
    assert consumer_run(name="tests.collector") == 0
    assert collected == ids
    cursor = EventCursor.objects.get(consumer="tests.collector")
    assert cursor.processed == 7
    assert consumer_lag(name="tests.collector")["pending"] == 0


@pytest.mark.django_db(transaction=True)
def test_an_event_committed_after_a_later_id_was_read_is_not_skipped(collected):
    """Transaction A writes event 1 and stays open; B writes event 2 and commits; the consumer runs; then A
    commits. A cursor on ids alone would have moved past 1 for good."""
    a_wrote, a_may_commit = threading.Event(), threading.Event()
    first: list[int] = []

    def slow_writer():
        try:
            with transaction.atomic():
                first.append(record_event(kind="probe_visit", visitor_id="slow", payload={"page": "/a"}).pk)
                a_wrote.set()
                a_may_commit.wait(10)
        finally:
            connection.close()

    writer = threading.Thread(target=slow_writer)
    writer.start()
    assert a_wrote.wait(10)
    second = record_event(kind="probe_visit", visitor_id="fast", payload={"page": "/b"}).pk
    assert second > first[0]
    consumer_run(name="tests.collector")
    assert first[0] not in collected
    a_may_commit.set()
    writer.join(10)
    consumer_run(name="tests.collector")
    assert sorted(collected) == sorted([first[0], second])
    assert len(collected) == 2  # and none twice


@pytest.mark.django_db(transaction=True)
def test_a_failing_batch_leaves_the_cursor_where_it_was_and_is_retried():
    attempts = []

    @batch_consumer("probe_visit", name="tests.fragile", batch_size=10)
    def fragile(events):
        attempts.append(len(events))
        EventDailyCount.objects.create(day=timezone.localdate(), kind=f"fragile-{len(attempts)}", count=1)
        if len(attempts) == 1:
            raise RuntimeError("graph server went away")

    try:
        for i in range(4):
            record_event(kind="probe_visit", visitor_id=f"d{i}", payload={"page": "/"})
        with pytest.raises(RuntimeError):
            consumer_run(name="tests.fragile")
        cursor = EventCursor.objects.get(consumer="tests.fragile")
        assert cursor.processed == 0 and "went away" in cursor.last_error
        assert not EventDailyCount.objects.filter(kind="fragile-1").exists()  # rolled back with the batch
        assert consumer_run(name="tests.fragile") == 4
        assert attempts == [4, 4]
        assert consumer_lag(name="tests.fragile") | {"last_run_at": None} == {
            "consumer": "tests.fragile", "pending": 0, "lag_seconds": 0.0, "processed": 4, "last_run_at": None,
            "last_error": ""}
    finally:
        remove_batch_consumer("tests.fragile")


@pytest.mark.django_db(transaction=True)
def test_the_daily_counts_consumer_counts_every_event_once_however_often_it_runs():
    user = UserFactory()
    for _ in range(5):
        record_event(kind="probe_visit", visitor_id="d", payload={"page": "/"})
    record_event(kind="user_logged_in", actor=user, payload={"method": "sms_code"})
    lag = consumer_lag(name=DAILY_COUNTS)
    assert lag["pending"] >= 6 and lag["lag_seconds"] >= 0
    _results, errors = race(3, lambda index: consumer_run(name=DAILY_COUNTS))  # three runners at once
    assert errors == []
    consumer_run(name=DAILY_COUNTS)
    today = timezone.localdate()
    counts = dict(EventDailyCount.objects.filter(day=today).values_list("kind", "count"))
    assert counts["probe_visit"] == 5
    assert counts["user_logged_in"] == 1
    assert consumer_lag(name=DAILY_COUNTS)["pending"] == 0


def test_events_are_indexed_for_timelines_kind_windows_and_commit_order():
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE tablename = 'core_behaviourevent'")
        definitions = " ".join(row[0] for row in cursor.fetchall())
        cursor.execute("SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND %s::regclass IN (confrelid, "
                       "conrelid)", ["core_behaviourevent"])
        foreign_keys = cursor.fetchone()[0]
    assert "(actor_id, created_at)" in definitions
    assert "(visitor_id, created_at)" in definitions
    assert "(kind, created_at)" in definitions
    assert "(transaction_id, id)" in definitions
    assert foreign_keys == 0  # nothing blocks partitioning the table by month


@pytest.mark.django_db(transaction=True)
def test_events_recorded_outside_transactions_by_many_threads_are_each_committed_on_return():
    """Outside a transaction record_event commits in groups (one writer per process): every caller gets its own
    committed row back, and a row that cannot be written fails its own caller only."""

    def visits(index):
        events = [record_event(kind="probe_visit", visitor_id=f"grouped-{index}", payload={"page": f"/{n}"})
                  for n in range(25)]
        # committed on return: another connection sees it at once
        assert BehaviourEvent.objects.filter(pk=events[-1].pk).exists()
        return [event.pk for event in events]

    results, errors = race(8, visits)
    assert errors == []
    ids = [pk for result in results for pk in result]
    assert len(ids) == len(set(ids)) == 200
    stored = dict(BehaviourEvent.objects.filter(visitor_id__startswith="grouped-").values_list("pk", "visitor_id"))
    assert sorted(stored) == sorted(ids)

    def one_bad_among_good(index):
        if index == 0:  # PostgreSQL refuses a NUL (\\u0000) in jsonb: this row cannot be written
            return record_event(kind="probe_visit", visitor_id="grouped-bad", payload={"page": "\x00"})
        return record_event(kind="probe_visit", visitor_id=f"grouped-ok-{index}", payload={"page": "/"})

    results, errors = race(6, one_bad_among_good)
    assert len(results) == 5 and len(errors) == 1
    assert BehaviourEvent.objects.filter(visitor_id__startswith="grouped-ok-").count() == 5
    assert not BehaviourEvent.objects.filter(visitor_id="grouped-bad").exists()
