"""The operator admin (/admin/) of the cards app: every model, read-only where money or a visitor's record is
involved; state changes are actions that call services (take a card offline, pay or reject a withdrawal), and a
store's distribution plan is saved through `commission.distribution_plan_save` (rates checked there).

Chat texts are not shown here: they are stored encrypted and belong to the visitor and the rep (the message list
shows who wrote when, and how long it was).
"""
from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm

from cards.models import (
    BusinessCard,
    CardFeaturedListing,
    CardMessage,
    CardVisit,
    CommissionAccount,
    CommissionEntry,
    CustomerAssignment,
    CustomerAssignmentChange,
    DistributionBinding,
    DistributionPlan,
    Lead,
    LeadNote,
    Referral,
    Share,
    VisitorIdentity,
    Withdrawal,
)
from cards.services import commission, sharing
from core.admin import (
    ExactSearchMixin,
    OperatorModelAdmin,
    ReadOnlyAdminMixin,
    ReadOnlyInline,
    ServiceActionsMixin,
    ServiceSaveMixin,
)


class ReadOnlyOperatorAdmin(ReadOnlyAdminMixin, OperatorModelAdmin):
    """A record operators read (visits, shares, the ledger...): every field shown (money in ¥), nothing editable."""

    def get_fields(self, request, obj=None):
        names = self.fields or [field.name for field in self.model._meta.fields]
        return [self._yuan_attribute(name) for name in names]

    def get_readonly_fields(self, request, obj=None):
        return self.get_fields(request, obj)


# --- cards and shares --------------------------------------------------------------------------------------------
class FeaturedListingInline(ReadOnlyInline):
    model = CardFeaturedListing
    fields = ("position", "listing")
    readonly_fields = fields


@admin.register(BusinessCard)
class BusinessCardAdmin(ServiceActionsMixin, ReadOnlyOperatorAdmin):
    """A rep's card. Its content is the rep's; operators take a card offline (or back online) with the actions."""

    icon = "badge"
    fields = ("owner", "store", "name", "title", "company", "phone_masked", "wechat_id", "avatar_url", "intro",
              "theme", "status", "published_at", "created_at", "updated_at")
    list_display = ("name", "owner", "store", "title", "status", "published_at", "updated_at")
    list_filter = ("status", "theme", ("store", admin.RelatedOnlyFieldListFilter))
    search_fields = ("name", "company", "owner__phone")
    list_select_related = ("owner", "store")
    date_hierarchy = "created_at"
    inlines = [FeaturedListingInline]
    actions = ("take_offline", "put_online")

    @admin.action(description="下线名片 Take the selected cards offline", permissions=["operate"])
    def take_offline(self, request, queryset):
        self.run_service_on_each(request, queryset, lambda card: sharing.card_publish(
            owner=card.owner, card_id=card.pk, published=False), done="已下线 taken offline")

    @admin.action(description="重新发布 Publish the selected cards again", permissions=["operate"])
    def put_online(self, request, queryset):
        self.run_service_on_each(request, queryset, lambda card: sharing.card_publish(
            owner=card.owner, card_id=card.pk, published=True), done="已发布 published")


@admin.register(CardFeaturedListing)
class CardFeaturedListingAdmin(ReadOnlyOperatorAdmin):
    icon = "star"
    list_display = ("card", "position", "listing")
    list_select_related = ("card", "listing__store", "listing__sku__product")
    search_fields = ("card__name__exact",)


@admin.register(Share)
class ShareAdmin(ExactSearchMixin, ReadOnlyOperatorAdmin):
    """One forward of a card; the chain is `parent` (depth = parent's + 1)."""

    icon = "share"
    list_display = ("id", "card", "sharer_key", "channel", "depth", "parent", "created_at")
    list_filter = ("channel", "depth")
    search_fields = ("id__exact", "sharer_key__exact", "parent__exact")
    list_select_related = ("card", "parent")
    date_hierarchy = "created_at"
    show_full_result_count = False  # a card that spreads has many shares


@admin.register(VisitorIdentity)
class VisitorIdentityAdmin(ExactSearchMixin, ReadOnlyOperatorAdmin):
    icon = "fingerprint"
    list_display = ("visitor_id", "user", "identified_at")
    search_fields = ("visitor_id__exact", "user__exact")
    list_select_related = ("user",)
    date_hierarchy = "identified_at"


@admin.register(CardVisit)
class CardVisitAdmin(ExactSearchMixin, ReadOnlyOperatorAdmin):
    """Written by the visit consumer (cards.visits) from tracking events only."""

    icon = "visibility"
    list_display = ("visit_key", "card", "visitor_key", "share", "started_at", "dwell_seconds", "actions")
    search_fields = ("visit_key__exact", "visitor_key__exact", "card__exact")
    list_select_related = ("card", "share")
    date_hierarchy = "started_at"
    show_full_result_count = False


@admin.register(CardMessage)
class CardMessageAdmin(ExactSearchMixin, ReadOnlyOperatorAdmin):
    """Who wrote to whom, when; the text itself stays encrypted and is not shown."""

    icon = "chat"
    fields = ("card", "visitor_key", "direction", "author", "client_key", "created_at", "length")
    list_display = ("card", "visitor_key", "direction", "author", "length", "created_at")
    list_filter = ("direction",)
    search_fields = ("visitor_key__exact", "card__exact")
    list_select_related = ("card", "author")
    date_hierarchy = "created_at"

    @admin.display(description="字数 length")
    def length(self, message: CardMessage) -> int:
        return len(message.text)


@admin.register(Referral)
class ReferralAdmin(ExactSearchMixin, ReadOnlyOperatorAdmin):
    """First touch: which share brought a visitor to a card."""

    icon = "call_split"
    list_display = ("card", "visitor_key", "share", "first_at", "bound_at")
    search_fields = ("visitor_key__exact", "share__exact", "card__exact")
    list_select_related = ("card", "share")
    date_hierarchy = "first_at"


# --- customers and leads -----------------------------------------------------------------------------------------
class AssignmentChangeInline(ReadOnlyInline):
    model = CustomerAssignmentChange
    fields = ("created_at", "from_rep", "to_rep", "changed_by", "reason")
    readonly_fields = fields
    show_change_link = False


@admin.register(CustomerAssignment)
class CustomerAssignmentAdmin(ReadOnlyOperatorAdmin):
    """Reassignments are a store manager's, in the merchant console (audited below each row)."""

    icon = "group"
    list_display = ("customer", "store", "rep", "source", "updated_at")
    list_filter = ("source", ("store", admin.RelatedOnlyFieldListFilter))
    search_fields = ("customer__phone", "rep__phone")
    list_select_related = ("customer", "store", "rep")
    date_hierarchy = "created_at"
    inlines = [AssignmentChangeInline]


@admin.register(CustomerAssignmentChange)
class CustomerAssignmentChangeAdmin(ReadOnlyOperatorAdmin):
    icon = "swap_horiz"
    list_display = ("assignment", "from_rep", "to_rep", "changed_by", "reason", "created_at")
    search_fields = ("reason",)
    list_select_related = ("assignment__customer", "assignment__store", "from_rep", "to_rep", "changed_by")
    date_hierarchy = "created_at"


class LeadNoteInline(ReadOnlyInline):
    model = LeadNote
    fields = ("created_at", "author", "stage_from", "stage_to", "text")
    readonly_fields = fields
    show_change_link = False


@admin.register(Lead)
class LeadAdmin(ReadOnlyOperatorAdmin):
    """A rep's lead; the rep follows it up in the merchant console."""

    icon = "person_search"
    list_display = ("visitor_key", "owner", "store", "stage", "intent_score", "visits", "last_seen_at",
                    "converted_at")
    list_filter = ("stage", ("store", admin.RelatedOnlyFieldListFilter))
    search_fields = ("visitor_key", "owner__phone", "user__phone")
    list_select_related = ("owner", "store")
    date_hierarchy = "last_seen_at"
    inlines = [LeadNoteInline]


@admin.register(LeadNote)
class LeadNoteAdmin(ReadOnlyOperatorAdmin):
    icon = "sticky_note_2"
    list_display = ("lead", "author", "stage_from", "stage_to", "created_at")
    search_fields = ("text",)
    list_select_related = ("lead", "author")
    date_hierarchy = "created_at"


# --- distribution and commission ---------------------------------------------------------------------------------
@admin.register(DistributionPlan)
class DistributionPlanAdmin(ServiceSaveMixin, OperatorModelAdmin):
    """A store's two-level rates, saved through `commission.distribution_plan_save` (0 to 50 % each)."""

    icon = "percent"
    fields = ("store", "enabled", "level1_rate", "level2_rate")
    list_display = ("store", "enabled", "level1_rate", "level2_rate", "updated_at")
    list_filter = ("enabled",)
    search_fields = ("store__name",)
    list_select_related = ("store",)
    service_error_fields = {"rate_invalid": "level1_rate"}

    def has_delete_permission(self, request, obj=None):
        return False  # switched off (enabled), never deleted: entries snapshot its rates

    def get_readonly_fields(self, request, obj=None):
        return ("store",) if obj is not None else ()

    def save_through_service(self, request, form, change):
        data = form.cleaned_data
        store_id = form.instance.store_id if change else data["store"].pk
        return commission.distribution_plan_save(store_id=store_id, level1_rate=data["level1_rate"],
                                                 level2_rate=data["level2_rate"], enabled=data["enabled"])


@admin.register(DistributionBinding)
class DistributionBindingAdmin(ReadOnlyOperatorAdmin):
    icon = "link"
    list_display = ("buyer", "store", "level1", "level2", "share", "bound_at")
    list_filter = (("store", admin.RelatedOnlyFieldListFilter),)
    search_fields = ("buyer__phone", "level1__phone")
    list_select_related = ("buyer", "store", "level1", "level2", "share")
    date_hierarchy = "bound_at"


@admin.register(CommissionAccount)
class CommissionAccountAdmin(ReadOnlyOperatorAdmin):
    """Balances are sums the ledger moves; nobody edits them."""

    icon = "account_balance_wallet"
    list_display = ("user", "pending", "frozen", "withdrawable", "withdrawing", "withdrawn", "debt", "updated_at")
    search_fields = ("user__phone",)
    list_select_related = ("user",)
    date_hierarchy = "created_at"


@admin.register(CommissionEntry)
class CommissionEntryAdmin(ReadOnlyOperatorAdmin):
    icon = "receipt"
    list_display = ("account", "order", "store", "level", "kind", "status", "base_amount", "rate", "amount",
                    "created_at")
    list_filter = ("kind", "status", "level")
    search_fields = ("order__number", "account__user__phone")
    list_select_related = ("account__user", "order", "store")
    date_hierarchy = "created_at"


class WithdrawalDecisionForm(ActionForm):
    note = forms.CharField(label="备注 note (驳回时必填 required to reject)", required=False, max_length=200)


@admin.register(Withdrawal)
class WithdrawalAdmin(ServiceActionsMixin, ReadOnlyOperatorAdmin):
    """Requests are paid or rejected with the actions (`commission.withdrawal_decide`); a rejected amount goes back
    to the balance."""

    icon = "account_balance"
    action_form = WithdrawalDecisionForm
    actions = ("approve", "reject")
    list_display = ("account", "amount", "fee", "net_amount", "status", "created_at", "decided_by", "decided_at")
    list_filter = ("status",)
    search_fields = ("account__user__phone", "idempotency_key")
    list_select_related = ("account__user", "decided_by")
    date_hierarchy = "created_at"

    @admin.action(description="确认打款 Mark the selected withdrawals paid", permissions=["operate"])
    def approve(self, request, queryset):
        note = request.POST.get("note", "").strip()
        self.run_service_on_each(request, queryset, lambda withdrawal: commission.withdrawal_decide(
            withdrawal_id=withdrawal.pk, approve=True, operator=request.user, note=note), done="已打款 paid")

    @admin.action(description="驳回 Reject the selected withdrawals (write the reason in the box)",
                  permissions=["operate"])
    def reject(self, request, queryset):
        note = request.POST.get("note", "").strip()
        if not note:
            self.message_user(request, "请填写驳回原因 (write the reason to reject)", messages.ERROR)
            return
        self.run_service_on_each(request, queryset, lambda withdrawal: commission.withdrawal_decide(
            withdrawal_id=withdrawal.pk, approve=False, operator=request.user, note=note), done="已驳回 rejected")
