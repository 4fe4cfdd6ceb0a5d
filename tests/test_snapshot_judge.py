"""The burst judgement (core.proctoring.burst.judge): a face the detector finds and the encoder
cannot use is a verdict, not a failed job; a frame of one of many earlier snapshots sent again is
refused, at the threshold of the earlier-snapshot check."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from core.faces import FaceBox, NoFaceError, decode_image
from core.files.images import FACE_FRAME_MAX_PIXELS
from core.proctoring import burst, signatures


class DetectsButCannotEncode:
    """A matcher whose detector sees one face that its encoder then fails to find."""

    name = "fake"

    def detect(self, image):
        return [FaceBox(60.0, 60.0, 80.0, 80.0)]

    def encode(self, image, box=None):
        raise NoFaceError("no face to encode")

    def distance(self, a, b):  # pragma: no cover - never reached
        raise AssertionError("nothing to compare")


def jpeg_of(image: Image.Image, quality: int = 85) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def live_burst(count: int = 3) -> list[bytes]:
    """Frames of one noisy scene moving a few pixels a frame: natural variation."""
    scene = np.random.default_rng(7).integers(0, 255, (240, 320, 3), dtype=np.uint8)
    return [jpeg_of(Image.fromarray(np.roll(scene, 3 * k, axis=1))) for k in range(count)]


def test_a_face_the_encoder_cannot_use_is_no_face():
    outcome, vector, scores = burst.judge(DetectsButCannotEncode(), live_burst(), 1, np.zeros(128), 0.6,
                                          burst.References(), 0.05, 0.6)
    assert outcome == "no_face" and vector is None
    assert scores["faces"] == 1 and scores["encoded"] is False and scores["change"] >= 0.6


class OneFace:
    """A matcher that finds one face at ``box`` in every frame and encodes it as the portrait's
    near neighbour: what the verdict then says comes from the burst's own checks."""

    name = "fake"

    def __init__(self, box: FaceBox) -> None:
        self.box = box

    def detect(self, image):
        return [self.box]

    def encode(self, image, box=None):
        return np.zeros(128)

    def distance(self, a, b):
        return 0.1


def decoded(jpegs: list[bytes]) -> list[signatures.Frame]:
    """The frames as the judge reads them: their grey levels."""
    return [signatures.Frame(decode_image(j, max_pixels=FACE_FRAME_MAX_PIXELS, grey=True)) for j in jpegs]


def many_earlier(count: int = 150) -> list[tuple[list[float], list[str], str]]:
    """Earlier snapshots of other frames: each its own face box, one to four signatures, some
    of them not signatures at all, some boxes not four numbers; every third one's signatures of
    the kind verdicts kept before cells."""
    rng = np.random.default_rng(11)
    out = []
    for i in range(count):
        box = [round(float(v), 1) for v in (rng.uniform(0, 200), rng.uniform(0, 120), rng.uniform(30, 150),
                                            rng.uniform(30, 150))]
        sigs = [rng.integers(0, 256, signatures.SIG_LEVELS, dtype=np.uint8).tobytes().hex()
                for _ in range(1 + i % 4)]
        if i % 17 == 0:
            sigs.append("not a signature")
        out.append((box[:3] if i % 23 == 5 else box, sigs,
                    signatures.BILINEAR if i % 3 == 0 else signatures.CELLS))
    return out


def judged(frames: list[bytes], earlier, box: FaceBox = FaceBox(90.0, 50.0, 100.0, 110.0)) -> tuple[str, dict]:
    outcome, _vector, scores = burst.judge(OneFace(box), frames, 0, np.zeros(128), 0.6,
                                          burst.References(earlier=earlier), 0.05, MIN_CHANGE)
    return outcome, scores


MIN_CHANGE = 0.625  # 160 levels of 256 one level away: a mean exactly at the threshold
WHERE = [40.5, 30.2, 120.7, 130.9]  # the 100th earlier snapshot's face box, none of the others'


def test_a_repeat_of_the_100th_of_many_earlier_snapshots_is_refused():
    frames = live_burst()
    # The 100th earlier snapshot holds these frames, cut at its own face box as its verdict kept them.
    theirs = [frame.signature(FaceBox(*WHERE)) for frame in decoded(frames)]
    earlier = many_earlier()
    assert judged(frames, earlier)[0] == "ok"
    earlier[99] = (WHERE, theirs, signatures.CELLS)
    # The same frames sent again, re-encoded (other bytes, other pixels), the face found elsewhere.
    again = [jpeg_of(Image.open(io.BytesIO(f)).convert("RGB"), 70) for f in frames]
    outcome, scores = judged(again, earlier)
    assert outcome == "duplicate" and scores["duplicate_of"] == "snapshot"
    # One frame of it among three others is enough: its last signature is this burst's second frame.
    rng = np.random.default_rng(3)
    others = [rng.integers(0, 256, signatures.SIG_LEVELS, dtype=np.uint8).tobytes().hex() for _ in range(2)]
    earlier[99] = (WHERE, [*others, theirs[1]], signatures.CELLS)
    assert judged(again, earlier)[0] == "duplicate"


def test_a_repeat_of_a_snapshot_judged_before_cells_is_refused():
    """A verdict kept before signatures had kinds holds bilinear ones: the frames sent again are
    cut that way for it, and are found."""
    frames = live_burst()
    cut = signatures.bilinear_cuts(decoded(frames), np.array([WHERE]))[:, 0]
    earlier = many_earlier()
    earlier[99] = (WHERE, [levels.tobytes().hex() for levels in cut], signatures.BILINEAR)
    again = [jpeg_of(Image.open(io.BytesIO(f)).convert("RGB"), 70) for f in frames]
    outcome, scores = judged(again, earlier)
    assert outcome == "duplicate" and scores["duplicate_of"] == "snapshot"
    # Read as cells, the same levels are another picture: the kind decides how a frame is cut.
    earlier[99] = (WHERE, earlier[99][1], signatures.CELLS)
    assert judged(again, earlier)[0] == "ok"


def off_by_one(signature: str, count: int) -> str:
    """``signature`` with ``count`` of its grey levels one level away: a mean absolute difference
    of count / 256."""
    levels = np.frombuffer(bytes.fromhex(signature), dtype=np.uint8).copy()
    step = np.where(levels[:count] < 255, 1, -1)
    levels[:count] = (levels[:count].astype(np.int16) + step).astype(np.uint8)
    return levels.tobytes().hex()


def test_an_earlier_frame_is_a_repeat_below_min_change_and_not_at_or_above_it():
    frames = live_burst()
    mine = decoded(frames)[2].signature(FaceBox(*WHERE))
    earlier = many_earlier()
    at = round(MIN_CHANGE * signatures.SIG_LEVELS)
    for count, outcome in ((at - 1, "duplicate"), (at, "ok"), (at + 1, "ok")):
        earlier[99] = (WHERE, [off_by_one(mine, count)], signatures.CELLS)  # the last frame of this burst, nearly
        assert judged(frames, earlier)[0] == outcome, count


def hostile_boxes(width: int, height: int) -> np.ndarray:
    """Face boxes anywhere: inside, across the edges, outside, of one pixel, the whole frame."""
    rng = np.random.default_rng(11)
    boxes = np.stack([rng.uniform(-40, width, 40), rng.uniform(-40, height, 40), rng.uniform(0, 200, 40),
                      rng.uniform(0, 200, 40)], axis=1)
    return np.vstack([boxes, [[0, 0, 1, 1], [width - 1, height - 1, 50, 50], [-90, -90, 10, 10],
                              [0, 0, width, height], [3, 3, 5, 5]]])


def test_each_cell_is_the_mean_of_its_pixels_rounded_half_up():
    """``signatures.cells`` read from summed-area tables gives, for every frame and region, each
    cell's mean grey level (cells from floor(k·n/16) to floor((k+1)·n/16), regions widened to 16
    pixels), as a loop over the pixels does; frames of two sizes in one call."""
    frames = decoded(live_burst(3)) + [signatures.Frame(np.random.default_rng(5).integers(0, 256, (90, 70),
                                                                                            dtype=np.uint8))]
    boxes = hostile_boxes(320, 240)
    got = signatures.cells(frames, boxes)
    for f, frame in enumerate(frames):
        height, width = frame.levels.shape
        for b, (x0, y0, x1, y1) in enumerate(signatures.regions(boxes, 1.0, width, height).tolist()):
            if x1 - x0 < 16:
                x1 = min(width, x0 + 16)
                x0 = x1 - 16
            if y1 - y0 < 16:
                y1 = min(height, y0 + 16)
                y0 = y1 - 16
            want = []
            for i in range(16):
                for j in range(16):
                    top, bottom = y0 + i * (y1 - y0) // 16, y0 + (i + 1) * (y1 - y0) // 16
                    left, right = x0 + j * (x1 - x0) // 16, x0 + (j + 1) * (x1 - x0) // 16
                    block = frame.levels[top:bottom, left:right].astype(np.int64)
                    want.append((2 * int(block.sum()) + block.size) // (2 * block.size))
            assert got[f, b].tolist() == want, (f, b)


def test_each_bilinear_cut_is_the_frames_own_region_resampled_as_one_grey_image():
    """``signatures.bilinear_cuts`` (PIL's core on the frames as bands of one image) gives, for
    every frame and region, the levels of that frame's own small copy's crop resized to 16×16, as
    bilinear signatures were made; regions at the edges, outside the frame and of one pixel
    included."""
    frames = decoded(live_burst(4))  # 4 frames: a second sheet of bands
    width, height = frames[0].small.image.size
    boxes = hostile_boxes(320, 240)
    got = signatures.bilinear_cuts(frames, boxes)
    regions = signatures.regions(boxes, frames[0].small.scale, width, height)
    for f, frame in enumerate(frames):
        for b, region in enumerate(regions):
            alone = frame.small.image.crop(tuple(region.tolist())).resize((16, 16), Image.BILINEAR)
            assert np.array_equal(got[f, b], np.frombuffer(alone.tobytes(), dtype=np.uint8)), (f, b)


def test_earlier_snapshots_with_malformed_signatures_leave_only_those_out():
    good = [np.full(signatures.SIG_LEVELS, k, dtype=np.uint8).tobytes().hex() for k in (3, 4)]
    for bad in ("zz" * signatures.SIG_LEVELS, "ab", None, 7, b"ab" * signatures.SIG_LEVELS, ["ab"] * 256):
        earlier = signatures.Earlier([((1, 2, 3, 4), [good[0], bad], signatures.CELLS),
                                      ((5, 6, 7, 8), [good[1]], signatures.CELLS),
                                      ((5, 6, 7, 8), [good[1]], "an unknown kind")])
        cells = earlier.kinds[signatures.CELLS]
        assert len(earlier) == 2 and list(earlier.kinds) == [signatures.CELLS], bad
        assert cells.owner.tolist() == [0, 1] and cells.levels[:, 0].tolist() == [3, 4], bad
