"""Provider-independent image helpers: safe decoding, resizing, exposure, sharpness, geometry."""

from __future__ import annotations

import io
import math
from typing import TYPE_CHECKING

from core.faces.values import FaceBox, InvalidImageError

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

# cv2, numpy and PIL are imported inside the functions: importing the face contract (every
# plugin does, through ``core``) must not load them; the first image operation does.

MAX_UPLOAD_BYTES = 15 * 1024 * 1024
MAX_PIXELS = 40_000_000  # decompression-bomb guard (≈ 7,300 × 5,500)
FRAME_MAX_PIXELS = 2_100_000  # a webcam frame: 1920 × 1080 is the most a face check needs
MIN_SIDE = 32
JPEG_MAGIC = b"\xff\xd8\xff"


def decode_image(data: bytes, *, max_bytes: int = MAX_UPLOAD_BYTES, max_pixels: int = MAX_PIXELS,
                 grey: bool = False) -> np.ndarray:
    """Decode uploaded bytes (JPEG, PNG, WebP, BMP, …) into an RGB ``uint8`` H×W×3 array, or with
    ``grey`` into its grey levels (H×W: a JPEG's own luma, decoded without its colour).

    Raises :class:`InvalidImageError` for anything that is not a sane still image: empty or
    oversized input, undecodable bytes, images that are tiny or would blow up memory.
    The EXIF orientation of JPEGs is applied (phones store portraits rotated).
    """
    import cv2
    import numpy as np
    from PIL import Image
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise InvalidImageError("image data must be bytes")
    data = bytes(data)
    if not data:
        raise InvalidImageError("empty upload")
    if len(data) > max_bytes:
        raise InvalidImageError(f"upload of {len(data)} bytes exceeds {max_bytes}")
    buf = np.frombuffer(data, dtype=np.uint8)
    # Read the header first: refuse pixel bombs before allocating them.
    try:
        with Image.open(io.BytesIO(data)) as probe:
            w, h = probe.size
    except Exception as exc:  # PIL raises many types for garbage input
        raise InvalidImageError(f"not an image: {type(exc).__name__}") from None
    if w * h > max_pixels:
        raise InvalidImageError(f"image of {w}×{h} pixels is too large")
    pixels = cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE if grey else cv2.IMREAD_COLOR)  # applies EXIF orientation
    if pixels is None or pixels.ndim != (2 if grey else 3):
        raise InvalidImageError("undecodable image")
    if min(pixels.shape[:2]) < MIN_SIDE:
        raise InvalidImageError(f"image of {pixels.shape[1]}×{pixels.shape[0]} pixels is too small")
    return pixels if grey else cv2.cvtColor(pixels, cv2.COLOR_BGR2RGB)


def ensure_rgb(image: np.ndarray) -> np.ndarray:
    """Check (and make contiguous) an RGB uint8 H×W×3 array; grey or RGBA are converted."""
    import cv2
    import numpy as np
    if not isinstance(image, np.ndarray):
        raise InvalidImageError("image must be a numpy array (decode bytes with decode_image)")
    if image.dtype != np.uint8:
        raise InvalidImageError(f"image must be uint8, got {image.dtype}")
    if image.ndim == 2:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    elif image.ndim == 3 and image.shape[2] == 4:
        image = cv2.cvtColor(image, cv2.COLOR_RGBA2RGB)
    elif image.ndim != 3 or image.shape[2] != 3:
        raise InvalidImageError(f"image must be H×W×3, got shape {image.shape}")
    return np.ascontiguousarray(image)


def downscale(image: np.ndarray, max_side: int) -> tuple[np.ndarray, float]:
    """Shrink so that the longer side is at most ``max_side``; returns (image, scale applied)."""
    import cv2
    h, w = image.shape[:2]
    side = max(h, w)
    if side <= max_side:
        return image, 1.0
    s = max_side / side
    small = cv2.resize(image, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)
    return small, s


def encode_jpeg(image: np.ndarray, quality: int = 85, max_side: int | None = 640) -> bytes:
    """RGB array → JPEG bytes (optionally downscaled), for evidence frames."""
    import cv2
    if max_side:
        image, _ = downscale(image, max_side)
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:  # pragma: no cover - OpenCV always encodes a valid array
        raise InvalidImageError("cannot encode JPEG")
    return buf.tobytes()


def face_crop(image: np.ndarray, box: FaceBox, margin: float = 0.0) -> np.ndarray:
    h, w = image.shape[:2]
    mx, my = box.w * margin, box.h * margin
    x1, y1 = int(max(0, box.x - mx)), int(max(0, box.y - my))
    x2, y2 = int(min(w, box.x + box.w + mx)), int(min(h, box.y + box.h + my))
    if x2 <= x1 or y2 <= y1:
        return image[0:0, 0:0]
    return image[y1:y2, x1:x2]


def luma(image: np.ndarray) -> np.ndarray:
    import cv2
    return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)


def brightness(image: np.ndarray, box: FaceBox | None = None) -> float:
    """Mean luma (0–255) of the face box, or of the whole image."""
    region = face_crop(image, box) if box is not None else image
    if region.size == 0:
        region = image
    return float(luma(region).mean())


def exposure(image: np.ndarray, box: FaceBox | None = None) -> dict[str, float]:
    """Mean luma and the share of nearly black / nearly white pixels of the face."""
    region = face_crop(image, box) if box is not None else image
    if region.size == 0:
        region = image
    y = luma(region)
    return {
        "brightness": float(y.mean()),
        "dark_share": float((y < 25).mean()),
        "bright_share": float((y > 245).mean()),
    }


def sharpness(image: np.ndarray, box: FaceBox | None = None, size: int = 160) -> float:
    """Variance of the Laplacian on the face resized to ``size`` px height (scale-independent).

    The face is first brought to a fixed size so that big and small photos are comparable;
    a sharp face scores in the hundreds, a blurred one in the tens.
    """
    import cv2
    region = face_crop(image, box) if box is not None else image
    if region.size == 0:
        return 0.0
    y = luma(region)
    s = size / y.shape[0]
    interp = cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR
    y = cv2.resize(y, (max(8, round(y.shape[1] * s)), size), interpolation=interp)
    return float(cv2.Laplacian(y, cv2.CV_64F).var())


# --- geometry -------------------------------------------------------------------------------


def eye_aspect_ratio(eye: np.ndarray) -> float:
    """Soukupová–Čech EAR of six eye points (corner, top, top, corner, bottom, bottom)."""
    import numpy as np
    p = np.asarray(eye, dtype=np.float64)[:, :2]
    vertical = np.linalg.norm(p[1] - p[5]) + np.linalg.norm(p[2] - p[4])
    horizontal = 2.0 * np.linalg.norm(p[0] - p[3])
    return float(vertical / horizontal) if horizontal > 0 else 0.0


def euler_from_rotation(r: np.ndarray) -> tuple[float, float, float]:
    """(yaw, pitch, roll) in degrees from a 3×3 head rotation in camera coordinates.

    Convention (unmirrored camera image): yaw > 0 when the person turns to their own left
    (the nose moves to the right of the image); pitch > 0 when the nose moves down.
    """
    import numpy as np
    r = np.asarray(r, dtype=np.float64)[:3, :3]
    yaw = math.degrees(math.atan2(r[0, 2], r[2, 2]))
    pitch = math.degrees(math.asin(max(-1.0, min(1.0, -r[1, 2]))))
    roll = math.degrees(math.atan2(r[1, 0], r[0, 0]))
    return yaw, pitch, roll


def nose_parallax(
    anchors_a: np.ndarray, nose_a: np.ndarray, anchors_b: np.ndarray, nose_b: np.ndarray, scale: float
) -> tuple[float, float]:
    """How far the nose tip leaves the plane of the anchor points between frames A and B.

    A homography is fitted (least squares) from A's anchors to B's anchors. For a flat picture
    (printed photo, phone screen), however it is tilted, shifted or zoomed, every point follows
    that homography and the nose residual stays near zero. A real head turn moves the protruding
    nose more than the face plane. Returns the (x, y) residual as a fraction of ``scale`` (the
    eye distance in B); the sign follows the movement (x > 0 for turning left, y > 0 for nose
    down), as yaw and pitch do.
    """
    import cv2
    import numpy as np
    a = np.asarray(anchors_a, dtype=np.float64).reshape(-1, 2)
    b = np.asarray(anchors_b, dtype=np.float64).reshape(-1, 2)
    if len(a) < 5 or len(a) != len(b) or scale <= 0:
        return 0.0, 0.0
    h, _ = cv2.findHomography(a, b, 0)
    if h is None:
        return 0.0, 0.0
    pred = cv2.perspectiveTransform(np.asarray(nose_a, dtype=np.float64).reshape(1, 1, 2), h)[0, 0]
    dx, dy = (np.asarray(nose_b, dtype=np.float64)[:2] - pred) / scale
    return float(dx), float(dy)

