"""A liveness session for the web layer: provider + judge + identity on evidence frames.

Call sequence: ``LivenessSession(provider, draw_challenge(...), identity=...)`` →
``add_frame(frame, t_ms)`` for every frame (returns per-frame guidance: ``next_prompt`` is the
prompt to show now, chosen by the server's schedule; ``guidance.done`` says stop) → ``finish()``
→ ``Verdict``.

Between requests the web layer keeps a session in a shared store (core.proctoring.live): the kept
frames (JPEG, face box, yaw), the judge's landmark poses and its history are taken out of its
state (``spill``, ``judge.spill_poses`` and ``judge.spill_history`` hand each one over once,
``drop_kept`` forgets them) and handed back when needed (``wanted``/``attach`` before ``finish``;
what the judge asks for with ``PosesNeeded`` or ``HistoryNeeded``), so the state written on every
frame holds neither pictures nor landmarks nor every frame's signals. ``measure`` (the provider)
and ``advance`` (the judge) split ``add_frame``, so that a frame can be judged again without
measuring it again. The pixel check of a turn or nod (core.faces.planarity) runs in ``finish``
on the frames of each recognised movement, kept for it.
"""

from __future__ import annotations

import math
import secrets
from array import array
from dataclasses import dataclass
from typing import TYPE_CHECKING

from core.faces import imaging
from core.faces.challenge import HEAD_MOVES, Challenge
from core.faces.liveness import LivenessJudge, LivenessRules
from core.faces.planarity import movement_planarity
from core.faces.quality import PortraitRules, image_issues
from core.faces.values import (
    ChallengeError,
    Evidence,
    FaceBox,
    FaceError,
    FrameGuidance,
    FrameSignals,
    Verdict,
    VerdictCode,
)

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

    from core.faces.provider import FaceProvider



@dataclass(slots=True)
class _Kept:
    t_ms: int
    jpeg: bytes
    box: FaceBox  # in the JPEG's pixels
    yaw: float | None = None


@dataclass(slots=True)
class IdentityCheck:
    """Who the face must be: a matcher provider, the portrait's encoding, the tolerance."""

    matcher: FaceProvider
    portrait: np.ndarray | None = None  # None: only check the same person stays throughout
    tolerance: float | None = None


class LivenessSession:
    """Drives one challenge for the web layer: frames in, guidance out, then a verdict.

    ``add_frame`` takes a decoded RGB frame (or JPEG/PNG bytes) and the caller's timestamp in
    ms; the judge issues the prompts on the challenge's schedule. ``finish`` returns the
    verdict with scores, Chinese reasons and a few evidence frames (JPEG).
    """

    MAX_FRAMES = 600
    SAMPLE_EVERY_MS = 500
    MAX_EVIDENCE = 8
    IDENTITY_SHARE = 0.75  # share of the encoded frames that must be within tolerance
    IDENTITY_MAX_YAW = 25.0  # encodings of turned faces are unreliable: identity uses frontal frames
    # frames encoded for identity must be lit, big and sharp enough (a dark fade-in, a face far
    # away or in motion blur encodes poorly and would spread the encodings)
    IDENTITY_FLOOR = PortraitRules(min_face_px=80, min_face_share=0.0, min_sharpness=25.0)
    MAX_SIDE = 640

    def __init__(
        self,
        provider: FaceProvider,
        challenge: Challenge,
        *,
        rules: LivenessRules | None = None,
        identity: IdentityCheck | None = None,
    ) -> None:
        unsupported = set(challenge.actions) - set(provider.liveness_actions)
        if unsupported:
            raise ChallengeError(f"{provider.name} cannot measure {sorted(unsupported)}")
        self.provider = provider
        self.challenge = challenge
        self.judge = LivenessJudge(challenge, rules)
        self.identity = identity
        # the frames kept for the verdict, by time: in memory only while they may still be
        # chosen (``_held``), or outside the state (``spill``/``drop_kept``/``attach``); the
        # state keeps which ones the verdict reads
        self._held: dict[int, _Kept] = {}
        self._pinned: dict[int, str] = {}  # time -> label ("baseline", "sample", an action's)
        self._last_sample = -10**12
        self._verdict: Verdict | None = None
        self._flat_moves: list[str] = []
        self._movements: list[tuple[str, tuple[int, ...]]] = []  # each recognised turn or nod's frame times
        self._unsaved: list[_Kept] = []

    def __getstate__(self) -> tuple:
        """The session as a tuple, the chosen frames' labels as numbers into ``_labels`` (the
        frames themselves go with it only when they are held: see ``drop_kept``)."""
        labels = self._labels()
        pinned = sorted(self._pinned.items())
        return (
            self.provider, self.challenge, self.judge, self.identity, self._held, self._unsaved,
            array("i", (t for t, _ in pinned)).tobytes(), bytes(labels.index(v) for _, v in pinned),
            self._last_sample, self._verdict, self._flat_moves, self._movements,
        )

    def __setstate__(self, state: tuple) -> None:
        (self.provider, self.challenge, self.judge, self.identity, self._held, self._unsaved, times, labels,
         self._last_sample, self._verdict, self._flat_moves, self._movements) = state
        names = self._labels()
        self._pinned = dict(zip(array("i", times), (names[i] for i in labels), strict=True))

    def _labels(self) -> list[str]:
        return ["baseline", "sample", *(f"{a.value}{end}" for a in self.challenge.actions for end in ("", "_start"))]

    @property
    def nonce(self) -> str:
        return self.challenge.nonce

    def check_nonce(self, nonce: str) -> None:
        if not secrets.compare_digest(str(nonce), self.challenge.nonce):
            raise ChallengeError("nonce does not match this challenge")

    def add_frame(self, image: np.ndarray | bytes, t_ms: int, *, nonce: str | None = None) -> FrameGuidance:
        if nonce is not None:
            self.check_nonce(nonce)
        if self._verdict is not None:
            raise ChallengeError("the session is finished")
        image, sig = self.measure(image, t_ms)
        return self.advance(image, sig)

    def measure(self, image: np.ndarray | bytes, t_ms: int) -> tuple[np.ndarray, FrameSignals]:
        """The frame's (downscaled) image and the provider's signals; the session is unchanged."""
        if self._verdict is not None:
            raise ChallengeError("the session is finished")
        if self.judge.frames >= self.MAX_FRAMES:
            raise ChallengeError("too many frames")
        return frame_signals(self.provider, image, t_ms, self.MAX_SIDE)

    def advance(self, image: np.ndarray, sig: FrameSignals) -> FrameGuidance:
        """Judge a measured frame and keep it for the verdict. May raise ``PosesNeeded`` after
        ``drop_kept`` (see ``LivenessJudge.observe``)."""
        if self._verdict is not None:
            raise ChallengeError("the session is finished")
        before = len(self.judge.results)
        guidance = self.judge.observe(sig)
        self._keep(image, sig, before)
        return guidance

    def add_signals(self, sig: FrameSignals) -> FrameGuidance:
        """Feed precomputed signals (no evidence frames kept, no identity possible)."""
        return self.judge.observe(sig)

    def _keep(self, image: np.ndarray, sig: FrameSignals, results_before: int) -> None:
        if sig.face is None:
            return
        jpeg = sig.source if sig.source is not None else imaging.encode_jpeg(image, max_side=None)
        kept = _Kept(sig.t_ms, jpeg, sig.face.box, sig.face.yaw)
        self._held[kept.t_ms] = kept
        self._unsaved.append(kept)
        if not self._pinned:
            self._pinned[kept.t_ms] = "baseline"
        if sig.t_ms - self._last_sample >= self.SAMPLE_EVERY_MS:
            self._pinned.setdefault(kept.t_ms, "sample")
            self._last_sample = sig.t_ms
        for r in self.judge.results[results_before:]:
            if not r.passed:
                continue
            # an action's frames are in its window (frames with a face), still held by the judge
            window = self.judge.window_times()
            if r.action in HEAD_MOVES and r.start_ms is not None and r.done_ms is not None:
                self._movements.append((r.action.value, tuple(t for t in window if r.start_ms <= t <= r.done_ms)))
            for t, label in ((r.start_ms, f"{r.action.value}_start"), (r.done_ms, r.action.value)):
                if t in window:
                    self._pinned[t] = label
        # frames older than any window still to come and not chosen are not needed any more
        horizon = sig.t_ms - self.judge.rules.timeout_ms - 1000
        used = self._used()
        for t in [t for t in self._held if t < horizon and t not in used]:
            del self._held[t]

    def _moved_flat(self, times: tuple[int, ...]) -> bool:
        """Whether the face's pixels moved as one plane through a recognised turn or nod (a
        photo warped in perspective; core.faces.planarity), judged on its frames."""
        r = self.judge.rules
        frames = [self._held[t] for t in times if t in self._held]
        pairs, share, error = movement_planarity([(imaging.decode_image(k.jpeg), k.box) for k in frames])
        return pairs >= r.planar_image_pairs and share >= r.planar_image_inliers and error <= r.planar_image_error

    def _used(self) -> set[int]:
        """The times of the frames the verdict reads."""
        return {*self._pinned, *(t for _, ts in self._movements for t in ts)}

    def spill(self) -> list[tuple[int, bytes, FaceBox, float | None]]:
        """(t_ms, JPEG, face box, yaw) of each frame kept since the last call, once."""
        out = [(k.t_ms, k.jpeg, k.box, k.yaw) for k in self._unsaved]
        self._unsaved.clear()
        return out

    def drop_kept(self) -> None:
        """Forget the kept frames, the judge's poses and its history handed over (the caller
        keeps them: ``spill``, ``judge.spill_poses``, ``judge.spill_history``), so the state
        holds neither pictures nor landmarks nor every frame's signals."""
        self._held.clear()
        self._unsaved.clear()
        self.judge.drop_poses()
        self.judge.drop_history()

    def wanted(self) -> list[int]:
        """The times of the kept frames ``finish`` reads that are not here."""
        return sorted(t for t in self._used() if t not in self._held)

    def attach(self, frames: dict[int, tuple[bytes, FaceBox, float | None]]) -> None:
        """Hand back kept frames, by time: (JPEG, face box, yaw)."""
        for t, (jpeg, box, yaw) in frames.items():
            self._held.setdefault(t, _Kept(t, jpeg, box, yaw))

    def finish(self) -> Verdict:
        if self._verdict is not None:
            return self._verdict
        codes, scores = self.judge.verdict()
        self._flat_moves = [action for action, times in self._movements if self._moved_flat(times)]
        if self._flat_moves:
            scores["flat_movements"] = float(len(self._flat_moves))
            if VerdictCode.NO_PARALLAX not in codes:
                codes.append(VerdictCode.NO_PARALLAX)
        chosen = [(label, self._held[t]) for t, label in self._select_evidence() if t in self._held]
        evidence = [Evidence(k.t_ms, label, k.jpeg) for label, k in chosen]
        if self.identity is not None and self.judge.frames:
            evidence, id_codes, id_scores = self._check_identity(chosen)
            codes.extend(id_codes)
            scores.update(id_scores)
        self._verdict = Verdict(
            self.challenge.nonce,
            not codes,
            tuple(dict.fromkeys(codes)),
            tuple(self.judge.results),
            scores,
            tuple(evidence),
            self.judge.frames,
        )
        return self._verdict

    def _select_evidence(self) -> list[tuple[int, str]]:
        """At most MAX_EVIDENCE frames (time, label): every action's frames first, then the
        baseline, then samples spread over the session (time order in the result)."""
        items = sorted(self._pinned.items())
        actions = [(t, v) for t, v in items if v not in ("baseline", "sample")]
        rest = [(t, v) for t, v in items if v == "baseline"]
        samples = [(t, v) for t, v in items if v == "sample"]
        room = max(0, self.MAX_EVIDENCE - len(actions) - len(rest))
        if samples and room:
            step = len(samples) / room
            rest += [samples[int(i * step)] for i in range(min(room, len(samples)))]
        return sorted((actions + rest)[: max(self.MAX_EVIDENCE, len(actions))])

    def _check_identity(self, pinned: list[tuple[str, _Kept]]):
        ident = self.identity
        assert ident is not None
        matcher = ident.matcher
        tol = matcher.default_tolerance if ident.tolerance is None else ident.tolerance
        evidence: list[Evidence] = []
        encodings: list[np.ndarray] = []
        dists: list[float] = []
        skipped = 0
        for label, k in pinned:
            d = None
            if k.yaw is not None and abs(k.yaw) > self.IDENTITY_MAX_YAW:
                evidence.append(Evidence(k.t_ms, label, k.jpeg, None))
                continue
            try:
                img = imaging.decode_image(k.jpeg)
                if image_issues(img, k.box, self.IDENTITY_FLOOR)[0]:
                    skipped += 1
                    evidence.append(Evidence(k.t_ms, label, k.jpeg, None))
                    continue
                enc = matcher.encode(img, k.box)
                encodings.append(enc)
                if ident.portrait is not None:
                    d = round(float(matcher.distance(ident.portrait, enc)), 4)
                    dists.append(d)
            except FaceError:
                pass
            evidence.append(Evidence(k.t_ms, label, k.jpeg, d))
        codes: list[VerdictCode] = []
        scores: dict[str, float] = {"identity_frames": float(len(encodings)), "identity_below_floor": float(skipped)}
        if not encodings:
            return evidence, [VerdictCode.IDENTITY_UNAVAILABLE], scores
        # Who the person is, judged robustly: the distance that IDENTITY_SHARE of the frames are
        # within, so a strong grimace or a blurred turn in a few frames does not fail a genuine
        # learner, while a stand-in fails, and so does someone else in more than a quarter of
        # the frames (a swap).
        if dists:
            scores["identity_max_distance"] = max(dists)
            scores["identity_distance"] = within_share(dists, self.IDENTITY_SHARE)
            if scores["identity_distance"] > tol:
                codes.append(VerdictCode.IDENTITY_MISMATCH)
        # One person throughout: every frame within tolerance of the session's most central frame
        # (the one nearest the others). Not the largest distance between any two frames, which
        # a grimace spreads; a frame of someone else (a swap during one action) is far from it.
        centre = min(encodings, key=lambda a: sorted(matcher.distance(a, b) for b in encodings)[len(encodings) // 2])
        scores["identity_consistency"] = round(max(float(matcher.distance(centre, e)) for e in encodings), 4)
        if scores["identity_consistency"] > tol and VerdictCode.IDENTITY_MISMATCH not in codes:
            codes.append(VerdictCode.IDENTITY_INCONSISTENT)
        return evidence, codes, scores


def within_share(distances: list[float], share: float) -> float:
    """The smallest distance that at least ``share`` of ``distances`` are within."""
    ordered = sorted(distances)
    return round(float(ordered[max(0, math.ceil(share * len(ordered)) - 1)]), 4)


# a frame's own JPEG is kept as its evidence up to this size (a webcam frame of at most 640 px is
# some 20-60 KB); a larger one is encoded again, so a page cannot make the store keep big files
KEEP_SOURCE_MAX_BYTES = 128 * 1024


def frame_signals(
    provider: FaceProvider, image: np.ndarray | bytes, t_ms: int, max_side: int = LivenessSession.MAX_SIDE
) -> tuple[np.ndarray, FrameSignals]:
    """What the judge sees of one frame: the (decoded, downscaled) image and its signals. A frame
    sent as bytes may declare at most ``FRAME_MAX_PIXELS`` (refused before it is decoded). A JPEG
    of at most ``KEEP_SOURCE_MAX_BYTES`` that needs no downscaling goes with the signals
    (``FrameSignals.source``): the session keeps it as the frame's evidence, the very pixels that
    were measured, instead of encoding them again."""
    source = None
    if isinstance(image, (bytes, bytearray, memoryview)):
        source = bytes(image)
        image = imaging.decode_image(source, max_pixels=imaging.FRAME_MAX_PIXELS)
        if source[:3] != imaging.JPEG_MAGIC or len(source) > KEEP_SOURCE_MAX_BYTES:
            source = None
    image, scale = imaging.downscale(imaging.ensure_rgb(image), max_side)
    faces = tuple(provider.observe(image))
    box = faces[0].box if len(faces) == 1 else None
    return image, FrameSignals(int(t_ms), image.shape[1], image.shape[0], faces, imaging.brightness(image, box),
                               source if scale == 1.0 else None)


def portrait_encoding(matcher: FaceProvider, portrait: np.ndarray | bytes) -> np.ndarray:
    """Encoding of a stored portrait for :class:`IdentityCheck` (bytes are decoded safely)."""
    if isinstance(portrait, (bytes, bytearray, memoryview)):
        portrait = imaging.decode_image(bytes(portrait))
    return matcher.encode(imaging.ensure_rgb(portrait))
