"""Product pictures as pixels: no ORM, no storage. Bytes in, checked and normalised renditions out
(`image_process`), and the generated picture of a product that has none (`picture_draw`).

What an upload must be, checked in this order so that nothing expensive happens to a file that is refused:
1. at most `max_bytes` long (`image_too_large`);
2. a JPEG, PNG or WebP by its content, whatever its name says (`image_type_unsupported`); Pillow reads the magic
   bytes. A camera's multi-picture JPEG (MPO) is a JPEG;
3. within the pixel limits announced by its header, read before any pixel is decoded: longer side at most
   `max_side` (`image_dimensions_too_large`, also for a header Pillow itself calls a decompression bomb), shorter
   side at least `min_side` (`image_too_small`);
4. whole: Pillow's `verify()` and then a full decode must pass (`image_corrupt`: truncated or damaged data).

The stored picture is re-encoded from the decoded pixels: EXIF orientation applied, colours converted to sRGB
when the file carries an ICC profile, and no metadata written back (no EXIF, GPS, XMP or comments). It keeps its
format (JPEG, PNG with its transparency, WebP) and is scaled down to `large_side` at most; the two thumbnails are
JPEGs (transparency flattened onto white), the format every mini-program client shows. A JPEG is decoded at the
smallest scale that still covers the large size (libjpeg's DCT scaling), which keeps a big photo's upload fast.
"""
import hashlib
import io
import math
import re
import warnings
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from django.utils.translation import gettext_lazy as _
from PIL import Image, ImageCms, ImageDraw, ImageFont, ImageOps, UnidentifiedImageError

from core.errors import ValidationFailed

# Pillow's format name -> (content type, file extension) of what we store.
FORMATS = {"JPEG": ("image/jpeg", "jpg"), "PNG": ("image/png", "png"), "WEBP": ("image/webp", "webp")}
FORMAT_ALIASES = {"MPO": "JPEG"}
JPEG_QUALITY = 88
THUMBNAIL_QUALITY = 82
WEBP_QUALITY = 88
WHITE = (255, 255, 255)


@dataclass(frozen=True)
class Limits:
    max_bytes: int
    min_side: int
    max_side: int
    large_side: int
    medium_side: int
    small_side: int


@dataclass(frozen=True)
class Rendition:
    data: bytes
    width: int
    height: int
    content_type: str
    extension: str


@dataclass(frozen=True)
class ProcessedImage:
    large: Rendition
    medium: Rendition
    small: Rendition
    content_hash: str  # SHA-256 (hex) of the bytes as they came


def content_hash_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _refuse(message, code: str, **detail) -> ValidationFailed:
    return ValidationFailed(message, code=code, detail=detail or None)


def image_process(*, data: bytes, limits: Limits) -> ProcessedImage:
    """Check an uploaded file and make its three renditions; a refusal is a ValidationFailed with a stable code."""
    size_check(size=len(data), limits=limits)
    if not data:
        raise _refuse(_("the file is empty"), "image_empty")
    image_format = _header_checked(data, limits)
    image = _decoded(data, limits)
    image = _oriented_in_srgb(image)
    large = _large_rendition(image, image_format, limits.large_side)
    flat = _flattened(image)
    return ProcessedImage(large=large, medium=_jpeg_rendition(flat, limits.medium_side),
                          small=_jpeg_rendition(flat, limits.small_side), content_hash=content_hash_of(data))


def size_check(*, size: int, limits: Limits) -> None:
    """The first check, which a caller holding only a file's size (an upload not read yet) can make on its own."""
    if size > limits.max_bytes:
        raise _refuse(_("the picture is larger than %(megabytes)s MB") % {"megabytes": _megabytes(limits.max_bytes)},
                      "image_too_large", max_bytes=limits.max_bytes, bytes=size)


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):g}"


def _opened(data: bytes) -> Image.Image:
    """Image.open with every decompression-bomb warning an error: reading the header decodes no pixel."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        return Image.open(io.BytesIO(data))


def _header_checked(data: bytes, limits: Limits) -> str:
    """The format of the file (one we store), once its header and its data have passed the checks."""
    try:
        image = _opened(data)
    except UnidentifiedImageError as error:
        raise _refuse(_("not a JPEG, PNG or WebP picture"), "image_type_unsupported") from error
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise _refuse(_("the picture has too many pixels"), "image_dimensions_too_large",
                      max_side=limits.max_side) from error
    except (OSError, SyntaxError, ValueError) as error:  # a recognised format with a broken header
        raise _refuse(_("the picture is damaged or incomplete"), "image_corrupt") from error
    image_format = FORMAT_ALIASES.get(image.format, image.format)
    if image_format not in FORMATS:
        raise _refuse(_("not a JPEG, PNG or WebP picture"), "image_type_unsupported", found=image.format)
    width, height = image.size
    if max(width, height) > limits.max_side:
        raise _refuse(_("the picture is larger than %(side)s pixels on a side") % {"side": limits.max_side},
                      "image_dimensions_too_large", width=width, height=height, max_side=limits.max_side)
    if min(width, height) < limits.min_side:
        raise _refuse(_("the picture is smaller than %(side)s pixels on a side") % {"side": limits.min_side},
                      "image_too_small", width=width, height=height, min_side=limits.min_side)
    try:
        image.verify()
    except Exception as error:  # verify() raises whatever the plugin's check trips over
        raise _refuse(_("the picture is damaged or incomplete"), "image_corrupt") from error
    return image_format


def _decoded(data: bytes, limits: Limits) -> Image.Image:
    image = _opened(data)
    width, height = image.size
    scale = min(1.0, limits.large_side / max(width, height))
    if image.format in ("JPEG", "MPO") and scale < 1:
        image.draft("RGB", (math.ceil(width * scale), math.ceil(height * scale)))
    try:
        image.load()
    except (OSError, SyntaxError, ValueError, EOFError) as error:  # "image file is truncated" and its kin
        raise _refuse(_("the picture is damaged or incomplete"), "image_corrupt") from error
    return image


def _oriented_in_srgb(image: Image.Image) -> Image.Image:
    """EXIF orientation applied, pixels in sRGB, in RGB or RGBA, and nothing of the file's metadata kept."""
    profile = image.info.get("icc_profile")
    image = ImageOps.exif_transpose(image)
    has_alpha = image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info)
    image = image.convert("RGBA" if has_alpha else "RGB")
    if profile:
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(profile))
            image = ImageCms.profileToProfile(image, source, _srgb_profile(), outputMode=image.mode)
        except (ImageCms.PyCMSError, OSError, ValueError):
            pass  # an unreadable profile: keep the pixels as they are
    image.info = {}  # nothing read from the file is written back
    return image


@cache
def _srgb_profile() -> ImageCms.ImageCmsProfile:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


def _fitted(image: Image.Image, side: int) -> Image.Image:
    if max(image.size) <= side:
        return image
    fitted = image.copy()
    fitted.thumbnail((side, side), Image.Resampling.LANCZOS)
    return fitted


def _encoded(image: Image.Image, image_format: str) -> bytes:
    buffer = io.BytesIO()
    if image_format == "JPEG":
        image.save(buffer, "JPEG", quality=JPEG_QUALITY, optimize=True, progressive=True)
    elif image_format == "WEBP":
        image.save(buffer, "WEBP", quality=WEBP_QUALITY, method=4)
    else:
        image.save(buffer, "PNG", compress_level=6)
    return buffer.getvalue()


def _large_rendition(image: Image.Image, image_format: str, side: int) -> Rendition:
    large = _fitted(image, side)
    if image_format == "JPEG" and large.mode != "RGB":
        large = _flattened(large)
    content_type, extension = FORMATS[image_format]
    return Rendition(data=_encoded(large, image_format), width=large.width, height=large.height,
                     content_type=content_type, extension=extension)


def _flattened(image: Image.Image) -> Image.Image:
    if image.mode != "RGBA":
        return image
    background = Image.new("RGB", image.size, WHITE)
    background.paste(image, mask=image.getchannel("A"))
    return background


def _jpeg_rendition(image: Image.Image, side: int) -> Rendition:
    thumbnail = _fitted(image, side)
    buffer = io.BytesIO()
    thumbnail.save(buffer, "JPEG", quality=THUMBNAIL_QUALITY, optimize=True, progressive=True)
    return Rendition(data=buffer.getvalue(), width=thumbnail.width, height=thumbnail.height,
                     content_type="image/jpeg", extension="jpg")


# --- generated pictures ----------------------------------------------------------------------------------------
PICTURE_SIDE = 800
MARGIN = 64
MAX_TITLE_LINES = 4
TITLE_SIZES = (76, 68, 60, 54, 48, 44)
CAPTION_SIZE = 32
BADGE_SIZE = 26
BADGE_TEXT = "示意图"
# The collection holds Noto Sans CJK JP, KR, SC, TC and HK; Simplified Chinese is the one our shoppers read.
FONT_FAMILY = "Noto Sans CJK SC"
FONT_WEIGHT_BOLD = 700
FONT_WEIGHT_REGULAR = 400
# A run of Latin letters or digits is wrapped as one word; any other character (a Hanzi) may end a line.
_WORD_OR_CHARACTER = re.compile(r"[A-Za-z0-9'’&.\-]+|\s+|.", re.DOTALL)
HEX_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")


def font_path() -> Path:
    import manimgx_fonts_cjk

    return Path(manimgx_fonts_cjk.__file__).parent / "NotoSansCJK-VF.otf.ttc"


@cache
def _font_index() -> int:
    for index in range(8):
        try:
            family, _style = ImageFont.truetype(str(font_path()), 16, index=index).getname()
        except OSError:
            break
        if family == FONT_FAMILY:
            return index
    raise RuntimeError(f"{FONT_FAMILY} is not in {font_path()}")


@cache
def _font(size: int, weight: int) -> ImageFont.FreeTypeFont:
    font = ImageFont.truetype(str(font_path()), size, index=_font_index())
    font.set_variation_by_axes([weight])  # the variable font's only axis is its weight (100..900)
    return font


def rgb_of(colour: str) -> tuple[int, int, int]:
    if not HEX_COLOUR.match(colour or ""):
        raise ValueError(f"not a #rrggbb colour: {colour!r}")
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def _ink_on(background: tuple[int, int, int]) -> tuple[int, int, int]:
    """White on dark backgrounds, near-black on light ones (relative luminance, WCAG's formula)."""
    def linear(channel: int) -> float:
        value = channel / 255
        return value / 12.92 if value <= 0.03928 else ((value + 0.055) / 1.055) ** 2.4

    red, green, blue = (linear(channel) for channel in background)
    luminance = 0.2126 * red + 0.7152 * green + 0.0722 * blue
    return WHITE if luminance < 0.4 else (34, 34, 34)


def _wrapped(text: str, font: ImageFont.FreeTypeFont, width: int) -> list[str]:
    lines: list[str] = []
    line = ""
    for token in _WORD_OR_CHARACTER.findall(" ".join(text.split())):
        candidate = line + token
        if font.getlength(candidate) <= width:
            line = candidate
            continue
        if line.strip():
            lines.append(line.rstrip())
        line = "" if token.isspace() else token
        while font.getlength(line) > width:  # one word wider than the line: cut it where it must be cut
            cut = next((i for i in range(len(line), 0, -1) if font.getlength(line[:i]) <= width), 1)
            lines.append(line[:cut])
            line = line[cut:]
    if line.strip():
        lines.append(line.rstrip())
    return lines


def _title_layout(title: str, width: int) -> tuple[ImageFont.FreeTypeFont, list[str]]:
    for size in TITLE_SIZES:
        font = _font(size, FONT_WEIGHT_BOLD)
        lines = _wrapped(title, font, width)
        if len(lines) <= MAX_TITLE_LINES:
            return font, lines
    lines = lines[:MAX_TITLE_LINES]
    last = lines[-1]
    while last and font.getlength(last + "…") > width:
        last = last[:-1]
    lines[-1] = last + "…"
    return font, lines


def picture_draw(*, title: str, caption: str, colour: str) -> bytes:
    """A square PNG: the category's colour, the title in large type in the middle, the category's name at the
    bottom and a small 示意图 (illustration) badge, so nobody takes it for a photograph. The same title, caption
    and colour always give the same bytes."""
    background = rgb_of(colour)
    ink = _ink_on(background)
    side = PICTURE_SIDE
    image = Image.new("RGB", (side, side), background)
    draw = ImageDraw.Draw(image)
    font, lines = _title_layout(title.strip() or "—", side - 2 * MARGIN)
    ascent, descent = font.getmetrics()
    line_height = int((ascent + descent) * 1.2)
    top = (side - line_height * len(lines)) // 2 - MARGIN // 2
    for number, line in enumerate(lines):
        draw.text((side // 2, top + number * line_height), line, font=font, fill=ink, anchor="ma")
    caption_font = _font(CAPTION_SIZE, FONT_WEIGHT_REGULAR)
    draw.line([(MARGIN, side - MARGIN - CAPTION_SIZE - 24), (side - MARGIN, side - MARGIN - CAPTION_SIZE - 24)],
              fill=ink, width=2)
    draw.text((MARGIN, side - MARGIN), caption, font=caption_font, fill=ink, anchor="ls")
    badge_font = _font(BADGE_SIZE, FONT_WEIGHT_REGULAR)
    left, badge_top, right, bottom = draw.textbbox((MARGIN, MARGIN), BADGE_TEXT, font=badge_font, anchor="lt")
    draw.rounded_rectangle((left - 12, badge_top - 8, right + 12, bottom + 8), radius=8, outline=ink, width=2)
    draw.text((MARGIN, MARGIN), BADGE_TEXT, font=badge_font, fill=ink, anchor="lt")
    buffer = io.BytesIO()
    image.save(buffer, "PNG", compress_level=6)
    return buffer.getvalue()


def generated_renditions(*, png: bytes, limits: Limits) -> ProcessedImage:
    """The renditions of a picture we drew ourselves: stored as drawn (PNG), thumbnails as for uploads."""
    image = Image.open(io.BytesIO(png))
    image.load()
    large = Rendition(data=png, width=image.width, height=image.height, content_type="image/png", extension="png")
    return ProcessedImage(large=large, medium=_jpeg_rendition(image, limits.medium_side),
                          small=_jpeg_rendition(image, limits.small_side), content_hash=content_hash_of(png))
