"""Editing a course after creation: its title and required hours, the order of its lessons, the
deletion of a lesson nobody has studied, and the warning when the lessons' content is shorter than
the hours the course requires (learners could never complete it).

A lesson with credited hours is never deleted: its ledger rows are the learners' hours (the
ledger is append-only, ``core.study``), so the refusal says how many learners and hours it holds.
A lesson without credit but with study records (sessions, progress, reversed entries) is refused
too. The required hours do not change once a learner has completed the course (待审核, 审核通过 or
a certificate would then disagree with the course)."""

from __future__ import annotations

from dataclasses import dataclass

from core.courses.tables import Course, Enrollment, Lesson
from core.db.scoped import scoped
from core.study.services import hours, required_seconds
from core.study.tables import HoursEntry, LessonProgress, StudySession
from core.tenancy import Tenant

DONE_STATUSES = ["review", "approved"]  # a learner has completed the course


class EditRefused(Exception):
    """An edit that cannot be made; the message is Chinese, shown at the field."""


class FieldErrors(Exception):
    """Refused edits of a form, field name → Chinese message."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(errors)
        self.errors = errors


def parse_required_hours(value: str) -> float:
    try:
        required = float(value)
    except ValueError:
        raise EditRefused("请输入要求学时（大于 0）") from None
    if not 0 < required <= 1000:
        raise EditRefused("请输入要求学时（大于 0）")
    return required


async def update_course(tenant: Tenant, course: Course, title: str, required_hours: str) -> dict[str, tuple]:
    """Change the title and required hours; returns the changed fields as (before, after)."""
    errors: dict[str, str] = {}
    if not title or len(title) > 200:
        errors["title"] = "请输入课程名称（不超过 200 个字）"
    try:
        required = parse_required_hours(required_hours)
    except EditRefused as exc:
        errors["required_hours"] = str(exc)
        required = float(course.required_hours)
    if abs(required - float(course.required_hours)) > 1e-9 and await scoped(Enrollment, tenant).exists(
            (Enrollment.course == course.id) & Enrollment.status.is_in(DONE_STATUSES)):
        errors["required_hours"] = "已有学员学完本课程（待审核或审核通过），不能修改要求学时"
    if errors:
        raise FieldErrors(errors)
    changed = {k: v for k, v in {"title": (course.title, title),
                                 "required_hours": (float(course.required_hours), required)}.items() if v[0] != v[1]}
    if changed:
        await scoped(Course, tenant).update({Course.title: title, Course.required_hours: required}).where(
            Course.id == course.id)
    return changed


async def move_lesson(tenant: Tenant, course: Course, lesson_id: int, up: bool) -> bool:
    """Swap the lesson with its neighbour; the orderings become 0…n-1. False when it is already at that end."""
    lessons = await scoped(Lesson, tenant).objects(Lesson.course == course.id).order_by(Lesson.ordering).order_by(
        Lesson.id)
    index = next((i for i, x in enumerate(lessons) if x.id == lesson_id), None)
    if index is None:
        raise EditRefused("课件不存在")
    other = index - 1 if up else index + 1
    if not 0 <= other < len(lessons):
        return False
    lessons[index], lessons[other] = lessons[other], lessons[index]
    for position, lesson in enumerate(lessons):
        if lesson.ordering != position:
            await scoped(Lesson, tenant).update({Lesson.ordering: position}).where(Lesson.id == lesson.id)
    return True


async def delete_lesson(tenant: Tenant, course: Course, lesson_id: int) -> Lesson:
    lesson = await scoped(Lesson, tenant).get(lesson_id, Lesson.course == course.id)
    if lesson is None:
        raise EditRefused("课件不存在")
    entries = await scoped(HoursEntry, tenant).select(HoursEntry.account, HoursEntry.seconds).where(
        HoursEntry.lesson == lesson.id)
    per_learner: dict[int, float] = {}
    for e in entries:
        per_learner[e["account"]] = per_learner.get(e["account"], 0.0) + e["seconds"]
    credited = {k: v for k, v in per_learner.items() if v > 1e-6}
    if credited:
        raise EditRefused(f"该课件已有 {len(credited)} 名学员获得学时（共 {hours(tenant, sum(credited.values())):g} 学时），"
                          "删除会抹去这些学时，不能删除。可以调整课件顺序，或上传新课件供学员学习。")
    if entries or await scoped(StudySession, tenant).exists(StudySession.lesson == lesson.id) or await scoped(
            LessonProgress, tenant).exists(LessonProgress.lesson == lesson.id):
        raise EditRefused("该课件已有学员的学习记录，不能删除")
    await scoped(Lesson, tenant).delete().where(Lesson.id == lesson.id)
    return lesson


@dataclass(frozen=True)
class ContentCheck:
    content_seconds: float  # the ready video lessons' total duration (what study can credit)
    required_seconds: float

    @property
    def short(self) -> bool:
        return self.content_seconds + 1e-6 < self.required_seconds


def content_check(tenant: Tenant, course: Course, lessons: list[Lesson]) -> ContentCheck:
    return ContentCheck(sum(float(x.duration_seconds) for x in lessons if x.kind == "video" and x.video_status == "ready"),
                        required_seconds(tenant, course))


async def short_courses(tenant: Tenant, courses: list[Course]) -> set[int]:
    """The ids of ``courses`` whose lesson videos are shorter than their required hours."""
    lessons: dict[int, list[Lesson]] = {}
    for lesson in await scoped(Lesson, tenant).objects(Lesson.course.is_in([c.id for c in courses] or [0])):
        lessons.setdefault(lesson.course, []).append(lesson)
    return {c.id for c in courses if content_check(tenant, c, lessons.get(c.id, [])).short}
