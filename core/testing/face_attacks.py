"""Synthesised attacks on the liveness check, from the shared photos: a printed photo held in
front of the camera (still, slid across, tilted ±40° with a true perspective warp, flicked,
zoomed), a still frame animated by perspective warps imitating a head turn or nod (what a
virtual camera fed with one photo can do), and identity swaps; they are what a page would send.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from core.faces import Action, FaceBox, downscale
from core.testing.face_media import Frames, letterbox, load_photo, person_of, single_person_photos

ATTACKS = ("still", "slide", "tilt", "tilt_nod", "flick", "zoom", "warped_still", "warped_still_nod", "swap")

# For each attack, the challenge most favourable to the attacker, with prompt times (ms) that
# match the photo's movement (a tilt to the left is prompted as "turn left" just before it).
ATTACK_CHALLENGES: dict[str, tuple[tuple[Action, ...], tuple[int, ...]]] = {
    "still": ((Action.BLINK, Action.OPEN_MOUTH), (800, 2000)),
    "slide": ((Action.TURN_LEFT, Action.TURN_RIGHT), (800, 2000)),
    "tilt": ((Action.TURN_LEFT, Action.TURN_RIGHT), (900, 2300)),
    "tilt_nod": ((Action.NOD, Action.BLINK), (900, 2300)),
    "flick": ((Action.BLINK, Action.OPEN_MOUTH), (1000, 2400)),
    "zoom": ((Action.OPEN_MOUTH, Action.NOD), (800, 2000)),
    "swap": ((Action.BLINK, Action.TURN_LEFT), (800, 2400)),
    # a still frame warped in perspective like a head turning left then right / nodding down
    # then up (prompted just before each movement; a real challenge would also ask for a blink
    # or an open mouth, which a still cannot do: see WARP_ONLY)
    "warped_still": ((Action.TURN_LEFT, Action.TURN_RIGHT), (900, 2300)),
    "warped_still_nod": ((Action.NOD, Action.NOD), (900, 2300)),
}
# Attacks judged on their head movements alone (a challenge the server would never issue, as
# every challenge has a blink or an open mouth): the 3-D motion check must refuse them by itself.
WARP_ONLY = ("warped_still", "warped_still_nod")


@dataclass(frozen=True)
class Pose:
    yaw: float = 0.0  # degrees the card is turned about its vertical axis
    pitch: float = 0.0  # ... about its horizontal axis
    dx: float = 0.0  # shift, fraction of the frame width
    dy: float = 0.0
    zoom: float = 1.0


def _background(size: tuple[int, int], seed: int = 7) -> np.ndarray:
    w, h = size
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    base = 90 + 60 * (xx / w) + 30 * np.sin(yy / 37.0)
    img = np.stack([base, base * 0.95 + 10, base * 0.85 + 20], axis=-1)
    img += rng.normal(0, 6, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def _card(photo: np.ndarray, box: FaceBox) -> np.ndarray:
    """The printed photo: a square around the face, 2.6 face heights wide."""
    cx, cy = box.center
    side = int(2.6 * max(box.w, box.h))
    x1, y1 = int(cx - side / 2), int(cy - side * 0.45)
    pad = side
    padded = cv2.copyMakeBorder(np.asarray(photo), pad, pad, pad, pad, cv2.BORDER_REPLICATE)
    card = padded[y1 + pad : y1 + pad + side, x1 + pad : x1 + pad + side]
    card, _ = downscale(np.ascontiguousarray(card), 720)
    return card


def render_card(card: np.ndarray, pose: Pose, background: np.ndarray, *, card_frac: float = 0.9) -> np.ndarray:
    """Project the flat card into the frame with a pinhole camera (focal ≈ 0.9 × width)."""
    h, w = background.shape[:2]
    ch, cw = card.shape[:2]
    f = 0.9 * w
    half = card_frac * h / 2 * pose.zoom  # half height of the card at zero tilt, in px
    corners = np.array([[-1, -1, 0], [1, -1, 0], [1, 1, 0], [-1, 1, 0]], dtype=np.float64) * [half * cw / ch, half, 0]
    a, b = math.radians(pose.yaw), math.radians(pose.pitch)
    # yaw > 0: the card turns like a head turning to its own left (right edge away from camera)
    ry = np.array([[math.cos(a), 0, -math.sin(a)], [0, 1, 0], [math.sin(a), 0, math.cos(a)]])
    rx = np.array([[1, 0, 0], [0, math.cos(b), -math.sin(b)], [0, math.sin(b), math.cos(b)]])
    pts = corners @ (rx @ ry).T + [0, 0, f]
    proj = pts[:, :2] / pts[:, 2:] * f + [w / 2 + pose.dx * w, h / 2 + pose.dy * h]
    src = np.float32([[0, 0], [cw, 0], [cw, ch], [0, ch]])
    m = cv2.getPerspectiveTransform(src, proj.astype(np.float32))
    warped = cv2.warpPerspective(card, m, (w, h), flags=cv2.INTER_LINEAR)
    mask = cv2.warpPerspective(np.full((ch, cw), 255, np.uint8), m, (w, h))
    out = background.copy()
    out[mask > 127] = warped[mask > 127]
    return out


def _schedule(kind: str, t: float, rng: np.random.Generator) -> Pose:
    tremor = dict(dx=float(rng.normal(0, 0.003)), dy=float(rng.normal(0, 0.003)))
    if kind == "still":
        return Pose(**tremor)
    if kind == "slide":
        return Pose(dx=0.22 * math.sin(2 * math.pi * t / 2.5), dy=0.06 * math.sin(2 * math.pi * t / 1.7))
    if kind in ("warped_still", "warped_still_nod"):
        # 0 until 1 s, 60° at 1.6 s, held, 0 at 2.8 s, −60° at 3.4 s, held, 0 at 4.6 s
        keys = [(0, 0), (1.0, 0), (1.6, 60), (2.2, 60), (2.8, 0), (3.4, -60), (4.0, -60), (4.6, 0), (9, 0)]
        ang = float(np.interp(t, [k[0] for k in keys], [k[1] for k in keys]))
        return Pose(yaw=ang, **tremor) if kind == "warped_still" else Pose(pitch=ang, **tremor)
    if kind in ("tilt", "tilt_nod"):
        # 0 until 1 s, +40° at 1.8 s, 0 at 2.4 s, −40° at 3.2 s, 0 at 4 s
        keys = [(0, 0), (1.0, 0), (1.8, 40), (2.4, 0), (3.2, -40), (4.0, 0), (9, 0)]
        ang = float(np.interp(t, [k[0] for k in keys], [k[1] for k in keys]))
        return Pose(yaw=ang, **tremor) if kind == "tilt" else Pose(pitch=ang, **tremor)
    if kind == "flick":
        # quick flicks of the card: pitched 60° at 1.4 s (squeezes the eyes: a fake blink?),
        # turned 60° at 2.8 s (narrows the mouth: a fake open mouth?)
        pitch = float(np.interp(t, [0, 1.2, 1.4, 1.6, 9], [0, 0, 60, 0, 0]))
        yaw = float(np.interp(t, [0, 2.6, 2.8, 3.0, 9], [0, 0, 60, 0, 0]))
        return Pose(yaw=yaw, pitch=pitch, **tremor)
    if kind == "zoom":
        z = float(np.interp(t, [0, 1.0, 2.0, 3.0, 4.0, 9], [1.0, 1.0, 0.6, 1.35, 0.8, 0.8]))
        return Pose(zoom=z, **tremor)
    raise ValueError(kind)


def warp_still(frame: np.ndarray, face: FaceBox, pose: Pose, *, focal: float = 0.35) -> np.ndarray:
    """A still frame filling the picture, warped by the homography of its plane turned by
    ``pose`` about the face's centre under a short focal length (``focal`` × width): the
    foreshortening a virtual camera fed with one photo can give to imitate a head turn or nod.
    Every point moves under that one homography, as any planar warp does."""
    h, w = frame.shape[:2]
    f = focal * w
    cx, cy = face.center
    a, b = math.radians(pose.yaw), math.radians(pose.pitch)
    ry = np.array([[math.cos(a), 0, -math.sin(a)], [0, 1, 0], [math.sin(a), 0, math.cos(a)]])
    rx = np.array([[1, 0, 0], [0, math.cos(b), -math.sin(b)], [0, math.sin(b), math.cos(b)]])
    src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    pts = np.c_[src - [cx, cy], np.zeros(4)] @ (rx @ ry).T + [0, 0, f]
    dst = pts[:, :2] / pts[:, 2:] * f + [cx + pose.dx * w, cy + pose.dy * h]
    m = cv2.getPerspectiveTransform(src, dst.astype(np.float32))
    return cv2.warpPerspective(frame, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def photo_attack(
    photo: np.ndarray,
    face: FaceBox,
    kind: str,
    *,
    other: tuple[np.ndarray, FaceBox] | None = None,
    fps: float = 8.0,
    seconds: float = 5.0,
    size: tuple[int, int] = (640, 480),
    seed: int = 0,
) -> Frames:
    """Frames of a photo attack. ``swap`` shows ``photo`` for the first half, then ``other``."""
    rng = np.random.default_rng(seed)
    bg = _background(size)
    card = _card(photo, face)
    card2 = _card(other[0], other[1]) if other is not None else None
    still = letterbox(np.asarray(photo), size) if kind in WARP_ONLY else None
    if still is not None:  # the face box in the letterboxed frame
        k = min(size[0] / photo.shape[1], size[1] / photo.shape[0])
        x0, y0 = (size[0] - round(photo.shape[1] * k)) // 2, (size[1] - round(photo.shape[0] * k)) // 2
        face = FaceBox(face.x * k + x0, face.y * k + y0, face.w * k, face.h * k)
    frames: Frames = []
    for k in range(int(fps * seconds)):
        t = k / fps
        if kind == "swap":
            if card2 is None:
                raise ValueError("a swap attack needs another person's photo")
            c = card if t < seconds / 2 else card2
            img = render_card(c, _schedule("still", t, rng), bg)
        elif kind in WARP_ONLY:
            img = warp_still(still, face, _schedule(kind, t, rng))
        else:
            img = render_card(card, _schedule(kind, t, rng), bg)
        noise = rng.normal(0, 3, img.shape)
        frames.append((round(t * 1000), np.clip(img + noise, 0, 255).astype(np.uint8)))
    return frames



def attack_inputs(
    detect: Callable[[np.ndarray], list[FaceBox]], photo_path: Path, kind: str, *, fps: float = 8.0, seed: int = 0
) -> Frames:
    """Synthesise attack ``kind`` from one shared photo (swap uses another person's photo)."""
    photo = load_photo(photo_path)
    box = max(detect(photo), key=lambda b: b.area)
    other = None
    if kind == "swap":
        others = [p for p in single_person_photos() if person_of(p) != person_of(photo_path)]
        op = others[(sum(map(ord, photo_path.name)) + seed) % len(others)]
        oimg = load_photo(op)
        other = (oimg, max(detect(oimg), key=lambda b: b.area))
    return photo_attack(photo, box, kind, other=other, fps=fps, seed=seed)
