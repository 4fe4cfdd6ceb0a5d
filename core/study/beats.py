"""Heartbeats: the server alone decides what is credited.

One beat is one transaction: the learner's clock row is locked (``services.locked_clock``:
``SELECT … FOR UPDATE`` on PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite) and then written with a
compare-and-swap on its ``version``, so any number of simultaneous beats from two tabs or two
processes are serialised per learner and can never credit the same wall-clock seconds twice. The
credit itself is decided by the pure ``core.study.credit.decide``; every beat that claimed time,
was refused or looked forged is appended to the ledger (``HoursEntry``) with its reason.

A beat repeating the session's last sequence number (the page resent it: its answer was lost, or
a pause and the lesson's end raced) is answered again without effect and is no anomaly; an older
one is a replay.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from dataclasses import dataclass
from typing import Any

from core.courses.tables import Enrollment
from core.db import write_transaction
from core.db.scoped import scoped
from core.proctoring import snapshots
from core.study import credit, services
from core.study.services import (CAS_RETRIES, STUDYING, tenant_day, hold, hours, locked_clock,
                                 seconds_per_hour)
from core.study.tables import HoursEntry, LessonProgress, StudyClock, StudySession
from core.tenancy import Tenant

log = logging.getLogger("xueshi.study")


@dataclass(frozen=True)
class BeatIn:
    token: str
    seq: int
    lesson_id: int
    position: float
    playing: bool
    event: str = "beat"  # beat | pause | end | hide | show
    idle: float = 0.0  # seconds since the learner last touched the page (the player's report)
    visible: bool = True  # the page says it is visible (a hide beat: it was until now)


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
    now = services.server_time() if now is None else now
    answer = await _beat(tenant, account_id, beat, now, platform)
    if await snapshots.player_evidence(tenant, account_id, beat, answer, now):
        await hold(tenant, account_id)  # the idle flag changed outside the lock
    return answer


async def _beat(tenant: Tenant, account_id: int, beat: BeatIn, now: float, platform: Any) -> dict[str, Any]:
    session = await scoped(StudySession, tenant).objects(StudySession.token == beat.token).first()
    if session is None or session.account != account_id:
        return await _refuse(tenant, account_id, beat, "foreign_session")
    if beat.lesson_id != session.lesson:
        return await _refuse(tenant, account_id, beat, "lesson_mismatch", session)
    if 0 <= beat.seq == session.last_seq:
        return _answer(None, "")  # sent again: already decided
    if session.ended_at is not None:
        return await _refuse(tenant, account_id, beat, "session_replaced" if session.ended_reason == "replaced"
                             else "session_ended", session)
    if beat.seq < session.last_seq:
        return await _refuse(tenant, account_id, beat, "replayed", session)
    # Proctoring: a paused session (bad or overdue snapshot, even one paused under the lock) credits nothing.
    if paused := await snapshots.before_beat(platform, tenant, session, now):
        return await _face_paused(tenant, account_id, beat, session, snapshots.paused_message(paused))
    needed, duration = session.required_seconds, session.duration_seconds
    day = tenant_day(tenant, now)
    stamp = dt.datetime.now(dt.UTC)
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
    if fresh.last_seq == beat.seq:
        return _answer(None, "")  # a concurrent copy of this beat was decided
    if fresh.ended_at is not None:
        return await _refuse(tenant, account_id, beat, "session_replaced" if fresh.ended_reason == "replaced"
                             else "session_ended", session)
    return await _refuse(tenant, account_id, beat, "replayed", session)


async def _face_paused(tenant: Tenant, account_id: int, beat: BeatIn, session: StudySession, message: str) -> dict:
    answer = await _refuse(tenant, account_id, beat, "face_paused", session)
    current = await scoped(Enrollment, tenant).get(session.enrollment)  # net of what was withdrawn
    return {**answer, "paused": True, "face_paused": True, "message": message,
            "face_check": f"/face/check?next=/study/lessons/{session.lesson}",
            "total_hours": hours(tenant, current.credited_seconds if current else 0.0)}


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
        elif await scoped(StudySession, tenant).update(
                {StudySession.last_seq: beat.seq, StudySession.hidden: not beat.visible}).where(
            (StudySession.id == session.id) & (StudySession.last_seq < beat.seq) & StudySession.ended_at.is_null()
        ).returning(StudySession.id):
            return await _credit_locked(tenant, account_id, beat, session, now, day, stamp, needed, duration, clock)
    raise _Stop()


async def _credit_locked(tenant: Tenant, account_id: int, beat: BeatIn, session: StudySession, now: float, day: str,
                         stamp: dt.datetime, needed: float, duration: float, clock: StudyClock) -> dict[str, Any]:
    rules = tenant.rules.study
    progress = await scoped(LessonProgress, tenant).objects(
        (LessonProgress.account == account_id) & (LessonProgress.lesson == session.lesson)
    ).first()
    current = await scoped(Enrollment, tenant).get(session.enrollment)
    day_seconds = clock.day_seconds if clock.day == day else 0.0
    state = credit.State(
        last_beat_at=clock.last_beat_at, position=progress.position, furthest=progress.furthest,
        lesson_credited=progress.credited_seconds, duration=duration,
        day_credited=day_seconds, daily_cap=rules.daily_cap_minutes * 60.0,
        # 已清除 (cleared by review): the learner studies again, as when studying.
        course_left=max(0.0, needed - current.credited_seconds) if current.status in STUDYING else 0.0,
        tolerance=rules.tolerance_seconds, began=session.began, origin=session.origin, hidden=session.hidden,
    )
    # A pause / end / hide beat reports where playback stopped: what played up to it counts (a
    # hide beat: the page was visible until now).
    d = credit.decide(state, now, beat.position, beat.playing or beat.event in ("pause", "end", "hide"),
                      visible=beat.visible or beat.event == "hide")
    if not await services._swap_clock(clock, {StudyClock.last_beat_at: d.last_beat_at, StudyClock.day: day,
                                              StudyClock.day_seconds: day_seconds + d.seconds}):
        raise _Lost()
    done = progress.completed or d.furthest >= duration - rules.tolerance_seconds
    await scoped(LessonProgress, tenant).update({
        LessonProgress.position: d.position, LessonProgress.furthest: d.furthest,
        LessonProgress.credited_seconds: progress.credited_seconds + d.seconds,
        LessonProgress.completed: done, LessonProgress.updated_at: stamp,
    }).where(LessonProgress.id == progress.id)
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
        in_review=reviewing, **extra,
    )

