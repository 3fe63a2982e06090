"""The merchant console (商家工作台) at /merchant/, and the supplier console's shipping page.

The merchant console is an admin site scoped to the stores a user owns or works in (operators see every store):
listings (picked from the supplier catalogue, priced through `catalogue`), orders (read-only), after-sales (actions
that call the after-sale services), coupon templates, group-buy and bargain campaigns.

"Order lines to ship" belongs to the supplier console (supply/console.py) but shows mall's Shipment model: supply may
not import mall, so it is registered on the supplier site from here. config/urls.py imports this module.
"""
from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.contrib.admin.utils import unquote
from django.db.models import Case, Q, QuerySet, Value, When
from django.http import HttpResponseRedirect
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from mall.models import (
    AfterSale,
    BargainCampaign,
    CouponTemplate,
    GroupBuyCampaign,
    Listing,
    Order,
    OrderLine,
    Shipment,
    Store,
)
from mall.services import catalogue, coupons, group_buys, orders, tracking
from supply.console import ConsoleModelAdmin, ConsoleSite, ReadOnlyInline, supplier_console
from supply.models import SKU, Product, Stock, Supplier


def _address_html(address: dict):
    return format_html("{} {}<br>{}{}{}{}", address.get("recipient", ""), address.get("phone", ""),
                       address.get("province", ""), address.get("city", ""), address.get("district", ""),
                       address.get("detail", ""))


def _spec_text(spec_values: dict) -> str:
    return " / ".join(str(value) for value in spec_values.values())


# --- supplier console: order lines to ship -------------------------------------------------------------------------
def _units_left(line: OrderLine) -> int:
    """Units of a line still the buyer's: refunded units of a pending shipment went back to stock, unshipped."""
    return line.quantity - line.refunded_quantity


class ShipmentShipForm(forms.ModelForm):
    """What the supplier types when it hands the parcel over; both are needed to ship. The carrier is one of the
    carriers whose tracking pushes we receive (`tracking.CARRIERS`), so a push finds its shipment."""

    carrier = forms.ChoiceField(label="快递公司 carrier",
                                choices=[("", "---------"), *((name, name) for name in tracking.CARRIERS.values())])
    tracking_number = forms.CharField(label="运单号 tracking number", max_length=64)


@admin.register(Shipment, site=supplier_console)
class SupplierShipmentAdmin(ConsoleModelAdmin):
    """待发货: the supplier's shipments of paid orders, pending ones first. Saving a pending shipment's form with a
    carrier and a tracking number ships it through `orders.shipment_ship`; a shipped one is read-only, and the
    "mark delivered" action reports its arrival (`orders.shipment_deliver`). A shipment whose every unit was
    refunded before it left is cancelled: listed as 无需发货, never shipped."""

    icon = "package_2"

    owner_path = "supplier"
    console_can_add = False
    form = ShipmentShipForm
    actions = ("mark_delivered",)
    fields = ("order_number", "order_status", "paid_at", "ship_to", "lines_to_ship", "weight_grams", "status",
              "carrier", "tracking_number", "shipped_at", "carrier_state", "delivered_at")
    readonly_fields = ("order_number", "order_status", "paid_at", "ship_to", "lines_to_ship", "weight_grams",
                       "status", "shipped_at", "carrier_state", "delivered_at")
    list_display = ("order_number", "status", "recipient", "lines_summary", "paid_at", "carrier", "tracking_number",
                    "shipped_at", "carrier_state")
    list_display_links = ("order_number",)
    list_filter = ("status",)
    search_fields = ("order__number", "tracking_number", "lines__sku_code")
    list_select_related = ("order",)
    # Only orders that are paid can ship; a group-buy order waiting for its team (grouping) cannot yet.
    order_statuses = (Order.Status.PAID, Order.Status.SHIPPED, Order.Status.DELIVERED, Order.Status.COMPLETED)

    def get_queryset(self, request):
        pending_first = Case(When(status=Shipment.Status.PENDING, then=Value(0)), default=Value(1))
        return (super().get_queryset(request).filter(order__status__in=self.order_statuses)
                .prefetch_related("lines").order_by(pending_first, "order__paid_at", "pk"))

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and (obj is None or obj.status == Shipment.Status.PENDING)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        # A form opened while the shipment was pending and sent after it shipped, or after its last units were
        # refunded: say why nothing happens, rather than a bare 403.
        if request.method == "POST" and object_id is not None:
            shipment = self.get_object(request, unquote(object_id))
            if shipment is not None and shipment.status != Shipment.Status.PENDING:
                refusal = ("该发货单的商品已全部退款，无需发货 (everything in it was refunded: nothing to ship)"
                           if shipment.status == Shipment.Status.CANCELLED else "该发货单已发货 (already shipped)")
                self.message_user(request, f"{shipment.order.number}: {refusal}", messages.ERROR)
                return HttpResponseRedirect(request.path)
        return super().changeform_view(request, object_id, form_url, extra_context)

    @admin.action(description="标记为已签收 Mark delivered (the buyer has the parcel)")
    def mark_delivered(self, request, queryset):
        selected = list(queryset.select_related("order"))
        for shipment in selected:
            if shipment.status == Shipment.Status.DELIVERED:
                self.message_user(request, f"{shipment.order.number}: 已签收，无需再标记 (already delivered)",
                                  messages.WARNING)
        self.run_service_on_each(
            request, [shipment for shipment in selected if shipment.status != Shipment.Status.DELIVERED],
            lambda shipment: orders.shipment_deliver(shipment_id=shipment.pk, source="supplier",
                                                     supplier=shipment.supplier, actor=request.user),
            done="已标记签收 marked delivered", label=lambda shipment: shipment.order.number)

    def save_through_service(self, request, form, change):
        shipment = form.instance
        return orders.shipment_ship(shipment_id=shipment.pk, supplier=shipment.supplier,
                                    carrier=form.cleaned_data["carrier"],
                                    tracking_number=form.cleaned_data["tracking_number"], actor=request.user)

    @admin.display(description="订单号 order", ordering="order__number")
    def order_number(self, shipment: Shipment) -> str:
        return shipment.order.number

    @admin.display(description="订单状态 order status")
    def order_status(self, shipment: Shipment) -> str:
        return shipment.order.get_status_display()

    @admin.display(description="支付时间 paid at", ordering="order__paid_at")
    def paid_at(self, shipment: Shipment):
        return shipment.order.paid_at

    @admin.display(description="收货地址 ship to")
    def ship_to(self, shipment: Shipment):
        return _address_html(shipment.order.address)

    @admin.display(description="收件人 recipient")
    def recipient(self, shipment: Shipment) -> str:
        address = shipment.order.address
        return f"{address.get('recipient', '')} · {address.get('province', '')}{address.get('city', '')}"

    @admin.display(description="发货明细 lines to ship")
    def lines_to_ship(self, shipment: Shipment):
        lines = [line for line in shipment.lines.all() if _units_left(line) > 0]
        if not lines:
            return "无需发货：已全部退款 (nothing to ship: everything was refunded)"
        rows = format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}{}</td></tr>", (
            (line.sku_code, line.title, _spec_text(line.spec_values), _units_left(line),
             f"（共 {line.quantity}，已退款 {line.refunded_quantity} · {line.refunded_quantity} of "
             f"{line.quantity} refunded）" if line.refunded_quantity else "")
            for line in lines))
        return format_html("<table><tr><th>规格编码 SKU</th><th>商品 product</th><th>规格 spec</th>"
                           "<th>数量 quantity</th></tr>{}</table>", rows)

    @admin.display(description="商品 items")
    def lines_summary(self, shipment: Shipment) -> str:
        parts = [f"{line.sku_code} ×{_units_left(line)}" for line in shipment.lines.all() if _units_left(line) > 0]
        return "; ".join(parts) or "无需发货 nothing to ship"

    @admin.display(description="物流状态 carrier state", ordering="tracking_updated_at")
    def carrier_state(self, shipment: Shipment):
        if not shipment.tracking_state:
            return "-"
        return format_html("{}<br>{}<br><small>{}</small>", tracking.tracking_state_label(shipment.tracking_state),
                           shipment.tracking_context,
                           timezone.localtime(shipment.tracking_updated_at).strftime("%Y-%m-%d %H:%M")
                           if shipment.tracking_updated_at else "")


# --- the merchant console ------------------------------------------------------------------------------------------
class MerchantConsole(ConsoleSite):
    settings_name = "UNFOLD_MERCHANT"
    index_template = "admin/merchant_index.html"
    site_header = "商家工作台 Merchant console"
    site_title = "商家工作台 Merchant console"
    index_title = "店铺经营 Running the store"

    def organisations_of(self, user) -> QuerySet:
        return Store.objects.filter(Q(owner=user) | Q(memberships__user=user)).distinct()


merchant_console = MerchantConsole(name="merchant_console")


def catalogue_skus() -> QuerySet[SKU]:
    """What a merchant may pick into a store: SKUs of products on sale from suppliers in business."""
    return SKU.objects.filter(product__status=Product.Status.ACTIVE, product__supplier__status=Supplier.Status.ACTIVE)


def _available(sku: SKU):
    try:
        return sku.stock.available
    except Stock.DoesNotExist:
        return None


@admin.register(SKU, site=merchant_console)
class SupplyCatalogueAdmin(ConsoleModelAdmin):
    """选品: the supplier catalogue, read-only. Select SKUs and list them in the store at the suggested price, or add
    a listing with a price of your own. Also serves the SKU search of the listing form."""

    icon = "category"
    menu_title = "选品中心 supplier catalogue"

    console_can_add = False
    console_can_change = False
    list_display = ("code", "product", "supplier", "spec", "cost_price", "floor_price", "suggested_price",
                    "available")
    list_filter = (("product__category", admin.RelatedOnlyFieldListFilter),)
    search_fields = ("code", "product__title", "product__supplier__name")
    list_select_related = ("product__supplier", "stock")
    actions = ("list_at_suggested_price",)

    def get_queryset(self, request):
        return super().get_queryset(request).filter(pk__in=catalogue_skus().values("pk"))

    def changelist_view(self, request, extra_context=None):
        title = "选品中心：选择要上架的供应商商品 (pick supplier SKUs to list)"
        return super().changelist_view(request, {"title": title, **(extra_context or {})})

    @admin.display(description="供应商 supplier", ordering="product__supplier__name")
    def supplier(self, sku: SKU) -> str:
        return sku.product.supplier.name

    @admin.display(description="规格 spec")
    def spec(self, sku: SKU) -> str:
        return _spec_text(sku.spec_values)

    @admin.display(description="可用库存 available", ordering="stock__available")
    def available(self, sku: SKU):
        return _available(sku)

    @admin.action(description="按建议零售价上架到我的店铺 List in my store at the suggested price")
    def list_at_suggested_price(self, request, queryset):
        store_id = self.admin_site.single_scope_id(request)
        if store_id is None:
            self.message_user(request, "您管理多个店铺，请在“上架商品”中逐个添加并选择店铺 (you run several stores: "
                                       "add listings one by one and choose the store)", messages.WARNING)
            return
        store = Store.objects.get(pk=store_id)
        self.run_service_on_each(
            request, queryset,
            lambda sku: catalogue.listing_create(store=store, sku=sku, price=sku.suggested_price), done="已上架 listed")


@admin.register(Listing, site=merchant_console)
class ListingAdmin(ConsoleModelAdmin):
    """A store's offer of a supplier SKU. Created through `catalogue.listing_create` and priced through
    `listing_set_price`, so a price below the supplier's floor is a form error."""

    icon = "storefront"

    owner_path = "store"
    owner_field = "store"
    scoped_choices = {"store": ""}
    fields = ("store", "sku", "price", "status")
    autocomplete_fields = ("sku",)
    list_display = ("product_title", "sku", "store", "price", "floor_price", "status", "available")
    list_filter = ("status", ("store", admin.RelatedOnlyFieldListFilter))
    search_fields = ("sku__product__title", "sku__code")
    list_select_related = ("store", "sku__product", "sku__stock")
    service_error_fields = {"price_below_floor": "price", "already_listed": "sku", "invalid_listing_status": "status"}

    def get_fields(self, request, obj=None):
        fields = super().get_fields(request, obj)
        return fields if obj is not None else [name for name in fields if name != "status"]

    def get_readonly_fields(self, request, obj=None):
        return ("store", "sku") if obj is not None else ()

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "sku":
            kwargs["queryset"] = catalogue_skus()
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_through_service(self, request, form, change):
        data = form.cleaned_data
        if change:
            return catalogue.listing_update(listing_id=form.instance.pk, price=data["price"],
                                                   status=data["status"])
        return catalogue.listing_create(store=self.owner_of(request, form), sku=data["sku"], price=data["price"])

    @admin.display(description="商品 product", ordering="sku__product__title")
    def product_title(self, listing: Listing) -> str:
        return listing.sku.product.title

    @admin.display(description="最低售价 floor price")
    def floor_price(self, listing: Listing):
        return listing.sku.floor_price

    @admin.display(description="可用库存 available")
    def available(self, listing: Listing):
        return _available(listing.sku)


class OrderLineInline(ReadOnlyInline):
    model = OrderLine
    fk_name = "order"
    fields = ("title", "sku_code", "spec_values", "quantity", "list_price", "unit_price", "line_subtotal",
              "discount_share", "paid_amount", "refunded_quantity", "refunded_amount")
    readonly_fields = fields


class OrderShipmentInline(ReadOnlyInline):
    model = Shipment
    fields = ("supplier", "status", "carrier", "tracking_number", "shipping_fee", "weight_grams", "shipped_at",
              "delivered_at")
    readonly_fields = fields


@admin.register(Order, site=merchant_console)
class OrderAdmin(ConsoleModelAdmin):
    """Read-only: orders change through the shopper's actions, payments, shipping and after-sales."""

    icon = "receipt_long"

    owner_path = "store"
    console_can_add = False
    console_can_change = False
    fields = ("number", "store", "buyer", "kind", "status", "payment_status", "shipping_status", "after_sale_status",
              "subtotal", "discount_total", "shipping_fee", "total", "refunded_total", "ship_to", "note",
              "created_at", "paid_at", "delivered_at", "completed_at", "cancelled_at")
    readonly_fields = fields
    list_display = ("number", "store", "buyer", "kind", "status", "payment_status", "shipping_status",
                    "after_sale_status", "total", "created_at")
    list_filter = ("status", "payment_status", "shipping_status", "after_sale_status", "kind",
                   ("store", admin.RelatedOnlyFieldListFilter))
    search_fields = ("number",)
    date_hierarchy = "created_at"
    list_select_related = ("store", "buyer")
    inlines = [OrderLineInline, OrderShipmentInline]

    @admin.display(description="收货地址 ship to")
    def ship_to(self, order: Order):
        return _address_html(order.address)


class AfterSaleActionForm(ActionForm):
    note = forms.CharField(label="拒绝理由 reason to refuse", required=False, max_length=200)


@admin.register(AfterSale, site=merchant_console)
class AfterSaleAdmin(ConsoleModelAdmin):
    """Requests are decided with the actions; the after-sale services check every state and move the money."""

    icon = "assignment_return"

    owner_path = "order__store"
    console_can_add = False
    console_can_change = False
    action_form = AfterSaleActionForm
    actions = ("approve", "refuse", "confirm_return")
    fields = ("order", "line", "requester", "kind", "quantity", "reason", "status", "refund_amount",
              "return_carrier", "return_tracking_number", "merchant_note", "created_at", "decided_at", "refunded_at")
    readonly_fields = fields
    list_display = ("order", "line", "kind", "quantity", "refund_amount", "status", "reason", "created_at")
    list_filter = ("status", "kind")
    search_fields = ("order__number", "line__title", "return_tracking_number")
    list_select_related = ("order__store", "line")

    @admin.action(description="同意售后 Approve (refund-only refunds now; returns wait for the goods)")
    def approve(self, request, queryset):
        from mall.services import after_sales

        self.run_service_on_each(request, queryset, lambda after_sale: after_sales.after_sale_approve(
            after_sale_id=after_sale.pk, store=after_sale.order.store, actor=request.user), done="已同意 approved")

    @admin.action(description="拒绝售后 Refuse (write the reason in the box)")
    def refuse(self, request, queryset):
        from mall.services import after_sales

        note = request.POST.get("note", "").strip()
        if not note:
            self.message_user(request, "请填写拒绝理由 (write the reason to refuse)", messages.ERROR)
            return
        self.run_service_on_each(request, queryset, lambda after_sale: after_sales.after_sale_refuse(
            after_sale_id=after_sale.pk, store=after_sale.order.store, actor=request.user, note=note),
            done="已拒绝 refused")

    @admin.action(description="确认收到退货并退款 Confirm the return arrived (refunds)")
    def confirm_return(self, request, queryset):
        from mall.services import after_sales

        self.run_service_on_each(request, queryset, lambda after_sale: after_sales.after_sale_confirm_return(
            after_sale_id=after_sale.pk, store=after_sale.order.store, actor=request.user), done="已退款 refunded")


COUPON_FIELDS = ("name", "kind", "amount_off", "threshold", "percent_off", "max_discount", "scope", "categories",
                 "listings", "per_user_limit", "total_quantity", "validity", "valid_from", "valid_to", "valid_days",
                 "is_active")


@admin.register(CouponTemplate, site=merchant_console)
class CouponTemplateAdmin(ConsoleModelAdmin):
    """Saved through `coupons.coupon_template_create` / `coupon_template_update`: a coupon that makes no sense (a
    percentage of 0, a 满减 threshold below its amount off, a window that ends before it starts...) is a form error
    in the merchant's words, and nothing is saved."""

    icon = "confirmation_number"

    owner_path = "store"
    owner_field = "store"
    scoped_choices = {"store": "", "listings": "store"}
    service_validates_row = True
    service_error_fields = {
        "coupon_name_required": "name", "coupon_kind_invalid": "kind", "coupon_amount_off_invalid": "amount_off",
        "coupon_percent_off_invalid": "percent_off", "coupon_cap_invalid": "max_discount",
        "coupon_threshold_invalid": "threshold", "coupon_threshold_below_amount": "threshold",
        "coupon_threshold_not_allowed": "threshold", "coupon_validity_invalid": "validity",
        "coupon_window_invalid": "valid_to", "coupon_window_ended": "valid_to",
        "coupon_valid_days_invalid": "valid_days", "coupon_scope_invalid": "scope",
        "coupon_listing_not_in_store": "listings", "coupon_per_user_limit_invalid": "per_user_limit",
        "coupon_total_invalid": "total_quantity", "coupon_total_below_claimed": "total_quantity",
    }
    fields = ("store", "name", "kind", "amount_off", "threshold", "percent_off", "max_discount", "scope",
              "categories", "listings", "per_user_limit", "total_quantity", "claimed_count", "validity",
              "valid_from", "valid_to", "valid_days", "is_active")
    readonly_fields = ("claimed_count",)
    filter_horizontal = ("categories", "listings")
    list_display = ("name", "store", "kind", "threshold", "amount_off", "percent_off", "claimed_count",
                    "total_quantity", "validity", "is_active")
    list_filter = ("kind", "scope", "is_active")
    search_fields = ("name",)
    list_select_related = ("store",)

    def get_readonly_fields(self, request, obj=None):
        return ("store", "claimed_count") if obj is not None else ("claimed_count",)

    def save_through_service(self, request, form, change):
        data = {name: form.cleaned_data.get(name) for name in COUPON_FIELDS}
        if change:
            return coupons.coupon_template_update(template_id=form.instance.pk, **data)
        return coupons.coupon_template_create(store=self.owner_of(request, form), **data)

    def service_error_field(self, error) -> str | None:
        # Mismatches (a percentage coupon with an amount off, listings chosen for a store-wide coupon...) name
        # the offending field in their detail.
        named = error.detail.get("field") if isinstance(error.detail, dict) else None
        return super().service_error_field(error) or named


GROUP_BUY_FIELDS = ("team_price", "team_size", "window_hours", "per_user_limit", "starts_at", "ends_at", "is_active")


@admin.register(GroupBuyCampaign, site=merchant_console)
class GroupBuyCampaignAdmin(ConsoleModelAdmin):
    """Saved through `group_buys.group_buy_campaign_create` / `group_buy_campaign_update`: a team price below the
    supplier's floor (or not below the listing's price), a team of one, a window that ends before it starts... is a
    form error, and nothing is saved."""

    icon = "groups"

    owner_path = "listing__store"
    scoped_choices = {"listing": "store"}
    service_validates_row = True
    service_error_fields = {
        "group_buy_listing_not_in_store": "listing", "group_buy_listing_inactive": "listing",
        "group_buy_price_invalid": "team_price", "group_buy_price_below_floor": "team_price",
        "group_buy_price_not_below_listing": "team_price", "group_buy_team_size_invalid": "team_size",
        "group_buy_window_invalid": "window_hours", "group_buy_per_user_limit_invalid": "per_user_limit",
        "group_buy_dates_invalid": "ends_at", "group_buy_ended": "ends_at",
    }
    fields = ("listing", *GROUP_BUY_FIELDS)
    list_display = ("listing", "team_price", "team_size", "window_hours", "starts_at", "ends_at", "is_active")
    list_filter = ("is_active",)
    search_fields = ("listing__sku__product__title",)
    list_select_related = ("listing__store", "listing__sku__product")

    def get_readonly_fields(self, request, obj=None):
        return ("listing",) if obj is not None else ()

    def save_through_service(self, request, form, change):
        data = {name: form.cleaned_data.get(name) for name in GROUP_BUY_FIELDS}
        if change:
            return group_buys.group_buy_campaign_update(campaign_id=form.instance.pk, **data)
        listing = form.cleaned_data["listing"]  # one of the member's own listings: the field offers no other
        return group_buys.group_buy_campaign_create(store=listing.store, listing=listing, **data)


@admin.register(BargainCampaign, site=merchant_console)
class BargainCampaignAdmin(ConsoleModelAdmin):
    """Created through `bargains.bargain_campaign_create`; afterwards only switched on or off."""

    icon = "price_change"

    owner_path = "listing__store"
    scoped_choices = {"listing": "store"}
    add_fields = ("listing", "floor_price", "helpers_needed", "window_hours", "starts_at", "ends_at",
                  "allow_buy_at_current_price", "min_cut_ratio", "max_cut_ratio")
    fields = (*add_fields, "is_active")
    list_display = ("listing", "floor_price", "helpers_needed", "window_hours", "starts_at", "ends_at", "is_active")
    list_filter = ("is_active",)
    search_fields = ("listing__sku__product__title",)
    list_select_related = ("listing__store", "listing__sku__product")
    service_error_fields = {
        "bargain_floor_below_sku_floor": "floor_price", "bargain_floor_not_below_price": "floor_price",
        "bargain_spread_too_small": "floor_price", "bargain_helpers_invalid": "helpers_needed",
        "bargain_window_invalid": "window_hours", "bargain_dates_invalid": "ends_at",
        "bargain_ratio_invalid": "max_cut_ratio",
    }

    def get_fields(self, request, obj=None):
        return list(self.add_fields) if obj is None else super().get_fields(request, obj)

    def get_readonly_fields(self, request, obj=None):
        return tuple(name for name in self.fields if name != "is_active") if obj is not None else ()

    def save_through_service(self, request, form, change):
        campaign = form.instance
        if change:
            campaign.save(update_fields=["is_active", "updated_at"])
            return campaign
        from mall.services import bargains

        data = form.cleaned_data
        return bargains.bargain_campaign_create(**{name: data[name] for name in self.add_fields})

