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
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

from core.faces import imaging
from core.faces.planarity import planar_residual
from core.faces.challenge import TURNS
from core.faces.values import Action, FaceObservation, FrameSignals, VerdictCode

if TYPE_CHECKING:  # pragma: no cover
    from core.faces.challenge import Challenge
    from core.faces.liveness import LivenessRules
    from core.faces.values import ActionResult


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



class ActionDetectors:
    """The judge's detectors; the judge provides the state read here."""

    challenge: Challenge
    rules: LivenessRules
    frames: list[FrameSignals]
    prompts: dict[int, int]
    results: list[ActionResult]
    planar_residuals: list[float]
    _aspect_cache: tuple[int, float | None]

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
        """Frames that may show action ``i``: from its prompt (a movement must begin there: it
        needs its rest state first) to the timeout."""
        start = self.prompts[i]
        if i > 0 and self.results[i - 1].done_ms is not None:
            start = max(start, self.results[i - 1].done_ms + 1)
        end = self.prompts[i] + self.rules.timeout_ms
        return [(f.t_ms, f.face) for f in self.frames if start <= f.t_ms <= end and f.face is not None]

    def _detect(self, i: int) -> _Detection:
        action = self.challenge.actions[i]
        win = self._window(i)
        if action in TURNS and self._wrong_turn(win, allowed=action):
            return _Detection(reason=VerdictCode.WRONG_ACTION)
        if action is Action.BLINK:
            return self._blink(win)
        if action is Action.OPEN_MOUTH:
            return self._mouth(win)
        if action in TURNS:
            return self._turn(win, +1.0 if action is Action.TURN_LEFT else -1.0)
        return self._nod(win)

    def _wrong_turn(self, win: list[tuple[int, FaceObservation]], allowed: Action) -> bool:
        """Asked to turn one way, a clear head turn the other way. (During a blink or mouth prompt
        a natural head movement is not an answer: only the asked action counts.)"""
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
        if signed < need:
            return False, signed
        # 3-D motion: the landmarks of a flat picture, however it is warped in perspective, move
        # under one homography; a head's do not (its nose, brows and cheeks lie at other depths)
        residual = planar_residual(a.anchors, a.nose, b.anchors, b.nose, scale)
        self.planar_residuals.append(residual)
        return residual >= max(r.planar_min, r.planar_per_deg * abs(delta)), signed

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


