"""Frame signatures: a face region of a frame as 16×16 grey levels, and the check that no frame of
a burst repeats a frame of the learner's earlier snapshots.

A signature is stored as the hex of its 256 grey levels (one byte each) in the verdict's scores,
with its kind (``scores["signature_kind"]``):

* ``cells`` (made now): the region split into 16×16 cells (cell k of a side spans
  ``floor(k·n/16)`` to ``floor((k+1)·n/16)`` of its n pixels; a region is at least 16 pixels each
  way), each cell's mean grey level rounded half up. Every cell is a sum of a summed-area table
  read at its corners, so hundreds of regions cost one gather.
* ``bilinear`` (verdicts without a kind, kept before): the region of a copy of the frame at most
  200 pixels wide or high, resized to 16×16 by PIL's bilinear filter. Still compared, cut the same
  way, so a snapshot judged before cells is still found when it is sent again.

The earlier-snapshot check compares every frame of a burst, cut at each earlier snapshot's face
box, with every frame of that snapshot: a mean absolute difference of the grey levels below
``min_change`` is a repeat. A course brings hundreds of earlier snapshots, so the check runs on
all of them at once: the signatures decoded in bulk, every region cut at once, and every pair
compared in one array operation.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property

import numpy as np
from PIL import Image

SIG_SIDE = 16
SIG_LEVELS = SIG_SIDE * SIG_SIDE
SMALL_SIDE = 200  # bilinear signatures are cut from a copy of the frame at most this size
CELLS, BILINEAR = "cells", "bilinear"  # the kinds of signature: made now, kept by earlier verdicts


def regions(boxes: np.ndarray, scale: float, width: int, height: int) -> np.ndarray:
    """The face regions (left, top, right, bottom) of a frame (``width`` × ``height``, ``scale``
    times the frame the boxes are in) for face ``boxes`` (rows x, y, w, h), with a fifth of the
    box's height around it; an empty region is the whole frame."""
    x, y, w, h = (boxes[:, i] for i in range(4))
    pad = 0.2 * h
    out = np.stack([np.maximum(0, np.round((x - pad) * scale)), np.maximum(0, np.round((y - pad) * scale)),
                    np.minimum(width, np.round((x + w + pad) * scale)),
                    np.minimum(height, np.round((y + h + pad) * scale))], axis=1).astype(np.int64)
    empty = (out[:, 2] <= out[:, 0]) | (out[:, 3] <= out[:, 1])
    out[empty] = (0, 0, width, height)
    return out


class Small:
    """A frame's grey levels at most ``SMALL_SIDE`` pixels wide or high, to cut bilinear
    signatures from (``image``: PIL, mode L, full size)."""

    def __init__(self, image: Image.Image) -> None:
        self.scale = min(1.0, SMALL_SIDE / max(image.size))
        self.image = image.resize((max(1, round(image.width * self.scale)), max(1, round(image.height * self.scale))),
                                  Image.BILINEAR) if self.scale < 1 else image

    @property
    def geometry(self) -> tuple[float, int, int]:
        return self.scale, self.image.width, self.image.height


class Frame:
    """A frame's grey levels (``levels``: H×W uint8; RGB is made grey), with what the checks cut
    from it made once, when first asked for."""

    def __init__(self, image: np.ndarray) -> None:
        self.levels = image if image.ndim == 2 else np.asarray(Image.fromarray(image).convert("L"))

    @cached_property
    def image(self) -> Image.Image:
        """The grey levels as a PIL image."""
        return Image.fromarray(self.levels)

    @cached_property
    def table(self) -> np.ndarray:
        """The summed-area table, flat: entry y·(W+1)+x is the sum of the levels above y and left of x."""
        import cv2

        return cv2.integral(self.levels, sdepth=cv2.CV_64F).reshape(-1)

    @cached_property
    def small(self) -> Small:
        """The small copy bilinear signatures are cut from."""
        return Small(self.image)

    def signature(self, box) -> str:
        """The face region at ``box`` (a FaceBox in the frame's pixels) as a cells signature."""
        return cells([self], np.array([[box.x, box.y, box.w, box.h]], dtype=np.float64))[0, 0].tobytes().hex()


def cell_regions(boxes: np.ndarray, width: int, height: int) -> np.ndarray:
    """``regions`` of a frame at its own size, each widened (within the frame) to 16 pixels a side."""
    out = regions(boxes, 1.0, width, height)
    for lo, hi, side in ((0, 2, width), (1, 3, height)):
        short = out[:, hi] - out[:, lo] < SIG_SIDE
        out[short, hi] = np.minimum(side, out[short, lo] + SIG_SIDE)
        out[short, lo] = np.maximum(0, out[short, hi] - SIG_SIDE)
    return out


def cells(frames: list[Frame], boxes: np.ndarray) -> np.ndarray:
    """Each frame cut at each of ``boxes`` (rows x, y, w, h in the frames' pixels) as cells
    signatures' grey levels: frames × boxes × 256. Frames of one size share the cells' corners
    and areas; each frame's sums are read from its summed-area table in one gather."""
    out = np.empty((len(frames), len(boxes), SIG_LEVELS), dtype=np.uint8)
    k = np.arange(SIG_SIDE + 1)
    grids: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}
    for i, frame in enumerate(frames):
        height, width = shape = frame.levels.shape
        if shape not in grids:
            x0, y0, x1, y1 = cell_regions(boxes, width, height).T
            xs = x0[:, None] + k * (x1 - x0)[:, None] // SIG_SIDE  # boxes × 17 cell edges
            ys = y0[:, None] + k * (y1 - y0)[:, None] // SIG_SIDE
            areas = (np.diff(ys)[:, :, None] * np.diff(xs)[:, None, :]).astype(np.float64)
            grids[shape] = ys[:, :, None] * (width + 1) + xs[:, None, :], areas
        at, areas = grids[shape]
        corners = frame.table.take(at)  # boxes × 17 × 17
        sums = corners[:, 1:, 1:] - corners[:, :-1, 1:] - corners[:, 1:, :-1] + corners[:, :-1, :-1]
        sums /= areas  # exact sums (< 2**53): the mean, then rounded half up
        sums += 0.5
        out[i] = np.floor(sums, out=sums).reshape(len(boxes), SIG_LEVELS)
    return out


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


class Kind:
    """The earlier snapshots with one kind of signature: their face boxes (n × 4) and the grey
    levels of their frames (m × 256, uint8), each frame with the index of its snapshot's box
    (``owner``)."""

    def __init__(self, kept: list[tuple[Sequence[float], Sequence[str]]]) -> None:
        sigs = [s for _, their in kept for s in their]
        owner = np.repeat(np.arange(len(kept), dtype=np.int64), [len(their) for _, their in kept])
        levels = unhex_many(sigs)
        if not isinstance(levels, np.ndarray):  # some are not signatures: left out
            owner = owner[np.asarray([a is not None for a in levels], dtype=bool)]
            rows = [a for a in levels if a is not None]
            levels = np.stack(rows) if rows else np.zeros((0, SIG_LEVELS), np.uint8)
        self.levels, self.owner = levels, owner
        self.boxes = np.asarray([where for where, _ in kept], dtype=np.float64).reshape(-1, 4)


class Earlier:
    """The learner's earlier snapshots, (face box, signatures, kind) each, by kind of signature.
    Snapshots without a box of four numbers or without a valid signature are left out."""

    def __init__(self, snapshots: Sequence[tuple[Sequence[float], Sequence[str], str]] = ()) -> None:
        by_kind: dict[str, list] = {}
        for where, their, kind in snapshots:
            if len(where) == 4 and their and kind in (CELLS, BILINEAR):
                by_kind.setdefault(kind, []).append((where, their))
        self.kinds = {kind: Kind(kept) for kind, kept in by_kind.items()}

    def __len__(self) -> int:
        return sum(len(k.levels) for k in self.kinds.values())


def bilinear_cuts(frames: list[Frame], boxes: np.ndarray) -> np.ndarray:
    """Each frame cut at each of ``boxes`` (rows x, y, w, h in the frames' pixels) as bilinear
    signatures' grey levels: frames × boxes × 256. Frames of one size share the regions, each
    distinct region cut once for up to three frames (as the bands of one RGB image, which PIL
    resamples band by band exactly as each frame alone) by PIL's core (``crop``, ``resize``: what
    ``Image.crop`` and ``Image.resize`` run, without their wrappers' work per call) onto one
    sheet, whose bytes are read once."""
    out = np.empty((len(frames), len(boxes), SIG_LEVELS), dtype=np.uint8)
    groups: dict[tuple[float, int, int], list[int]] = {}
    for i, frame in enumerate(frames):
        groups.setdefault(frame.small.geometry, []).append(i)
    side = (SIG_SIDE, SIG_SIDE)
    for geometry, members in groups.items():
        distinct, where = np.unique(regions(boxes, *geometry), axis=0, return_inverse=True)
        where = where.reshape(-1)
        for start in range(0, len(members), 3):
            bands = members[start:start + 3]
            padded = bands + [bands[0]] * (3 - len(bands))
            image = Image.merge("RGB", [frames[i].small.image for i in padded])
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


CUTS = {CELLS: cells, BILINEAR: bilinear_cuts}


def repeats(frames: list[Frame], earlier: Earlier, min_change: float) -> bool:
    """Does a frame, cut at an earlier snapshot's face box as that snapshot's signatures were,
    lie within ``min_change`` grey levels (mean absolute difference) of one of its frames?"""
    import cv2

    for kind, theirs in earlier.kinds.items():
        if not len(theirs.levels) or not frames:
            continue
        mine = CUTS[kind](frames, theirs.boxes)[:, theirs.owner, :].reshape(-1, SIG_LEVELS)  # frames × their frames
        differences = cv2.absdiff(mine, np.tile(theirs.levels, (len(frames), 1)))
        sums = cv2.reduce(differences, 1, cv2.REDUCE_SUM, dtype=cv2.CV_32S)
        # The mean as float32, as each pair's mean was taken: sums of ≤ 256 levels are exact there.
        if (sums.astype(np.float32) / np.float32(SIG_LEVELS) < min_change).any():
            return True
    return False
