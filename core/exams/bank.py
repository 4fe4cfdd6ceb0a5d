"""Question banks: the import template, remembered mappings, the upsert, export and the demo seed.

A bank file is read sheet by sheet (``core.roster.spreadsheets.read_sheets``, bounded, in the
spreadsheet worker); each sheet's columns are mapped by ``core.exams.mapping`` and its rows
checked by ``core.exams.checks``. Importing a file again updates the questions with the same 题干
instead of adding copies. The export writes the template's format, so an exported bank imports
again unchanged.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from core.courses.services import ensure_positions
from core.courses.tables import Position
from core.db import write_transaction
from core.db.bulk import insert_many, update_many
from core.db.scoped import scoped
from core.exams.checks import WorkbookPreview, check_row, form_values, preview_sheets
from core.exams.mapping import SheetPlan, propose, signature
from core.exams.tables import BankMapping, Question, QuestionBank
from core.exams.values import KINDS, LETTERS
from core.offload import run_cpu
from core.roster.imports import BATCH_SIZE, RowError, as_dict
from core.roster.spreadsheets import Limits, Table, read_sheets
from core.roster.tables import ImportJob
from core.tenancy import Tenant

MAX_QUESTIONS_PER_IMPORT = 10_000  # rows of one file, all sheets together
MAX_FILE_BYTES = 10 * 1024 * 1024
LIMITS = Limits(max_bytes=MAX_FILE_BYTES, max_rows=MAX_QUESTIONS_PER_IMPORT, max_cell_chars=2000)

HEADERS = ["题型", "题干", *[f"选项{c}" for c in LETTERS], "答案", "解析", "分值", "难度", "章节", "是否启用",
           "阅读材料", "图片"]
QUESTION_SHEET = "题目"
INSTRUCTIONS = [
    ["列名", "是否必填", "填写说明"],
    ["题型", "否", "单选、多选或判断（也可写 单选题、单项选择题 等）；不填时按工作表名（单选题、多选题、判断题）或答案个数判断"],
    ["题干", "必填", "题目内容，不超过 500 字；同一题库中题干相同的题目，再次导入时更新原题"],
    ["选项A … 选项H", "单选、多选必填", "从选项A起连续填写，至少两个；判断题不填"],
    ["答案", "必填", "选项字母，如 B、ACD、A,C,D 或 A、C、D；判断题填 对/错（也可 √/×、T/F、正确/错误）"],
    ["解析", "否", "答案解析，不超过 2000 字"],
    ["分值", "否", "大于 0、不超过 100 的数字，不填为 1；试卷按分值比例折算为总分"],
    ["难度", "否", "如 易、中、难"],
    ["章节", "否", "章节或知识点，用于查找题目"],
    ["是否启用", "否", "是 或 否，不填为 是；停用的题目不会被抽到"],
    ["阅读材料", "否", "几道题共用的材料（案例、背景）：在这几道题的行中填写相同的内容，考试时显示在题干上方"],
    ["图片", "否", "题目的图片：把图片放在该题这一行的“图片”单元格中；或填写图片文件名（如 q12.png），"
                 "再把表格和图片文件一起压缩为 .zip 上传。支持 JPG、PNG、WEBP，每张不超过 5 MB"],
    ["", "", ""],
    ["说明", "", "在“题目”工作表中从第 2 行起每行填写一道题，每个工作表第一行为表头；"
                 "也可以每种题型一个工作表（工作表名为 单选题、多选题、判断题）。本说明页不会被导入。"],
    ["示例", "", "单选｜施工现场临时用电工程应采用的系统是（  ）。｜TN-C 系统｜TN-S 系统｜TT 系统｜IT 系统｜答案 B"],
    ["示例", "", "多选｜安全“三宝”是指（  ）。｜安全帽｜安全带｜安全网｜绝缘鞋｜答案 ABC"],
    ["示例", "", "判断｜特种作业人员必须持证上岗。｜答案 对"],
]


async def bank_for(tenant: Tenant, position: Position) -> QuestionBank:
    """The position's bank (made on first use)."""
    banks = scoped(QuestionBank, tenant)
    bank = await banks.objects(QuestionBank.position == position.id).first()
    if bank is None:
        bank = banks.new(position=position.id, name=f"{position.name}题库", created_at=dt.datetime.now(dt.UTC))
        await bank.save()
    return bank


async def remembered_plans(tenant: Tenant, tables: list[Table]) -> list[SheetPlan]:
    """Each sheet's proposed plan: the tenant's confirmed mapping for the same headers, else one
    read from its headers and name."""
    signatures = [signature(t.headers) for t in tables]
    rows = await scoped(BankMapping, tenant).objects(BankMapping.signature.is_in(signatures or [""]))
    known = {r.signature: SheetPlan.from_json(as_dict(r.plan)) for r in rows}
    return [propose(t.headers, t.name, known.get(s)) for t, s in zip(tables, signatures)]


async def remember_plans(tenant: Tenant, tables: list[Table], plans: list[SheetPlan]) -> None:
    """Keep the confirmed plans (columns and value meanings, not a sheet's own type or skip)."""
    now = dt.datetime.now(dt.UTC)
    for table, plan in zip(tables, plans):
        if plan.skip:
            continue
        key = signature(table.headers)
        kept = {"columns": plan.columns, "values": plan.values}
        mappings = scoped(BankMapping, tenant)
        async with write_transaction(BankMapping):
            if await mappings.exists(BankMapping.signature == key):
                await mappings.update({BankMapping.plan: kept, BankMapping.updated_at: now}).where(
                    BankMapping.signature == key)
            else:
                await mappings.new(signature=key, headers=table.headers, plan=kept, updated_at=now).save()


async def preview(tables: list[Table], plans: list[SheetPlan]) -> WorkbookPreview:
    """``checks.preview_sheets`` in the spreadsheet worker process (off the event loop)."""
    return await run_cpu("spreadsheet", preview_sheets, tables, plans)


async def mark_existing(tenant: Tenant, bank: QuestionBank, workbook: WorkbookPreview) -> None:
    stems = {q["stem"] for q in await scoped(Question, tenant).select(Question.stem).where(Question.bank == bank.id)}
    for row in workbook.rows:
        row.existing = row.values.get("stem") in stems


FIELDS = ("kind", "options", "answer", "explanation", "points", "difficulty", "chapter", "material", "active")


def _fields(v: dict[str, str]) -> tuple:
    """A checked row's stored values, in the order of ``FIELDS``."""
    return (v["kind"], v["options"], v["answer"], v.get("explanation", ""), float(v["points"]),
            v.get("difficulty", ""), v.get("chapter", ""), v.get("material", ""), v.get("active", "1") != "0")


async def upsert(tenant: Tenant, bank: QuestionBank, rows: list[dict[str, str]],
                 images: dict[str, int] | None = None) -> dict[str, int]:
    """Add one batch of checked rows to the bank; a question with the same 题干 is updated instead
    (and takes the row's 是否启用: enabled unless the row says 否). A row's picture (``image``: its
    digest) becomes the stored file ``images`` gives for it; a row without one keeps the question's
    picture. One query for the existing questions, then every insert and every update each in one
    driver call. Runs in the caller's transaction."""
    now = dt.datetime.now(dt.UTC)
    images = images or {}
    existing = {q["stem"]: q["id"] for q in await scoped(Question, tenant).select(Question.id, Question.stem).where(
        (Question.bank == bank.id) & Question.stem.is_in([v["stem"] for v in rows] or [""]))}
    new, changed, pictured = [], [], []
    for v in rows:
        fields = _fields(v)
        image = images.get(v.get("image_digest", ""))
        old = existing.get(v["stem"])
        if old is None:
            new.append((tenant.id, bank.id, v["stem"], *fields, image, now, now))
        elif image is None:
            changed.append((*fields, now, old))
        else:
            pictured.append((*fields, image, now, old))
    await insert_many(Question, ["tenant", "bank", "stem", *FIELDS, "image", "created_at", "updated_at"], new)
    await update_many(Question, [*FIELDS, "updated_at"], changed)
    await update_many(Question, [*FIELDS, "image", "updated_at"], pictured)
    return {"created": len(new), "updated": len(changed) + len(pictured)}


async def commit(tenant: Tenant, bank: QuestionBank, rows: list[dict[str, str]]) -> dict[str, int]:
    """``upsert`` in batches, all in one transaction (the staff form's question, the demo seed)."""
    counts = {"created": 0, "updated": 0}
    async with write_transaction(Question):
        for i in range(0, len(rows), BATCH_SIZE):
            for k, n in (await upsert(tenant, bank, rows[i:i + BATCH_SIZE])).items():
                counts[k] += n
    return counts


def question_form(question: Question) -> dict[str, str]:
    """A stored question as the staff form's values."""
    options = question.options.split("\n") if question.kind != "judge" else []
    answer = ({"A": "对", "B": "错"}.get(question.answer, "") if question.kind == "judge" else question.answer)
    return {"kind": question.kind, "stem": question.stem, "answer": answer, "explanation": question.explanation,
            "points": f"{question.points:g}", "difficulty": question.difficulty, "chapter": question.chapter,
            "material": question.material,
            **{f"option_{c}": (options[i] if i < len(options) else "") for i, c in enumerate(LETTERS)}}


def export_row(q: dict) -> list[str]:
    """One question in the template's columns (``HEADERS``)."""
    options = q["options"].split("\n") if q["kind"] != "judge" else []
    answer = {"A": "对", "B": "错"}.get(q["answer"], "") if q["kind"] == "judge" else q["answer"]
    return [KINDS.get(q["kind"], ""), q["stem"], *[options[i] if i < len(options) else "" for i in range(len(LETTERS))],
            answer, q["explanation"], f"{q['points']:g}", q["difficulty"], q["chapter"],
            "是" if q["active"] else "否", q["material"], ""]


async def recent_imports(tenant: Tenant, position: Position, limit: int = 5) -> list[ImportJob]:
    """The position's latest bank imports (previewed, running or done), newest first."""
    jobs = await scoped(ImportJob, tenant).objects(ImportJob.kind == "exam_bank").order_by(
        ImportJob.id, ascending=False).limit(200)
    return [j for j in jobs if int(as_dict(j.summary).get("position") or 0) == position.id][:limit]


async def export_rows(tenant: Tenant, bank: QuestionBank) -> list[list[str]]:
    rows = await scoped(Question, tenant).select(
        Question.kind, Question.stem, Question.options, Question.answer, Question.explanation, Question.points,
        Question.difficulty, Question.chapter, Question.active, Question.material, Question.image).where(
        Question.bank == bank.id).order_by(Question.id)
    return [export_row(q) for q in rows]


async def export_pictures(tenant: Tenant, bank: QuestionBank) -> dict[int, int]:
    """The bank's pictures for its export: row index (in ``export_rows``' order) → stored file id."""
    rows = await scoped(Question, tenant).select(Question.image).where(Question.bank == bank.id).order_by(Question.id)
    return {i: q["image"] for i, q in enumerate(rows) if q["image"] is not None}


async def seed_bank(tenant: Tenant, position: str, path) -> str:
    """A demo bank from a CSV or XLSX file, through the same reading and checks as an upload (a
    row with an error stops the seed: demo data must be right). Idempotent: the questions are
    upserted by 题干. Returns a line for the demo's printout."""
    data = Path(path).read_bytes()
    tables = await run_cpu("spreadsheet", read_sheets, data, Path(path).name, LIMITS)
    workbook = await preview(tables, [propose(t.headers, t.name) for t in tables])
    if workbook.error_rows:
        row = workbook.error_rows[0]
        raise ValueError(f"{path}: line {row.line}: {[e.message for e in row.errors]}")
    row = (await ensure_positions(tenant, [position]))[position]
    bank = await bank_for(tenant, row)
    counts = await commit(tenant, bank, [r.values for r in workbook.valid_rows])
    if counts["created"]:  # listed with the bank's imports, like an upload
        now = dt.datetime.now(dt.UTC)
        await scoped(ImportJob, tenant).new(
            kind="exam_bank", filename=Path(path).name, status="done", total_rows=len(workbook.rows),
            processed_rows=len(workbook.rows), summary={"position": row.id, **counts, "skipped": 0},
            created_at=now, finished_at=now).save()
    return f"题库 {position}：{len(workbook.valid_rows)} 道题（新增 {counts['created']}）"


__all__ = ["HEADERS", "LIMITS", "RowError", "bank_for", "check_row", "commit", "export_rows", "form_values",
           "mark_existing", "preview", "question_form", "remember_plans", "remembered_plans", "seed_bank", "upsert"]
