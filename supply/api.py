"""Supplier REST API, authenticated by the supplier's API token: `Authorization: Bearer <token>`."""
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from core.errors import NotAuthenticated
from core.openapi import errors
from supply import services
from supply.models import Supplier


def supplier_from_request(request) -> Supplier:
    header = request.headers.get("Authorization", "")
    token = header[7:].strip() if header.startswith("Bearer ") else ""
    if not token:
        raise NotAuthenticated(_("Authorization: Bearer <supplier token> required"),
                               code="supplier_token_missing")
    return services.supplier_by_token(token=token)


class InventorySyncApi(APIView):
    """库存同步 Suppliers' systems push stock counts: idempotent per batch id, monotonic per SKU (`as_of`),
    up to 5,000 rows a call. A batch id sent again gets the first answer again, with the header
    `Idempotent-Replayed: true`."""

    permission_classes = [AllowAny]
    authentication_classes: list = []

    @extend_schema_serializer(component_name="InventorySyncRow")
    class Row(serializers.Serializer):
        sku = serializers.CharField(max_length=64)
        quantity = serializers.IntegerField(min_value=0, max_value=10_000_000)
        as_of = serializers.DateTimeField()

    @extend_schema_serializer(component_name="InventorySyncInput")
    class Input(serializers.Serializer):
        batch_id = serializers.RegexField(r"^[A-Za-z0-9_:\-\.]{1,64}$")
        rows = serializers.ListField(child=serializers.DictField(), allow_empty=False,
                                     max_length=services.INVENTORY_SYNC_MAX_ROWS)

    @extend_schema_serializer(component_name="InventorySyncOutput")
    class Output(serializers.Serializer):
        batch_id = serializers.CharField()
        received = serializers.IntegerField()
        applied = serializers.IntegerField()
        stale = serializers.ListField(child=serializers.CharField())
        unknown = serializers.ListField(child=serializers.CharField())

    @extend_schema(summary="库存同步 Sync stock counts", request=Input, responses={200: Output, **errors(401)},
                   auth=[{"supplierToken": []}], tags=["supplier"],
                   parameters=[OpenApiParameter("Idempotent-Replayed", str, OpenApiParameter.HEADER, response=[200],
                                                enum=["true", "false"],
                                                description="true when this batch id was applied before")])
    def put(self, request):
        supplier = supplier_from_request(request)
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        # Rows are validated with a plain serializer loop: DRF's nested many=True is slow for 5,000 rows.
        rows, errors = [], {}
        for index, raw in enumerate(data.validated_data["rows"]):
            row = self.Row(data=raw)
            if row.is_valid():
                rows.append(services.SyncRow(sku_code=row.validated_data["sku"],
                                             quantity=row.validated_data["quantity"],
                                             as_of=row.validated_data["as_of"]))
            else:
                errors[index] = row.errors
        if errors:
            raise serializers.ValidationError({"rows": errors})
        outcome = services.inventory_sync(supplier=supplier, batch_id=data.validated_data["batch_id"], rows=rows)
        return Response(self.Output(outcome.result).data,
                        headers={"Idempotent-Replayed": "true" if outcome.replayed else "false"})
