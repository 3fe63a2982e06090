"""Shopper REST API (mini-program style): catalogue, cart, addresses, checkout, orders, payment, coupons, group-buys.

One class per operation: validate, call one service or selector, render. Business rules live in mall.services.
"""
import re

from django.shortcuts import get_object_or_404
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field, extend_schema_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import PagePagination, exception_handler
from core.errors import NotFound
from core.fields import IdempotencyKeyField, IdField, MoneyField
from core.openapi import errors
from mall import selectors
from mall.api.serializers import (
    AdjustmentOptionsField,
    LineInput,
    ListingDetailOutput,
    ListingOutput,
    OrderOutput,
    ProductImageOutput,
    QuoteOutput,
)
from mall.models import Address, CouponTemplate, GroupBuyCampaign, GroupBuyTeam, UserCoupon
from mall.services import catalogue, coupons, group_buys, orders, payments, quotes
from mall.services.wechat_pay import WeChatPayProvider
from supply.models import Region

WECHATPAY = WeChatPayProvider.name

# An anonymous visitor's device id, as the mini-program or H5 page sends it; anything else is not counted.
VISITOR_ID = re.compile(r"[A-Za-z0-9_\-]{8,64}")


def paginate(view: APIView, queryset, serializer_class) -> Response:
    """One page of `queryset` by the view's `pagination_class` (PagePagination), which the schema types as a page."""
    paginator = view.pagination_class()
    page = paginator.paginate_queryset(queryset, view.request, view=view)
    # The request lets picture URLs be absolute (a mini-program has no page to resolve a relative URL against).
    return paginator.get_paginated_response(serializer_class(page, many=True, context={"request": view.request}).data)


# --- catalogue --------------------------------------------------------------------------------------------------
class CategoryListApi(APIView):
    """商品类目树 The category tree."""

    permission_classes = [AllowAny]

    @extend_schema(summary="商品类目树 The category tree",
                   responses={200: serializers.ListSerializer(child=serializers.DictField())}, tags=["catalogue"])
    def get(self, request):
        return Response(selectors.category_tree())


class RegionListApi(APIView):
    """省份列表 Provinces (for addresses)."""

    permission_classes = [AllowAny]

    @extend_schema_serializer(component_name="RegionOutput")
    class Output(serializers.Serializer):
        code = serializers.CharField()
        name = serializers.CharField()
        name_en = serializers.CharField()
        tier = serializers.IntegerField()

    @extend_schema(summary="省份列表 List the provinces", responses={200: Output(many=True)}, tags=["catalogue"])
    def get(self, request):
        return Response(self.Output(Region.objects.all(), many=True).data)


class ListingListApi(APIView):
    """商品列表与搜索 List, filter and search listings (Chinese or English query)."""

    permission_classes = [AllowAny]
    pagination_class = PagePagination

    @extend_schema_serializer(component_name="ListingFilter")
    class Filter(serializers.Serializer):
        q = serializers.CharField(required=False, allow_blank=True, max_length=100)
        category = IdField(required=False)
        store = IdField(required=False)
        min_price = MoneyField(required=False, min_value=0)
        max_price = MoneyField(required=False, min_value=0)
        ordering = serializers.ChoiceField(choices=list(selectors.LISTING_ORDERINGS), required=False)

    @extend_schema(summary="商品列表与搜索 List and search listings", parameters=[Filter],
                   responses={200: ListingOutput(many=True)}, tags=["catalogue"])
    def get(self, request):
        filters = self.Filter(data=request.query_params)
        filters.is_valid(raise_exception=True)
        data = filters.validated_data
        listings = selectors.listing_search(query=data.get("q", ""), category_id=data.get("category"),
                                            store_id=data.get("store"), min_price=data.get("min_price"),
                                            max_price=data.get("max_price"), ordering=data.get("ordering"))
        return paginate(self, listings, ListingOutput)


class ProductOfferOutput(serializers.Serializer):
    listing_id = serializers.IntegerField(source="pk")
    store_id = serializers.IntegerField()
    store_name = serializers.CharField(source="store.name")
    sku_code = serializers.CharField(source="sku.code")
    spec_values = serializers.JSONField(source="sku.spec_values")
    price = MoneyField()
    sold = serializers.IntegerField(source="sold_count", help_text="本店销量 units this store sold")
    in_stock = serializers.SerializerMethodField()

    def get_in_stock(self, listing) -> bool:
        stock = getattr(listing.sku, "stock", None)
        return bool(stock and stock.available > 0)


_MONEY = MoneyField()


class ProductSearchOutput(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()
    category_id = serializers.IntegerField()
    category_name = serializers.CharField(source="category.name")
    images = ProductImageOutput(many=True, source="images.all",
                                help_text="商品图片，按展示顺序 the product's pictures in display order")
    lowest_price = MoneyField(help_text="在售最低价 the lowest price among the stores")
    sold = serializers.IntegerField(help_text="全部店铺销量 units sold by all its stores")
    stores = serializers.SerializerMethodField(help_text="在售店铺, 价低在前 the stores selling it, cheapest first")

    @extend_schema_field(ProductOfferOutput(many=True))
    def get_stores(self, product) -> list:
        # built directly in ProductOfferOutput's shape: a nested serializer per product costs more than the query
        offers = sorted((offer for sku in product.skus.all() for offer in sku.offers),
                        key=lambda offer: (offer.price, offer.store_id, offer.pk))
        return [{"listing_id": offer.pk, "store_id": offer.store_id, "store_name": offer.store.name,
                 "sku_code": offer.sku.code, "spec_values": offer.sku.spec_values,
                 "price": _MONEY.to_representation(offer.price), "sold": offer.sold_count,
                 "in_stock": bool(getattr(offer.sku, "stock", None) and offer.sku.stock.available > 0)}
                for offer in offers]


class ProductSearchApi(APIView):
    """全站搜索 Mall-wide product search: each product once, with the stores that sell it."""

    permission_classes = [AllowAny]
    pagination_class = PagePagination

    @extend_schema_serializer(component_name="ProductSearchFilter")
    class Filter(serializers.Serializer):
        q = serializers.CharField(required=False, allow_blank=True, max_length=100,
                                  help_text="中文或英文, 容错拼写 Chinese or English words, typos tolerated")
        category = IdField(required=False)
        min_price = MoneyField(required=False, min_value=0)
        max_price = MoneyField(required=False, min_value=0)
        ordering = serializers.ChoiceField(choices=list(selectors.PRODUCT_ORDERINGS), required=False,
                                           help_text="默认: 有搜索词按相关度, 否则按销量 default: relevance with a "
                                                     "query, else sales")

    @extend_schema(summary="全站商品搜索 Search products across all stores", parameters=[Filter],
                   responses={200: ProductSearchOutput(many=True), **errors(400)}, tags=["catalogue"])
    def get(self, request):
        filters = self.Filter(data=request.query_params)
        filters.is_valid(raise_exception=True)
        data = filters.validated_data
        products = selectors.product_search(query=data.get("q", ""), category_id=data.get("category"),
                                            min_price=data.get("min_price"), max_price=data.get("max_price"),
                                            ordering=data.get("ordering"))
        return paginate(self, products, ProductSearchOutput)


class ListingDetailApi(APIView):
    """商品详情 One listing."""

    permission_classes = [AllowAny]

    @extend_schema(summary="商品详情 Get a listing", responses={200: ListingDetailOutput}, tags=["catalogue"],
                   parameters=[OpenApiParameter("X-Visitor-Id", str, OpenApiParameter.HEADER, required=False,
                                                description="匿名访客设备号 an anonymous visitor's device id "
                                                            "(8-64 letters, digits, - or _), counted as a view")])
    def get(self, request, listing_id: int):
        listing = selectors.listings_on_sale().filter(pk=listing_id).first()
        if listing is None:
            raise NotFound(_("no such listing, or it is off sale"), code="listing_not_found")
        visitor_id = request.headers.get("X-Visitor-Id", "")
        catalogue.listing_view(listing=listing, user=request.user if request.user.is_authenticated else None,
                               visitor_id=visitor_id if VISITOR_ID.fullmatch(visitor_id) else "")
        return Response(ListingDetailOutput(listing, context={"request": request}).data)


# --- cart -------------------------------------------------------------------------------------------------------
class CartItemOutput(serializers.Serializer):
    id = serializers.IntegerField()
    quantity = serializers.IntegerField()
    listing = ListingOutput()


class CartLineOutput(serializers.Serializer):
    id = serializers.IntegerField(source="item.id")
    quantity = serializers.IntegerField(source="item.quantity")
    listing = ListingOutput(source="item.listing")
    line_total = MoneyField(help_text="售价 x 数量 price x quantity")
    purchasable = serializers.BooleanField(
        help_text="在售且库存充足 on sale with enough stock (else 失效, not in the totals)")


class CartStoreOutput(serializers.Serializer):
    store_id = serializers.IntegerField(source="store.id")
    store_name = serializers.CharField(source="store.name")
    items = CartLineOutput(many=True, source="lines")
    subtotal = MoneyField()
    units = serializers.IntegerField()


class CartOutput(serializers.Serializer):
    stores = CartStoreOutput(many=True)
    total = MoneyField()
    units = serializers.IntegerField()


class CartApi(APIView):
    """购物车 The cart, grouped by store."""

    @extend_schema(summary="查看购物车 Get the cart, grouped by store", responses={200: CartOutput}, tags=["cart"])
    def get(self, request):
        return Response(CartOutput(selectors.cart_of(user=request.user), context={"request": request}).data)


class CartItemAddApi(APIView):
    """加入购物车 Add a listing to the cart."""

    @extend_schema(summary="加入购物车 Add to the cart", request=LineInput,
                   responses={201: CartItemOutput, **errors(404, 422)}, tags=["cart"])
    def post(self, request):
        data = LineInput(data=request.data)
        data.is_valid(raise_exception=True)
        item = catalogue.cart_add(user=request.user, **data.validated_data)
        return Response(CartItemOutput(item, context={"request": request}).data, status=201)


class CartItemApi(APIView):
    """修改数量 / 删除 Change the quantity of a cart item or remove it."""

    @extend_schema_serializer(component_name="CartItemUpdateInput")
    class Input(serializers.Serializer):
        quantity = serializers.IntegerField(min_value=1, max_value=999)

    @extend_schema(summary="修改购物车数量 Change a cart item's quantity", request=Input,
                   responses={200: CartItemOutput}, tags=["cart"])
    def patch(self, request, item_id: int):
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        item = catalogue.cart_set_quantity(user=request.user, item_id=item_id, **data.validated_data)
        return Response(CartItemOutput(item, context={"request": request}).data)

    @extend_schema(summary="移出购物车 Remove a cart item", responses={204: None}, tags=["cart"])
    def delete(self, request, item_id: int):
        catalogue.cart_remove(user=request.user, item_id=item_id)
        return Response(status=204)


# --- addresses --------------------------------------------------------------------------------------------------
@extend_schema_serializer(component_name="AddressInput")
class AddressInput(serializers.Serializer):
    recipient = serializers.CharField(max_length=64)
    phone = serializers.RegexField(r"^[0-9+\- ]{6,20}$", max_length=20)
    region_code = serializers.RegexField(r"^\d{6}$")
    city = serializers.CharField(max_length=64)
    district = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    detail = serializers.CharField(max_length=255)
    is_default = serializers.BooleanField(required=False, default=False)


class AddressOutput(serializers.Serializer):
    id = serializers.IntegerField()
    recipient = serializers.CharField()
    phone = serializers.CharField()
    region_code = serializers.CharField(source="region_id")
    region_name = serializers.CharField(source="region.name")
    city = serializers.CharField()
    district = serializers.CharField()
    detail = serializers.CharField()
    is_default = serializers.BooleanField()


class AddressListApi(APIView):
    """收货地址 Addresses of the shopper (list, add)."""

    @extend_schema(summary="我的收货地址 List my addresses", responses={200: AddressOutput(many=True)},
                   tags=["addresses"])
    def get(self, request):
        addresses = Address.objects.filter(user=request.user).select_related("region").order_by("-is_default", "-pk")
        return Response(AddressOutput(addresses, many=True).data)

    @extend_schema(summary="新增收货地址 Add an address", request=AddressInput,
                   responses={201: AddressOutput, **errors(404, 422)}, tags=["addresses"])
    def post(self, request):
        data = AddressInput(data=request.data)
        data.is_valid(raise_exception=True)
        address = catalogue.address_save(user=request.user, **data.validated_data)
        return Response(AddressOutput(address).data, status=201)


class AddressApi(APIView):
    """修改 / 删除地址 Change or delete one address."""

    @extend_schema(summary="修改收货地址 Change an address", request=AddressInput,
                   responses={200: AddressOutput, **errors(422)}, tags=["addresses"])
    def put(self, request, address_id: int):
        data = AddressInput(data=request.data)
        data.is_valid(raise_exception=True)
        address = catalogue.address_save(user=request.user, address_id=address_id, **data.validated_data)
        return Response(AddressOutput(address).data)

    @extend_schema(summary="删除收货地址 Delete an address", responses={204: None}, tags=["addresses"])
    def delete(self, request, address_id: int):
        catalogue.address_delete(user=request.user, address_id=address_id)
        return Response(status=204)


# --- checkout and orders ----------------------------------------------------------------------------------------
@extend_schema_serializer(component_name="CheckoutInput")
class CheckoutInput(serializers.Serializer):
    lines = LineInput(many=True, allow_empty=False, max_length=quotes.MAX_LINES)
    address_id = IdField()
    coupon_id = IdField(required=False, allow_null=True)
    adjustments = AdjustmentOptionsField(required=False)


class CheckoutPreviewApi(APIView):
    """结算预览 Price an order (regional price, shipping per supplier, coupon) without placing it."""

    @extend_schema(summary="结算预览 Preview the price of an order", request=CheckoutInput,
                   responses={200: QuoteOutput, **errors(404, 422)}, tags=["orders"])
    def post(self, request):
        data = CheckoutInput(data=request.data)
        data.is_valid(raise_exception=True)
        quote = quotes.quote_build(buyer=request.user, **data.validated_data)
        return Response(QuoteOutput(quote).data)


class OrderListApi(APIView):
    """我的订单 / 提交订单 List my orders; submit an order (idempotent on `idempotency_key`)."""

    pagination_class = PagePagination

    @extend_schema_serializer(component_name="OrderSubmitInput")
    class Input(CheckoutInput):
        idempotency_key = IdempotencyKeyField()
        note = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
        from_cart = serializers.BooleanField(required=False, default=False)

    @extend_schema_serializer(component_name="OrderListFilter")
    class Filter(serializers.Serializer):
        status = serializers.ChoiceField(choices=orders.Order.Status.choices, required=False)

    @extend_schema(summary="我的订单 List my orders", parameters=[Filter], responses={200: OrderOutput(many=True)},
                   tags=["orders"])
    def get(self, request):
        filters = self.Filter(data=request.query_params)
        filters.is_valid(raise_exception=True)
        return paginate(self, selectors.orders_of(buyer=request.user, status=filters.validated_data.get("status")),
                        OrderOutput)

    @extend_schema(summary="提交订单 Submit an order", request=Input,
                   responses={201: OrderOutput, 200: OrderOutput, **errors(404, 422)}, tags=["orders"])
    def post(self, request):
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        order, created = orders.order_submit(buyer=request.user, clear_cart=values.pop("from_cart"), **values)
        return Response(OrderOutput(selectors.order_details(order)).data, status=201 if created else 200)


class OrderCountsOutput(serializers.Serializer):
    pending_payment = serializers.IntegerField(help_text="待付款 awaiting payment")
    grouping = serializers.IntegerField(help_text="拼团中 paid, waiting for the team")
    to_ship = serializers.IntegerField(help_text="待发货 paid, not shipped yet")
    to_receive = serializers.IntegerField(help_text="待收货 shipped or delivered, receipt not confirmed")
    after_sale = serializers.IntegerField(help_text="售后 with an after-sale still open")


class OrderCountsApi(APIView):
    """订单角标 How many of my orders wait at each step (the badge row of "my orders")."""

    @extend_schema(summary="订单角标 Count my orders by step", responses={200: OrderCountsOutput}, tags=["orders"])
    def get(self, request):
        return Response(OrderCountsOutput(selectors.order_counts_of(buyer=request.user)).data)


class OrderDetailApi(APIView):
    """订单详情 One of my orders."""

    @extend_schema(summary="订单详情 Get one of my orders", responses={200: OrderOutput}, tags=["orders"])
    def get(self, request, order_id: int):
        order = orders.order_for_buyer(buyer=request.user, order_id=order_id)
        return Response(OrderOutput(selectors.order_details(order)).data)


class OrderCancelApi(APIView):
    """取消订单 Cancel an unpaid order (stock and coupon come back)."""

    @extend_schema(summary="取消订单 Cancel an order", request=None, responses={200: OrderOutput, **errors(409)},
                   tags=["orders"])
    def post(self, request, order_id: int):
        order = orders.order_cancel(order_id=order_id, buyer=request.user, actor=request.user)
        return Response(OrderOutput(selectors.order_details(order)).data)


class OrderConfirmReceiptApi(APIView):
    """确认收货 Confirm receipt of a delivered order."""

    @extend_schema(summary="确认收货 Confirm receipt", request=None, responses={200: OrderOutput, **errors(409)},
                   tags=["orders"])
    def post(self, request, order_id: int):
        order = orders.order_confirm_receipt(order_id=order_id, buyer=request.user)
        return Response(OrderOutput(selectors.order_details(order)).data)


@extend_schema_serializer(component_name="WechatRequestPayment")
class WechatRequestPaymentOutput(serializers.Serializer):
    """Exactly the object the mini-program passes to wx.requestPayment."""

    timeStamp = serializers.CharField()
    nonceStr = serializers.CharField()
    package = serializers.CharField(help_text="prepay_id=...")
    signType = serializers.CharField(help_text="RSA")
    paySign = serializers.CharField()


class PaymentInfoOutput(serializers.Serializer):
    provider = serializers.CharField()
    order_number = serializers.CharField()
    amount = serializers.CharField()
    currency = serializers.CharField()
    pay_deadline = serializers.CharField()
    pay_url = serializers.CharField(required=False, help_text="模拟支付 the simulated gateway's pay endpoint")
    appid = serializers.CharField(required=False, help_text="微信支付 the AppID WeChat Pay charges through")
    request_payment = WechatRequestPaymentOutput(required=False, help_text="微信支付 WeChat Pay: pass to "
                                                                           "wx.requestPayment as it is")


class OrderPayApi(APIView):
    """发起支付 Start paying an order: what the payment provider needs. With WeChat Pay (`provider: wechatpay`) the
    order is prepaid and the answer carries the signed parameters of wx.requestPayment; the buyer must have logged in
    with WeChat (`wechat_openid_missing`). Without a provider, the first enabled one."""

    @extend_schema_serializer(component_name="OrderPayInput")
    class Input(serializers.Serializer):
        provider = serializers.RegexField(r"^[a-z0-9_\-]{1,32}$", max_length=32, required=False,
                                          help_text="支付渠道 payment provider: wechatpay, simulated...")

    @extend_schema(summary="发起支付 Start paying an order", request=Input,
                   responses={200: PaymentInfoOutput, **errors(409, 422, 503)}, tags=["payments"])
    def post(self, request, order_id: int):
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        order = orders.order_for_buyer(buyer=request.user, order_id=order_id)
        return Response(payments.payment_checkout(order=order, provider=data.validated_data.get("provider")))


class SimulatedGatewayPayApi(APIView):
    """模拟支付 The built-in simulated gateway (dev/demo only): pays the order and sends us its signed callback.
    Answers 404 unless the simulated gateway is enabled (debug, or PAYMENT_PROVIDERS names it)."""

    @extend_schema(summary="模拟支付 Pay with the simulated gateway", request=None,
                   responses={200: OrderOutput, **errors(409, 422)}, tags=["payments"])
    def post(self, request, order_id: int):
        order = orders.order_for_buyer(buyer=request.user, order_id=order_id)
        payment = payments.simulated_gateway_pay(order=order)
        return Response(OrderOutput(selectors.order_details(payment.order)).data)


@extend_schema_serializer(component_name="PaymentCallbackOutput")
class PaymentCallbackOutput(serializers.Serializer):
    code = serializers.CharField()
    payment_id = serializers.IntegerField(allow_null=True)
    order_id = serializers.IntegerField(allow_null=True)


class PaymentCallbackApi(APIView):
    """支付回调 Provider callback, signed with HMAC-SHA256 in the `X-Signature` header. Idempotent."""

    permission_classes = [AllowAny]
    authentication_classes: list = []

    @extend_schema(summary="支付回调 Payment provider callback", request={"application/json": {"type": "object"}},
                   responses={200: PaymentCallbackOutput, **errors(401, 409, 422)}, tags=["payments"])
    def post(self, request, provider: str):
        payment = payments.payment_callback(provider=provider, body=request.body, headers=request.headers)
        if payment is None:
            return Response({"code": "ignored", "payment_id": None, "order_id": None})
        return Response({"code": "ok", "payment_id": payment.pk, "order_id": payment.order_id})


def wechat_pay_exception_handler(exc, context):
    """WeChat Pay reads a refusal as a 4xx/5xx with {"code": "FAIL", "message": ...} (and then sends the notice
    again later); our stable code goes in `detail.reason`."""
    response = exception_handler(exc, context)
    if response is not None and response.status_code >= 400 and isinstance(response.data, dict):
        reason, detail = response.data.get("code"), response.data.get("detail")
        response.data = {"code": "FAIL", "message": response.data.get("message"),
                         "detail": {"reason": reason, **(detail if isinstance(detail, dict) else {})}}
    return response


class WeChatPayCallbackApi(APIView):
    """微信支付回调 WeChat Pay API v3 notices: signed by WeChat Pay (`Wechatpay-Signature`, `-Timestamp`, `-Nonce`,
    `-Serial`), the resource encrypted with our APIv3 key. A paid transaction pays its order once (idempotent on
    WeChat's transaction id); refund and other notices are acknowledged and change nothing. A refusal is
    `{"code": "FAIL", "message", "detail": {"reason": <stable code>}}` with a 4xx, as WeChat Pay expects. 404 while
    WeChat Pay is not enabled."""

    permission_classes = [AllowAny]
    authentication_classes: list = []

    @extend_schema_serializer(component_name="WeChatPayCallbackOutput")
    class Output(serializers.Serializer):
        code = serializers.CharField(help_text="SUCCESS")
        message = serializers.CharField()

    def get_exception_handler(self):
        return wechat_pay_exception_handler

    @extend_schema(summary="微信支付回调 WeChat Pay notice", request={"application/json": {"type": "object"}},
                   responses={200: Output, **errors(401, 404, 409, 422)}, tags=["payments"],
                   parameters=[OpenApiParameter(name, str, OpenApiParameter.HEADER, required=False)
                               for name in ("Wechatpay-Signature", "Wechatpay-Timestamp", "Wechatpay-Nonce",
                                            "Wechatpay-Serial", "Wechatpay-Signature-Type")])
    def post(self, request):
        payments.payment_callback(provider=WECHATPAY, body=request.body, headers=request.headers)
        return Response({"code": "SUCCESS", "message": "成功"})


# --- coupons ----------------------------------------------------------------------------------------------------
class CouponTemplateOutput(serializers.Serializer):
    id = serializers.IntegerField()
    store_id = serializers.IntegerField()
    name = serializers.CharField()
    kind = serializers.CharField()
    amount_off = MoneyField(allow_null=True)
    threshold = MoneyField()
    percent_off = serializers.IntegerField(allow_null=True)
    max_discount = MoneyField(allow_null=True)
    scope = serializers.CharField()
    remaining = serializers.SerializerMethodField()
    valid_to = serializers.DateTimeField(allow_null=True)
    valid_days = serializers.IntegerField(allow_null=True)

    def get_remaining(self, template) -> int:
        return template.total_quantity - template.claimed_count


class UserCouponOutput(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField()
    valid_from = serializers.DateTimeField()
    valid_to = serializers.DateTimeField()
    template = CouponTemplateOutput()


class CartCouponOutput(serializers.Serializer):
    coupon = UserCouponOutput()
    usable = serializers.SerializerMethodField(help_text="这张购物车现在可用 usable on this cart now")
    discount = MoneyField(help_text="预计优惠 the estimated discount (checkout preview gives the exact one)")
    shortfall = MoneyField(help_text="还差多少可用 how much more of its scope reaches the threshold (凑单)")

    def get_usable(self, offer) -> bool:
        return offer.discount > 0


class CartStoreCouponsOutput(serializers.Serializer):
    store_id = serializers.IntegerField()
    coupons = CartCouponOutput(many=True)


class CartCouponsOutput(serializers.Serializer):
    stores = CartStoreCouponsOutput(many=True)


class CartCouponsApi(APIView):
    """购物车可用优惠券 My coupons for the cart, per store: usable ones with their discount, the others with what is
    missing."""

    @extend_schema(summary="购物车可用优惠券 Coupons for my cart", responses={200: CartCouponsOutput}, tags=["cart"])
    def get(self, request):
        cart = selectors.cart_of(user=request.user)
        offers = selectors.cart_coupons(user=request.user, cart=cart)
        return Response(CartCouponsOutput({"stores": [{"store_id": store_id, "coupons": coupons}
                                                      for store_id, coupons in offers.items()]}).data)


class CouponTemplateListApi(APIView):
    """可领取的优惠券 Coupons that can be claimed (optionally of one store)."""

    permission_classes = [AllowAny]
    pagination_class = PagePagination

    @extend_schema_serializer(component_name="CouponFilter")
    class Filter(serializers.Serializer):
        store = IdField(required=False)

    @extend_schema(summary="可领取的优惠券 List claimable coupons", parameters=[Filter],
                   responses={200: CouponTemplateOutput(many=True)}, tags=["coupons"])
    def get(self, request):
        filters = self.Filter(data=request.query_params)
        filters.is_valid(raise_exception=True)
        templates = CouponTemplate.objects.filter(is_active=True).order_by("-pk")
        if "store" in filters.validated_data:
            templates = templates.filter(store_id=filters.validated_data["store"])
        return paginate(self, templates, CouponTemplateOutput)


class CouponClaimApi(APIView):
    """领取优惠券 Claim a coupon."""

    @extend_schema_serializer(component_name="CouponClaimInput")
    class Input(serializers.Serializer):
        template_id = IdField()

    @extend_schema(summary="领取优惠券 Claim a coupon", request=Input,
                   responses={201: UserCouponOutput, **errors(404, 422)}, tags=["coupons"])
    def post(self, request):
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        coupon = coupons.coupon_claim(user=request.user, **data.validated_data)
        return Response(UserCouponOutput(coupon).data, status=201)


class MyCouponListApi(APIView):
    """我的优惠券 My coupons."""

    pagination_class = PagePagination

    @extend_schema_serializer(component_name="MyCouponFilter")
    class Filter(serializers.Serializer):
        status = serializers.ChoiceField(choices=UserCoupon.Status.choices, required=False)

    @extend_schema(summary="我的优惠券 List my coupons", parameters=[Filter],
                   responses={200: UserCouponOutput(many=True)}, tags=["coupons"])
    def get(self, request):
        filters = self.Filter(data=request.query_params)
        filters.is_valid(raise_exception=True)
        mine = UserCoupon.objects.filter(user=request.user).select_related("template").order_by("-pk")
        if "status" in filters.validated_data:
            mine = mine.filter(status=filters.validated_data["status"])
        return paginate(self, mine, UserCouponOutput)


# --- group-buys -------------------------------------------------------------------------------------------------
class GroupBuyCampaignOutput(serializers.Serializer):
    id = serializers.IntegerField()
    listing = ListingOutput()
    team_price = MoneyField()
    team_size = serializers.IntegerField()
    window_hours = serializers.IntegerField()
    per_user_limit = serializers.IntegerField()
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField()


class GroupBuyTeamOutput(serializers.Serializer):
    id = serializers.IntegerField()
    campaign_id = serializers.IntegerField()
    status = serializers.CharField()
    team_size = serializers.IntegerField()
    seats_taken = serializers.IntegerField()
    paid_members = serializers.IntegerField()
    expires_at = serializers.DateTimeField(allow_null=True)
    my_order_id = serializers.SerializerMethodField()

    def get_my_order_id(self, team) -> int | None:
        user = self.context.get("user")
        member = team.members.filter(user=user).exclude(status="released").first() if user else None
        return member.order_id if member else None


@extend_schema_serializer(component_name="GroupBuyJoinInput")
class GroupBuyJoinInput(serializers.Serializer):
    address_id = IdField()
    quantity = serializers.IntegerField(min_value=1, max_value=99, default=1)
    idempotency_key = IdempotencyKeyField()


class GroupBuyCampaignListApi(APIView):
    """拼团活动 Running group-buy campaigns."""

    permission_classes = [AllowAny]
    pagination_class = PagePagination

    @extend_schema(summary="拼团活动 List running group-buy campaigns",
                   responses={200: GroupBuyCampaignOutput(many=True)}, tags=["group-buys"])
    def get(self, request):
        from django.utils import timezone

        now = timezone.now()
        campaigns = (GroupBuyCampaign.objects.filter(is_active=True, starts_at__lte=now, ends_at__gt=now)
                     .select_related("listing__store", "listing__sku__product__category", "listing__sku__stock")
                     .prefetch_related("listing__sku__product__images").order_by("ends_at"))
        return paginate(self, campaigns, GroupBuyCampaignOutput)


class GroupBuyOpenApi(APIView):
    """开团 Open a team (pay the returned order to open it)."""

    @extend_schema(summary="开团 Open a group-buy team", request=GroupBuyJoinInput,
                   responses={201: GroupBuyTeamOutput, **errors(422)}, tags=["group-buys"])
    def post(self, request, campaign_id: int):
        data = GroupBuyJoinInput(data=request.data)
        data.is_valid(raise_exception=True)
        team = group_buys.group_buy_open(buyer=request.user, campaign_id=campaign_id, **data.validated_data)
        return Response(GroupBuyTeamOutput(team, context={"user": request.user}).data, status=201)


class GroupBuyJoinApi(APIView):
    """参团 Join an open team (pay the returned order within the pay window)."""

    @extend_schema(summary="参团 Join a group-buy team", request=GroupBuyJoinInput,
                   responses={201: GroupBuyTeamOutput, **errors(422)}, tags=["group-buys"])
    def post(self, request, team_id: int):
        data = GroupBuyJoinInput(data=request.data)
        data.is_valid(raise_exception=True)
        team = group_buys.group_buy_join(buyer=request.user, team_id=team_id, **data.validated_data)
        return Response(GroupBuyTeamOutput(team, context={"user": request.user}).data, status=201)


class GroupBuyTeamApi(APIView):
    """拼团详情 A team's status."""

    permission_classes = [AllowAny]

    @extend_schema(summary="拼团详情 Get a group-buy team", responses={200: GroupBuyTeamOutput}, tags=["group-buys"])
    def get(self, request, team_id: int):
        team = get_object_or_404(GroupBuyTeam, pk=team_id)
        user = request.user if request.user.is_authenticated else None
        return Response(GroupBuyTeamOutput(team, context={"user": user}).data)
