"""Strict image upload checks: type by content, size and pixel limits, re-encode, no metadata.

Decoding is bounded before it starts: Pillow reads only the header on ``open``, so the declared
size is checked against the purpose's pixel cap before any pixel is decoded. JPEG (phone photos)
is decoded at a reduced scale straight to about the stored size (libjpeg's DCT scaling via
``draft``), so a large photo costs little; PNG and WebP have no such shortcut and get a lower cap.
Handlers call ``clean_image_async``, which decodes in the bounded ``image`` thread pool
(``core.offload``) so the event loop keeps answering other requests.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from core.offload import run_cpu

from core.files.limits import MAX_UPLOAD_BYTES, PHOTO_FORM_MAX_BODY  # noqa: F401  (re-exported)

# Declared pixel caps, checked on the header. JPEG is decoded scaled down (see above), so phone
# photos up to ~50 MP are fine; a PNG/WebP is decoded in full, so it is capped near 16 MP
# (≈ 64 MB of RGBA while decoding).
MAX_PIXELS = 50_000_000  # JPEG: a 8,700 × 5,800 phone photo
MAX_PIXELS_LOSSLESS = 16_000_000  # PNG / WebP: 4,000 × 4,000
FACE_FRAME_MAX_PIXELS = 2_100_000  # a camera frame for face checks: 1920 × 1080 is plenty
MIN_SIDE = 64
MAX_SIDE_OUT = 2000  # stored images are downscaled to this longest side
ALLOWED_FORMATS = {"JPEG", "PNG", "WEBP"}

TOO_LARGE = "图片像素过大（超过 {mp} 百万像素），请压缩或缩小后再上传"


class ImageRejected(ValueError):
    """The message is shown to the user next to the upload field (Chinese)."""


@dataclass(frozen=True)
class CleanImage:
    data: bytes  # re-encoded JPEG, no EXIF/metadata
    width: int
    height: int
    media_type: str = "image/jpeg"


def _cap(fmt: str, max_pixels: int | None) -> int:
    cap = MAX_PIXELS if fmt == "JPEG" else MAX_PIXELS_LOSSLESS
    return min(cap, max_pixels) if max_pixels else cap


def clean_image(raw: bytes, *, max_bytes: int = MAX_UPLOAD_BYTES, max_pixels: int | None = None) -> CleanImage:
    """Validate an uploaded image by its content and return a re-encoded, metadata-free JPEG.

    ``max_pixels`` lowers the cap for a purpose (e.g. ``FACE_FRAME_MAX_PIXELS``). CPU-bound:
    from a handler, use ``clean_image_async``."""
    if not raw:
        raise ImageRejected("请选择要上传的图片")
    if len(raw) > max_bytes:
        raise ImageRejected(f"图片过大，请上传不超过 {max_bytes // (1024 * 1024)} MB 的图片")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(raw)) as img:  # reads the header only
                fmt = img.format
                width, height = img.size
                if fmt not in ALLOWED_FORMATS:
                    raise ImageRejected("仅支持 JPG、PNG 或 WEBP 格式的图片")
                cap = _cap(fmt, max_pixels)
                if width * height > cap:
                    raise ImageRejected(TOO_LARGE.format(mp=cap // 1_000_000))
                if min(width, height) < MIN_SIDE:
                    raise ImageRejected("图片太小，请上传清晰的照片")
                if fmt == "JPEG":
                    # Decode at 1/2, 1/4 or 1/8 scale, no smaller than the stored size.
                    img.draft("RGB", (MAX_SIDE_OUT, MAX_SIDE_OUT))
                img.load()
                img = ImageOps.exif_transpose(img)  # keep the orientation, drop the EXIF
                img = img.convert("RGB")
    except ImageRejected:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageRejected("图片像素过大，请压缩后再上传") from None
    except UnidentifiedImageError:
        raise ImageRejected("文件不是有效的图片，请上传 JPG 或 PNG 格式的照片") from None
    except (OSError, SyntaxError, ValueError, EOFError):
        raise ImageRejected("图片文件已损坏，请重新拍摄或选择其他图片") from None
    img.thumbnail((MAX_SIDE_OUT, MAX_SIDE_OUT))
    out = io.BytesIO()
    img.save(out, format="JPEG", quality=88)  # a fresh file: no EXIF, GPS or comments
    return CleanImage(out.getvalue(), img.width, img.height)


async def clean_image_async(
    raw: bytes, *, max_bytes: int = MAX_UPLOAD_BYTES, max_pixels: int | None = None
) -> CleanImage:
    """``clean_image`` in the bounded image thread pool (off the event loop)."""
    return await run_cpu("image", clean_image, raw, max_bytes=max_bytes, max_pixels=max_pixels)
