"""The crediting rule: what one heartbeat earns. A pure function, property-tested
(tests/test_study_credit.py), so the rule can be read and checked apart from the database.

A beat says "at server time ``now`` the video of this session is at ``claimed`` seconds and is
(not) playing". It earns at most

* the wall-clock time since the learner's previous beat (per learner, not per video: two tabs
  share one clock, so they never earn double),
* the position advance since the last accepted position,
* what is left of the lesson's duration, of the tenant's daily cap and of the course's hours,

and nothing at all when the claimed position lies beyond what could have been watched: the
furthest point reached, or the last position plus the elapsed time, and never more than the
session's furthest point at its start plus the wall-clock time since (+ one tolerance, not one per
beat: five beats a second cannot move the position faster than the clock). A seek ahead, a forged
jump or a sped-up rate look the same to the server: a ``seek_ahead`` anomaly. A paused or stalled
(buffering) player earns nothing and is no anomaly; nor does a hidden page (挂机): a beat that
reports the page hidden, or whose span began while the page was reported hidden, earns nothing and
moves the position no further (the page goes back there). Every beat consumes the learner's wall
clock, so the sum of all credits never exceeds the time between the first and the last beat.

A beat the server handles late (queued behind others under load) arrives later than its position
implies: its wall time exceeds its advance. That excess, up to ``LATE_MAX`` seconds, is the
server's measured delay of that beat; it is not consumed (``last_beat_at`` is moved back by it), so
the next beat, sent on the player's schedule, may advance by the wall time the late one did not
use instead of being refused as a seek ahead. Only a playing, visible beat that advanced leaves
such time: a pause, a stall, a seek back or a hidden page consume all of it, and a seek forward
beyond what the clock and that delay allow is still refused.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# Why (part of) a claim was not credited: code → what the learner is told after "未计入学时：".
REASONS = {
    "wall_clock": "进度超过实际学习时间",
    "seek_ahead": "不能拖动到未学习的位置",
    "rate": "播放速度异常（只能以正常速度学习）",  # read on older ledger rows
    "hidden": "页面不在前台或视频未在播放时不计学时",
    "duration": "已达到本课件时长",
    "lesson_complete": "本课件已学完，重播不计学时",
    "daily_cap": "已达到今日学时上限，请明天再学",
    "course_complete": "本课程学时已学满",
    "session_replaced": "您已在其他窗口或设备上继续学习，本页已暂停",
    "session_ended": "本次学习已结束，请重新进入课程",
    "foreign_session": "学习记录无效",
    "replayed": "重复提交的学习记录",
    "lesson_mismatch": "课件与本次学习不符",
    "bad_beat": "学习记录无效",
    "foreign_lesson": "您未报名该课程",
    "face_paused": "学习已暂停，请重新进行人脸核验后继续学习",
    "face_unverified": "学习抓拍未通过核验，该时段学时不计入",
    "face_uncovered": "学习结束时未完成抓拍核验，该时段学时不计入",
}
ANOMALIES = {"seek_ahead", "rate", "session_ended", "foreign_session", "replayed", "lesson_mismatch", "bad_beat",
             "foreign_lesson"}
LATE_MAX = 30.0  # at most this much of a late beat's wall time is left to the next beat, seconds


@dataclass(frozen=True, slots=True)
class State:
    """What the server knows before the beat."""

    last_beat_at: float  # server time of the learner's previous beat (0: none yet)
    position: float  # last accepted position in the lesson, seconds
    furthest: float  # furthest point watched
    lesson_credited: float  # seconds credited on this lesson so far
    duration: float  # the lesson's duration
    day_credited: float  # seconds credited to the learner today
    daily_cap: float  # the tenant's daily cap, seconds
    course_left: float = math.inf  # seconds still needed for the course
    tolerance: float = 2.0
    began: float = 0.0  # server time the session started (0: no session bound)
    origin: float = 0.0  # the furthest point when the session started
    hidden: bool = False  # the session's previous beat reported the page hidden


@dataclass(frozen=True, slots=True)
class Decision:
    seconds: float  # credited
    claimed: float  # what the beat asked for (the position advance while playing)
    reason: str  # "" or a REASONS key (the binding limit, or the refusal)
    anomaly: bool
    position: float  # the accepted position (the page seeks here when it differs)
    furthest: float
    last_beat_at: float

    @property
    def refused(self) -> float:
        return max(0.0, self.claimed - self.seconds)


def decide(state: State, now: float, claimed: float, playing: bool, visible: bool = True) -> Decision:
    """The credit of one beat at server time ``now`` claiming position ``claimed``; ``visible``:
    the page was visible up to this beat (as the page reports it)."""
    s = state
    tol = s.tolerance
    last = max(s.last_beat_at, now) if s.last_beat_at > 0 else now
    elapsed = max(0.0, now - s.last_beat_at) if s.last_beat_at > 0 else 0.0

    def refuse(reason: str, position: float, claim: float = 0.0) -> Decision:
        return Decision(0.0, claim, reason, reason in ANOMALIES, position, s.furthest, last)

    if not isinstance(claimed, (int, float)) or not math.isfinite(claimed) or claimed < 0:
        return refuse("bad_beat", s.position)
    advance = claimed - s.position
    # Beyond what could have been watched: the furthest point, or the last position plus the
    # wall-clock time since the previous beat; never past the lesson's end nor past the session's
    # origin plus the wall-clock time since the session started.
    ceiling = s.origin + max(0.0, now - s.began) if s.began > 0 else math.inf
    reachable = min(max(s.furthest, s.position + elapsed), s.duration, ceiling) + tol
    if claimed > reachable:
        return refuse("seek_ahead", max(s.position, min(claimed, s.furthest)), max(0.0, advance) if playing else 0.0)
    if s.hidden or not visible:  # hang-up study: nothing earned, nothing watched
        claim = advance if playing and advance > 0 else 0.0
        return Decision(0.0, claim, "hidden" if claim > 0 else "", False, min(claimed, s.position), s.furthest, last)
    position = min(claimed, s.duration)
    furthest = max(s.furthest, position)
    if not playing or advance <= 0:  # paused, stalled (buffering) or seeking back: no claim
        return Decision(0.0, 0.0, "", False, position, furthest, last)
    seconds, reason = min(elapsed, advance), ""
    if advance - seconds > tol:
        reason = "wall_clock"
    for room, why in (
        (s.duration - s.lesson_credited, "lesson_complete" if s.lesson_credited >= s.duration - tol else "duration"),
        (s.daily_cap - s.day_credited, "daily_cap"),
        (s.course_left, "course_complete"),
    ):
        room = max(0.0, room)
        if seconds > room:
            seconds, reason = room, why
    if elapsed > advance:  # a late beat: the wall time its position did not use is left to the next one
        last = max(s.last_beat_at, now - min(elapsed - advance, LATE_MAX))
    return Decision(seconds, advance, reason, False, position, furthest, last)


def message(reason: str) -> str:
    """What the learner reads: "未计入学时：…"."""
    return f"未计入学时：{REASONS.get(reason, REASONS['bad_beat'])}" if reason else ""
