"""Recognising each liveness action in the frames after its prompt (a mixin of the judge).

Every detector sees the frames of its window: from the prompt (the server issued it on that
frame) to ``timeout_ms`` after it, and not before the previous action was recognised; each
action needs its rest state in the window first, so a movement under way at the prompt does not
count.

* blinks are judged against the session's own open-eye baseline (median eye openness), not a
  fixed threshold; mouth opening needs a closed→open change, so a photo with an open mouth fails;
* head turns and nods come from the provider's pose and must show 3-D motion: the nose tip must
  leave the homography that maps the rest of the face (nose parallax), and the landmarks as a
  whole must not follow one homography (``imaging.planar_residual``): a flat picture tilted or
  warped in perspective shows "yaw" or "pitch" but moves as a plane;
* eye and mouth openness are divided by the face's foreshortening (``face_aspect``), so a
  flicked photo is not a blink.

The window keeps only what its action reads, as packed numbers (``_Window``): the times, and the
eye openness (blink), mouth gap (open mouth) or pitch (nod) with the face aspect. A turn is
scanned frame by frame as it arrives (``_TurnScan``), which is the same scan as over the whole
window, since nothing it compares changes afterwards. The landmarks a turn or nod's parallax
check compares (a ``Pose``) are kept by frame time in ``poses``; a pose the judge does not hold
raises :class:`PosesNeeded` (the web layer keeps them outside the state and hands them back).
"""

from __future__ import annotations

import math
from array import array
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Sequence

from core.faces import imaging
from core.faces.challenge import TURNS
from core.faces.baselines import NAN, Baselines, _num, _packed
from core.faces.planarity import planar_residual
from core.faces.values import Action, FaceObservation, VerdictCode

if TYPE_CHECKING:  # pragma: no cover
    from core.faces.challenge import Challenge
    from core.faces.liveness import LivenessRules
    from core.faces.values import ActionResult, FaceBox

# A frame's landmarks for the parallax check: (anchors K×2, nose tip (2,), eye distance), or None
# when the provider gave none (the check then fails, as it does for a missing pose).
Pose = tuple[Any, Any, float | None] | None


class PosesNeeded(LookupError):
    """The judge needs the poses of these frame times, which it does not hold."""

    def __init__(self, times: Sequence[int]) -> None:
        self.times = sorted(set(times))
        super().__init__(f"poses of frames {self.times} are needed")


@dataclass(slots=True)
class _Detection:
    done: bool = False
    start_ms: int | None = None
    done_ms: int | None = None
    score: float = 0.0
    parallax: float | None = None
    reason: VerdictCode | None = None  # why it is not done yet (kept if time runs out)
    start_t: int | None = None


@dataclass(slots=True)
class _TurnScan:
    """A turn's window scanned frame by frame: the wrong-way check's yaw range, the lowest yaw so
    far in the asked direction (the reference the turn is measured from) and the detection."""

    lo: float | None = None
    hi: float | None = None
    wrong: bool = False
    ref_t: int | None = None
    ref_y: float = 0.0
    det: _Detection = field(default_factory=lambda: _Detection(reason=VerdictCode.ACTION_TIMEOUT))


@dataclass(slots=True)
class _Window:
    """The current action's frames (with a face, inside its window), as packed numbers: times
    (milliseconds after the prompt, ``base``), and two values per frame whose meaning depends on
    the action (NaN for unmeasured)."""

    base: int = 0
    t: array = field(default_factory=lambda: array("H"))
    a: array = field(default_factory=lambda: array("d"))
    b: array = field(default_factory=lambda: array("d"))

    def times(self) -> list[int]:
        return [self.base + t for t in self.t]

    def rows(self) -> list[tuple[int, float | None, float | None]]:
        return [(t, _num(a), _num(b)) for t, a, b in zip(self.times(), self.a, self.b)]


class ActionDetectors(Baselines):
    """The judge's detectors; the judge provides the state read here."""

    challenge: Challenge
    rules: LivenessRules
    prompts: dict[int, int]
    results: list[ActionResult]
    poses: dict[int, Pose]
    planar_max: float | None
    _window: _Window
    _turn_scan: _TurnScan
    _nod_failed: dict[tuple[int, int], float | None]
    _last_face: tuple[int, FaceBox] | None
    max_jump: float
    _fresh_poses: list[int]

    def _open_window(self, prompt_ms: int) -> None:
        # times after the prompt, up to the timeout: 16 bits unless the timeout is over a minute
        self._window = _Window(prompt_ms, array("H" if self.rules.timeout_ms < 2**16 else "i"))
        self._turn_scan = _TurnScan()
        self._nod_failed = {}
        self.poses = {}

    def _window_add(self, i: int, t: int, f: FaceObservation) -> None:
        """Add a frame with a face to action ``i``'s window if it falls inside it."""
        start = self.prompts[i]
        if i > 0 and self.results[i - 1].done_ms is not None:
            start = max(start, self.results[i - 1].done_ms + 1)
        if not start <= t <= self.prompts[i] + self.rules.timeout_ms:
            return
        action = self.challenge.actions[i]
        w = self._window
        w.t.append(t - w.base)
        if action is Action.BLINK:
            w.a.append(_packed(f.eye_openness))
            w.b.append(_packed(f.face_aspect))
        elif action is Action.OPEN_MOUTH:
            w.a.append(_packed(f.mouth_open))
            w.b.append(_packed(f.face_aspect))
        else:
            self.poses[t] = None if f.anchors is None or f.nose is None else (f.anchors, f.nose, f.eye_distance)
            self._fresh_poses.append(t)
            if action in TURNS:
                self._turn_step(t, f.yaw, action)
            else:
                w.a.append(_packed(f.pitch))
                w.b.append(NAN)

    def _detect(self, i: int) -> _Detection:
        action = self.challenge.actions[i]
        if action in TURNS:
            scan = self._turn_scan
            return _Detection(reason=VerdictCode.WRONG_ACTION) if scan.wrong else scan.det
        rows = self._window.rows()
        if action is Action.BLINK:
            return self._blink(rows)
        if action is Action.OPEN_MOUTH:
            return self._mouth(rows)
        return self._nod([(t, p) for t, p, _ in rows])

    # --- detectors ----------------------------------------------------------------------------

    def _turn_step(self, t: int, yaw: float | None, action: Action) -> None:
        """One more frame of a turn's window. Asked to turn one way, a clear head turn the other
        way is a wrong action (during a blink or mouth prompt a natural head movement is not an
        answer: only the asked action counts)."""
        r, scan = self.rules, self._turn_scan
        if yaw is None or scan.wrong or scan.det.done:
            return
        scan.lo = yaw if scan.lo is None else min(scan.lo, yaw)
        scan.hi = yaw if scan.hi is None else max(scan.hi, yaw)
        if action is not Action.TURN_LEFT and yaw - scan.lo >= r.turn_deg and yaw >= r.turn_abs_deg:
            scan.wrong = True
        if action is not Action.TURN_RIGHT and scan.hi - yaw >= r.turn_deg and yaw <= -r.turn_abs_deg:
            scan.wrong = True
        if scan.wrong:
            return
        sign = +1.0 if action is Action.TURN_LEFT else -1.0
        y = sign * yaw
        if scan.ref_t is None or y < scan.ref_y:
            scan.ref_t, scan.ref_y = t, y
            return
        det = scan.det
        delta = y - scan.ref_y
        det.score = max(det.score, delta)
        if delta >= r.turn_deg and y >= r.turn_abs_deg:
            ok, par = self._parallax_ok(scan.ref_t, t, sign * delta, axis=0)
            if par is not None and (det.parallax is None or par > det.parallax):
                det.parallax = par
            if ok:
                scan.det = _Detection(True, scan.ref_t, t, delta, par)
                return
            det.reason = VerdictCode.NO_PARALLAX

    def _blink(self, win: list[tuple[int, float | None, float | None]]) -> _Detection:
        r = self.rules
        base = self.baseline_eye_openness()
        det = _Detection(reason=VerdictCode.ACTION_TIMEOUT)
        if not base:
            return det
        phase, start, low = 0, None, 1e9
        for t, eye, aspect in win:
            e = self._corrected(eye, aspect)
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

    def _mouth(self, win: list[tuple[int, float | None, float | None]]) -> _Detection:
        r = self.rules
        lo, lo_t, best = None, None, 0.0
        for t, mouth, aspect in win:
            m = self._corrected(mouth, aspect)
            if m is None:
                continue
            if lo is None or m < lo:
                lo, lo_t = m, t
            best = max(best, m - lo)
            if m >= r.mouth_open and m - lo >= r.mouth_delta:
                return _Detection(True, lo_t, t, m - lo)
        return _Detection(score=best, reason=VerdictCode.ACTION_TIMEOUT)

    def _pose(self, t: int) -> Pose:
        if t not in self.poses:
            raise PosesNeeded([t])
        return self.poses[t]

    def _parallax_ok(self, ta: int, tb: int, delta: float, axis: int) -> tuple[bool, float | None]:
        """The parallax check between the frames at ``ta`` and ``tb`` (3-D motion, not a plane)."""
        r = self.rules
        missing = [t for t in (ta, tb) if t not in self.poses]
        if missing:
            raise PosesNeeded(missing)
        a, b = self.poses[ta], self.poses[tb]
        if a is None or b is None:
            return False, None
        (a_anchors, a_nose, _), (b_anchors, b_nose, b_eyes) = a, b
        scale = b_eyes or float(b_anchors[:, 0].max() - b_anchors[:, 0].min())
        p = imaging.nose_parallax(a_anchors, a_nose, b_anchors, b_nose, scale)[axis]
        signed = p if delta > 0 else -p  # the nose must move with the head
        need = max(r.parallax_min, r.parallax_per_deg * abs(delta))
        if signed < need:
            return False, signed
        # 3-D motion: the landmarks of a flat picture, however it is warped in perspective, move
        # under one homography; a head's do not (its nose, brows and cheeks lie at other depths)
        residual = planar_residual(a_anchors, a_nose, b_anchors, b_nose, scale)
        self.planar_max = residual if self.planar_max is None else max(self.planar_max, residual)
        return residual >= max(r.planar_min, r.planar_per_deg * abs(delta)), signed

    def _nod_check(self, ta: int, tb: int, delta: float) -> tuple[bool, float | None]:
        """A nod's parallax check; a failed pair is remembered, as the window is scanned again
        on every frame and would check it again."""
        if (ta, tb) in self._nod_failed:
            return False, self._nod_failed[(ta, tb)]
        ok, par = self._parallax_ok(ta, tb, delta, axis=1)
        if not ok:
            self._nod_failed[(ta, tb)] = par
        return ok, par

    def _nod(self, pts: list[tuple[int, float | None]]) -> _Detection:
        """A pitch excursion of at least ``nod_deg`` from a start frame that comes back part way."""
        r = self.rules
        pts = [(t, float(p)) for t, p in pts if p is not None]
        det = _Detection(reason=VerdictCode.ACTION_TIMEOUT)
        for k, (t0, p0) in enumerate(pts):
            peak: tuple[int, float] | None = None
            for t, p in pts[k + 1 :]:
                d = p - p0
                if peak is None:
                    if abs(d) >= r.nod_deg:
                        peak = (t, d)
                    continue
                pd = peak[1]
                if d * pd > 0 and abs(d) > abs(pd):
                    peak = (t, d)
                    continue
                det.score = max(det.score, abs(pd))
                if (pd - d) * (1 if pd > 0 else -1) >= r.nod_return * abs(pd):
                    ok, par = self._nod_check(t0, peak[0], pd)
                    if par is not None and (det.parallax is None or par > det.parallax):
                        det.parallax = par
                    if ok:
                        return _Detection(True, t0, t, abs(pd), par)
                    det.reason = VerdictCode.NO_PARALLAX
                    break
        return det

    def _jump(self, t: int, f: FaceObservation) -> None:
        """The face's jump from the last frame with a face, if close in time, relative to the
        allowed jump (>1 = too big); the largest is kept."""
        r = self.rules
        if self._last_face is not None and t - self._last_face[0] <= r.jump_max_gap_ms:
            a, b = self._last_face[1], f.box
            (ax, ay), (bx, by) = a.center, b.center
            w = max(a.w, b.w, 1.0)
            move = math.hypot(ax - bx, ay - by) / w / r.jump_face_widths
            size = max(a.w, b.w) / max(min(a.w, b.w), 1.0) / r.jump_size_ratio
            self.max_jump = max(self.max_jump, move, size)
        self._last_face = (t, f.box)
