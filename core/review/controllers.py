"""学时审核: the reviewers' queue and case page, their decisions, and the learner's appeal page.

Every reviewer route is guarded by ``roles("reviewer")`` and reads the enrolment through
``scoped`` (another tenant's id → 404). Images (portrait, ID card, face-check frames, the appeal
photo) are served only here, to reviewers, and only when they belong to the case's learner.
"""

from __future__ import annotations

from litestar import Request, Response, get, post
from litestar.exceptions import NotFoundException

from core import tenant_time
from core.accounts.tables import Account
from core.courses.tables import Course, Enrollment, Lesson, Position
from core.db.scoped import scoped
from core.files.limits import PHOTO_FORM_MAX_BODY
from core.files.tables import StoredFile
from core.hookcalls import Hooks
from core.identity import mask_id_number, mask_mobile
from core.kernel import Platform
from core.notify.services import failed_sms
from core.proctoring.portrait import IMAGES
from core.files.images import ImageRejected
from core.proctoring import verdicts
from core.review import appeals, eligibility, filters, integrity, services, timeline, withdrawal
from core.review.services import ReviewError
from core.review.tables import Appeal
from core.roster.tables import LearnerProfile
from core.study import services as study
from core.study.credit import REASONS as CREDIT_REASONS
from core.tenancy import Tenant
from core.web import redirect, render, roles

REVIEWER = roles("reviewer")
LEARNER = roles("learner")

EVENT_LABELS = {
    "gate_passed": "人脸核验通过", "snapshot_ok": "抓拍为本人", "snapshot_mismatch": "抓拍非本人",
    "snapshot_no_face": "抓拍无人脸", "snapshot_faces": "抓拍多人", "snapshot_missing": "缺少抓拍",
    "paused": "暂停", "resumed": "继续", "idle": "长时间无操作", "hidden": "页面切到后台",
    "devices": "设备变化", "flagged": "标记异常", "alternative": "无摄像头学习（已批准）",
    "snapshot_still": "抓拍画面静止", "snapshot_duplicate": "抓拍重复使用旧照片", "uncovered": "结束时无抓拍覆盖",
    "covered": "学时已有抓拍覆盖", "portrait_changed": "更换头像或身份证照片",
}
LEDGER_REASONS = {**CREDIT_REASONS, services.CLEARED_REASON: "审核清除", services.RESTORED_REASON: "申诉恢复"}
SCORE_KEYS = ("distance", "match_distance", "similarity", "score")


def score_of(scores: dict) -> str:
    for key in SCORE_KEYS:
        value = scores.get(key)
        if isinstance(value, (int, float)):
            return f"{value:.2f}"
    return "—"


async def _image_response(platform: Platform, row: StoredFile) -> Response:
    return Response(content=await platform.storage.read(row), media_type=row.media_type,
                    headers={"Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"})


REVIEW_REASONS = (services.CLEARED_REASON, services.RESTORED_REASON)
MAX_LISTED = 50
DECISION_NOTICES = ("hours_approved", "hours_cleared")  # the texts a decision sends the learner


def _ledger_summary(entries: list, lessons: dict[int, str]) -> dict:
    """The ledger on one screen: a row per lesson (beats, claimed, credited, refused, anomalies),
    then every review entry (reversals, restorations) and the latest anomalies, one by one (a
    32-学时 course is thousands of beats)."""
    per: dict = {}
    for e in entries:
        if e.reason in REVIEW_REASONS:
            continue
        row = per.setdefault(e.lesson, {"title": lessons.get(e.lesson, ""), "beats": 0, "claimed": 0.0,
                                        "credited": 0.0, "refused": 0, "anomalies": 0})
        row["beats"] += 1
        row["claimed"] += e.claimed
        row["credited"] += e.seconds
        row["refused"] += bool(e.reason)
        row["anomalies"] += bool(e.anomaly)
    listed = [e for e in entries if e.reason in REVIEW_REASONS]
    anomalies = [e for e in entries if e.anomaly][-MAX_LISTED:]
    return {"per_lesson": list(per.values()), "listed": sorted([*listed, *anomalies], key=lambda e: e.id),
            "lessons": lessons, "entry_count": len(entries)}


# --- the queue ------------------------------------------------------------------------------------


@get("/review", guards=[REVIEWER])
async def review_queue(request: Request, tenant: Tenant) -> Response:
    items = await services.queue(tenant)
    chosen = filters.QueueFilter.from_query(request.query_params)
    by_learner = await filters.companies(tenant, items)
    return await render(request, "review/queue.html", {
        "items": filters.apply(items, chosen, by_learner), "total": len(items), "filter": chosen,
        "statuses": filters.STATUSES, "positions": sorted({i.position for i in items if i.position}),
        "companies": sorted({e.id: e for e in by_learner.values()}.values(), key=lambda e: e.name),
        "appeals": await services.open_appeals(tenant), "staffing": await eligibility.staffing(tenant),
        "workdays": tenant.rules.study.review_workdays, "mask_id": mask_id_number})


# --- the case page --------------------------------------------------------------------------------


async def _case(request: Request, tenant: Tenant, account: Account, enrollment_id: int, status_code: int = 200,
                errors: dict | None = None, notice: str = "") -> Response:
    enrollment = await scoped(Enrollment, tenant).get_or_404(enrollment_id)
    learner = await scoped(Account, tenant).get_or_404(enrollment.account)
    course = await scoped(Course, tenant).get_or_404(enrollment.course)
    position = await scoped(Position, tenant).get(course.position)
    profile = await scoped(LearnerProfile, tenant).objects(LearnerProfile.account == learner.id).first()
    gates, snaps = await services.evidence_of(tenant, learner.id)
    entries = await services.ledger(tenant, enrollment)
    lessons = {x.id: x.title for x in await scoped(Lesson, tenant).objects(Lesson.course == course.id)}
    decisions = await services.decisions_of(tenant, enrollment.id)
    reviewers = {a.id: a.real_name for a in await scoped(Account, tenant).objects(
        Account.id.is_in(sorted({d.reviewer for d in decisions} | {d.confirmed_by for d in decisions if d.confirmed_by})
                         or [0]))}
    appeals = await scoped(Appeal, tenant).objects(Appeal.enrollment == enrollment.id).order_by(Appeal.id)
    pending = next((d for d in decisions if d.kind == "clear" and d.status == "pending"), None)
    by_id = {d.id: d for d in decisions}
    # The appeals this reviewer may decide (not one of the two who cleared).
    may_decide = {a.id for a in appeals if a.clearing in by_id and eligibility.may_decide_appeal(by_id[a.clearing], account)}
    since = enrollment.completed_at
    latest = decisions[-1] if decisions else None
    reverify_open = bool(latest and latest.kind == "reverify"
                         and not await services.reverified_since(tenant, learner.id, latest.created_at))
    return await render(request, "review/case.html", {
        "enrollment": enrollment, "learner": learner, "course": course,
        "position": position.name if position else "", "masked_id": mask_id_number(learner.id_number),
        "masked_mobile": mask_mobile(learner.mobile),
        "images": {k: v for k, v in IMAGES.items() if profile and getattr(profile, k)},
        "gates": gates, "snaps": snaps, "events": await services.timeline(tenant, enrollment),
        "event_labels": EVENT_LABELS, "event_details": lambda detail: timeline.details(detail, EVENT_LABELS),
        **_ledger_summary(entries, lessons), "ledger_reasons": LEDGER_REASONS,
        "balance": sum(e.seconds for e in entries), "hours": study.hours(tenant, enrollment.credited_seconds),
        "status": study.STATUS_LABELS.get(enrollment.status), "decisions": decisions, "reviewers": reviewers,
        "kinds": services.KINDS, "reasons": services.REASONS, "pending": pending, "appeals": appeals,
        "appeal_status": services.APPEAL_STATUS, "score_of": score_of,
        "deadline": services.workdays.deadline(since, tenant.rules.study.review_workdays, tenant_time.zone(tenant))
        if since else None,
        "reverify_open": reverify_open, "errors": errors or {}, "notice": notice, "me": account,
        "may_confirm": bool(pending and eligibility.may_confirm(pending, account)),
        "may_withdraw": bool(pending and eligibility.may_withdraw(pending, account)),
        "may_decide": may_decide, "staffing": await eligibility.staffing(tenant),
        "session_flags": await integrity.session_flags(tenant, enrollment),
        "identity": await integrity.identity_history(tenant, enrollment), "identity_labels": IMAGES,
        "failed_notices": await failed_sms(tenant, learner.id, DECISION_NOTICES, enrollment.created_at),
    }, status_code=status_code)


@get("/review/{enrollment_id:int}", guards=[REVIEWER])
async def review_case(request: Request, platform: Platform, tenant: Tenant, account: Account,
                      enrollment_id: int) -> Response:
    enrollment = await scoped(Enrollment, tenant).get_or_404(enrollment_id)
    await verdicts.settle(platform, tenant, enrollment.account)  # captures past their time count as missing
    return await _case(request, tenant, account, enrollment_id, notice=request.query_params.get("done", ""))


async def _decide(request: Request, tenant: Tenant, account: Account, enrollment_id: int, field: str, action) -> Response:
    await scoped(Enrollment, tenant).get_or_404(enrollment_id)
    try:
        await action()
    except ReviewError as exc:
        return await _case(request, tenant, account, enrollment_id, 400, errors={field: str(exc)})
    return redirect(request, f"/review/{enrollment_id}?done={field}")


@post("/review/{enrollment_id:int}/approve", guards=[REVIEWER])
async def review_approve(request: Request, tenant: Tenant, account: Account, hooks: Hooks, enrollment_id: int) -> Response:
    form = await request.form()
    return await _decide(request, tenant, account, enrollment_id, "approve",
                         lambda: services.approve(hooks, tenant, account, enrollment_id, str(form.get("note") or "")))


@post("/review/{enrollment_id:int}/clear", guards=[REVIEWER])
async def review_clear(request: Request, tenant: Tenant, account: Account, hooks: Hooks, enrollment_id: int) -> Response:
    form = await request.form()
    return await _decide(request, tenant, account, enrollment_id, "clear", lambda: services.propose_clear(
        hooks, tenant, account, enrollment_id, str(form.get("reason") or ""), str(form.get("note") or "")))


@post("/review/{enrollment_id:int}/clearings/{decision_id:int}", guards=[REVIEWER])
async def review_confirm(request: Request, tenant: Tenant, account: Account, hooks: Hooks, enrollment_id: int,
                         decision_id: int) -> Response:
    form = await request.form()
    act = services.decline_clear if form.get("action") == "decline" else services.confirm_clear
    return await _decide(request, tenant, account, enrollment_id, "confirm",
                         lambda: act(hooks, tenant, account, decision_id, enrollment_id))


@post("/review/{enrollment_id:int}/clearings/{decision_id:int}/withdraw", guards=[REVIEWER])
async def review_withdraw(request: Request, tenant: Tenant, account: Account, hooks: Hooks, enrollment_id: int,
                          decision_id: int) -> Response:
    return await _decide(request, tenant, account, enrollment_id, "withdraw",
                         lambda: withdrawal.withdraw_clear(hooks, tenant, account, decision_id, enrollment_id))


@post("/review/{enrollment_id:int}/reverify", guards=[REVIEWER])
async def review_reverify(request: Request, tenant: Tenant, account: Account, hooks: Hooks, enrollment_id: int) -> Response:
    form = await request.form()
    return await _decide(request, tenant, account, enrollment_id, "reverify", lambda: services.request_reverify(
        hooks, tenant, account, enrollment_id, str(form.get("note") or "")))


@post("/review/{enrollment_id:int}/appeals/{appeal_id:int}", guards=[REVIEWER])
async def review_appeal_decide(request: Request, tenant: Tenant, account: Account, hooks: Hooks, enrollment_id: int,
                               appeal_id: int) -> Response:
    form = await request.form()
    await scoped(Appeal, tenant).get_or_404(appeal_id, Appeal.enrollment == enrollment_id)
    return await _decide(request, tenant, account, enrollment_id, "appeal", lambda: appeals.decide_appeal(
        hooks, tenant, account, appeal_id, enrollment_id, form.get("action") == "uphold", str(form.get("answer") or "")))


@get("/review/{enrollment_id:int}/image/{kind:str}", guards=[REVIEWER])
async def review_profile_image(platform: Platform, tenant: Tenant, enrollment_id: int, kind: str) -> Response:
    """The case learner's portrait or ID-card image, by kind."""
    enrollment = await scoped(Enrollment, tenant).get_or_404(enrollment_id)
    profile = await scoped(LearnerProfile, tenant).objects(LearnerProfile.account == enrollment.account).first()
    if kind not in IMAGES or profile is None or not getattr(profile, kind):
        raise NotFoundException()
    return await _image_response(platform, await scoped(StoredFile, tenant).get_or_404(getattr(profile, kind)))


@get("/review/{enrollment_id:int}/identity/{file_id:int}", guards=[REVIEWER])
async def review_identity_image(platform: Platform, tenant: Tenant, enrollment_id: int, file_id: int) -> Response:
    """One of the case learner's portraits or ID-card photos, current or replaced (the history)."""
    enrollment = await scoped(Enrollment, tenant).get_or_404(enrollment_id)
    row = await integrity.identity_file(tenant, enrollment.account, file_id)
    if row is None:
        raise NotFoundException()
    return await _image_response(platform, row)


@get("/review/{enrollment_id:int}/evidence/{file_id:int}", guards=[REVIEWER])
async def review_evidence(platform: Platform, tenant: Tenant, enrollment_id: int, file_id: int) -> Response:
    """A gate frame or snapshot of the case learner's face checks (no other file)."""
    enrollment = await scoped(Enrollment, tenant).get_or_404(enrollment_id)
    if not await services.evidence_file_allowed(tenant, enrollment.account, file_id):
        raise NotFoundException()
    return await _image_response(platform, await scoped(StoredFile, tenant).get_or_404(file_id))


@get("/review/{enrollment_id:int}/appeals/{appeal_id:int}/photo", guards=[REVIEWER])
async def review_appeal_photo(platform: Platform, tenant: Tenant, enrollment_id: int, appeal_id: int) -> Response:
    appeal = await scoped(Appeal, tenant).get_or_404(appeal_id, Appeal.enrollment == enrollment_id)
    if appeal.photo is None:
        raise NotFoundException()
    return await _image_response(platform, await scoped(StoredFile, tenant).get_or_404(appeal.photo))


# --- the learner's appeal -------------------------------------------------------------------------


async def _appeal_page(request: Request, tenant: Tenant, account: Account, enrollment_id: int, status_code: int = 200,
                       errors: dict | None = None, statement: str = "") -> Response:
    enrollment = await scoped(Enrollment, tenant).get_or_404(enrollment_id, Enrollment.account == account.id)
    course = await scoped(Course, tenant).get_or_404(enrollment.course)
    return await render(request, "review/appeal.html",
                        {"enrollment": enrollment, "course": course,
                         "review": await services.learner_notice(tenant, enrollment), "errors": errors or {},
                         "statement": statement, "max_statement": services.MAX_STATEMENT}, status_code=status_code)


@get("/study/{enrollment_id:int}/appeal", guards=[LEARNER])
async def appeal_page(request: Request, tenant: Tenant, account: Account, enrollment_id: int) -> Response:
    return await _appeal_page(request, tenant, account, enrollment_id)


@post("/study/{enrollment_id:int}/appeal", guards=[LEARNER], request_max_body_size=PHOTO_FORM_MAX_BODY)
async def appeal_submit(request: Request, platform: Platform, tenant: Tenant, account: Account, hooks: Hooks,
                        enrollment_id: int) -> Response:
    await scoped(Enrollment, tenant).get_or_404(enrollment_id, Enrollment.account == account.id)
    form = await request.form()
    statement = str(form.get("statement") or "")
    item = form.get("photo")
    photo = (await item.read()) or None if item is not None and not isinstance(item, str) else None
    try:
        await appeals.submit_appeal(platform, hooks, tenant, account, enrollment_id, statement, photo)
    except ReviewError as exc:
        return await _appeal_page(request, tenant, account, enrollment_id, 400, {"statement": str(exc)}, statement)
    except ImageRejected as exc:
        return await _appeal_page(request, tenant, account, enrollment_id, 400, {"photo": str(exc)}, statement)
    return redirect(request, f"/study/{enrollment_id}/appeal")


ROUTES = [review_queue, review_case, review_approve, review_clear, review_confirm, review_withdraw, review_reverify,
          review_appeal_decide, review_profile_image, review_identity_image, review_evidence, review_appeal_photo,
          appeal_page, appeal_submit]
