"""Exam pages for learners: 在线考核 (eligibility, start / resume, history), the attempt page
(autosave per click with htmx, countdown, submit) and the result. Staff pages (banks, import,
questions, attempts) are in core.exams.admin_pages; ``ROUTES`` holds both.

The attempt page's script (core/static/js/exam.js) counts down to the server's deadline, hands
in when it reaches zero and reports a hidden tab with ``navigator.sendBeacon``; the server does
not rely on it (expiry is settled on the server, see core.exams.scoring).

Handing in with unanswered questions first answers with a confirmation that says how many are
unanswered (a fragment for htmx, the paper page without it); the submission carrying
``confirm=1`` is then accepted. When the time is up nothing is asked.
"""

from __future__ import annotations

import logging

from litestar import Request, Response, get, post
from litestar.exceptions import NotFoundException

from core.accounts.tables import Account
from core.audit.services import record
from core.certificates import services as certificates
from core.courses.tables import Course, Enrollment
from core.db.scoped import scoped
from core.exams import admin_pages, attempts, image_pages, paper, scoring, writes
from core.exams.eligibility import eligibility
from core.exams.tables import ExamAttempt
from core.hookcalls import Hooks
from core.tenancy import Tenant
from core.web import form_fields, is_htmx, redirect, render, roles

log = logging.getLogger("xueshi.exams")
LEARNER = [roles("learner")]


# --- learners ------------------------------------------------------------------------------------


@get("/exams", guards=LEARNER)
async def exams_page(request: Request, hooks: Hooks, tenant: Tenant, account: Account) -> Response:
    """在线考核: per enrolment whether an exam is needed, may start, the attempts and the best."""
    items = []
    for enrollment in await scoped(Enrollment, tenant).objects(Enrollment.account == account.id).order_by(Enrollment.id):
        items.append(await eligibility(hooks, tenant, enrollment))
    return await render(request, "exams/my_exams.html",
                        {"items": items, "points": paper.points,
                         "notice": request.query_params.get("notice", "")})


@post("/exams/{enrollment_id:int}/start", guards=LEARNER)
async def exam_start(request: Request, hooks: Hooks, tenant: Tenant, account: Account, enrollment_id: int) -> Response:
    """Start an attempt, or resume the open one (from any tab or device)."""
    await scoped(Enrollment, tenant).get_or_404(enrollment_id, Enrollment.account == account.id)
    try:
        attempt = await attempts.start_attempt(hooks, tenant, account.id, enrollment_id)
    except writes.ExamError as exc:
        return redirect(request, f"/exams?notice={exc.message}")
    return redirect(request, f"/exams/attempts/{attempt.id}")


async def _attempt_or_404(hooks: Hooks, tenant: Tenant, account: Account, attempt_id: int) -> ExamAttempt:
    attempt = await attempts.attempt_of(tenant, account.id, attempt_id)
    if attempt is None:
        raise NotFoundException()
    if writes.overdue(attempt):
        await scoring.settle_overdue(hooks, tenant, account_id=account.id)
        attempt = await attempts.attempt_of(tenant, account.id, attempt_id)
    return attempt


async def _certificate_note(hooks: Hooks, tenant: Tenant, attempt: ExamAttempt) -> dict | None:
    """For a passed attempt: the certificate's page when it is issued or may be printed now,
    else why not yet (and, while the hours are in review, how long the review takes)."""
    if not attempt.passed:
        return None
    enrollment = await scoped(Enrollment, tenant).get(attempt.enrollment)
    if await certificates.current(tenant, enrollment.id) is not None:
        return {"href": f"/certificates/{enrollment.id}", "issued": True}
    verdict = await certificates.eligibility(hooks, tenant, enrollment)
    if verdict.ok:
        return {"href": f"/certificates/{enrollment.id}", "issued": False}
    workdays = tenant.rules.study.review_workdays if enrollment.status == "review" else None
    return {"href": "", "reason": verdict.reason, "workdays": workdays}


async def _result_page(request: Request, hooks: Hooks, tenant: Tenant, attempt: ExamAttempt, status_code: int = 200,
                       error: str = "") -> Response:
    """The score and 合格 / 不合格 only: never which answers were right (nor how many), so that a
    result cannot serve as an answer key."""
    course = await scoped(Course, tenant).get(attempt.course)
    history = await scoped(ExamAttempt, tenant).objects(
        (ExamAttempt.account == attempt.account) & (ExamAttempt.course == attempt.course)
        & (ExamAttempt.status != "open")).order_by(ExamAttempt.id)
    best = max(history, key=lambda a: (a.score_centi or 0, -a.id)) if history else None
    return await render(request, "exams/result.html",
                        {"attempt": attempt, "course": course, "history": history, "best": best,
                         "points": paper.points, "error": error,
                         "certificate": await _certificate_note(hooks, tenant, attempt)}, status_code=status_code)


@get("/exams/attempts/{attempt_id:int}", guards=LEARNER)
async def attempt_page(request: Request, hooks: Hooks, tenant: Tenant, account: Account, attempt_id: int) -> Response:
    """The paper of an open attempt (the learner's saved choices; never the answers), or the
    result of a finished one."""
    attempt = await _attempt_or_404(hooks, tenant, account, attempt_id)
    if attempt.status != "open":
        notice = writes.MESSAGES["expired"] if attempt.status == "expired" and request.query_params.get("expired") else ""
        return await _result_page(request, hooks, tenant, attempt, error=notice)
    return await _paper_page(request, tenant, attempt)


async def _paper_page(request: Request, tenant: Tenant, attempt: ExamAttempt, unanswered: list[int] | None = None
                      ) -> Response:
    """The open attempt's paper; with ``unanswered``, the hand-in confirmation under it."""
    questions = await paper.paper_of(tenant, attempt)
    course = await scoped(Course, tenant).get(attempt.course)
    now = writes.server_now()
    return await render(request, "exams/attempt.html",
                        {"attempt": attempt, "course": course, "paper": questions,
                         "notice": request.query_params.get("notice", ""), "unanswered": unanswered,
                         "answered": sum(1 for q in questions if q.chosen), "points": paper.points,
                         "left_seconds": max(0, int((attempt.deadline - now).total_seconds()))},
                        headers={"Cache-Control": "no-store"})


@post("/exams/attempts/{attempt_id:int}/answer", guards=LEARNER)
async def attempt_answer(request: Request, hooks: Hooks, tenant: Tenant, account: Account, attempt_id: int) -> Response:
    """Autosave one question (htmx, on every click): ``seq`` and the chosen display letters
    (``choice``, repeated for 多选). Refusals answer 400 (not on the paper, tampered option) or
    409 (finished or out of time) with the message; nothing is changed."""
    form = await request.form()
    choices = [v for v in form.getall("choice") if isinstance(v, str)] if "choice" in form else []
    headers = {"Cache-Control": "no-store"}
    try:
        saved = await attempts.save_answer(hooks, tenant, account.id, attempt_id, form.get("seq"), choices)
    except LookupError:
        raise NotFoundException() from None
    except writes.ExamError as exc:
        finished = exc.code in ("submitted", "expired")
        if finished:
            headers["X-Exam-Finished"] = "1"
        status = 409 if finished else 503 if exc.code == "busy" else 400
        return await render(request, "exams/_saved.html",
                            {"error": exc.message, "saved": None, "finished": finished},
                            status_code=status, headers=headers)
    return await render(request, "exams/_saved.html", {"error": "", "saved": saved}, headers=headers)


@post("/exams/attempts/{attempt_id:int}/submit", guards=LEARNER)
async def attempt_submit(request: Request, hooks: Hooks, tenant: Tenant, account: Account, attempt_id: int) -> Response:
    """Hand in: scored now. With questions unanswered and no ``confirm=1`` (and time left), the
    confirmation is answered instead and nothing changes. A second submit or one after the time
    is up is refused with its message on the result page (409), the score unchanged."""
    attempt = await _attempt_or_404(hooks, tenant, account, attempt_id)
    form = await form_fields(request)
    if attempt.status == "open" and form.get("confirm") != "1":
        left = await paper.unanswered(tenant, attempt)
        if left and writes.server_now() < attempt.deadline - writes.GRACE:
            if is_htmx(request):
                return await render(request, "exams/_confirm_submit.html",
                                    {"attempt": attempt, "unanswered": left}, headers={"Cache-Control": "no-store"})
            return await _paper_page(request, tenant, attempt, unanswered=left)
    try:
        attempt = await scoring.submit(hooks, tenant, attempt)
    except writes.ExamError as exc:
        if exc.code == "busy":  # still open: back to the paper, whose countdown hands in again
            return redirect(request, f"/exams/attempts/{attempt.id}?notice={exc.message}")
        if is_htmx(request):  # the page goes to the result, which says how the attempt ended
            return redirect(request, f"/exams/attempts/{attempt.id}?expired=1")
        return await _result_page(request, hooks, tenant, exc.attempt or attempt, status_code=409, error=exc.message)
    await record("exam.submitted", tenant_id=tenant.id, actor_id=account.id, object_type="exam_attempt",
                 object_id=attempt.id, score=attempt.score_centi, passed=attempt.passed)
    return redirect(request, f"/exams/attempts/{attempt.id}")


@post("/exams/attempts/{attempt_id:int}/hidden", guards=LEARNER, status_code=200)
async def attempt_hidden(request: Request, tenant: Tenant, account: Account, attempt_id: int) -> Response:
    """The page was hidden (another tab or app): counted on an open attempt (sendBeacon)."""
    attempt = await attempts.attempt_of(tenant, account.id, attempt_id)
    if attempt is None:
        raise NotFoundException()
    count = await attempts.record_hidden(tenant, attempt)
    return Response(content={"hidden": count}, media_type="application/json", headers={"Cache-Control": "no-store"})


ROUTES = [*admin_pages.ROUTES, *image_pages.ROUTES, exams_page, exam_start, attempt_page, attempt_answer, attempt_submit, attempt_hidden]
