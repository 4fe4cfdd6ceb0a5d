"""Active liveness: challenge drawing, the provider-independent judge, and a session driver.

The judge only sees :class:`FrameSignals` (what a provider measured on each frame) plus the
caller's timing, so every provider's signals go through the same rules:

* the server draws 2–3 distinct actions and a nonce; the page shows one prompt at a time and
  reports when it did (``prompt_shown``);
* an action counts only if it starts after its prompt and completes within ``timeout_ms``
  (3 s) of it; a head turn in a direction that was not asked is a wrong action;
* blinks are judged against the session's own open-eye baseline (median eye openness), not a
  fixed threshold; mouth opening needs a closed→open change, so a photo with an open mouth fails;
* head turns and nods come from the provider's pose (MediaPipe: the facial transformation
  matrix) and must show nose parallax: the nose tip must leave the homography that maps the
  rest of the face between the start and the end of the movement — a tilted flat photo shows
  large "yaw" but no parallax;
* exactly one face throughout; the face must not jump between frames; the identity (when a
  matcher is given) is checked on the very frames where the actions happened.
"""

from __future__ import annotations

import math
import secrets
import statistics
from dataclasses import dataclass, replace
from typing import Iterable, Sequence

from core.faces import imaging
from core.faces import messages as M
from core.faces.values import (
    Action,
    ActionResult,
    ChallengeError,
    FaceObservation,
    FrameGuidance,
    FrameSignals,
    GuidanceCode,
    VerdictCode,
)

TURNS = (Action.TURN_LEFT, Action.TURN_RIGHT)


@dataclass(frozen=True, slots=True)
class Challenge:
    """What the server asked for: the actions in order, and the nonce binding the frames."""

    nonce: str
    actions: tuple[Action, ...]
    timeout_ms: int = 3000

    @property
    def prompts(self) -> tuple[str, ...]:
        return tuple(a.prompt for a in self.actions)

    def as_dict(self) -> dict:
        return {
            "nonce": self.nonce,
            "actions": [str(a) for a in self.actions],
            "prompts": list(self.prompts),
            "timeout_ms": self.timeout_ms,
        }


def draw_challenge(
    available: Iterable[Action | str] = tuple(Action),
    *,
    rng: secrets.SystemRandom | None = None,
    min_actions: int = 2,
    max_actions: int = 3,
    timeout_ms: int = 3000,
) -> Challenge:
    """Draw 2–3 distinct actions at random (from those the liveness provider can measure and the
    tenant allows) and a fresh 144-bit nonce."""
    pool = list(dict.fromkeys(Action(a) for a in available))
    if len(pool) < min_actions:
        raise ChallengeError(f"need at least {min_actions} actions to draw from, got {pool}")
    rng = rng or secrets.SystemRandom()
    n = rng.randint(min_actions, min(max_actions, len(pool)))
    return Challenge(secrets.token_urlsafe(18), tuple(rng.sample(pool, n)), timeout_ms)


@dataclass(frozen=True, slots=True)
class LivenessRules:
    """Thresholds of the liveness judge (see docs/faces.md for how they were chosen)."""

    timeout_ms: int = 3000
    blink_closed_ratio: float = 0.7  # eyes closed: openness ≤ 0.7 × the session's baseline
    blink_open_ratio: float = 0.75  # eyes open: openness ≥ 0.75 × baseline
    mouth_open: float = 0.25  # inner-lip gap / mouth width when open
    mouth_delta: float = 0.18  # rise from the closed level after the prompt
    turn_deg: float = 20.0  # yaw change during a turn
    turn_abs_deg: float = 12.0  # and the yaw reached, in the asked direction
    nod_deg: float = 15.0  # pitch excursion of a nod
    nod_return: float = 0.4  # ... and share of it coming back
    parallax_min: float = 0.08  # nose parallax, fraction of the eye distance
    parallax_per_deg: float = 0.005  # ... and at least this per degree of movement
    max_multi_face_frames: int = 1  # more frames than this with 2+ faces fail the session
    max_missing_share: float = 0.2  # frames without a face after the first prompt
    jump_face_widths: float = 0.8  # face centre moving more than this between close frames
    jump_size_ratio: float = 1.6
    jump_max_gap_ms: int = 300
    too_dark: float = 50.0  # guidance only
    too_far_share: float = 0.15  # face width / shorter frame side, guidance only
    face_camera_deg: float = 25.0  # guidance only (before a prompt)


@dataclass(slots=True)
class _Detection:
    done: bool = False
    start_ms: int | None = None
    done_ms: int | None = None
    score: float = 0.0
    parallax: float | None = None
    reason: VerdictCode | None = None  # why it is not done yet (kept if time runs out)
    start_t: int | None = None


def _median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


class LivenessJudge:
    """Decides a challenge from per-frame signals and the caller's timestamps (milliseconds)."""

    def __init__(self, challenge: Challenge, rules: LivenessRules | None = None) -> None:
        self.challenge = challenge
        self.rules = rules or LivenessRules()
        if challenge.timeout_ms != self.rules.timeout_ms:
            self.rules = replace(self.rules, timeout_ms=challenge.timeout_ms)
        self.frames: list[FrameSignals] = []
        self.prompts: dict[int, int] = {}
        self.results: list[ActionResult] = []
        self.failure: VerdictCode | None = None
        self.multi_face_frames = 0
        self._aspect_cache: tuple[int, float | None] = (-1, None)

    # --- protocol ---------------------------------------------------------------------------

    @property
    def index(self) -> int:
        """Index of the action now expected (== number of actions when all are done)."""
        return len(self.results)

    @property
    def finished(self) -> bool:
        return self.failure is not None or self.index >= len(self.challenge.actions)

    def prompt_shown(self, index: int, t_ms: int) -> None:
        """The page showed prompt ``index`` at ``t_ms`` (caller's clock, same as the frames)."""
        if not 0 <= index < len(self.challenge.actions):
            raise ChallengeError(f"no action {index} in this challenge")
        if index in self.prompts:
            raise ChallengeError(f"prompt {index} was already shown")
        if index > 0 and (index - 1 not in self.prompts or t_ms < self.prompts[index - 1]):
            raise ChallengeError("prompts must be shown in order")
        if index < self.index:
            raise ChallengeError(f"action {index} is already decided")
        self.prompts[index] = int(t_ms)

    def observe(self, sig: FrameSignals) -> FrameGuidance:
        if self.frames and sig.t_ms <= self.frames[-1].t_ms:
            raise ChallengeError("frame timestamps must increase")
        self.frames.append(sig)
        if self.finished:
            return self._final_guidance(sig.t_ms)
        n = len(sig.faces)
        if n > 1:
            self.multi_face_frames += 1
            if self.multi_face_frames > self.rules.max_multi_face_frames:
                self._fail(VerdictCode.MULTIPLE_FACES)
                return self._final_guidance(sig.t_ms)
            return self._guide(sig.t_ms, GuidanceCode.MULTIPLE_FACES, M.G_MULTIPLE_FACES)
        i = self.index
        if i in self.prompts:
            det = self._detect(i)
            if det.done:
                self.results.append(self._result(i, det, passed=True))
                if self.finished:
                    return self._final_guidance(sig.t_ms)
                nxt = self.challenge.actions[self.index]
                return FrameGuidance(sig.t_ms, GuidanceCode.ACTION_DONE, M.G_ACTION_DONE, self.index, nxt.prompt)
            if det.reason is VerdictCode.WRONG_ACTION:
                self.results.append(self._result(i, det, passed=False))
                self._fail(VerdictCode.WRONG_ACTION)
                return self._final_guidance(sig.t_ms)
            if sig.t_ms > self.prompts[i] + self.rules.timeout_ms:
                self.results.append(self._result(i, det, passed=False, default=VerdictCode.ACTION_TIMEOUT))
                self._fail(self.results[-1].reason or VerdictCode.ACTION_TIMEOUT)
                return self._final_guidance(sig.t_ms)
        face_issue = self._face_guidance(sig, acting=i in self.prompts)
        if face_issue is not None:
            return face_issue
        action = self.challenge.actions[i]
        if i in self.prompts:
            return self._guide(sig.t_ms, GuidanceCode.DO_ACTION, action.prompt)
        return FrameGuidance(sig.t_ms, GuidanceCode.WAIT_PROMPT, M.G_WAIT_PROMPT, i, action.prompt)

    def verdict(self) -> tuple[list[VerdictCode], dict[str, float]]:
        """Codes of every failed rule (empty = liveness passed) and the scores."""
        codes: list[VerdictCode] = []
        scores: dict[str, float] = {}
        if not self.frames:
            return [VerdictCode.NO_FRAMES], scores
        if self.failure is not None:
            codes.append(self.failure)
        elif self.index < len(self.challenge.actions):
            i = self.index
            if i in self.prompts:
                det = self._detect(i)
                self.results.append(self._result(i, det, passed=False, default=VerdictCode.ACTION_TIMEOUT))
                codes.append(self.results[-1].reason or VerdictCode.ACTION_TIMEOUT)
            else:
                codes.append(VerdictCode.ACTION_NOT_PROMPTED)
        if self.multi_face_frames > self.rules.max_multi_face_frames and VerdictCode.MULTIPLE_FACES not in codes:
            codes.append(VerdictCode.MULTIPLE_FACES)
        first_prompt = self.prompts.get(0)
        acting = [f for f in self.frames if first_prompt is not None and f.t_ms >= first_prompt]
        if acting:
            missing = sum(1 for f in acting if not f.faces) / len(acting)
            scores["missing_share"] = round(missing, 4)
            if missing > self.rules.max_missing_share:
                codes.append(VerdictCode.FACE_LOST)
        jump = self._max_jump()
        scores["max_jump"] = round(jump, 4)
        if jump > 1.0:
            codes.append(VerdictCode.DISCONTINUITY)
        base = self.baseline_eye_openness()
        if base is not None:
            scores["baseline_eye_openness"] = round(base, 4)
        for r in self.results:
            scores[f"{r.action.value}_score"] = round(r.score, 4)
            if r.parallax is not None:
                scores[f"{r.action.value}_parallax"] = round(r.parallax, 4)
        return codes, scores

    # --- internals --------------------------------------------------------------------------

    def _fail(self, code: VerdictCode) -> None:
        if self.failure is None:
            self.failure = code

    def _guide(self, t: int, code: GuidanceCode, msg: str) -> FrameGuidance:
        return FrameGuidance(t, code, msg, self.index)

    def _final_guidance(self, t: int) -> FrameGuidance:
        if self.failure is None:
            return FrameGuidance(t, GuidanceCode.FINISHED, M.G_FINISHED, self.index, done=True)
        code = {
            VerdictCode.ACTION_TIMEOUT: (GuidanceCode.TOO_SLOW, M.G_TOO_SLOW),
            VerdictCode.WRONG_ACTION: (GuidanceCode.WRONG_ACTION, M.G_WRONG_ACTION),
            VerdictCode.MULTIPLE_FACES: (GuidanceCode.MULTIPLE_FACES, M.G_MULTIPLE_FACES),
        }.get(self.failure, (GuidanceCode.FAILED, self.failure.message))
        return FrameGuidance(t, code[0], code[1], self.index, done=True)

    def _face_guidance(self, sig: FrameSignals, acting: bool) -> FrameGuidance | None:
        r = self.rules
        face = sig.face
        if face is None:
            return self._guide(sig.t_ms, GuidanceCode.NO_FACE, M.G_NO_FACE)
        if sig.brightness is not None and sig.brightness < r.too_dark:
            return self._guide(sig.t_ms, GuidanceCode.TOO_DARK, M.G_TOO_DARK)
        if face.box.w / max(1, min(sig.width, sig.height)) < r.too_far_share:
            return self._guide(sig.t_ms, GuidanceCode.TOO_FAR, M.G_TOO_FAR)
        if not acting and face.yaw is not None:
            if abs(face.yaw) > r.face_camera_deg or abs(face.pitch or 0.0) > r.face_camera_deg:
                return self._guide(sig.t_ms, GuidanceCode.FACE_CAMERA, M.G_FACE_CAMERA)
        return None

    def baseline_eye_openness(self) -> float | None:
        return _median([e for f in self.frames if f.face and (e := self._eye(f.face)) is not None])

    def _aspect_base(self) -> float | None:
        if self._aspect_cache[0] != len(self.frames):  # recomputed once per new frame
            values = [f.face.face_aspect for f in self.frames if f.face and f.face.face_aspect]
            self._aspect_cache = (len(self.frames), _median(values))
        return self._aspect_cache[1]

    def _tilt_factor(self, f: FaceObservation) -> float:
        """Undo the foreshortening of a tilted face (or photo): base aspect / this aspect."""
        base = self._aspect_base()
        if base and f.face_aspect:
            return base / f.face_aspect
        return 1.0

    def _eye(self, f: FaceObservation) -> float | None:
        return None if f.eye_openness is None else f.eye_openness * self._tilt_factor(f)

    def _mouth_value(self, f: FaceObservation) -> float | None:
        return None if f.mouth_open is None else f.mouth_open * self._tilt_factor(f)

    def _window(self, i: int) -> list[tuple[int, FaceObservation]]:
        start = self.prompts[i]
        if i > 0 and self.results[i - 1].done_ms is not None:
            start = max(start, self.results[i - 1].done_ms + 1)
        end = self.prompts[i] + self.rules.timeout_ms
        return [(f.t_ms, f.face) for f in self.frames if start <= f.t_ms <= end and f.face is not None]

    def _result(self, i: int, det: _Detection, passed: bool, default: VerdictCode | None = None) -> ActionResult:
        return ActionResult(
            self.challenge.actions[i],
            self.prompts.get(i),
            det.start_ms,
            det.done_ms if passed else None,
            passed,
            det.score,
            det.parallax,
            None if passed else (det.reason or default),
        )

    def _detect(self, i: int) -> _Detection:
        action = self.challenge.actions[i]
        win = self._window(i)
        if self._wrong_turn(win, allowed=action if action in TURNS else None):
            return _Detection(reason=VerdictCode.WRONG_ACTION)
        if action is Action.BLINK:
            return self._blink(win)
        if action is Action.OPEN_MOUTH:
            return self._mouth(win)
        if action in TURNS:
            return self._turn(win, +1.0 if action is Action.TURN_LEFT else -1.0)
        return self._nod(win)

    def _wrong_turn(self, win: list[tuple[int, FaceObservation]], allowed: Action | None) -> bool:
        """A clear head turn in a direction that was not asked."""
        r = self.rules
        lo = hi = None
        for _, f in win:
            if f.yaw is None:
                continue
            lo = f.yaw if lo is None else min(lo, f.yaw)
            hi = f.yaw if hi is None else max(hi, f.yaw)
            if allowed is not Action.TURN_LEFT and f.yaw - lo >= r.turn_deg and f.yaw >= r.turn_abs_deg:
                return True
            if allowed is not Action.TURN_RIGHT and hi - f.yaw >= r.turn_deg and f.yaw <= -r.turn_abs_deg:
                return True
        return False

    def _blink(self, win: list[tuple[int, FaceObservation]]) -> _Detection:
        r = self.rules
        base = self.baseline_eye_openness()
        det = _Detection(reason=VerdictCode.ACTION_TIMEOUT)
        if not base:
            return det
        phase, start, low = 0, None, 1e9
        for t, f in win:
            e = self._eye(f)
            if e is None:
                continue
            if phase == 0 and e >= r.blink_open_ratio * base:
                phase = 1
            elif phase == 1 and e >= r.blink_open_ratio * base:
                start = t
            elif phase == 1 and e <= r.blink_closed_ratio * base:
                phase, low = 2, e
                start = start if start is not None else t
            elif phase == 2:
                low = min(low, e)
                if e >= r.blink_open_ratio * base:
                    return _Detection(True, start, t, 1.0 - low / base)
        if phase == 2:
            det.score = 1.0 - low / base
        return det

    def _mouth(self, win: list[tuple[int, FaceObservation]]) -> _Detection:
        r = self.rules
        lo, lo_t, best = None, None, 0.0
        for t, f in win:
            m = self._mouth_value(f)
            if m is None:
                continue
            if lo is None or m < lo:
                lo, lo_t = m, t
            best = max(best, m - lo)
            if m >= r.mouth_open and m - lo >= r.mouth_delta:
                return _Detection(True, lo_t, t, m - lo)
        return _Detection(score=best, reason=VerdictCode.ACTION_TIMEOUT)

    def _parallax_ok(self, a: FaceObservation, b: FaceObservation, delta: float, axis: int) -> tuple[bool, float | None]:
        r = self.rules
        if a.anchors is None or b.anchors is None or a.nose is None or b.nose is None:
            return False, None
        scale = b.eye_distance or float(b.anchors[:, 0].max() - b.anchors[:, 0].min())
        p = imaging.nose_parallax(a.anchors, a.nose, b.anchors, b.nose, scale)[axis]
        signed = p if delta > 0 else -p  # the nose must move with the head
        need = max(r.parallax_min, r.parallax_per_deg * abs(delta))
        return signed >= need, signed

    def _turn(self, win: list[tuple[int, FaceObservation]], sign: float) -> _Detection:
        r = self.rules
        ref: tuple[int, FaceObservation] | None = None
        det = _Detection(reason=VerdictCode.ACTION_TIMEOUT)
        for t, f in win:
            if f.yaw is None:
                continue
            y = sign * f.yaw
            if ref is None or y < sign * ref[1].yaw:  # type: ignore[operator]
                ref = (t, f)
                continue
            delta = y - sign * ref[1].yaw  # type: ignore[operator]
            det.score = max(det.score, delta)
            if delta >= r.turn_deg and y >= r.turn_abs_deg:
                ok, par = self._parallax_ok(ref[1], f, sign * delta, axis=0)
                if par is not None and (det.parallax is None or par > det.parallax):
                    det.parallax = par
                if ok:
                    return _Detection(True, ref[0], t, delta, par)
                det.reason = VerdictCode.NO_PARALLAX
        return det

    def _nod(self, win: list[tuple[int, FaceObservation]]) -> _Detection:
        """A pitch excursion of at least ``nod_deg`` from a start frame that comes back part way."""
        r = self.rules
        pts = [(t, f, float(f.pitch)) for t, f in win if f.pitch is not None]
        det = _Detection(reason=VerdictCode.ACTION_TIMEOUT)
        for k, (t0, f0, p0) in enumerate(pts):
            peak: tuple[FaceObservation, float] | None = None
            for t, f, p in pts[k + 1 :]:
                d = p - p0
                if peak is None:
                    if abs(d) >= r.nod_deg:
                        peak = (f, d)
                    continue
                pd = peak[1]
                if d * pd > 0 and abs(d) > abs(pd):
                    peak = (f, d)
                    continue
                det.score = max(det.score, abs(pd))
                if (pd - d) * (1 if pd > 0 else -1) >= r.nod_return * abs(pd):
                    ok, par = self._parallax_ok(f0, peak[0], pd, axis=1)
                    if par is not None and (det.parallax is None or par > det.parallax):
                        det.parallax = par
                    if ok:
                        return _Detection(True, t0, t, abs(pd), par)
                    det.reason = VerdictCode.NO_PARALLAX
                    break
        return det

    def _max_jump(self) -> float:
        """Largest face jump between close frames, relative to the allowed jump (>1 = too big)."""
        r = self.rules
        worst = 0.0
        prev: FrameSignals | None = None
        for f in self.frames:
            if f.face is None:
                continue
            if prev is not None and f.t_ms - prev.t_ms <= r.jump_max_gap_ms:
                a, b = prev.face.box, f.face.box  # type: ignore[union-attr]
                (ax, ay), (bx, by) = a.center, b.center
                w = max(a.w, b.w, 1.0)
                move = math.hypot(ax - bx, ay - by) / w / r.jump_face_widths
                size = max(a.w, b.w) / max(min(a.w, b.w), 1.0) / r.jump_size_ratio
                worst = max(worst, move, size)
            prev = f
        return worst


__all__ = [
    "Challenge",
    "LivenessJudge",
    "LivenessRules",
    "draw_challenge",
]
