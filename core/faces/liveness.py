"""Active liveness: the provider-independent judge of a challenge (core.faces.challenge).

The judge only sees :class:`FrameSignals` (what a provider measured on each frame) plus the
caller's timestamps, so every provider's signals go through the same rules:

* the judge issues each prompt at the time the server chose (``Challenge.due``: a jittered
  onset, then a random gap after each recognised action); the page shows it when told;
* an action counts only if it starts after its prompt (on the frame that issued it or later)
  and completes within ``timeout_ms`` (3 s) of it; asked to turn one way, a turn the other way is a
  wrong action, while a natural head movement during a blink or mouth prompt is not an answer at
  all; a turn in the asked direction that is not far enough yet (``turn_hint_deg``) is told
  再多转一点; how each action is recognised is in core.faces.detectors;
* exactly one face throughout; the face must not jump between frames; the identity (when a
  matcher is given) is checked on the very frames where the actions happened (core.faces.session).
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass, replace

from core.faces import messages as M
from core.faces.challenge import TURNS, Challenge, draw_challenge
from core.faces.medians import MedianBand
from core.faces.baselines import EyeBand, HistoryNeeded
from core.faces.detectors import ActionDetectors, Pose, PosesNeeded, _Detection, _TurnScan, _Window
from core.faces.values import (
    Action,
    ActionResult,
    ChallengeError,
    FrameGuidance,
    FaceBox,
    FrameSignals,
    GuidanceCode,
    VerdictCode,
)


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
    turn_hint_deg: float = 12.0  # a turn this far but short of turn_deg is told 再多转一点
    nod_deg: float = 20.0  # pitch excursion of a nod (talking moves the head ~17° in the shared clip)
    nod_return: float = 0.4  # ... and share of it coming back
    parallax_min: float = 0.08  # nose parallax, fraction of the eye distance
    parallax_per_deg: float = 0.005  # ... and at least this per degree of movement
    planar_min: float = 0.03  # landmarks off the best homography (RMS, fraction of the eye distance)
    planar_per_deg: float = 0.003  # ... and at least this per degree of movement
    # the pixels of a turn or nod, frame to frame (core.faces.planarity, used by the session): a
    # flat picture when, in at least 2 pairs of frames with 20+ face features matched, one
    # homography explains this share of them (median) with this median error (face widths)
    planar_image_pairs: int = 2
    planar_image_inliers: float = 0.85
    planar_image_error: float = 0.005
    max_multi_face_frames: int = 1  # more frames than this with 2+ faces fail the session
    max_missing_share: float = 0.2  # frames without a face after the first prompt
    jump_face_widths: float = 0.8  # face centre moving more than this between close frames
    jump_size_ratio: float = 1.6
    jump_max_gap_ms: int = 300
    too_dark: float = 50.0  # guidance only
    too_far_share: float = 0.15  # face width / shorter frame side, guidance only
    face_camera_deg: float = 25.0  # guidance only (before a prompt)


class LivenessJudge(ActionDetectors):
    """Decides a challenge from per-frame signals and the caller's timestamps (milliseconds).

    The judge shows the prompts: prompt ``i`` is issued on the first frame at or after its due
    time (``Challenge.due``), and that frame's guidance carries it (``next_prompt``) for the page
    to display. What the page says about prompts is not asked."""

    def __init__(self, challenge: Challenge, rules: LivenessRules | None = None) -> None:
        self.challenge = challenge
        self.rules = rules or LivenessRules()
        if challenge.timeout_ms != self.rules.timeout_ms:
            self.rules = replace(self.rules, timeout_ms=challenge.timeout_ms)
        # What the rules read of past frames, kept as it is needed rather than frame by frame:
        # counts, the eye openness and face aspect of every frame with a face (the baseline and
        # tilt compensation are medians over all of them), the largest face jump so far, and
        # the current action's window (core.faces.detectors).
        self.frames = 0
        self.last_t: int | None = None
        self._aspect_band = MedianBand()
        self._eye_band = EyeBand()
        self._eye_modes = 0
        self._history = array("d")
        self._history_base = 0
        self._history_spilled = 0
        self.acting_frames = 0  # frames from the first prompt on ...
        self.missing_frames = 0  # ... and those of them without a face
        self.max_jump = 0.0
        self._last_face: tuple[int, FaceBox] | None = None
        self.prompts: dict[int, int] = {}
        self.results: list[ActionResult] = []
        self.failure: VerdictCode | None = None
        self.multi_face_frames = 0
        self.planar_max: float | None = None
        self._aspect_cache: tuple[int, float | None] = (-1, None)
        self._window = _Window()
        self._turn_scan = _TurnScan()
        self._nod_failed: dict[tuple[int, int], float | None] = {}
        self.poses: dict[int, Pose] = {}
        self._fresh_poses: list[int] = []

    # --- protocol ---------------------------------------------------------------------------

    @property
    def index(self) -> int:
        """Index of the action now expected (== number of actions when all are done)."""
        return len(self.results)

    @property
    def finished(self) -> bool:
        return self.failure is not None or self.index >= len(self.challenge.actions)

    def _issue_due_prompt(self, sig: FrameSignals) -> int | None:
        """Issue the next prompt if it is due at this frame; its index, or None. The frame opens
        the action's window."""
        i = self.index
        if self.finished or i in self.prompts:
            return None
        previous_done = self.results[i - 1].done_ms if i > 0 else None
        if sig.t_ms < self.challenge.due(i, previous_done):
            return None
        self.prompts[i] = int(sig.t_ms)
        self._open_window(self.prompts[i])
        if sig.face is not None:
            self._window_add(i, sig.t_ms, sig.face)
        return i

    def observe(self, sig: FrameSignals) -> FrameGuidance:
        """The guidance for the next frame. May raise :class:`PosesNeeded` (only when poses were
        dropped: ``drop_poses``), after which this judge's state is not to be used: the caller
        goes back to its saved state, hands over the poses and observes the frame again."""
        if self.last_t is not None and sig.t_ms <= self.last_t:
            raise ChallengeError("frame timestamps must increase")
        if not -(2**31) <= sig.t_ms < 2**31:  # kept as 32-bit numbers
            raise ChallengeError(f"implausible timestamp {sig.t_ms} ms")
        self.frames += 1
        self.last_t = sig.t_ms
        face = sig.face
        if face is not None:
            self._remember(face)
            self._jump(sig.t_ms, face)
        guidance = self._observe(sig)
        if 0 in self.prompts:
            self.acting_frames += 1
            self.missing_frames += not sig.faces
        return guidance

    def window_times(self) -> list[int]:
        """The times of the current action's window frames."""
        return self._window.times()

    def spill_poses(self) -> list[tuple[int, Pose]]:
        """(t_ms, pose) of each pose the judge took since the last call, once."""
        out = [(t, self.poses[t]) for t in self._fresh_poses if t in self.poses]
        self._fresh_poses.clear()
        return out

    def drop_poses(self) -> None:
        """Forget the poses (the caller keeps them: ``spill_poses``); ``observe`` and ``verdict``
        ask for those they need again with :class:`PosesNeeded`."""
        self.poses.clear()
        self._fresh_poses.clear()

    def _observe(self, sig: FrameSignals) -> FrameGuidance:
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
        if self._issue_due_prompt(sig) is not None:
            prompt = self.challenge.actions[i].prompt
            return FrameGuidance(sig.t_ms, GuidanceCode.DO_ACTION, prompt, i, prompt)
        det = None
        if i in self.prompts:
            if sig.face is not None:
                self._window_add(i, sig.t_ms, sig.face)
            det = self._detect(i)
            if det.done:
                self.results.append(self._result(i, det, passed=True))
                if self.finished:
                    return self._final_guidance(sig.t_ms)
                return FrameGuidance(sig.t_ms, GuidanceCode.ACTION_DONE, M.G_ACTION_DONE, self.index)
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
        if det is not None and action in TURNS and det.score >= self.rules.turn_hint_deg:
            return self._guide(sig.t_ms, GuidanceCode.TURN_MORE, M.G_TURN_MORE)
        if i in self.prompts:
            return self._guide(sig.t_ms, GuidanceCode.DO_ACTION, action.prompt)
        return FrameGuidance(sig.t_ms, GuidanceCode.WAIT_PROMPT, M.G_WAIT_PROMPT, i)

    def verdict(self) -> tuple[list[VerdictCode], dict[str, float]]:
        """Codes of every failed rule (empty = liveness passed) and the scores."""
        codes: list[VerdictCode] = []
        scores: dict[str, float] = {}
        if not self.frames:
            return [VerdictCode.NO_FRAMES], scores
        base = self.baseline_eye_openness()  # first: it may ask for the history (HistoryNeeded)
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
        if self.acting_frames:
            missing = self.missing_frames / self.acting_frames
            scores["missing_share"] = round(missing, 4)
            if missing > self.rules.max_missing_share:
                codes.append(VerdictCode.FACE_LOST)
        jump = self.max_jump
        scores["max_jump"] = round(jump, 4)
        if jump > 1.0:
            codes.append(VerdictCode.DISCONTINUITY)
        if base is not None:
            scores["baseline_eye_openness"] = round(base, 4)
        if self.planar_max is not None:
            scores["planar_residual"] = round(self.planar_max, 4)
        for r in self.results:
            scores[f"{r.action.value}_score"] = round(r.score, 4)
            if r.parallax is not None:
                scores[f"{r.action.value}_parallax"] = round(r.parallax, 4)
        return codes, scores

    # --- the state kept between frames (core.proctoring.live) ---------------------------------

    def __getstate__(self) -> tuple:
        """The judge as plain numbers, strings and packed bytes (no classes but the challenge's
        and the rules' when they are not the defaults), so the state kept per frame stays small."""
        default = LivenessRules(timeout_ms=self.challenge.timeout_ms)
        scan = self._turn_scan
        return (
            self.challenge, None if self.rules == default else self.rules,
            self.frames, self.last_t, self.acting_frames, self.missing_frames, self.multi_face_frames,
            self.max_jump, None if self._last_face is None else (self._last_face[0], *_box(self._last_face[1])),
            self.prompts, [_result_row(r) for r in self.results], None if self.failure is None else self.failure.value,
            self.planar_max, self._aspect_band.__getstate__(), self._eye_band.__getstate__(), self._eye_modes,
            self._history.tobytes(), self._history_base, self._history_spilled,
            self._window.base, self._window.t.typecode, self._window.t.tobytes(),
            self._window.a.tobytes(), self._window.b.tobytes(),
            None if scan.ref_t is None and scan.lo is None else
            (scan.lo, scan.hi, scan.wrong, scan.ref_t, scan.ref_y, *_detection_row(scan.det)),
            self._nod_failed, self.poses, self._fresh_poses,
        )

    def __setstate__(self, state: tuple) -> None:
        (self.challenge, rules, self.frames, self.last_t, self.acting_frames, self.missing_frames,
         self.multi_face_frames, self.max_jump, last_face, self.prompts, results, failure, self.planar_max,
         aspect_band, eye_band, self._eye_modes, history, self._history_base, self._history_spilled,
         win_base, win_code, win_t, win_a, win_b, scan, self._nod_failed, self.poses, self._fresh_poses) = state
        self.rules = rules or LivenessRules(timeout_ms=self.challenge.timeout_ms)
        self._last_face = None if last_face is None else (last_face[0], FaceBox(*last_face[1:]))
        self.results = [_result_from(r) for r in results]
        self.failure = None if failure is None else VerdictCode(failure)
        self._history = array("d", history)
        self._window = _Window(win_base, array(win_code, win_t), array("d", win_a), array("d", win_b))
        self._aspect_band, self._eye_band = MedianBand(), EyeBand()
        self._aspect_band.__setstate__(aspect_band)
        self._eye_band.__setstate__(eye_band)
        self._turn_scan = _TurnScan() if scan is None else _TurnScan(*scan[:5], _detection_from(scan[5:]))
        self._aspect_cache = (-1, None)

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


def _box(b: FaceBox) -> tuple[float, ...]:
    return (b.x, b.y, b.w, b.h, b.score)


def _result_row(r: ActionResult) -> tuple:
    return (r.action.value, r.prompt_ms, r.start_ms, r.done_ms, r.passed, r.score, r.parallax,
            None if r.reason is None else r.reason.value)


def _result_from(row: tuple) -> ActionResult:
    return ActionResult(Action(row[0]), *row[1:7], None if row[7] is None else VerdictCode(row[7]))


def _detection_row(d: _Detection) -> tuple:
    return (d.done, d.start_ms, d.done_ms, d.score, d.parallax, None if d.reason is None else d.reason.value, d.start_t)


def _detection_from(row: tuple) -> _Detection:
    done, start, end, score, parallax, reason, start_t = row
    return _Detection(done, start, end, score, parallax, None if reason is None else VerdictCode(reason), start_t)


__all__ = [
    "Challenge",
    "HistoryNeeded",
    "PosesNeeded",
    "LivenessJudge",
    "LivenessRules",
    "draw_challenge",
]
