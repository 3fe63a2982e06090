"""Operator admin (/admin/) of the mall: stores, listings, coupons, campaigns, orders and everything that happened to
them.

Records of what happened (orders and their lines, events, shipments, payments, refunds, after-sales, teams,
bargain sessions, claimed coupons, carts, addresses) are read-only; their state changes only through admin actions
that call the services: cancel an unpaid order (`orders.order_cancel`), mark a shipment delivered
(`orders.shipment_deliver`), decide an after-sale (`after_sales`), retry a failed refund (`refunds.refund_retry`).
A refusal is an error message for that row, never a 500.

Stores and their staff are plain rows. Listings, coupon templates and campaigns save through the same services as
in the merchant console (a mistake is a form error in the merchant's words), with the console's field maps.
"""
from django import forms
from django.contrib import admin
from django.db.models import Case, Count, IntegerField, Value, When
from django.utils.html import format_html, format_html_join
from unfold.forms import ActionForm
from unfold.widgets import UnfoldAdminTextInputWidget

from core.admin import (
    ExactSearchMixin,
    OperatorInline,
    OperatorModelAdmin,
    ReadOnlyAdminMixin,
    ReadOnlyInline,
    ServiceActionsMixin,
    ServiceSaveMixin,
    UndeletableAdminMixin,
)
from core.money import yuan
from mall import consoles
from mall.models import (
    Address,
    AfterSale,
    BargainCampaign,
    BargainHelp,
    BargainSession,
    CartItem,
    CouponTemplate,
    GroupBuyCampaign,
    GroupBuyMember,
    GroupBuyTeam,
    Listing,
    Order,
    OrderEvent,
    OrderLine,
    Payment,
    Refund,
    Shipment,
    Store,
    StoreStaff,
    UserCoupon,
)
from mall.services import after_sales, bargains, catalogue, coupons, group_buys, orders, payments, refunds

# Where a delivery was reported from (the `source` of `shipment_delivered`): carrier, supplier, buyer, auto_confirm
# and, from this admin, operator.
OPERATOR_SOURCE = "operator"
LISTING_FOR_DISPLAY = ("listing__store", "listing__sku__product")


def _address_html(address: dict):
    return format_html("{} {}<br>{}{}{}{}", address.get("recipient", ""), address.get("phone", ""),
                       address.get("province", ""), address.get("city", ""), address.get("district", ""),
                       address.get("detail", ""))


# --- stores and listings -----------------------------------------------------------------------------------------
class StoreStaffInline(OperatorInline):
    model = StoreStaff
    extra = 0
    fields = ("user", "role")
    autocomplete_fields = ("user",)


@admin.register(Store)
class StoreAdmin(UndeletableAdminMixin, OperatorModelAdmin):
    icon = "store"
    list_display = ("name", "owner", "status", "listing_count", "created_at")
    list_filter = ("status",)
    search_fields = ("name", "owner__phone__exact")
    date_hierarchy = "created_at"
    list_select_related = ("owner",)
    autocomplete_fields = ("owner",)
    fields = ("name", "owner", "description", "status")
    inlines = [StoreStaffInline]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(listing_total=Count("listings"))

    @admin.display(description="上架商品数 listings", ordering="listing_total")
    def listing_count(self, store: Store) -> int:
        return store.listing_total


@admin.register(StoreStaff)
class StoreStaffAdmin(OperatorModelAdmin):
    icon = "badge"
    list_display = ("store", "user", "role")
    list_filter = ("role", "store")
    search_fields = ("store__name", "user__phone__exact", "user__nickname")
    list_select_related = ("store", "user")
    autocomplete_fields = ("store", "user")
    fields = ("store", "user", "role")


@admin.register(Listing)
class ListingAdmin(UndeletableAdminMixin, ServiceSaveMixin, OperatorModelAdmin):
    """Created through `catalogue.listing_create`, priced and switched through `catalogue.listing_update`: a price
    below the supplier's floor is a form error."""

    icon = "storefront"
    list_display = ("product_title", "sku", "store", "price", "floor_price", "status", "available")
    list_filter = ("status", "store")
    search_fields = ("sku__product__title", "sku__code__exact")
    date_hierarchy = "created_at"
    list_select_related = ("store", "sku__product", "sku__stock")
    autocomplete_fields = ("store", "sku")
    fields = ("store", "sku", "price", "status")
    service_error_fields = consoles.ListingAdmin.service_error_fields

    def get_fields(self, request, obj=None):
        return ("store", "sku", "price") if obj is None else super().get_fields(request, obj)

    def get_readonly_fields(self, request, obj=None):
        return ("store", "sku") if obj is not None else ()

    def save_through_service(self, request, form, change):
        data = form.cleaned_data
        if change:
            return catalogue.listing_update(listing_id=form.instance.pk, price=data["price"], status=data["status"])
        return catalogue.listing_create(store=data["store"], sku=data["sku"], price=data["price"])

    @admin.display(description="商品 product", ordering="sku__product__title")
    def product_title(self, listing: Listing) -> str:
        return listing.sku.product.title

    @admin.display(description="最低售价 floor price")
    def floor_price(self, listing: Listing) -> str:
        return yuan(listing.sku.floor_price)

    @admin.display(description="可用库存 available")
    def available(self, listing: Listing):
        stock = getattr(listing.sku, "stock", None)
        return stock.available if stock is not None else None


@admin.register(Address)
class AddressAdmin(ExactSearchMixin, ReadOnlyAdminMixin, OperatorModelAdmin):
    """Shoppers' own addresses: read here (for service calls), changed by the shopper only."""

    icon = "home_pin"
    list_display = ("recipient", "user", "phone", "region", "city", "district", "is_default", "created_at")
    list_filter = ("is_default", "region")
    search_fields = ("user__phone__exact", "phone__exact")
    date_hierarchy = "created_at"
    list_select_related = ("user", "region")
    fields = ("user", "recipient", "phone", "region", "city", "district", "detail", "is_default", "created_at",
              "updated_at")
    readonly_fields = fields
    show_full_result_count = False


@admin.register(CartItem)
class CartItemAdmin(ExactSearchMixin, ReadOnlyAdminMixin, OperatorModelAdmin):
    icon = "shopping_cart"
    list_display = ("user", "listing", "quantity", "created_at", "updated_at")
    list_filter = ("listing__store",)
    search_fields = ("user__phone__exact", "listing__sku__code__exact")
    date_hierarchy = "created_at"
    list_select_related = ("user", *LISTING_FOR_DISPLAY)
    fields = ("user", "listing", "quantity", "created_at", "updated_at")
    readonly_fields = fields
    show_full_result_count = False


# --- coupons -----------------------------------------------------------------------------------------------------
@admin.register(CouponTemplate)
class CouponTemplateAdmin(UndeletableAdminMixin, ServiceSaveMixin, OperatorModelAdmin):
    """Saved through `coupons.coupon_template_create` / `coupon_template_update`, as in the merchant console: a coupon
    that makes no sense is a form error, and nothing is saved."""

    icon = "confirmation_number"
    service_validates_row = True
    service_error_fields = consoles.CouponTemplateAdmin.service_error_fields
    fields = ("store", *consoles.COUPON_FIELDS, "claimed_count")
    filter_horizontal = ("categories",)
    autocomplete_fields = ("store", "listings")
    list_display = ("name", "store", "kind", "threshold", "amount_off", "percent_off", "claimed_count",
                    "total_quantity", "validity", "valid_to", "is_active")
    list_filter = ("kind", "scope", "validity", "is_active")
    search_fields = ("name", "store__name")
    date_hierarchy = "created_at"
    list_select_related = ("store",)

    def get_readonly_fields(self, request, obj=None):
        return ("store", "claimed_count") if obj is not None else ("claimed_count",)

    def save_through_service(self, request, form, change):
        data = {name: form.cleaned_data.get(name) for name in consoles.COUPON_FIELDS}
        if change:
            return coupons.coupon_template_update(template_id=form.instance.pk, **data)
        return coupons.coupon_template_create(store=form.cleaned_data["store"], **data)


@admin.register(UserCoupon)
class UserCouponAdmin(ExactSearchMixin, ReadOnlyAdminMixin, OperatorModelAdmin):
    """Claimed coupons: claimed, locked and used by the coupon and order services only."""

    icon = "redeem"
    list_display = ("template", "user", "status", "valid_from", "valid_to", "order", "used_at")
    list_filter = ("status",)
    search_fields = ("user__phone__exact", "order__number__exact")
    date_hierarchy = "created_at"
    list_select_related = ("template", "user", "order")
    fields = ("template", "user", "status", "valid_from", "valid_to", "order", "used_at", "created_at")
    readonly_fields = fields
    show_full_result_count = False


# --- orders ------------------------------------------------------------------------------------------------------
class OrderAxisFilter(admin.SimpleListFilter):
    """The four status axes of an order, from the transition table (not by reading the event table)."""

    title = "状态轴 axis"
    parameter_name = "axis"

    def lookups(self, request, model_admin):
        return [(axis, axis) for axis in orders.TRANSITIONS]

    def queryset(self, request, queryset):
        return queryset.filter(axis=self.value()) if self.value() else queryset


class OrderLineInline(ReadOnlyInline):
    model = OrderLine
    fk_name = "order"
    fields = ("title", "sku_code", "spec_values", "supplier", "quantity", "list_price", "unit_price",
              "discount_share", "paid_amount", "refunded_quantity", "refunded_amount")
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("supplier")


class OrderShipmentInline(ReadOnlyInline):
    model = Shipment
    fields = ("supplier", "status", "carrier", "tracking_number", "shipping_fee", "weight_grams",
              "shipped_at", "delivered_at", "tracking_state")
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("supplier")


class OrderEventInline(ReadOnlyInline):
    model = OrderEvent
    fields = ("created_at", "axis", "from_state", "to_state", "actor", "reason")
    readonly_fields = fields
    show_change_link = False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("actor")


class OrderPaymentInline(ReadOnlyInline):
    model = Payment
    fields = ("provider", "provider_transaction_id", "amount", "status", "created_at")
    readonly_fields = fields


class OrderRefundInline(ReadOnlyInline):
    model = Refund
    fields = ("amount", "status", "reason", "attempts", "last_error", "created_at", "succeeded_at")
    readonly_fields = fields


class OrderAfterSaleInline(ReadOnlyInline):
    model = AfterSale
    fields = ("line", "kind", "quantity", "refund_amount", "status", "reason", "created_at")
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("line")


@admin.register(Order)
class OrderAdmin(ExactSearchMixin, ServiceActionsMixin, ReadOnlyAdminMixin, OperatorModelAdmin):
    """Read-only: an order changes through payments, shipping, after-sales, and here only through the "cancel unpaid
    order" action (`orders.order_cancel`). Searched by whole order number or buyer phone (both unique)."""

    icon = "receipt_long"
    list_display = ("number", "store", "buyer", "kind", "status", "payment_status", "shipping_status",
                    "after_sale_status", "total", "refunded_total", "created_at")
    list_filter = ("status", "payment_status", "shipping_status", "after_sale_status", "kind", "store")
    search_fields = ("number__exact", "buyer__phone__exact")
    date_hierarchy = "created_at"
    list_select_related = ("store", "buyer")
    show_full_result_count = False
    fields = ("number", "store", "buyer", "kind", "status", "payment_status", "shipping_status", "after_sale_status",
              "subtotal", "discount_total", "shipping_fee", "total", "refunded_total",
              "coupon", "adjustment_lines", "region", "ship_to", "note", "created_at", "pay_deadline", "paid_at",
              "shipped_at", "delivered_at", "completed_at", "cancelled_at")
    readonly_fields = fields
    inlines = [OrderLineInline, OrderShipmentInline, OrderEventInline, OrderPaymentInline, OrderRefundInline,
               OrderAfterSaleInline]
    actions = ("cancel_unpaid", "query_payment")

    @admin.display(description="其他优惠 adjustments")
    def adjustment_lines(self, order: Order):
        """Member privileges, points: what each took off the goods and the shipping."""
        return format_html_join(
            "", "<div>{}: −{} {}</div>",
            ((line["label"], yuan(line["goods_off"]),
              f"(运费 shipping −{yuan(line['shipping_off'])})" if line["shipping_off"] != "0.00" else "")
             for line in order.adjustments)) or "-"

    @admin.display(description="收货地址 ship to")
    def ship_to(self, order: Order):
        return _address_html(order.address)

    @admin.action(description="向支付渠道查询支付结果 Ask the payment provider (a paid order whose notice never came "
                              "is paid now)", permissions=["operate"])
    def query_payment(self, request, queryset):
        self.run_service_on_each(request, queryset.filter(payment_status=Order.PaymentStatus.UNPAID).order_by("pk"),
                                 lambda order: payments.payment_query(order_id=order.pk), done="已查询 asked",
                                 label=lambda order: order.number)

    @admin.action(description="取消未支付订单 Cancel unpaid orders (stock and coupon come back)",
                  permissions=["operate"])
    def cancel_unpaid(self, request, queryset):
        self.run_service_on_each(request, queryset.order_by("pk"), lambda order: orders.order_cancel(
            order_id=order.pk, actor=request.user, reason="operator_cancelled"), done="已取消 cancelled",
            label=lambda order: order.number)


class ShipmentLineInline(ReadOnlyInline):
    model = OrderLine
    fk_name = "shipment"
    fields = ("title", "sku_code", "spec_values", "quantity", "refunded_quantity")
    readonly_fields = fields


@admin.register(Shipment)
class ShipmentAdmin(ExactSearchMixin, ServiceActionsMixin, ReadOnlyAdminMixin, OperatorModelAdmin):
    """Suppliers ship in their console; the carrier's tracking pushes deliver. An operator may mark a shipment
    delivered (`orders.shipment_deliver`, source "operator"), e.g. after the buyer confirmed it on the phone."""

    icon = "local_shipping"
    list_display = ("order", "supplier", "status", "carrier", "tracking_number", "shipping_fee", "shipped_at",
                    "delivered_at", "tracking_state")
    list_filter = ("status", "supplier")
    search_fields = ("order__number__exact", "tracking_number__exact")
    date_hierarchy = "created_at"
    list_select_related = ("order", "supplier")
    show_full_result_count = False
    fields = ("order", "supplier", "status", "shipping_fee", "weight_grams", "carrier", "tracking_number",
              "shipped_at", "delivered_at", "tracking_state", "tracking_context", "tracking_updated_at")
    readonly_fields = fields
    inlines = [ShipmentLineInline]
    actions = ("mark_delivered",)

    @admin.action(description="标记为已签收 Mark delivered", permissions=["operate"])
    def mark_delivered(self, request, queryset):
        self.run_service_on_each(
            request, queryset.select_related("order").order_by("pk"),
            lambda shipment: orders.shipment_deliver(shipment_id=shipment.pk, source=OPERATOR_SOURCE,
                                                     actor=request.user),
            done="已标记签收 marked delivered", label=lambda shipment: shipment.order.number)


@admin.register(OrderLine)
class OrderLineAdmin(ExactSearchMixin, ReadOnlyAdminMixin, OperatorModelAdmin):
    icon = "list_alt"
    list_display = ("order", "title", "sku_code", "supplier", "quantity", "unit_price", "paid_amount",
                    "refunded_quantity", "refunded_amount")
    list_filter = ("supplier",)
    search_fields = ("order__number__exact", "sku__code__exact")
    date_hierarchy = "order__created_at"
    list_select_related = ("order", "supplier")
    show_full_result_count = False
    fields = ("order", "shipment", "listing", "sku", "supplier", "title", "sku_code", "spec_values", "category",
              "quantity", "list_price", "unit_price", "cost_price", "line_subtotal",
              "discount_share", "paid_amount", "refunded_quantity", "refunded_amount")
    readonly_fields = fields


@admin.register(OrderEvent)
class OrderEventAdmin(ExactSearchMixin, ReadOnlyAdminMixin, OperatorModelAdmin):
    """The audit trail of every order status change, written by `orders.order_transition`."""

    icon = "history"
    list_display = ("created_at", "order", "axis", "from_state", "to_state", "actor", "reason")
    list_filter = (OrderAxisFilter,)
    search_fields = ("order__number__exact",)
    date_hierarchy = "created_at"
    list_select_related = ("order", "actor")
    ordering = ("-id",)
    show_full_result_count = False
    fields = ("order", "axis", "from_state", "to_state", "actor", "reason", "created_at")
    readonly_fields = fields


@admin.register(Payment)
class PaymentAdmin(ExactSearchMixin, ReadOnlyAdminMixin, OperatorModelAdmin):
    icon = "payments"
    list_display = ("id", "order", "provider", "provider_transaction_id", "amount", "status", "created_at")
    list_filter = ("provider", "status")
    search_fields = ("order__number__exact", "provider_transaction_id__exact")
    date_hierarchy = "created_at"
    readonly_fields = ("order", "provider", "provider_transaction_id", "amount", "status", "payload",
                       "created_at")
    fields = readonly_fields
    list_select_related = ("order",)
    show_full_result_count = False


@admin.register(Refund)
class RefundAdmin(ExactSearchMixin, ServiceActionsMixin, ReadOnlyAdminMixin, OperatorModelAdmin):
    """Failed refunds are listed first and retried with an action that calls `refunds.refund_retry`."""

    icon = "currency_exchange"
    list_display = ("id", "order", "amount", "status", "attempts", "reason", "last_error", "created_at",
                    "succeeded_at")
    list_filter = ("status", "payment__provider")
    search_fields = ("order__number__exact", "reference__exact", "provider_refund_id__exact")
    date_hierarchy = "created_at"
    readonly_fields = ("order", "payment", "amount", "reason", "reference", "status", "provider_refund_id",
                       "attempts", "attempted_at", "last_error", "created_at", "succeeded_at")
    fields = readonly_fields
    list_select_related = ("order",)
    actions = ["retry_refunds"]

    def get_queryset(self, request):
        failed_first = Case(When(status=Refund.Status.FAILED, then=Value(0)),
                            When(status=Refund.Status.PENDING, then=Value(1)), default=Value(2),
                            output_field=IntegerField())
        return super().get_queryset(request).order_by(failed_first, "-created_at")

    @admin.action(description="重新发起退款 Retry the selected failed refunds", permissions=["operate"])
    def retry_refunds(self, request, queryset):
        self.run_service_on_each(request, queryset.order_by("pk"),
                                 lambda refund: refunds.refund_retry(refund_id=refund.pk, actor=request.user),
                                 done="已重新发起退款 refunds sent again", label=lambda refund: f"#{refund.pk}")


# --- after-sales -------------------------------------------------------------------------------------------------
class AfterSaleActionForm(ActionForm):
    note = forms.CharField(label="拒绝理由 reason to refuse", required=False, max_length=200,
                           widget=UnfoldAdminTextInputWidget)


@admin.register(AfterSale)
class AfterSaleAdmin(ExactSearchMixin, ServiceActionsMixin, ReadOnlyAdminMixin, OperatorModelAdmin):
    """Decided with the actions, on behalf of the order's store: the after-sale services check every state and move
    the money."""

    icon = "assignment_return"
    action_form = AfterSaleActionForm
    actions = ("approve", "refuse", "confirm_return")
    list_display = ("order", "line", "kind", "quantity", "refund_amount", "status", "reason", "created_at")
    list_filter = ("status", "kind", "order__store")
    search_fields = ("order__number__exact", "return_tracking_number__exact")
    date_hierarchy = "created_at"
    list_select_related = ("order__store", "line")
    fields = ("order", "line", "requester", "kind", "quantity", "reason", "status", "refund_amount",
              "return_carrier", "return_tracking_number", "merchant_note", "created_at", "decided_at", "refunded_at")
    readonly_fields = fields

    def _each(self, request, queryset, call, done: str) -> None:
        self.run_service_on_each(request, queryset.select_related("order__store").order_by("pk"), call, done=done,
                                 label=lambda after_sale: f"{after_sale.order.number} #{after_sale.pk}")

    @admin.action(description="同意售后 Approve (refund-only refunds now; returns wait for the goods)",
                  permissions=["operate"])
    def approve(self, request, queryset):
        self._each(request, queryset, lambda after_sale: after_sales.after_sale_approve(
            after_sale_id=after_sale.pk, store=after_sale.order.store, actor=request.user), done="已同意 approved")

    @admin.action(description="拒绝售后 Refuse (write the reason in the box)", permissions=["operate"])
    def refuse(self, request, queryset):
        note = request.POST.get("note", "").strip()
        self._each(request, queryset, lambda after_sale: after_sales.after_sale_refuse(
            after_sale_id=after_sale.pk, store=after_sale.order.store, actor=request.user, note=note),
            done="已拒绝 refused")

    @admin.action(description="确认收到退货并退款 Confirm the return arrived (refunds)", permissions=["operate"])
    def confirm_return(self, request, queryset):
        self._each(request, queryset, lambda after_sale: after_sales.after_sale_confirm_return(
            after_sale_id=after_sale.pk, store=after_sale.order.store, actor=request.user), done="已退款 refunded")


# --- group-buys and bargains -------------------------------------------------------------------------------------
@admin.register(GroupBuyCampaign)
class GroupBuyCampaignAdmin(UndeletableAdminMixin, ServiceSaveMixin, OperatorModelAdmin):
    """Saved through `group_buys.group_buy_campaign_create` / `group_buy_campaign_update`, as in the merchant
    console."""

    icon = "groups"
    service_validates_row = True
    service_error_fields = consoles.GroupBuyCampaignAdmin.service_error_fields
    fields = ("listing", *consoles.GROUP_BUY_FIELDS)
    autocomplete_fields = ("listing",)
    list_display = ("listing", "team_price", "team_size", "window_hours", "per_user_limit", "starts_at",
                    "ends_at", "is_active")
    list_filter = ("is_active", "listing__store")
    search_fields = ("listing__sku__product__title", "listing__store__name")
    date_hierarchy = "starts_at"
    list_select_related = LISTING_FOR_DISPLAY

    def get_readonly_fields(self, request, obj=None):
        return ("listing",) if obj is not None else ()

    def save_through_service(self, request, form, change):
        data = {name: form.cleaned_data.get(name) for name in consoles.GROUP_BUY_FIELDS}
        if change:
            return group_buys.group_buy_campaign_update(campaign_id=form.instance.pk, **data)
        listing = form.cleaned_data["listing"]
        return group_buys.group_buy_campaign_create(store=listing.store, listing=listing, **data)


class GroupBuyMemberInline(ReadOnlyInline):
    model = GroupBuyMember
    fields = ("user", "order", "status", "created_at")
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("user", "order")


@admin.register(GroupBuyTeam)
class GroupBuyTeamAdmin(ExactSearchMixin, ReadOnlyAdminMixin, OperatorModelAdmin):
    """Teams fill, succeed and expire through the group-buy services and their timer."""

    icon = "diversity_3"
    list_display = ("id", "campaign", "leader", "status", "seats_taken", "paid_members", "team_size", "expires_at",
                    "succeeded_at", "created_at")
    list_filter = ("status",)
    search_fields = ("id__exact", "leader__phone__exact")
    date_hierarchy = "created_at"
    list_select_related = ("campaign__listing__store", "campaign__listing__sku__product", "leader")
    fields = ("campaign", "leader", "status", "team_size", "seats_taken", "paid_members", "expires_at",
              "succeeded_at", "created_at")
    readonly_fields = fields
    inlines = [GroupBuyMemberInline]


@admin.register(GroupBuyMember)
class GroupBuyMemberAdmin(ExactSearchMixin, ReadOnlyAdminMixin, OperatorModelAdmin):
    icon = "person_add"
    list_display = ("team", "user", "order", "status", "created_at")
    list_filter = ("status",)
    search_fields = ("order__number__exact", "user__phone__exact")
    date_hierarchy = "created_at"
    list_select_related = ("team", "user", "order")
    fields = ("team", "user", "order", "status", "created_at")
    readonly_fields = fields


@admin.register(BargainCampaign)
class BargainCampaignAdmin(UndeletableAdminMixin, ServiceSaveMixin, OperatorModelAdmin):
    """Created through `bargains.bargain_campaign_create`, as in the merchant console; afterwards only switched on
    or off."""

    icon = "content_cut"
    add_fields = consoles.BargainCampaignAdmin.add_fields
    fields = (*add_fields, "is_active")
    service_error_fields = consoles.BargainCampaignAdmin.service_error_fields
    autocomplete_fields = ("listing",)
    list_display = ("listing", "floor_price", "helpers_needed", "window_hours", "starts_at", "ends_at",
                    "is_active")
    list_filter = ("is_active", "listing__store")
    search_fields = ("listing__sku__product__title", "listing__store__name")
    date_hierarchy = "starts_at"
    list_select_related = LISTING_FOR_DISPLAY

    def get_fields(self, request, obj=None):
        return list(self.add_fields) if obj is None else super().get_fields(request, obj)

    def get_readonly_fields(self, request, obj=None):
        return tuple(name for name in self.fields if name != "is_active") if obj is not None else ()

    def save_through_service(self, request, form, change):
        if change:
            campaign = form.instance
            campaign.save(update_fields=["is_active", "updated_at"])
            return campaign
        return bargains.bargain_campaign_create(**{name: form.cleaned_data[name] for name in self.add_fields})


class BargainHelpInline(ReadOnlyInline):
    model = BargainHelp
    fields = ("helper", "cut_amount", "price_after", "created_at")
    readonly_fields = fields
    show_change_link = False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("helper")


@admin.register(BargainSession)
class BargainSessionAdmin(ExactSearchMixin, ReadOnlyAdminMixin, OperatorModelAdmin):
    icon = "trending_down"
    list_display = ("id", "campaign", "owner", "start_price", "current_price", "floor_price",
                    "helper_count", "helpers_needed", "status", "expires_at", "order")
    list_filter = ("status",)
    search_fields = ("id__exact", "owner__phone__exact", "order__number__exact")
    date_hierarchy = "created_at"
    list_select_related = ("campaign__listing__store", "campaign__listing__sku__product", "owner", "order")
    fields = ("campaign", "owner", "status", "start_price", "current_price", "floor_price",
              "helper_count", "helpers_needed", "expires_at", "order", "created_at")
    readonly_fields = fields
    inlines = [BargainHelpInline]


@admin.register(BargainHelp)
class BargainHelpAdmin(ExactSearchMixin, ReadOnlyAdminMixin, OperatorModelAdmin):
    icon = "volunteer_activism"
    list_display = ("session", "helper", "cut_amount", "price_after", "created_at")
    list_filter = ("session__status",)
    search_fields = ("session__id__exact", "helper__phone__exact")
    date_hierarchy = "created_at"
    list_select_related = ("session", "helper")
    fields = ("session", "helper", "cut_amount", "price_after", "created_at")
    readonly_fields = fields
