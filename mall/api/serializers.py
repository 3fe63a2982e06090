"""Output shapes shared by the shopper API."""
from rest_framework import serializers

from core.fields import IdField, MoneyField


class LineInput(serializers.Serializer):
    listing_id = IdField()
    quantity = serializers.IntegerField(min_value=1, max_value=999)


class ListingOutput(serializers.Serializer):
    id = serializers.IntegerField()
    store_id = serializers.IntegerField()
    store_name = serializers.CharField(source="store.name")
    title = serializers.CharField(source="sku.product.title")
    sku_code = serializers.CharField(source="sku.code")
    spec_values = serializers.JSONField(source="sku.spec_values")
    category_id = serializers.IntegerField(source="sku.product.category_id")
    category_name = serializers.CharField(source="sku.product.category.name")
    price = MoneyField()
    suggested_price = MoneyField(source="sku.suggested_price")
    image_urls = serializers.JSONField(source="sku.product.image_urls")
    in_stock = serializers.SerializerMethodField()
    sold = serializers.SerializerMethodField()

    def get_in_stock(self, listing) -> bool:
        stock = getattr(listing.sku, "stock", None)
        return bool(stock and stock.available > 0)

    def get_sold(self, listing) -> int:
        stock = getattr(listing.sku, "stock", None)
        return stock.sold if stock else 0


class ListingDetailOutput(ListingOutput):
    description = serializers.CharField(source="sku.product.description")
    attributes = serializers.JSONField(source="sku.product.attributes")
    available = serializers.IntegerField(source="sku.stock.available", default=0)


class OrderLineOutput(serializers.Serializer):
    id = serializers.IntegerField()
    listing_id = serializers.IntegerField()
    title = serializers.CharField()
    sku_code = serializers.CharField()
    quantity = serializers.IntegerField()
    list_price = MoneyField()
    unit_price = MoneyField()
    line_subtotal = MoneyField()
    discount_share = MoneyField()
    paid_amount = MoneyField()
    refunded_quantity = serializers.IntegerField()
    refunded_amount = MoneyField()
    shipment_id = serializers.IntegerField()


class ShipmentOutput(serializers.Serializer):
    id = serializers.IntegerField()
    supplier_name = serializers.CharField(source="supplier.name")
    status = serializers.CharField()
    shipping_fee = MoneyField()
    carrier = serializers.CharField()
    tracking_number = serializers.CharField()
    shipped_at = serializers.DateTimeField(allow_null=True)
    delivered_at = serializers.DateTimeField(allow_null=True)


class OrderOutput(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.CharField()
    kind = serializers.CharField()
    store_id = serializers.IntegerField()
    status = serializers.CharField()
    status_display = serializers.CharField(source="get_status_display")
    payment_status = serializers.CharField()
    shipping_status = serializers.CharField()
    after_sale_status = serializers.CharField()
    currency = serializers.CharField()
    subtotal = MoneyField()
    discount_total = MoneyField()
    shipping_fee = MoneyField()
    total = MoneyField()
    refunded_total = MoneyField()
    coupon_id = serializers.IntegerField(allow_null=True)
    region_code = serializers.CharField(source="region_id")
    address = serializers.JSONField()
    note = serializers.CharField()
    pay_deadline = serializers.DateTimeField()
    created_at = serializers.DateTimeField()
    paid_at = serializers.DateTimeField(allow_null=True)
    lines = OrderLineOutput(many=True)
    shipments = ShipmentOutput(many=True)


class QuoteLineOutput(serializers.Serializer):
    listing_id = serializers.IntegerField(source="listing.pk")
    title = serializers.CharField(source="listing.sku.product.title")
    quantity = serializers.IntegerField()
    list_price = MoneyField()
    unit_price = MoneyField()
    line_subtotal = MoneyField()
    discount_share = MoneyField()
    paid_amount = MoneyField()


class QuoteShipmentOutput(serializers.Serializer):
    supplier_id = serializers.IntegerField(source="supplier.pk")
    supplier_name = serializers.CharField(source="supplier.name")
    weight_grams = serializers.IntegerField()
    subtotal = MoneyField()
    fee = MoneyField()


class QuoteOutput(serializers.Serializer):
    store_id = serializers.IntegerField(source="store.pk")
    region_code = serializers.CharField(source="region.code")
    region_name = serializers.CharField(source="region.name")
    coupon_id = serializers.IntegerField(source="coupon.pk", allow_null=True, default=None)
    subtotal = MoneyField()
    discount_total = MoneyField()
    shipping_fee = MoneyField()
    total = MoneyField()
    lines = QuoteLineOutput(many=True)
    shipments = QuoteShipmentOutput(many=True)
