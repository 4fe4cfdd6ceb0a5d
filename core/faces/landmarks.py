"""From a provider's landmark points to a FaceObservation: the geometry every landmark model
shares, given where its eyes, mouth and nose are in its own numbering."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from core.faces.imaging import eye_aspect_ratio
from core.faces.values import FaceBox, FaceObservation

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np


@dataclass(frozen=True)
class LandmarkLayout:
    """Indices of one landmark model (dlib's 68 points, MediaPipe's 478, …)."""

    left_eye: tuple[int, ...]  # six points: corner, top, top, corner, bottom, bottom
    right_eye: tuple[int, ...]
    mouth_inner: tuple[int, int]  # upper and lower inner lip
    mouth_corners: tuple[int, int]
    eye_outer: tuple[int, int]
    nose_tip: int
    nose_base: int
    anchors: tuple[int, ...]  # near-rigid points for the parallax cue

    def observe(
        self, pts: np.ndarray, yaw: float | None, pitch: float | None, roll: float | None
    ) -> FaceObservation:
        """The observation of one face from its landmark points (N×2 pixels) and head pose."""
        import numpy as np

        x1, y1 = pts.min(axis=0)
        x2, y2 = pts.max(axis=0)
        ear = (eye_aspect_ratio(pts[list(self.left_eye)]) + eye_aspect_ratio(pts[list(self.right_eye)])) / 2
        width = float(np.linalg.norm(pts[self.mouth_corners[0]] - pts[self.mouth_corners[1]]))
        gap = float(np.linalg.norm(pts[self.mouth_inner[0]] - pts[self.mouth_inner[1]]))
        eye_mid = (pts[self.eye_outer[0]] + pts[self.eye_outer[1]]) / 2
        eye_dist = float(np.linalg.norm(pts[self.eye_outer[0]] - pts[self.eye_outer[1]]))
        return FaceObservation(
            box=FaceBox(float(x1), float(y1), float(x2 - x1), float(y2 - y1)),
            yaw=yaw,
            pitch=pitch,
            roll=roll,
            eye_openness=ear,
            mouth_open=gap / width if width > 0 else 0.0,
            anchors=pts[list(self.anchors)].copy(),
            nose=pts[self.nose_tip].copy(),
            eye_distance=eye_dist,
            face_aspect=float(np.linalg.norm(pts[self.nose_base] - eye_mid)) / eye_dist if eye_dist > 0 else None,
        )
