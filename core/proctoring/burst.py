"""Is a snapshot live evidence? The CPU side of the match job, run in the face thread pool.

A snapshot is a short burst of frames the page took from the camera over about a second. It is
judged on one frame the server picks at random (detected, encoded, compared with the portrait) and
on the burst as a whole:

* **Natural variation.** Between consecutive frames the face region (the picked frame's face box,
  grey levels at 32×32) must change by at least ``min_change`` on average: a camera's noise and a
  living face do (measured on the project's clips: ≥ 1.18 grey levels 0.4 s apart), one still
  picture sent several times, even re-encoded or with mild noise added, does not (≤ 0.51).
* **Not an image seen before.** The picked frame's encoding must not lie within
  ``duplicate_distance`` of the portrait, the ID-card photo or the learner's earlier snapshots
  (a re-sent portrait measures 0.02–0.07 with dlib; two real frames of one clip 0.2 s apart
  ≥ 0.07, minutes apart far more), and no frame may have the exact pixels of an earlier snapshot.

Every figure goes into the verdict's scores, for the reviewer.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image

from core.faces import decode_image, ensure_rgb
from core.files.images import FACE_FRAME_MAX_PIXELS

CROP_SIDE = 32


@dataclass
class References:
    """What a snapshot must not repeat: encodings (label → vectors) and earlier frames' pixel hashes."""

    encodings: dict[str, list[Any]] = field(default_factory=dict)
    pixels: set[str] = field(default_factory=set)


def pixel_hash(image: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(image).tobytes()).hexdigest()[:16]


def _crop(image: np.ndarray, box) -> np.ndarray:
    """The face region (with a fifth of its height around it) as 32×32 grey levels."""
    h, w = image.shape[:2]
    pad = 0.2 * box.h
    top, left = max(0, int(box.y - pad)), max(0, int(box.x - pad))
    bottom, right = min(h, int(box.y + box.h + pad)), min(w, int(box.x + box.w + pad))
    region = image[top:bottom, left:right] if bottom > top and right > left else image
    grey = Image.fromarray(region).convert("L").resize((CROP_SIDE, CROP_SIDE), Image.BILINEAR)
    return np.asarray(grey, dtype=np.float32)


def judge(matcher, jpegs: list[bytes], pick: int, portrait, tolerance: float, refs: References,
          duplicate_distance: float, min_change: float) -> tuple[str, Any, dict[str, Any]]:
    """(outcome, encoding of the picked frame or None, scores) for one burst."""
    images = [ensure_rgb(decode_image(j, max_pixels=FACE_FRAME_MAX_PIXELS)) for j in jpegs]
    hashes = [pixel_hash(im) for im in images]
    scores: dict[str, Any] = {"pixels": hashes, "picked": pick}
    repeated = next((h for h in hashes if h in refs.pixels), None)
    if repeated is not None:
        return "duplicate", None, {**scores, "duplicate_of": "snapshot"}
    target = images[pick]
    boxes = matcher.detect(target)
    if not boxes:
        return "no_face", None, {**scores, "faces": 0}
    if len(boxes) > 1:
        return "faces", None, {**scores, "faces": len(boxes)}
    shapes = {im.shape for im in images}
    if len(shapes) > 1:
        change = 0.0  # frames of different sizes are not one camera's burst
    else:
        crops = [_crop(im, boxes[0]) for im in images]
        change = min((float(np.abs(a - b).mean()) for a, b in zip(crops, crops[1:], strict=False)), default=0.0)
    scores.update(faces=1, change=round(change, 2))
    if len(images) < 2 or change < min_change or len(set(hashes)) < len(hashes):
        return "still", None, scores
    vector = matcher.encode(target, boxes[0])
    distance = float(matcher.distance(vector, portrait))
    scores.update(distance=round(distance, 4), tolerance=tolerance)
    for label, vectors in refs.encodings.items():
        for ref in vectors:
            near = float(matcher.distance(vector, ref))
            if near < duplicate_distance:
                return "duplicate", None, {**scores, "duplicate_of": label, "duplicate_distance": round(near, 4)}
    return ("ok" if distance <= tolerance else "mismatch"), vector, scores
