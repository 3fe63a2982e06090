"""The pictures inline on the supplier console's product page: upload, refusals as Chinese form errors, edits and
deletes; and the operator admin's read-only view of them."""
import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings
from django.urls import reverse

from accounts.models import Role
from supply import images
from supply.models import Product, ProductImage
from tests.factories import ProductFactory, SupplierFactory, UserFactory
from tests.supply import pictures

pytestmark = pytest.mark.django_db


@pytest.fixture
def member():
    user = UserFactory(role=Role.SUPPLIER_STAFF)
    supplier = SupplierFactory()
    supplier.staff.add(user)
    user.supplier = supplier
    return user


@pytest.fixture
def product(member):
    return ProductFactory(supplier=member.supplier, title="龙井茶 LONGJING")


def page_data(product: Product, *rows: dict, existing: tuple = ()) -> dict:
    """The product form as the page posts it, with the pictures inline: `existing` rows first, then new ones."""
    data = {"title": product.title, "category": product.category_id, "status": product.status,
            "shipping_template": "", "description": product.description, "attributes": "",
            "skus-TOTAL_FORMS": "0", "skus-INITIAL_FORMS": "0", "skus-MIN_NUM_FORMS": "0",
            "skus-MAX_NUM_FORMS": "1000",
            "images-TOTAL_FORMS": str(len(existing) + len(rows)), "images-INITIAL_FORMS": str(len(existing)),
            "images-MIN_NUM_FORMS": "0", "images-MAX_NUM_FORMS": "1000"}
    for index, row in enumerate([*existing, *rows]):
        data.update({f"images-{index}-{name}": value for name, value in row.items()})
        data[f"images-{index}-product"] = product.pk
    return data


def new_row(data: bytes, name: str = "photo.jpg", alt_text: str = "") -> dict:
    return {"upload": SimpleUploadedFile(name, data, content_type="image/jpeg"), "alt_text": alt_text,
            "position": ""}


def change_url(product) -> str:
    return reverse("supplier_console:supply_product_change", args=[product.pk])


def inline_errors(response) -> list[str]:
    formset = next(formset for formset in response.context["inline_admin_formsets"]
                   if formset.formset.prefix == "images").formset
    return [str(message) for form in formset.forms for messages in form.errors.values() for message in messages] + [
        str(message) for message in formset.non_form_errors()]


@pytest.mark.django_db(transaction=True)
def test_a_member_uploads_a_picture_on_the_product_page(client, member, product):
    """Committed for real: the upload runs when the page's transaction commits, before the answer is sent."""
    client.force_login(member)
    page = client.get(change_url(product)).content.decode()
    assert 'name="images-0-upload"' in page and 'enctype="multipart/form-data"' in page
    response = client.post(change_url(product), page_data(product, new_row(pictures.jpeg(), alt_text="正面")),
                           follow=True)
    assert response.status_code == 200
    image = ProductImage.objects.get(product=product)
    assert (image.alt_text, image.is_generated, image.width) == ("正面", False, 1200)
    assert default_storage.exists(image.thumbnail_small.name)
    shown = [str(message) for message in response.context["messages"]]
    assert any("图片已上传" in message for message in shown)
    assert default_storage.url(image.thumbnail_small.name) in client.get(change_url(product)).content.decode()


REFUSED = {
    "a text file named .jpg": (b"just text, not a picture\n" * 40, "不是 JPEG、PNG 或 WebP 图片"),
    "too small": (pictures.jpeg(100, 100), "图片边长不足 240 像素"),
    "truncated": (pictures.jpeg(1600, 1200)[:5000], "图片已损坏或不完整"),
}


@pytest.mark.parametrize("name", REFUSED)
def test_a_refused_upload_is_a_chinese_error_on_its_row_and_saves_nothing(client, member, product, name,
                                                                          django_capture_on_commit_callbacks):
    data, message = REFUSED[name]
    client.force_login(member)
    before = pictures.stored_files()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client.post(change_url(product), page_data(product, new_row(data)))
    assert response.status_code == 200  # the page again, with the error
    assert message in inline_errors(response)
    assert message in response.content.decode()
    assert not callbacks and not ProductImage.objects.filter(product=product).exists()
    assert pictures.stored_files() == before


@override_settings(PRODUCT_IMAGE_MAX_BYTES=30_000)
def test_a_file_over_the_limit_is_refused_on_its_row(client, member, product):
    client.force_login(member)
    response = client.post(change_url(product), page_data(product, new_row(pictures.jpeg(2000, 2000, quality=100))))
    assert response.status_code == 200
    assert "图片超过 0.0286102 MB" in inline_errors(response)
    assert not ProductImage.objects.filter(product=product).exists()


def test_a_duplicate_or_too_many_pictures_are_refused_on_the_page(client, member, product):
    client.force_login(member)
    existing = images.product_image_upload(supplier=member.supplier, product_id=product.pk,
                                           data=pictures.jpeg()).image
    kept = {"id": existing.pk, "alt_text": existing.alt_text, "position": "0", "upload": ""}
    response = client.post(change_url(product), page_data(product, new_row(pictures.jpeg()), existing=(kept,)))
    assert response.status_code == 200
    assert "这张图片已经上传过 (this picture is on the product already)" in inline_errors(response)
    with override_settings(PRODUCT_IMAGE_MAX_PER_PRODUCT=2):
        response = client.post(change_url(product), page_data(
            product, new_row(pictures.jpeg(900, 900)), new_row(pictures.jpeg(901, 900)), existing=(kept,)))
    assert response.status_code == 200
    assert "每个商品最多 2 张图片 (at most 2 pictures a product)" in inline_errors(response)
    assert list(ProductImage.objects.filter(product=product).values_list("pk", flat=True)) == [existing.pk]


@pytest.mark.django_db(transaction=True)
def test_rows_are_edited_and_deleted_through_the_page(client, member, product):
    client.force_login(member)
    first = images.product_image_upload(supplier=member.supplier, product_id=product.pk,
                                        data=pictures.jpeg(900, 900)).image
    second = images.product_image_upload(supplier=member.supplier, product_id=product.pk,
                                         data=pictures.png()).image
    page = client.get(change_url(product)).content.decode()
    assert 'enctype="multipart/form-data"' in page  # also when the first row is a stored picture
    # a file input on the new row only: a stored picture is not replaced in place
    assert 'type="file" name="images-2-upload"' in page
    assert 'name="images-0-upload"' not in page and 'name="images-1-upload"' not in page
    rows = ({"id": first.pk, "alt_text": "旧说明", "position": "0", "upload": "", "DELETE": "on"},
            {"id": second.pk, "alt_text": "新说明", "position": "0", "upload": ""})
    response = client.post(change_url(product), page_data(product, existing=rows))
    assert response.status_code == 302, inline_errors(response)
    assert list(ProductImage.objects.filter(product=product).values_list("pk", "alt_text")) == [(second.pk,
                                                                                                 "新说明")]
    assert not default_storage.exists(first.file.name) and default_storage.exists(second.file.name)


def test_pictures_are_added_once_the_product_is_saved(client, member):
    client.force_login(member)
    page = client.get(reverse("supplier_console:supply_product_add")).content.decode()
    assert 'name="skus-TOTAL_FORMS"' in page and 'name="images-TOTAL_FORMS"' not in page


def test_another_suppliers_member_cannot_open_the_page(client, product):
    stranger = UserFactory(role=Role.SUPPLIER_STAFF)
    SupplierFactory().staff.add(stranger)
    client.force_login(stranger)
    before = pictures.stored_files()
    response = client.post(change_url(product), page_data(product, new_row(pictures.jpeg())))
    assert response.status_code in (302, 404)
    assert not ProductImage.objects.filter(product=product).exists() and pictures.stored_files() == before


def test_the_operator_admin_shows_the_pictures_read_only(client, member, product):
    operator = UserFactory(role=Role.OPERATOR, is_staff=True, is_superuser=True)
    image = images.product_image_upload(supplier=member.supplier, product_id=product.pk, data=pictures.jpeg(),
                                        alt_text="正面").image
    client.force_login(operator)
    page = client.get(reverse("admin:supply_product_change", args=[product.pk])).content.decode()
    assert default_storage.url(image.thumbnail_small.name) in page and "正面" in page
    assert 'name="images-0-upload"' not in page
