"""Operator admin (/admin/) of engagement: task rules and groups, member levels, the rewards catalogue (points and
energy exchange rates) are configured here and saved through the services' checks; everything the engine derived
(awards, accounts, lots, entries, levels) and what shoppers did (check-ins, holds, redemptions) is read-only.

How an operator adds a task: 任务规则 > 新增: a code, a name, the trigger (what it waits for; an inactive trigger
names the event kind nobody emits yet), a condition and an audience (with their values), the reward (currency and
amount, or an amount per yuan, or a streak schedule, and/or a coupon template), the period and how many times per
period, an optional validity window, a group (the onboarding checklist) and "启用". Rules apply to events from the
moment they are saved; `python manage.py engagement_replay` applies the current rules to the whole history.
"""
from django import forms
from django.contrib import admin
from unfold.widgets import UnfoldAdminSelectWidget

from core.admin import (
    ExactSearchMixin,
    OperatorModelAdmin,
    ReadOnlyAdminMixin,
    ServiceActionsMixin,
    ServiceSaveMixin,
    UndeletableAdminMixin,
)
from engagement import registry
from engagement.models import (
    CheckIn,
    EngineCounter,
    EngineKey,
    EngineOrder,
    EngineSpend,
    EngineUser,
    LedgerAccount,
    LedgerEntry,
    LedgerLot,
    LevelChange,
    MemberLevel,
    Membership,
    Redemption,
    Reward,
    RewardGrant,
    SpendHold,
    TaskAward,
    TaskGroup,
    TaskRule,
)
from engagement.services import rewards, rules


def _trigger_choices():
    choices = []
    for trigger in registry.triggers():
        missing = trigger.missing_kinds()
        label = trigger.label if not missing else f"{trigger.label} (未启用 inactive: {', '.join(missing)})"
        choices.append((trigger.name, label))
    return choices


def _condition_choices():
    return [(condition.name, condition.label) for condition in registry.conditions()]


def _audience_choices():
    return [(audience.name, audience.label if audience.available() else f"{audience.label} (未启用 unavailable)")
            for audience in registry.audiences()]


class TaskRuleForm(forms.ModelForm):
    """The trigger, condition and audience are chosen among what code registered (engagement/registry.py)."""

    trigger = forms.ChoiceField(label="触发 trigger", choices=_trigger_choices, widget=UnfoldAdminSelectWidget)
    condition = forms.ChoiceField(label="条件 condition", choices=_condition_choices, widget=UnfoldAdminSelectWidget)
    audience = forms.ChoiceField(label="适用人群 audience", choices=_audience_choices,
                                 widget=UnfoldAdminSelectWidget)

    class Meta:
        model = TaskRule
        fields = ("code", "name", "description", "group", "position", "is_active", "trigger", "condition",
                  "condition_value", "audience", "audience_value", "valid_from", "valid_to", "currency",
                  "reward_amount", "reward_per_yuan", "streak_rewards", "streak_reset", "coupon_template",
                  "validity_days", "period", "max_per_period")


@admin.register(TaskGroup)
class TaskGroupAdmin(UndeletableAdminMixin, OperatorModelAdmin):
    icon = "checklist"
    list_display = ("name", "code", "position", "is_active", "created_at")
    list_filter = ("is_active",)
    search_fields = ("name", "code")
    date_hierarchy = "created_at"
    fields = ("code", "name", "description", "position", "is_active")


@admin.register(TaskRule)
class TaskRuleAdmin(UndeletableAdminMixin, ServiceActionsMixin, ServiceSaveMixin, OperatorModelAdmin):
    """Saved through `rules.task_rule_save`: an unknown trigger, a rule on a trigger whose events nobody emits yet,
    a condition without its value, a rule that rewards nothing are form errors."""

    icon = "rule"
    form = TaskRuleForm
    list_display = ("name", "code", "trigger", "currency", "reward_amount", "streak_rewards", "period",
                    "max_per_period", "group", "is_active")
    list_filter = ("is_active", "currency", "period", "group")
    search_fields = ("name", "code")
    date_hierarchy = "created_at"
    list_select_related = ("group",)
    autocomplete_fields = ("coupon_template",)
    fieldsets = (
        (None, {"fields": ("code", "name", "description", "group", "position", "is_active")}),
        ("触发与条件 When", {"fields": ("trigger", "condition", "condition_value", "audience", "audience_value",
                                      "valid_from", "valid_to")}),
        ("奖励 Reward", {"fields": ("currency", "reward_amount", "reward_per_yuan", "streak_rewards",
                                  "streak_reset", "coupon_template", "validity_days")}),
        ("次数 How often", {"fields": ("period", "max_per_period")}),
    )
    actions = ("switch_on", "switch_off")

    def save_through_service(self, request, form, change):
        return rules.task_rule_save(rule=form.instance)

    @admin.action(description="启用 Switch the selected rules on", permissions=["operate"])
    def switch_on(self, request, queryset):
        self.run_service_on_each(request, queryset, lambda rule: rules.task_rule_switch(rule_id=rule.pk, active=True),
                                 done="已启用 switched on")

    @admin.action(description="停用 Switch the selected rules off", permissions=["operate"])
    def switch_off(self, request, queryset):
        self.run_service_on_each(request, queryset,
                                 lambda rule: rules.task_rule_switch(rule_id=rule.pk, active=False),
                                 done="已停用 switched off")


@admin.register(MemberLevel)
class MemberLevelAdmin(UndeletableAdminMixin, ServiceSaveMixin, OperatorModelAdmin):
    """Saved through `rules.member_level_save`: thresholds rise with the rank."""

    icon = "workspace_premium"
    list_display = ("rank", "name", "min_experience", "discount_percent", "free_shipping")
    list_filter = ("free_shipping",)
    search_fields = ("name",)
    date_hierarchy = "created_at"
    fields = ("rank", "name", "min_experience", "discount_percent", "free_shipping", "description")

    def save_through_service(self, request, form, change):
        return rules.member_level_save(level=form.instance)


@admin.register(Reward)
class RewardAdmin(UndeletableAdminMixin, ServiceSaveMixin, OperatorModelAdmin):
    """The catalogue: a reward priced in points (积分商城) or in card energy (名片能量值兑换, the exchange rate is
    its cost); coupons come from the mall's coupon templates and obey their limits."""

    icon = "redeem"
    service_validates_row = True
    list_display = ("name", "kind", "currency", "cost", "coupon_template", "stock", "per_user_limit", "is_active")
    list_filter = ("kind", "currency", "is_active")
    search_fields = ("name",)
    date_hierarchy = "created_at"
    autocomplete_fields = ("coupon_template",)
    list_select_related = ("coupon_template",)
    fields = ("name", "description", "kind", "currency", "cost", "coupon_template", "stock", "per_user_limit",
              "position", "is_active")

    def save_through_service(self, request, form, change):
        return rewards.reward_save(reward=form.instance)


@admin.register(Redemption)
class RedemptionAdmin(ExactSearchMixin, ServiceActionsMixin, ReadOnlyAdminMixin, OperatorModelAdmin):
    icon = "shopping_bag"
    list_display = ("id", "user", "reward", "currency", "cost", "status", "user_coupon", "created_at",
                    "fulfilled_at")
    list_filter = ("status", "currency", "reward")
    search_fields = ("user__phone__exact", "idempotency_key__exact")
    date_hierarchy = "created_at"
    list_select_related = ("user", "reward", "user_coupon__template", "user_coupon__user")
    fields = ("user", "reward", "currency", "cost", "status", "idempotency_key", "user_coupon", "created_at",
              "fulfilled_at")
    readonly_fields = fields
    actions = ("fulfil",)

    @admin.action(description="已发货 Mark the selected items sent", permissions=["operate"])
    def fulfil(self, request, queryset):
        self.run_service_on_each(request, queryset.order_by("pk"),
                                 lambda redemption: rewards.redemption_fulfil(redemption_id=redemption.pk),
                                 done="已标记发放 marked sent", label=lambda redemption: f"#{redemption.pk}")


class _ReadOnly(ExactSearchMixin, ReadOnlyAdminMixin, OperatorModelAdmin):
    """What shoppers did or the engine derived: read, never edited."""

    def get_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields]

    def get_readonly_fields(self, request, obj=None):
        return self.get_fields(request, obj)


@admin.register(CheckIn)
class CheckInAdmin(_ReadOnly):
    icon = "event_available"
    list_display = ("user", "day", "streak", "created_at")
    search_fields = ("user__phone__exact",)
    date_hierarchy = "day"
    list_select_related = ("user",)


@admin.register(SpendHold)
class SpendHoldAdmin(_ReadOnly):
    icon = "lock_clock"
    list_display = ("reference", "user", "currency", "amount", "reason", "status", "created_at")
    list_filter = ("status", "currency", "reason")
    search_fields = ("reference__exact", "user__phone__exact")
    date_hierarchy = "created_at"
    list_select_related = ("user",)


@admin.register(RewardGrant)
class RewardGrantAdmin(_ReadOnly):
    icon = "card_giftcard"
    list_display = ("rule", "user", "period_key", "user_coupon", "note", "created_at")
    list_filter = ("rule",)
    search_fields = ("user__phone__exact",)
    date_hierarchy = "created_at"
    list_select_related = ("rule", "user", "user_coupon__template", "user_coupon__user")


@admin.register(LedgerAccount)
class LedgerAccountAdmin(_ReadOnly):
    icon = "account_balance_wallet"
    list_display = ("user", "currency", "balance", "held", "debt", "updated_at")
    list_filter = ("currency",)
    search_fields = ("user__phone__exact",)
    date_hierarchy = "updated_at"
    list_select_related = ("user",)


@admin.register(LedgerEntry)
class LedgerEntryAdmin(_ReadOnly):
    icon = "receipt_long"
    list_display = ("id", "account", "kind", "amount", "debt_change", "reason", "reference", "source_event_id",
                    "expires_at", "created_at")
    list_filter = ("kind", "account__currency")
    search_fields = ("account__user__phone__exact", "reference__exact", "source_event_id__exact")
    date_hierarchy = "created_at"
    list_select_related = ("account",)
    show_full_result_count = False


@admin.register(LedgerLot)
class LedgerLotAdmin(_ReadOnly):
    icon = "inventory_2"
    list_display = ("id", "account", "amount", "remaining", "expires_at", "source_event_id", "created_at")
    list_filter = ("account__currency",)
    search_fields = ("account__user__phone__exact", "source_event_id__exact")
    date_hierarchy = "created_at"
    list_select_related = ("account",)
    show_full_result_count = False


@admin.register(TaskAward)
class TaskAwardAdmin(_ReadOnly):
    icon = "emoji_events"
    list_display = ("id", "rule", "user", "period_key", "subject", "currency", "amount", "reversed_amount",
                    "order_id", "source_event_id", "created_at")
    list_filter = ("rule", "currency")
    search_fields = ("user__phone__exact", "order_id__exact", "source_event_id__exact")
    date_hierarchy = "created_at"
    list_select_related = ("rule", "user")
    show_full_result_count = False


@admin.register(Membership)
class MembershipAdmin(_ReadOnly):
    icon = "loyalty"
    list_display = ("user", "level", "experience", "changed_at")
    list_filter = ("level",)
    search_fields = ("user__phone__exact",)
    date_hierarchy = "changed_at"
    list_select_related = ("user", "level")


@admin.register(LevelChange)
class LevelChangeAdmin(_ReadOnly):
    icon = "trending_up"
    list_display = ("user", "from_level", "to_level", "experience", "source_event_id", "created_at")
    list_filter = ("to_level",)
    search_fields = ("user__phone__exact",)
    date_hierarchy = "created_at"
    list_select_related = ("user", "from_level", "to_level")


@admin.register(EngineUser)
class EngineUserAdmin(_ReadOnly):
    """Why did a user get (or not get) an award: what the engine has seen of them."""

    icon = "manage_search"
    list_display = ("user_id", "registered_at", "profile_complete", "last_check_in", "streak_none", "inviter_key")
    list_filter = ("profile_complete",)
    search_fields = ("user_id__exact", "inviter_key__exact")
    date_hierarchy = "registered_at"


@admin.register(EngineCounter)
class EngineCounterAdmin(_ReadOnly):
    icon = "tag"
    list_display = ("user_id", "trigger", "count")
    list_filter = ("trigger",)
    search_fields = ("user_id__exact",)


@admin.register(EngineKey)
class EngineKeyAdmin(_ReadOnly):
    icon = "key"
    list_display = ("key", "value")
    search_fields = ("key__exact", "value__exact")


@admin.register(EngineOrder)
class EngineOrderAdmin(_ReadOnly):
    icon = "receipt"
    list_display = ("order_id", "user_id", "total", "refunded")
    search_fields = ("order_id__exact", "user_id__exact")


@admin.register(EngineSpend)
class EngineSpendAdmin(_ReadOnly):
    icon = "payments"
    list_display = ("reference", "account", "amount", "base", "refunded", "returned", "expires_at")
    search_fields = ("reference__exact",)
    list_select_related = ("account",)
