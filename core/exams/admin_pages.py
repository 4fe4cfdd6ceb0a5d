"""Exam pages for staff (tenant_admin): banks per position with search and bulk disable / enable /
delete, single questions (add, edit, disable); attempts with the times the page was left
(tenant_admin and reviewer). The import's pages are in core.exams.import_pages, the learners' in
core.exams.controllers.
"""

from __future__ import annotations

import datetime as dt
import logging

from litestar import Request, Response, get, post

from core import tenant_time
from core.accounts.tables import Account
from core.audit.services import record
from core.courses.tables import Position
from core.db.scoped import scoped
from core.exams import import_pages, paper, scoring
from core.exams import bank as banks
from core.exams.eligibility import active_question_count
from core.exams.tables import ExamAnswer, ExamAttempt, Question, QuestionBank
from core.exams.values import KINDS, LETTERS
from core.hookcalls import Hooks
from core.identity import mask_name
from core.roster.imports import as_dict
from core.tenancy import Tenant
from core.web import form_fields, redirect, render, roles

log = logging.getLogger("xueshi.exams")
STAFF = [roles("tenant_admin")]
REVIEWERS = [roles("tenant_admin", "reviewer")]
PAGE_SIZE = 100  # questions listed per page of a bank


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


def _search(params) -> dict[str, str]:
    """The bank page's search: words in the 题干 or 章节, a type, enabled or disabled."""
    return {"q": (params.get("q") or "").strip()[:100], "kind": params.get("kind") if params.get("kind") in KINDS else "",
            "status": params.get("status") if params.get("status") in ("on", "off") else ""}


def _matching(bank: QuestionBank, search: dict[str, str]):
    where = Question.bank == bank.id
    if search["q"]:
        where &= Question.stem.like(f"%{search['q']}%") | Question.chapter.like(f"%{search['q']}%")
    if search["kind"]:
        where &= Question.kind == search["kind"]
    if search["status"]:
        where &= Question.active == (search["status"] == "on")
    return where


async def _bank_page(request: Request, tenant: Tenant, position: Position, status_code: int = 200,
                     errors: dict | None = None, values: dict | None = None, notice: str = "") -> Response:
    bank = await banks.bank_for(tenant, position)
    questions = scoped(Question, tenant)
    search = _search(request.query_params)
    try:
        page = max(1, int(request.query_params.get("page") or 1))
    except ValueError:
        page = 1
    where = _matching(bank, search)
    found = await questions.count(where)
    rows = await questions.objects(where).order_by(Question.id).offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE)
    return await render(request, "exams/admin_bank.html",
                        {"position": position, "questions": rows, "kinds": KINDS, "letters": LETTERS,
                         "errors": errors or {}, "values": values or {"kind": "single", "points": "1"},
                         "notice": notice or request.query_params.get("notice", ""), "search": search,
                         "found": found, "page": page, "pages": max(1, -(-found // PAGE_SIZE)), "first": (page - 1) * PAGE_SIZE,
                         "total": await questions.count(Question.bank == bank.id),
                         "imports": [(j, as_dict(j.summary)) for j in await banks.recent_imports(tenant, position)],
                         "active": await questions.count((Question.bank == bank.id) & (Question.active == True)),  # noqa: E712
                         "needed": tenant.rules.exam.questions}, status_code=status_code)


@get("/admin/exams/positions/{position_id:int}", guards=STAFF)
async def bank_page(request: Request, tenant: Tenant, position_id: int) -> Response:
    return await _bank_page(request, tenant, await _position_or_404(tenant, position_id))


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
        Question.difficulty: values.get("difficulty", ""), Question.chapter: values.get("chapter", ""),
        Question.material: values.get("material", ""),
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


@post("/admin/exams/positions/{position_id:int}/questions/bulk", guards=STAFF)
async def questions_bulk(request: Request, tenant: Tenant, account: Account, position_id: int) -> Response:
    """Disable, enable or delete the ticked questions (or every question the search finds). A
    question already drawn into a paper is disabled instead of deleted: its attempts keep it."""
    position = await _position_or_404(tenant, position_id)
    bank = await banks.bank_for(tenant, position)
    form = await request.form()
    action = form.get("action")
    questions = scoped(Question, tenant)
    if form.get("all_matching") == "1":
        where = _matching(bank, _search(form))
    else:
        ids = [int(i) for i in form.getall("ids", []) if str(i).isdigit()][:10_000]
        where = (Question.bank == bank.id) & Question.id.is_in(ids or [0])
    chosen = [q["id"] for q in await questions.select(Question.id).where(where)]
    if action not in ("disable", "enable", "delete") or not chosen:
        return redirect(request, f"/admin/exams/positions/{position.id}?notice=请先勾选题目，再选择操作")
    now = dt.datetime.now(dt.UTC)
    kept = 0
    if action == "delete":
        drawn = {a["question"] for a in await scoped(ExamAnswer, tenant).select(ExamAnswer.question).where(
            ExamAnswer.question.is_in(chosen)).distinct()}
        if drawn:
            await questions.update({Question.active: False, Question.updated_at: now}).where(
                Question.id.is_in(list(drawn)))
        gone = [i for i in chosen if i not in drawn]
        if gone:
            await questions.delete().where(Question.id.is_in(gone))
        kept = len(drawn)
        notice = f"已删除 {len(gone)} 题" + (f"；{kept} 题已被抽入过试卷，已停用而未删除" if kept else "")
    else:
        await questions.update({Question.active: action == "enable", Question.updated_at: now}).where(
            Question.id.is_in(chosen))
        notice = f"已{'启用' if action == 'enable' else '停用'} {len(chosen)} 题"
    await record(f"exam_question.bulk_{action}", tenant_id=tenant.id, actor_id=account.id, object_type="position",
                 object_id=position.id, count=len(chosen), kept=kept)
    return redirect(request, f"/admin/exams/positions/{position.id}?notice={notice}")


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


ROUTES = [banks_page, bank_page, question_add, question_page, question_save, question_toggle, questions_bulk,
          attempts_page, *import_pages.ROUTES]
