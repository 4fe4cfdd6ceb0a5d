"""The burst judgement (core.proctoring.burst.judge) on a face the detector finds and the
encoder cannot use: a verdict, not a failed job."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from core.faces import FaceBox, NoFaceError
from core.proctoring import burst


class DetectsButCannotEncode:
    """A matcher whose detector sees one face that its encoder then fails to find."""

    name = "fake"

    def detect(self, image):
        return [FaceBox(60.0, 60.0, 80.0, 80.0)]

    def encode(self, image, box=None):
        raise NoFaceError("no face to encode")

    def distance(self, a, b):  # pragma: no cover - never reached
        raise AssertionError("nothing to compare")


def live_burst(count: int = 3) -> list[bytes]:
    """Frames of one noisy scene moving a few pixels a frame: natural variation."""
    scene = np.random.default_rng(7).integers(0, 255, (240, 320, 3), dtype=np.uint8)
    out = []
    for k in range(count):
        buf = io.BytesIO()
        Image.fromarray(np.roll(scene, 3 * k, axis=1)).save(buf, format="JPEG", quality=85)
        out.append(buf.getvalue())
    return out


def test_a_face_the_encoder_cannot_use_is_no_face():
    outcome, vector, scores = burst.judge(DetectsButCannotEncode(), live_burst(), 1, np.zeros(128), 0.6,
                                          burst.References(), 0.05, 0.6)
    assert outcome == "no_face" and vector is None
    assert scores["faces"] == 1 and scores["encoded"] is False and scores["change"] >= 0.6
