"""Review of study hours: the queue, decisions and appeals.

Decisions (every one audited with the reviewer's identity, announced by ``review_decided``):

- **approve**: 待审核 → 审核通过 (a conditional update: one approval wins), the guide's approval SMS;
- **clear**: two people. The first reviewer proposes it with a reason code (``pending``) and may
  withdraw it (``core.review.withdrawal``); a second, different reviewer confirms it
  (``core.review.eligibility`` says who may do what). Confirming is one transaction under the learner's study
  clock lock (the lock and compare-and-swap of ``core.study.services``): the decision moves
  pending → done by a conditional update (simultaneous confirmations: one wins), every lesson's
  credited seconds are reversed by appending negative ``HoursEntry`` rows (``review_cleared``;
  nothing is updated or deleted in the ledger), ``Enrollment.credited_seconds`` drops by the same
  amount, the lessons' progress starts again and the status becomes 已清除 (the learner studies
  again). Then the guide's clearing SMS with the learner's name, position and year.
  Exam results are not touched (core.exams keeps its attempts).
- **reverify**: the learner is asked (inbox + SMS) to pass the face check again; the case page
  shows whether a check passed since.

Appeals are in ``core.review.appeals``; while one is open the learner's face evidence is on legal
hold (``held_accounts`` here: the retention purge skips it). The demo's queue: ``core.review.demo``.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from core import tenant_time
from core.accounts.tables import Account
from core.audit.services import record
from core.courses.tables import Course, Enrollment, Position
from core.db import write_transaction
from core.db.scoped import scoped
from core.hookcalls import Hooks, notify
from core.identity import mask_id_number
from core.notify.services import send
from core.proctoring.tables import FaceVerification
from core.review import eligibility, workdays
from core.review.tables import Appeal, ReviewDecision
from core.study import services as study
from core.study.tables import HoursEntry, LessonProgress, StudyClock, StudyEvent
from core.tenancy import Tenant

REASONS = {"substitute": "替学", "idle": "挂机", "no_snapshot": "无本人抓拍", "other": "其他"}
KINDS = {"approve": "审核通过", "clear": "清除学时", "reverify": "要求重新核验",
         "appeal_upheld": "申诉成立", "appeal_rejected": "申诉驳回"}
APPEAL_STATUS = {"open": "申诉处理中", "upheld": "申诉成立", "rejected": "申诉驳回"}
MAX_STATEMENT = 1000
CLEARED_REASON = "review_cleared"  # ledger rows that reverse credited time
RESTORED_REASON = "appeal_restored"  # ledger rows that give it back after an upheld appeal


class ReviewError(Exception):
    """A decision that cannot be taken; the message is Chinese, for the reviewer or learner."""


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


# --- reading --------------------------------------------------------------------------------------


@dataclass
class QueueItem:
    enrollment: Enrollment
    learner: Account
    course: Course
    position: str
    deadline: workdays.Deadline | None
    pending_clear: ReviewDecision | None
    reverify: bool

    @property
    def masked_id(self) -> str:
        return mask_id_number(self.learner.id_number)


async def queue(tenant: Tenant, today: dt.date | None = None) -> list[QueueItem]:
    """Enrolments 待审核: flagged first, then the oldest (nearest deadline) first."""
    rows = await scoped(Enrollment, tenant).objects(Enrollment.status == "review").order_by(Enrollment.id)
    if not rows:
        return []
    learners = {a.id: a for a in await scoped(Account, tenant).objects(Account.id.is_in([e.account for e in rows]))}
    courses = {c.id: c for c in await scoped(Course, tenant).objects(Course.id.is_in([e.course for e in rows]))}
    names = {p.id: p.name for p in await scoped(Position, tenant).objects()}
    decisions = await scoped(ReviewDecision, tenant).objects(
        ReviewDecision.enrollment.is_in([e.id for e in rows])).order_by(ReviewDecision.id)
    pending = {d.enrollment: d for d in decisions if d.kind == "clear" and d.status == "pending"}
    latest: dict[int, ReviewDecision] = {d.enrollment: d for d in decisions}
    out = []
    for e in rows:
        course = courses.get(e.course)
        learner = learners.get(e.account)
        if course is None or learner is None:
            continue
        since = e.completed_at or e.created_at
        out.append(QueueItem(
            e, learner, course, names.get(course.position, ""),
            workdays.deadline(since, tenant.rules.study.review_workdays, tenant_time.zone(tenant), today)
            if since else None,
            pending.get(e.id), bool(latest.get(e.id) and latest[e.id].kind == "reverify"),
        ))
    out.sort(key=lambda i: (not i.enrollment.flagged, i.enrollment.completed_at or i.enrollment.created_at, i.enrollment.id))
    return out


async def open_appeals(tenant: Tenant) -> list[dict[str, Any]]:
    rows = await scoped(Appeal, tenant).objects(Appeal.status == "open").order_by(Appeal.id)
    learners = {a.id: a for a in await scoped(Account, tenant).objects(Account.id.is_in([r.learner for r in rows] or [0]))}
    return [{"appeal": r, "learner": learners.get(r.learner)} for r in rows]


async def ledger(tenant: Tenant, enrollment: Enrollment) -> list[HoursEntry]:
    return await scoped(HoursEntry, tenant).objects(HoursEntry.enrollment == enrollment.id).order_by(HoursEntry.id)


async def ledger_balance(tenant: Tenant, enrollment_id: int) -> float:
    rows = await scoped(HoursEntry, tenant).select(HoursEntry.seconds).where(HoursEntry.enrollment == enrollment_id)
    return sum(r["seconds"] for r in rows)


async def evidence_of(tenant: Tenant, learner_id: int) -> tuple[list[FaceVerification], list[FaceVerification]]:
    """The learner's gate checks (purpose ``study``) and snapshots (``snapshot``), oldest first."""
    rows = await scoped(FaceVerification, tenant).objects(
        (FaceVerification.account == learner_id) & FaceVerification.purpose.is_in(["study", "snapshot"])
    ).order_by(FaceVerification.id)
    for r in rows:
        r.evidence, r.scores, r.reasons = _json(r.evidence) or [], _json(r.scores) or {}, _json(r.reasons) or []
    return [r for r in rows if r.purpose == "study"], [r for r in rows if r.purpose == "snapshot"]


async def evidence_file_allowed(tenant: Tenant, learner_id: int, file_id: int) -> bool:
    """Whether ``file_id`` is an evidence frame of one of this learner's face checks."""
    gates, snaps = await evidence_of(tenant, learner_id)
    return any(file_id in [int(i) for i in r.evidence] for r in [*gates, *snaps])


async def timeline(tenant: Tenant, enrollment: Enrollment) -> list[StudyEvent]:
    rows = await scoped(StudyEvent, tenant).objects(
        (StudyEvent.account == enrollment.account)
        & (StudyEvent.enrollment.is_null() | (StudyEvent.enrollment == enrollment.id))
    ).order_by(StudyEvent.created_at).order_by(StudyEvent.id)
    for r in rows:
        r.detail = _json(r.detail) or {}
    return rows


async def decisions_of(tenant: Tenant, enrollment_id: int) -> list[ReviewDecision]:
    return await scoped(ReviewDecision, tenant).objects(ReviewDecision.enrollment == enrollment_id).order_by(
        ReviewDecision.id)


async def reverified_since(tenant: Tenant, learner_id: int, since: dt.datetime) -> bool:
    return await scoped(FaceVerification, tenant).exists(
        (FaceVerification.account == learner_id) & (FaceVerification.purpose == "study")
        & (FaceVerification.status == "passed") & (FaceVerification.created_at > since))


def appeal_deadline(tenant: Tenant, clearing: ReviewDecision) -> dt.datetime | None:
    if clearing.confirmed_at is None:
        return None
    return clearing.confirmed_at + dt.timedelta(days=tenant.rules.review.appeal_days)


async def last_clearing(tenant: Tenant, enrollment_id: int) -> ReviewDecision | None:
    return await scoped(ReviewDecision, tenant).objects(
        (ReviewDecision.enrollment == enrollment_id) & (ReviewDecision.kind == "clear")
        & (ReviewDecision.status == "done")).order_by(ReviewDecision.id, ascending=False).first()


async def learner_notice(tenant: Tenant, enrollment: Enrollment, now: dt.datetime | None = None) -> dict[str, Any]:
    """What the learner's course page says about review: why the hours were cleared, whether an
    appeal is possible or open, and a re-verification request."""
    out: dict[str, Any] = {}
    if enrollment.status == "cleared":
        clearing = await last_clearing(tenant, enrollment.id)
        if clearing is not None:
            out["cleared_reason"] = REASONS.get(clearing.reason, "其他")
            out["cleared_note"] = clearing.note
            appeal = await scoped(Appeal, tenant).objects(Appeal.clearing == clearing.id).first()
            out["appeal"] = appeal
            until = appeal_deadline(tenant, clearing)
            out["appeal_until"] = until
            out["can_appeal"] = appeal is None and until is not None and (now or _now()) <= until
    if enrollment.status == "review":
        latest = await scoped(ReviewDecision, tenant).objects(ReviewDecision.enrollment == enrollment.id).order_by(
            ReviewDecision.id, ascending=False).first()
        if latest is not None and latest.kind == "reverify":
            out["reverify"] = not await reverified_since(tenant, enrollment.account, latest.created_at)
    return out


async def held_accounts(tenant: Tenant) -> set[int]:
    """Learners with an open appeal: their face evidence is on legal hold (``core.retention``)."""
    rows = await scoped(Appeal, tenant).select(Appeal.learner).where(Appeal.status == "open")
    return {r["learner"] for r in rows}


# --- deciding -------------------------------------------------------------------------------------


async def _decided(hooks: Hooks, tenant: Tenant, enrollment: Enrollment, decision: ReviewDecision,
                   actor_id: int) -> None:
    await record(f"review.{decision.kind}", tenant_id=tenant.id, actor_id=actor_id, object_type="enrollment",
                 object_id=enrollment.id, decision=decision.id, status=decision.status, reason=decision.reason,
                 proposed_by=decision.reviewer, confirmed_by=decision.confirmed_by,
                 reversed_seconds=decision.reversed_seconds)
    await notify(hooks.review_decided, tenant=tenant, enrollment=enrollment, decision=decision)


async def settle_pending(hooks: Hooks, tenant: Tenant, decision: ReviewDecision, values: dict, actor_id: int,
                         where=None) -> ReviewDecision:
    """Move a pending clearing to ``values`` by one conditional update (one of two racing decisions wins)."""
    condition = (ReviewDecision.id == decision.id) & (ReviewDecision.status == "pending")
    done = await scoped(ReviewDecision, tenant).update(values).where(
        condition if where is None else condition & where).returning(ReviewDecision.id)
    if not done:
        raise ReviewError("该清除决定已处理")
    decision = await scoped(ReviewDecision, tenant).get(decision.id)
    enrollment = await scoped(Enrollment, tenant).get(decision.enrollment)
    await _decided(hooks, tenant, enrollment, decision, actor_id)
    return decision


async def _course_and_position(tenant: Tenant, enrollment: Enrollment) -> tuple[Course, str]:
    course = await scoped(Course, tenant).get(enrollment.course)
    position = await scoped(Position, tenant).get(course.position) if course else None
    return course, position.name if position else ""


async def approve(hooks: Hooks, tenant: Tenant, reviewer: Account, enrollment_id: int, note: str = "") -> ReviewDecision:
    enrollments = scoped(Enrollment, tenant)
    enrollment = await enrollments.get(enrollment_id)
    if enrollment is None or enrollment.status != "review":
        raise ReviewError("该学员的学时不在待审核状态")
    if await pending_clear(tenant, enrollment.id):
        raise ReviewError("已有待复核的清除决定，请先由另一位审核员复核")
    won = await enrollments.update({Enrollment.status: "approved"}).where(
        (Enrollment.id == enrollment.id) & (Enrollment.status == "review")).returning(Enrollment.id)
    if not won:
        raise ReviewError("该学员的学时不在待审核状态")
    decision = scoped(ReviewDecision, tenant).new(
        enrollment=enrollment.id, learner=enrollment.account, reviewer=reviewer.id, kind="approve",
        note=note[:500], created_at=_now())
    await decision.save()
    enrollment.status = "approved"
    await study.hold(tenant, enrollment.account)  # live study's state still says 待审核
    learner = await scoped(Account, tenant).get(enrollment.account)
    await send(hooks, tenant, learner, "hours_approved")
    await _decided(hooks, tenant, enrollment, decision, reviewer.id)
    return decision


async def pending_clear(tenant: Tenant, enrollment_id: int) -> ReviewDecision | None:
    return await scoped(ReviewDecision, tenant).objects(
        (ReviewDecision.enrollment == enrollment_id) & (ReviewDecision.kind == "clear")
        & (ReviewDecision.status == "pending")).first()


async def propose_clear(hooks: Hooks, tenant: Tenant, reviewer: Account, enrollment_id: int, reason: str,
                        note: str = "") -> ReviewDecision:
    """The first reviewer's half of a clearing: nothing changes until a second reviewer confirms."""
    if reason not in REASONS:
        raise ReviewError("请选择清除原因")
    if reason == "other" and not note.strip():
        raise ReviewError("选择“其他”时请填写说明")
    enrollment = await scoped(Enrollment, tenant).get(enrollment_id)
    if enrollment is None or enrollment.status != "review":
        raise ReviewError("该学员的学时不在待审核状态")
    if await pending_clear(tenant, enrollment.id):
        raise ReviewError("已有待复核的清除决定")
    decision = scoped(ReviewDecision, tenant).new(
        enrollment=enrollment.id, learner=enrollment.account, reviewer=reviewer.id, kind="clear", reason=reason,
        note=note.strip()[:500], status="pending", created_at=_now())
    await decision.save()
    await _decided(hooks, tenant, enrollment, decision, reviewer.id)
    return decision


class _Retry(Exception):
    pass


class _Gone(Exception):
    pass


async def _clearing_for_second_reviewer(tenant: Tenant, reviewer: Account, decision_id: int,
                                        enrollment_id: int) -> ReviewDecision:
    """The enrolment's clearing decision, which ``reviewer`` (not its proposer) may confirm or decline."""
    decision = await scoped(ReviewDecision, tenant).get(decision_id, ReviewDecision.enrollment == enrollment_id)
    if decision is None or decision.kind != "clear":
        raise ReviewError("清除决定不存在")
    if decision.status == "pending" and not eligibility.may_confirm(decision, reviewer):
        raise ReviewError("清除须由另一位审核员复核，不能复核自己提出的清除")
    return decision


async def confirm_clear(hooks: Hooks, tenant: Tenant, reviewer: Account, decision_id: int,
                        enrollment_id: int) -> ReviewDecision:
    """The second reviewer confirms: the clearing takes effect, once."""
    decision = await _clearing_for_second_reviewer(tenant, reviewer, decision_id, enrollment_id)
    if decision.status != "pending":
        raise ReviewError("该清除决定已处理")
    await study.clock_of(tenant, decision.learner)
    for _ in range(study.CAS_RETRIES):
        try:
            await _apply_clear(tenant, reviewer, decision)
            break
        except _Retry:
            continue
        except _Gone as gone:
            raise ReviewError(str(gone) or "该清除决定已处理") from None
    else:
        raise ReviewError("系统繁忙，请稍后再试")
    decision = await scoped(ReviewDecision, tenant).get(decision.id)
    enrollment = await scoped(Enrollment, tenant).get(decision.enrollment)
    learner = await scoped(Account, tenant).get(decision.learner)
    course, position = await _course_and_position(tenant, enrollment)
    await send(hooks, tenant, learner, "hours_cleared", position=position, year=course.year if course else "")
    await _decided(hooks, tenant, enrollment, decision, reviewer.id)
    return decision


async def _apply_clear(tenant: Tenant, reviewer: Account, decision: ReviewDecision) -> float:
    """One transaction under the learner's clock lock; raises _Gone when another confirmation (or
    a changed status) got there first, _Retry when the clock's compare-and-swap lost."""
    stamp = _now()
    async with write_transaction(StudyClock):
        clock = await study.locked_clock(tenant, decision.learner)
        taken = await scoped(ReviewDecision, tenant).update({
            ReviewDecision.status: "done", ReviewDecision.confirmed_by: reviewer.id, ReviewDecision.confirmed_at: stamp,
        }).where((ReviewDecision.id == decision.id) & (ReviewDecision.status == "pending")
                 & (ReviewDecision.reviewer != reviewer.id)).returning(ReviewDecision.id)
        if not taken:
            raise _Gone()
        enrollment = await scoped(Enrollment, tenant).get(decision.enrollment)
        if enrollment.status != "review":
            raise _Gone("该学员的学时不在待审核状态")  # rolled back: the decision stays pending
        entries = await scoped(HoursEntry, tenant).select(HoursEntry.lesson, HoursEntry.seconds).where(
            HoursEntry.enrollment == enrollment.id)
        per_lesson: dict[int | None, float] = {}
        for e in entries:
            per_lesson[e["lesson"]] = per_lesson.get(e["lesson"], 0.0) + e["seconds"]
        total = 0.0
        for lesson_id, seconds in sorted(per_lesson.items(), key=lambda kv: kv[0] or 0):
            if seconds <= 0:
                continue
            total += seconds
            await scoped(HoursEntry, tenant).new(
                account=enrollment.account, enrollment=enrollment.id, lesson=lesson_id, session=f"review:{decision.id}",
                claimed=0.0, seconds=-seconds, reason=CLEARED_REASON, created_at=stamp).save()
        lesson_ids = [k for k in per_lesson if k is not None]
        if lesson_ids:
            await scoped(LessonProgress, tenant).update({
                LessonProgress.position: 0.0, LessonProgress.furthest: 0.0, LessonProgress.credited_seconds: 0.0,
                LessonProgress.completed: False, LessonProgress.updated_at: stamp,
            }).where((LessonProgress.account == enrollment.account) & LessonProgress.lesson.is_in(lesson_ids))
        moved = await scoped(Enrollment, tenant).update({
            Enrollment.credited_seconds: enrollment.credited_seconds - total, Enrollment.status: "cleared",
            Enrollment.completed_at: None, Enrollment.flagged: False,
        }).where((Enrollment.id == enrollment.id) & (Enrollment.status == "review")).returning(Enrollment.id)
        if not moved:
            raise _Gone()
        await scoped(ReviewDecision, tenant).update({ReviewDecision.reversed_seconds: total}).where(
            ReviewDecision.id == decision.id)
        if not await study._swap_clock(clock, {StudyClock.active_token: ""}):  # ends any open session's credit
            raise _Retry()
    return total


async def decline_clear(hooks: Hooks, tenant: Tenant, reviewer: Account, decision_id: int,
                        enrollment_id: int) -> ReviewDecision:
    """The second reviewer does not confirm: the clearing is cancelled, the case stays 待审核."""
    decision = await _clearing_for_second_reviewer(tenant, reviewer, decision_id, enrollment_id)
    return await settle_pending(hooks, tenant, decision, {
        ReviewDecision.status: "cancelled", ReviewDecision.confirmed_by: reviewer.id,
        ReviewDecision.confirmed_at: _now()}, reviewer.id)


async def request_reverify(hooks: Hooks, tenant: Tenant, reviewer: Account, enrollment_id: int,
                           note: str = "") -> ReviewDecision:
    enrollment = await scoped(Enrollment, tenant).get(enrollment_id)
    if enrollment is None or enrollment.status != "review":
        raise ReviewError("该学员的学时不在待审核状态")
    decision = scoped(ReviewDecision, tenant).new(
        enrollment=enrollment.id, learner=enrollment.account, reviewer=reviewer.id, kind="reverify",
        note=note.strip()[:500], created_at=_now())
    await decision.save()
    learner = await scoped(Account, tenant).get(enrollment.account)
    await send(hooks, tenant, learner, "review_reverify")
    await _decided(hooks, tenant, enrollment, decision, reviewer.id)
    return decision
