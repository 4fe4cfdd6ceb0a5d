"""A liveness session for the web layer: provider + judge + identity on evidence frames.

Call sequence: ``LivenessSession(provider, draw_challenge(...), identity=...)`` →
``add_frame(frame, t_ms)`` for every frame (returns per-frame guidance: ``next_prompt`` is the
prompt to show now, chosen by the server's schedule; ``guidance.done`` says stop) → ``finish()``
→ ``Verdict``.

Between requests the web layer keeps a session in a shared store (core.proctoring.live): the kept
frames' JPEGs are taken out of its state (``spill`` hands each one over once, ``drop_jpegs``
empties them) and handed back before ``finish`` (``wanted``/``attach``), so the state written on
every frame holds no pictures. The pixel check of a turn or nod (core.faces.planarity) runs in
``finish`` on the frames of each recognised movement, kept for it.
"""

from __future__ import annotations

import math
import secrets
from collections import deque
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
    jpeg: bytes | None  # None while it is kept outside the session's state (``drop_jpegs``)
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
        self._recent: deque[_Kept] = deque()
        self._pinned: dict[int, tuple[str, _Kept]] = {}
        self._last_sample = -10**12
        self._verdict: Verdict | None = None
        self._flat_moves: list[str] = []
        self._movements: list[tuple[str, list[_Kept]]] = []  # each recognised turn or nod's frames
        self._unsaved: list[_Kept] = []

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
        if len(self.judge.frames) >= self.MAX_FRAMES:
            raise ChallengeError("too many frames")
        image, sig = frame_signals(self.provider, image, t_ms, self.MAX_SIDE)
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
        kept = _Kept(sig.t_ms, imaging.encode_jpeg(image, max_side=None), sig.face.box, sig.face.yaw)
        horizon = sig.t_ms - self.judge.rules.timeout_ms - 1000
        self._recent.append(kept)
        self._unsaved.append(kept)
        while self._recent and self._recent[0].t_ms < horizon:
            self._recent.popleft()
        if not self._pinned:
            self._pinned[kept.t_ms] = ("baseline", kept)
        if sig.t_ms - self._last_sample >= self.SAMPLE_EVERY_MS:
            self._pinned.setdefault(kept.t_ms, ("sample", kept))
            self._last_sample = sig.t_ms
        for r in self.judge.results[results_before:]:
            if not r.passed:
                continue
            if r.action in HEAD_MOVES and r.start_ms is not None and r.done_ms is not None:
                self._movements.append(
                    (r.action.value, [k for k in self._recent if r.start_ms <= k.t_ms <= r.done_ms]))
            for t, label in ((r.start_ms, f"{r.action.value}_start"), (r.done_ms, r.action.value)):
                k = next((k for k in self._recent if k.t_ms == t), None)
                if k is not None:
                    self._pinned[k.t_ms] = (label, k)

    def _moved_flat(self, frames: list[_Kept]) -> bool:
        """Whether the face's pixels moved as one plane through a recognised turn or nod (a
        photo warped in perspective; core.faces.planarity), judged on its frames."""
        r = self.judge.rules
        pairs, share, error = movement_planarity(
            [(imaging.decode_image(k.jpeg), k.box) for k in frames if k.jpeg is not None])
        return pairs >= r.planar_image_pairs and share >= r.planar_image_inliers and error <= r.planar_image_error

    def _kept(self) -> list[_Kept]:
        seen: dict[int, _Kept] = {}
        for k in [*self._recent, *(k for _, k in self._pinned.values()), *(k for _, ks in self._movements for k in ks)]:
            seen.setdefault(id(k), k)
        return list(seen.values())

    def spill(self) -> list[tuple[int, bytes]]:
        """(t_ms, JPEG) of each frame kept since the last call, once."""
        out = [(k.t_ms, k.jpeg) for k in self._unsaved if k.jpeg is not None]
        self._unsaved.clear()
        return out

    def drop_jpegs(self) -> None:
        """Empty every kept frame's JPEG (the caller keeps them: ``spill``)."""
        for k in self._kept():
            k.jpeg = None

    def wanted(self) -> list[int]:
        """The times of the kept frames ``finish`` reads whose JPEG is not here."""
        used = [k for _, k in self._pinned.values()] + [k for _, ks in self._movements for k in ks]
        return sorted({k.t_ms for k in used if k.jpeg is None})

    def attach(self, jpegs: dict[int, bytes]) -> None:
        """Hand back the JPEGs of kept frames, by time."""
        for k in self._kept():
            if k.jpeg is None and k.t_ms in jpegs:
                k.jpeg = jpegs[k.t_ms]

    def finish(self) -> Verdict:
        if self._verdict is not None:
            return self._verdict
        codes, scores = self.judge.verdict()
        self._flat_moves = [action for action, frames in self._movements if self._moved_flat(frames)]
        if self._flat_moves:
            scores["flat_movements"] = float(len(self._flat_moves))
            if VerdictCode.NO_PARALLAX not in codes:
                codes.append(VerdictCode.NO_PARALLAX)
        chosen = self._select_evidence()
        chosen = [(label, k) for label, k in chosen if k.jpeg is not None]
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
            len(self.judge.frames),
        )
        return self._verdict

    def _select_evidence(self) -> list[tuple[str, _Kept]]:
        """At most MAX_EVIDENCE frames: every action's frames first, then the baseline, then
        samples spread over the session (time order in the result)."""
        items = sorted(self._pinned.items())
        actions = [(t, v) for t, v in items if v[0] not in ("baseline", "sample")]
        rest = [(t, v) for t, v in items if v[0] == "baseline"]
        samples = [(t, v) for t, v in items if v[0] == "sample"]
        room = max(0, self.MAX_EVIDENCE - len(actions) - len(rest))
        if samples and room:
            step = len(samples) / room
            rest += [samples[int(i * step)] for i in range(min(room, len(samples)))]
        return [v for _, v in sorted((actions + rest)[: max(self.MAX_EVIDENCE, len(actions))])]

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


def frame_signals(
    provider: FaceProvider, image: np.ndarray | bytes, t_ms: int, max_side: int = LivenessSession.MAX_SIDE
) -> tuple[np.ndarray, FrameSignals]:
    """What the judge sees of one frame: the (decoded, downscaled) image and its signals. A frame
    sent as bytes may declare at most ``FRAME_MAX_PIXELS`` (refused before it is decoded)."""
    if isinstance(image, (bytes, bytearray, memoryview)):
        image = imaging.decode_image(bytes(image), max_pixels=imaging.FRAME_MAX_PIXELS)
    image, _ = imaging.downscale(imaging.ensure_rgb(image), max_side)
    faces = tuple(provider.observe(image))
    box = faces[0].box if len(faces) == 1 else None
    return image, FrameSignals(int(t_ms), image.shape[1], image.shape[0], faces, imaging.brightness(image, box))


def portrait_encoding(matcher: FaceProvider, portrait: np.ndarray | bytes) -> np.ndarray:
    """Encoding of a stored portrait for :class:`IdentityCheck` (bytes are decoded safely)."""
    if isinstance(portrait, (bytes, bytearray, memoryview)):
        portrait = imaging.decode_image(bytes(portrait))
    return matcher.encode(imaging.ensure_rgb(portrait))
