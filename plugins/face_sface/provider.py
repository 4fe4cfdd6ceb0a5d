"""OpenCV Zoo's SFace as a face provider: identity encodings (matching) and detection.

Faces are found by YuNet (``cv2.FaceDetectorYN``), which also gives the five points (eyes, nose
tip, mouth corners) SFace aligns a face by (``cv2.FaceRecognizerSF.alignCrop``, a similarity
transform to its 112×112 template). SFace's 128-d feature is L2-normalised, so the Euclidean
distance between two encodings is ``sqrt(2 − 2·cos)``: a monotone function of the cosine
similarity SFace is trained for, and the same metric every caller already uses (stored vectors
are compared by Euclidean distance, core.proctoring.snapshots.same_face_accounts).

Not liveness and not the portrait gate: YuNet's five points cannot measure eye openness.

Both model files ship in ``models/`` (see ``models/NOTICE``); their SHA-256 is checked before
loading and nothing is downloaded. They are read, hashed and turned into networks once per
process, on first use; OpenCV's DNN networks are not re-entrant, so every call into them goes
through one module-global lock.
"""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from core import (
    Action,
    Capability,
    FaceBox,
    FaceProviderBase,
    ModelIntegrityError,
    MultipleFacesError,
    NoFaceError,
    downscale,
    ensure_rgb,
)

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

MODELS = Path(__file__).parent / "models"
RECOGNIZER = MODELS / "face_recognition_sface_2021dec.onnx"
RECOGNIZER_SHA256 = "0ba9fbfa01b5270c96627c4ef784da859931e02f04419c829e83484087c34e79"
RECOGNIZER_SIZE = 38_696_353
DETECTOR = MODELS / "face_detection_yunet_2023mar.onnx"
DETECTOR_SHA256 = "8f2383e4dd3cfbb4553ea8718107fc0423210dc964f9f4280604804ed2552fa4"
DETECTOR_SIZE = 232_589

# The Euclidean distance between unit encodings at or below which two faces are one person,
# calibrated with benchmarks/bench_matchers.py (docs/faces.md, "SFace"): the six people of
# ../shared/faces are ≤ 0.974 from themselves and ≥ 1.219 from each other; the closest different
# East Asian people of the London set are 1.037 apart; 1.00 lies between 0.974 and 1.037.
DEFAULT_TOLERANCE = 1.00
ALIGN_FACE_PX = 96  # face width at which the alignment points are found (YuNet: 10–300 px)
# the scales of the face crop that YuNet's five points are averaged over
POINT_SCALES = (0.7, 0.78, 0.86, 0.94, 1.0, 1.08, 1.17, 1.26, 1.36)
SCORE_THRESHOLD = 0.8  # YuNet face score below which a detection is dropped

LOCK = threading.Lock()  # OpenCV DNN networks are not re-entrant: one lock for both models
_NETS: dict[tuple[Path, Path], tuple[object, object]] = {}


def load_model_bytes(path: Path, sha256: str, size: int) -> bytes:
    """A model file's bytes, refusing a missing or altered file."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ModelIntegrityError(f"SFace model missing at {path}: {exc}") from None
    digest = hashlib.sha256(data).hexdigest()
    if digest != sha256:
        raise ModelIntegrityError(
            f"SFace model {path} has SHA-256 {digest}, expected {sha256} "
            f"({len(data)} bytes, expected {size}); refusing to load it"
        )
    return data


def _nets(detector: Path, recognizer: Path) -> tuple[object, object]:
    """(YuNet detector, SFace recognizer), built once per process from the verified bytes.
    Call with LOCK held."""
    import cv2
    import numpy as np

    key = (Path(detector).resolve(), Path(recognizer).resolve())
    found = _NETS.get(key)
    if found is None:
        det_bytes = load_model_bytes(detector, DETECTOR_SHA256, DETECTOR_SIZE)
        rec_bytes = load_model_bytes(recognizer, RECOGNIZER_SHA256, RECOGNIZER_SIZE)
        det = cv2.FaceDetectorYN.create(
            "onnx", np.frombuffer(det_bytes, np.uint8), np.zeros(0, np.uint8), (320, 320), SCORE_THRESHOLD, 0.3, 50
        )
        rec = cv2.FaceRecognizerSF.create("onnx", np.frombuffer(rec_bytes, np.uint8), np.zeros(0, np.uint8))
        found = _NETS[key] = (det, rec)
    return found


class SFaceProvider(FaceProviderBase):
    name = "sface"
    capabilities = frozenset({Capability.DETECT, Capability.ENCODE})
    liveness_actions: frozenset[Action] = frozenset()
    default_tolerance = DEFAULT_TOLERANCE

    def __init__(
        self,
        detector: Path = DETECTOR,
        recognizer: Path = RECOGNIZER,
        *,
        detect_side: int = 640,
        thorough_side: int = 1024,
    ) -> None:
        self.detector = Path(detector)
        self.recognizer = Path(recognizer)
        self.detect_side = detect_side
        self.thorough_side = thorough_side

    # --- detection ----------------------------------------------------------------------------

    def _faces(self, rgb: np.ndarray, max_side: int) -> np.ndarray:
        """YuNet's rows (box, five points, score) in ``rgb``'s pixels, largest face first."""
        import cv2
        import numpy as np

        small, s = downscale(rgb, max_side)
        bgr = cv2.cvtColor(small, cv2.COLOR_RGB2BGR)
        with LOCK:
            det, _rec = _nets(self.detector, self.recognizer)
            det.setInputSize((bgr.shape[1], bgr.shape[0]))
            _n, rows = det.detect(bgr)
        if rows is None:
            return np.zeros((0, 15), np.float32)
        rows = rows.copy()
        rows[:, :14] /= s
        return rows[np.argsort(-(rows[:, 2] * rows[:, 3]))]

    def detect(self, image: np.ndarray) -> list[FaceBox]:
        rgb = ensure_rgb(image)
        rows = self._faces(rgb, self.thorough_side)
        return [FaceBox(float(r[0]), float(r[1]), float(r[2]), float(r[3])) for r in rows]

    # --- identity -----------------------------------------------------------------------------

    def _located(self, rgb: np.ndarray, box: FaceBox) -> tuple[np.ndarray, np.ndarray]:
        """(crop, five points in it) for the face in ``box``: a crop around the box scaled so the
        face is ``ALIGN_FACE_PX`` wide (one scale whatever the image's size, and a smooth
        downscale, not the aliasing of warping a big face straight to 112 px), with YuNet's five
        points averaged over the crop searched at POINT_SCALES. SFace moves by ~0.15 for one pixel
        of point noise on such a crop; YuNet's points jitter by a pixel or two with the crop, and
        their mean over several scales much less, so a face's encodings agree whether it was
        located by this detector, at another scale, or by the liveness provider."""
        import cv2
        import numpy as np

        h, w = rgb.shape[:2]
        m = 0.5 * max(box.w, box.h)
        x0, y0 = max(0, int(box.x - m)), max(0, int(box.y - m))
        x1, y1 = min(w, int(box.x + box.w + m)), min(h, int(box.y + box.h + m))
        if x1 - x0 < 8 or y1 - y0 < 8:
            raise NoFaceError("no face to encode")
        s = ALIGN_FACE_PX / max(box.w, 1.0)
        crop = np.ascontiguousarray(rgb[y0:y1, x0:x1])
        size = (max(1, round((x1 - x0) * s)), max(1, round((y1 - y0) * s)))
        crop = cv2.resize(crop, size, interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
        cx, cy = (box.center[0] - x0) * s, (box.center[1] - y0) * s
        rows = []
        for k in POINT_SCALES:
            scaled = crop if k == 1 else cv2.resize(crop, (round(size[0] * k), round(size[1] * k)),
                                                    interpolation=cv2.INTER_LINEAR)
            try:
                found = self._faces(scaled, max(scaled.shape[:2]))
                rows.append(_nearest(found, cx * k, cy * k, 0.5 * ALIGN_FACE_PX * k) / k)
            except NoFaceError:
                continue
        if not rows:
            raise NoFaceError("no face to encode")
        return crop, np.mean(rows, axis=0).astype(np.float32)

    def raw_encode(self, rgb: np.ndarray, row: np.ndarray) -> np.ndarray:
        """Align the face of YuNet's ``row`` and compute its unit-length SFace feature (the
        benchmarks' reference cost)."""
        import cv2
        import numpy as np

        bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
        with LOCK:
            _det, rec = _nets(self.detector, self.recognizer)
            feat = rec.feature(rec.alignCrop(bgr, row)).reshape(-1).astype(np.float64)
        if not np.linalg.norm(feat) > 0:
            raise NoFaceError("no face to encode")
        return _unit(feat)

    def encode(self, image: np.ndarray, box: FaceBox | None = None) -> np.ndarray:
        rgb = ensure_rgb(image)
        if box is not None:
            return self.raw_encode(*self._located(rgb, box))
        rows = self._faces(rgb, self.detect_side)
        if not len(rows):
            raise NoFaceError("no face to encode")
        if len(rows) > 1:
            raise MultipleFacesError(f"{len(rows)} faces; one is required")
        x, y, bw, bh = (float(v) for v in rows[0][:4])
        return self.raw_encode(*self._located(rgb, FaceBox(x, y, bw, bh)))

    def distance(self, a: np.ndarray, b: np.ndarray) -> float:
        """Euclidean distance of unit encodings: sqrt(2 − 2·cosine similarity), 0 … 2."""
        import numpy as np

        return float(np.linalg.norm(_unit(a) - _unit(b)))


def _nearest(rows: np.ndarray, cx: float, cy: float, reach: float) -> np.ndarray:
    """The row whose box centre is nearest (cx, cy), within ``reach``; NoFaceError when none is
    (the face the caller located is not one YuNet sees: another face in the crop is not it)."""
    import numpy as np

    if len(rows):
        centres = rows[:, :2] + rows[:, 2:4] / 2
        gaps = np.hypot(centres[:, 0] - cx, centres[:, 1] - cy)
        i = int(np.argmin(gaps))
        if gaps[i] <= reach:
            return rows[i].astype(np.float32)
    raise NoFaceError("no face to encode")


def _unit(v) -> np.ndarray:
    import numpy as np

    v = np.asarray(v, dtype=np.float64).reshape(-1)
    n = float(np.linalg.norm(v))
    return v / n if n else v
