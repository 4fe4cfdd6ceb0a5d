"""MediaPipe Tasks FaceLandmarker as a face provider: detection, portrait quality, liveness.

The model file ships in ``models/`` (see ``models/NOTICE``); its SHA-256 is checked before
loading and nothing is ever downloaded. The file is read and hashed once per process (the
bytes are cached per path and hash); each provider instance creates its landmarker on first use
and serialises calls to it (a landmarker is not thread-safe). One ``atexit`` handler, registered
on the first landmarker, closes every instance's landmarker. numpy and mediapipe are imported
on first use, not when the plugin is loaded.
"""

from __future__ import annotations

import atexit
import hashlib
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from core import (
    LandmarkLayout,
    Action,
    Capability,
    FaceObservation,
    FaceProviderBase,
    ModelIntegrityError,
    downscale,
    ensure_rgb,
    euler_from_rotation,
)

MODEL_PATH = Path(__file__).parent / "models" / "face_landmarker.task"
MODEL_SHA256 = "64184e229b263107bc2b804c6625db1341ff2bb731874b0bcc2fe6544e0bc9ff"
MODEL_SIZE = 3_758_596

# 478-point face mesh indices
LEFT_EYE = (33, 160, 158, 133, 153, 144)  # image-left eye: corner, top, top, corner, bottom, bottom
RIGHT_EYE = (362, 385, 387, 263, 373, 380)
MOUTH_INNER = (13, 14)  # upper / lower inner lip
MOUTH_CORNERS = (78, 308)
NOSE_TIP = 1
NOSE_BASE = 2  # subnasale
EYE_OUTER = (33, 263)
# near-rigid points around the eyes, brows, forehead and cheeks (not the mouth or jaw, which move)
ANCHORS = (33, 133, 362, 263, 70, 105, 300, 334, 10, 234, 454, 168, 6)
LAYOUT = LandmarkLayout(LEFT_EYE, RIGHT_EYE, MOUTH_INNER, MOUTH_CORNERS, EYE_OUTER, NOSE_TIP, NOSE_BASE, ANCHORS)

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

_MODELS: dict[tuple[Path, str], bytes] = {}  # verified model bytes, read once per process
_MODELS_LOCK = threading.Lock()
# One landmarker per (model, options) for the whole process, shared by every provider object and
# closed only at exit: a FaceLandmarker closed by the garbage collector (its __del__) in the
# middle of a run waits on MediaPipe's dispatcher thread and can hang the process.
_LANDMARKERS: dict[tuple, tuple[object, threading.Lock]] = {}
_LANDMARKERS_LOCK = threading.Lock()  # not _MODELS_LOCK: making a landmarker reads the model under that one
_EXIT_REGISTERED = False


def load_model_bytes(path: Path = MODEL_PATH, sha256: str = MODEL_SHA256) -> bytes:
    """The model file's bytes, refusing a missing or altered file (read and hashed once per
    process and path; a failed check is not cached, so it is raised again)."""
    key = (Path(path).resolve(), sha256)
    with _MODELS_LOCK:
        if key in _MODELS:
            return _MODELS[key]
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise ModelIntegrityError(f"MediaPipe model missing at {path}: {exc}") from None
        digest = hashlib.sha256(data).hexdigest()
        if digest != sha256:
            raise ModelIntegrityError(
                f"MediaPipe model {path} has SHA-256 {digest}, expected {sha256} "
                f"({len(data)} bytes, expected {MODEL_SIZE}); refusing to load it"
            )
        _MODELS[key] = data
        return data


def _close_all() -> None:
    """At exit: close every landmarker of the process."""
    for key in list(_LANDMARKERS):
        lm, _lock = _LANDMARKERS.pop(key)
        try:
            lm.close()
        except Exception:  # at interpreter exit MediaPipe's executor may already be gone
            lm._handle = None  # let the OS reclaim it; keeps FaceLandmarker.__del__ quiet


def _shared_landmarker(key: tuple, make) -> tuple[object, threading.Lock]:
    global _EXIT_REGISTERED
    with _LANDMARKERS_LOCK:
        found = _LANDMARKERS.get(key)
        if found is None:
            found = _LANDMARKERS[key] = (make(), threading.Lock())
        if not _EXIT_REGISTERED:
            atexit.register(_close_all)
            _EXIT_REGISTERED = True
        return found


class MediaPipeProvider(FaceProviderBase):
    name = "mediapipe"
    capabilities = frozenset({Capability.DETECT, Capability.QUALITY, Capability.LIVENESS})
    liveness_actions = frozenset(Action)

    def __init__(
        self,
        model_path: Path = MODEL_PATH,
        *,
        model_sha256: str = MODEL_SHA256,
        max_side: int = 1280,
        min_confidence: float = 0.7,
        max_faces: int = 4,
    ) -> None:
        self.model_path = Path(model_path)
        self.model_sha256 = model_sha256
        self.max_side = max_side
        self.min_confidence = min_confidence
        self.max_faces = max_faces
        self._shared: tuple[object, threading.Lock] | None = None

    # --- model ------------------------------------------------------------------------------

    def _get(self) -> tuple[object, threading.Lock]:
        """The process's landmarker for this model and these options, and its lock."""
        if self._shared is None:
            key = (self.model_path.resolve(), self.model_sha256, self.max_faces, self.min_confidence)

            def make():
                data = load_model_bytes(self.model_path, self.model_sha256)
                from mediapipe.tasks.python import BaseOptions, vision

                opts = vision.FaceLandmarkerOptions(
                    base_options=BaseOptions(model_asset_buffer=data),
                    running_mode=vision.RunningMode.IMAGE,
                    num_faces=self.max_faces,
                    min_face_detection_confidence=self.min_confidence,
                    min_face_presence_confidence=self.min_confidence,
                    output_face_blendshapes=False,
                    output_facial_transformation_matrixes=True,
                )
                return vision.FaceLandmarker.create_from_options(opts)

            self._shared = _shared_landmarker(key, make)
        return self._shared

    def close(self) -> None:
        """Let go of the shared landmarker (the process closes it at exit)."""
        self._shared = None

    def raw_detect(self, image: np.ndarray):
        """The bare FaceLandmarker call (used by benchmarks as the reference cost)."""
        import mediapipe as mp
        import numpy as np

        lm, lock = self._get()
        with lock:  # one detection at a time per landmarker
            return lm.detect(mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(image)))

    # --- contract ---------------------------------------------------------------------------

    def observe(self, image: np.ndarray, *, thorough: bool = False) -> list[FaceObservation]:
        image = ensure_rgb(image)
        small, s = downscale(image, self.max_side)
        faces = self._observe(small)
        if thorough:
            faces = self._merge(faces, self._tiles(small))
        if s != 1.0:
            faces = [_rescale(f, 1.0 / s) for f in faces]
        return sorted(faces, key=lambda f: -f.box.area)

    def _observe(self, image: np.ndarray, offset: tuple[int, int] = (0, 0)) -> list[FaceObservation]:
        import numpy as np

        result = self.raw_detect(image)
        h, w = image.shape[:2]
        out = []
        for k, lms in enumerate(result.face_landmarks):
            pts = np.array([(p.x * w + offset[0], p.y * h + offset[1]) for p in lms], dtype=np.float64)
            out.append(_observation(pts, result.facial_transformation_matrixes[k]))
        return out

    def _tiles(self, image: np.ndarray) -> list[FaceObservation]:
        """Look for small faces in a 3×3 grid of half-size windows (group photos)."""
        import numpy as np

        h, w = image.shape[:2]
        if min(h, w) < 360:
            return []
        th, tw = h // 2, w // 2
        found: list[FaceObservation] = []
        for y in (0, (h - th) // 2, h - th):
            for x in (0, (w - tw) // 2, w - tw):
                for f in self._observe(np.ascontiguousarray(image[y : y + th, x : x + tw]), (x, y)):
                    b, m = f.box, 0.01 * tw
                    inside = b.x > x + m and b.y > y + m and b.x + b.w < x + tw - m and b.y + b.h < y + th - m
                    if inside:  # a face cut by the window edge is found whole elsewhere
                        found.append(f)
        return found

    @staticmethod
    def _merge(faces: list[FaceObservation], extra: list[FaceObservation]) -> list[FaceObservation]:
        merged = list(faces)
        for f in extra:
            if all(f.box.overlap(g.box) < 0.3 for g in merged):
                merged.append(f)
        return merged


def _observation(pts: np.ndarray, matrix) -> FaceObservation:
    import numpy as np

    return LAYOUT.observe(pts, *euler_from_rotation(np.asarray(matrix)))


def _rescale(f: FaceObservation, k: float) -> FaceObservation:
    return FaceObservation(
        box=f.box.scaled(k),
        yaw=f.yaw,
        pitch=f.pitch,
        roll=f.roll,
        eye_openness=f.eye_openness,
        mouth_open=f.mouth_open,
        anchors=None if f.anchors is None else f.anchors * k,
        nose=None if f.nose is None else f.nose * k,
        eye_distance=None if f.eye_distance is None else f.eye_distance * k,
        face_aspect=f.face_aspect,
    )
