"""我的培训, the course page, the player, the lesson media (HTTP Range) and the heartbeat.

The player page (core/static/js/player.js) starts a session, then beats every 15 s while playing
and on pause, end, hide and show (one at a time; ``navigator.sendBeacon`` when the page goes away,
CSRF token in the body), each saying whether the page is visible. The answer carries the accepted
position; the page seeks back to it if needed. The beats are decided in ``core.study.beats``.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import secrets

from litestar import Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.response import Redirect

from core.accounts.tables import Account
from core.audit.services import record
from core.certificates.services import printable_enrolments
from core.courses.tables import Course, Enrollment, Lesson, Position
from core.db.scoped import scoped
from core.hookcalls import Hooks
from core.files.ranges import serve_range
from core.files.tables import StoredFile
from core.kernel import Platform
from core.proctoring import alternative as alternatives
from core.proctoring import coverage, gate, verdicts
from core.review.services import learner_notice
from core.study import beats, services
from core.study.tables import HoursEntry, LessonProgress
from core.study.credit import message
from core.tenancy import Tenant
from core.web import redirect, render, roles

log = logging.getLogger("xueshi.study")
LEARNER = roles("learner")
NOT_READY = "该课件视频尚在转码或转码失败，暂不能学习"


def _json(data: dict, status: int = 200) -> Response:
    return Response(content=data, status_code=status, media_type="application/json",
                    headers={"Cache-Control": "no-store"})


async def _enrolments(tenant: Tenant, account_id: int) -> list[dict]:
    rows = await scoped(Enrollment, tenant).objects(Enrollment.account == account_id).order_by(Enrollment.id)
    courses = {c.id: c for c in await scoped(Course, tenant).objects(Course.id.is_in([e.course for e in rows] or [0]))}
    names = {p.id: p.name for p in await scoped(Position, tenant).objects()}
    out = []
    for e in rows:
        course = courses.get(e.course)
        if course is None:
            continue
        out.append({"enrollment": e, "course": course, "position": names.get(course.position, ""),
                    "hours": services.hours(tenant, e.credited_seconds), "status": services.STATUS_LABELS.get(e.status, e.status)})
    return out


@get("/study", guards=[LEARNER])
async def my_training(request: Request, hooks: Hooks, tenant: Tenant, account: Account) -> Response:
    """我的培训: every enrolment with its accrued / required hours and status."""
    items = await _enrolments(tenant, account.id)
    return await render(request, "study/my_training.html",
                        {"items": items, "profile_ready": await services.profile_complete(tenant, account.id),
                         "printable": await printable_enrolments(hooks, tenant, [i["enrollment"] for i in items])})


@get("/study/{enrollment_id:int}", guards=[LEARNER])
async def course_page(request: Request, platform: Platform, tenant: Tenant, account: Account,
                      enrollment_id: int) -> Response:
    await scoped(Enrollment, tenant).get_or_404(enrollment_id, Enrollment.account == account.id)
    await verdicts.settle(platform, tenant, account.id)  # what the learner reads is settled
    enrollment = await scoped(Enrollment, tenant).get_or_404(enrollment_id, Enrollment.account == account.id)
    course = await scoped(Course, tenant).get_or_404(enrollment.course)
    lessons = await scoped(Lesson, tenant).objects(Lesson.course == course.id).order_by(Lesson.ordering)
    progress = {p.lesson: p for p in await scoped(LessonProgress, tenant).objects(
        (LessonProgress.account == account.id) & LessonProgress.lesson.is_in([x.id for x in lessons] or [0]))}
    refused = await services.refused_entries(tenant, account.id, enrollment.id)
    return await render(
        request, "study/course.html",
        {"enrollment": enrollment, "course": course, "lessons": lessons, "progress": progress,
         "hours": services.hours(tenant, enrollment.credited_seconds),
         "status": services.STATUS_LABELS.get(enrollment.status),
         "refused": [(r, message(r.reason)) for r in refused],
         "profile_ready": await services.profile_complete(tenant, account.id),
         "in_review": enrollment.status == "review",
         "review": await _review_notice(tenant, enrollment)})


async def _review_notice(tenant: Tenant, enrollment: Enrollment) -> dict:
    """Why the hours were cleared (and the appeal), or a re-verification request (core.review)."""
    return await learner_notice(tenant, enrollment)


async def _access(tenant: Tenant, account: Account, lesson_id: int) -> services.Access:
    access = await services.lesson_access(tenant, account.id, lesson_id)
    if access is None:
        # Not enrolled (or another tenant's / learner's lesson): recorded, then 404.
        await scoped(HoursEntry, tenant).new(account=account.id, reason="foreign_lesson", anomaly=True,
                                             position_to=0.0, created_at=_now()).save()
        raise NotFoundException()
    return access


def _now():
    return dt.datetime.now(dt.UTC)


@get("/study/lessons/{lesson_id:int}", guards=[LEARNER])
async def player_page(request: Request, tenant: Tenant, account: Account, lesson_id: int) -> Response:
    access = await _access(tenant, account, lesson_id)
    if not await services.profile_complete(tenant, account.id):
        return redirect(request, f"/me/archive?next=/study/lessons/{lesson_id}")
    if not playable(access.lesson):  # 转码中 / 转码失败: the course page says so
        return redirect(request, f"/study/{access.enrollment.id}")
    alternative = access.lesson.kind == "video" and await alternatives.approved(tenant, account.id) is not None
    if access.lesson.kind == "video" and not alternative and await gate.usable_gate(tenant, account.id) is None:
        return redirect(request, gate.face_check_url(lesson_id))  # 开始学习 goes through the face check
    progress = await services.progress_of(tenant, account.id, lesson_id)
    lessons = await scoped(Lesson, tenant).objects(Lesson.course == access.course.id).order_by(Lesson.ordering)
    return await render(
        request, "study/player.html",
        {"lesson": access.lesson, "course": access.course, "enrollment": access.enrollment, "progress": progress,
         "lessons": lessons, "hours": services.hours(tenant, access.enrollment.credited_seconds),
         "in_review": access.enrollment.status == "review",
         "allow_seek": tenant.rules.study.allow_seek, "alternative": alternative})


@post("/study/lessons/{lesson_id:int}/session", guards=[LEARNER])
async def session_start(platform: Platform, tenant: Tenant, account: Account, lesson_id: int) -> Response:
    """Start (or take over) the learner's one study session on this lesson."""
    access = await _access(tenant, account, lesson_id)
    if not await services.profile_complete(tenant, account.id):
        return _json({"error": "请先完善个人档案（身份证正反面和本人头像）后再开始学习"}, 409)
    if access.lesson.kind != "video":
        return _json({"error": "该课件不是视频"}, 400)
    if not playable(access.lesson):
        return _json({"error": NOT_READY}, 409)
    # The face gate: a passed, recent face check no other session used, claimed before the start.
    # An approved request to study without the camera (where the rules allow it) replaces the gate.
    approved = await alternatives.approved(tenant, account.id)
    passed = None if approved is not None else await gate.usable_gate(tenant, account.id)
    if passed is None and approved is None:
        return _json({"error": gate.GATE_REQUIRED, "face_check": gate.face_check_url(lesson_id)}, 409)
    before = await services.progress_of(tenant, account.id, lesson_id)
    span = access.lesson.duration_seconds - (before.credited_seconds if before else 0.0)
    creditable = await coverage.creditable_seconds(tenant, account.id, access.enrollment, access.course, span,
                                                   services.server_time())
    token = secrets.token_urlsafe(24)
    try:
        await gate.claim(tenant, account.id, access.enrollment.id, token, passed, span, creditable=creditable,
                         alternative=approved.id if approved is not None else None)
    except gate.GateUsed:
        return _json({"error": gate.GATE_REQUIRED, "face_check": gate.face_check_url(lesson_id)}, 409)
    try:
        session = await services.start_session(tenant, account.id, access, token=token)
    except Exception:
        await gate.release(tenant, token)
        raise
    await verdicts.settle(platform, tenant, account.id)  # the sessions this one replaced: nothing uncovered stays
    progress = await services.progress_of(tenant, account.id, lesson_id)
    return _json({
        "token": session.token, "position": progress.position, "furthest": progress.furthest,
        "duration": access.lesson.duration_seconds, "completed": progress.completed,
        "lesson_credited": progress.credited_seconds,
    }, 201)


@get("/study/lessons/{lesson_id:int}/media", guards=[LEARNER])
async def lesson_media(request: Request, platform: Platform, tenant: Tenant, account: Account,
                       lesson_id: int) -> Response:
    """The lesson's video (HTTP Range, 206) or PDF, from private storage, to the enrolled learner."""
    access = await _access(tenant, account, lesson_id)
    if not playable(access.lesson):
        raise NotFoundException()
    row = await scoped(StoredFile, tenant).get(access.lesson.file)
    if row is None:
        raise NotFoundException()
    if (url := await platform.storage.signed_url(row)) is not None:
        return Redirect(url, status_code=302, headers={"Cache-Control": "private, no-store"})
    if not await platform.storage.exists(row):
        raise NotFoundException()
    return serve_range(request, platform.storage, row)


@get("/study/lessons/{lesson_id:int}/poster", guards=[LEARNER])
async def lesson_poster(request: Request, platform: Platform, tenant: Tenant, account: Account,
                        lesson_id: int) -> Response:
    """The video's poster frame (JPEG, made by the transcoding job) to the enrolled learner."""
    access = await _access(tenant, account, lesson_id)
    row = await scoped(StoredFile, tenant).get(access.lesson.poster_file) if access.lesson.poster_file else None
    if row is None or not await platform.storage.exists(row):
        raise NotFoundException()
    return serve_range(request, platform.storage, row)


def playable(lesson: Lesson) -> bool:
    """A video lesson is played (and credited) only once its transcoding made it ready."""
    return lesson.kind != "video" or lesson.video_status == "ready"


def _float(value) -> float:
    try:
        f = float(value)
    except (TypeError, ValueError):
        return math.nan
    return f


def _int(value, default: int = -1) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _int32(value) -> int:
    """A sequence number or id as the database holds it (a 32-bit integer), else -1 (refused)."""
    n = _int(value)
    return n if 0 <= n < 2**31 else -1


@post("/study/beat", guards=[LEARNER])
async def heartbeat(request: Request, platform: Platform, tenant: Tenant, account: Account) -> Response:
    """One heartbeat (fetch or sendBeacon, form-encoded with ``_csrf_token``). Bad input is
    refused and recorded, never a server error."""
    form = await request.form()
    beat = beats.BeatIn(
        token=str(form.get("token") or "")[:64], seq=_int32(form.get("seq")), lesson_id=_int32(form.get("lesson")),
        position=_float(form.get("position")), playing=form.get("playing") == "1",
        event=str(form.get("event") or "beat")[:8], idle=max(0.0, _float(form.get("idle") or 0)),
        visible=form.get("visible") == "1",  # only a page that says it is visible earns time
    )
    try:
        answer = await beats.beat(tenant, account.id, beat, platform=platform)
    except Exception:  # the ledger must never turn a beat into a 500 page; the next beat retries
        log.exception("heartbeat failed")
        return _json({"credited": 0, "reason": "retry", "message": "", "retry": True}, 503)
    if answer.get("anomaly"):
        await record("study.anomaly", tenant_id=tenant.id, actor_id=account.id, object_type="study_session",
                     object_id=beat.token[:16], reason=answer["reason"])
    return _json(answer)


ROUTES = [my_training, course_page, player_page, session_start, lesson_media, lesson_poster, heartbeat]
