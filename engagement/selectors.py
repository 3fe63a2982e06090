"""Reads of engagement: a shopper's accounts, ledger, tasks and their progress, the onboarding checklist, levels,
the rewards catalogue, redemptions."""
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count, QuerySet, Sum
from django.utils import timezone

from engagement import registry
from engagement.models import (
    CheckIn,
    Currency,
    LedgerAccount,
    LedgerEntry,
    LedgerLot,
    MemberLevel,
    Membership,
    Redemption,
    Reward,
    TaskAward,
    TaskGroup,
    TaskRule,
)
from engagement.services.checkins import streak_for
from engagement.services.engine import reward_amount, streak_schedule
from engagement.services.ledger import SPEND_EXPIRY_MARGIN

ONBOARDING = "onboarding"
EXPIRING_WITHIN = timedelta(days=30)


@dataclass
class AccountView:
    currency: str
    balance: int = 0
    held: int = 0
    due: int = 0
    debt: int = 0
    expiring_soon: int = 0

    @property
    def available(self) -> int:
        if self.currency == Currency.EXPERIENCE:
            return 0  # experience is never spent: it sets the level
        return max(self.balance - self.held - self.due, 0)


def accounts_of(*, user, at: datetime | None = None) -> list[AccountView]:
    """The user's three accounts (an account nobody credited yet reads zero)."""
    now = at or timezone.now()
    accounts = {account.currency: account for account in LedgerAccount.objects.filter(user=user)}
    due_by = {row["account_id"]: row["total"] for row in LedgerLot.objects.filter(
        account__user=user, remaining__gt=0, expires_at__lte=now + SPEND_EXPIRY_MARGIN).values(
        "account_id").annotate(total=Sum("remaining"))}
    soon_by = {row["account_id"]: row["total"] for row in LedgerLot.objects.filter(
        account__user=user, remaining__gt=0, expires_at__gt=now + SPEND_EXPIRY_MARGIN,
        expires_at__lte=now + EXPIRING_WITHIN).values("account_id").annotate(total=Sum("remaining"))}
    views = []
    for currency in Currency.values:
        account = accounts.get(currency)
        if account is None:
            views.append(AccountView(currency=currency))
            continue
        views.append(AccountView(currency=currency, balance=account.balance, held=account.held,
                                 due=due_by.get(account.pk, 0), debt=account.debt,
                                 expiring_soon=soon_by.get(account.pk, 0)))
    return views


@dataclass
class LevelView:
    level: MemberLevel | None
    experience: int
    next_level: MemberLevel | None


def level_of(*, user) -> LevelView:
    membership = Membership.objects.filter(user=user).select_related("level").first()
    experience = membership.experience if membership else 0
    level = membership.level if membership else None
    next_level = MemberLevel.objects.filter(min_experience__gt=experience).order_by("min_experience").first()
    return LevelView(level=level, experience=experience, next_level=next_level)


def levels() -> QuerySet[MemberLevel]:
    return MemberLevel.objects.order_by("rank")


def entries_of(*, user, currency: str | None = None) -> QuerySet[LedgerEntry]:
    entries = LedgerEntry.objects.filter(account__user=user).select_related("account")
    if currency:
        entries = entries.filter(account__currency=currency)
    return entries.order_by("-created_at", "-pk")


@dataclass
class TaskView:
    rule: TaskRule
    trigger_label: str
    done: int  # awards in the current period (ever, for `once` and `per_subject`)
    limit: int | None  # awards possible in the period; None: one per subject, no limit
    reward: int  # what the next award is worth (for a streak, the next day's amount)
    extra: dict = field(default_factory=dict)

    @property
    def completed(self) -> bool:
        return self.limit is not None and self.done >= self.limit


def _visible_rules(*, at: datetime) -> list[TaskRule]:
    rules = TaskRule.objects.filter(is_active=True).select_related("group").order_by("position", "pk")
    return [rule for rule in rules if (rule.valid_from is None or rule.valid_from <= at)
            and (rule.valid_to is None or at < rule.valid_to)
            and (trigger := registry.trigger_get(rule.trigger)) is not None and trigger.active]


def _progress(rules: list[TaskRule], *, user, at: datetime) -> list[TaskView]:
    day = timezone.localdate(at)
    awards = list(TaskAward.objects.filter(user=user, rule__in=rules).values_list("rule_id", "period_key"))
    last = CheckIn.objects.filter(user=user, day__gte=day - timedelta(days=1)).order_by("-day").first()
    views = []
    for rule in rules:
        keys = [key for rule_id, key in awards if rule_id == rule.pk]
        if rule.period in (TaskRule.Period.ONCE, TaskRule.Period.PER_SUBJECT):
            done = len(keys)
        else:
            base = registry.period_key(rule.period, day=day, subject="")
            done = sum(1 for key in keys if key == base or key.startswith(f"{base}#"))
        limit = None if rule.period == TaskRule.Period.PER_SUBJECT else rule.max_per_period
        extra = {}
        streak = 0
        if rule.trigger == "checked_in":
            checked_today = last is not None and last.day == day
            plain = last.streak if last is not None else 0
            current = streak_for(streak=plain, day=last.day, reset=rule.streak_reset) if last else 0
            next_day = day if not checked_today else day + timedelta(days=1)
            streak = streak_for(streak=plain + 1, day=next_day, reset=rule.streak_reset) if last else 1
            extra = {"streak": current, "checked_in_today": checked_today,
                     "schedule": streak_schedule(rule.streak_rewards)}
        views.append(TaskView(rule=rule, trigger_label=registry.trigger_get(rule.trigger).label, done=done,
                              limit=limit, reward=reward_amount(rule, streak=streak), extra=extra))
    return views


def tasks_of(*, user, at: datetime | None = None) -> list[TaskView]:
    """The active tasks a shopper can do now, with what they have done of each in the current period."""
    now = at or timezone.now()
    return _progress(_visible_rules(at=now), user=user, at=now)


@dataclass
class GroupProgress:
    group: TaskGroup
    tasks: list[TaskView]

    @property
    def done(self) -> int:
        return sum(1 for task in self.tasks if task.done > 0)

    @property
    def total(self) -> int:
        return len(self.tasks)


def task_group_of(*, user, code: str = ONBOARDING, at: datetime | None = None) -> GroupProgress | None:
    """A task group (the onboarding checklist, 新手引导) and which of its tasks the user has done at least once."""
    now = at or timezone.now()
    group = TaskGroup.objects.filter(code=code, is_active=True).first()
    if group is None:
        return None
    rules = [rule for rule in _visible_rules(at=now) if rule.group_id == group.pk]
    return GroupProgress(group=group, tasks=_progress(rules, user=user, at=now))


def check_in_rewards(*, check_in: CheckIn) -> list[dict]:
    """What the active check-in tasks award for this check-in's day of the streak (the engine credits it)."""
    rules = [rule for rule in _visible_rules(at=timezone.now()) if rule.trigger == "checked_in"]
    return [{"rule": rule.code, "currency": rule.currency,
             "amount": reward_amount(rule, streak=streak_for(streak=check_in.streak, day=check_in.day,
                                                             reset=rule.streak_reset))} for rule in rules]


def rewards_on_offer(*, currency: str | None = None) -> QuerySet[Reward]:
    rewards = Reward.objects.filter(is_active=True).select_related("coupon_template")
    if currency:
        rewards = rewards.filter(currency=currency)
    return rewards.order_by("position", "pk")


def redemptions_of(*, user) -> QuerySet[Redemption]:
    return Redemption.objects.filter(user=user).select_related("reward").order_by("-created_at", "-pk")


def redemption_counts(*, user, reward_ids: list[int]) -> dict[int, int]:
    return dict(Redemption.objects.filter(user=user, reward_id__in=reward_ids).values("reward_id").annotate(
        n=Count("pk")).values_list("reward_id", "n"))


def checkout_policy() -> dict:
    return {"points_per_yuan": settings.ENGAGEMENT_POINTS_PER_YUAN,
            "points_max_share": settings.ENGAGEMENT_POINTS_MAX_SHARE}
