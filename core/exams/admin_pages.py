"""Exam pages for staff (tenant_admin): banks per position, the import (template, preview with
errors at their cell, commit), single questions (add, edit, disable); attempts with the times
the page was left (tenant_admin and reviewer). The learners' pages are in core.exams.controllers.
"""

from __future__ import annotations

import datetime as dt
import json
import logging

from litestar import Request, Response, get, post
from litestar.exceptions import NotFoundException

from core import tenant_time
from core.accounts.tables import Account
from core.audit.services import record
from core.courses.tables import Position
from core.db.scoped import scoped
from core.exams import paper, scoring
from core.exams import bank as banks
from core.exams.eligibility import active_question_count
from core.exams.tables import ExamAttempt, Question, QuestionBank
from core.exams.values import KINDS, LETTERS
from core.hookcalls import Hooks
from core.identity import mask_name
from core.kernel import Platform
from core.roster.spreadsheets import Limits, SpreadsheetRejected, read_table_async, write_xlsx
from core.roster.imports import keep_table, kept_table
from core.roster.tables import ImportJob
from core.tenancy import Tenant
from core.web import form_fields, redirect, render, roles

log = logging.getLogger("xueshi.exams")
STAFF = [roles("tenant_admin")]
REVIEWERS = [roles("tenant_admin", "reviewer")]
MAX_SHEET_BYTES = 5 * 1024 * 1024
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
IMPORT_KIND = "exam_bank"


def _limits() -> Limits:
    return Limits(max_bytes=MAX_SHEET_BYTES, max_rows=banks.MAX_QUESTIONS_PER_IMPORT)


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
    return await render(request, "exams/admin_banks.html", {"rows": rows, "rules": tenant.rules.exam})


@get("/admin/exams/template.xlsx", guards=STAFF)
async def bank_template() -> Response:
    return Response(content=write_xlsx(banks.HEADERS, banks.template_rows()), media_type=XLSX_TYPE,
                    headers={"Content-Disposition": "attachment; filename=question_bank_template.xlsx"})


async def _bank_page(request: Request, tenant: Tenant, position: Position, status_code: int = 200,
                     errors: dict | None = None, values: dict | None = None, notice: str = "") -> Response:
    bank = await scoped(QuestionBank, tenant).objects(QuestionBank.position == position.id).first()
    questions = await scoped(Question, tenant).objects(Question.bank == bank.id).order_by(Question.id) if bank else []
    return await render(request, "exams/admin_bank.html",
                        {"position": position, "questions": questions, "kinds": KINDS, "letters": LETTERS,
                         "errors": errors or {}, "values": values or {"kind": "single", "points": "1"},
                         "notice": notice or request.query_params.get("notice", ""),
                         "needed": tenant.rules.exam.questions}, status_code=status_code)


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
    return await render(request, "exams/admin_import.html",
                        {"error": error, "preview": preview, "job": job, "columns": banks.COLUMNS,
                         "position": position}, status_code=400 if error else 200)


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
    form = await form_fields(request)
    if job.status == "done":
        return redirect(request, f"/admin/exams/positions/{position.id}")
    if preview.error_rows and form.get("skip_errors") != "1":
        return await render(request, "exams/admin_import.html",
                            {"preview": preview, "job": job, "columns": banks.COLUMNS, "position": position,
                             "error": f"文件中有 {len(preview.error_rows)} 行错误，请修改后重新上传，或勾选“忽略错误行，仅导入正确的行”"},
                            status_code=400)
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
    form = await form_fields(request)
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
    return await render(request, "exams/admin_question.html",
                        {"question": question, "position": position, "kinds": KINDS, "letters": LETTERS,
                         "errors": errors or {}, "values": values or banks.question_form(question)},
                        status_code=status_code)


@get("/admin/exams/questions/{question_id:int}", guards=STAFF)
async def question_page(request: Request, tenant: Tenant, question_id: int) -> Response:
    return await _question_page(request, tenant, await scoped(Question, tenant).get_or_404(question_id))


@post("/admin/exams/questions/{question_id:int}", guards=STAFF)
async def question_save(request: Request, tenant: Tenant, account: Account, question_id: int) -> Response:
    """Edit a question. Papers already drawn keep their points; a finished attempt's score never
    changes (it was computed at submission)."""
    question = await scoped(Question, tenant).get_or_404(question_id)
    form = await form_fields(request)
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
             "started": tenant_time.format_datetime(a.started_at, tenant_time.zone(tenant))} for a in attempts]
    return await render(request, "exams/admin_attempts.html", {"rows": rows})


ROUTES = [banks_page, bank_template, bank_page, bank_upload, bank_commit, question_add, question_page, question_save,
          question_toggle, attempts_page]
