"""Files the picture tests upload, made with Pillow here (nothing is read from disk), and what to look at after."""
import io
import struct
import zlib
from pathlib import Path

from django.conf import settings
from PIL import Image

ORIENTATION = 0x0112  # the EXIF tag
ROTATED_90_CLOCKWISE = 6  # "rotate 90° clockwise to display"


def jpeg(width: int = 1200, height: int = 900, colour=(200, 40, 40), *, exif_orientation: int | None = None,
         gps: bool = False, quality: int = 90) -> bytes:
    """A JPEG whose left half is `colour` and right half blue, so a rotation can be seen in the pixels."""
    image = Image.new("RGB", (width, height), colour)
    image.paste((30, 60, 220), (width // 2, 0, width, height))
    exif = Image.Exif()
    if exif_orientation is not None:
        exif[ORIENTATION] = exif_orientation
    if gps:
        exif[0x010F] = "PhoneMaker"  # Make
        exif[0x8825] = {1: "N", 2: (31.0, 14.0, 0.0)}  # GPS IFD: latitude of Shanghai
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality, exif=exif.tobytes())
    return buffer.getvalue()


def png(width: int = 800, height: int = 800, *, transparent: bool = False) -> bytes:
    image = Image.new("RGBA" if transparent else "RGB", (width, height), (20, 160, 90, 0) if transparent
                      else (20, 160, 90))
    if transparent:
        image.paste((20, 160, 90, 255), (0, 0, width // 2, height))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def webp(width: int = 600, height: int = 600) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (240, 200, 10)).save(buffer, "WEBP", quality=80)
    return buffer.getvalue()


def gif(width: int = 600, height: int = 600) -> bytes:
    buffer = io.BytesIO()
    Image.new("P", (width, height), 3).save(buffer, "GIF")
    return buffer.getvalue()


def png_header_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header announces width x height pixels (a decompression bomb's shape): signature, IHDR,
    one IDAT of a few bytes, IEND. Decoding it would need width x height x 3 bytes of memory."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
            + chunk(b"IEND", b""))


def stored_files() -> set[str]:
    """Every file under MEDIA_ROOT (relative names), to show what an upload wrote or a refusal did not write."""
    root = Path(settings.MEDIA_ROOT)
    return {str(path.relative_to(root)) for path in root.rglob("*") if path.is_file()} if root.exists() else set()


def opened(name: str) -> Image.Image:
    """A stored file, read back through the storage API."""
    from django.core.files.storage import default_storage

    with default_storage.open(name) as handle:
        image = Image.open(io.BytesIO(handle.read()))
        image.load()
    return image
