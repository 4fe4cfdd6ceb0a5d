"""Study sessions and heartbeats: the server alone decides what is credited.

One beat is one transaction: the learner's clock row is locked (``SELECT … FOR UPDATE`` on
PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite) and then written with a compare-and-swap on its
``version``, so any number of simultaneous beats from two tabs or two processes are serialised
per learner and can never credit the same wall-clock seconds twice. The credit itself is decided
by the pure ``core.study.credit.decide``; every beat that claimed time, was refused or looked
forged is appended to the ledger (``HoursEntry``) with its reason.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import secrets
import time
from dataclasses import dataclass
from typing import Any

from core.courses.tables import Course, Enrollment, Lesson
from core.db import for_update, write_transaction
from core.db.scoped import scoped
from core.roster.tables import LearnerProfile
from core.study import credit, live
from core.study.tables import HoursEntry, LessonProgress, StudyClock, StudySession
from core.tenancy import Tenant

log = logging.getLogger("xueshi.study")
CHINA = dt.timezone(dt.timedelta(hours=8))
CAS_RETRIES = 5

server_time = time.time  # the server's clock (tests replace it to step through time)

STUDYING = ("studying", "cleared")  # statuses in which study earns hours (cleared: study again)
STATUS_LABELS = {"studying": "学习中", "review": "待审核", "approved": "审核通过", "cleared": "学时已清除"}


def completion_text(tenant: Tenant) -> str:
    """The construction group guide's 【温馨提示】, word for word (workdays from the rules)."""
    low, high = (list(tenant.rules.study.review_workdays) + [3, 5])[:2]
    return ("【温馨提示】“尊敬的学员，您已完成本年度继续教育学时，经审核通过后计入有效学时，"
            f"审核时间大约需要 {low} 到 {high} 个工作日，请您耐心等待，学时审核通过后可登录管理系统完成换证。”")


def seconds_per_hour(tenant: Tenant) -> int:
    return tenant.rules.study.minutes_per_hour * 60


def required_seconds(tenant: Tenant, course: Course) -> float:
    return float(course.required_hours) * seconds_per_hour(tenant)


def hours(tenant: Tenant, seconds: float) -> float:
    """Seconds as 学时, rounded down to 0.01 (never shows more than was credited)."""
    return math.floor(seconds / seconds_per_hour(tenant) * 100) / 100


def china_day(now: float) -> str:
    return dt.datetime.fromtimestamp(now, CHINA).date().isoformat()


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
            session = scoped(StudySession, tenant).new(
                account=account_id, lesson=access.lesson.id, enrollment=access.enrollment.id, token=token,
                started_at=stamp, duration_seconds=float(access.lesson.duration_seconds),
                required_seconds=required_seconds(tenant, access.course),
            )
            await session.save()
            return session
    raise RuntimeError("study clock busy")


async def end_session(tenant: Tenant, account_id: int, token: str) -> None:
    await scoped(StudySession, tenant).update(
        {StudySession.ended_at: dt.datetime.now(dt.UTC), StudySession.ended_reason: "ended"}
    ).where((StudySession.token == token) & (StudySession.account == account_id) & StudySession.ended_at.is_null())


# --- beats -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class BeatIn:
    token: str
    seq: int
    lesson_id: int
    position: float
    playing: bool
    event: str = "beat"  # beat | pause | end | hide
    idle: float = 0.0  # seconds since the learner last touched the page (the player's report)


def _finite(x: float) -> float:
    return min(max(x, -1e9), 1e9) if math.isfinite(x) else 0.0


def _answer(d: credit.Decision | None, reason: str, **extra: Any) -> dict[str, Any]:
    out = {
        "credited": round(d.seconds, 3) if d else 0.0,
        "reason": reason,
        "message": (credit.REASONS[reason] if reason == "session_replaced" else credit.message(reason))
        if (d is None or d.refused > 0.5 or d.anomaly) else "",
        "anomaly": reason in credit.ANOMALIES,
        "paused": reason in ("session_replaced", "session_ended"),
    }
    if d is not None:
        out.update(position=round(d.position, 3), furthest=round(d.furthest, 3))
    out.update(extra)
    return out


async def _refuse(tenant: Tenant, account_id: int, beat: BeatIn, reason: str, session: StudySession | None = None,
                  ) -> dict[str, Any]:
    """Record a beat that was refused before crediting (forged, replayed, stale session)."""
    await scoped(HoursEntry, tenant).new(
        account=account_id, enrollment=session.enrollment if session else None,
        lesson=session.lesson if session else None, session=beat.token[:64], seq=beat.seq,
        position_to=_finite(beat.position), reason=reason,
        anomaly=reason in credit.ANOMALIES, created_at=dt.datetime.now(dt.UTC),
    ).save()
    if reason in credit.ANOMALIES:
        log.info("study beat refused: %s (tenant %s, account %s)", reason, tenant.slug, account_id)
    return _answer(None, reason)


async def beat(tenant: Tenant, account_id: int, beat: BeatIn, now: float | None = None,
               platform: Any = None) -> dict[str, Any]:
    """Credit one heartbeat; never raises for bad input (it is refused and recorded instead)."""
    from core.proctoring import snapshots

    now = server_time() if now is None else now
    answer = await _beat(tenant, account_id, beat, now, platform)
    if await snapshots.player_evidence(tenant, account_id, beat, answer, now):
        await hold(tenant, account_id)  # the idle flag changed outside the lock
    return answer


async def _beat(tenant: Tenant, account_id: int, beat: BeatIn, now: float, platform: Any) -> dict[str, Any]:
    from core.proctoring import snapshots

    session = await scoped(StudySession, tenant).objects(StudySession.token == beat.token).first()
    if session is None or session.account != account_id:
        return await _refuse(tenant, account_id, beat, "foreign_session")
    if beat.lesson_id != session.lesson:
        return await _refuse(tenant, account_id, beat, "lesson_mismatch", session)
    if session.ended_at is not None:
        return await _refuse(tenant, account_id, beat, "session_replaced" if session.ended_reason == "replaced"
                             else "session_ended", session)
    if beat.seq <= session.last_seq:
        return await _refuse(tenant, account_id, beat, "replayed", session)
    # Proctoring: a paused session (bad or overdue snapshot, even one paused under the lock) credits nothing.
    if paused := await snapshots.before_beat(platform, tenant, session, now):
        return await _face_paused(tenant, account_id, beat, session, snapshots.paused_message(paused))
    needed, duration = session.required_seconds, session.duration_seconds
    day, stamp = china_day(now), dt.datetime.now(dt.UTC)
    for _ in range(CAS_RETRIES):
        try:
            return await _credit(tenant, account_id, beat, session, now, day, stamp, needed, duration)
        except _Lost:  # the compare-and-swap lost (rolled back): another beat committed first
            continue
        except snapshots.SessionPaused as paused_now:  # rolled back
            return await _face_paused(tenant, account_id, beat, session, snapshots.paused_message(str(paused_now)))
        except _Stop:
            break
    else:
        raise RuntimeError("study clock busy")
    fresh = await scoped(StudySession, tenant).get(session.id)
    if fresh.ended_at is not None:
        return await _refuse(tenant, account_id, beat, "session_replaced" if fresh.ended_reason == "replaced"
                             else "session_ended", session)
    return await _refuse(tenant, account_id, beat, "replayed", session)


async def _face_paused(tenant: Tenant, account_id: int, beat: BeatIn, session: StudySession, message: str) -> dict:
    answer = await _refuse(tenant, account_id, beat, "face_paused", session)
    return {**answer, "paused": True, "face_paused": True, "message": message,
            "face_check": f"/face/check?next=/study/lessons/{session.lesson}"}


class _Lost(Exception):
    pass


class _Stop(Exception):
    pass


async def _credit(tenant: Tenant, account_id: int, beat: BeatIn, session: StudySession, now: float, day: str,
                  stamp: dt.datetime, needed: float, duration: float) -> dict[str, Any]:
    """One transaction under the learner's clock lock. Raises _Lost (the compare-and-swap lost:
    everything rolled back) or _Stop (the session was replaced or the beat is stale: committed,
    the caller answers)."""
    async with write_transaction(StudyClock):
        clock = await locked_clock(tenant, account_id)
        if clock.active_token != session.token:
            await scoped(StudySession, tenant).update(
                {StudySession.ended_at: stamp, StudySession.ended_reason: "replaced"}
            ).where((StudySession.id == session.id) & StudySession.ended_at.is_null())
        # Under the lock: the sequence number must still be new and the session still open.
        elif await scoped(StudySession, tenant).update({StudySession.last_seq: beat.seq}).where(
            (StudySession.id == session.id) & (StudySession.last_seq < beat.seq) & StudySession.ended_at.is_null()
        ).returning(StudySession.id):
            return await _credit_locked(tenant, account_id, beat, session, now, day, stamp, needed, duration, clock)
    raise _Stop()


async def _credit_locked(tenant: Tenant, account_id: int, beat: BeatIn, session: StudySession, now: float, day: str,
                         stamp: dt.datetime, needed: float, duration: float, clock: StudyClock) -> dict[str, Any]:
    rules = tenant.rules.study
    progress = await scoped(LessonProgress, tenant).objects(
        (LessonProgress.account == account_id) & (LessonProgress.lesson == session.lesson)).first()
    current = await scoped(Enrollment, tenant).get(session.enrollment)
    day_seconds = clock.day_seconds if clock.day == day else 0.0
    state = credit.State(
        last_beat_at=clock.last_beat_at, position=progress.position, furthest=progress.furthest,
        lesson_credited=progress.credited_seconds, duration=duration,
        day_credited=day_seconds, daily_cap=rules.daily_cap_minutes * 60.0,
        # 已清除 (cleared by review): the learner studies again, as when studying.
        course_left=max(0.0, needed - current.credited_seconds) if current.status in STUDYING else 0.0,
        tolerance=rules.tolerance_seconds,
    )
    # A pause / end / hide beat reports where playback stopped: what played up to it counts.
    d = credit.decide(state, now, beat.position, beat.playing or beat.event in ("pause", "end", "hide"))
    if not await _swap_clock(clock, {StudyClock.last_beat_at: d.last_beat_at, StudyClock.day: day,
                                     StudyClock.day_seconds: day_seconds + d.seconds}):
        raise _Lost()
    done = progress.completed or d.furthest >= duration - rules.tolerance_seconds
    await scoped(LessonProgress, tenant).update({
        LessonProgress.position: d.position, LessonProgress.furthest: d.furthest,
        LessonProgress.credited_seconds: progress.credited_seconds + d.seconds,
        LessonProgress.completed: done, LessonProgress.updated_at: stamp,
    }).where(LessonProgress.id == progress.id)
    from core.proctoring import snapshots

    total = current.credited_seconds + d.seconds  # an ending or completing session: a closing capture
    proctoring = await snapshots.after_credit(tenant, session, d.seconds, now, closing=beat.event == "end" or (
        done and not progress.completed) or (total >= needed - 1e-6 and current.status in STUDYING))
    completed_now = False
    if d.seconds > 0:
        # This learner's rows change only under the learner's clock lock: read-add-write is safe.
        moving = total >= needed - 1e-6 and current.status in STUDYING and await snapshots.covered(tenant, current.id)
        values = {Enrollment.credited_seconds: total}
        if moving:
            values.update({Enrollment.status: "review", Enrollment.completed_at: stamp})
        await scoped(Enrollment, tenant).update(values).where(Enrollment.id == current.id)
        completed_now = moving
    if d.claimed > 0 or d.reason or d.anomaly:
        await scoped(HoursEntry, tenant).new(
            account=account_id, enrollment=current.id, lesson=session.lesson, session=session.token,
            seq=beat.seq, position_from=progress.position, position_to=_finite(beat.position), claimed=d.claimed,
            seconds=d.seconds, reason=d.reason, anomaly=d.anomaly, created_at=stamp,
        ).save()
    if beat.event == "end":
        await scoped(StudySession, tenant).update({StudySession.ended_at: stamp, StudySession.ended_reason: "ended"}).where(
            StudySession.id == session.id)
    reviewing = completed_now or current.status == "review"
    return credited_answer(tenant, d, total, needed, progress.credited_seconds + d.seconds, done,
                           completed_now or current.status not in STUDYING, reviewing, **proctoring)


def credited_answer(tenant: Tenant, d: credit.Decision, total: float, needed: float, lesson_credited: float,
                    lesson_completed: bool, completed: bool, reviewing: bool, **extra: Any) -> dict[str, Any]:
    """The answer to a beat that was decided (here or in Redis, ``core.study.live_http``)."""
    return _answer(
        d, d.reason if (d.refused > 0.5 or d.anomaly) else "",
        total_seconds=round(total, 3), total_hours=hours(tenant, total),
        required_hours=round(needed / seconds_per_hour(tenant), 4),
        lesson_credited=round(lesson_credited, 3), lesson_completed=lesson_completed, completed=completed,
        completion_text=completion_text(tenant) if reviewing else "", **extra,
    )


async def refused_entries(tenant: Tenant, account_id: int, enrollment_id: int, limit: int = 20) -> list[HoursEntry]:
    """The learner's recent refused credits on an enrolment (shown as "未计入学时：…")."""
    return await scoped(HoursEntry, tenant).objects(
        (HoursEntry.account == account_id) & (HoursEntry.enrollment == enrollment_id) & (HoursEntry.reason != "")
        & HoursEntry.reason.not_in(["review_cleared", "appeal_restored"])  # review's entries, not refusals
    ).order_by(HoursEntry.id, ascending=False).limit(limit)
