"""Frame signatures: a face region of a small grey copy of a frame as 16×16 grey levels, and the
check that no frame of a burst repeats a frame of the learner's earlier snapshots.

A signature is stored as the hex of its 256 grey levels (one byte each) in the verdict's scores.
The earlier-snapshot check compares every frame of a burst, cut at each earlier snapshot's face
box, with every frame of that snapshot: a mean absolute difference of the grey levels below
``min_change`` is a repeat. A course brings hundreds of earlier snapshots, so the check runs on
all of them at once: the signatures decoded in bulk, each distinct region of the small frames cut
once (the burst's frames of one size as the three bands of one image, which PIL resamples band by
band exactly as each frame alone), and every pair compared in one array operation.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image

SIG_SIDE = 16
SIG_LEVELS = SIG_SIDE * SIG_SIDE
SMALL_SIDE = 200  # frames are compared with earlier snapshots at this size (cheap for hundreds)


def regions(boxes: np.ndarray, scale: float, width: int, height: int) -> np.ndarray:
    """The face regions (left, top, right, bottom) of a small frame (``width`` × ``height``,
    ``scale`` times the frame) for face ``boxes`` (rows x, y, w, h in the frame's pixels), with a
    fifth of the box's height around it; an empty region is the whole small frame."""
    x, y, w, h = (boxes[:, i] for i in range(4))
    pad = 0.2 * h
    out = np.stack([np.maximum(0, np.round((x - pad) * scale)), np.maximum(0, np.round((y - pad) * scale)),
                    np.minimum(width, np.round((x + w + pad) * scale)),
                    np.minimum(height, np.round((y + h + pad) * scale))], axis=1).astype(np.int64)
    empty = (out[:, 2] <= out[:, 0]) | (out[:, 3] <= out[:, 1])
    out[empty] = (0, 0, width, height)
    return out


class Small:
    """A frame as grey levels at most ``SMALL_SIDE`` pixels wide or high, to cut signatures from."""

    def __init__(self, image: np.ndarray) -> None:
        self.grey = grey = Image.fromarray(image).convert("L")  # the frame at full size
        self.scale = min(1.0, SMALL_SIDE / max(grey.size))
        self.image = grey.resize((max(1, round(grey.width * self.scale)), max(1, round(grey.height * self.scale))),
                                 Image.BILINEAR) if self.scale < 1 else grey

    @property
    def geometry(self) -> tuple[float, int, int]:
        return self.scale, self.image.width, self.image.height

    def signature(self, box) -> str:
        """The face region at ``box`` (a FaceBox in the frame's pixels) as a signature."""
        region = regions(np.array([[box.x, box.y, box.w, box.h]], dtype=np.float64), *self.geometry)[0]
        return self.image.crop(tuple(region.tolist())).resize((SIG_SIDE, SIG_SIDE), Image.BILINEAR).tobytes().hex()


def unhex(sig: str) -> np.ndarray | None:
    """A signature's grey levels (uint8), None for anything that is not one."""
    try:
        raw = bytes.fromhex(sig)
    except (TypeError, ValueError):
        return None
    return np.frombuffer(raw, dtype=np.uint8) if len(raw) == SIG_LEVELS else None


def unhex_many(sigs: list) -> np.ndarray | list[np.ndarray | None]:
    """``unhex`` of each signature: rows of one array when all are well-formed (decoded at once),
    else a list with None for each that is not a signature."""
    try:
        if set(map(len, sigs)) <= {2 * SIG_LEVELS}:  # every one a str of 512 hex digits, or not joined
            return np.frombuffer(bytes.fromhex("".join(sigs)), dtype=np.uint8).reshape(len(sigs), SIG_LEVELS)
    except (TypeError, ValueError):
        pass  # one of them is not hex, or not text: each on its own below
    return [unhex(s) for s in sigs]


class Earlier:
    """The learner's earlier snapshots as arrays: their face boxes (n × 4) and the grey levels of
    their frames (m × 256, uint8), each frame with the index of its snapshot's box (``owner``).
    Snapshots without a box of four numbers or without a valid signature are left out."""

    def __init__(self, snapshots: Sequence[tuple[Sequence[float], Sequence[str]]] = ()) -> None:
        kept = [(where, their) for where, their in snapshots if len(where) == 4 and their]
        sigs = [s for _, their in kept for s in their]
        owner = np.repeat(np.arange(len(kept), dtype=np.int64), [len(their) for _, their in kept])
        levels = unhex_many(sigs)
        if not isinstance(levels, np.ndarray):  # some are not signatures: left out
            owner = owner[np.asarray([a is not None for a in levels], dtype=bool)]
            rows = [a for a in levels if a is not None]
            levels = np.stack(rows) if rows else np.zeros((0, SIG_LEVELS), np.uint8)
        self.levels, self.owner = levels, owner
        self.boxes = np.asarray([where for where, _ in kept], dtype=np.float64).reshape(-1, 4)

    def __len__(self) -> int:
        return len(self.levels)


def cuts(smalls: list[Small], boxes: np.ndarray) -> np.ndarray:
    """Each small frame cut at each of ``boxes`` (rows x, y, w, h in the frames' pixels): grey
    levels, frames × boxes × 256. Frames of one size share the regions, each distinct region cut
    once for up to three frames (as the bands of one RGB image). A course brings hundreds of
    regions, so each is cut and resampled by PIL's core (``crop``, ``resize``: what
    ``Image.crop`` and ``Image.resize`` run, without their wrappers' work per call) onto one
    sheet, whose bytes are read once."""
    out = np.empty((len(smalls), len(boxes), SIG_LEVELS), dtype=np.uint8)
    groups: dict[tuple[float, int, int], list[int]] = {}
    for i, sm in enumerate(smalls):
        groups.setdefault(sm.geometry, []).append(i)
    side = (SIG_SIDE, SIG_SIDE)
    for geometry, members in groups.items():
        distinct, where = np.unique(regions(boxes, *geometry), axis=0, return_inverse=True)
        where = where.reshape(-1)
        for start in range(0, len(members), 3):
            bands = members[start:start + 3]
            padded = bands + [bands[0]] * (3 - len(bands))
            image = Image.merge("RGB", [smalls[i].image for i in padded])
            sheet = Image.new("RGB", (SIG_SIDE, SIG_SIDE * len(distinct)))
            image.load()
            sheet.load()
            core, paste = image.im, sheet.im.paste
            for k, (x0, y0, x1, y1) in enumerate(distinct.tolist()):
                cut = core.crop((x0, y0, x1, y1)).resize(side, Image.BILINEAR, (0, 0, x1 - x0, y1 - y0))
                paste(cut, (0, SIG_SIDE * k, SIG_SIDE, SIG_SIDE * (k + 1)))
            levels = np.asarray(sheet).reshape(len(distinct), SIG_LEVELS, 3)
            for band, i in enumerate(bands):
                out[i] = levels[where, :, band]
    return out


def repeats(smalls: list[Small], earlier: Earlier, min_change: float) -> bool:
    """Does a frame (``smalls``), cut at an earlier snapshot's face box, lie within ``min_change``
    grey levels (mean absolute difference) of one of that snapshot's frames?"""
    if not len(earlier) or not smalls:
        return False
    mine = cuts(smalls, earlier.boxes)[:, earlier.owner, :].astype(np.int16)  # frames × earlier frames × 256
    sums = np.abs(mine - earlier.levels.astype(np.int16)[None, :, :]).sum(axis=2, dtype=np.int32)
    # The mean as float32, as each pair's mean was taken: sums of ≤ 256 levels are exact there.
    return bool((sums.astype(np.float32) / np.float32(SIG_LEVELS) < min_change).any())
