"""课程管理's edits of an existing course (``core.courses.editing``): title and required hours,
lesson order, lesson deletion, another try at a video whose transcoding failed. Each change is audited; a refusal is shown on the course page."""

from __future__ import annotations

from litestar import Request, Response, post

from core.accounts.tables import Account
from core.audit.services import record
from core.courses import editing, video_jobs
from core.courses.controllers import STAFF, render_course_page
from core.courses.tables import Course, Lesson
from core.db.scoped import scoped
from core.kernel import Platform
from core.tenancy import Tenant
from core.web import form_fields, redirect


@post("/admin/courses/{course_id:int}/edit", guards=STAFF)
async def course_edit(request: Request, tenant: Tenant, account: Account, course_id: int) -> Response:
    course = await scoped(Course, tenant).get_or_404(course_id)
    form = await form_fields(request)
    try:
        changed = await editing.update_course(tenant, course, form.get("edit_title", ""),
                                               form.get("edit_required_hours", ""))
    except editing.FieldErrors as exc:
        return await render_course_page(request, tenant, course_id, 400, {f"edit_{k}": v for k, v in exc.errors.items()})
    if changed:
        await record("course.updated", tenant_id=tenant.id, actor_id=account.id, object_type="course",
                     object_id=course.id, **{k: list(v) for k, v in changed.items()})
    return redirect(request, f"/admin/courses/{course.id}?notice=课程信息已保存")


@post("/admin/courses/{course_id:int}/lessons/{lesson_id:int}/move", guards=STAFF)
async def lesson_move(request: Request, tenant: Tenant, account: Account, course_id: int, lesson_id: int) -> Response:
    course = await scoped(Course, tenant).get_or_404(course_id)
    up = (await form_fields(request)).get("direction") == "up"
    try:
        moved = await editing.move_lesson(tenant, course, lesson_id, up)
    except editing.EditRefused as exc:
        return await render_course_page(request, tenant, course_id, 404, {"lessons": str(exc)})
    if moved:
        await record("lessons.reordered", tenant_id=tenant.id, actor_id=account.id, object_type="lesson",
                     object_id=lesson_id, direction="up" if up else "down")
    return redirect(request, f"/admin/courses/{course.id}")


@post("/admin/courses/{course_id:int}/lessons/{lesson_id:int}/delete", guards=STAFF)
async def lesson_delete(request: Request, tenant: Tenant, account: Account, course_id: int, lesson_id: int) -> Response:
    course = await scoped(Course, tenant).get_or_404(course_id)
    try:
        lesson = await editing.delete_lesson(tenant, course, lesson_id)
    except editing.EditRefused as exc:
        return await render_course_page(request, tenant, course_id, 409, {"lessons": str(exc)})
    await record("lesson.deleted", tenant_id=tenant.id, actor_id=account.id, object_type="lesson", object_id=lesson.id,
                 course=course.id, title=lesson.title)
    return redirect(request, f"/admin/courses/{course.id}?notice=课件已删除")


@post("/admin/courses/{course_id:int}/lessons/{lesson_id:int}/retry", guards=STAFF)
async def lesson_retry(request: Request, platform: Platform, tenant: Tenant, account: Account, course_id: int,
                       lesson_id: int) -> Response:
    """重新转码: a failed video lesson (its original kept) goes back to the transcoding job."""
    course = await scoped(Course, tenant).get_or_404(course_id)
    lesson = await scoped(Lesson, tenant).get_or_404(lesson_id, Lesson.course == course.id)
    if not await video_jobs.retry(platform, tenant, lesson):
        return await render_course_page(request, tenant, course_id, 409, {"lessons": "该课件不是转码失败的视频，无需重新转码"})
    await record("lesson.retranscode", tenant_id=tenant.id, actor_id=account.id, object_type="lesson",
                 object_id=lesson.id)
    return redirect(request, f"/admin/courses/{course.id}?notice=已重新开始转码")


ROUTES = [course_edit, lesson_move, lesson_delete, lesson_retry]
