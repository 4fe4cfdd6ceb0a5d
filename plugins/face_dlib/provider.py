"""face_recognition (dlib) as a face provider: identity encodings and comparison, detection
and portrait quality. Not liveness: its 68-point eye aspect ratio barely moves on quick blinks
(and behind glasses), so at the webcam page's frame rate it misses real blinks (measured by
benchmarks/bench_faces.py); tenant rules refuse ``liveness_provider = "dlib"``.

Detection runs dlib's HOG detector on a downscaled copy (its cost grows with image size);
encodings are 128-d vectors, compared by Euclidean distance with a tenant-set tolerance.

dlib and its models are loaded once per process, on first use, and every call into them goes
through one module-global lock (dlib is not re-entrant), whatever the number of instances.
"""

from __future__ import annotations

import threading
import warnings
from typing import TYPE_CHECKING

from core import (
    LandmarkLayout,
    Action,
    Capability,
    FaceBox,
    FaceObservation,
    FaceProviderBase,
    MultipleFacesError,
    NoFaceError,
    downscale,
    ensure_rgb,
)

# Chosen from the measured distances on ../shared/faces (docs/faces.md): same person ≤ 0.52,
# different people ≥ 0.70; 0.60 sits in the middle of that gap.
DEFAULT_TOLERANCE = 0.60

# 68-point indices
LEFT_EYE = (36, 37, 38, 39, 40, 41)
RIGHT_EYE = (42, 43, 44, 45, 46, 47)
MOUTH_INNER = (62, 66)
MOUTH_CORNERS = (60, 64)
EYE_OUTER = (36, 45)
NOSE_TIP, NOSE_BASE = 30, 33
ANCHORS = (36, 39, 42, 45, 17, 21, 22, 26, 27, 0, 16)
LAYOUT = LandmarkLayout(LEFT_EYE, RIGHT_EYE, MOUTH_INNER, MOUTH_CORNERS, EYE_OUTER, NOSE_TIP, NOSE_BASE, ANCHORS)

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

LOCK = threading.Lock()  # one lock for dlib's models in this process: dlib is not re-entrant
_API = None


def _face_recognition_api():
    """face_recognition.api with its dlib models, imported (and the models loaded) once."""
    global _API
    if _API is None:
        with LOCK:
            if _API is None:
                with warnings.catch_warnings():
                    warnings.filterwarnings("ignore", message=".*pkg_resources.*")
                    warnings.filterwarnings("ignore", category=DeprecationWarning)
                    import face_recognition.api as api  # noqa: PLC0415  (heavy: loads dlib models)
                _API = api
    return _API


class DlibProvider(FaceProviderBase):
    name = "dlib"
    capabilities = frozenset({Capability.DETECT, Capability.QUALITY, Capability.ENCODE})
    liveness_actions: frozenset[Action] = frozenset()  # observe() serves the portrait gate only
    default_tolerance = DEFAULT_TOLERANCE

    def __init__(self, *, detect_side: int = 640, thorough_side: int = 1024, encode_side: int = 800) -> None:
        self.detect_side = detect_side
        self.thorough_side = thorough_side
        self.encode_side = encode_side

    def _get(self):
        return _face_recognition_api()

    # --- detection and landmarks ------------------------------------------------------------

    def _rects(self, image: np.ndarray, max_side: int) -> list:
        """dlib rectangles in ``image`` coordinates, found on a downscaled copy."""
        import dlib  # noqa: PLC0415

        api = self._get()
        small, s = downscale(image, max_side)
        with LOCK:
            found = api.face_detector(small, 0)
        rects = [
            dlib.rectangle(round(r.left() / s), round(r.top() / s), round(r.right() / s), round(r.bottom() / s))
            for r in found
        ]
        return sorted(rects, key=lambda r: -r.area())

    def raw_encode(self, image: np.ndarray, rect) -> np.ndarray:
        """The bare face_recognition encoding call (benchmarks' reference cost)."""
        import numpy as np

        api = self._get()
        with LOCK:
            shape = api.pose_predictor_5_point(image, rect)
            return np.array(api.face_encoder.compute_face_descriptor(image, shape, 1))

    def detect(self, image: np.ndarray) -> list[FaceBox]:
        image = ensure_rgb(image)
        return [_box(r) for r in self._rects(image, self.thorough_side)]

    def observe(self, image: np.ndarray, *, thorough: bool = False) -> list[FaceObservation]:
        import numpy as np

        image = ensure_rgb(image)
        rects = self._rects(image, self.thorough_side if thorough else self.detect_side)
        api = self._get()
        out = []
        for r in rects:
            with LOCK:
                shape = api.pose_predictor_68_point(image, r)
            pts = np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float64)
            out.append(_observation(pts, image.shape))
        return out

    # --- identity ---------------------------------------------------------------------------

    def encode(self, image: np.ndarray, box: FaceBox | None = None) -> np.ndarray:
        import dlib  # noqa: PLC0415

        image = ensure_rgb(image)
        small, s = downscale(image, self.encode_side)
        if box is None:
            rects = self._rects(small, self.detect_side)
            if not rects:
                raise NoFaceError("no face to encode")
            if len(rects) > 1:
                raise MultipleFacesError(f"{len(rects)} faces; one is required")
            rect = rects[0]
        else:
            b = box.scaled(s)
            rect = dlib.rectangle(round(b.x), round(b.y), round(b.x + b.w), round(b.y + b.h))
        return self.raw_encode(small, rect)

    def distance(self, a: np.ndarray, b: np.ndarray) -> float:
        import numpy as np

        return float(np.linalg.norm(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)))


def _box(r) -> FaceBox:
    return FaceBox(float(r.left()), float(r.top()), float(r.width()), float(r.height()))


def _observation(pts: np.ndarray, shape: tuple[int, ...]) -> FaceObservation:
    return LAYOUT.observe(pts, *_pose(pts, shape))


def _pose(pts: np.ndarray, shape: tuple[int, ...]) -> tuple[float | None, float | None, float | None]:
    """Rough yaw from the nose tip's offset from the eye-corner midpoint (over the eye distance;
    calibrated against MediaPipe's matrix yaw on the head-turn clip) and roll from the eye line.
    Good enough to refuse a profile portrait, not for liveness (a tilted photo fools 2-D
    estimates), which is why dlib offers no head-turn actions. Pitch is not estimated."""
    import numpy as np

    eye_mid = (pts[EYE_OUTER[0]] + pts[EYE_OUTER[1]]) / 2
    dx, dy = pts[EYE_OUTER[1]] - pts[EYE_OUTER[0]]
    dist = float(np.hypot(dx, dy))
    if dist <= 0:
        return None, None, None
    offset = float((pts[NOSE_TIP][0] - eye_mid[0]) / dist)
    yaw = float(np.degrees(np.arcsin(np.clip(offset / 0.7, -1.0, 1.0))))
    roll = float(np.degrees(np.arctan2(dy, dx)))
    return yaw, None, roll
