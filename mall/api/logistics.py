"""Logistics callbacks: carriers' tracking pushes. No user calls these; the push's signature is its authentication.

One class per operation: take the raw form fields, call one service, answer what the sender expects.
"""
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from core.openapi import errors
from mall.services import tracking


class Kuaidi100TrackingPushApi(APIView):
    """快递100 订阅推送 Kuaidi100 tracking push: a status update of one tracking number.

    Form fields `param` (JSON: status, billstatus, message, lastResult {state, ischeck, com, nu, data[]}) and `sign`
    (upper-case hex MD5 of param + TRACKING_PUSH_SALT). Idempotent; an older push never overwrites a newer one;
    state 3 (签收) with ischeck 1 delivers the shipment. Answers 404 while TRACKING_PUSH_SALT is empty.
    """

    permission_classes = [AllowAny]
    authentication_classes: list = []

    @extend_schema_serializer(component_name="Kuaidi100TrackingPushInput")
    class Input(serializers.Serializer):
        param = serializers.CharField(help_text="推送内容 JSON: {status, billstatus, message, lastResult: {message, "
                                                "state, ischeck, com, nu, data: [{context, time, ftime, ...}]}}")
        sign = serializers.CharField(help_text="签名 upper-case hex MD5(param + salt)")

    @extend_schema_serializer(component_name="Kuaidi100TrackingPushOutput")
    class Output(serializers.Serializer):
        result = serializers.BooleanField()
        returnCode = serializers.CharField()  # Kuaidi100's field name
        message = serializers.CharField()

    @extend_schema(
        summary="快递100 物流推送 Receive a Kuaidi100 tracking push",
        request={"application/x-www-form-urlencoded": Input},
        responses={200: Output, **errors(401, 404)},
        examples=[OpenApiExample("received", value=tracking.SUCCESS_ANSWER, response_only=True, status_codes=["200"])],
        tags=["logistics"],
    )
    def post(self, request):
        # Raw fields: the sign covers `param` exactly as sent, and a missing field is the service's refusal to make.
        # Kuaidi100 posts a form; the API's other parsers still vet whatever else arrives (then sign and param
        # are whatever strings it holds, or empty).
        fields = request.data if isinstance(request.data, dict) else {}
        param, sign = fields.get("param", ""), fields.get("sign", "")
        tracking.tracking_push_receive(param=param if isinstance(param, str) else "",
                                       sign=sign if isinstance(sign, str) else "")
        return Response(tracking.SUCCESS_ANSWER)
