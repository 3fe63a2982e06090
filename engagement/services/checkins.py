"""Daily check-in (签到): one row per user and day, one `checked_in` event with it. The reward is the engine's
(the `checked_in` trigger, streaks computed from the events it has seen); the row only makes concurrent or
repeated check-ins of a day one."""
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from core.events import record_event
from engagement.models import CheckIn, TaskRule


def check_in(*, user, at: datetime | None = None) -> tuple[CheckIn, bool]:
    """Check the user in for today (Asia/Shanghai). Returns (the day's check-in, created): a second check-in the
    same day, even at the same instant, returns the first and records nothing."""
    now = at or timezone.now()
    day = timezone.localdate(now)
    existing = CheckIn.objects.filter(user=user, day=day).first()
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            previous = CheckIn.objects.filter(user=user, day=day - timedelta(days=1)).values_list(
                "streak", flat=True).first()
            row = CheckIn.objects.create(user=user, day=day, streak=(previous or 0) + 1)
            record_event(kind="checked_in", actor=user, target=row, payload={"day": day.isoformat()},
                         occurred_at=at)
    except IntegrityError:  # a concurrent check-in of the same day won the unique constraint
        return CheckIn.objects.get(user=user, day=day), False
    return row, True


def streak_for(*, streak: int, day, reset: str) -> int:
    """A plain streak (consecutive days) as a rule with this reset mode counts it on `day`."""
    if reset == TaskRule.StreakReset.WEEKLY:
        return min(streak, day.isoweekday())
    if reset == TaskRule.StreakReset.MONTHLY:
        return min(streak, day.day)
    return streak
