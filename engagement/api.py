"""Shopper REST API of engagement: my accounts and ledger, check-in, tasks and the onboarding checklist, member
levels, the rewards catalogue (points and card energy) and redeeming.

One class per operation: validate, call one service or selector, render. Rules live in engagement.services.
"""
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema, extend_schema_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import PagePagination
from core.errors import NotFound
from core.fields import IdempotencyKeyField, MoneyField
from core.openapi import errors
from engagement import selectors
from engagement.models import SPENDABLE_CURRENCIES, Currency, LedgerEntry, Redemption, Reward, TaskRule
from engagement.services import checkins, rewards

TAG = ["engagement"]
SPENDABLE = SPENDABLE_CURRENCIES


def _page(view: APIView, queryset, serializer_class, **context) -> Response:
    paginator = view.pagination_class()
    page = paginator.paginate_queryset(queryset, view.request, view=view)
    return paginator.get_paginated_response(serializer_class(page, many=True, context=context).data)


# --- accounts and ledger ------------------------------------------------------------------------------------------
class AccountOutput(serializers.Serializer):
    currency = serializers.ChoiceField(choices=Currency.choices)
    balance = serializers.IntegerField(help_text="余额 balance")
    held = serializers.IntegerField(help_text="占用中: 待支付订单或处理中的兑换 on hold for unpaid orders and "
                                              "redemptions in progress")
    available = serializers.IntegerField(help_text="可用 what can be spent now (experience: 0, it is never spent)")
    debt = serializers.IntegerField(help_text="待抵扣: 退款冲回超出余额的部分, 由以后的收入抵扣 taken back by refunds "
                                              "beyond what was left, paid off by later earnings")
    expiring_soon = serializers.IntegerField(help_text="30 天内过期 expiring within 30 days")


class LevelOutput(serializers.Serializer):
    rank = serializers.IntegerField()
    name = serializers.CharField()
    min_experience = serializers.IntegerField(help_text="所需经验 experience needed")
    discount_percent = serializers.IntegerField(help_text="会员折扣(%) percent off the goods at checkout")
    free_shipping = serializers.BooleanField(help_text="包邮 free shipping at checkout")
    description = serializers.CharField()


class MyLevelOutput(serializers.Serializer):
    experience = serializers.IntegerField()
    level = LevelOutput(allow_null=True)
    next_level = LevelOutput(allow_null=True, help_text="下一等级 the next level, if any")


class CheckoutPolicyOutput(serializers.Serializer):
    points_per_yuan = serializers.IntegerField(help_text="多少积分抵 1 元 points worth one yuan at checkout")
    points_max_share = serializers.DecimalField(max_digits=4, decimal_places=2,
                                                help_text="积分最多抵扣应付金额的比例 the most of the payable points "
                                                          "may pay")


class MyAccountsOutput(serializers.Serializer):
    accounts = AccountOutput(many=True)
    membership = MyLevelOutput()
    checkout = CheckoutPolicyOutput()


class MyAccountsApi(APIView):
    """我的积分、能量值与等级 My points, card energy, experience and level."""

    @extend_schema(summary="我的账户 Get my points, card energy, experience and level",
                   responses={200: MyAccountsOutput}, tags=TAG)
    def get(self, request):
        return Response(MyAccountsOutput({"accounts": selectors.accounts_of(user=request.user),
                                          "membership": selectors.level_of(user=request.user),
                                          "checkout": selectors.checkout_policy()}).data)


class EntryOutput(serializers.Serializer):
    id = serializers.IntegerField()
    currency = serializers.ChoiceField(choices=Currency.choices, source="account.currency")
    kind = serializers.ChoiceField(choices=LedgerEntry.Kind.choices)
    amount = serializers.IntegerField(help_text="余额变动 change of the balance")
    debt_change = serializers.IntegerField(help_text="欠款变动 change of the debt")
    reason = serializers.CharField()
    reference = serializers.CharField()
    expires_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()


class MyEntryListApi(APIView):
    """账户明细 My ledger entries, newest first."""

    pagination_class = PagePagination

    @extend_schema_serializer(component_name="EntryFilter")
    class Filter(serializers.Serializer):
        currency = serializers.ChoiceField(choices=Currency.choices, required=False)

    @extend_schema(summary="账户明细 List my ledger entries", parameters=[Filter],
                   responses={200: EntryOutput(many=True)}, tags=TAG)
    def get(self, request):
        filters = self.Filter(data=request.query_params)
        filters.is_valid(raise_exception=True)
        return _page(self, selectors.entries_of(user=request.user, currency=filters.validated_data.get("currency")),
                     EntryOutput)


# --- check-in -----------------------------------------------------------------------------------------------------
class CheckInOutput(serializers.Serializer):
    day = serializers.DateField()
    streak = serializers.IntegerField(help_text="连续签到天数 consecutive days")
    created = serializers.BooleanField(help_text="今天第一次签到 false: already checked in today")
    rewards = serializers.ListField(child=serializers.DictField(), help_text=(
        "签到任务的奖励(稍后入账) what the check-in tasks award for this day, credited shortly: "
        "[{rule, currency, amount}]"))


class CheckInApi(APIView):
    """签到 Check in for today (once a day; the reward is credited within seconds)."""

    @extend_schema(summary="签到 Check in for today", request=None,
                   responses={201: CheckInOutput, 200: CheckInOutput}, tags=TAG)
    def post(self, request):
        row, created = checkins.check_in(user=request.user)
        return Response(CheckInOutput({"day": row.day, "streak": row.streak, "created": created,
                                       "rewards": selectors.check_in_rewards(check_in=row)}).data,
                        status=201 if created else 200)


# --- tasks ----------------------------------------------------------------------------------------------------------
class TaskOutput(serializers.Serializer):
    code = serializers.CharField(source="rule.code")
    name = serializers.CharField(source="rule.name")
    description = serializers.CharField(source="rule.description")
    trigger = serializers.CharField(source="rule.trigger")
    trigger_label = serializers.CharField()
    group = serializers.CharField(source="rule.group.code", allow_null=True, default=None)
    currency = serializers.ChoiceField(choices=Currency.choices, source="rule.currency")
    reward = serializers.IntegerField(help_text="下一次奖励 what the next award is worth (per yuan: plus that)")
    reward_per_yuan = serializers.DecimalField(max_digits=8, decimal_places=2, source="rule.reward_per_yuan")
    coupon_template_id = serializers.IntegerField(source="rule.coupon_template_id", allow_null=True)
    period = serializers.ChoiceField(choices=TaskRule.Period.choices, source="rule.period")
    limit = serializers.IntegerField(allow_null=True, help_text="本周期可得次数 awards possible this period "
                                                                "(null: once per subject, no limit)")
    done = serializers.IntegerField(help_text="本周期已得 awards this period (ever, for once / per subject)")
    completed = serializers.BooleanField()
    extra = serializers.DictField(help_text="签到任务: streak, checked_in_today, schedule")


class TaskListApi(APIView):
    """任务中心 The tasks I can do now and my progress in each."""

    @extend_schema(summary="任务中心 List my tasks and progress", responses={200: TaskOutput(many=True)}, tags=TAG)
    def get(self, request):
        return Response(TaskOutput(selectors.tasks_of(user=request.user), many=True).data)


class TaskGroupOutput(serializers.Serializer):
    code = serializers.CharField(source="group.code")
    name = serializers.CharField(source="group.name")
    description = serializers.CharField(source="group.description")
    done = serializers.IntegerField(help_text="已完成任务数 tasks done at least once")
    total = serializers.IntegerField()
    tasks = TaskOutput(many=True)


class OnboardingApi(APIView):
    """新手引导 The onboarding checklist and my progress."""

    @extend_schema(summary="新手引导进度 Get my onboarding checklist progress",
                   responses={200: TaskGroupOutput, **errors(404)}, tags=TAG)
    def get(self, request):
        progress = selectors.task_group_of(user=request.user)
        if progress is None:
            raise NotFound(_("there is no onboarding checklist"), code="onboarding_not_found")
        return Response(TaskGroupOutput(progress).data)


class LevelListApi(APIView):
    """会员等级 Member levels and their privileges."""

    @extend_schema(summary="会员等级 List member levels and privileges", responses={200: LevelOutput(many=True)},
                   tags=TAG)
    def get(self, request):
        return Response(LevelOutput(selectors.levels(), many=True).data)


# --- rewards --------------------------------------------------------------------------------------------------------
class RewardOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    description = serializers.CharField()
    kind = serializers.ChoiceField(choices=Reward.Kind.choices)
    currency = serializers.ChoiceField(choices=SPENDABLE, help_text="points: 积分商城; energy: 名片能量值兑换")
    cost = serializers.IntegerField()
    coupon_name = serializers.CharField(source="coupon_template.name", allow_null=True, default=None)
    coupon_amount_off = MoneyField(source="coupon_template.amount_off", allow_null=True, default=None)
    stock = serializers.IntegerField()
    per_user_limit = serializers.IntegerField()


class RewardListApi(APIView):
    """积分商城与能量值兑换 The rewards catalogue: coupons and items for points, coupons for card energy."""

    pagination_class = PagePagination

    @extend_schema_serializer(component_name="RewardFilter")
    class Filter(serializers.Serializer):
        currency = serializers.ChoiceField(choices=SPENDABLE, required=False,
                                           help_text="energy: 名片能量值兑换 the energy exchange")

    @extend_schema(summary="积分商城与能量值兑换 List rewards (points) and energy exchanges", parameters=[Filter],
                   responses={200: RewardOutput(many=True)}, tags=TAG)
    def get(self, request):
        filters = self.Filter(data=request.query_params)
        filters.is_valid(raise_exception=True)
        return _page(self, selectors.rewards_on_offer(currency=filters.validated_data.get("currency")),
                     RewardOutput)


class RedemptionOutput(serializers.Serializer):
    id = serializers.IntegerField()
    reward_id = serializers.IntegerField()
    reward_name = serializers.CharField(source="reward.name")
    currency = serializers.ChoiceField(choices=Currency.choices)
    cost = serializers.IntegerField()
    status = serializers.ChoiceField(choices=Redemption.Status.choices)
    user_coupon_id = serializers.IntegerField(allow_null=True, help_text="发放的优惠券 the coupon issued")
    created_at = serializers.DateTimeField()
    fulfilled_at = serializers.DateTimeField(allow_null=True)


class RewardRedeemApi(APIView):
    """兑换 Redeem a reward with points or card energy (idempotent on `idempotency_key`)."""

    @extend_schema_serializer(component_name="RewardRedeemInput")
    class Input(serializers.Serializer):
        idempotency_key = IdempotencyKeyField()

    @extend_schema(summary="兑换奖品 Redeem a reward", request=Input,
                   responses={201: RedemptionOutput, 200: RedemptionOutput, **errors(422)}, tags=TAG)
    def post(self, request, reward_id: int):
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        redemption, created = rewards.reward_redeem(user=request.user, reward_id=reward_id, **data.validated_data)
        return Response(RedemptionOutput(redemption).data, status=201 if created else 200)


class MyRedemptionListApi(APIView):
    """我的兑换 My redemptions."""

    pagination_class = PagePagination

    @extend_schema(summary="我的兑换记录 List my redemptions", responses={200: RedemptionOutput(many=True)}, tags=TAG)
    def get(self, request):
        return _page(self, selectors.redemptions_of(user=request.user), RedemptionOutput)
