"""The demo's review queue: demo learners whose demo course is credited in full, 待审核."""

from __future__ import annotations

from core.courses.tables import Course, Enrollment, Lesson
from core.db.scoped import scoped
from core.review.services import _now
from core.study import services as study
from core.study.tables import HoursEntry, StudyEvent
from core.tenancy import Tenant

DEMO_SESSION = "demo"  # the ledger's session id of the demo's own credit


async def seed_demo_review(tenant: Tenant, account_ids: list[int]) -> list[str]:
    """Put these demo learners' studying enrolments in the queue (待审核) and say what is there.
    Idempotent."""
    await credit_demo_enrolments(tenant, account_ids)
    lines = []
    for account_id in account_ids:
        # Said on every run (the demo prints what it has).
        for e in await scoped(Enrollment, tenant).objects((Enrollment.account == account_id)
                                                           & (Enrollment.status == "review")).order_by(Enrollment.id):
            course = await scoped(Course, tenant).get(e.course)
            lines.append(f"学时待审核（审核员可见）：{course.title}（{study.hours(tenant, e.credited_seconds)} 学时）")
    return lines


async def credit_demo_enrolments(tenant: Tenant, account_ids: list[int]) -> None:
    """These demo learners' studying enrolments credited in full: each video lesson in the ledger
    (as the player would have), one gate check event; then 待审核."""
    for account_id in account_ids:
        for e in await scoped(Enrollment, tenant).objects((Enrollment.account == account_id)
                                                           & (Enrollment.status == "studying")):
            already = await scoped(HoursEntry, tenant).exists().where(
                (HoursEntry.enrollment == e.id) & (HoursEntry.session == DEMO_SESSION))
            if already:  # credited by an earlier demo run: a second run adds nothing
                continue
            course = await scoped(Course, tenant).get(e.course)
            lessons = await scoped(Lesson, tenant).objects((Lesson.course == e.course) & (Lesson.kind == "video"))
            needed = study.required_seconds(tenant, course)
            stamp = _now()
            total = 0.0
            for lesson in lessons:
                seconds = min(float(lesson.duration_seconds), max(0.0, needed - e.credited_seconds - total))
                if seconds <= 0:
                    continue
                total += seconds
                await scoped(HoursEntry, tenant).new(
                    account=account_id, enrollment=e.id, lesson=lesson.id, session=DEMO_SESSION, claimed=seconds,
                    seconds=seconds, position_to=seconds, created_at=stamp).save()
            await scoped(StudyEvent, tenant).new(account=account_id, enrollment=e.id, kind="gate_passed",
                                                 detail={"demo": True}, created_at=stamp).save()
            complete = e.credited_seconds + total >= needed - 1e-6
            await scoped(Enrollment, tenant).update({
                Enrollment.credited_seconds: e.credited_seconds + total,
                Enrollment.status: "review" if complete else "studying",
                Enrollment.completed_at: stamp if complete else None}).where(Enrollment.id == e.id)
