"""Product pictures: every write (upload, delete, reorder, the generated picture) and the reads that decide what
to generate. Pixels are `supply.imaging`'s business; files go through Django's storage API only.

Order of work in a write, so that no storage call (a network call on S3) happens inside a database transaction:
the file is checked and its renditions made in memory, the files are written under fresh names, and only then a
short transaction locks the product row, checks again (duplicate, limit) and inserts the row. When that
transaction refuses or fails, the files it would have pointed to are deleted again; files of a row that goes away
(a delete, a placeholder replaced, a picture redrawn) are deleted after the commit. A storage outage is a 503
(`image_storage_unavailable`) and changes nothing.

Rules:
- the same file twice on one product is one picture: a second upload of identical bytes answers the first one
  (idempotent, `created=False`), enforced by a unique constraint on (product, content hash);
- at most PRODUCT_IMAGE_MAX_PER_PRODUCT pictures that are not generated (`image_limit_reached`, 422);
- a generated picture is a placeholder: a product has at most one, it is drawn only for a product with no other
  picture, and the first upload replaces it;
- a generated picture records the title and colour it shows; `product_pictures_due` finds products with no
  picture and generated pictures whose product's title or category colour has changed since.
"""
import logging
import secrets
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from functools import partial

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Exists, Max, OuterRef
from django.utils.translation import gettext_lazy as _

from core.errors import BusinessRuleViolation, NotFound, ServiceUnavailable, ValidationFailed
from supply import imaging
from supply.models import Category, Product, ProductImage, Supplier

logger = logging.getLogger(__name__)

ALT_TEXT_MAX_LENGTH = ProductImage._meta.get_field("alt_text").max_length
# Colours for categories that name none and have no parent that does: chosen by a stable hash of the name, so a
# category keeps its colour from one run to the next.
FALLBACK_COLOURS = ("#C0392B", "#D35400", "#B7950B", "#1E8449", "#117A65", "#1F618D", "#6C3483", "#884EA0",
                    "#A04000", "#2E4053")


def image_limits() -> imaging.Limits:
    return imaging.Limits(max_bytes=settings.PRODUCT_IMAGE_MAX_BYTES, min_side=settings.PRODUCT_IMAGE_MIN_SIDE,
                          max_side=settings.PRODUCT_IMAGE_MAX_SIDE, large_side=settings.PRODUCT_IMAGE_LARGE_SIDE,
                          medium_side=settings.PRODUCT_IMAGE_MEDIUM_SIDE,
                          small_side=settings.PRODUCT_IMAGE_SMALL_SIDE)


@dataclass(frozen=True)
class ImageUploaded:
    image: ProductImage
    created: bool  # False: this file was on the product already, and `image` is that picture


# --- files ----------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _StoredFiles:
    file: str
    medium: str
    small: str

    @property
    def names(self) -> tuple[str, ...]:
        return (self.file, self.medium, self.small)


def _files_store(*, product_id: int, processed: imaging.ProcessedImage) -> _StoredFiles:
    """Write the three renditions under fresh names (products/<id>/<random token>...). Nothing is left behind
    when one of the writes fails."""
    token = secrets.token_hex(8)
    base = f"products/{product_id}/{token}"
    wanted = [(f"{base}.{processed.large.extension}", processed.large.data),
              (f"{base}-{processed.medium.width}w.{processed.medium.extension}", processed.medium.data),
              (f"{base}-{processed.small.width}w.{processed.small.extension}", processed.small.data)]
    written: list[str] = []
    try:
        for name, data in wanted:
            written.append(default_storage.save(name, ContentFile(data)))
    except Exception as error:  # OSError locally, botocore's errors on S3: the storage is not there for us now
        logger.exception("storing pictures of product %s failed", product_id)
        files_delete(names=written)
        raise ServiceUnavailable(_("the picture storage is unavailable, try again later"),
                                 code="image_storage_unavailable") from error
    return _StoredFiles(*written)


def files_delete(*, names: Iterable[str]) -> None:
    """Delete stored files; a failure is logged (an orphaned file costs space, not correctness)."""
    for name in names:
        if not name:
            continue
        try:
            default_storage.delete(name)
        except Exception:  # the storage's own errors: see _files_store
            logger.exception("could not delete stored picture %s", name)


def _files_of(images: Iterable[ProductImage]) -> list[str]:
    return [str(field.name) for image in images
            for field in (image.file, image.thumbnail_medium, image.thumbnail_small) if field]


def _files_delete_after_commit(names: list[str]) -> None:
    if names:
        transaction.on_commit(partial(files_delete, names=names))


# --- reads ----------------------------------------------------------------------------------------------------
def product_of_supplier(*, supplier: Supplier, product_id: int) -> Product:
    product = Product.objects.filter(pk=product_id, supplier=supplier).select_related("category").first()
    if product is None:  # another supplier's product is "not found" too: its existence is not ours to learn
        raise NotFound(_("no such product"), code="product_not_found")
    return product


def product_image_urls(*, image: ProductImage) -> dict[str, str]:
    """Where clients fetch the picture: "large" (the stored picture), "medium" and "small" (the thumbnails), by
    the storage's own URLs (relative under MEDIA_URL for local files). An external picture has one URL for all."""
    if image.external_url:
        return dict.fromkeys(("large", "medium", "small"), image.external_url)
    return {"large": default_storage.url(image.file.name), "medium": default_storage.url(image.thumbnail_medium.name),
            "small": default_storage.url(image.thumbnail_small.name)}


def category_colours() -> dict[int, str]:
    """Category id -> the colour of its products' generated pictures: its own, else its parent's (and so on up),
    else one of FALLBACK_COLOURS chosen by its top category's name."""
    categories = {category.pk: category for category in Category.objects.all()}
    colours: dict[int, str] = {}

    def colour_of(category: Category) -> str:
        if category.pk not in colours:
            if category.colour:
                colours[category.pk] = category.colour.upper()
            elif category.parent_id in categories:
                colours[category.pk] = colour_of(categories[category.parent_id])
            else:
                colours[category.pk] = FALLBACK_COLOURS[zlib.crc32(category.name.encode()) % len(FALLBACK_COLOURS)]
        return colours[category.pk]

    for category in categories.values():
        colour_of(category)
    return colours


def product_pictures_due() -> list[int]:
    """Ids of products to draw a picture for: those with no picture at all, and those whose generated picture
    shows another title or colour than the product's now (a title translated, a category recoloured)."""
    without_any = list(Product.objects.filter(~Exists(ProductImage.objects.filter(product=OuterRef("pk"))))
                       .order_by("pk").values_list("pk", flat=True))
    colours = category_colours()
    stale = [product_id for product_id, title, category_id, drawn_title, drawn_colour in
             ProductImage.objects.filter(is_generated=True).order_by("product_id").values_list(
                 "product_id", "product__title", "product__category_id", "drawn_title", "drawn_colour")
             if drawn_title != title or drawn_colour != colours.get(category_id)]
    return sorted([*without_any, *stale])


# --- uploads, deletes, order -----------------------------------------------------------------------------------
def _locked_product(product_id: int) -> Product:
    return Product.objects.select_for_update(of=("self",)).get(pk=product_id)


def _uploads_counted(product: Product) -> int:
    return product.images.filter(is_generated=False).count()


def _limit_reached() -> BusinessRuleViolation:
    limit = settings.PRODUCT_IMAGE_MAX_PER_PRODUCT
    return BusinessRuleViolation(_("a product has at most %(count)s pictures") % {"count": limit},
                                 code="image_limit_reached", detail={"max_images": limit})


def alt_text_clean(alt_text: str | None) -> str:
    text = " ".join((alt_text or "").split())
    if len(text) > ALT_TEXT_MAX_LENGTH:
        raise ValidationFailed(_("the picture's description is longer than %(count)s characters")
                               % {"count": ALT_TEXT_MAX_LENGTH}, code="image_alt_too_long")
    return text


def product_image_upload(*, supplier: Supplier, product_id: int, data: bytes, alt_text: str = "") -> ImageUploaded:
    """A supplier adds a picture to one of its products (see the module's rules)."""
    product = product_of_supplier(supplier=supplier, product_id=product_id)
    alt_text = alt_text_clean(alt_text)
    earlier = product.images.filter(content_hash=imaging.content_hash_of(data)).first()
    if earlier is not None:  # a retry: answered without decoding the file again
        return ImageUploaded(image=earlier, created=False)
    processed = imaging.image_process(data=data, limits=image_limits())
    if _uploads_counted(product) >= settings.PRODUCT_IMAGE_MAX_PER_PRODUCT:
        raise _limit_reached()
    stored = _files_store(product_id=product.pk, processed=processed)
    try:
        with transaction.atomic():
            product = _locked_product(product.pk)
            earlier = product.images.filter(content_hash=processed.content_hash).first()
            if earlier is None:
                if _uploads_counted(product) >= settings.PRODUCT_IMAGE_MAX_PER_PRODUCT:
                    raise _limit_reached()
                image = _image_insert(product=product, stored=stored, processed=processed,
                                      alt_text=alt_text or product.title[:ALT_TEXT_MAX_LENGTH])
    except BaseException:
        files_delete(names=stored.names)
        raise
    if earlier is not None:  # the same file, sent twice at once: the first one won, these copies go
        files_delete(names=stored.names)
        return ImageUploaded(image=earlier, created=False)
    logger.info("picture %s added to product %s by supplier %s", image.pk, product.pk, supplier.pk)
    return ImageUploaded(image=image, created=True)


def _image_insert(*, product: Product, stored: _StoredFiles, processed: imaging.ProcessedImage,
                  alt_text: str) -> ProductImage:
    """Under the product's lock: the new picture goes last, and replaces the generated placeholder."""
    placeholders = list(product.images.filter(is_generated=True))
    ProductImage.objects.filter(pk__in=[image.pk for image in placeholders]).delete()
    _files_delete_after_commit(_files_of(placeholders))
    last = product.images.aggregate(last=Max("position"))["last"]
    return ProductImage.objects.create(
        product=product, position=0 if last is None else last + 1, file=stored.file,
        thumbnail_medium=stored.medium, thumbnail_small=stored.small, width=processed.large.width,
        height=processed.large.height, size_bytes=len(processed.large.data),
        content_type=processed.large.content_type, content_hash=processed.content_hash, alt_text=alt_text)


def product_image_delete(*, supplier: Supplier, product_id: int, image_id: int) -> None:
    product = product_of_supplier(supplier=supplier, product_id=product_id)
    with transaction.atomic():
        _locked_product(product.pk)
        image = product.images.filter(pk=image_id).first()
        if image is None:
            raise NotFound(_("no such picture"), code="image_not_found")
        image.delete()
        _files_delete_after_commit(_files_of([image]))


def product_images_reorder(*, supplier: Supplier, product_id: int, image_ids: list[int]) -> list[ProductImage]:
    """Put the product's pictures in the order given; the list must name each of them exactly once."""
    product = product_of_supplier(supplier=supplier, product_id=product_id)
    with transaction.atomic():
        _locked_product(product.pk)
        images = {image.pk: image for image in product.images.all()}
        if len(image_ids) != len(set(image_ids)) or set(image_ids) != set(images):
            raise ValidationFailed(_("name each of the product's pictures exactly once"),
                                   code="image_order_mismatch", detail={"image_ids": sorted(images)})
        for position, image_id in enumerate(image_ids):
            images[image_id].position = position
        ProductImage.objects.bulk_update(images.values(), ["position", "updated_at"])
    return sorted(images.values(), key=lambda image: image.position)


# --- generated pictures ----------------------------------------------------------------------------------------
def product_picture_generate(*, product_id: int, colours: dict[int, str] | None = None) -> str:
    """Draw the product's placeholder picture, or redraw it when its title or colour changed. Returns what it did:
    "created", "redrawn", "unchanged", "skipped" (the product has other pictures, or its title changed while the
    picture was drawn: the next run draws it) or "missing" (no such product). `colours` is `category_colours()`,
    computed once by a caller that draws many. Deterministic: the same title, category name and colour give the
    same file."""
    product = Product.objects.filter(pk=product_id).select_related("category").first()
    if product is None:
        return "missing"
    if product.images.filter(is_generated=False).exists():
        return "skipped"
    colour = (colours or category_colours())[product.category_id]
    title = product.title
    current = product.images.filter(is_generated=True).first()
    if current is not None and (current.drawn_title, current.drawn_colour) == (title, colour):
        return "unchanged"
    png = imaging.picture_draw(title=title, caption=product.category.name, colour=colour)
    processed = imaging.generated_renditions(png=png, limits=image_limits())
    stored = _files_store(product_id=product.pk, processed=processed)
    fields = {"file": stored.file, "thumbnail_medium": stored.medium, "thumbnail_small": stored.small,
              "width": processed.large.width, "height": processed.large.height,
              "size_bytes": len(processed.large.data), "content_type": processed.large.content_type,
              "content_hash": processed.content_hash, "alt_text": title[:ALT_TEXT_MAX_LENGTH],
              "drawn_title": title, "drawn_colour": colour}
    try:
        with transaction.atomic():
            product = _locked_product(product.pk)
            current = product.images.filter(is_generated=True).first()
            if product.images.filter(is_generated=False).exists() or product.title != title:
                outcome = "skipped"
            elif current is None:
                ProductImage.objects.create(product=product, position=0, is_generated=True, **fields)
                outcome = "created"
            elif (current.drawn_title, current.drawn_colour) == (title, colour):
                outcome = "unchanged"  # another run drew it meanwhile
            else:
                _files_delete_after_commit(_files_of([current]))
                ProductImage.objects.filter(pk=current.pk).update(**fields)
                outcome = "redrawn"
    except BaseException:
        files_delete(names=stored.names)
        raise
    if outcome in ("skipped", "unchanged"):
        files_delete(names=stored.names)
    return outcome


def product_pictures_generate(*, product_ids: Iterable[int]) -> dict[str, int]:
    """Draw (or redraw) the pictures of these products, one product at a time; returns how many of each outcome."""
    outcomes: dict[str, int] = {}
    colours = category_colours()
    for product_id in product_ids:
        outcome = product_picture_generate(product_id=product_id, colours=colours)
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    return outcomes
