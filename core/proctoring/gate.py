"""The face gate before every study session: a session opens only bound to a passed face check of
the same account, finished within the tenant's ``face.gate_window_seconds`` and not used by
another session (``ProctorSession.gate`` is unique, so two simultaneous starts with one check open
one session). The gate writes a ``gate_passed`` event, and ``resumed`` when the enrolment's previous
session had been paused for a face check.
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from piccolo.utils.encoding import dump_json

from core.db.scoped import scoped
from core.proctoring import consent as consents
from core.proctoring.coverage import first_capture_plan
from core.proctoring.schedule import plan
from core.proctoring.study_tables import ProctorSession
from core.proctoring.tables import FaceVerification
from core.study.tables import StudyEvent

GATE_REQUIRED = "请先完成人脸核验后再开始学习"

_rng = random.SystemRandom()


def face_check_url(lesson_id: int) -> str:
    return f"/face/check?next=/study/lessons/{lesson_id}"


async def event(tenant, account_id: int, kind: str, *, enrollment: int | None = None, session: str = "",
                verification: int | None = None, **detail: Any) -> StudyEvent:
    """Append one entry to the study timeline (``detail``: figures only, never an ID or phone)."""
    row = scoped(StudyEvent, tenant).new(
        account=account_id, enrollment=enrollment, session=session[:64], kind=kind, detail=detail,
        verification=verification, created_at=dt.datetime.now(dt.UTC))
    await row.save()
    return row


_TIMELINE_ROW = "({tenant}, {}, {}, {}, {}, {}, {}, {})"


async def events(tenant, account_id: int, entries: list[tuple[str, int | None, dict[str, Any]]], *,
                 enrollment: int | None = None, session: str = "") -> None:
    """Append several entries (kind, verification, detail) to the study timeline in one statement, in order
    (one time for all; ids in order): a snapshot verdict's entries, written by hand (building the
    insert through Piccolo cost more than the database's answer)."""
    if not entries:
        return
    stamp, values = dt.datetime.now(dt.UTC), []
    for kind, verification, detail in entries:
        values += [account_id, enrollment, session[:64], kind, dump_json(detail), verification, stamp]
    await scoped(StudyEvent, tenant).run(
        "INSERT INTO study_event (tenant, account, enrollment, session, kind, detail, verification, created_at)"
        " VALUES " + ", ".join([_TIMELINE_ROW] * len(entries)), *values)


async def usable_gate(tenant, account_id: int, now: dt.datetime | None = None) -> FaceVerification | None:
    """The account's newest passed face check (study purpose) within the gate window that no
    session has used yet; None without one or without an active consent."""
    if await consents.active_consent(tenant, account_id) is None:
        return None
    now = now or dt.datetime.now(dt.UTC)
    cutoff = now - dt.timedelta(seconds=tenant.rules.face.gate_window_seconds)
    used = [r["gate"] for r in await scoped(ProctorSession, tenant).select(ProctorSession.gate).where(
        (ProctorSession.account == account_id) & ProctorSession.gate.is_not_null())]
    query = scoped(FaceVerification, tenant).objects(
        (FaceVerification.account == account_id) & (FaceVerification.purpose == "study")
        & (FaceVerification.status == "passed") & (FaceVerification.finished_at >= cutoff))
    if used:
        query = query.where(FaceVerification.id.not_in(used))
    return await query.order_by(FaceVerification.id, ascending=False).first()


class GateUsed(Exception):
    """Another session took this face check first."""


async def claim(tenant, account_id: int, enrollment_id: int, token: str, gate: FaceVerification | None,
                span: float, *, creditable: float | None = None, alternative: int | None = None) -> ProctorSession:
    """Bind the session ``token`` (not started yet) to ``gate`` with a fresh snapshot schedule
    over ``span`` seconds left to study, its first capture within the ``creditable`` seconds the
    session can credit at all (``core.proctoring.coverage``). Raises GateUsed when another session holds the check.
    With ``alternative`` (the id of the learner's approved request to study without the camera,
    core.proctoring.alternative) and no gate, the session opens without a face check and without
    snapshots, and the timeline notes it."""
    if gate is None and alternative is None:
        raise GateUsed()
    lo, hi = tenant.rules.study.snapshot_interval_seconds
    previous = await scoped(ProctorSession, tenant).objects(
        ProctorSession.enrollment == enrollment_id).order_by(ProctorSession.id, ascending=False).first()
    if gate is None:
        row = scoped(ProctorSession, tenant).new(
            account=account_id, enrollment=enrollment_id, session=token, gate=None, alternative=True, plan=[],
            created_at=dt.datetime.now(dt.UTC))
        await row.save()
        await event(tenant, account_id, "alternative", enrollment=enrollment_id, session=token, request=alternative)
        if previous is not None and previous.paused:
            await event(tenant, account_id, "resumed", enrollment=enrollment_id, session=token,
                        after=previous.pause_reason)
        return row
    row = scoped(ProctorSession, tenant).new(
        account=account_id, enrollment=enrollment_id, session=token, gate=gate.id,
        plan=first_capture_plan(_rng, plan(_rng, span, lo, hi), span if creditable is None else creditable),
        created_at=dt.datetime.now(dt.UTC))
    try:
        await row.save()
    except Exception:  # the unique gate: a simultaneous start claimed it first
        if await scoped(ProctorSession, tenant).exists(ProctorSession.gate == gate.id):
            raise GateUsed() from None
        raise
    await event(tenant, account_id, "gate_passed", enrollment=enrollment_id, session=token,
                verification=gate.id, snapshots=len(row.plan))
    if previous is not None and previous.paused:
        await event(tenant, account_id, "resumed", enrollment=enrollment_id, session=token,
                    verification=gate.id, after=previous.pause_reason)
    return row


async def release(tenant, token: str) -> None:
    """A claimed session that could not start gives its face check back."""
    await scoped(ProctorSession, tenant).delete().where(ProctorSession.session == token)
    await scoped(StudyEvent, tenant).delete().where(StudyEvent.session == token[:64])


async def of_session(tenant, token: str) -> ProctorSession | None:
    return await scoped(ProctorSession, tenant).objects(ProctorSession.session == token).first()
