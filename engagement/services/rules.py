"""Operators' configuration: task rules and member levels, checked before they are saved (the admin saves through
these, so a mistake is a form error in the operator's words)."""
from django.db import transaction
from django.utils.translation import gettext_lazy as _

from core.errors import ValidationFailed
from engagement import registry
from engagement.models import Currency, MemberLevel, TaskRule
from engagement.services.engine import streak_schedule


def _refuse(message, code: str, field: str) -> ValidationFailed:
    return ValidationFailed(message, code=code, detail={"field": field})


def task_rule_check(*, rule: TaskRule) -> None:
    """Everything an operator can get wrong in a rule, refused with its own code."""
    trigger = registry.trigger_get(rule.trigger)
    if trigger is None:
        raise _refuse(_("unknown trigger"), "rule_trigger_unknown", "trigger")
    if rule.is_active and not trigger.active:
        raise ValidationFailed(_("this trigger's events are not emitted yet (%(kinds)s): the rule cannot be "
                                 "switched on") % {"kinds": ", ".join(trigger.missing_kinds())},
                               code="rule_trigger_inactive", detail={"field": "trigger",
                                                                     "missing_kinds": trigger.missing_kinds()})
    condition = registry.condition_get(rule.condition)
    if condition is None:
        raise _refuse(_("unknown condition"), "rule_condition_unknown", "condition")
    if condition.needs_value and rule.condition_value is None:
        raise _refuse(_("this condition needs a value"), "rule_condition_value_required", "condition_value")
    if rule.condition_value is not None and rule.condition_value < 0:
        raise _refuse(_("the condition's value cannot be negative"), "rule_condition_value_invalid",
                      "condition_value")
    audience = registry.audience_get(rule.audience)
    if audience is None:
        raise _refuse(_("unknown audience"), "rule_audience_unknown", "audience")
    if rule.is_active and not audience.available():
        raise _refuse(_("this audience is not available yet"), "rule_audience_unavailable", "audience")
    if audience.needs_value and not (rule.audience_value or "").strip():
        raise _refuse(_("this audience needs a value"), "rule_audience_value_required", "audience_value")
    if rule.currency not in Currency.values:
        raise _refuse(_("unknown currency"), "rule_currency_invalid", "currency")
    text = (rule.streak_rewards or "").replace("，", ",").replace(" ", "")
    if text and len(streak_schedule(text)) != len(text.split(",")):
        raise _refuse(_("write the streak amounts as whole numbers separated by commas"),
                      "rule_streak_rewards_invalid", "streak_rewards")
    if not (rule.reward_amount or rule.reward_per_yuan or streak_schedule(text) or rule.coupon_template_id):
        raise _refuse(_("a rule must reward something"), "rule_reward_required", "reward_amount")
    if rule.period not in TaskRule.Period.values:
        raise _refuse(_("unknown period"), "rule_period_invalid", "period")
    if rule.valid_from and rule.valid_to and rule.valid_to <= rule.valid_from:
        raise _refuse(_("the rule's window must start before it ends"), "rule_window_invalid", "valid_to")


def task_rule_save(*, rule: TaskRule) -> TaskRule:
    task_rule_check(rule=rule)
    rule.streak_rewards = ",".join(str(amount) for amount in streak_schedule(rule.streak_rewards))
    with transaction.atomic():
        rule.save()
    return rule


def task_rule_switch(*, rule_id: int, active: bool) -> TaskRule:
    """Switch a rule on or off (switching on checks it again: its trigger may not be emitted yet)."""
    with transaction.atomic():
        rule = TaskRule.objects.select_for_update().get(pk=rule_id)
        rule.is_active = active
        if active:
            task_rule_check(rule=rule)
        rule.save(update_fields=["is_active", "updated_at"])
    return rule


def member_level_save(*, level: MemberLevel) -> MemberLevel:
    """A level: its experience threshold and privileges. Thresholds rise with the rank. Users move to a new
    threshold at their next change of experience (or at a replay)."""
    if level.discount_percent is None or not 0 <= level.discount_percent <= 50:
        raise _refuse(_("the discount is 0..50 percent"), "level_discount_invalid", "discount_percent")
    others = MemberLevel.objects.exclude(pk=level.pk)
    lower = others.filter(rank__lt=level.rank).order_by("-rank").first()
    higher = others.filter(rank__gt=level.rank).order_by("rank").first()
    if (lower is not None and lower.min_experience >= level.min_experience) or (
            higher is not None and higher.min_experience <= level.min_experience):
        raise _refuse(_("a higher rank needs more experience than a lower one"), "level_threshold_out_of_order",
                      "min_experience")
    if others.filter(rank=level.rank).exists():
        raise _refuse(_("another level has this rank"), "level_rank_taken", "rank")
    with transaction.atomic():
        level.save()
    return level
