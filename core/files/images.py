"""Strict image upload checks: type by content, size and pixel limits, re-encode, no metadata."""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

MAX_UPLOAD_BYTES = 8 * 1024 * 1024
MAX_PIXELS = 40_000_000  # ~ a 7,300 × 5,500 phone photo
MIN_SIDE = 64
MAX_SIDE_OUT = 2000  # stored images are downscaled to this longest side
ALLOWED_FORMATS = {"JPEG", "PNG", "WEBP"}


class ImageRejected(ValueError):
    """The message is shown to the user next to the upload field (Chinese)."""


@dataclass(frozen=True)
class CleanImage:
    data: bytes  # re-encoded JPEG, no EXIF/metadata
    width: int
    height: int
    media_type: str = "image/jpeg"


def clean_image(raw: bytes, *, max_bytes: int = MAX_UPLOAD_BYTES) -> CleanImage:
    """Validate an uploaded image by its content and return a re-encoded, metadata-free JPEG."""
    if not raw:
        raise ImageRejected("请选择要上传的图片")
    if len(raw) > max_bytes:
        raise ImageRejected(f"图片过大，请上传不超过 {max_bytes // (1024 * 1024)} MB 的图片")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(raw)) as probe:
                fmt = probe.format
                width, height = probe.size
                if fmt not in ALLOWED_FORMATS:
                    raise ImageRejected("仅支持 JPG、PNG 或 WEBP 格式的图片")
                if width * height > MAX_PIXELS:
                    raise ImageRejected("图片像素过大，请压缩后再上传")
                probe.verify()
            with Image.open(io.BytesIO(raw)) as img:
                img.load()
                img = ImageOps.exif_transpose(img)  # keep the orientation, drop the EXIF
                img = img.convert("RGB")
    except ImageRejected:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageRejected("图片像素过大，请压缩后再上传") from None
    except UnidentifiedImageError:
        raise ImageRejected("文件不是有效的图片，请上传 JPG 或 PNG 格式的照片") from None
    except (OSError, SyntaxError, ValueError):
        raise ImageRejected("图片文件已损坏，请重新拍摄或选择其他图片") from None
    if min(img.size) < MIN_SIDE:
        raise ImageRejected("图片太小，请上传清晰的照片")
    img.thumbnail((MAX_SIDE_OUT, MAX_SIDE_OUT))
    out = io.BytesIO()
    img.save(out, format="JPEG", quality=88)  # a fresh file: no EXIF, GPS or comments
    return CleanImage(out.getvalue(), img.width, img.height)
