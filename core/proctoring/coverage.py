"""Every credited second covered by live evidence.

A proctored session's credited seconds are *provisional* (``ProctorSession.provisional``) until a
snapshot taken after them is verified. This module holds the rules that keep it so:

* **The first capture inside the creditable time.** ``first_capture_plan`` moves the first planned
  capture inside what the session can credit at all (the lesson's, the course's and the day's
  seconds left): a session that can earn only 135 s is asked within those 135 s.
* **A closing capture.** A session that ends (the player's ``end`` beat) or completes (the lesson
  watched to its end, the course's hours reached) with provisional seconds is asked for one more
  capture at once (``closing``); if it is not answered in time its seconds are withdrawn.
* **Nothing uncovered survives a session.** ``core.proctoring.verdicts.settle`` withdraws the provisional seconds of the
  learner's sessions that ended or were replaced with no capture pending, and turns a capture past
  its deadline into a missing snapshot, whether or not the session ever beats again. It runs when
  a session starts, on the learner's course page, on the reviewer's case page and every minute
  (the ``settle_captures`` job).
* **待审核 needs the evidence.** An enrolment moves to 待审核 only when no proctored session of it
  holds provisional seconds (``covered``); a verified snapshot that covers the last ones moves it
  (``complete_if_covered``).

Withdrawals are reversing ledger rows (``withdraw``) with a reason the learner reads on the course
page (``face_unverified``: a bad or missing snapshot; ``face_uncovered``: a session that ended
without its closing capture).
"""

from __future__ import annotations

import datetime as dt
import random

from core.courses.tables import Course, Enrollment
from core.db import write_transaction
from core.db.scoped import scoped
from core.proctoring.study_tables import ProctorSession
from core.study import services as study
from core.study.tables import HoursEntry, LessonProgress, StudyClock, StudySession

UNVERIFIED = "face_unverified"
UNCOVERED = "face_uncovered"
UNREAD = object()  # ``withdraw``: the caller has not read the session's row


def first_capture_plan(rng: random.Random, times: list[float], creditable: float) -> list[float]:
    """``times`` (a plan over the lesson's seconds left) with its first capture inside the first
    ``creditable`` seconds (what this session can credit at all), in their middle half: a first
    capture already there is kept, a later one gets an earlier capture before it."""
    if not times or creditable <= 0 or times[0] <= 0.75 * creditable:
        return times
    return [rng.uniform(0.25, 0.75) * creditable, *times]


async def creditable_seconds(tenant, account_id: int, enrollment: Enrollment, course: Course, lesson_left: float,
                             now: float) -> float:
    """What one session on this lesson can credit at most: the lesson's seconds left, the course's
    seconds left (while studying) and the day's cap left."""
    clock = await scoped(StudyClock, tenant).objects(StudyClock.account == account_id).first()
    today = study.tenant_day(tenant, now)
    day_used = clock.day_seconds if clock is not None and clock.day == today else 0.0
    day_left = tenant.rules.study.daily_cap_minutes * 60.0 - day_used
    course_left = (study.required_seconds(tenant, course) - enrollment.credited_seconds
                   if enrollment.status in study.STUDYING else 0.0)
    return max(0.0, min(lesson_left, course_left, day_left))


async def covered(tenant, enrollment_id: int) -> bool:
    """No proctored session of the enrolment holds seconds that no verified snapshot covers."""
    return not await scoped(ProctorSession, tenant).exists(
        (ProctorSession.enrollment == enrollment_id) & (ProctorSession.alternative == False)  # noqa: E712
        & (ProctorSession.provisional > 1e-6))


async def complete_if_covered(tenant, enrollment_id: int, stamp: dt.datetime) -> bool:
    """Under the learner's clock lock: move the enrolment to 待审核 when its hours are reached and
    every session carries its evidence. Returns whether it moved."""
    row = await scoped(Enrollment, tenant).select(
        Enrollment.status, Enrollment.credited_seconds, Enrollment.course.required_hours.as_alias("required")
    ).where(Enrollment.id == enrollment_id).first()
    if row is None or row["status"] not in study.STUDYING:
        return False
    if row["credited_seconds"] < float(row["required"]) * study.seconds_per_hour(tenant) - 1e-6:
        return False
    if not await covered(tenant, enrollment_id):
        return False
    moved = await scoped(Enrollment, tenant).update({Enrollment.status: "review", Enrollment.completed_at: stamp}).where(
        (Enrollment.id == enrollment_id) & Enrollment.status.is_in(list(study.STUDYING))).returning(Enrollment.id)
    return bool(moved)


async def withdraw(tenant, account_id: int, token: str, reason: str = UNVERIFIED,
                   session: StudySession | None | object = UNREAD) -> float:
    """Withdraw the seconds a proctored session credited since its last good snapshot: under the
    learner's clock lock, a reversing ledger row (negative ``seconds``, ``reason``) and the same
    seconds taken off the lesson and the enrolment, which goes back to 学习中 if that leaves it
    short of the course's hours. While the session is the learner's current one, the lesson's
    position and furthest point go back by the withdrawn seconds: the learner resumes where the
    credit stands and earns them again by watching that part again. ``session``: the session's
    row (None: there is none) when the caller has read it already. Returns the seconds."""
    if session is UNREAD:
        session = await scoped(StudySession, tenant).objects(StudySession.token == token).first()
    if session is None:
        return 0.0
    stamp = dt.datetime.now(dt.UTC)
    for _ in range(study.CAS_RETRIES):
        async with write_transaction(StudyClock):
            clock = await study.locked_clock(tenant, account_id)
            if clock is None:
                return 0.0
            proctor = await scoped(ProctorSession, tenant).objects(ProctorSession.session == token).first()
            seconds = proctor.provisional if proctor else 0.0
            if seconds <= 0:
                return 0.0
            if not await study._swap_clock(clock, {}):
                continue
            await scoped(ProctorSession, tenant).update({ProctorSession.provisional: 0.0}).where(
                ProctorSession.id == proctor.id)
            progress = await scoped(LessonProgress, tenant).objects(
                (LessonProgress.account == account_id) & (LessonProgress.lesson == session.lesson)).first()
            back = progress.position if progress is not None else 0.0
            if progress is not None:
                # The withdrawn seconds are the last ones watched: the lesson goes back by as much,
                # unless another session (a second tab or device) has taken over: it plays on from
                # where it started, and the seconds are earned again by watching that part again.
                rewind = clock.active_token == token
                furthest = max(0.0, progress.furthest - seconds) if rewind else progress.furthest
                back = min(progress.position, furthest)
                done = furthest >= session.duration_seconds - tenant.rules.study.tolerance_seconds
                await scoped(LessonProgress, tenant).update({
                    LessonProgress.credited_seconds: max(0.0, progress.credited_seconds - seconds),
                    LessonProgress.position: back, LessonProgress.furthest: furthest,
                    LessonProgress.completed: done, LessonProgress.updated_at: stamp,
                }).where(LessonProgress.id == progress.id)
            current = await scoped(Enrollment, tenant).get(session.enrollment)
            total = max(0.0, current.credited_seconds - seconds)
            values: dict = {Enrollment.credited_seconds: total}
            if current.status == "review" and total < session.required_seconds - 1e-6:
                values.update({Enrollment.status: "studying", Enrollment.completed_at: None})
            await scoped(Enrollment, tenant).update(values).where(Enrollment.id == current.id)
            await scoped(HoursEntry, tenant).new(
                account=account_id, enrollment=current.id, lesson=session.lesson, session=token, seq=session.last_seq,
                position_from=progress.position if progress else 0.0, position_to=back,
                claimed=0.0, seconds=-seconds, reason=reason, anomaly=False, created_at=stamp,
            ).save()
            return seconds
    raise RuntimeError("study clock busy")


async def open_sessions(tenant, account_id: int | None = None) -> list[ProctorSession]:
    """Proctored sessions (of one learner, or of the tenant) with a capture pending or seconds
    not yet covered."""
    where = (ProctorSession.alternative == False) & ((ProctorSession.ticket != "")  # noqa: E712
                                                     | (ProctorSession.provisional > 1e-6))
    if account_id is not None:
        where = where & (ProctorSession.account == account_id)
    return await scoped(ProctorSession, tenant).objects(where).order_by(ProctorSession.id)
