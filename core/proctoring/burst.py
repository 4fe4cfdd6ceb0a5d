"""Is a snapshot live evidence? The CPU side of the match job, run in the face thread pool.

A snapshot is a short burst of frames the page took from the camera over about a second. It is
judged on one frame the server picks at random (detected, encoded, compared with the portrait) and
on the burst as a whole, in the picked frame's face region (with a fifth of its height around it)
as 32×32 grey levels (every frame's own luma, decoded without its colour; only the picked frame is
decoded in colour too, for the matcher):

* **Natural variation.** Between consecutive frames the face region must change by at least
  ``min_change`` grey levels on average: a camera's noise and a living face do (measured on the
  project's clips: ≥ 0.78 grey levels 0.4 s apart, 0.73 once from Chromium's fake camera under
  load), one still picture sent several times, even re-encoded or with mild noise added, does not
  (≤ 0.35; tests/test_integrity_snapshot_still.py prints the figures).
* **Not an image seen before.** No frame may repeat a frame of the learner's earlier snapshots
  (cut at that snapshot's face box as its signatures were, 16×16 grey levels within ``min_change``
  of one of its frames, ``core.proctoring.signatures``: the clip's frames 1-2 s apart differ by
  ≥ 4), and the picked frame's encoding must not lie within ``duplicate_distance`` of the
  portrait or the ID-card photo (with dlib: the stored portrait sent back, re-encoded or shifted
  by a few pixels, 0.056–0.073; a 1–2 MP photo sent at 800 px 0.08–0.09, at 640 px 0.10–0.12;
  other photos of the person ≥ 0.18).
* **Not the portrait or the ID-card photo as a picture.** No frame's face region (16×16 grey
  levels) may correlate with the same region of the portrait or the ID-card photo at
  ``PICTURE_CORRELATION`` or more: encodings alone miss a stored photo sent rescaled and shifted
  by a few pixels a frame with SFace (0.63 from its own encoding). Measured on the project's
  photos: the ID-card photo sent that way at 480–1024 px correlates 0.94–1.00 with itself; live
  frames of the same person 0.04–0.44 with his photos, two photos of him −0.34–0.29.

Every figure goes into the verdict's scores, for the reviewer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image

from core.faces import FaceError, decode_image, ensure_rgb
from core.files.images import FACE_FRAME_MAX_PIXELS
from core.proctoring.signatures import CELLS, Earlier, Frame, repeats, unhex

CROP_SIDE = 32
PICTURE_CORRELATION = 0.8


@dataclass
class References:
    """What a snapshot must not repeat: encodings (label → vectors) and earlier frames' signatures."""

    encodings: dict[str, list[Any]] = field(default_factory=dict)
    earlier: list[tuple[list[float], list[str], str]] = field(default_factory=list)  # (face box, signatures, kind)
    pictures: dict[str, list[str]] = field(default_factory=dict)  # label → signatures of stored photos


def _crop(frame: Frame, box) -> np.ndarray:
    """The face region (with a fifth of its height around it) of the frame at full size as 32×32
    grey levels."""
    h, w = frame.levels.shape
    pad = 0.2 * box.h
    top, left = max(0, int(box.y - pad)), max(0, int(box.x - pad))
    bottom, right = min(h, int(box.y + box.h + pad)), min(w, int(box.x + box.w + pad))
    region = frame.image.crop((left, top, right, bottom)) if bottom > top and right > left else frame.image
    return np.asarray(region.resize((CROP_SIDE, CROP_SIDE), Image.BILINEAR), dtype=np.float32)


def _unhex(sig: str) -> np.ndarray | None:
    """A signature's grey levels as float32 (to correlate), None for anything that is not one."""
    levels = unhex(sig)
    return None if levels is None else levels.astype(np.float32)


def picture_signature(matcher, data: bytes) -> str | None:
    """The face region of a stored photo (portrait, ID card) as a signature: its first detected
    face, None without one."""
    image = ensure_rgb(decode_image(data))  # a stored photo: the size limits of stored images
    boxes = matcher.detect(image)
    return Frame(image).signature(boxes[0]) if boxes else None


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a - a.mean(), b - b.mean()
    scale = float(np.sqrt((a * a).sum() * (b * b).sum()))
    return float((a * b).sum()) / scale if scale > 0 else 0.0


def judge(matcher, jpegs: list[bytes], pick: int, portrait, tolerance: float, refs: References,
          duplicate_distance: float, min_change: float) -> tuple[str, Any, dict[str, Any]]:
    """(outcome, encoding of the picked frame or None, scores) for one burst."""
    greys = [decode_image(j, max_pixels=FACE_FRAME_MAX_PIXELS, grey=True) for j in jpegs]
    target = ensure_rgb(decode_image(jpegs[pick], max_pixels=FACE_FRAME_MAX_PIXELS))
    scores: dict[str, Any] = {"picked": pick}
    boxes = matcher.detect(target)
    if not boxes:
        return "no_face", None, {**scores, "faces": 0}
    if len(boxes) > 1:
        return "faces", None, {**scores, "faces": len(boxes)}
    box = boxes[0]
    frames = [Frame(grey) for grey in greys]
    scores.update(faces=1, box=[round(box.x, 1), round(box.y, 1), round(box.w, 1), round(box.h, 1)],
                  signatures=[frame.signature(box) for frame in frames], signature_kind=CELLS)
    if repeats(frames, Earlier(refs.earlier), min_change):  # every earlier snapshot at once
        return "duplicate", None, {**scores, "duplicate_of": "snapshot"}
    crops = [_crop(frame, box) for frame in frames]
    if len({grey.shape for grey in greys}) > 1:
        change = 0.0  # frames of different sizes are not one camera's burst
    else:
        change = min((float(np.abs(a - b).mean()) for a, b in zip(crops, crops[1:], strict=False)), default=0.0)
    scores["change"] = round(change, 2)
    if len(greys) < 2 or change < min_change:
        return "still", None, scores
    try:
        vector = matcher.encode(target, boxes[0])
    except FaceError:  # found by the detector, not usable by the encoder (SFace re-finds it to align)
        return "no_face", None, {**scores, "encoded": False}
    distance = float(matcher.distance(vector, portrait))
    scores.update(distance=round(distance, 4), tolerance=tolerance)
    for label, vectors in refs.encodings.items():
        for ref in vectors:
            near = float(matcher.distance(vector, ref))
            if near < duplicate_distance:
                return "duplicate", None, {**scores, "duplicate_of": label, "duplicate_distance": round(near, 4)}
    mine = [a for a in (_unhex(x) for x in scores["signatures"]) if a is not None]
    for label, sigs in refs.pictures.items():
        for theirs in (a for a in (_unhex(x) for x in sigs) if a is not None):
            similar = max((_correlation(m, theirs) for m in mine), default=0.0)
            if similar >= PICTURE_CORRELATION:
                return "duplicate", None, {**scores, "duplicate_of": label, "picture_correlation": round(similar, 3)}
    return ("ok" if distance <= tolerance else "mismatch"), vector, scores
