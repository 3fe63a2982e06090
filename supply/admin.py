"""Operator admin (/admin/) of the supply side.

Suppliers are signed up through `services.supplier_onboard` and get API tokens through `supplier_token_rotate`:
a token is shown once, in the message right after it is issued, and only its hash is kept. Suspending or
reactivating a supplier is an action (`supplier_status_set`). Regions, categories, shipping templates and pricing
rules are plain configuration rows, edited here. The catalogue (products, SKUs) belongs to the suppliers, who edit it
in their console; stock, stock movements, inventory sync batches and the search vocabulary are records, read-only
here.
"""
from django.contrib import admin, messages
from django.db.models import Count

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
from supply import services
from supply.console import ProductImagePreviewMixin, StockLevelFilter, StockNumbersMixin
from supply.models import (
    SKU,
    Category,
    InventorySyncBatch,
    PricingRule,
    Product,
    ProductImage,
    Region,
    SearchWord,
    ShippingRate,
    ShippingTemplate,
    Stock,
    StockMovement,
    Supplier,
)

SUPPLIER_ADD_FIELDS = ("name", "contact_name", "contact_phone", "staff")


def _spec_text(spec_values: dict) -> str:
    return " / ".join(str(value) for value in spec_values.values())


@admin.register(Region)
class RegionAdmin(OperatorModelAdmin):
    """The 31 provinces (a data migration writes them): operators change a province's logistics tier only."""

    icon = "map"
    list_display = ("code", "name", "name_en", "tier")
    list_filter = ("tier",)
    search_fields = ("code", "name", "name_en")
    fields = ("code", "name", "name_en", "tier")
    readonly_fields = ("code", "name", "name_en")

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Supplier)
class SupplierAdmin(UndeletableAdminMixin, ServiceSaveMixin, ServiceActionsMixin, OperatorModelAdmin):
    """Adding a supplier signs it up (`supplier_onboard`) and shows its first API token once. The token is never
    shown again: the "issue a new token" action replaces it (the old one stops working at once)."""

    icon = "factory"
    list_display = ("name", "status", "contact_name", "contact_phone", "product_count", "staff_count", "created_at")
    list_filter = ("status",)
    search_fields = ("name", "contact_name", "contact_phone")
    date_hierarchy = "created_at"
    autocomplete_fields = ("staff",)
    fields = (*SUPPLIER_ADD_FIELDS, "status", "api_token", "created_at", "updated_at")
    readonly_fields = ("status", "api_token", "created_at", "updated_at")
    actions = ("rotate_token", "suspend", "reactivate")
    service_error_fields = {"supplier_name_required": "name", "supplier_name_too_long": "name",
                            "supplier_name_taken": "name"}

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(product_total=Count("products", distinct=True),
                                                      staff_total=Count("staff", distinct=True))

    def get_fields(self, request, obj=None):
        return SUPPLIER_ADD_FIELDS if obj is None else super().get_fields(request, obj)

    def save_through_service(self, request, form, change):
        if change:  # contact details and staff: plain data, validated by the form
            return form.save()
        data = form.cleaned_data
        issued = services.supplier_onboard(name=data["name"], contact_name=data.get("contact_name", ""),
                                           contact_phone=data.get("contact_phone", ""), staff=data.get("staff", ()),
                                           actor=request.user)
        form.issued_token = issued.token
        return issued.supplier

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        token = getattr(form, "issued_token", None)
        if token:  # the form was valid and everything is saved: now, and only now, the token is shown
            self._show_token(request, obj, token)

    def _show_token(self, request, supplier: Supplier, token: str) -> None:
        self.message_user(request, f"{supplier.name} 的接口令牌（只显示这一次，请立即交给供应商；之后只能重新签发）"
                                   f"API token, shown this once only: {token}", messages.SUCCESS)

    @admin.display(description="接口令牌 API token")
    def api_token(self, supplier: Supplier) -> str:
        return ("只保存摘要，签发时显示一次；忘记了请用“重新签发接口令牌”操作 "
                "(only its hash is kept, shown once when issued: the action “issue a new API token” replaces it)")

    @admin.display(description="商品数 products", ordering="product_total")
    def product_count(self, supplier: Supplier) -> int:
        return supplier.product_total

    @admin.display(description="员工数 staff", ordering="staff_total")
    def staff_count(self, supplier: Supplier) -> int:
        return supplier.staff_total

    @admin.action(description="重新签发接口令牌 Issue a new API token (the old one stops working)",
                  permissions=["operate"])
    def rotate_token(self, request, queryset):
        def rotate(supplier: Supplier) -> None:
            issued = services.supplier_token_rotate(supplier_id=supplier.pk, actor=request.user)
            self._show_token(request, issued.supplier, issued.token)

        self.run_service_on_each(request, queryset.order_by("pk"), rotate,
                                 done="已重新签发接口令牌 new API token issued")

    @admin.action(description="暂停合作 Suspend (API refused, products off sale)", permissions=["operate"])
    def suspend(self, request, queryset):
        self.run_service_on_each(request, queryset.order_by("pk"), lambda supplier: services.supplier_status_set(
            supplier_id=supplier.pk, status=Supplier.Status.SUSPENDED, actor=request.user),
            done="已暂停合作 suspended")

    @admin.action(description="恢复合作 Reactivate", permissions=["operate"])
    def reactivate(self, request, queryset):
        self.run_service_on_each(request, queryset.order_by("pk"), lambda supplier: services.supplier_status_set(
            supplier_id=supplier.pk, status=Supplier.Status.ACTIVE, actor=request.user),
            done="已恢复合作 reactivated")


@admin.register(Category)
class CategoryAdmin(OperatorModelAdmin):
    icon = "category"
    list_display = ("name", "name_en", "parent", "position", "colour", "product_count")
    list_filter = (("parent", admin.EmptyFieldListFilter),)
    search_fields = ("name", "name_en")
    list_select_related = ("parent",)
    fields = ("name", "name_en", "parent", "position", "colour")

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(product_total=Count("products"))

    @admin.display(description="商品数 products", ordering="product_total")
    def product_count(self, category: Category) -> int:
        return category.product_total


class ShippingRateInline(OperatorInline):
    model = ShippingRate
    extra = 0
    fields = ("region_codes", "tier", "first_weight_grams", "first_fee", "extra_weight_grams", "extra_fee",
              "free_threshold")


@admin.register(ShippingTemplate)
class ShippingTemplateAdmin(OperatorModelAdmin):
    icon = "local_shipping"
    list_display = ("name", "supplier", "rate_count", "updated_at")
    list_filter = ("supplier",)
    search_fields = ("name", "supplier__name")
    date_hierarchy = "created_at"
    list_select_related = ("supplier",)
    fields = ("supplier", "name")
    inlines = [ShippingRateInline]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(rate_total=Count("rates"))

    @admin.display(description="规则数 rates", ordering="rate_total")
    def rate_count(self, template: ShippingTemplate) -> int:
        return template.rate_total


@admin.register(ShippingRate)
class ShippingRateAdmin(OperatorModelAdmin):
    icon = "local_atm"
    list_display = ("template", "region_codes", "tier", "first_weight_grams", "first_fee",
                    "extra_weight_grams", "extra_fee", "free_threshold")
    list_filter = ("tier", "template__supplier")
    search_fields = ("template__name", "template__supplier__name")
    list_select_related = ("template__supplier",)
    fields = ("template", "region_codes", "tier", "first_weight_grams", "first_fee", "extra_weight_grams",
              "extra_fee", "free_threshold")


class SKUInline(StockNumbersMixin, ReadOnlyInline):
    model = SKU
    fields = ("code", "spec_values", "cost_price", "floor_price", "suggested_price", "weight_grams", "stock_available",
              "stock_reserved", "stock_sold")
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("stock")


class ProductImageInline(ProductImagePreviewMixin, ReadOnlyInline):
    """Pictures are the supplier's (uploaded in the supplier console or through the supplier API); read here."""

    model = ProductImage
    fields = ("preview", "position", "alt_text", "is_generated", "dimensions", "size_bytes", "content_type",
              "external_url", "created_at")
    readonly_fields = fields
    show_change_link = False


@admin.register(ProductImage)
class ProductImageAdmin(ProductImagePreviewMixin, ReadOnlyAdminMixin, OperatorModelAdmin):
    """Every product picture (uploads, generated placeholders, external URLs), read-only: suppliers manage their
    pictures in the supplier console or through the supplier API."""

    icon = "image"
    list_display = ("preview", "product", "position", "is_generated", "dimensions", "size_bytes", "content_type",
                    "created_at")
    list_filter = ("is_generated", "content_type", "product__supplier")
    search_fields = ("product__title", "alt_text")
    date_hierarchy = "created_at"
    list_select_related = ("product",)
    fields = ("preview", "product", "position", "alt_text", "is_generated", "drawn_title", "drawn_colour",
              "dimensions", "size_bytes", "content_type", "content_hash", "external_url", "file", "thumbnail_medium",
              "thumbnail_small", "created_at", "updated_at")
    readonly_fields = fields


@admin.register(Product)
class ProductAdmin(ReadOnlyAdminMixin, OperatorModelAdmin):
    """Suppliers edit their catalogue in the supplier console; operators read it here."""

    icon = "inventory_2"
    list_display = ("title", "supplier", "category", "status", "sku_count", "shipping_template", "updated_at")
    list_filter = ("status", "supplier", "category")
    search_fields = ("title", "skus__code__exact")
    date_hierarchy = "created_at"
    list_select_related = ("supplier", "category", "shipping_template__supplier")
    fields = ("supplier", "title", "category", "status", "shipping_template", "description", "attributes",
              "source", "created_at", "updated_at")
    readonly_fields = fields
    inlines = [SKUInline, ProductImageInline]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(sku_total=Count("skus"))

    @admin.display(description="规格数 SKUs", ordering="sku_total")
    def sku_count(self, product: Product) -> int:
        return product.sku_total


@admin.register(SKU)
class SKUAdmin(StockNumbersMixin, ReadOnlyAdminMixin, OperatorModelAdmin):
    icon = "barcode"
    list_display = ("code", "product", "spec", "cost_price", "floor_price", "suggested_price", "weight_grams",
                    "stock_available", "stock_reserved", "stock_sold")
    list_filter = ("product__status", "product__supplier")
    search_fields = ("code", "product__title")
    date_hierarchy = "created_at"
    list_select_related = ("product", "stock")
    fields = ("product", "code", "spec_values", "cost_price", "floor_price", "suggested_price", "weight_grams",
              "stock_available", "stock_reserved", "stock_sold", "created_at", "updated_at")
    readonly_fields = fields

    @admin.display(description="规格 spec")
    def spec(self, sku: SKU) -> str:
        return _spec_text(sku.spec_values)


@admin.register(Stock)
class StockAdmin(ReadOnlyAdminMixin, OperatorModelAdmin):
    """Stock changes only through the inventory sync API and the order services; read-only here."""

    icon = "warehouse"
    list_display = ("sku", "product_title", "available", "reserved", "sold", "synced_as_of")
    list_filter = (StockLevelFilter, "sku__product__supplier")
    search_fields = ("sku__code__exact", "sku__product__title")
    date_hierarchy = "synced_as_of"
    list_select_related = ("sku__product",)
    ordering = ("available", "sku")
    fields = ("sku", "available", "reserved", "sold", "synced_as_of")
    readonly_fields = fields

    @admin.display(description="商品 product", ordering="sku__product__title")
    def product_title(self, stock: Stock) -> str:
        return stock.sku.product.title


@admin.register(StockMovement)
class StockMovementAdmin(ExactSearchMixin, ReadOnlyAdminMixin, OperatorModelAdmin):
    """Every change of a stock row, one row per change: a big table, searched by whole SKU code or reference."""

    icon = "swap_vert"
    list_display = ("created_at", "sku", "kind", "available_delta", "reserved_delta", "sold_delta", "reference")
    list_filter = ("kind",)
    # The SKU code is unique (indexed); the reference (an order number, a sync batch) has no index of its own.
    search_fields = ("sku__code__exact", "reference__exact")
    date_hierarchy = "created_at"
    list_select_related = ("sku",)
    fields = ("sku", "kind", "available_delta", "reserved_delta", "sold_delta", "reference", "created_at")
    readonly_fields = fields
    show_full_result_count = False


@admin.register(SearchWord)
class SearchWordAdmin(ReadOnlyAdminMixin, OperatorModelAdmin):
    """The typo vocabulary of search (English words of the catalogue and their stems), kept by the product
    services and the demo loader; read-only here."""

    icon = "spellcheck"
    list_display = ("word", "stem")
    search_fields = ("word", "stem__exact")
    ordering = ("word",)
    fields = ("word", "stem")
    readonly_fields = fields


@admin.register(PricingRule)
class PricingRuleAdmin(OperatorModelAdmin):
    """Regional prices: a plain configuration row (its constraints are checked by the form)."""

    icon = "sell"
    list_display = ("__str__", "supplier", "sku", "region", "tier", "mode", "value", "valid_from", "valid_to")
    list_filter = ("mode", "tier", "supplier")
    search_fields = ("sku__code", "sku__product__title", "region__name", "supplier__name")
    date_hierarchy = "created_at"
    list_select_related = ("supplier", "sku", "region")
    autocomplete_fields = ("sku",)
    fields = ("supplier", "sku", "region", "tier", "mode", "value", "valid_from", "valid_to")


@admin.register(InventorySyncBatch)
class InventorySyncBatchAdmin(ExactSearchMixin, ReadOnlyAdminMixin, OperatorModelAdmin):
    """One row per call of the inventory sync API, with what it applied."""

    icon = "sync"
    list_display = ("batch_id", "supplier", "row_count", "applied", "stale_count", "unknown_count", "received_at")
    list_filter = ("supplier",)
    search_fields = ("batch_id__exact",)
    date_hierarchy = "received_at"
    list_select_related = ("supplier",)
    fields = ("supplier", "batch_id", "received_at", "row_count", "result")
    readonly_fields = fields
    show_full_result_count = False

    @admin.display(description="已应用 applied")
    def applied(self, batch: InventorySyncBatch):
        return batch.result.get("applied", "-")

    @admin.display(description="过期 stale")
    def stale_count(self, batch: InventorySyncBatch) -> int:
        return len(batch.result.get("stale", []))

    @admin.display(description="未知规格 unknown")
    def unknown_count(self, batch: InventorySyncBatch) -> int:
        return len(batch.result.get("unknown", []))
