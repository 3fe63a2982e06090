"""Suppliers upload product pictures (POST /api/v1/supplier/products/<id>/images), list, delete and reorder them;
shoppers see them on listings. Uploads are checked by content with Pillow and stored through the storage API."""
import io

import pytest
from django.core.files.storage import default_storage
from django.test import override_settings
from PIL import Image
from rest_framework.test import APIClient

from supply import images
from supply.models import ProductImage
from tests.factories import ListingFactory, ProductFactory, SKUFactory, SupplierFactory
from tests.supply import pictures

pytestmark = pytest.mark.django_db


@pytest.fixture
def supplier():
    return SupplierFactory()


@pytest.fixture
def product(supplier):
    return ProductFactory(supplier=supplier, title="白色爱心挂饰")


def upload(supplier, product_id, data: bytes, *, name="photo.jpg", alt_text=None, client=None):
    body = {"image": io.BytesIO(data)}
    body["image"].name = name
    if alt_text is not None:
        body["alt_text"] = alt_text
    return (client or APIClient()).post(f"/api/v1/supplier/products/{product_id}/images", body, format="multipart",
                                        HTTP_AUTHORIZATION=f"Bearer {supplier.issued_token}")


def state(product) -> tuple:
    return list(ProductImage.objects.filter(product=product).values()), pictures.stored_files()


def test_a_valid_upload_stores_the_picture_and_its_thumbnails_and_answers_them(supplier, product):
    response = upload(supplier, product.pk, pictures.jpeg(2400, 1800), alt_text="正面")
    assert response.status_code == 201, response.json()
    assert response["Idempotent-Replayed"] == "false"
    body = response.json()
    image = ProductImage.objects.get(product=product)
    assert body["id"] == image.pk and body["position"] == 0 and body["generated"] is False
    assert (body["width"], body["height"]) == (1600, 1200)  # scaled to PRODUCT_IMAGE_LARGE_SIDE
    assert body["content_type"] == "image/jpeg" and body["alt_text"] == "正面"
    assert body["large_url"] == f"http://testserver/media/{image.file.name}"
    for name, longest in ((image.file.name, 1600), (image.thumbnail_medium.name, 800),
                          (image.thumbnail_small.name, 360)):
        assert default_storage.exists(name)
        stored = pictures.opened(name)
        assert stored.format == "JPEG" and max(stored.size) == longest
    assert image.size_bytes == default_storage.size(image.file.name)
    assert len(image.content_hash) == 64


def test_png_keeps_its_transparency_and_webp_its_format_thumbnails_are_jpeg(supplier, product):
    response = upload(supplier, product.pk, pictures.png(transparent=True), name="cut-out.png")
    assert response.status_code == 201
    image = ProductImage.objects.get(pk=response.json()["id"])
    stored = pictures.opened(image.file.name)
    assert (stored.format, stored.mode) == ("PNG", "RGBA")
    assert stored.getpixel((700, 10))[3] == 0  # the transparent half is still transparent
    thumbnail = pictures.opened(image.thumbnail_small.name)
    assert thumbnail.format == "JPEG" and thumbnail.getpixel((300, 10)) == (255, 255, 255)  # flattened on white
    response = upload(supplier, product.pk, pictures.webp(), name="p.webp")
    assert response.status_code == 201 and response.json()["content_type"] == "image/webp"


def test_exif_orientation_is_applied_and_metadata_stripped(supplier, product):
    data = pictures.jpeg(1200, 600, exif_orientation=pictures.ROTATED_90_CLOCKWISE, gps=True)
    assert Image.open(io.BytesIO(data)).getexif()[pictures.ORIENTATION] == pictures.ROTATED_90_CLOCKWISE
    response = upload(supplier, product.pk, data)
    assert response.status_code == 201
    assert (response.json()["width"], response.json()["height"]) == (600, 1200)  # displayed upright
    image = ProductImage.objects.get(pk=response.json()["id"])
    for name in (image.file.name, image.thumbnail_medium.name, image.thumbnail_small.name):
        stored = pictures.opened(name)
        assert not stored.getexif() and "exif" not in stored.info and "icc_profile" not in stored.info
        with default_storage.open(name) as handle:
            assert b"PhoneMaker" not in handle.read()
    upright = pictures.opened(image.file.name)
    red, blue = upright.getpixel((300, 100)), upright.getpixel((300, 1100))
    assert red[0] > 150 > red[2] and blue[2] > 150 > blue[0]  # the red left half is now on top


# name: (file, status, code)
REFUSALS = {
    "a text file named .jpg": (b"GIF? no: just some text pretending to be a photo\n" * 20, 400,
                               "image_type_unsupported"),
    "a GIF": (pictures.gif(), 400, "image_type_unsupported"),
    "too small": (pictures.jpeg(200, 600), 400, "image_too_small"),
    "sides beyond the maximum": (pictures.png_header_claiming(7000, 3000), 400, "image_dimensions_too_large"),
    "a decompression bomb's header": (pictures.png_header_claiming(100_000, 100_000), 400,
                                      "image_dimensions_too_large"),
    "a truncated JPEG": (pictures.jpeg(1600, 1200)[:6000], 400, "image_corrupt"),
    "a truncated PNG": (pictures.png(1000, 1000)[:-30], 400, "image_corrupt"),
}


@pytest.mark.parametrize("name", REFUSALS)
def test_a_refused_file_is_a_400_with_its_code_and_changes_nothing(supplier, product, name):
    data, status, code = REFUSALS[name]
    before = state(product)
    response = upload(supplier, product.pk, data, name="photo.jpg")
    assert (response.status_code, response.json()["code"]) == (status, code), response.json()
    assert set(response.json()) == {"code", "message", "detail"} and response.json()["message"]
    assert state(product) == before


@override_settings(PRODUCT_IMAGE_MAX_BYTES=50_000)
def test_a_file_over_the_size_limit_is_refused_before_it_is_decoded(supplier, product):
    before = state(product)
    response = upload(supplier, product.pk, pictures.jpeg(2000, 2000, quality=100))
    assert (response.status_code, response.json()["code"]) == (400, "image_too_large")
    assert response.json()["detail"]["max_bytes"] == 50_000
    assert state(product) == before
    english = APIClient(HTTP_ACCEPT_LANGUAGE="en")
    response = upload(supplier, product.pk, b"x" * 200_000, client=english)
    assert response.json()["message"] == "the picture is larger than 0.0476837 MB"
    assert state(product) == before


def test_refusals_speak_chinese_by_default(supplier, product):
    response = upload(supplier, product.pk, b"not a picture at all" * 10)
    assert response.json()["message"] == "不是 JPEG、PNG 或 WebP 图片"


def test_a_supplier_cannot_touch_another_suppliers_product(supplier, product):
    other = SupplierFactory()
    mine = upload(supplier, product.pk, pictures.jpeg()).json()
    before = state(product)
    client = APIClient()
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {other.issued_token}"}
    answers = [
        upload(other, product.pk, pictures.jpeg(900, 900)),
        client.get(f"/api/v1/supplier/products/{product.pk}/images", **bearer),
        client.delete(f"/api/v1/supplier/products/{product.pk}/images/{mine['id']}", **bearer),
        client.put(f"/api/v1/supplier/products/{product.pk}/images/order", {"image_ids": [mine["id"]]},
                   format="json", **bearer),
    ]
    for response in answers:
        assert (response.status_code, response.json()["code"]) == (404, "product_not_found")
    assert state(product) == before
    # an image id of another product, even the supplier's own, is not found under this product
    own_other_product = ProductFactory(supplier=other)
    response = client.delete(f"/api/v1/supplier/products/{own_other_product.pk}/images/{mine['id']}", **bearer)
    assert (response.status_code, response.json()["code"]) == (404, "image_not_found")
    assert state(product) == before


def test_no_token_or_a_wrong_one_is_a_401(product):
    before = state(product)
    response = APIClient().post(f"/api/v1/supplier/products/{product.pk}/images", {}, format="multipart")
    assert (response.status_code, response.json()["code"]) == (401, "supplier_token_missing")
    response = APIClient().get(f"/api/v1/supplier/products/{product.pk}/images", HTTP_AUTHORIZATION="Bearer nope")
    assert (response.status_code, response.json()["code"]) == (401, "supplier_token_invalid")
    assert state(product) == before


def test_the_same_file_again_is_the_same_picture(supplier, product):
    data = pictures.jpeg()
    first = upload(supplier, product.pk, data)
    files = pictures.stored_files()
    again = upload(supplier, product.pk, data, name="renamed.jpg", alt_text="另一个说明")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again["Idempotent-Replayed"] == "true" and again.json() == first.json()
    assert ProductImage.objects.filter(product=product).count() == 1
    assert pictures.stored_files() == files  # no second copy stored
    # the same file on another product of the supplier is a picture of that product
    other_product = ProductFactory(supplier=supplier)
    assert upload(supplier, other_product.pk, data).status_code == 201


@override_settings(PRODUCT_IMAGE_MAX_PER_PRODUCT=2)
def test_at_most_the_configured_number_of_pictures(supplier, product):
    for width in (900, 901):
        assert upload(supplier, product.pk, pictures.jpeg(width, 900)).status_code == 201
    before = state(product)
    response = upload(supplier, product.pk, pictures.jpeg(902, 900))
    assert (response.status_code, response.json()["code"]) == (422, "image_limit_reached")
    assert response.json()["detail"] == {"max_images": 2}
    assert state(product) == before


def test_missing_file_and_long_alt_text_are_400s(supplier, product):
    before = state(product)
    response = APIClient().post(f"/api/v1/supplier/products/{product.pk}/images", {"alt_text": "x"},
                                format="multipart", HTTP_AUTHORIZATION=f"Bearer {supplier.issued_token}")
    assert (response.status_code, response.json()["code"]) == (400, "invalid")
    assert "image" in response.json()["detail"]
    response = upload(supplier, product.pk, pictures.jpeg(), alt_text="长" * 201)
    assert (response.status_code, response.json()["code"]) == (400, "invalid")
    response = APIClient().post(f"/api/v1/supplier/products/{product.pk}/images", {"image": "x"}, format="json",
                                HTTP_AUTHORIZATION=f"Bearer {supplier.issued_token}")
    assert (response.status_code, response.json()["code"]) == (400, "invalid")  # a string is not a file
    assert state(product) == before


def test_list_delete_and_reorder(supplier, product, django_capture_on_commit_callbacks):
    first, second, third = (upload(supplier, product.pk, pictures.jpeg(900 + n, 900)).json() for n in range(3))
    client = APIClient(HTTP_AUTHORIZATION=f"Bearer {supplier.issued_token}")
    listed = client.get(f"/api/v1/supplier/products/{product.pk}/images").json()
    assert [row["id"] for row in listed] == [first["id"], second["id"], third["id"]]
    assert set(listed[0]) == {"id", "position", "small_url", "medium_url", "large_url", "width", "height",
                              "size_bytes", "content_type", "alt_text", "generated", "created_at"}

    response = client.put(f"/api/v1/supplier/products/{product.pk}/images/order",
                          {"image_ids": [third["id"], first["id"], second["id"]]}, format="json")
    assert response.status_code == 200
    assert [(row["id"], row["position"]) for row in response.json()] == [(third["id"], 0), (first["id"], 1),
                                                                         (second["id"], 2)]
    before = state(product)
    for wrong in ([third["id"], first["id"]], [third["id"], first["id"], first["id"]],
                  [third["id"], first["id"], second["id"], 999]):
        response = client.put(f"/api/v1/supplier/products/{product.pk}/images/order", {"image_ids": wrong},
                              format="json")
        assert (response.status_code, response.json()["code"]) == (400, "image_order_mismatch"), wrong
    assert state(product) == before

    removed = ProductImage.objects.get(pk=first["id"])
    names = [removed.file.name, removed.thumbnail_medium.name, removed.thumbnail_small.name]
    with django_capture_on_commit_callbacks(execute=True):
        response = client.delete(f"/api/v1/supplier/products/{product.pk}/images/{first['id']}")
    assert response.status_code == 204
    assert not any(default_storage.exists(name) for name in names)
    assert list(ProductImage.objects.filter(product=product).values_list("pk", flat=True)) == [third["id"],
                                                                                             second["id"]]
    response = client.delete(f"/api/v1/supplier/products/{product.pk}/images/{first['id']}")
    assert (response.status_code, response.json()["code"]) == (404, "image_not_found")


def test_an_upload_replaces_the_generated_placeholder(supplier, product, django_capture_on_commit_callbacks):
    assert images.product_picture_generate(product_id=product.pk) == "created"
    placeholder = ProductImage.objects.get(product=product)
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(supplier, product.pk, pictures.jpeg())
    assert response.status_code == 201
    assert list(ProductImage.objects.filter(product=product).values_list("is_generated", flat=True)) == [False]
    assert not default_storage.exists(placeholder.file.name)
    assert images.product_picture_generate(product_id=product.pk) == "skipped"  # a real picture is not covered


def test_a_storage_outage_is_a_503_and_leaves_nothing(supplier, product, settings, tmp_path):
    before_rows = list(ProductImage.objects.filter(product=product).values())
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the media folder should be: every write fails")
    settings.MEDIA_ROOT = str(blocked)
    response = upload(supplier, product.pk, pictures.jpeg())
    assert (response.status_code, response.json()["code"]) == (503, "image_storage_unavailable")
    assert list(ProductImage.objects.filter(product=product).values()) == before_rows


# --- what shoppers get ------------------------------------------------------------------------------------------
SHOPPER_IMAGE_KEYS = {"small_url", "medium_url", "large_url", "width", "height", "alt", "generated"}


def test_listings_carry_their_pictures_in_order_and_nothing_internal(supplier, product):
    listing = ListingFactory(sku=SKUFactory(product=product))
    first = upload(supplier, product.pk, pictures.jpeg(), alt_text="正面").json()
    second = upload(supplier, product.pk, pictures.png(), alt_text="侧面").json()
    APIClient().put(f"/api/v1/supplier/products/{product.pk}/images/order",
                    {"image_ids": [second["id"], first["id"]]}, format="json",
                    HTTP_AUTHORIZATION=f"Bearer {supplier.issued_token}")
    stored = {image.pk: image for image in ProductImage.objects.filter(product=product)}
    detail = APIClient().get(f"/api/v1/listings/{listing.pk}").json()
    found = APIClient().get("/api/v1/listings").json()["results"]
    assert [row["id"] for row in found] == [listing.pk]
    for pictures_sent in (detail["images"], found[0]["images"]):
        assert [picture["alt"] for picture in pictures_sent] == ["侧面", "正面"]
        for picture, image in zip(pictures_sent, [stored[second["id"]], stored[first["id"]]], strict=True):
            assert set(picture) == SHOPPER_IMAGE_KEYS
            assert picture["small_url"] == f"http://testserver/media/{image.thumbnail_small.name}"
            assert picture["medium_url"] == f"http://testserver/media/{image.thumbnail_medium.name}"
            assert picture["large_url"] == f"http://testserver/media/{image.file.name}"
            assert (picture["width"], picture["height"], picture["generated"]) == (image.width, image.height, False)
    body = APIClient().get(f"/api/v1/listings/{listing.pk}").content.decode()
    for image in stored.values():
        assert image.content_hash not in body and str(image.size_bytes) not in body
    assert "image_urls" not in detail and "content_hash" not in body and "drawn_title" not in body


def test_a_listing_list_reads_pictures_in_one_query(supplier, django_assert_max_num_queries):
    for number in range(5):
        product = ProductFactory(supplier=supplier)
        ListingFactory(sku=SKUFactory(product=product))
        upload(supplier, product.pk, pictures.jpeg(900 + number, 900))
    with django_assert_max_num_queries(3):  # count, page, pictures
        response = APIClient().get("/api/v1/listings")
    assert [len(row["images"]) for row in response.json()["results"]] == [1] * 5


def test_the_schema_types_the_pictures(api_client):
    schema = api_client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    listing = schema["components"]["schemas"]["ListingOutput"]["properties"]["images"]
    image = schema["components"]["schemas"][listing["items"]["$ref"].rsplit("/", 1)[-1]]
    assert set(image["properties"]) == SHOPPER_IMAGE_KEYS
    upload_operation = schema["paths"]["/api/v1/supplier/products/{product_id}/images"]["post"]
    assert "multipart/form-data" in upload_operation["requestBody"]["content"]
    assert {"201", "200", "400", "401", "404", "422", "503"} <= set(upload_operation["responses"])


@pytest.mark.django_db(transaction=True)
def test_the_migration_moves_image_urls_into_external_pictures_and_back():
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    before, after = ("supply", "0007_product_search_vector_and_words"), ("supply", "0009_drop_product_image_urls")
    executor = MigrationExecutor(connection)
    executor.migrate([before])
    try:
        old = MigrationExecutor(connection).loader.project_state([before]).apps
        supplier = old.get_model("supply", "Supplier").objects.create(name="旧供应商", api_token_hash="0" * 64)
        category = old.get_model("supply", "Category").objects.create(name="旧类目")
        product = old.get_model("supply", "Product").objects.create(
            supplier=supplier, category=category, title="旧商品",
            image_urls=["https://img.example.cn/a.jpg", "https://img.example.cn/b.jpg", "https://img.example.cn/a.jpg"])
        MigrationExecutor(connection).migrate([after])
        moved = list(ProductImage.objects.filter(product_id=product.pk).values_list("position", "external_url",
                                                                                     "file", "alt_text"))
        assert moved == [(0, "https://img.example.cn/a.jpg", "", "旧商品"),
                         (1, "https://img.example.cn/b.jpg", "", "旧商品")]  # in order, the repeated URL once
        urls = images.product_image_urls(image=ProductImage.objects.filter(product_id=product.pk).first())
        assert urls == dict.fromkeys(("large", "medium", "small"), "https://img.example.cn/a.jpg")
        MigrationExecutor(connection).migrate([before])
        restored = MigrationExecutor(connection).loader.project_state([before]).apps.get_model("supply", "Product")
        assert restored.objects.get(pk=product.pk).image_urls == ["https://img.example.cn/a.jpg",
                                                                   "https://img.example.cn/b.jpg"]
    finally:
        MigrationExecutor(connection).migrate([after])
