"""The behaviour-event spine: declared kinds, one append-only table, two kinds of consumer.

Declaring. Each app declares the kinds it emits in its own `events.py` (imported at start-up by `CoreConfig.ready`):

    ORDER_PAID = declare("order_paid", meaning="an order was paid", fields={"total": Decimal, "store_id": int})

`record_event` refuses a kind nobody declared, a payload missing a declared field or carrying an undeclared one,
and an actor the kind does not allow (visitor kinds need a user or an anonymous visitor id, never neither).
`manage.py events_catalogue` writes the catalogue to docs/events.md.

Recording. Writers call `record_event(...)` inside the transaction that makes the change. The row never changes
afterwards (no delivery state on it, no foreign key into it), so the table can be partitioned by month.

Consuming, two ways, both safe to run twice:

- Transactional handlers (`@subscribe("order_paid")`) for low-volume kinds whose effect lives in this database
  (points, commission). `record_event` writes one EventDelivery row per handler in the writer's transaction and
  asks a worker after commit to deliver; each handler runs in a transaction that also marks its delivery row done,
  under a row lock, so a retried task, the sweep and a second worker apply the effect exactly once.
- Batch consumers (`@batch_consumer("card_viewed", ...)`) for everything else, above all high-volume kinds: no task
  per event. A consumer reads events in batches in commit order from its durable EventCursor, may run outside any
  database transaction (writes to another server, such as the graph) and must then be idempotent, and reports its
  lag (`consumer_lag`).

Why batch readers cannot skip an event: ids are handed out when a row is inserted, but transactions commit in any
order, so "id > last id read" would skip an event whose transaction commits after a later id was already read.
Each event stores the id of its writing transaction; a consumer reads only events of transactions older than the
oldest transaction still running (`pg_snapshot_xmin`), which have all committed or rolled back, in
(transaction id, id) order. Nothing can appear behind that horizon later.
"""
import contextlib
import json
import logging
import os
import sys
import threading
import time
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, models, transaction
from django.db.models import F, Q
from django.utils import timezone

from core.models import BehaviourEvent, EventCursor, EventDelivery
from core.transactions import enqueue_on_commit

logger = logging.getLogger(__name__)

# Named, not imported: core/tasks.py imports this module.
DELIVER_TASK = "core.events_deliver_task"
Handler = Callable[[BehaviourEvent], None]
BatchHandler = Callable[[list[BehaviourEvent]], None]
MAX_VISITOR_ID_LENGTH = 64
POSITION_MAX = 2**63 - 1


# --- declared kinds ---------------------------------------------------------------------------------------------
class Actor(StrEnum):
    """Who an event of a kind is about."""

    USER = "user"  # a logged-in user, always
    VISITOR = "visitor"  # a user or an anonymous visitor id (device id), never neither
    ANY = "any"  # may have no actor (timers, operators' batch jobs)


@dataclass(frozen=True)
class EventKind:
    name: str
    meaning: str
    fields: Mapping[str, Any]
    optional: Mapping[str, Any]
    actor: Actor
    declared_in: str


class UndeclaredEventKind(LookupError):
    pass


class EventPayloadInvalid(TypeError):
    pass


_kinds: dict[str, EventKind] = {}


def declare(name: str, *, meaning: str, fields: Mapping[str, Any] | None = None,
            optional: Mapping[str, Any] | None = None, actor: Actor = Actor.USER) -> EventKind:
    """Declare an event kind: its payload fields (name -> type, or a union such as `int | None`), a one-line
    meaning and who its actor is. Declaring the same kind twice with a different shape is a programming error."""
    kind = EventKind(name=name, meaning=meaning, fields=dict(fields or {}), optional=dict(optional or {}),
                     actor=Actor(actor), declared_in=_caller_module())
    existing = _kinds.get(name)
    if existing is not None and (existing.fields, existing.optional, existing.actor) != (
            kind.fields, kind.optional, kind.actor):
        raise ValueError(f"event kind {name!r} is already declared differently in {existing.declared_in}")
    _kinds[name] = kind
    return kind


def _caller_module() -> str:
    frame = sys._getframe(2)
    return frame.f_globals.get("__name__", "?")


def kind_get(name: str) -> EventKind:
    kind = _kinds.get(name)
    if kind is None:
        raise UndeclaredEventKind(f"event kind {name!r} is not declared in any app's events.py")
    return kind


def kinds_declared() -> list[EventKind]:
    return sorted(_kinds.values(), key=lambda kind: (kind.declared_in, kind.name))


def _type_matches(value: Any, expected: Any) -> bool:
    if isinstance(expected, types.UnionType):
        return any(_type_matches(value, member) for member in expected.__args__)
    if expected is None or expected is type(None):
        return value is None
    if expected is Decimal:
        return isinstance(value, Decimal | int) and not isinstance(value, bool)
    if expected is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if expected is list:
        return isinstance(value, list | tuple)
    return isinstance(value, expected)


def payload_check(kind: EventKind, payload: Mapping[str, Any]) -> None:
    missing = [name for name in kind.fields if name not in payload]
    unknown = [name for name in payload if name not in kind.fields and name not in kind.optional]
    if missing or unknown:
        raise EventPayloadInvalid(f"event {kind.name!r}: missing fields {missing}, undeclared fields {unknown}")
    for name, value in payload.items():
        expected = kind.fields.get(name, kind.optional.get(name))
        if not _type_matches(value, expected):
            raise EventPayloadInvalid(f"event {kind.name!r}: field {name!r} is {type(value).__name__}, "
                                      f"declared {getattr(expected, '__name__', expected)}")


# --- transactional handlers -------------------------------------------------------------------------------------
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
    """Register the decorated function as a transactional handler of the given event kinds.

    The handler's name (default: its dotted path) is stored with each delivery, so renaming a handler makes it a
    new subscriber. Subscribe only to low-volume kinds: each event of the kind costs a delivery row and a task.
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


def subscriptions() -> dict[str, list[str]]:
    """Event kind -> names of its transactional handlers."""
    return {kind: sorted(handlers) for kind, handlers in _subscriptions.items() if handlers}


# --- recording --------------------------------------------------------------------------------------------------
def record_event(
    *,
    kind: str,
    actor: Any = None,
    actor_id: int | None = None,
    visitor_id: str = "",
    target: models.Model | None = None,
    object_type: str = "",
    object_id: str | int = "",
    payload: dict[str, Any] | None = None,
    occurred_at: datetime | None = None,
) -> BehaviourEvent:
    """Append one behaviour event in the caller's transaction; transactional handlers get it after commit.

    `target` names the object the event is about (its model label and pk); `object_type`/`object_id` do the same
    for objects that are not rows. `actor` is a user (or `actor_id` its id, when only that is at hand);
    `visitor_id` is an anonymous visitor's device id. `occurred_at` is for imports of history; live code leaves it.
    """
    event = _event_build(kind=kind, actor=actor, actor_id=actor_id, visitor_id=visitor_id, target=target,
                         object_type=object_type, object_id=object_id, payload=payload, occurred_at=occurred_at)
    _insert(event)
    _deliveries_add([event])
    return event


def record_events(items: list[dict[str, Any]]) -> list[BehaviourEvent]:
    """`record_event` for many events at once (each item holds its keyword arguments): checked the same way, and
    inside a transaction written in one statement (a batch consumer recording a decision per row it handled)."""
    events = [_event_build(**item) for item in items]
    if not events:
        return events
    if connection.in_atomic_block:
        for start in range(0, len(events), MAX_GROUP):
            _insert_many(events[start:start + MAX_GROUP])
    else:
        for event in events:
            _insert(event)
    _deliveries_add(events)
    return events


def _event_build(*, kind: str, actor: Any = None, actor_id: int | None = None, visitor_id: str = "",
                 target: models.Model | None = None, object_type: str = "", object_id: str | int = "",
                 payload: dict[str, Any] | None = None, occurred_at: datetime | None = None) -> BehaviourEvent:
    declared = kind_get(kind)
    payload = payload or {}
    payload_check(declared, payload)
    if actor is not None:
        actor_id = getattr(actor, "pk", None)
    visitor_id = visitor_id or ""
    if len(visitor_id) > MAX_VISITOR_ID_LENGTH:
        raise EventPayloadInvalid(f"event {kind!r}: visitor id longer than {MAX_VISITOR_ID_LENGTH}")
    if declared.actor == Actor.USER and actor_id is None:
        raise EventPayloadInvalid(f"event {kind!r} needs a user as its actor")
    if declared.actor == Actor.VISITOR and actor_id is None and not visitor_id:
        raise EventPayloadInvalid(f"event {kind!r} needs a user or a visitor id as its actor")
    if target is not None:
        object_type = target._meta.label_lower
        object_id = target.pk
    return BehaviourEvent(kind=kind, actor_id=actor_id, visitor_id=visitor_id, object_type=object_type,
                          object_id=str(object_id), payload=payload, created_at=occurred_at or timezone.now())


def _deliveries_add(events: list[BehaviourEvent]) -> None:
    """A delivery row per transactional handler of each event, and a task after commit to deliver it."""
    deliveries, delivered = [], []
    for event in events:
        subscriptions = handlers_for(event.kind)
        if subscriptions:
            deliveries += [EventDelivery(event_id=event.pk, kind=event.kind, handler=s.name) for s in subscriptions]
            delivered.append(event.pk)
    if deliveries:
        EventDelivery.objects.bulk_create(deliveries)
        for event_id in delivered:
            enqueue_on_commit(DELIVER_TASK, event_id)


_COLUMNS = "(kind, actor_id, visitor_id, object_type, object_id, payload, created_at)"
_ROW = "(%s, %s, %s, %s, %s, %s, %s)"
MAX_GROUP = 200


def _row(event: BehaviourEvent) -> list:
    return [event.kind, event.actor_id, event.visitor_id, event.object_type[:64], event.object_id[:64],
            json.dumps(event.payload, cls=DjangoJSONEncoder), event.created_at]


def _insert_many(events: list[BehaviourEvent], rows: list[list] | None = None) -> None:
    """One plain multi-row INSERT: the hottest write of the product (every visit, every view) skips the ORM's
    statement building; the rows are the ones `BehaviourEvent.objects.create` would write. PostgreSQL returns the
    rows of a multi-row INSERT in the order of its VALUES (bulk_create relies on the same)."""
    rows = rows or [_row(event) for event in events]
    sql = (f"INSERT INTO {BehaviourEvent._meta.db_table} {_COLUMNS} "  # noqa: S608 (our table, fixed columns)
           f"VALUES {', '.join([_ROW] * len(events))} RETURNING id, transaction_id")
    with connection.cursor() as cursor:
        cursor.execute(sql, [value for row in rows for value in row])
        for event, (pk, transaction_id) in zip(events, cursor.fetchall(), strict=True):
            event.pk, event.transaction_id = pk, transaction_id
            event._state.adding = False
            event._state.db = connection.alias


class _Slot:
    """One caller's row waiting in the group commit, and how its wait ends: written, failed, or promoted to lead."""

    __slots__ = ("error", "event", "row", "state", "wake")

    WAITING, DONE, LEAD = 0, 1, 2

    def __init__(self, event: BehaviourEvent, row: list):
        self.event, self.row, self.error, self.state = event, row, None, self.WAITING
        self.wake = threading.Lock()
        self.wake.acquire()  # released once by whoever ends the wait

    def finish(self, error: BaseException | None = None) -> None:
        self.error, self.state = error, self.DONE
        self.wake.release()


class _GroupCommit:
    """Outside any transaction (a tracking endpoint in autocommit), concurrent `record_event` calls of one process
    are written together, by leader and followers: a caller that finds nobody writing becomes the leader and
    inserts, on its own connection, every row waiting at that moment in one statement that commits once; callers
    that arrive meanwhile wait, and the first of them leads the next group. No thread is added and a caller alone
    writes its row at once; each caller still returns only after its row committed, and gets the error if its row
    could not be written (a group that fails is written again row by row, so one bad row fails only its own
    caller). PostgreSQL spends most of a one-row INSERT on the statement and its commit (about 0.2 ms of its CPU
    here, against 0.06 ms a row in groups of four), so under load this costs the database a fraction.

    The hand-off is one lock per waiting caller, released once: a dedicated writer thread (the first version)
    cost every event two thread switches and a third of the request's time under load (bench/events.py)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._waiting: list[_Slot] = []
        self._writing = False
        self._pid = os.getpid()

    def write(self, event: BehaviourEvent) -> None:
        slot = _Slot(event, _row(event))  # encoded here: a payload that cannot be written fails its own caller
        with self._lock:
            if self._pid != os.getpid():  # a fork inherits the parent's queue, never its leader
                self._pid, self._waiting, self._writing = os.getpid(), [], False
            self._waiting.append(slot)
            lead = not self._writing
            self._writing = True
        if not lead:
            if not slot.wake.acquire(timeout=settings.EVENTS_WRITE_TIMEOUT_SECONDS):
                with self._lock:
                    if slot.state == _Slot.WAITING and slot in self._waiting:  # not taken yet: never written
                        self._waiting.remove(slot)
                        raise TimeoutError("the behaviour event was not written in time")
                slot.wake.acquire()  # taken into a group or promoted meanwhile: its end is near
            if slot.state == _Slot.DONE:
                if slot.error is not None:
                    raise slot.error
                return
        self._lead()
        if slot.error is not None:
            raise slot.error

    def _lead(self) -> None:
        with self._lock:
            group, self._waiting = self._waiting[:MAX_GROUP], self._waiting[MAX_GROUP:]
        try:
            try:
                _insert_many([slot.event for slot in group], [slot.row for slot in group])
            except Exception:
                logger.warning("a group of %s behaviour events failed; writing them one by one", len(group))
                self._write_one_by_one(group)
            else:
                for slot in group:
                    slot.finish()
        finally:
            for slot in group:  # interrupted (KeyboardInterrupt, SystemExit): nobody waits for ever
                if slot.state != _Slot.DONE:
                    slot.finish(RuntimeError("the behaviour event writer was interrupted"))
            with self._lock:
                if self._waiting:  # arrived while this group was written: the first of them leads the next
                    successor = self._waiting[0]
                    successor.state = _Slot.LEAD
                    successor.wake.release()
                else:
                    self._writing = False

    @staticmethod
    def _write_one_by_one(group: list[_Slot]) -> None:
        for slot in group:
            try:
                _insert_many([slot.event], [slot.row])
            except Exception as error:  # handed to this row's caller
                connection.close()
                slot.finish(error)
            else:
                slot.finish()


_group_commit = _GroupCommit()


def _insert(event: BehaviourEvent) -> None:
    if connection.in_atomic_block or not settings.EVENTS_GROUP_COMMIT:
        _insert_many([event])  # in the caller's transaction: it commits with the change it describes
    else:
        _group_commit.write(event)


# --- delivering to transactional handlers -----------------------------------------------------------------------
def event_deliver(*, event_id: int) -> None:
    """Run every handler of the event that has not yet succeeded. Safe to call any number of times.

    Raises EventDeliveryFailed when a handler failed and may be retried.
    """
    pending = list(EventDelivery.objects.filter(event_id=event_id, done_at__isnull=True).values_list(
        "handler", flat=True))
    if not pending:
        return
    event = BehaviourEvent.objects.filter(pk=event_id).first()
    if event is None:
        return
    subscriptions = {s.name: s for s in handlers_for(event.kind)}
    failed: list[str] = []
    for handler_name in pending:
        subscription = subscriptions.get(handler_name)
        if subscription is None:  # unsubscribed since: left visible, nothing to run
            continue
        if _deliver_once(event, subscription) == "failed":
            failed.append(handler_name)
    if failed:
        raise EventDeliveryFailed(event.pk, failed)


def _deliver_once(event: BehaviourEvent, subscription: _Subscription) -> str:
    try:
        with transaction.atomic():
            delivery = (EventDelivery.objects.select_for_update()
                        .filter(event_id=event.pk, handler=subscription.name).first())
            if delivery is None or delivery.done_at is not None:
                return "done"
            if delivery.attempts >= settings.EVENTS_MAX_ATTEMPTS:
                # Given up: left visible in admin with its last error; an operator may reset it.
                return "dead"
            subscription.function(event)
            now = timezone.now()
            EventDelivery.objects.filter(pk=delivery.pk).update(done_at=now, attempted_at=now,
                                                                attempts=F("attempts") + 1)
            return "done"
    except Exception as error:  # a handler may fail in any way; its transaction is rolled back
        logger.exception("handler %s failed on event %s", subscription.name, event.pk)
        EventDelivery.objects.filter(event_id=event.pk, handler=subscription.name).update(
            attempts=F("attempts") + 1, attempted_at=timezone.now(),
            last_error=f"{type(error).__name__}: {error}"[:2000])
        return "failed"


def events_redeliver(*, older_than: datetime | None = None, limit: int = 500) -> int:
    """The sweep: deliver events whose deliveries are still pending `older_than` after they were written and last
    tried (a lost task, a broker outage, a crashed worker). Runs on a worker and delivers in-line, so it needs no
    broker. Returns how many events it tried."""
    cutoff = older_than or timezone.now() - settings.EVENTS_REDELIVER_AFTER
    event_ids = list(
        EventDelivery.objects.filter(done_at__isnull=True, created_at__lt=cutoff,
                                     attempts__lt=settings.EVENTS_MAX_ATTEMPTS)
        .filter(Q(attempted_at__isnull=True) | Q(attempted_at__lt=cutoff))
        .order_by("event_id").values_list("event_id", flat=True).distinct()[:limit]
    )
    for event_id in event_ids:
        with contextlib.suppress(EventDeliveryFailed):  # counted on its delivery rows; the next sweep tries again
            event_deliver(event_id=event_id)
    return len(event_ids)


def event_delivery_reset(*, delivery_id: int) -> None:
    """Operator action: give a dead delivery a new round of attempts."""
    with transaction.atomic():
        delivery = EventDelivery.objects.select_for_update().get(pk=delivery_id)
        if delivery.done_at is not None:
            return
        EventDelivery.objects.filter(pk=delivery.pk).update(attempts=0, last_error="", attempted_at=None)
        enqueue_on_commit(DELIVER_TASK, delivery.event_id)


# --- batch consumers --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class BatchConsumer:
    name: str
    kinds: frozenset[str]
    function: BatchHandler
    batch_size: int
    in_transaction: bool
    queue: str = "default"
    meaning: str = ""


_consumers: dict[str, BatchConsumer] = {}


def batch_consumer(*kinds: str, name: str | None = None, batch_size: int = 500, in_transaction: bool = True,
                   queue: str = "default", meaning: str = "") -> Callable[[BatchHandler], BatchHandler]:
    """Register the decorated function as a batch consumer of the given kinds (none given: every kind): it is
    called with lists of events in commit order, at most `batch_size` at a time.

    `in_transaction=True`: each batch runs in one transaction with the cursor's advance, so its database effect
    happens exactly once. `in_transaction=False`: for writes to another server; the batch is read, handled and the
    cursor advanced in separate steps, so after a crash a batch may be handled again: the function must be
    idempotent.
    """

    def decorator(function: BatchHandler) -> BatchHandler:
        consumer_name = name or f"{function.__module__}.{function.__qualname__}"
        _consumers[consumer_name] = BatchConsumer(consumer_name, frozenset(kinds), function, batch_size,
                                                  in_transaction, queue, meaning or (function.__doc__ or "").strip())
        return function

    return decorator


def batch_consumers() -> list[BatchConsumer]:
    return list(_consumers.values())


def remove_batch_consumer(name: str) -> None:
    _consumers.pop(name, None)


def _horizon() -> int:
    """The oldest transaction still running: every event of an older transaction is committed and visible."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint")
        return cursor.fetchone()[0]


def _of_kinds(consumer: BatchConsumer):
    events = BehaviourEvent.objects.all()
    return events.filter(kind__in=consumer.kinds) if consumer.kinds else events


def _after(transaction_id: int, event_id: int) -> Q:
    return Q(transaction_id__gt=transaction_id) | Q(transaction_id=transaction_id, id__gt=event_id)


def _read_batch(consumer: BatchConsumer, cursor: EventCursor) -> tuple[list[BehaviourEvent], tuple[int, int]]:
    """The next batch after the cursor and the position the cursor may move to once it is handled."""
    horizon = _horizon()
    events = list(_of_kinds(consumer).filter(transaction_id__lt=horizon)
                  .filter(_after(cursor.transaction_id, cursor.event_id))
                  .order_by("transaction_id", "id")[:consumer.batch_size])
    if len(events) < consumer.batch_size:
        # Everything of these kinds below the horizon has been read: later reads may start at the horizon,
        # so a consumer of rare kinds does not rescan the events of other kinds every time.
        return events, (horizon - 1, POSITION_MAX)
    last = events[-1]
    return events, (last.transaction_id, last.pk)


def _advance(cursor: EventCursor, events: list[BehaviourEvent], position: tuple[int, int]) -> None:
    now = timezone.now()
    fields = {"transaction_id": position[0], "event_id": position[1], "last_run_at": now, "last_error": "",
              "processed": F("processed") + len(events)}
    if events:
        fields["last_event_at"] = events[-1].created_at
    EventCursor.objects.filter(pk=cursor.pk).update(**fields)
    cursor.transaction_id, cursor.event_id = position


class _AdvisoryLock:
    """A session-level PostgreSQL advisory lock: one runner per consumer at a time, across every process, held
    without an open transaction and released by the server if the process dies."""

    def __init__(self, name: str, *, wait: bool = False):
        self.key = f"events.consumer:{name}"
        self.wait = wait
        self.acquired = False

    def __enter__(self) -> bool:
        with connection.cursor() as cursor:
            if self.wait:
                cursor.execute("SELECT pg_advisory_lock(hashtextextended(%s, 0))", [self.key])
                self.acquired = True
            else:
                cursor.execute("SELECT pg_try_advisory_lock(hashtextextended(%s, 0))", [self.key])
                self.acquired = bool(cursor.fetchone()[0])
        return self.acquired

    def __exit__(self, *exc_info: object) -> None:
        if self.acquired:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(hashtextextended(%s, 0))", [self.key])


@contextlib.contextmanager
def consumer_paused(*, name: str, timeout: float = 60.0):
    """Hold a batch consumer's lock for the duration of the block: no run of it starts meanwhile, and one in
    progress is waited for (at most `timeout` seconds, then TimeoutError). For work that must not interleave with
    the consumer's writes, such as rebuilding the projection it maintains. Outside any transaction."""
    if connection.in_atomic_block:
        raise RuntimeError("consumer_paused must not be used inside a transaction")
    lock = _AdvisoryLock(name)
    deadline = time.monotonic() + timeout
    while not lock.__enter__():
        if time.monotonic() > deadline:
            raise TimeoutError(f"batch consumer {name} kept running for more than {timeout} s")
        time.sleep(0.2)
    try:
        yield
    finally:
        lock.__exit__(None, None, None)


def consumer_run(*, name: str, max_batches: int | None = None) -> int:
    """Feed a batch consumer until it has caught up (or `max_batches` ran). Returns how many events it handled;
    0 when another process is running the same consumer right now."""
    consumer = _consumers[name]
    if connection.in_atomic_block:
        raise RuntimeError("consumer_run must not be called inside a transaction")
    handled = 0
    with _AdvisoryLock(name) as acquired:
        if not acquired:
            return 0
        cursor, _created = EventCursor.objects.get_or_create(consumer=name)
        batches = 0
        while max_batches is None or batches < max_batches:
            batches += 1
            try:
                if consumer.in_transaction:
                    with transaction.atomic():
                        events, position = _read_batch(consumer, cursor)
                        if events:
                            consumer.function(events)
                        _advance(cursor, events, position)
                else:
                    events, position = _read_batch(consumer, cursor)
                    if events:
                        consumer.function(events)
                    _advance(cursor, events, position)
            except Exception as error:
                logger.exception("batch consumer %s failed", name)
                EventCursor.objects.filter(pk=cursor.pk).update(
                    last_error=f"{type(error).__name__}: {error}"[:2000], last_run_at=timezone.now())
                raise
            handled += len(events)
            if len(events) < consumer.batch_size:
                break
    return handled


def consumer_rewind(*, name: str, reset: Callable[[], None] | None = None) -> None:
    """Put a batch consumer back before the first event, for a replay from scratch: `reset` clears what the
    consumer built, in the same transaction as the cursor's return to the start. Waits for a batch that is running
    (it holds the consumer's lock), so no batch interleaves with the reset; the next `consumer_run` reads the whole
    table again in commit order."""
    if name not in _consumers:
        raise KeyError(f"no batch consumer named {name!r}")
    if connection.in_atomic_block:
        raise RuntimeError("consumer_rewind must not be called inside a transaction")
    with _AdvisoryLock(name, wait=True), transaction.atomic():
        if reset is not None:
            reset()
        EventCursor.objects.update_or_create(consumer=name, defaults={
            "transaction_id": 0, "event_id": 0, "processed": 0, "last_event_at": None, "last_error": "",
            "last_run_at": timezone.now()})


def consumer_lag(*, name: str) -> dict[str, Any]:
    """How far behind a consumer is: events of its kinds it has not handled (counted up to 100,000) and the age
    in seconds of the oldest of them (0 when it has caught up)."""
    consumer = _consumers[name]
    cursor = EventCursor.objects.filter(consumer=name).first() or EventCursor(consumer=name)
    behind = _of_kinds(consumer).filter(_after(cursor.transaction_id, cursor.event_id))
    pending = behind.values("pk")[:100_000].count()
    oldest = (behind.order_by("transaction_id", "id").values_list("created_at", flat=True).first()
              if pending else None)
    lag = (timezone.now() - oldest).total_seconds() if oldest else 0.0
    return {"consumer": name, "pending": pending, "lag_seconds": round(max(lag, 0.0), 3),
            "processed": cursor.processed, "last_run_at": cursor.last_run_at, "last_error": cursor.last_error}
