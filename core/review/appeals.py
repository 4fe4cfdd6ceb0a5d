"""Appeals against a clearing: the learner's statement and optional photo, a third reviewer's decision.

Within ``review.appeal_days`` of a clearing taking effect the learner appeals once (one appeal per
clearing: a unique key) with a statement and an optional photo (``clean_image``, off the event
loop); a reviewer other than the two who cleared upholds it (the reversed seconds are restored, up
to the course's hours, and the hours approved) or rejects it. While the appeal is open the
learner's face evidence is on legal hold (``core.review.services.held_accounts``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from core.accounts.tables import Account
from core.audit.services import record
from core.courses.tables import Course, Enrollment, Lesson
from core.db import write_transaction
from core.db.scoped import scoped
from core.files.images import clean_image_async
from core.hookcalls import Hooks, notify
from core.notify.services import send
from core.review import eligibility
from core.review.services import (
    MAX_STATEMENT, RESTORED_REASON, ReviewError, _decided, _Gone, _now, _Retry, appeal_deadline, last_clearing,
)
from core.review.tables import Appeal, ReviewDecision
from core.study import services as study
from core.study.tables import HoursEntry, LessonProgress, StudyClock
from core.tenancy import Tenant


async def submit_appeal(platform: Any, hooks: Hooks, tenant: Tenant, learner: Account, enrollment_id: int,
                        statement: str, photo: bytes | None, now: dt.datetime | None = None) -> Appeal:
    """Raises ReviewError (field ``statement``) or ImageRejected (field ``photo``)."""
    enrollment = await scoped(Enrollment, tenant).get(enrollment_id, Enrollment.account == learner.id)
    if enrollment is None or enrollment.status != "cleared":
        raise ReviewError("该课程的学时未被清除，无需申诉")
    clearing = await last_clearing(tenant, enrollment.id)
    until = appeal_deadline(tenant, clearing) if clearing else None
    if until is None or (now or _now()) > until:
        raise ReviewError("已超过申诉期限")
    statement = statement.strip()
    if not statement:
        raise ReviewError("请填写申诉说明")
    if len(statement) > MAX_STATEMENT:
        raise ReviewError(f"申诉说明不能超过 {MAX_STATEMENT} 字")
    if await scoped(Appeal, tenant).exists(Appeal.clearing == clearing.id):
        raise ReviewError("您已提交过申诉")
    photo_id, row = None, None
    if photo:
        cleaned = await clean_image_async(photo)
        row = await platform.storage.save(cleaned.data, tenant_id=tenant.id, kind="appeal",
                                          media_type=cleaned.media_type, owner_id=learner.id)
        photo_id = row.id
    appeal = scoped(Appeal, tenant).new(enrollment=enrollment.id, learner=learner.id, clearing=clearing.id,
                                        statement=statement, photo=photo_id, created_at=_now())
    try:
        await appeal.save()
    except Exception:  # a simultaneous second submission: the unique key keeps the first one
        if row is not None:  # its photo has no row to belong to
            await platform.storage.delete(row)
        if await scoped(Appeal, tenant).exists(Appeal.clearing == clearing.id):
            raise ReviewError("您已提交过申诉") from None
        raise
    await record("review.appeal", tenant_id=tenant.id, actor_id=learner.id, object_type="enrollment",
                 object_id=enrollment.id, appeal=appeal.id, photo=bool(photo_id))
    await notify(hooks.review_appealed, tenant=tenant, enrollment=enrollment, appeal=appeal)
    return appeal


async def decide_appeal(hooks: Hooks, tenant: Tenant, reviewer: Account, appeal_id: int, enrollment_id: int,
                        upheld: bool, answer: str = "") -> ReviewDecision:
    appeal = await scoped(Appeal, tenant).get(appeal_id, Appeal.enrollment == enrollment_id)
    if appeal is None:
        raise ReviewError("申诉不存在")
    clearing = await scoped(ReviewDecision, tenant).get(appeal.clearing)
    if not eligibility.may_decide_appeal(clearing, reviewer):
        raise ReviewError("申诉须由未参与清除的审核员处理")
    if appeal.status != "open":
        raise ReviewError("该申诉已处理")
    if not answer.strip():
        raise ReviewError("请填写处理意见")
    await study.clock_of(tenant, appeal.learner)
    stamp = _now()
    kind = "appeal_upheld" if upheld else "appeal_rejected"
    for _ in range(study.CAS_RETRIES):
        try:
            async with write_transaction(StudyClock):
                clock = await study.locked_clock(tenant, appeal.learner)
                taken = await scoped(Appeal, tenant).update({
                    Appeal.status: "upheld" if upheld else "rejected", Appeal.decided_by: reviewer.id,
                    Appeal.decided_at: stamp, Appeal.answer: answer.strip()[:1000],
                }).where((Appeal.id == appeal.id) & (Appeal.status == "open")).returning(Appeal.id)
                if not taken:
                    raise _Gone()
                restored = 0.0
                if upheld:
                    restored = await _restore(tenant, appeal, clearing, stamp)
                decision = scoped(ReviewDecision, tenant).new(
                    enrollment=appeal.enrollment, learner=appeal.learner, reviewer=reviewer.id, kind=kind,
                    note=answer.strip()[:500], reversed_seconds=-restored, created_at=stamp)
                await decision.save()
                if not await study._swap_clock(clock, {}):
                    raise _Retry()
            break
        except _Retry:
            continue
        except _Gone:
            raise ReviewError("该申诉已处理") from None
    else:
        raise ReviewError("系统繁忙，请稍后再试")
    enrollment = await scoped(Enrollment, tenant).get(appeal.enrollment)
    learner = await scoped(Account, tenant).get(appeal.learner)
    if upheld:
        await send(hooks, tenant, learner, "hours_approved")
    else:
        await send(hooks, tenant, learner, "review_appeal_rejected", channels=("inbox",))
    await _decided(hooks, tenant, enrollment, decision, reviewer.id)
    return decision


async def _restore(tenant: Tenant, appeal: Appeal, clearing: ReviewDecision, stamp: dt.datetime) -> float:
    """An upheld appeal: the cleared seconds come back (up to the course's hours), approved, each
    to the lesson it was cleared from, whose progress comes back with it."""
    enrollment = await scoped(Enrollment, tenant).get(appeal.enrollment)
    course = await scoped(Course, tenant).get(enrollment.course)
    needed = study.required_seconds(tenant, course)
    budget = max(0.0, min(clearing.reversed_seconds, needed - enrollment.credited_seconds))
    cleared: dict[int | None, float] = {}
    for row in await scoped(HoursEntry, tenant).select(HoursEntry.lesson, HoursEntry.seconds).where(
            (HoursEntry.enrollment == enrollment.id) & (HoursEntry.session == f"review:{clearing.id}")):
        cleared[row["lesson"]] = cleared.get(row["lesson"], 0.0) - row["seconds"]
    restored = 0.0
    for lesson_id, seconds in sorted(cleared.items(), key=lambda kv: kv[0] or 0):
        part = min(max(0.0, seconds), budget - restored)
        if part <= 0:
            continue
        restored += part
        await scoped(HoursEntry, tenant).new(
            account=enrollment.account, enrollment=enrollment.id, lesson=lesson_id, session=f"appeal:{appeal.id}",
            claimed=0.0, seconds=part, reason=RESTORED_REASON, created_at=stamp).save()
        if lesson_id is not None:
            await _restore_progress(tenant, enrollment.account, lesson_id, part, stamp)
    await scoped(Enrollment, tenant).update({
        Enrollment.credited_seconds: enrollment.credited_seconds + restored, Enrollment.status: "approved",
        Enrollment.completed_at: enrollment.completed_at or stamp,
    }).where(Enrollment.id == enrollment.id)
    return restored


async def _restore_progress(tenant: Tenant, account_id: int, lesson_id: int, seconds: float,
                            stamp: dt.datetime) -> None:
    """The lesson's credit back; what was credited was watched, so it counts as reached."""
    lesson = await scoped(Lesson, tenant).get(lesson_id)
    progress = await study.ensure_progress(tenant, account_id, lesson_id)
    duration = float(lesson.duration_seconds) if lesson else 0.0
    credited = progress.credited_seconds + seconds
    furthest = max(progress.furthest, min(credited, duration) if duration else credited)
    await scoped(LessonProgress, tenant).update({
        LessonProgress.credited_seconds: credited, LessonProgress.furthest: furthest,
        LessonProgress.completed: progress.completed or bool(
            duration and furthest >= duration - tenant.rules.study.tolerance_seconds),
        LessonProgress.updated_at: stamp,
    }).where(LessonProgress.id == progress.id)
