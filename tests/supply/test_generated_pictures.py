"""Products without a picture get a generated one: their category's colour with the title drawn in a CJK font,
marked generated, the same every time, redrawn when the title or the colour changes."""
import pytest
from django.core.files.storage import default_storage
from django.core.management import call_command
from rest_framework.test import APIClient

from supply import images, imaging
from supply.models import Category, ProductImage
from tests.factories import CategoryFactory, ListingFactory, ProductFactory, SKUFactory
from tests.supply import pictures

pytestmark = pytest.mark.django_db


@pytest.fixture
def category():
    top = CategoryFactory(name="家居装饰", colour="#2E86AB")
    return CategoryFactory(name="蜡烛灯饰", parent=top)


def test_the_generated_picture_has_the_category_colour_and_is_marked(category):
    product = ProductFactory(category=category, title="白色爱心挂饰心形T灯座")
    assert images.product_picture_generate(product_id=product.pk) == "created"
    image = ProductImage.objects.get(product=product)
    assert image.is_generated and image.position == 0
    assert (image.drawn_title, image.drawn_colour) == ("白色爱心挂饰心形T灯座", "#2E86AB")  # the parent's colour
    assert image.alt_text == "白色爱心挂饰心形T灯座" and image.content_type == "image/png"
    drawn = pictures.opened(image.file.name).convert("RGB")
    assert drawn.size == (800, 800) and (image.width, image.height) == (800, 800)
    assert drawn.getpixel((5, 5)) == (0x2E, 0x86, 0xAB) == drawn.getpixel((795, 400))
    # the title is drawn: the middle band holds many pixels of the ink (white on this dark blue)
    band = drawn.crop((64, 250, 736, 550))
    assert sum(1 for pixel in band.get_flattened_data() if pixel == (255, 255, 255)) > 2000
    for name, side in ((image.thumbnail_medium.name, 800), (image.thumbnail_small.name, 360)):
        assert pictures.opened(name).size == (side, side)


def test_the_drawing_is_deterministic_and_draws_chinese_glyphs():
    first = imaging.picture_draw(title="圣诞节铃铛挂饰", caption="圣诞节", colour="#C0392B")
    assert imaging.picture_draw(title="圣诞节铃铛挂饰", caption="圣诞节", colour="#C0392B") == first
    assert imaging.picture_draw(title="圣诞节铃铛挂饰二", caption="圣诞节", colour="#C0392B") != first
    # a font without CJK glyphs would draw the same box (tofu) for every Hanzi: the glyphs here differ
    font = imaging._font(76, imaging.FONT_WEIGHT_BOLD)
    masks = {character: bytes(font.getmask(character)) for character in "圣诞铃铛"}
    assert len(set(masks.values())) == 4 and all(any(mask) for mask in masks.values())


def test_long_and_english_titles_wrap_within_the_picture():
    font = imaging._font(imaging.TITLE_SIZES[0], imaging.FONT_WEIGHT_BOLD)
    lines = imaging._wrapped("WHITE HANGING HEART T-LIGHT HOLDER", font, 672)
    assert all(font.getlength(line) <= 672 for line in lines) and len(lines) > 1
    assert " ".join(lines) == "WHITE HANGING HEART T-LIGHT HOLDER"  # words are not cut
    title_font, long_lines = imaging._title_layout("很长的标题" * 40, 672)
    assert len(long_lines) == imaging.MAX_TITLE_LINES and long_lines[-1].endswith("…")
    assert all(title_font.getlength(line) <= 672 for line in long_lines)


def test_a_changed_title_or_colour_is_redrawn_and_the_command_finds_them(category,
                                                                         django_capture_on_commit_callbacks):
    product = ProductFactory(category=category, title="WHITE HANGING HEART T-LIGHT HOLDER")
    untouched = ProductFactory(category=category, title="红色杯子")
    call_command("product_pictures_generate", "--quiet")
    assert images.product_pictures_due() == []
    old = ProductImage.objects.get(product=product)
    unchanged = ProductImage.objects.get(product=untouched)

    product.title = "白色爱心挂饰心形T灯座"  # the Chinese title arrives
    product.save(update_fields=["title"])
    assert images.product_pictures_due() == [product.pk]
    with django_capture_on_commit_callbacks(execute=True):
        call_command("product_pictures_generate", "--quiet")
    redrawn = ProductImage.objects.get(product=product)
    assert redrawn.pk == old.pk and redrawn.drawn_title == "白色爱心挂饰心形T灯座"
    assert redrawn.content_hash != old.content_hash and not default_storage.exists(old.file.name)
    assert ProductImage.objects.get(product=untouched).content_hash == unchanged.content_hash

    Category.objects.filter(pk=category.parent_id).update(colour="#F4B400")
    assert sorted(images.product_pictures_due()) == sorted([product.pk, untouched.pk])
    assert images.product_pictures_generate(product_ids=images.product_pictures_due()) == {"redrawn": 2}
    yellow = pictures.opened(ProductImage.objects.get(product=untouched).file.name).convert("RGB")
    assert yellow.getpixel((5, 5)) == (0xF4, 0xB4, 0x00)
    assert images.product_pictures_generate(product_ids=[product.pk, untouched.pk]) == {"unchanged": 2}


def test_enqueue_hands_batches_to_the_worker_task(category):
    # Tests run tasks eagerly: the task body is what the worker runs.
    products = [ProductFactory(category=category) for _ in range(3)]
    call_command("product_pictures_generate", "--enqueue", "--quiet")
    assert set(ProductImage.objects.filter(is_generated=True).values_list("product_id", flat=True)) >= {
        product.pk for product in products}
    assert images.product_pictures_due() == []


def test_a_category_without_colour_anywhere_gets_a_stable_fallback():
    lonely = CategoryFactory(name="无色类目")
    colours = images.category_colours()
    assert colours[lonely.pk] in images.FALLBACK_COLOURS
    assert images.category_colours()[lonely.pk] == colours[lonely.pk]


def test_shoppers_see_the_generated_flag(category):
    product = ProductFactory(category=category)
    listing = ListingFactory(sku=SKUFactory(product=product))
    images.product_picture_generate(product_id=product.pk)
    picture = APIClient().get(f"/api/v1/listings/{listing.pk}").json()["images"][0]
    assert picture["generated"] is True and picture["alt"] == product.title
    assert (picture["width"], picture["height"]) == (800, 800)
