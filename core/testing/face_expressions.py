"""Expressions synthesised on real frames, for identity tests: a strong grimace.

A learner pulling a face during a mouth prompt moves her encoding away from her portrait more
than her neutral frames do. ``grimace`` makes one from a real frame with a smooth warp placed by
the face's MediaPipe anchor points (``FaceObservation.anchors``): mouth corners pulled out and
up, the jaw dropped, the upper lip raised, the eyes squeezed.
"""

from __future__ import annotations

import cv2
import numpy as np


def grimace(frame: np.ndarray, anchors: np.ndarray, strength: float = 1.0) -> np.ndarray:
    """A copy of RGB ``frame`` with the face of ``anchors`` (MediaPipe's 13 anchor points: eye
    corners 33/133/362/263 first) pulling a face; ``strength`` scales every displacement (1.0:
    mouth corners 0.12 and the jaw 0.12 of the outer eye-corner distance)."""
    p = np.asarray(anchors, dtype=np.float64)
    lo, li, ri, ro = p[0], p[1], p[2], p[3]
    d = float(np.linalg.norm(ro - lo))  # outer eye-corner distance: the face's scale
    ux = (ro - lo) / d  # along the eye line
    uy = np.array([-ux[1], ux[0]])  # down the face
    if uy[1] < 0:
        uy = -uy
    mouth = (lo + ro) / 2 + 0.82 * d * uy
    s = strength * d
    moves = [  # (where a point ends up, how far it moved, reach of the move)
        (mouth - 0.30 * d * ux - 0.04 * d * uy, s * (-0.12 * ux - 0.05 * uy), 0.16 * d),  # mouth corners
        (mouth + 0.30 * d * ux - 0.04 * d * uy, s * (0.12 * ux - 0.05 * uy), 0.16 * d),
        (mouth + 0.14 * d * uy, s * 0.12 * uy, 0.22 * d),  # jaw
        (mouth - 0.10 * d * uy, s * -0.03 * uy, 0.12 * d),  # upper lip
    ]
    for outer, inner in ((lo, li), (ri, ro)):  # eyes squeezed: lids closing from above and below
        c = (outer + inner) / 2
        moves += [(c - 0.05 * d * uy, s * 0.035 * uy, 0.08 * d), (c + 0.05 * d * uy, s * -0.025 * uy, 0.08 * d)]
    h, w = frame.shape[:2]
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    mapx, mapy = xs.copy(), ys.copy()
    for end, move, reach in moves:  # each output pixel samples the input where it came from
        g = np.exp(-((xs - end[0]) ** 2 + (ys - end[1]) ** 2) / (reach * reach))
        mapx -= move[0] * g
        mapy -= move[1] * g
    return cv2.remap(frame, mapx.astype(np.float32), mapy.astype(np.float32), cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_REFLECT)
