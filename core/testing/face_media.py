"""Real face media for tests and benchmarks: the shared photos and clips, played as a page would.

``shared_dir()`` is ``$XUESHI_SHARED_DIR`` or ``<repo root>/../shared`` (photos in ``faces/``,
clips in ``videos/``; see their READMEs). Attacks synthesised from the photos are in
core.testing.face_attacks.
"""

from __future__ import annotations

import functools
import math
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterable, Sequence, TypeVar

import cv2
import numpy as np

from core.faces import Action, Challenge, FrameSignals, decode_image, downscale

REPO_ROOT = Path(__file__).resolve().parents[2]
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")

Frames = list[tuple[int, np.ndarray]]  # (timestamp ms, RGB frame)


def shared_dir() -> Path:
    env = os.environ.get("XUESHI_SHARED_DIR")
    return Path(env) if env else (REPO_ROOT.parent / "shared")


def shared_missing_reason() -> str | None:
    """Why the face media cannot be used (None when they can).

    Under CI (``CI`` set to true) a missing ``../shared`` is an error, not a reason to skip:
    the face tests would otherwise pass by not running.
    """
    if (shared_dir() / "faces").is_dir() and (shared_dir() / "videos").is_dir():
        return None
    reason = f"face media not found at {shared_dir()} (set XUESHI_SHARED_DIR)"
    if os.environ.get("CI", "").strip().lower() in ("1", "true", "yes"):
        raise RuntimeError(f"{reason}; under CI the face tests must run, not be skipped")
    return reason


def faces_dir() -> Path:
    return shared_dir() / "faces"


def videos_dir() -> Path:
    return shared_dir() / "videos"


def person_photos() -> dict[str, list[Path]]:
    """{person: [photo paths]} for the single-person folders (not ``groups``)."""
    out: dict[str, list[Path]] = {}
    for d in sorted(p for p in faces_dir().iterdir() if p.is_dir() and p.name != "groups"):
        files = sorted(f for f in d.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES)
        if files:
            out[d.name] = files
    return out


def single_person_photos() -> list[Path]:
    return [f for files in person_photos().values() for f in files]


def group_photos() -> list[Path]:
    return sorted(f for f in (faces_dir() / "groups").iterdir() if f.suffix.lower() in IMAGE_SUFFIXES)


def person_of(path: Path) -> str:
    return path.parent.name


@functools.lru_cache(maxsize=64)
def load_photo(path: Path | str) -> np.ndarray:
    """A shared photo as RGB (read through the same safe decoder uploads use). Cached: don't mutate."""
    img = decode_image(Path(path).read_bytes())
    img.setflags(write=False)
    return img


def read_clip(path: Path | str, *, max_side: int = 640, step: int = 1) -> Frames:
    """Decode a clip into (t_ms, RGB) frames, downscaled; ``step`` keeps every n-th frame.

    Timestamps come from the clip (frame index / fps, or GIF frame durations), so a recorded
    clip drives a liveness session exactly as a camera would.
    """
    path = Path(path)
    frames: Frames = []
    if path.suffix.lower() == ".gif":
        from PIL import Image, ImageSequence

        t = 0.0
        with Image.open(path) as im:
            for k, f in enumerate(ImageSequence.Iterator(im)):
                if k % step == 0:
                    frames.append((round(t), downscale(np.array(f.convert("RGB")), max_side)[0]))
                t += f.info.get("duration", 100)
        return frames
    cap = cv2.VideoCapture(str(path))
    fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
    k = 0
    while True:
        ok, bgr = cap.read()
        if not ok:
            break
        if k % step == 0:
            frames.append((round(k * 1000 / fps), downscale(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), max_side)[0]))
        k += 1
    cap.release()
    return frames


def clip_time(path: Path | str, frame_index: int) -> int:
    """Timestamp (ms) of a frame index of a clip, as read_clip() gives it."""
    path = Path(path)
    if path.suffix.lower() == ".gif":
        from PIL import Image, ImageSequence

        with Image.open(path) as im:
            return round(sum(f.info.get("duration", 100) for f in list(ImageSequence.Iterator(im))[:frame_index]))
    cap = cv2.VideoCapture(str(path))
    fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
    cap.release()
    return round(frame_index * 1000 / fps)


# --- what the webcam page sends ------------------------------------------------------------

# Frames a second the webcam page sends (core/static/js/facecheck.js): 10 while it waits for a
# prompt, 20 while an action is asked (FRAME_GAP_MS / ACTION_FRAME_GAP_MS). Both are upper
# bounds: the page keeps one request in flight, so a slow link or server lowers them.
PAGE_FPS = 10.0
ACTION_FPS = 20.0
CLIPS = ("obama_weekly_address_blinks.mp4", "grid_id2_blinks.mpg", "intel_head_turn.gif")

T = TypeVar("T")


def at_rate(items: Sequence[tuple[int, T]], fps: float, phase_ms: float = 0.0) -> list[tuple[int, T]]:
    """What a page grabbing the camera ``fps`` times a second sees of a recorded clip: at each of
    its ticks (``phase_ms + k * 1000 / fps``) the latest clip frame, stamped with the tick time.
    ``items`` are (t_ms, frame or signals) in time order."""
    out: list[tuple[int, T]] = []
    period, j, k = 1000.0 / fps, 0, 0
    end = items[-1][0] + (items[-1][0] - items[-2][0] if len(items) > 1 else 0)  # the last frame lasts too
    while (t := phase_ms + k * period) < end:
        while j + 1 < len(items) and items[j + 1][0] <= t:
            j += 1
        out.append((round(t), items[j][1]))
        k += 1
    return out


def page_phases(items: Sequence[tuple[int, object]], fps: float = PAGE_FPS) -> list[int]:
    """Phase offsets (ms) giving every distinct selection of clip frames at ``fps``: a blink
    can fall between two sent frames in some phases and not in others, so a test at the page's
    rate runs all of them."""
    index = [(t, i) for i, (t, _) in enumerate(items)]
    seen: dict[tuple[int, ...], int] = {}
    for phase in range(math.ceil(1000.0 / fps)):
        seen.setdefault(tuple(i for _, i in at_rate(index, fps, phase)), phase)
    return sorted(seen.values())


def drop_frames(
    items: Sequence[tuple[int, T]], indices: Iterable[int], times: Sequence[int] = ()
) -> tuple[list[tuple[int, T]], tuple[int, ...]]:
    """The clip without the frames at ``indices``, later frames moved earlier to close the gap
    (dropping closed-eye frames makes a real blink quicker), and ``times`` (ms, e.g. prompt
    times) moved the same way."""
    gone = set(indices)
    out: list[tuple[int, T]] = []
    cuts: list[tuple[int, int]] = []  # (time of a dropped frame, its duration)
    for k, (t, x) in enumerate(items):
        if k in gone:
            cuts.append((t, (items[k + 1][0] if k + 1 < len(items) else t) - t))
        else:
            out.append((t - sum(d for c, d in cuts), x))
    return out, tuple(t - sum(d for c, d in cuts if c < t) for t in times)


def fade_in(frames: Frames, until_ms: int, start: float = 0.12) -> Frames:
    """The clip fading in from dark: brightness scaled from ``start`` to 1 over ``until_ms``
    (a camera's auto-exposure settling, a lamp switched on)."""
    out: Frames = []
    for t, f in frames:
        k = min(1.0, start + (1.0 - start) * t / until_ms)
        out.append((t, f if k >= 1.0 else np.clip(f.astype(np.float32) * k, 0, 255).astype(np.uint8)))
    return out


# Genuine clips (../shared/videos/README.md): frames of each blink with the eyes fully closed
# (MediaPipe eye aspect ratio under half the clip's median). Dropping all of a blink's closed
# frames but one gives the quick blinks learners make (eyes closed for a single frame).
CLOSED_EYE_FRAMES = {
    "obama_weekly_address_blinks.mp4": ((21, 22, 23, 24), (60, 61, 62, 63), (92, 93)),
    "grid_id2_blinks.mpg": ((27, 28, 29), (43, 44, 45, 46), (72, 73)),
}


def quick_blinks(
    clip: str, items: Sequence[tuple[int, T]], times: Sequence[int] = ()
) -> tuple[list[tuple[int, T]], tuple[int, ...]]:
    """``items`` of ``clip`` with every blink's closed-eye frames cut to one (and ``times``
    moved with the frames), as drop_frames() does."""
    return drop_frames(items, [i for run in CLOSED_EYE_FRAMES[clip] for i in run[1:]], times)


@dataclass(frozen=True)
class GenuineSession:
    """A challenge a recorded clip answers: the actions it shows, prompted just before them."""

    label: str
    clip: str
    actions: tuple[Action, ...]
    schedule: tuple[int, ...]  # prompt times (ms on the clip's clock)
    quick: bool = False  # play the clip with quick blinks (quick_blinks)


def _genuine_sessions() -> tuple[GenuineSession, ...]:
    O, G, I = "obama_weekly_address_blinks.mp4", "grid_id2_blinks.mpg", "intel_head_turn.gif"  # noqa: E741
    B, M, L, R = Action.BLINK, Action.OPEN_MOUTH, Action.TURN_LEFT, Action.TURN_RIGHT
    out = []
    for quick in (False, True):
        q = " (quick blinks)" if quick else ""
        out += [
            GenuineSession("obama: blink, open mouth" + q, O, (B, M), (500, 950), quick),
            GenuineSession("obama: open mouth, blink" + q, O, (M, B), (1300, 1750), quick),
            GenuineSession("obama: blink, blink" + q, O, (B, B), (500, 1700), quick),
            GenuineSession("grid: open mouth, blink" + q, G, (M, B), (700, 900), quick),
            GenuineSession("grid: blink, blink" + q, G, (B, B), (800, 1400), quick),
        ]
    out.append(GenuineSession("intel: turn left, turn right", I, (L, R), (250, 1000)))
    return tuple(out)


GENUINE_SESSIONS = _genuine_sessions()


def genuine_inputs(
    session: GenuineSession, items: Sequence[tuple[int, T]], fps: float | None = None, phase_ms: float = 0.0
) -> tuple[list[tuple[int, T]], tuple[int, ...]]:
    """The clip's ``items`` (frames or signals at the clip's own rate) as ``session`` plays
    them — quick blinks if asked, then at ``fps`` from ``phase_ms`` (None: every frame) — and
    the prompt times on that clock."""
    items, schedule = list(items), session.schedule
    if session.quick:
        items, schedule = quick_blinks(session.clip, items, schedule)
    return (items if fps is None else at_rate(items, fps, phase_ms)), schedule


# --- glasses drawn on genuine clips --------------------------------------------------------

# No shared clip shows glasses: the tests draw spectacles on the real clips' frames from the
# face's landmarks (the clips' MediaPipe signals, computed once per frame). "thin": dark thin
# rims and clear lenses; "thick_tinted": thick rims and lenses tinted at partial opacity (the
# eye stays visible through them). Drawn glasses on real clips, not recorded ones.
GLASSES_STYLES = ("thin", "thick_tinted")
_GLASSES = {  # rim thickness and lens tint opacity (fractions of the outer eye-corner distance / 0–1)
    "thin": dict(rim=0.018, tint=0.0, colour=(25, 22, 20)),
    "thick_tinted": dict(rim=0.04, tint=0.45, colour=(18, 14, 12), lens=(60, 45, 30)),
}


def with_glasses(frame: np.ndarray, landmarks: np.ndarray, style: str = "thin") -> np.ndarray:
    """A copy of RGB ``frame`` with spectacles drawn on the face whose ``landmarks`` are given.

    ``landmarks`` are MediaPipe's 13 anchor points of that face in the frame's pixels
    (``FaceObservation.anchors``: eye corners 33/133/362/263, brows 70/105/300/334, forehead 10,
    face sides 234/454 by the ears, nose bridge 168/6). Each lens is a rounded rectangle around
    one eye, 1.6× the eye's width and turned with the eye line; a bridge arches over the nose at
    landmark 168 and the temples run from the lenses' outer edges to the face sides.
    """
    spec = _GLASSES[style]
    p = np.asarray(landmarks, dtype=np.float64)
    lo, li, ri, ro = p[0], p[1], p[2], p[3]
    d = float(np.linalg.norm(ro - lo))  # outer eye-corner distance: the face's scale
    ux = (ro - lo) / d  # along the eye line (image left to right)
    uy = np.array([-ux[1], ux[0]])  # across it, pointing down the face
    if uy[1] < 0:
        uy = -uy
    rim = max(1, round(spec["rim"] * d))
    eye_w = max(float(np.linalg.norm(li - lo)), float(np.linalg.norm(ri - ro)))  # the nearer eye
    half_h = 0.4 * 1.6 * eye_w  # lens height ≈ 0.8 of the lens width of a frontal eye
    lenses = []
    for outer, inner in ((lo, li), (ri, ro)):
        c = (outer + inner) / 2 - 0.06 * eye_w * uy  # lens centre a little above the eye's
        half_w = 0.8 * float(np.linalg.norm(inner - outer))  # foreshortened with the eye on a turn
        a = np.linspace(0, 2 * np.pi, 48, endpoint=False)
        cx, cy = np.cos(a), np.sin(a)  # superellipse (exponent 4): a rounded rectangle
        x = np.sign(cx) * np.abs(cx) ** 0.5 * half_w
        y = np.sign(cy) * np.abs(cy) ** 0.5 * half_h
        lenses.append(np.round(c + np.outer(x, ux) + np.outer(y, uy)).astype(np.int32))
    out = np.ascontiguousarray(frame).copy()
    if spec["tint"] > 0:
        mask = np.zeros(out.shape[:2], np.uint8)
        cv2.fillPoly(mask, lenses, 255, cv2.LINE_AA)
        k = (mask.astype(np.float32) / 255.0 * spec["tint"])[..., None]
        out = (out * (1 - k) + np.float32(spec["lens"]) * k).astype(np.uint8)
    colour = spec["colour"]
    cv2.polylines(out, lenses, True, colour, rim, cv2.LINE_AA)
    # bridge: from the top inner edge of one lens over the nose bridge (168) to the other
    top_inner = [min(lens, key=lambda q, s=s: s * float(q @ ux) + 0.6 * float(q @ uy)) for lens, s in ((lenses[0], -1), (lenses[1], 1))]
    bridge_mid = p[11] - 0.02 * d * uy
    t = np.linspace(0, 1, 12)[:, None]
    curve = (1 - t) ** 2 * top_inner[0] + 2 * t * (1 - t) * bridge_mid + t**2 * top_inner[1]
    cv2.polylines(out, [np.round(curve).astype(np.int32)], False, colour, rim, cv2.LINE_AA)
    # temples: from each lens's upper outer edge back to the face side (234 / 454), above the ear
    for lens, side, s in ((lenses[0], p[9], -1), (lenses[1], p[10], 1)):
        hinge = max(lens, key=lambda q, s=s: s * float(q @ ux) - 0.3 * float(q @ uy))
        end = side + float((hinge - side) @ uy) * uy  # level with the hinge: temples run back to the ear's top
        if s * float((end - hinge) @ ux) > 0:  # the ear side is visible beyond the lens
            cv2.line(out, tuple(int(v) for v in np.round(hinge)), tuple(int(v) for v in np.round(end)), colour, rim, cv2.LINE_AA)
    return out


def splice(first: Frames, second: Frames, *, size: tuple[int, int] = (640, 480), gap_ms: int = 40) -> Frames:
    """Concatenate two frame lists (timestamps continued, frames letterboxed to one size)."""
    out: Frames = []
    for k, (t, f) in enumerate(first):
        out.append((t, letterbox(f, size)))
    t0 = (first[-1][0] + gap_ms) if first else 0
    s0 = second[0][0] if second else 0
    for t, f in second:
        out.append((t0 + t - s0, letterbox(f, size)))
    return out


def letterbox(img: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    w, h = size
    s = min(w / img.shape[1], h / img.shape[0])
    small = cv2.resize(img, (round(img.shape[1] * s), round(img.shape[0] * s)), interpolation=cv2.INTER_AREA)
    out = np.zeros((h, w, 3), np.uint8)
    y, x = (h - small.shape[0]) // 2, (w - small.shape[1]) // 2
    out[y : y + small.shape[0], x : x + small.shape[1]] = small
    return out


# --- driving a session like a page would ----------------------------------------------------


def drive(session, frames: Sequence[tuple[int, object]], schedule: Sequence[int] | None = None, *,
          stop_when_done: bool = True):
    """Feed frames to a LivenessSession as a page would. ``schedule`` (prompt times, ms) makes the
    session's challenge the one a server would issue with that schedule (``fixed_challenge``):
    the judge then issues prompt i at ``schedule[i]`` or, if the previous action was recognised
    later, on the frame after it. Frames are RGB arrays, or precomputed ``FrameSignals``
    (``session_signals``: the same observations without running the model again; no identity
    check then). Returns (verdict, guidance list)."""
    if schedule is not None:
        assert not session.judge.frames, "the schedule is part of the challenge: set it before any frame"
        session.challenge = session.judge.challenge = fixed_challenge(
            session.challenge.actions, session.challenge.nonce, schedule)
    guidance = []
    for t, frame in frames:
        g = feed(session, t, frame)
        guidance.append(g)
        if g.done and stop_when_done:
            break
    return session.finish(), guidance


def feed(session, t: int, frame: object):
    """One frame (an RGB array, or precomputed ``FrameSignals``) into a session at ``t``."""
    if isinstance(frame, FrameSignals):
        return session.add_signals(replace(frame, t_ms=t))
    return session.add_frame(frame, t, nonce=session.nonce)


def fixed_challenge(actions: Iterable[Action], nonce: str = "test-nonce", schedule: Sequence[int] = ()) -> Challenge:
    """A challenge with chosen actions (recorded clips only show certain actions) and prompt
    times (prompts not in ``schedule`` are never issued; each next prompt comes no sooner than
    the frame after the previous action was recognised)."""
    actions = tuple(actions)
    at = tuple(int(t) for t in schedule) + (10**9,) * (len(actions) - len(schedule))
    return Challenge(nonce, actions, prompt_at=at, gaps_ms=(1,) * max(0, len(actions) - 1))
