"""Study sessions, the learner's clock lock and the hours figures (heartbeats: ``core.study.beats``).

Every change of a learner's study rows holds the learner's clock lock (``locked_clock``); the
clock row itself is written with a compare-and-swap on its ``version`` (``_swap_clock``).
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import secrets
import time
from dataclasses import dataclass
from typing import Any


from core import tenant_time
from core.courses.tables import Course, Enrollment, Lesson
from core.db import for_update, is_postgres, write_transaction
from core.db.scoped import scoped
from core.roster.tables import LearnerProfile
from core.study import live
from core.study.tables import HoursEntry, LessonProgress, StudyClock, StudySession
from core.tenancy import Tenant

log = logging.getLogger("xueshi.study")
CAS_RETRIES = 5

server_time = time.time  # the server's clock (tests replace it to step through time)

STUDYING = ("studying", "cleared")  # statuses in which study earns hours (cleared: study again)
STATUS_LABELS = {"studying": "学习中", "review": "待审核", "approved": "审核通过", "cleared": "学时已清除"}


def seconds_per_hour(tenant: Tenant) -> int:
    return tenant.rules.study.minutes_per_hour * 60


def required_seconds(tenant: Tenant, course: Course) -> float:
    return float(course.required_hours) * seconds_per_hour(tenant)


def hours(tenant: Tenant, seconds: float) -> float:
    """Seconds as 学时, rounded down to 0.01 (never shows more than was credited)."""
    return math.floor(seconds / seconds_per_hour(tenant) * 100) / 100


def tenant_day(tenant: Tenant, now: float) -> str:
    """The tenant's date at Unix time ``now``: the day the daily cap counts."""
    return tenant_time.day_of(now, tenant_time.zone(tenant))


# --- profile gate ----------------------------------------------------------------------------


async def profile_complete(tenant: Tenant, account_id: int) -> bool:
    """ID card both sides and a portrait uploaded (when the tenant's rules ask for it)."""
    if not tenant.rules.profile.required_for_study:
        return True
    return await scoped(LearnerProfile, tenant).exists(
        (LearnerProfile.account == account_id) & LearnerProfile.id_front.is_not_null()
        & LearnerProfile.id_back.is_not_null() & LearnerProfile.portrait.is_not_null()
    )


# --- access ----------------------------------------------------------------------------------


@dataclass
class Access:
    lesson: Lesson
    course: Course
    enrollment: Enrollment


async def lesson_access(tenant: Tenant, account_id: int, lesson_id: int) -> Access | None:
    """The lesson, its course and the learner's enrolment on it; None when not enrolled."""
    lesson = await scoped(Lesson, tenant).get(lesson_id)
    if lesson is None:
        return None
    enrollment = await scoped(Enrollment, tenant).objects(
        (Enrollment.account == account_id) & (Enrollment.course == lesson.course)).first()
    if enrollment is None:
        return None
    course = await scoped(Course, tenant).get(lesson.course)
    return Access(lesson, course, enrollment) if course else None


async def progress_of(tenant: Tenant, account_id: int, lesson_id: int) -> LessonProgress | None:
    return await scoped(LessonProgress, tenant).objects(
        (LessonProgress.account == account_id) & (LessonProgress.lesson == lesson_id)).first()


async def _ensure(row_query, make) -> Any:
    row = await row_query.first()
    if row is not None:
        return row
    try:
        row = make()
        await row.save()
        return row
    except Exception:  # a concurrent request created it first (unique key)
        row = await row_query.first()
        if row is None:
            raise
        return row


async def clock_of(tenant: Tenant, account_id: int) -> StudyClock:
    clocks = scoped(StudyClock, tenant)
    return await _ensure(clocks.objects(StudyClock.account == account_id),
                         lambda: clocks.new(account=account_id))


async def ensure_progress(tenant: Tenant, account_id: int, lesson_id: int) -> LessonProgress:
    rows = scoped(LessonProgress, tenant)
    return await _ensure(
        rows.objects((LessonProgress.account == account_id) & (LessonProgress.lesson == lesson_id)),
        lambda: rows.new(account=account_id, lesson=lesson_id, updated_at=dt.datetime.now(dt.UTC)),
    )


async def locked_clock(tenant: Tenant, account_id: int, park: bool = True) -> StudyClock | None:
    """The learner's study clock, locked for this write transaction (``write_transaction(StudyClock)``):
    every change of a learner's hours (beats, review, appeals, proctoring) goes through it. With
    live study on, taking the lock parks the learner (``core.study.live``): the beats kept in
    Redis are written first, so what follows reads and changes the complete state (``park=False``:
    live study's own rebuild, which parks only when no other request rebuilt the state meanwhile)."""
    query = scoped(StudyClock, tenant).objects(StudyClock.account == account_id)
    clock = await for_update(query).first()
    current = live.active()
    if park and clock is not None and current is not None and await current.park(tenant, account_id):
        clock = await query.first()  # the parked beats moved it on
    return clock


_CLOCK_ROW = "SELECT id FROM study_clock WHERE tenant = {tenant} AND account = {}"


async def lock_clock(tenant: Tenant, account_id: int) -> None:
    """``locked_clock`` for a caller that needs the lock but not the clock's row (the snapshot
    job's verdict): the row locked by one statement written by hand (``FOR UPDATE`` on PostgreSQL,
    as ``for_update``), and the learner parked the same way."""
    clock = await scoped(StudyClock, tenant).run(_CLOCK_ROW + (" FOR UPDATE" if is_postgres() else ""), account_id)
    current = live.active()
    if clock and current is not None:
        await current.park(tenant, account_id)


async def hold(tenant: Tenant, account_id: int) -> None:
    """Take and release the learner's clock lock: with live study on, a change made without it
    (a ticket taken, a snapshot confirmed, an enrolment approved) is seen by the next beat."""
    if live.active() is None:
        return
    async with write_transaction(StudyClock):
        await locked_clock(tenant, account_id)


async def _swap_clock(clock: StudyClock, values: dict) -> bool:
    """Compare-and-swap: write ``values`` only if nobody else wrote the clock since we read it."""
    done = await scoped(StudyClock, clock.tenant).update({**values, StudyClock.version: clock.version + 1}).where(
        (StudyClock.id == clock.id) & (StudyClock.version == clock.version)
    ).returning(StudyClock.id)
    return bool(done)


# --- sessions --------------------------------------------------------------------------------


async def start_session(tenant: Tenant, account_id: int, access: Access, now: float | None = None,
                        token: str | None = None) -> StudySession:
    """A new session for this page; it takes over from any other tab or device of the learner.
    ``token``: the session's id when the caller chose it (the face gate claims it first)."""
    now = server_time() if now is None else now
    await clock_of(tenant, account_id)
    await ensure_progress(tenant, account_id, access.lesson.id)
    token = token or secrets.token_urlsafe(24)
    stamp = dt.datetime.now(dt.UTC)
    for _ in range(CAS_RETRIES):
        async with write_transaction(StudyClock):
            clock = await locked_clock(tenant, account_id)
            if not await _swap_clock(clock, {StudyClock.active_token: token,
                                             StudyClock.last_beat_at: max(clock.last_beat_at, now)}):
                continue
            await scoped(StudySession, tenant).update(
                {StudySession.ended_at: stamp, StudySession.ended_reason: "replaced"}
            ).where((StudySession.account == account_id) & StudySession.ended_at.is_null())
            progress = await progress_of(tenant, account_id, access.lesson.id)
            session = scoped(StudySession, tenant).new(
                account=account_id, lesson=access.lesson.id, enrollment=access.enrollment.id, token=token,
                started_at=stamp, duration_seconds=float(access.lesson.duration_seconds),
                required_seconds=required_seconds(tenant, access.course),
                began=max(clock.last_beat_at, now), origin=progress.furthest,
            )
            await session.save()
            return session
    raise RuntimeError("study clock busy")


async def end_session(tenant: Tenant, account_id: int, token: str) -> None:
    await scoped(StudySession, tenant).update(
        {StudySession.ended_at: dt.datetime.now(dt.UTC), StudySession.ended_reason: "ended"}
    ).where((StudySession.token == token) & (StudySession.account == account_id) & StudySession.ended_at.is_null())


async def refused_entries(tenant: Tenant, account_id: int, enrollment_id: int, limit: int = 20) -> list[HoursEntry]:
    """The learner's recent refused credits on an enrolment (shown as "未计入学时：…")."""
    return await scoped(HoursEntry, tenant).objects(
        (HoursEntry.account == account_id) & (HoursEntry.enrollment == enrollment_id) & (HoursEntry.reason != "")
        & HoursEntry.reason.not_in(["review_cleared", "appeal_restored"])  # review's entries, not refusals
    ).order_by(HoursEntry.id, ascending=False).limit(limit)
