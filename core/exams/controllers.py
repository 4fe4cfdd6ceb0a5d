"""Exam pages. Staff (tenant_admin): banks per position, the import (template, preview with
errors at their cell, commit), single questions (add, edit, disable); attempts with the times
the page was left (tenant_admin and reviewer). Learners: 在线考核 (eligibility, start / resume,
history), the attempt page (autosave per click with htmx, countdown, submit) and the result.

The attempt page's script (core/static/js/exam.js) counts down to the server's deadline, hands
in when it reaches zero and reports a hidden tab with ``navigator.sendBeacon``; the server does
not rely on it (expiry is settled on the server, see core.exams.scoring).

Handing in with unanswered questions first answers with a confirmation that says how many are
unanswered (a fragment for htmx, the paper page without it); the submission carrying
``confirm=1`` is then accepted. When the time is up nothing is asked.
"""

from __future__ import annotations

import datetime as dt
import json
import logging

from litestar import Request, Response, get, post
from litestar.exceptions import NotFoundException

from core.accounts.tables import Account
from core.audit.services import record
from core.certificates import services as certificates
from core.courses.tables import Course, Enrollment, Position
from core.db.scoped import scoped
from core.exams import attempts, pacing, paper, scoring, writes
from core.exams import bank as banks
from core.exams.eligibility import active_question_count, eligibility
from core.exams.tables import ExamAttempt, Question, QuestionBank
from core.exams.values import KINDS, LETTERS
from core.hookcalls import Hooks
from core.identity import mask_name
from core.kernel import Platform
from core.roster.spreadsheets import Limits, SpreadsheetRejected, read_table_async, write_xlsx
from core.roster.imports import keep_table, kept_table
from core.roster.tables import ImportJob
from core.tenancy import Tenant
from core.web import is_htmx, redirect, render, roles

log = logging.getLogger("xueshi.exams")
STAFF = [roles("tenant_admin")]
REVIEWERS = [roles("tenant_admin", "reviewer")]
LEARNER = [roles("learner")]
MAX_SHEET_BYTES = 5 * 1024 * 1024
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
IMPORT_KIND = "exam_bank"


def _limits() -> Limits:
    return Limits(max_bytes=MAX_SHEET_BYTES, max_rows=banks.MAX_QUESTIONS_PER_IMPORT)


async def _form(request: Request) -> dict[str, str]:
    form = await request.form()
    return {k: v.strip() for k, v in form.items() if isinstance(v, str)}


# --- staff: banks ----------------------------------------------------------------------------


async def _position_or_404(tenant: Tenant, position_id: int) -> Position:
    return await scoped(Position, tenant).get_or_404(position_id)


@get("/admin/exams", guards=STAFF)
async def banks_page(request: Request, tenant: Tenant) -> Response:
    positions = await scoped(Position, tenant).objects().order_by(Position.id)
    rows = []
    for p in positions:
        bank = await scoped(QuestionBank, tenant).objects(QuestionBank.position == p.id).first()
        total = await scoped(Question, tenant).count(Question.bank == bank.id) if bank else 0
        active = await active_question_count(tenant, p.id)
        rows.append({"position": p, "total": total, "active": active,
                     "required": p.name in tenant.rules.exam.positions})
    return await render(request, "exams/admin_banks.html", rows=rows, rules=tenant.rules.exam)


@get("/admin/exams/template.xlsx", guards=STAFF)
async def bank_template() -> Response:
    return Response(content=write_xlsx(banks.HEADERS, banks.template_rows()), media_type=XLSX_TYPE,
                    headers={"Content-Disposition": "attachment; filename=question_bank_template.xlsx"})


async def _bank_page(request: Request, tenant: Tenant, position: Position, status_code: int = 200,
                     errors: dict | None = None, values: dict | None = None, notice: str = "") -> Response:
    bank = await scoped(QuestionBank, tenant).objects(QuestionBank.position == position.id).first()
    questions = await scoped(Question, tenant).objects(Question.bank == bank.id).order_by(Question.id) if bank else []
    return await render(request, "exams/admin_bank.html", status_code=status_code, position=position,
                        questions=questions, kinds=KINDS, letters=LETTERS, errors=errors or {},
                        values=values or {"kind": "single", "points": "1"},
                        notice=notice or request.query_params.get("notice", ""),
                        needed=tenant.rules.exam.questions)


@get("/admin/exams/positions/{position_id:int}", guards=STAFF)
async def bank_page(request: Request, tenant: Tenant, position_id: int) -> Response:
    return await _bank_page(request, tenant, await _position_or_404(tenant, position_id))


@post("/admin/exams/positions/{position_id:int}/import", guards=STAFF,
      request_max_body_size=MAX_SHEET_BYTES + 65536)
async def bank_upload(request: Request, platform: Platform, tenant: Tenant, account: Account,
                      position_id: int) -> Response:
    """Upload → preview (every row, its errors at their cell); the parsed rows and the job are kept
    (``keep_table``: the upload is parsed once, here)."""
    position = await _position_or_404(tenant, position_id)
    form = await request.form()
    upload = form.get("file")
    error, preview, job = "", None, None
    if upload is None or isinstance(upload, str) or not upload.filename:
        error = "请选择要导入的题库文件（xlsx 或 csv）"
    else:
        data = await upload.read()
        try:
            table = await read_table_async(data, upload.filename, _limits())
            preview = banks.preview_table(table)
        except SpreadsheetRejected as exc:
            error = str(exc)
        if preview is not None:
            await banks.mark_existing(tenant, await banks.bank_for(tenant, position), preview)
            stored = await keep_table(platform.storage, tenant, table)
            job = scoped(ImportJob, tenant).new(kind=IMPORT_KIND, filename=upload.filename[:200], file=stored.id,
                                                total_rows=len(preview.rows), error_rows=len(preview.error_rows),
                                                summary={"position": position.id}, created_by=account.id,
                                                created_at=dt.datetime.now(dt.UTC))
            await job.save()
    return await render(request, "exams/admin_import.html", status_code=400 if error else 200, error=error,
                        preview=preview, job=job, columns=banks.COLUMNS, position=position)


@post("/admin/exams/import/{job_id:int}", guards=STAFF)
async def bank_commit(request: Request, platform: Platform, tenant: Tenant, account: Account, job_id: int) -> Response:
    """Commit a previewed bank: the valid rows (a file with errors only with "忽略错误行")."""
    job = await scoped(ImportJob, tenant).get_or_404(job_id, ImportJob.kind == IMPORT_KIND)
    summary = job.summary if isinstance(job.summary, dict) else json.loads(job.summary or "{}")
    position = await _position_or_404(tenant, int(summary.get("position") or 0))
    table = await kept_table(platform.storage, tenant, job, _limits())
    if table is None:  # purged by the retention rule for import files
        raise NotFoundException()
    preview = banks.preview_table(table)
    bank = await banks.bank_for(tenant, position)
    await banks.mark_existing(tenant, bank, preview)
    form = await _form(request)
    if job.status == "done":
        return redirect(request, f"/admin/exams/positions/{position.id}")
    if preview.error_rows and form.get("skip_errors") != "1":
        return await render(request, "exams/admin_import.html", status_code=400, preview=preview, job=job,
                            columns=banks.COLUMNS, position=position,
                            error=f"文件中有 {len(preview.error_rows)} 行错误，请修改后重新上传，或勾选“忽略错误行，仅导入正确的行”")
    counts = await banks.commit(tenant, bank, [r.values for r in preview.valid_rows])
    result = {**summary, **counts, "skipped": len(preview.error_rows)}
    await scoped(ImportJob, tenant).update({ImportJob.status: "done", ImportJob.summary: result,
                                            ImportJob.processed_rows: len(preview.valid_rows),
                                            ImportJob.finished_at: dt.datetime.now(dt.UTC)}).where(ImportJob.id == job.id)
    await record("exam_bank.imported", tenant_id=tenant.id, actor_id=account.id, object_type="import_job",
                 object_id=job.id, **result)
    notice = f"已导入：新增 {counts['created']} 题，更新 {counts['updated']} 题"
    return redirect(request, f"/admin/exams/positions/{position.id}?notice={notice}")


def _field_errors(errors) -> dict[str, str]:
    out: dict[str, str] = {}
    for e in errors:
        out[e.column] = "；".join(filter(None, [out.get(e.column, ""), e.message]))
    return out


@post("/admin/exams/positions/{position_id:int}/questions", guards=STAFF)
async def question_add(request: Request, tenant: Tenant, account: Account, position_id: int) -> Response:
    position = await _position_or_404(tenant, position_id)
    form = await _form(request)
    values = banks.form_values(form)
    errors = banks.check_row(values)
    bank = await banks.bank_for(tenant, position)
    if not errors and await scoped(Question, tenant).exists((Question.bank == bank.id) & (Question.stem == values["stem"])):
        errors.append(banks.RowError("stem", "题库中已有相同题干的题目"))
    if errors:
        return await _bank_page(request, tenant, position, 400, _field_errors(errors), form)
    await banks.commit(tenant, bank, [values])
    await record("exam_question.created", tenant_id=tenant.id, actor_id=account.id, object_type="position",
                 object_id=position.id)
    return redirect(request, f"/admin/exams/positions/{position.id}?notice=已添加题目")


async def _question_page(request: Request, tenant: Tenant, question: Question, status_code: int = 200,
                         errors: dict | None = None, values: dict | None = None) -> Response:
    bank = await scoped(QuestionBank, tenant).get_or_404(question.bank)
    position = await _position_or_404(tenant, bank.position)
    return await render(request, "exams/admin_question.html", status_code=status_code, question=question,
                        position=position, kinds=KINDS, letters=LETTERS, errors=errors or {},
                        values=values or banks.question_form(question))


@get("/admin/exams/questions/{question_id:int}", guards=STAFF)
async def question_page(request: Request, tenant: Tenant, question_id: int) -> Response:
    return await _question_page(request, tenant, await scoped(Question, tenant).get_or_404(question_id))


@post("/admin/exams/questions/{question_id:int}", guards=STAFF)
async def question_save(request: Request, tenant: Tenant, account: Account, question_id: int) -> Response:
    """Edit a question. Papers already drawn keep their points; a finished attempt's score never
    changes (it was computed at submission)."""
    question = await scoped(Question, tenant).get_or_404(question_id)
    form = await _form(request)
    values = banks.form_values(form)
    errors = banks.check_row(values)
    if not errors and await scoped(Question, tenant).exists(
            (Question.bank == question.bank) & (Question.stem == values["stem"]) & (Question.id != question.id)):
        errors.append(banks.RowError("stem", "题库中已有相同题干的题目"))
    if errors:
        return await _question_page(request, tenant, question, 400, _field_errors(errors), form)
    await scoped(Question, tenant).update({
        Question.kind: values["kind"], Question.stem: values["stem"], Question.options: values["options"],
        Question.answer: values["answer"], Question.explanation: values.get("explanation", ""),
        Question.points: float(values["points"]), Question.updated_at: dt.datetime.now(dt.UTC)}).where(
        Question.id == question.id)
    await record("exam_question.updated", tenant_id=tenant.id, actor_id=account.id, object_type="exam_question",
                 object_id=question.id)
    bank = await scoped(QuestionBank, tenant).get_or_404(question.bank)
    return redirect(request, f"/admin/exams/positions/{bank.position}?notice=题目已保存")


@post("/admin/exams/questions/{question_id:int}/active", guards=STAFF)
async def question_toggle(request: Request, tenant: Tenant, account: Account, question_id: int) -> Response:
    """Disable (停用) or enable (启用) a question: a disabled one is drawn no more."""
    question = await scoped(Question, tenant).get_or_404(question_id)
    await scoped(Question, tenant).update({Question.active: not question.active,
                                           Question.updated_at: dt.datetime.now(dt.UTC)}).where(Question.id == question.id)
    await record("exam_question.disabled" if question.active else "exam_question.enabled", tenant_id=tenant.id,
                 actor_id=account.id, object_type="exam_question", object_id=question.id)
    bank = await scoped(QuestionBank, tenant).get_or_404(question.bank)
    return redirect(request, f"/admin/exams/positions/{bank.position}?notice="
                    + ("题目已停用" if question.active else "题目已启用"))


@get("/admin/exams/attempts", guards=REVIEWERS)
async def attempts_page(request: Request, hooks: Hooks, tenant: Tenant) -> Response:
    """Recent attempts with score, result and how often the learner left the page."""
    await scoring.settle_overdue(hooks, tenant)
    attempts = await scoped(ExamAttempt, tenant).objects().order_by(ExamAttempt.id, ascending=False).limit(200)
    people = {a.id: a for a in await scoped(Account, tenant).objects(
        Account.id.is_in([x.account for x in attempts] or [0]))}
    names = {p.id: p.name for p in await scoped(Position, tenant).objects()}
    rows = [{"attempt": a, "name": mask_name(people[a.account].real_name) if a.account in people else "",
             "position": names.get(a.position, ""), "score": paper.points(a.score_centi),
             "started": pacing.china_time(a.started_at)} for a in attempts]
    return await render(request, "exams/admin_attempts.html", rows=rows)


# --- learners ------------------------------------------------------------------------------------


@get("/exams", guards=LEARNER)
async def exams_page(request: Request, hooks: Hooks, tenant: Tenant, account: Account) -> Response:
    """在线考核: per enrolment whether an exam is needed, may start, the attempts and the best."""
    items = []
    for enrollment in await scoped(Enrollment, tenant).objects(Enrollment.account == account.id).order_by(Enrollment.id):
        items.append(await eligibility(hooks, tenant, enrollment))
    return await render(request, "exams/my_exams.html", items=items, points=paper.points,
                        when=pacing.china_time, notice=request.query_params.get("notice", ""))


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
    workdays = (list(tenant.rules.study.review_workdays) + [3, 5])[:2] if enrollment.status == "review" else None
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
    return await render(request, "exams/result.html", status_code=status_code, attempt=attempt, course=course,
                        history=history, best=best, points=paper.points, when=pacing.china_time, error=error,
                        certificate=await _certificate_note(hooks, tenant, attempt))


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
    return await render(request, "exams/attempt.html", attempt=attempt, course=course, paper=questions,
                        notice=request.query_params.get("notice", ""), unanswered=unanswered,
                        answered=sum(1 for q in questions if q.chosen), points=paper.points,
                        left_seconds=max(0, int((attempt.deadline - now).total_seconds())),
                        headers={"Cache-Control": "no-store"})


@post("/exams/attempts/{attempt_id:int}/answer", guards=LEARNER)
async def attempt_answer(request: Request, hooks: Hooks, tenant: Tenant, account: Account, attempt_id: int) -> Response:
    """Autosave one question (htmx, on every click): ``seq`` and the chosen display letters
    (``choice``, repeated for 多选). Refusals answer 400 (not on the paper, tampered option) or
    409 (finished or out of time) with the message; nothing is changed."""
    attempt = await _attempt_or_404(hooks, tenant, account, attempt_id)
    form = await request.form()
    choices = [v for v in form.getall("choice") if isinstance(v, str)] if "choice" in form else []
    headers = {"Cache-Control": "no-store"}
    try:
        saved = await attempts.save_answer(hooks, tenant, attempt, form.get("seq"), choices)
    except writes.ExamError as exc:
        finished = exc.code in ("submitted", "expired")
        if finished:
            headers["X-Exam-Finished"] = "1"
        status = 409 if finished else 503 if exc.code == "busy" else 400
        return await render(request, "exams/_saved.html", status_code=status, headers=headers,
                            error=exc.message, saved=None, finished=finished)
    return await render(request, "exams/_saved.html", headers=headers, error="", saved=saved)


@post("/exams/attempts/{attempt_id:int}/submit", guards=LEARNER)
async def attempt_submit(request: Request, hooks: Hooks, tenant: Tenant, account: Account, attempt_id: int) -> Response:
    """Hand in: scored now. With questions unanswered and no ``confirm=1`` (and time left), the
    confirmation is answered instead and nothing changes. A second submit or one after the time
    is up is refused with its message on the result page (409), the score unchanged."""
    attempt = await _attempt_or_404(hooks, tenant, account, attempt_id)
    form = await _form(request)
    if attempt.status == "open" and form.get("confirm") != "1":
        left = await paper.unanswered(tenant, attempt)
        if left and writes.server_now() < attempt.deadline - writes.GRACE:
            if is_htmx(request):
                return await render(request, "exams/_confirm_submit.html", attempt=attempt, unanswered=left,
                                    headers={"Cache-Control": "no-store"})
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


ROUTES = [banks_page, bank_template, bank_page, bank_upload, bank_commit, question_add, question_page, question_save,
          question_toggle, attempts_page, exams_page, exam_start, attempt_page, attempt_answer, attempt_submit,
          attempt_hidden]
