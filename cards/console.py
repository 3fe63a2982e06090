"""The business-card pages of the merchant console (/merchant/): my cards, leads, the radar, customers and
commission. config/urls.py imports this module, which registers them on `mall.consoles.merchant_console`.

Who sees what (every page): a rep their own rows (their cards, their leads, visits to their cards, their
customers, their commission); a store's owner or manager also the store's rows, read-only where the row is a rep's
own work (a lead is followed up by its rep only; a card is edited by its owner only); an operator everything. A
row outside that scope does not exist: its page answers 404, like the API's `lead_not_found`.

Every change goes through a service: cards through `sharing.card_save` / `card_publish`, follow-ups through
`leads.lead_update`, answers through `messages.message_from_rep`, reassignments through
`leads.customer_reassign`; a refusal is a form error or an error message, never a 500.
"""
import secrets

import redis
from django import forms
from django.contrib import admin
from django.db.models import Q
from django.http import Http404
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.html import format_html, format_html_join
from unfold.widgets import (
    UnfoldAdminCheckboxSelectMultipleWidget,
    UnfoldAdminTextareaWidget,
    UnfoldAdminTextInputWidget,
)

from accounts.models import User
from cards import radar, selectors
from cards.models import (
    BusinessCard,
    CardVisit,
    CommissionEntry,
    CustomerAssignment,
    CustomerAssignmentChange,
    Lead,
    LeadNote,
)
from cards.services import leads, messages, sharing
from core.money import yuan
from mall.consoles import merchant_console
from mall.models import Listing
from supply.console import ConsoleModelAdmin, ReadOnlyInline

ACTION_WORDS = {"view_card": "看名片", "view_product": "看商品", "copy_wechat": "复制微信", "save_phone": "存电话",
                "call": "打电话", "chat": "咨询", "authorize_phone": "授权手机号", "order": "下单", "share": "转发",
                "leave": "离开"}


def _visitor_name(visitor_key: str, user: User | None) -> str:
    if user is not None:
        return str(user)
    return "访客" + visitor_key[-4:]


def _duration(seconds: int) -> str:
    if seconds >= 3600:
        return f"{seconds // 3600}小时{seconds % 3600 // 60}分"
    if seconds >= 60:
        return f"{seconds // 60}分{seconds % 60}秒"
    return f"{seconds}秒"


def _local_time(iso: str | None) -> str:
    moment = parse_datetime(iso or "")
    return timezone.localtime(moment).strftime("%m-%d %H:%M") if moment else ""


def _managed_store_ids(request) -> list[int]:
    """Stores this request's user owns or manages (asked once per request: every row check asks)."""
    cache = request.__dict__.setdefault("_cards_managed_stores", {})
    if "ids" not in cache:
        cache["ids"] = selectors.stores_managed_by(user=request.user)
    return cache["ids"]


class PersonalScopeMixin:
    """The rows a rep works on (`mine_path` reaches the rep) and, for a store's owner or manager, every row of the
    store (`store_path`); operators see all. Anything else is a 404, not a redirect to the index."""

    mine_path = "owner"
    store_path = "store"

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return queryset.filter(Q(**{self.mine_path: request.user})
                               | Q(**{f"{self.store_path}__in": _managed_store_ids(request)}))

    def get_object(self, request, object_id, from_field=None):
        found = super().get_object(request, object_id, from_field)
        if found is None:
            raise Http404("not found")
        return found


# --- my cards ------------------------------------------------------------------------------------------------------
class CardForm(forms.ModelForm):
    """The card as its owner edits it: the phone as text (stored encrypted), featured listings of the store."""

    phone = forms.CharField(label="手机号 phone", max_length=20, required=False,
                            widget=UnfoldAdminTextInputWidget)
    avatar_url = forms.URLField(label="头像 avatar URL", max_length=500, required=False, assume_scheme="https",
                                widget=UnfoldAdminTextInputWidget)
    featured_listings = forms.ModelMultipleChoiceField(
        label="主推商品 featured products", required=False, queryset=Listing.objects.none(),
        widget=UnfoldAdminCheckboxSelectMultipleWidget,
        help_text=f"最多 {sharing.MAX_FEATURED} 个本店在售商品 at most {sharing.MAX_FEATURED} of the store's listings "
                  "on sale")

    class Meta:
        model = BusinessCard
        fields = ("store", "name", "title", "company", "wechat_id", "avatar_url", "intro", "theme")


@admin.register(BusinessCard, site=merchant_console)
class BusinessCardConsoleAdmin(PersonalScopeMixin, ConsoleModelAdmin):
    """我的名片: one card per store a rep works in, saved through `sharing.card_save` (a phone that is not a number,
    a listing of another store... are form errors), published and taken offline by the actions."""

    icon = "badge"
    menu_title = "我的名片 my cards"
    form = CardForm
    owner_path = "store"
    owner_field = "store"
    scoped_choices = {"store": ""}
    fields = ("store", "name", "title", "company", "phone", "wechat_id", "avatar_url", "intro", "theme",
              "featured_listings", "status", "published_at", "page_links")
    readonly_fields = ("status", "published_at", "page_links")
    list_display = ("name", "store", "title", "owner_name", "status", "published_at", "page_link")
    list_filter = ("status", ("store", admin.RelatedOnlyFieldListFilter))
    search_fields = ("name", "company")
    list_select_related = ("store", "owner")
    actions = ("publish", "unpublish")
    service_error_fields = {"phone_invalid": "phone", "too_many_featured": "featured_listings",
                            "featured_not_in_store": "featured_listings", "not_store_staff": "store"}

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and (obj is None or obj.owner_id == request.user.pk)

    def has_add_permission(self, request, obj=None):
        # A card is a rep's own: one per store they work in (an operator has none to add here).
        return super().has_add_permission(request, obj) and not request.user.is_superuser

    def get_form(self, request, obj=None, change=False, **kwargs):
        form_class = super().get_form(request, obj, change=change, **kwargs)
        stores = self.admin_site.scope_ids(request)
        listings = Listing.objects.filter(status=Listing.Status.ACTIVE).select_related("sku__product")
        if obj is not None:
            listings = listings.filter(store_id=obj.store_id)
        elif stores is not None:
            listings = listings.filter(store_id__in=stores)

        class ScopedCardForm(form_class):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, **kwargs)
                if "featured_listings" in self.fields:
                    self.fields["featured_listings"].queryset = listings
                    self.fields["featured_listings"].label_from_instance = (
                        lambda listing: f"{listing.sku.product.title} · ¥{listing.price}")
                    if obj is not None:
                        self.initial["featured_listings"] = list(
                            obj.featured_links.values_list("listing_id", flat=True))
                if "phone" in self.fields and obj is not None:
                    self.initial["phone"] = obj.phone

        return ScopedCardForm

    def save_through_service(self, request, form, change):
        data = form.cleaned_data
        store = form.instance.store if change else self.owner_of(request, form)
        return sharing.card_save(
            owner=request.user, store_id=store.pk, name=data["name"], title=data.get("title", ""),
            company=data.get("company", ""), phone=data.get("phone", ""), wechat_id=data.get("wechat_id", ""),
            avatar_url=data.get("avatar_url", ""), intro=data.get("intro", ""), theme=data["theme"],
            featured_listing_ids=[listing.pk for listing in data.get("featured_listings") or []])

    def get_readonly_fields(self, request, obj=None):
        return (*self.readonly_fields, "store") if obj is not None else self.readonly_fields

    @admin.action(description="发布名片 Publish the selected cards")
    def publish(self, request, queryset):
        self.run_service_on_each(request, queryset, lambda card: sharing.card_publish(
            owner=request.user, card_id=card.pk, published=True), done="已发布 published")

    @admin.action(description="下线名片 Take the selected cards offline")
    def unpublish(self, request, queryset):
        self.run_service_on_each(request, queryset, lambda card: sharing.card_publish(
            owner=request.user, card_id=card.pk, published=False), done="已下线 taken offline")

    @admin.display(description="名片主人 owner", ordering="owner__nickname")
    def owner_name(self, card: BusinessCard) -> str:
        return str(card.owner)

    @admin.display(description="名片页 page")
    def page_link(self, card: BusinessCard):
        if card.status != BusinessCard.Status.PUBLISHED:
            return "-"
        return format_html('<a href="/card/{}" target="_blank" rel="noopener">打开 open</a>', card.pk)

    @admin.display(description="名片页 page")
    def page_links(self, card: BusinessCard):
        if card.pk is None or card.status != BusinessCard.Status.PUBLISHED:
            return "发布后可打开名片页并分享 publish the card to open and share its page"
        return format_html('<a href="/card/{0}" target="_blank" rel="noopener">/card/{0}</a>'
                           "（打开后点“分享名片”生成你的分享链接和二维码 open it and tap 分享名片 for your share link "
                           "and QR code）", card.pk)


# --- leads ---------------------------------------------------------------------------------------------------------
class NextActionFilter(admin.SimpleListFilter):
    title = "下次跟进 next action"
    parameter_name = "next_action"

    def lookups(self, request, model_admin):
        return [("due", "今天及以前 due"), ("later", "以后 later"), ("none", "未安排 none")]

    def queryset(self, request, queryset):
        end_of_today = timezone.localtime().replace(hour=23, minute=59, second=59)
        if self.value() == "due":
            return queryset.filter(next_action_at__lte=end_of_today)
        if self.value() == "later":
            return queryset.filter(next_action_at__gt=end_of_today)
        if self.value() == "none":
            return queryset.filter(next_action_at__isnull=True)
        return queryset


class LeadNoteInline(ReadOnlyInline):
    model = LeadNote
    fields = ("created_at", "author", "stage_from", "stage_to", "text")
    readonly_fields = fields
    show_change_link = False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("author")


class LeadFollowUpForm(forms.ModelForm):
    """A follow-up: move the stage, write a note, set the next action; and an answer to the visitor's chat. The
    answer's key is made when the page is drawn, so sending the form twice sends one message."""

    note = forms.CharField(label="跟进记录 follow-up note", max_length=2000, required=False,
                           widget=UnfoldAdminTextareaWidget(attrs={"rows": 3}))
    reply = forms.CharField(label="回复客户 answer the visitor", max_length=messages.MAX_MESSAGE, required=False,
                            widget=UnfoldAdminTextareaWidget(attrs={"rows": 2}),
                            help_text="客户在名片页的“在线咨询”里看到 the visitor reads it in the card page's chat")
    reply_key = forms.CharField(widget=forms.HiddenInput, required=False, max_length=64)

    class Meta:
        model = Lead
        fields = ("stage", "next_action_at")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "reply_key" in self.fields:
            self.fields["reply_key"].initial = "console-" + secrets.token_urlsafe(16)


@admin.register(Lead, site=merchant_console)
class LeadConsoleAdmin(PersonalScopeMixin, ConsoleModelAdmin):
    """线索: the rep's leads (a manager: the store's, read-only), with the intent score and why, interest tags,
    last visit and next action; a lead's page holds its notes, its chat, and the follow-up form."""

    icon = "person_search"
    menu_title = "线索 leads"
    form = LeadFollowUpForm
    owner_path = "store"
    console_can_add = False
    fields = ("visitor", "card", "owner", "stage", "next_action_at", "note", "reply", "reply_key", "intent",
              "intent_why", "interest_tags", "activity", "first_seen_at", "last_seen_at", "converted_at",
              "chat_thread")
    readonly_fields = ("visitor", "card", "owner", "intent", "intent_why", "interest_tags", "activity",
                       "first_seen_at", "last_seen_at", "converted_at", "chat_thread")
    list_display = ("visitor", "stage", "intent", "intent_why", "interest_tags", "visits", "dwell", "last_seen_at",
                    "next_action_at", "owner_name")
    list_display_links = ("visitor",)
    list_filter = ("stage", NextActionFilter, ("owner", admin.RelatedOnlyFieldListFilter))
    search_fields = ("user__nickname", "user__phone")
    list_select_related = ("user", "owner", "card")
    ordering = ("-last_seen_at", "-pk")
    inlines = [LeadNoteInline]
    service_error_fields = {"stage_invalid": "stage", "message_empty": "reply", "message_too_long": "reply"}

    def has_change_permission(self, request, obj=None):
        # Only the lead's rep follows it up; the store's manager reads it.
        return super().has_change_permission(request, obj) and (obj is None or obj.owner_id == request.user.pk)

    def get_fields(self, request, obj=None):
        fields = super().get_fields(request, obj)
        if obj is not None and not self.has_change_permission(request, obj):
            return [name for name in fields if name not in ("note", "reply", "reply_key")]
        return fields

    def save_through_service(self, request, form, change):
        data = form.cleaned_data
        lead_id = form.instance.pk
        follow_up = {"stage": data["stage"] if "stage" in form.changed_data else None, "note": data.get("note", "")}
        if "next_action_at" in form.changed_data:
            follow_up["next_action_at"] = data["next_action_at"]
            follow_up["clear_next_action"] = data["next_action_at"] is None
        if follow_up["stage"] is not None or follow_up["note"].strip() or "next_action_at" in follow_up:
            leads.lead_update(user=request.user, lead_id=lead_id, **follow_up)
        if data.get("reply", "").strip():
            messages.message_from_rep(rep=request.user, lead_id=lead_id, text=data["reply"],
                                      client_key=data.get("reply_key") or "console-" + secrets.token_urlsafe(16))
        return Lead.objects.get(pk=lead_id)

    @admin.display(description="客户 visitor", ordering="user__nickname")
    def visitor(self, lead: Lead) -> str:
        return _visitor_name(lead.visitor_key, lead.user)

    @admin.display(description="导购 rep", ordering="owner__nickname")
    def owner_name(self, lead: Lead) -> str:
        return str(lead.owner)

    @admin.display(description="意向度 intent", ordering="intent_score")
    def intent(self, lead: Lead) -> str:
        if lead.intent_score is None:
            return "未评分 not scored"
        return f"{round(lead.intent_score * 100)}%"

    @admin.display(description="意向依据 why")
    def intent_why(self, lead: Lead) -> str:
        reasons = [str(reason) for reason in lead.intent_reasons or []]
        return "；".join(reasons[:3]) or "-"

    @admin.display(description="兴趣标签 tags")
    def interest_tags(self, lead: Lead) -> str:
        return "、".join(str(tag) for tag in lead.tags or []) or "-"

    @admin.display(description="停留 dwell", ordering="dwell_seconds")
    def dwell(self, lead: Lead) -> str:
        return _duration(lead.dwell_seconds)

    @admin.display(description="访问与行为 visits and actions")
    def activity(self, lead: Lead) -> str:
        actions = "，".join(f"{ACTION_WORDS.get(action, action)} {count} 次" for action, count in
                           sorted((lead.actions or {}).items()) if action != "leave")
        return f"访问 {lead.visits} 次，停留 {_duration(lead.dwell_seconds)}" + (f"；{actions}" if actions else "")

    @admin.display(description="在线咨询 chat")
    def chat_thread(self, lead: Lead):
        thread = messages.thread_of(card_id=lead.card_id, key=lead.visitor_key) if lead.pk else []
        if not thread:
            return "还没有消息 no messages yet"
        rows = format_html_join("", '<li class="{}"><small>{} · {}</small><br>{}</li>', (
            ("radar-chat-in" if message.direction == "in" else "radar-chat-out",
             "客户" if message.direction == "in" else "我",
             timezone.localtime(message.created_at).strftime("%m-%d %H:%M"), message.text)
            for message in thread[-50:]))
        return format_html('<ol class="radar-chat">{}</ol>', rows)


# --- the radar: visits to my cards, and the live feed ----------------------------------------------------------
@admin.register(CardVisit, site=merchant_console)
class RadarConsoleAdmin(PersonalScopeMixin, ConsoleModelAdmin):
    """访客雷达: above, the rep's live feed (Server-Sent Events from /api/v1/radar/stream, with the session cookie;
    static/cards/console/radar.js); below, every visit to the rep's cards (a manager: the store's), newest first."""

    icon = "radar"
    menu_title = "访客雷达 radar"
    owner_path = "card__store"
    mine_path = "card__owner"
    store_path = "card__store"
    console_can_add = False
    console_can_change = False
    list_before_template = "cards/console/radar_feed.html"
    fields = ("visitor", "card", "via", "started_at", "last_seen_at", "dwell", "what", "products_viewed")
    readonly_fields = fields
    list_display = ("visitor", "card", "via", "started_at", "dwell", "what")
    list_filter = (("card", admin.RelatedOnlyFieldListFilter),)
    list_select_related = ("card", "share", "user")
    date_hierarchy = "started_at"
    ordering = ("-started_at", "-pk")

    class Media:
        css = {"all": ["cards/console/radar.css"]}
        js = ["cards/console/radar.js"]

    def changelist_view(self, request, extra_context=None):
        context = {"radar_live": False, "radar_items": [], "radar_after": "0-0"}
        if selectors.is_rep(user=request.user):
            context["radar_live"] = True
            try:
                entries = radar.radar_recent(owner_id=request.user.pk)
                context["radar_after"] = entries[0][0] if entries else radar.radar_last_id(owner_id=request.user.pk)
                context["radar_items"] = [{"id": entry_id, "when": _local_time(item.get("at")), **item}
                                          for entry_id, item in entries]
            except redis.RedisError:
                context["radar_unavailable"] = True
        context["title"] = "访客雷达：实时动态与名片访问 (radar: live feed and card visits)"
        return super().changelist_view(request, {**context, **(extra_context or {})})

    @admin.display(description="访客 visitor")
    def visitor(self, visit: CardVisit) -> str:
        return _visitor_name(visit.visitor_key, visit.user)

    @admin.display(description="来源 via")
    def via(self, visit: CardVisit) -> str:
        if visit.share is None:
            return "直接打开 direct"
        return f"{visit.share.get_channel_display()} · 第{visit.share.depth}层 depth {visit.share.depth}"

    @admin.display(description="停留 dwell", ordering="dwell_seconds")
    def dwell(self, visit: CardVisit) -> str:
        return _duration(visit.dwell_seconds)

    @admin.display(description="做了什么 actions")
    def what(self, visit: CardVisit) -> str:
        return "，".join(f"{ACTION_WORDS.get(action, action)}×{count}" for action, count in
                        sorted((visit.actions or {}).items()) if action != "leave") or "-"

    @admin.display(description="看过的商品 products viewed")
    def products_viewed(self, visit: CardVisit) -> str:
        titles = dict(Listing.objects.filter(pk__in=visit.products or []).values_list("pk", "sku__product__title"))
        return "、".join(titles.get(listing_id, f"#{listing_id}") for listing_id in visit.products or []) or "-"


# --- customers and reassignment ----------------------------------------------------------------------------------
class CustomerAssignmentChangeInline(ReadOnlyInline):
    model = CustomerAssignmentChange
    fields = ("created_at", "from_rep", "to_rep", "changed_by", "reason")
    readonly_fields = fields
    show_change_link = False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("from_rep", "to_rep", "changed_by")


class ReassignForm(forms.ModelForm):
    reason = forms.CharField(label="改派原因 reason", max_length=200, widget=UnfoldAdminTextInputWidget)

    class Meta:
        model = CustomerAssignment
        fields = ("rep",)


@admin.register(CustomerAssignment, site=merchant_console)
class CustomerConsoleAdmin(PersonalScopeMixin, ConsoleModelAdmin):
    """客户归属: which rep each customer of the store belongs to. A rep sees their own customers; the store's owner
    or manager sees all of them and gives one to another rep of the store (`leads.customer_reassign`, audited)."""

    icon = "group"
    menu_title = "客户归属 customers"
    form = ReassignForm
    owner_path = "store"
    mine_path = "rep"
    console_can_add = False
    fields = ("customer", "store", "rep", "reason", "source", "updated_at")
    readonly_fields = ("customer", "store", "source", "updated_at")
    list_display = ("customer", "store", "rep", "source", "updated_at")
    list_filter = ("source", ("rep", admin.RelatedOnlyFieldListFilter), ("store", admin.RelatedOnlyFieldListFilter))
    search_fields = ("customer__nickname", "customer__phone")
    list_select_related = ("customer", "store", "rep")
    inlines = [CustomerAssignmentChangeInline]
    service_error_fields = {"reason_required": "reason", "rep_not_in_store": "rep"}

    def has_change_permission(self, request, obj=None):
        if not super().has_change_permission(request, obj):
            return False
        return obj is None or obj.store_id in _managed_store_ids(request)

    def get_fields(self, request, obj=None):
        fields = super().get_fields(request, obj)
        if obj is not None and not self.has_change_permission(request, obj):
            return [name for name in fields if name != "reason"]
        return fields

    def get_form(self, request, obj=None, change=False, **kwargs):
        request.__dict__["_cards_assignment_store"] = obj.store_id if obj is not None else None
        return super().get_form(request, obj, change=change, **kwargs)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "rep":
            # The new rep is one of the customer's store's staff (or its owner): nobody else's name is offered.
            store_id = request.__dict__.get("_cards_assignment_store")
            kwargs["queryset"] = User.objects.filter(
                Q(store_memberships__store_id=store_id) | Q(owned_stores=store_id)).distinct().order_by("pk")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_through_service(self, request, form, change):
        assignment = form.instance
        return leads.customer_reassign(manager=request.user, store_id=assignment.store_id,
                                       customer_id=assignment.customer_id, to_rep_id=form.cleaned_data["rep"].pk,
                                       reason=form.cleaned_data["reason"])


# --- commission --------------------------------------------------------------------------------------------------
@admin.register(CommissionEntry, site=merchant_console)
class CommissionConsoleAdmin(PersonalScopeMixin, ConsoleModelAdmin):
    """分销佣金: above, the user's own balances and withdrawals; below, their ledger (a store's owner or manager: also
    what the store's distribution paid out). Read-only: money moves by orders, deliveries, refunds and operators."""

    icon = "payments"
    menu_title = "分销佣金 commission"
    owner_path = None
    mine_path = "account__user"
    store_path = "store"
    console_can_add = False
    console_can_change = False
    list_before_template = "cards/console/commission_summary.html"
    fields = ("order_number", "store", "beneficiary", "level", "kind", "status", "base_amount", "rate", "amount",
              "created_at", "settled_at")
    readonly_fields = fields
    list_display = ("order_number", "store", "beneficiary", "level", "kind", "status", "base_amount", "rate_percent",
                    "amount", "created_at")
    list_filter = ("status", "kind", "level")
    list_select_related = ("order", "store", "account__user")
    date_hierarchy = "created_at"
    ordering = ("-created_at", "-pk")

    def changelist_view(self, request, extra_context=None):
        account = selectors.commission_account_of(user=request.user)
        balances = [("待结算 pending", account.pending), ("冻结中 frozen", account.frozen),
                    ("可提现 withdrawable", account.withdrawable), ("提现中 withdrawing", account.withdrawing),
                    ("已提现 withdrawn", account.withdrawn), ("待抵扣 debt", account.debt)]
        withdrawals = list(selectors.withdrawals_of(user=request.user)[:10])
        context = {"commission_balances": [(label, yuan(amount)) for label, amount in balances],
                   "commission_withdrawals": [
                       {"created_at": withdrawal.created_at, "amount": yuan(withdrawal.amount),
                        "fee": yuan(withdrawal.fee), "net_amount": yuan(withdrawal.net_amount),
                        "status": withdrawal.get_status_display(), "note": withdrawal.note}
                       for withdrawal in withdrawals]}
        return super().changelist_view(request, {**context, **(extra_context or {})})

    @admin.display(description="订单号 order", ordering="order__number")
    def order_number(self, entry: CommissionEntry) -> str:
        return entry.order.number

    @admin.display(description="受益人 beneficiary")
    def beneficiary(self, entry: CommissionEntry) -> str:
        return str(entry.account.user)

    @admin.display(description="比例 rate", ordering="rate")
    def rate_percent(self, entry: CommissionEntry) -> str:
        return f"{entry.rate * 100:.2f}%"

