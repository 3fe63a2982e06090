"""The rule engine's extension points: triggers, reactors, conditions and audiences, registered by code.

A task rule (an operator's row) names a trigger, a condition and an audience by their registered names. What each
name means lives here, in code, so a new kind of task needs no migration:

- a **trigger** is what a rule waits for ("a paid order", "a friend you invited registered"): a name, the event
  kinds it is made from, and a label for the admin. It is *active* only when every one of its kinds is declared by
  some app's events.py; a rule on an inactive trigger cannot be switched on (the admin says which kind is missing).
- a **reactor** turns one behaviour event into occurrences of triggers, and keeps the engine's facts (who invited
  whom, streaks, ...) through the `Facts` it is handed: `@reactor("order_paid")`. Reactors see events in commit
  order, one at a time, and must decide only from the event and the facts (never from rows other code changes),
  so a replay from scratch decides the same.
- a **condition** says whether an occurrence counts (first time, amount at least X, ...), with the rule's
  `condition_value`;
- an **audience** says whether the user is one the rule is for (new users, a level, an RFM segment...), with the
  rule's `audience_value`. An audience may be unavailable until some code provides it (`segment`: the RFM part
  registers its resolver with `segment_resolver_register`).

Built-in triggers, reactors, conditions and audiences are in engagement/triggers.py; register new ones in a module
that engagement/triggers.py imports (or that is imported before the engine's consumer is registered in
`EngagementConfig.ready`), and describe the event kinds they need in its docstring.
"""
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Protocol

from core.events import UndeclaredEventKind, kind_get
from core.models import BehaviourEvent


@dataclass(frozen=True)
class Occurrence:
    """One happening of a trigger for one user: what rules are evaluated against."""

    trigger: str
    user_id: int
    subject: str = ""  # what it is about (an order, a friend, a day); `per_subject` rules award once per subject
    amount: Decimal | None = None  # money, for `amount_at_least` and rewards per yuan
    order_id: int | None = None  # awards tied to an order are taken back, in proportion, when it is refunded
    values: dict[str, Any] = field(default_factory=dict)  # what conditions may read: streaks, text length...


class Facts(Protocol):
    """What reactors, conditions and audiences may read and keep (implemented by the engine, in its transaction)."""

    def user(self, user_id: int) -> Any: ...  # the EngineUser row (created on first use); change it and `touch` it

    def touch(self, user_row: Any) -> None: ...

    def count(self, user_id: int, trigger: str) -> int: ...  # occurrences of the trigger seen before this event

    def key_get(self, key: str) -> str | None: ...

    def key_set(self, key: str, value: str, *, replace: bool = True) -> bool: ...

    def canonical(self, visitor_key: str) -> str: ...  # a device's key -> its user's key, once it logged in

    def level_rank(self, user_id: int) -> int | None: ...


@dataclass(frozen=True)
class Trigger:
    name: str
    kinds: tuple[str, ...]
    label: str
    meaning: str = ""
    # True when a user never gets two occurrences with the same subject (a paid order is paid once, a day is
    # checked in once): a `per_subject` rule then needs no lookup of earlier awards (the unique constraint stays).
    subject_unique: bool = False

    def missing_kinds(self) -> list[str]:
        missing = []
        for kind in self.kinds:
            try:
                kind_get(kind)
            except UndeclaredEventKind:
                missing.append(kind)
        return missing

    @property
    def active(self) -> bool:
        return not self.missing_kinds()


@dataclass(frozen=True)
class Condition:
    name: str
    label: str
    check: Callable[[Occurrence, Any, Facts], bool]  # (occurrence, rule, facts)
    needs_value: bool = False


@dataclass(frozen=True)
class Audience:
    name: str
    label: str
    check: Callable[[int, str, datetime, Facts], bool]  # (user id, the rule's audience value, event time, facts)
    available: Callable[[], bool] = lambda: True
    needs_value: bool = False


Reactor = Callable[[Facts, BehaviourEvent], Iterable[Occurrence]]

_triggers: dict[str, Trigger] = {}
_reactors: dict[str, list[Reactor]] = {}
_conditions: dict[str, Condition] = {}
_audiences: dict[str, Audience] = {}
_segment_resolver: list[Callable[[int, str, datetime], bool]] = []


def trigger_register(trigger: Trigger) -> Trigger:
    _triggers[trigger.name] = trigger
    return trigger


def reactor(*kinds: str) -> Callable[[Reactor], Reactor]:
    """Register the decorated function as a reactor of these event kinds (run in registration order)."""

    def decorator(function: Reactor) -> Reactor:
        for kind in kinds:
            _reactors.setdefault(kind, []).append(function)
        return function

    return decorator


def condition_register(condition: Condition) -> Condition:
    _conditions[condition.name] = condition
    return condition


def audience_register(audience: Audience) -> Audience:
    _audiences[audience.name] = audience
    return audience


def segment_resolver_register(resolver: Callable[[int, str, datetime], bool] | None) -> None:
    """The RFM part tells the engine whether a user was in a segment at a time (`resolver(user_id, segment, at)`);
    until it does (or after it registers None), the `segment` audience is unavailable. Its answer must itself depend
    only on events up to `at`, or replays stop being exact."""
    _segment_resolver[:] = [resolver] if resolver is not None else []


def segment_resolver() -> Callable[[int, str, datetime], bool] | None:
    return _segment_resolver[0] if _segment_resolver else None


def triggers() -> list[Trigger]:
    return list(_triggers.values())


def trigger_get(name: str) -> Trigger | None:
    return _triggers.get(name)


def reactors_for(kind: str) -> list[Reactor]:
    return _reactors.get(kind, [])


def reacted_kinds() -> list[str]:
    """The event kinds some reactor reads and some app declares: what the engine's consumer reads."""
    declared = []
    for kind in sorted(_reactors):
        try:
            kind_get(kind)
        except UndeclaredEventKind:
            continue
        declared.append(kind)
    return declared


def conditions() -> list[Condition]:
    return list(_conditions.values())


def condition_get(name: str) -> Condition | None:
    return _conditions.get(name)


def audiences() -> list[Audience]:
    return list(_audiences.values())


def audience_get(name: str) -> Audience | None:
    return _audiences.get(name)


# --- period keys --------------------------------------------------------------------------------------------------
def period_key(period: str, *, day: date, subject: str) -> str:
    """The key of the period an occurrence on `day` falls in (one award per rule, user and key)."""
    if period == "once":
        return "once"
    if period == "daily":
        return f"d:{day.isoformat()}"
    if period == "weekly":
        year, week, _weekday = day.isocalendar()
        return f"w:{year}-W{week:02d}"
    if period == "monthly":
        return f"m:{day.year}-{day.month:02d}"
    if period == "per_subject":
        return f"s:{subject}"
    raise ValueError(f"unknown period {period!r}")
