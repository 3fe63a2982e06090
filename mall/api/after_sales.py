"""Shopper API of after-sales (售后): ask for a refund or a return, follow it, send the goods back, withdraw.

Merchants approve, refuse and confirm returns in the merchant console (services in mall.services.after_sales).
One class per operation: validate, call one service, render.
"""
from drf_spectacular.utils import extend_schema, extend_schema_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import PagePagination
from core.fields import IdField, MoneyField
from core.openapi import errors
from mall.api.shop import paginate
from mall.models import AfterSale
from mall.services import after_sales


class AfterSaleOutput(serializers.Serializer):
    id = serializers.IntegerField()
    order_id = serializers.IntegerField()
    order_number = serializers.CharField(source="order.number")
    line_id = serializers.IntegerField()
    title = serializers.CharField(source="line.title")
    kind = serializers.CharField()
    kind_display = serializers.CharField(source="get_kind_display")
    status = serializers.CharField()
    status_display = serializers.CharField(source="get_status_display")
    quantity = serializers.IntegerField()
    reason = serializers.CharField()
    refund_amount = MoneyField()
    return_carrier = serializers.CharField()
    return_tracking_number = serializers.CharField()
    merchant_note = serializers.CharField()
    created_at = serializers.DateTimeField()
    decided_at = serializers.DateTimeField(allow_null=True)
    refunded_at = serializers.DateTimeField(allow_null=True)


def _render(buyer, after_sale_id: int) -> dict:
    return AfterSaleOutput(after_sales.after_sale_for_buyer(buyer=buyer, after_sale_id=after_sale_id)).data


class AfterSaleRequestApi(APIView):
    """申请售后 Ask for a refund (仅退款) or a return and refund (退货退款) of units of one order line."""

    @extend_schema_serializer(component_name="AfterSaleRequestInput")
    class Input(serializers.Serializer):
        line_id = IdField()
        kind = serializers.ChoiceField(choices=AfterSale.Kind.choices)
        quantity = serializers.IntegerField(min_value=1, max_value=999)
        reason = serializers.CharField(max_length=200, trim_whitespace=True)

    @extend_schema(summary="申请售后 Request a refund or a return", request=Input,
                   responses={201: AfterSaleOutput, **errors(409, 422)}, tags=["after-sales"])
    def post(self, request, order_id: int):
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        after_sale = after_sales.after_sale_request(buyer=request.user, order_id=order_id, **data.validated_data)
        return Response(_render(request.user, after_sale.pk), status=201)


class AfterSaleListApi(APIView):
    """我的售后 My after-sale requests, newest first."""

    pagination_class = PagePagination

    @extend_schema(summary="我的售后 List my after-sale requests", responses={200: AfterSaleOutput(many=True)},
                   tags=["after-sales"])
    def get(self, request):
        return paginate(self, after_sales.after_sales_of(buyer=request.user), AfterSaleOutput)


class AfterSaleDetailApi(APIView):
    """售后详情 One of my after-sale requests."""

    @extend_schema(summary="售后详情 Get an after-sale request", responses={200: AfterSaleOutput},
                   tags=["after-sales"])
    def get(self, request, after_sale_id: int):
        return Response(_render(request.user, after_sale_id))


class AfterSaleReturnShipmentApi(APIView):
    """填写退货物流 I have sent the goods back: carrier and tracking number."""

    @extend_schema_serializer(component_name="AfterSaleReturnShipmentInput")
    class Input(serializers.Serializer):
        carrier = serializers.CharField(max_length=64)
        tracking_number = serializers.RegexField(r"^[A-Za-z0-9\-]{4,64}$", max_length=64)

    @extend_schema(summary="填写退货物流 Send the return shipment", request=Input,
                   responses={200: AfterSaleOutput, **errors(409)}, tags=["after-sales"])
    def post(self, request, after_sale_id: int):
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        after_sales.after_sale_return_ship(buyer=request.user, after_sale_id=after_sale_id, **data.validated_data)
        return Response(_render(request.user, after_sale_id))


class AfterSaleWithdrawApi(APIView):
    """撤销售后 Withdraw my request (before the goods are on their way back)."""

    @extend_schema(summary="撤销售后 Withdraw an after-sale request", request=None,
                   responses={200: AfterSaleOutput, **errors(409)}, tags=["after-sales"])
    def post(self, request, after_sale_id: int):
        after_sales.after_sale_withdraw(buyer=request.user, after_sale_id=after_sale_id)
        return Response(_render(request.user, after_sale_id))
