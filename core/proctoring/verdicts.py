"""What a snapshot verdict does: to the session (confirm or withdraw its provisional seconds,
pause it), to the timeline, to the enrolment (flags, 待审核 once covered); and what the server does
with captures nobody answered (``overdue``, ``settle``: see ``core.proctoring.coverage``)."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from core.accounts.tables import Account
from core.courses.tables import Enrollment
from core.db import write_transaction
from core.db.scoped import scoped
from core.hookcalls import notify
from core.jobs.specs import platform_of, tenants_of
from core.proctoring import coverage
from core.proctoring.gate import event, events
from core.proctoring.study_tables import ProctorSession
from core.proctoring.tables import FaceVerification
from core.study import services as study
from core.study.tables import StudyClock, StudyEvent, StudySession

log = logging.getLogger("xueshi.proctoring")

OUTCOMES = {  # job outcome → (StudyEvent kind, Chinese reason)
    "ok": ("snapshot_ok", ""),
    "mismatch": ("snapshot_mismatch", "抓拍照片与本人头像不一致"),
    "no_face": ("snapshot_no_face", "抓拍照片中未检测到人脸"),
    "faces": ("snapshot_faces", "抓拍照片中出现多张人脸"),
    "missing": ("snapshot_missing", "未按要求上传学习抓拍照片"),
    "still": ("snapshot_still", "抓拍的连续画面没有变化，不是摄像头现场画面"),
    "duplicate": ("snapshot_duplicate", "抓拍照片与头像、身份证照片或以往抓拍重复，不是现场拍摄"),
}
BAD = frozenset(OUTCOMES) - {"ok"}
REPLAYED = frozenset({"duplicate"})  # an image used before: flagged at once


def paused_message(reason_kind: str) -> str:
    reason = next((text for kind, text in OUTCOMES.values() if kind == reason_kind and text), "人脸核验未通过")
    return f"学习已暂停：{reason}。请重新进行人脸核验后继续学习"


# A good snapshot confirms the session's provisional seconds: on every good snapshot's path, written
# by hand (building it through Piccolo cost more than the database's answer).
CONFIRM = "UPDATE proctor_session SET provisional = 0.0, last_good_at = {} WHERE id = {} AND tenant = {tenant}"
PAUSE = ("UPDATE proctor_session SET paused = {}, pause_reason = {}, ticket = '' WHERE id = {} AND tenant = {tenant}"
         " AND paused = {} RETURNING id")
MISMATCHES = "SELECT COUNT(*) AS n FROM study_event WHERE tenant = {tenant} AND enrollment = {} AND kind = 'snapshot_mismatch'"
FLAG = "UPDATE enrollment SET flagged = {} WHERE id = {} AND account = {} AND tenant = {tenant} AND flagged = {} RETURNING id"
Notice = tuple[str, int, dict[str, Any]]  # hook name, account id, the hook's other arguments


async def checked(platform, tenant, ps: ProctorSession, row: FaceVerification, outcome: str) -> None:
    """Apply one snapshot verdict (``apply``) in one transaction, then call the hooks."""
    notices: list[Notice] = []
    async with write_transaction(StudyClock):
        await study.locked_clock(tenant, ps.account)
        await apply(tenant, ps, row, outcome, notices)
    await deliver(platform, tenant, notices)


async def apply(tenant, ps: ProctorSession, row: FaceVerification, outcome: str, notices: list[Notice]) -> None:
    """Apply one snapshot verdict to the session, the timeline and the enrolment. Runs in a write
    transaction that holds the learner's clock lock (``study.locked_clock``, taken before any of
    these rows, in the order a beat takes them): no beat adds seconds meanwhile, live study's
    pending beats are written first (``core.study.live``), and the writes commit together. The
    hooks to call once they are committed are added to ``notices`` (``deliver``)."""
    kind = OUTCOMES[outcome][0]
    detail = {k: v for k, v in (row.scores or {}).items()
              if k in ("distance", "faces", "overdue_seconds", "change", "duplicate_of")}
    sessions = scoped(ProctorSession, tenant)
    timeline = {"enrollment": ps.enrollment, "session": ps.session}
    if outcome == "ok":
        confirmed = (await sessions.get(ps.id)).provisional
        await sessions.run(CONFIRM, study.server_time(), ps.id)
        completed = await coverage.complete_if_covered(tenant, ps.enrollment, dt.datetime.now(dt.UTC))
        await events(tenant, ps.account, [(kind, row.id, {"confirmed_seconds": round(confirmed, 3), **detail})]
                     + ([("covered", None, {})] if completed else []), **timeline)
    else:
        paused = await sessions.run(PAUSE, True, kind, ps.id, False)
        session = await scoped(StudySession, tenant).first_by(StudySession.token, ps.session)
        ended = session is not None and session.ended_at is not None
        withdrawn = await coverage.withdraw(tenant, ps.account, ps.session,
                                            coverage.UNCOVERED if ended and outcome == "missing" else coverage.UNVERIFIED,
                                            session=session)
        await events(tenant, ps.account, [(kind, row.id, detail)] + (
            [("paused", row.id, {"reason": kind, "withdrawn_seconds": round(withdrawn, 3)})] if paused else []),
            **timeline)
        if outcome in REPLAYED:
            await flag(None, tenant, ps.account, ps.enrollment, "replayed_snapshot", verification=row.id,
                       notices=notices)
        if outcome == "mismatch":
            mismatches = (await scoped(StudyEvent, tenant).run(MISMATCHES, ps.enrollment))[0]["n"]
            if mismatches >= tenant.rules.face.snapshot_mismatches_to_flag:
                await flag(None, tenant, ps.account, ps.enrollment, "repeated_mismatch",
                           verification=row.id, mismatches=mismatches, notices=notices)
    notices.append(("proctor_snapshot_checked", ps.account, {"verification": row, "outcome": outcome}))


async def deliver(platform, tenant, notices: list[Notice]) -> None:
    """Call the hooks ``apply`` and ``flag`` noted, in order, loading the account (and the
    enrolment) they are given only for a hook that has implementations."""
    if platform is None:
        return
    for hook, account_id, arguments in notices:
        caller = getattr(platform.hooks(tenant), hook)
        if not caller.get_hookimpls():
            continue
        if "enrollment" in arguments:
            arguments = {**arguments, "enrollment": await scoped(Enrollment, tenant).get(arguments["enrollment"])}
        await notify(caller, tenant=tenant, account=await scoped(Account, tenant).get(account_id), **arguments)


async def flag(platform, tenant, account_id: int, enrollment_id: int, reason: str, *,
               verification: int | None = None, notices: list[Notice] | None = None, **detail: Any) -> bool:
    """Flag the enrolment for review (once): a ``flagged`` event and the ``proctor_flagged`` hook
    (called now with ``platform``, or added to ``notices`` for the caller to deliver once its
    transaction is committed). Returns whether it was newly flagged."""
    done = await scoped(Enrollment, tenant).run(FLAG, True, enrollment_id, account_id, False)
    if not done:
        return False
    await event(tenant, account_id, "flagged", enrollment=enrollment_id, verification=verification,
                reason=reason, **detail)
    log.info("enrolment %s flagged: %s (tenant %s)", enrollment_id, reason, tenant.slug)
    notice: Notice = ("proctor_flagged", account_id, {"enrollment": enrollment_id, "reason": reason})
    if notices is not None:
        notices.append(notice)
    else:
        await deliver(platform, tenant, [notice])
    return True


# --- captures nobody answered --------------------------------------------------------------------


async def overdue(platform, tenant, ps: ProctorSession, now: float) -> bool:
    """A capture ticket past its deadline is a missing snapshot (taken once: the ticket is cleared
    by a conditional update). Returns whether this call applied it."""
    taken = await scoped(ProctorSession, tenant).update({ProctorSession.ticket: ""}).where(
        (ProctorSession.id == ps.id) & (ProctorSession.ticket == ps.ticket) & (ProctorSession.ticket != "")
    ).returning(ProctorSession.id)
    if not taken:
        return False
    stamp = dt.datetime.now(dt.UTC)
    row = scoped(FaceVerification, tenant).new(
        account=ps.account, purpose="snapshot", nonce=ps.ticket, status="failed",
        reasons=[OUTCOMES["missing"][1]], scores={"overdue_seconds": round(now - ps.ticket_due, 1)},
        created_at=stamp, finished_at=stamp)
    await row.save()
    await checked(platform, tenant, ps, row, "missing")
    return True


async def settle(platform, tenant, account_id: int | None = None, now: float | None = None) -> int:
    """Apply what the server already knows to the learner's (or the tenant's) sessions: a capture
    past its deadline is a missing snapshot; a session that ended or was replaced with no capture
    pending has its provisional seconds withdrawn (``face_uncovered``). Returns the sessions changed."""
    now = study.server_time() if now is None else now
    changed = 0
    for ps in await coverage.open_sessions(tenant, account_id):
        if ps.ticket:
            changed += now > ps.ticket_due and await overdue(platform, tenant, ps, now)
            continue
        session = await scoped(StudySession, tenant).objects(StudySession.token == ps.session).first()
        clock = await scoped(StudyClock, tenant).objects(StudyClock.account == ps.account).first()
        ended = session is None or session.ended_at is not None or clock is None or clock.active_token != ps.session
        if ended and await uncovered(tenant, ps):
            changed += 1
    return changed


async def uncovered(tenant, ps: ProctorSession) -> float:
    """A session ended with seconds no snapshot covers: withdraw them, on the timeline."""
    seconds = await coverage.withdraw(tenant, ps.account, ps.session, coverage.UNCOVERED)
    if seconds > 0:
        await event(tenant, ps.account, "uncovered", enrollment=ps.enrollment, session=ps.session,
                    withdrawn_seconds=round(seconds, 3))
    return seconds


async def settle_captures(ctx: dict[str, Any]) -> int:
    """Job (every minute): settle the sessions (``settle``) of every tenant that offers proctoring."""
    platform = platform_of(ctx)
    return sum([await settle(platform, t) for t in tenants_of(ctx)])
