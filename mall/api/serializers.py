"""Output shapes shared by the shopper API."""
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.fields import IdField, MoneyField
from supply.images import product_image_urls


class LineInput(serializers.Serializer):
    listing_id = IdField()
    quantity = serializers.IntegerField(min_value=1, max_value=999)


@extend_schema_field({
    "type": "object", "additionalProperties": True,
    "description": "其他应用登记的结算优惠选项, 如 {\"points\": 500} 用 500 积分抵扣 options of the checkout "
                   "adjustments other apps register, keyed by their name: `points` (integer) uses that many points; "
                   "an unknown name is refused with `adjustment_unknown`",
    "example": {"points": 500}})
class AdjustmentOptionsField(serializers.JSONField):
    """The client's options of the registered checkout adjustments (mall.services.adjustments): an object, checked
    key by key by the adjustment it names."""

    def to_internal_value(self, data):
        data = super().to_internal_value(data)
        if not isinstance(data, dict):
            raise serializers.ValidationError("应为对象 expected an object such as {\"points\": 500}")
        return data


class AdjustmentOutput(serializers.Serializer):
    source = serializers.CharField(help_text="来源 what applied it: member_level, points...")
    label = serializers.CharField(help_text="说明 what the shopper reads")
    goods_off = MoneyField(help_text="商品减免 off the goods (in discount_total and the lines' discount_share)")
    shipping_off = MoneyField(help_text="运费减免 shipping waived")
    data = serializers.JSONField(help_text="明细 details, such as the points used")


class ProductImageOutput(serializers.Serializer):
    """A product picture as shoppers get it: where to fetch it and how big it is, never where or how it is stored
    (no storage name, bucket, content hash or import record). URLs are absolute when the request is known."""

    small_url = serializers.CharField(help_text="列表缩略图 list thumbnail (JPEG, longer side 360 px)")
    medium_url = serializers.CharField(help_text="详情图 detail picture (JPEG, longer side 800 px)")
    large_url = serializers.CharField(help_text="大图 the full picture (longer side at most 1600 px)")
    width = serializers.IntegerField(allow_null=True, help_text="大图宽度(像素) width of the large picture; null "
                                                                "for an external picture")
    height = serializers.IntegerField(allow_null=True, help_text="大图高度(像素) height of the large picture")
    alt = serializers.CharField(help_text="图片说明 alt text")
    generated = serializers.BooleanField(help_text="系统生成的示意图，不是实拍 a generated illustration, not a photo")

    def to_representation(self, image) -> dict:
        request = self.context.get("request")
        urls = {size: request.build_absolute_uri(url) if request is not None and url.startswith("/") else url
                for size, url in product_image_urls(image=image).items()}
        return {"small_url": urls["small"], "medium_url": urls["medium"], "large_url": urls["large"],
                "width": image.width, "height": image.height, "alt": image.alt_text, "generated": image.is_generated}


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
    images = ProductImageOutput(many=True, source="sku.product.images.all",
                                help_text="商品图片，按展示顺序 the product's pictures in display order")
    in_stock = serializers.SerializerMethodField()
    sold = serializers.IntegerField(source="sold_count", help_text="本店销量 units this store sold")

    def get_in_stock(self, listing) -> bool:
        stock = getattr(listing.sku, "stock", None)
        return bool(stock and stock.available > 0)



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


_MONEY = MoneyField()
_TIME = serializers.DateTimeField()


def _money(value):
    return None if value is None else _MONEY.to_representation(value)


def _time(value):
    return None if value is None else _TIME.to_representation(value)


def order_representation(order) -> dict:
    """The order as OrderOutput declares it, built directly: the checkout answers with an order on every submit and
    payment, and DRF's generic walk over ~40 declared fields costs more than the rest of the response
    (tests/mall/test_statement_counts.py checks both give the same document)."""
    return {
        "id": order.pk, "number": order.number, "kind": order.kind, "store_id": order.store_id,
        "status": order.status, "status_display": order.get_status_display(), "payment_status": order.payment_status,
        "shipping_status": order.shipping_status, "after_sale_status": order.after_sale_status,
        "currency": order.currency, "subtotal": _money(order.subtotal), "discount_total": _money(order.discount_total),
        "shipping_fee": _money(order.shipping_fee), "total": _money(order.total),
        "refunded_total": _money(order.refunded_total), "coupon_id": order.coupon_id,
        "adjustments": [{"source": line["source"], "label": line["label"], "goods_off": line["goods_off"],
                         "shipping_off": line["shipping_off"], "data": line["data"]} for line in order.adjustments],
        "region_code": order.region_id,
        "address": order.address, "note": order.note, "pay_deadline": _time(order.pay_deadline),
        "created_at": _time(order.created_at), "paid_at": _time(order.paid_at),
        "lines": [{
            "id": line.pk, "listing_id": line.listing_id, "title": line.title, "sku_code": line.sku_code,
            "quantity": line.quantity, "list_price": _money(line.list_price), "unit_price": _money(line.unit_price),
            "line_subtotal": _money(line.line_subtotal), "discount_share": _money(line.discount_share),
            "paid_amount": _money(line.paid_amount), "refunded_quantity": line.refunded_quantity,
            "refunded_amount": _money(line.refunded_amount), "shipment_id": line.shipment_id,
        } for line in order.lines.all()],
        "shipments": [{
            "id": shipment.pk, "supplier_name": shipment.supplier.name, "status": shipment.status,
            "shipping_fee": _money(shipment.shipping_fee), "carrier": shipment.carrier,
            "tracking_number": shipment.tracking_number, "shipped_at": _time(shipment.shipped_at),
            "delivered_at": _time(shipment.delivered_at),
        } for shipment in order.shipments.all()],
    }


class OrderOutput(serializers.Serializer):
    """The declared fields give the OpenAPI schema; `order_representation` renders them."""

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
    adjustments = AdjustmentOutput(many=True, help_text="会员权益、积分抵扣等 member privileges, points used...")
    region_code = serializers.CharField(source="region_id")
    address = serializers.JSONField()
    note = serializers.CharField()
    pay_deadline = serializers.DateTimeField()
    created_at = serializers.DateTimeField()
    paid_at = serializers.DateTimeField(allow_null=True)
    lines = OrderLineOutput(many=True)
    shipments = ShipmentOutput(many=True)

    def to_representation(self, instance) -> dict:
        return order_representation(instance)


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
    adjustments = AdjustmentOutput(many=True, help_text="会员权益、积分抵扣等 member privileges, points used...")
    lines = QuoteLineOutput(many=True)
    shipments = QuoteShipmentOutput(many=True)
