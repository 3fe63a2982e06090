"""Supplier REST API, authenticated by the supplier's API token: `Authorization: Bearer <token>`."""
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from core.errors import NotAuthenticated
from core.fields import IdField
from core.openapi import errors
from supply import images, imaging, services
from supply.models import ProductImage, Supplier


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


# --- product pictures ------------------------------------------------------------------------------------------
# A multipart body carries the file and a few short fields: anything much longer than the file limit is refused
# from its Content-Length, before the body is read.
MULTIPART_OVERHEAD_BYTES = 64 * 1024
REPLAYED_HEADER = OpenApiParameter("Idempotent-Replayed", str, OpenApiParameter.HEADER, response=[200, 201],
                                   enum=["true", "false"],
                                   description="true when this file was on the product already (the answer is "
                                               "that picture, 200)")


@extend_schema_serializer(component_name="SupplierProductImage")
class ProductImageOutput(serializers.Serializer):
    """A picture as its supplier sees it: no storage name, bucket or content hash either."""

    id = serializers.IntegerField()
    position = serializers.IntegerField(help_text="展示顺序，从 0 起 display order, from 0")
    small_url = serializers.CharField(help_text="列表缩略图 list thumbnail (360 px)")
    medium_url = serializers.CharField(help_text="详情图 detail picture (800 px)")
    large_url = serializers.CharField(help_text="大图 the stored picture (at most 1600 px)")
    width = serializers.IntegerField(allow_null=True)
    height = serializers.IntegerField(allow_null=True)
    size_bytes = serializers.IntegerField(help_text="大图文件大小 bytes of the large picture (0: external)")
    content_type = serializers.CharField(help_text="image/jpeg, image/png or image/webp; empty for an external URL")
    alt_text = serializers.CharField()
    generated = serializers.BooleanField(help_text="系统生成的示意图 a generated placeholder (replaced by the "
                                                   "first upload)")
    created_at = serializers.DateTimeField()

    def to_representation(self, image: ProductImage) -> dict:
        request = self.context.get("request")
        urls = {size: request.build_absolute_uri(url) if request is not None and url.startswith("/") else url
                for size, url in images.product_image_urls(image=image).items()}
        return {"id": image.pk, "position": image.position, "small_url": urls["small"],
                "medium_url": urls["medium"], "large_url": urls["large"], "width": image.width,
                "height": image.height, "size_bytes": image.size_bytes, "content_type": image.content_type,
                "alt_text": image.alt_text, "generated": image.is_generated,
                "created_at": serializers.DateTimeField().to_representation(image.created_at)}


class ProductImageListApi(APIView):
    """商品图片 A product's pictures: list them, upload one (multipart: `image`, optional `alt_text`).

    An upload is checked by its content: JPEG, PNG or WebP, at most PRODUCT_IMAGE_MAX_BYTES (5 MB), each side
    between PRODUCT_IMAGE_MIN_SIDE and PRODUCT_IMAGE_MAX_SIDE pixels, not damaged; EXIF orientation is applied and
    metadata stripped, and thumbnails are made before the answer. The same file sent again is the same picture
    (200, `Idempotent-Replayed: true`). Another supplier's product is 404."""

    permission_classes = [AllowAny]
    authentication_classes: list = []

    @extend_schema_serializer(component_name="SupplierProductImageUploadInput")
    class Input(serializers.Serializer):
        image = serializers.FileField(help_text="JPEG、PNG 或 WebP 图片文件 the picture (JPEG, PNG or WebP)")
        alt_text = serializers.CharField(required=False, allow_blank=True, max_length=images.ALT_TEXT_MAX_LENGTH,
                                         help_text="图片说明，默认为商品标题 alt text (default: the product's title)")

    @extend_schema(summary="商品图片列表 List a product's pictures", responses={200: ProductImageOutput(many=True),
                   **errors(401, 404)}, auth=[{"supplierToken": []}], tags=["supplier"])
    def get(self, request, product_id: int):
        supplier = supplier_from_request(request)
        product = images.product_of_supplier(supplier=supplier, product_id=product_id)
        return Response(ProductImageOutput(product.images.all(), many=True, context={"request": request}).data)

    @extend_schema(summary="上传商品图片 Upload a product picture", request={"multipart/form-data": Input},
                   responses={201: ProductImageOutput, 200: ProductImageOutput, **errors(401, 404, 422, 503)},
                   auth=[{"supplierToken": []}], tags=["supplier"], parameters=[REPLAYED_HEADER])
    def post(self, request, product_id: int):
        supplier = supplier_from_request(request)
        images.product_of_supplier(supplier=supplier, product_id=product_id)
        limits = images.image_limits()
        content_length = request.META.get("CONTENT_LENGTH") or "0"
        if content_length.isdigit() and int(content_length) > limits.max_bytes + MULTIPART_OVERHEAD_BYTES:
            imaging.size_check(size=int(content_length), limits=limits)
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        upload = data.validated_data["image"]
        imaging.size_check(size=upload.size, limits=limits)
        uploaded = images.product_image_upload(supplier=supplier, product_id=product_id, data=upload.read(),
                                               alt_text=data.validated_data.get("alt_text", ""))
        return Response(ProductImageOutput(uploaded.image, context={"request": request}).data,
                        status=201 if uploaded.created else 200,
                        headers={"Idempotent-Replayed": "false" if uploaded.created else "true"})


class ProductImageApi(APIView):
    """删除商品图片 Delete one picture of a product (its files go after the commit)."""

    permission_classes = [AllowAny]
    authentication_classes: list = []

    @extend_schema(summary="删除商品图片 Delete a product picture", responses={204: None, **errors(401, 404)},
                   auth=[{"supplierToken": []}], tags=["supplier"])
    def delete(self, request, product_id: int, image_id: int):
        supplier = supplier_from_request(request)
        images.product_image_delete(supplier=supplier, product_id=product_id, image_id=image_id)
        return Response(status=204)


class ProductImageOrderApi(APIView):
    """图片排序 Put a product's pictures in a new order: `image_ids` names each of them exactly once, first shown
    first."""

    permission_classes = [AllowAny]
    authentication_classes: list = []

    @extend_schema_serializer(component_name="SupplierProductImageOrderInput")
    class Input(serializers.Serializer):
        image_ids = serializers.ListField(child=IdField(), allow_empty=False, max_length=100)

    @extend_schema(summary="调整图片顺序 Reorder a product's pictures", request=Input,
                   responses={200: ProductImageOutput(many=True), **errors(401, 404)},
                   auth=[{"supplierToken": []}], tags=["supplier"])
    def put(self, request, product_id: int):
        supplier = supplier_from_request(request)
        images.product_of_supplier(supplier=supplier, product_id=product_id)
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        ordered = images.product_images_reorder(supplier=supplier, product_id=product_id,
                                                image_ids=data.validated_data["image_ids"])
        return Response(ProductImageOutput(ordered, many=True, context={"request": request}).data)
