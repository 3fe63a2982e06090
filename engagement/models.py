"""Participation (参与感): task rules and their awards, the ledger of points, card energy and experience, member
levels, check-ins, the rewards catalogue.

Three kinds of rows live here:
- what operators configure: task rules and groups, member levels, rewards;
- live records of what shoppers do outside the event log's order: check-ins, spend holds (points put on an order
  or a redemption), redemptions, coupons granted by rules. They are never reset;
- what the rules engine derives from the behaviour events, in event order (engagement/services/engine.py): awards,
  the ledger (accounts' balances and debts, lots, entries), memberships and level changes, and the engine's own
  facts (`Engine*`). A replay from scratch deletes and rebuilds exactly these.
"""
from django.conf import settings
from django.db import models
from django.db.models import F, Q

from core.models import TimeStampedModel
from mall.models import CouponTemplate, UserCoupon


class Currency(models.TextChoices):
    POINTS = "points", "积分 points"
    ENERGY = "energy", "名片能量值 card energy"
    EXPERIENCE = "experience", "经验值 experience"


# What a shopper can spend (experience only counts towards levels).
SPENDABLE_CURRENCIES = [(Currency.POINTS.value, Currency.POINTS.label), (Currency.ENERGY.value, Currency.ENERGY.label)]


# --- what operators configure -----------------------------------------------------------------------------------
class TaskGroup(TimeStampedModel):
    """Tasks shown together with one progress bar, such as the onboarding checklist (新手引导)."""

    code = models.SlugField("代码 code", max_length=64, unique=True)
    name = models.CharField("名称 name", max_length=64)
    description = models.CharField("说明 description", max_length=200, blank=True, default="")
    position = models.PositiveSmallIntegerField("排序 position", default=0)
    is_active = models.BooleanField("启用 active", default=True)

    class Meta:
        verbose_name = "任务组 task group"
        verbose_name_plural = "任务组 task groups"
        ordering = ["position", "pk"]

    def __str__(self) -> str:
        return self.name


class TaskRule(TimeStampedModel):
    """When a behaviour event of the rule's trigger happens and its condition and audience hold, the user earns the
    reward, at most `max_per_period` times per period (once, day, week, month, or once per subject: each order,
    each invited friend). Triggers, conditions and audiences are registered by code (engagement/registry.py)."""

    class Period(models.TextChoices):
        ONCE = "once", "仅一次 once"
        DAILY = "daily", "每天 per day"
        WEEKLY = "weekly", "每周 per week"
        MONTHLY = "monthly", "每月 per month"
        PER_SUBJECT = "per_subject", "每个对象一次 once per subject (order, friend...)"

    class StreakReset(models.TextChoices):
        NONE = "none", "断签才重置 only a missed day"
        WEEKLY = "weekly", "每周一重置 every Monday"
        MONTHLY = "monthly", "每月1日重置 every first of the month"

    code = models.SlugField("代码 code", max_length=64, unique=True)
    name = models.CharField("名称 name", max_length=64)
    description = models.CharField("说明 description", max_length=200, blank=True, default="")
    trigger = models.CharField("触发 trigger", max_length=64)
    condition = models.CharField("条件 condition", max_length=32, default="always")
    condition_value = models.DecimalField("条件参数 condition value", max_digits=12, decimal_places=2, null=True,
                                          blank=True)
    audience = models.CharField("适用人群 audience", max_length=32, default="everyone")
    audience_value = models.CharField("人群参数 audience value", max_length=64, blank=True, default="")
    currency = models.CharField("奖励币种 currency", max_length=16, choices=Currency.choices,
                                default=Currency.POINTS)
    reward_amount = models.PositiveIntegerField("固定奖励 fixed amount", default=0)
    reward_per_yuan = models.DecimalField("每元奖励 amount per yuan", max_digits=8, decimal_places=2, default=0)
    streak_rewards = models.CharField("连续签到奖励 amounts by streak day", max_length=200, blank=True, default="",
                                      help_text="逗号分隔, 第 N 天取第 N 个, 之后取最后一个 comma-separated: "
                                                "day N of the streak earns the N-th, later days the last")
    streak_reset = models.CharField("连签重置 streak reset", max_length=16, choices=StreakReset.choices,
                                    default=StreakReset.NONE)
    coupon_template = models.ForeignKey(CouponTemplate, null=True, blank=True, on_delete=models.PROTECT,
                                        related_name="+", verbose_name="奖励优惠券 coupon reward")
    validity_days = models.PositiveIntegerField("有效天数 validity days", null=True, blank=True,
                                                help_text="空: 币种默认 empty: the currency's default")
    period = models.CharField("周期 period", max_length=16, choices=Period.choices, default=Period.ONCE)
    max_per_period = models.PositiveSmallIntegerField("每周期次数 times per period", default=1)
    valid_from = models.DateTimeField("生效时间 valid from", null=True, blank=True)
    valid_to = models.DateTimeField("失效时间 valid to", null=True, blank=True)
    is_active = models.BooleanField("启用 active", default=False)
    group = models.ForeignKey(TaskGroup, null=True, blank=True, on_delete=models.PROTECT, related_name="rules",
                              verbose_name="任务组 group")
    position = models.PositiveSmallIntegerField("排序 position", default=0)

    class Meta:
        verbose_name = "任务规则 task rule"
        verbose_name_plural = "任务规则 task rules"
        ordering = ["position", "pk"]
        constraints = [
            models.CheckConstraint(condition=Q(max_per_period__gte=1), name="task_rule_period_count_positive"),
            models.CheckConstraint(condition=Q(reward_per_yuan__gte=0), name="task_rule_per_yuan_not_negative"),
            models.CheckConstraint(condition=Q(valid_from__isnull=True) | Q(valid_to__isnull=True)
                                   | Q(valid_to__gt=F("valid_from")), name="task_rule_window_ordered"),
        ]

    def __str__(self) -> str:
        return self.name


class MemberLevel(TimeStampedModel):
    """A member level reached with experience (经验值), and its privileges at checkout."""

    rank = models.PositiveSmallIntegerField("等级 rank", unique=True)
    name = models.CharField("名称 name", max_length=32)
    min_experience = models.PositiveBigIntegerField("所需经验 experience needed", unique=True)
    discount_percent = models.PositiveSmallIntegerField("会员折扣(%) discount %", default=0,
                                                        help_text="商品金额减免百分比 percent off the goods")
    free_shipping = models.BooleanField("包邮 free shipping", default=False)
    description = models.CharField("权益说明 privileges", max_length=200, blank=True, default="")

    class Meta:
        verbose_name = "会员等级 member level"
        verbose_name_plural = "会员等级 member levels"
        ordering = ["rank"]
        constraints = [models.CheckConstraint(condition=Q(discount_percent__lte=50),
                                              name="member_level_discount_at_most_half")]

    def __str__(self) -> str:
        return self.name


class Reward(TimeStampedModel):
    """An entry of the rewards catalogue (积分商城), priced in points or card energy: a coupon of one of the mall's
    templates, or an item an operator sends. Priced in energy, it is an energy exchange (名片能量值兑换) at the
    rate the operator sets here."""

    class Kind(models.TextChoices):
        COUPON = "coupon", "优惠券 coupon"
        ITEM = "item", "实物 item"

    name = models.CharField("名称 name", max_length=64)
    description = models.CharField("说明 description", max_length=200, blank=True, default="")
    kind = models.CharField("类型 kind", max_length=16, choices=Kind.choices)
    currency = models.CharField("支付币种 paid in", max_length=16, choices=SPENDABLE_CURRENCIES)
    cost = models.PositiveIntegerField("价格 cost")
    coupon_template = models.ForeignKey(CouponTemplate, null=True, blank=True, on_delete=models.PROTECT,
                                        related_name="+", verbose_name="优惠券模板 coupon template")
    stock = models.PositiveIntegerField("库存 stock")
    per_user_limit = models.PositiveSmallIntegerField("每人限兑 per user", default=1)
    is_active = models.BooleanField("上架 active", default=True)
    position = models.PositiveSmallIntegerField("排序 position", default=0)

    class Meta:
        verbose_name = "奖品与兑换 reward"
        verbose_name_plural = "奖品与兑换 rewards"
        ordering = ["position", "pk"]
        constraints = [
            models.CheckConstraint(condition=Q(cost__gte=1), name="reward_cost_positive"),
            models.CheckConstraint(condition=Q(per_user_limit__gte=1), name="reward_limit_positive"),
            models.CheckConstraint(condition=Q(kind="coupon", coupon_template__isnull=False)
                                   | Q(kind="item", coupon_template__isnull=True), name="reward_kind_matches"),
        ]

    def __str__(self) -> str:
        return self.name


# --- live records -------------------------------------------------------------------------------------------------
class CheckIn(models.Model):
    """One check-in per user and day (Asia/Shanghai): the unique constraint makes concurrent check-ins one."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+",
                             verbose_name="用户 user")
    day = models.DateField("日期 day")
    streak = models.PositiveIntegerField("连续天数 streak")
    created_at = models.DateTimeField("时间 time", auto_now_add=True)

    class Meta:
        verbose_name = "签到 check-in"
        verbose_name_plural = "签到 check-ins"
        constraints = [models.UniqueConstraint(fields=["user", "day"], name="check_in_once_a_day")]

    def __str__(self) -> str:
        return f"{self.user_id} {self.day}"


class SpendHold(TimeStampedModel):
    """Points (or energy) put on an order at checkout, or on a redemption: counted in the account's `held` at once,
    under the account's lock, so concurrent spends never take more than is there. The ledger debit itself is
    written by the rules engine in event order (`ledger_spent`), which settles the hold; a cancelled order releases
    it (`ledger_spend_released`). Whichever moves it out of `held` first (a conditional UPDATE) takes the amount out of
the account's `held`; the other finds it moved and leaves `held` alone."""

    class Status(models.TextChoices):
        HELD = "held", "占用中 held"
        SETTLED = "settled", "已扣减 debited"
        RELEASED = "released", "已退回 released"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+",
                             verbose_name="用户 user")
    currency = models.CharField("币种 currency", max_length=16, choices=Currency.choices)
    amount = models.PositiveBigIntegerField("数量 amount")
    reference = models.CharField("关联 reference", max_length=64)
    reason = models.CharField("用途 reason", max_length=32)
    status = models.CharField("状态 status", max_length=16, choices=Status.choices, default=Status.HELD)

    class Meta:
        verbose_name = "积分占用 spend hold"
        verbose_name_plural = "积分占用 spend holds"
        constraints = [
            models.UniqueConstraint(fields=["currency", "reference"], name="spend_hold_once_per_reference"),
            models.CheckConstraint(condition=Q(amount__gte=1), name="spend_hold_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.reference} −{self.amount} {self.currency}"


class Redemption(TimeStampedModel):
    """A reward taken from the catalogue: paid by a spend hold, its coupon issued at once, an item sent by an
    operator."""

    class Status(models.TextChoices):
        REDEEMED = "redeemed", "已兑换 redeemed"
        FULFILLED = "fulfilled", "已发放 fulfilled"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+",
                             verbose_name="用户 user")
    reward = models.ForeignKey(Reward, on_delete=models.PROTECT, related_name="redemptions",
                               verbose_name="奖品 reward")
    currency = models.CharField("币种 currency", max_length=16, choices=Currency.choices)
    cost = models.PositiveIntegerField("花费 cost")
    status = models.CharField("状态 status", max_length=16, choices=Status.choices, default=Status.REDEEMED)
    idempotency_key = models.CharField("幂等键 idempotency key", max_length=64)
    user_coupon = models.ForeignKey(UserCoupon, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                                    verbose_name="发放的优惠券 coupon issued")
    fulfilled_at = models.DateTimeField("发放时间 fulfilled at", null=True, blank=True)

    class Meta:
        verbose_name = "兑换记录 redemption"
        verbose_name_plural = "兑换记录 redemptions"
        constraints = [models.UniqueConstraint(fields=["user", "idempotency_key"], name="redemption_once_per_key")]

    def __str__(self) -> str:
        return f"{self.user_id} → {self.reward_id}"


class RewardGrant(models.Model):
    """A coupon a task rule gave: issued once per award key, and kept through replays (the coupon is the
    shopper's; a replay finds the grant and issues nothing)."""

    rule = models.ForeignKey(TaskRule, on_delete=models.PROTECT, related_name="+", verbose_name="规则 rule")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+",
                             verbose_name="用户 user")
    period_key = models.CharField("周期键 period key", max_length=96)
    user_coupon = models.ForeignKey(UserCoupon, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                                    verbose_name="优惠券 coupon")
    note = models.CharField("说明 note", max_length=200, blank=True, default="")
    created_at = models.DateTimeField("时间 time", auto_now_add=True)

    class Meta:
        verbose_name = "规则发券 coupon granted by a rule"
        verbose_name_plural = "规则发券 coupons granted by rules"
        constraints = [models.UniqueConstraint(fields=["rule", "user", "period_key"], name="reward_grant_once")]

    def __str__(self) -> str:
        return f"{self.rule_id} → {self.user_id} {self.period_key}"


# --- the ledger (derived by the engine, in event order) ------------------------------------------------------------
class LedgerAccount(models.Model):
    """One user's balance in one currency. `balance` and `debt` are written only by the rules engine, in event
    order; `held` by live spends. What a shopper can spend now is balance - held - lots due to expire."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+",
                             verbose_name="用户 user")
    currency = models.CharField("币种 currency", max_length=16, choices=Currency.choices)
    balance = models.BigIntegerField("余额 balance", default=0)
    held = models.BigIntegerField("占用 held", default=0)
    debt = models.BigIntegerField("欠款 debt", default=0,
                                  help_text="退款冲回超出余额的部分, 由以后的收入抵扣 taken back beyond the balance, "
                                            "paid off by later earnings")
    updated_at = models.DateTimeField("更新时间 updated", auto_now=True)

    class Meta:
        verbose_name = "账户 account"
        verbose_name_plural = "账户 accounts"
        constraints = [
            models.UniqueConstraint(fields=["user", "currency"], name="ledger_account_once_per_currency"),
            models.CheckConstraint(condition=Q(balance__gte=0), name="ledger_balance_not_negative"),
            models.CheckConstraint(condition=Q(held__gte=0), name="ledger_held_not_negative"),
            models.CheckConstraint(condition=Q(debt__gte=0), name="ledger_debt_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.currency}: {self.balance}"


class TaskAward(models.Model):
    """A rule's reward to a user: one per (rule, user, period key), and never twice for the same source event."""

    rule = models.ForeignKey(TaskRule, on_delete=models.PROTECT, related_name="awards", verbose_name="规则 rule")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+",
                             verbose_name="用户 user")
    period_key = models.CharField("周期键 period key", max_length=96)
    subject = models.CharField("对象 subject", max_length=64, blank=True, default="")
    source_event_id = models.BigIntegerField("来源事件 source event")
    order_id = models.BigIntegerField("订单 order id", null=True, blank=True)
    currency = models.CharField("币种 currency", max_length=16, choices=Currency.choices)
    amount = models.PositiveBigIntegerField("数量 amount")
    reversed_amount = models.PositiveBigIntegerField("已冲回 reversed", default=0)
    created_at = models.DateTimeField("时间 time")

    class Meta:
        verbose_name = "任务奖励 task award"
        verbose_name_plural = "任务奖励 task awards"
        constraints = [
            models.UniqueConstraint(fields=["rule", "user", "period_key"], name="task_award_once_per_period"),
            models.UniqueConstraint(fields=["rule", "user", "source_event_id"], name="task_award_once_per_event"),
            models.CheckConstraint(condition=Q(reversed_amount__lte=F("amount")), name="task_award_reversal_within"),
        ]
        indexes = [models.Index(fields=["order_id"], name="task_award_order_idx", condition=Q(order_id__isnull=False))]

    def __str__(self) -> str:
        return f"{self.rule_id} → {self.user_id} +{self.amount}"


class LedgerLot(models.Model):
    """Credited amounts waiting to be spent or to expire: spending takes the lot expiring first (first in, first
    out by expiry); a lot with no expiry comes last."""

    account = models.ForeignKey(LedgerAccount, on_delete=models.CASCADE, related_name="lots",
                                verbose_name="账户 account")
    award = models.ForeignKey(TaskAward, null=True, blank=True, on_delete=models.CASCADE, related_name="lots",
                              verbose_name="奖励 award")
    amount = models.PositiveBigIntegerField("入账 amount")
    remaining = models.PositiveBigIntegerField("剩余 remaining")
    expires_at = models.DateTimeField("过期时间 expires at", null=True, blank=True)
    source_event_id = models.BigIntegerField("来源事件 source event")
    created_at = models.DateTimeField("时间 time")

    class Meta:
        verbose_name = "积分批次 lot"
        verbose_name_plural = "积分批次 lots"
        constraints = [models.CheckConstraint(condition=Q(remaining__lte=F("amount")), name="ledger_lot_within")]
        indexes = [models.Index(fields=["account", "expires_at", "id"], name="ledger_lot_open_idx",
                                condition=Q(remaining__gt=0)),
                   models.Index(fields=["expires_at"], name="ledger_lot_expiry_idx", condition=Q(remaining__gt=0))]

    def __str__(self) -> str:
        return f"{self.account_id}: {self.remaining}/{self.amount}"


class LedgerEntry(models.Model):
    """Append-only: one line of an account's history, with the balance and debt change it made, why, the source
    event and, for credits, when they expire. Never changed after it is written."""

    class Kind(models.TextChoices):
        AWARD = "award", "奖励 award"
        SPEND = "spend", "使用 spend"
        RESTORE = "restore", "退回 given back"
        REVERSAL = "reversal", "冲回 taken back"
        EXPIRY = "expiry", "过期 expired"

    account = models.ForeignKey(LedgerAccount, on_delete=models.CASCADE, related_name="entries",
                                verbose_name="账户 account")
    kind = models.CharField("类型 kind", max_length=16, choices=Kind.choices)
    amount = models.BigIntegerField("余额变动 balance change")
    debt_change = models.BigIntegerField("欠款变动 debt change", default=0)
    reason = models.CharField("原因 reason", max_length=200)
    reference = models.CharField("关联 reference", max_length=64, blank=True, default="")
    source_event_id = models.BigIntegerField("来源事件 source event")
    expires_at = models.DateTimeField("过期时间 expires at", null=True, blank=True)
    created_at = models.DateTimeField("时间 time")

    class Meta:
        verbose_name = "账户明细 ledger entry"
        verbose_name_plural = "账户明细 ledger entries"
        indexes = [models.Index(fields=["account", "-created_at", "-id"], name="ledger_entry_account_time_idx")]

    def __str__(self) -> str:
        return f"{self.account_id} {self.kind} {self.amount:+d}"


class Membership(models.Model):
    """A user's member level, from their experience balance (engine-derived)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True,
                                related_name="+", verbose_name="用户 user")
    level = models.ForeignKey(MemberLevel, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                              verbose_name="等级 level")
    experience = models.PositiveBigIntegerField("经验值 experience", default=0)
    changed_at = models.DateTimeField("变更时间 changed at", null=True, blank=True)

    class Meta:
        verbose_name = "会员 membership"
        verbose_name_plural = "会员 memberships"

    def __str__(self) -> str:
        return f"{self.user_id}: {self.level or '-'}"


class LevelChange(models.Model):
    """Every change of a user's level, with the experience that made it and the event that caused it."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+",
                             verbose_name="用户 user")
    from_level = models.ForeignKey(MemberLevel, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                                   verbose_name="原等级 from")
    to_level = models.ForeignKey(MemberLevel, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                                 verbose_name="新等级 to")
    experience = models.PositiveBigIntegerField("经验值 experience")
    source_event_id = models.BigIntegerField("来源事件 source event")
    created_at = models.DateTimeField("时间 time")

    class Meta:
        verbose_name = "等级变更 level change"
        verbose_name_plural = "等级变更 level changes"

    def __str__(self) -> str:
        return f"{self.user_id}: {self.from_level_id} → {self.to_level_id}"


# --- the engine's own facts (derived, in event order) -------------------------------------------------------------
class EngineUser(models.Model):
    """What the engine has seen of a user: registration, profile fields, check-in streaks, who invited them."""

    user_id = models.BigIntegerField("用户 user id", primary_key=True)
    registered_at = models.DateTimeField("注册时间 registered", null=True, blank=True)
    profile_fields = models.JSONField("已填资料 profile fields", default=list)
    profile_complete = models.BooleanField("资料完整 profile complete", default=False)
    last_check_in = models.DateField("最近签到 last check-in", null=True, blank=True)
    streak_none = models.PositiveIntegerField("连签 streak", default=0)
    streak_weekly = models.PositiveIntegerField("本周连签 streak this week", default=0)
    streak_monthly = models.PositiveIntegerField("本月连签 streak this month", default=0)
    inviter_key = models.CharField("邀请人 inviter", max_length=80, blank=True, default="")

    class Meta:
        verbose_name = "引擎: 用户 engine: user facts"
        verbose_name_plural = "引擎: 用户 engine: user facts"

    def __str__(self) -> str:
        return f"user {self.user_id}"


class EngineCounter(models.Model):
    """How many occurrences of a trigger the engine has seen for a user (`first_time` reads it)."""

    user_id = models.BigIntegerField("用户 user id")
    trigger = models.CharField("触发 trigger", max_length=64)
    count = models.PositiveIntegerField("次数 count", default=0)

    class Meta:
        verbose_name = "引擎: 计数 engine: counter"
        verbose_name_plural = "引擎: 计数 engine: counters"
        constraints = [models.UniqueConstraint(fields=["user_id", "trigger"], name="engine_counter_once")]

    def __str__(self) -> str:
        return f"{self.user_id} {self.trigger}: {self.count}"


class EngineKey(models.Model):
    """Visitor keys the engine has seen: who forwarded a share (`s:<share id>` -> sharer key), which device became
    which user (`v:<device>` -> `u:<user id>`), who referred a visitor to a card (`r:<card id>:<visitor key>`)."""

    key = models.CharField("键 key", max_length=160, primary_key=True)
    value = models.CharField("值 value", max_length=80)

    class Meta:
        verbose_name = "引擎: 关系 engine: key"
        verbose_name_plural = "引擎: 关系 engine: keys"

    def __str__(self) -> str:
        return f"{self.key} → {self.value}"


class EngineOrder(models.Model):
    """An order as the engine saw it: its paid total and what was refunded of it."""

    order_id = models.BigIntegerField("订单 order id", primary_key=True)
    user_id = models.BigIntegerField("用户 user id")
    total = models.DecimalField("实付 paid", max_digits=12, decimal_places=2)
    refunded = models.DecimalField("已退款 refunded", max_digits=12, decimal_places=2, default=0)

    class Meta:
        verbose_name = "引擎: 订单 engine: order"
        verbose_name_plural = "引擎: 订单 engine: orders"

    def __str__(self) -> str:
        return f"order {self.order_id}"


class EngineSpend(models.Model):
    """A spend the engine debited: what it was worth (the order's goods payable, to give back the refunded share),
    what was refunded on its order and what came back already, and the latest expiry of the lots it took: amounts
    given back expire then (or, when it took no lot that expires, after the currency's validity)."""

    account = models.ForeignKey(LedgerAccount, on_delete=models.CASCADE, related_name="+",
                                verbose_name="账户 account")
    reference = models.CharField("关联 reference", max_length=64)
    amount = models.PositiveBigIntegerField("数量 amount")
    base = models.DecimalField("对应金额 worth", max_digits=12, decimal_places=2, null=True, blank=True)
    refunded = models.DecimalField("订单已退款 refunded on the order", max_digits=12, decimal_places=2, default=0)
    returned = models.PositiveBigIntegerField("已退回 returned", default=0)
    expires_at = models.DateTimeField("退回后过期 returned amounts expire", null=True, blank=True)

    class Meta:
        verbose_name = "引擎: 使用 engine: spend"
        verbose_name_plural = "引擎: 使用 engine: spends"
        indexes = [models.Index(fields=["reference"], name="engine_spend_reference_idx")]
        constraints = [
            models.UniqueConstraint(fields=["account", "reference"], name="engine_spend_once"),
            models.CheckConstraint(condition=Q(returned__lte=F("amount")), name="engine_spend_return_within"),
        ]

    def __str__(self) -> str:
        return f"{self.reference} −{self.amount}"
