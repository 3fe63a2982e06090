"""factory_boy factories of engagement's configuration rows."""
import factory

from engagement.models import MemberLevel, Reward, TaskGroup, TaskRule


class TaskGroupFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TaskGroup
        django_get_or_create = ("code",)

    code = "onboarding"
    name = "新手引导 Onboarding"


class TaskRuleFactory(factory.django.DjangoModelFactory):
    """An active rule: 10 points once per day for a check-in, unless told otherwise."""

    class Meta:
        model = TaskRule

    code = factory.Sequence(lambda n: f"rule-{n}")
    name = factory.Sequence(lambda n: f"任务 {n}")
    trigger = "checked_in"
    currency = "points"
    reward_amount = 10
    period = TaskRule.Period.DAILY
    is_active = True


class MemberLevelFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = MemberLevel

    rank = factory.Sequence(lambda n: n + 1)
    name = factory.Sequence(lambda n: f"等级 {n + 1}")
    min_experience = factory.Sequence(lambda n: n * 100)


class RewardFactory(factory.django.DjangoModelFactory):
    """An item for 100 points, 10 in stock, one per shopper."""

    class Meta:
        model = Reward

    name = factory.Sequence(lambda n: f"奖品 {n}")
    kind = Reward.Kind.ITEM
    currency = "points"
    cost = 100
    stock = 10
