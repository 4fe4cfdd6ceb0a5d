"""Is a head movement 3-D, or a flat picture moved in perspective? Two views of it.

* ``planar_residual``: the provider's landmarks between the movement's first and last frames,
  fitted with one homography (``cv2.findHomography``); a flat picture leaves a small residual.
  Cheap, on signals only (the judge uses it), but a landmark model fitted to a warped photo may
  invent depth of its own.
* ``movement_planarity``: the face's pixels frame to frame through the movement (SIFT features,
  one RANSAC homography per pair of consecutive frames). A photo warped in perspective moves as
  one plane in every pair (nearly all features on the homography, error near 0); a head does not
  (its nose and cheeks lie at other depths). The session uses it on the frames it keeps.
"""

from __future__ import annotations

import statistics
from typing import TYPE_CHECKING, Sequence

from core.faces.values import FaceBox

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np


def planar_residual(
    anchors_a: np.ndarray, nose_a: np.ndarray, anchors_b: np.ndarray, nose_b: np.ndarray, scale: float
) -> float:
    """RMS reprojection error of the best homography mapping A's landmarks (anchors and nose
    tip) to B's, as a fraction of ``scale`` (the eye distance)."""
    import cv2
    import numpy as np
    a = np.vstack([np.asarray(anchors_a, dtype=np.float64).reshape(-1, 2), np.asarray(nose_a, dtype=np.float64)[:2]])
    b = np.vstack([np.asarray(anchors_b, dtype=np.float64).reshape(-1, 2), np.asarray(nose_b, dtype=np.float64)[:2]])
    if len(a) < 5 or len(a) != len(b) or scale <= 0:
        return 0.0
    h, _ = cv2.findHomography(a, b, 0)
    if h is None:
        return 0.0
    pred = cv2.perspectiveTransform(a.reshape(-1, 1, 2), h).reshape(-1, 2)
    return float(np.sqrt(((pred - b) ** 2).sum(axis=1).mean()) / scale)


def movement_planarity(frames: Sequence[tuple[np.ndarray, FaceBox]], min_matches: int = 20) -> tuple[int, float, float]:
    """Frames (RGB, face box) of one movement in time order → (pairs with at least
    ``min_matches`` face features matched, median share of them on one homography, median
    error of the homography as a fraction of the face width). (0, 0, 1) when nothing is known."""
    import cv2
    import numpy as np
    sift = cv2.SIFT_create(300)
    feats = []
    for image, box in frames:
        grey = cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2GRAY)
        mask = np.zeros(grey.shape, np.uint8)
        x, y, w, h = (int(round(v)) for v in (box.x, box.y, box.w, box.h))
        mask[max(0, y) : max(0, y + h), max(0, x) : max(0, x + w)] = 255
        feats.append((*sift.detectAndCompute(grey, mask), box.w))
    matcher = cv2.BFMatcher()
    shares: list[float] = []
    errors: list[float] = []
    for (ka, da, w), (kb, db, _) in zip(feats, feats[1:]):
        if da is None or db is None or len(ka) < min_matches or len(kb) < 2:
            continue
        good = [p[0] for p in matcher.knnMatch(da, db, k=2) if len(p) == 2 and p[0].distance < 0.75 * p[1].distance]
        if len(good) < min_matches:
            continue
        pa = np.float32([ka[g.queryIdx].pt for g in good])
        pb = np.float32([kb[g.trainIdx].pt for g in good])
        hmat, inliers = cv2.findHomography(pa, pb, cv2.RANSAC, max(1.0, 0.02 * w))
        if hmat is None:
            continue
        err = np.linalg.norm(cv2.perspectiveTransform(pa.reshape(-1, 1, 2), hmat).reshape(-1, 2) - pb, axis=1)
        shares.append(float(inliers.mean()))
        errors.append(float(np.median(err)) / max(w, 1.0))
    if not shares:
        return 0, 0.0, 1.0
    return len(shares), statistics.median(shares), statistics.median(errors)


__all__ = ["movement_planarity", "planar_residual"]
