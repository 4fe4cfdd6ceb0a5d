"""Question banks: the import template, row checks with errors at their cell, preview, upsert.

The spreadsheet is read by ``core.roster.spreadsheets`` (bounded, off the event loop) and its
columns are found by Chinese header like the roster import. One row is one question:
题型 (单选 / 多选 / 判断), 题干, 选项A … 选项H, 答案 ("B", "ACD" or "A,C,D"; 判断: 对 / 错),
解析, 分值 (a relative weight, default 1: a paper scales its questions' 分值 to the total).
Importing a file again updates the questions with the same 题干 instead of adding copies.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path

from core.courses.services import ensure_positions
from core.courses.tables import Position
from core.db import write_transaction
from core.db.scoped import scoped
from core.exams.tables import Question, QuestionBank
from core.exams.values import JUDGE_OPTIONS, KIND_BY_LABEL, KINDS, LETTERS
from core.roster.imports import CheckedRows, PreviewRow, RosterColumn, RowError, map_columns
from core.roster.spreadsheets import Table, read_table_async
from core.tenancy import Tenant

MAX_STEM = 500
MAX_QUESTIONS_PER_IMPORT = 2000  # rows of one file (the spreadsheet reader's row limit)

COLUMNS = [
    RosterColumn("kind", "题型", True, ("题目类型",)),
    RosterColumn("stem", "题干", True, ("题目", "试题")),
    *[RosterColumn(f"option_{c}", f"选项{c}", False, (f"选项 {c}", c)) for c in LETTERS],
    RosterColumn("answer", "答案", True, ("正确答案", "标准答案")),
    RosterColumn("explanation", "解析", False, ("答案解析",)),
    RosterColumn("points", "分值", False, ("分数",)),
]
HEADERS = [c.header for c in COLUMNS]
TRUE_WORDS = {"对", "正确", "√", "✓", "是", "T", "TRUE", "Y", "A"}
FALSE_WORDS = {"错", "错误", "×", "✗", "否", "F", "FALSE", "N", "B"}


def template_rows() -> list[list[str]]:
    """Three example rows (one per type) for the downloadable template."""
    blank = [""] * 4  # 选项E–H
    return [
        ["单选", "施工现场临时用电工程应采用的系统是（  ）。", "TN-C 系统", "TN-S 系统", "TT 系统", "IT 系统",
         *blank, "B", "施工现场专用的电源中性点直接接地的低压电力系统，必须采用 TN-S 接零保护系统。", "2"],
        ["多选", "安全“三宝”是指（  ）。", "安全帽", "安全带", "安全网", "绝缘鞋", *blank, "ABC",
         "安全帽、安全带、安全网合称安全“三宝”。", "2"],
        ["判断", "特种作业人员必须经专门的安全技术培训并考核合格，取得操作资格证书后方可上岗作业。", "", "", "", "",
         *blank, "对", "", "2"],
    ]


@dataclass
class BankPreview(CheckedRows):
    rows: list[PreviewRow] = field(default_factory=list)


def _answer_letters(text: str) -> str:
    return re.sub(r"[\s,，、;；/|]+", "", text).upper()


def check_row(values: dict[str, str]) -> list[RowError]:
    """Normalise one row in place (``kind``, ``answer``, ``options``, ``points``) and return its
    errors, each at its column."""
    errors: list[RowError] = []
    kind = KIND_BY_LABEL.get(values.get("kind", "").strip())
    if kind is None:
        errors.append(RowError("kind", "题型须为“单选”“多选”或“判断”"))
    values["kind"] = kind or values.get("kind", "")
    stem = values.get("stem", "")
    if not stem:
        errors.append(RowError("stem", "请填写题干"))
    elif len(stem) > MAX_STEM:
        errors.append(RowError("stem", f"题干过长（不超过 {MAX_STEM} 个字）"))
    options: list[str] = []
    if kind in ("single", "multiple"):
        filled = [c for c in LETTERS if values.get(f"option_{c}")]
        count = LETTERS.index(filled[-1]) + 1 if filled else 0
        for c in LETTERS[:count]:
            if not values.get(f"option_{c}"):
                errors.append(RowError(f"option_{c}", f"选项{c}为空：选项须从 A 起连续填写"))
        options = [values.get(f"option_{c}", "") for c in LETTERS[:count]]
        if count < 2:
            errors.append(RowError("option_B" if count == 1 else "option_A", "请至少填写两个选项"))
        for c, text in zip(LETTERS, options):
            if "\n" in text:
                errors.append(RowError(f"option_{c}", "选项内容不能换行"))
    values["options"] = "\n".join(options)
    raw = values.get("answer", "")
    values["answer_input"] = raw  # as written (the preview shows it next to its error)
    answer = ""
    if not raw:
        errors.append(RowError("answer", "请填写答案"))
    elif kind == "judge":
        word = raw.strip().upper()
        answer = "A" if word in TRUE_WORDS else "B" if word in FALSE_WORDS else ""
        if not answer:
            errors.append(RowError("answer", "判断题答案须为“对”或“错”"))
    elif kind in ("single", "multiple"):
        letters = _answer_letters(raw)
        if not letters or any(c not in LETTERS for c in letters):
            errors.append(RowError("answer", f"答案“{raw[:20]}”无效：请填写选项字母，如 B 或 ACD"))
        elif any(c not in LETTERS[: len(options)] for c in letters):
            missing = "".join(sorted({c for c in letters if c not in LETTERS[: len(options)]}))
            errors.append(RowError("answer", f"答案中的 {missing} 没有对应的选项"))
        elif len(set(letters)) != len(letters):
            errors.append(RowError("answer", "答案中有重复的字母"))
        elif kind == "single" and len(letters) != 1:
            errors.append(RowError("answer", "单选题只能有一个答案"))
        elif kind == "multiple" and len(letters) < 2:
            errors.append(RowError("answer", "多选题至少有两个正确答案"))
        else:
            answer = "".join(sorted(letters))
    values["answer"] = answer
    points = values.get("points", "") or "1"
    try:
        number = float(points)
        if not 0 < number <= 100:
            raise ValueError
        values["points"] = f"{number:g}"
    except ValueError:
        errors.append(RowError("points", "分值须为大于 0、不超过 100 的数字"))
    return errors


def preview_table(table: Table) -> BankPreview:
    """Every row of an uploaded bank with its errors; writes nothing. Repeated 题干 in the file
    is an error at the later row."""
    mapping = map_columns(table.headers, COLUMNS)
    out = BankPreview()
    seen: dict[str, int] = {}
    for line, cells in table.rows:
        values = {c.key: (cells[mapping[c.key]].strip() if c.key in mapping and mapping[c.key] < len(cells) else "")
                  for c in COLUMNS}
        row = PreviewRow(line, values, check_row(values))
        if values["stem"]:
            first = seen.setdefault(values["stem"], line)
            if first != line:
                row.errors.append(RowError("stem", f"与第 {first} 行的题干重复"))
        out.rows.append(row)
    return out


async def bank_for(tenant: Tenant, position: Position) -> QuestionBank:
    """The position's bank (made on first use)."""
    banks = scoped(QuestionBank, tenant)
    bank = await banks.objects(QuestionBank.position == position.id).first()
    if bank is None:
        bank = banks.new(position=position.id, name=f"{position.name}题库", created_at=dt.datetime.now(dt.UTC))
        await bank.save()
    return bank


async def mark_existing(tenant: Tenant, bank: QuestionBank, preview: BankPreview) -> None:
    stems = {q["stem"] for q in await scoped(Question, tenant).select(Question.stem).where(Question.bank == bank.id)}
    for row in preview.rows:
        row.existing = row.values.get("stem") in stems




async def commit(tenant: Tenant, bank: QuestionBank, rows: list[dict[str, str]]) -> dict[str, int]:
    """Add the rows' questions to the bank; a question with the same 题干 is updated (and made
    active again) instead. One transaction."""
    counts = {"created": 0, "updated": 0}
    now = dt.datetime.now(dt.UTC)
    async with write_transaction(Question):
        existing = {q.stem: q for q in await scoped(Question, tenant).objects(Question.bank == bank.id)}
        new = []
        for v in rows:
            fields = {"kind": v["kind"], "options": v["options"], "answer": v["answer"],
                      "explanation": v.get("explanation", ""), "points": float(v["points"])}
            old = existing.get(v["stem"])
            if old is None:
                new.append(scoped(Question, tenant).new(bank=bank.id, stem=v["stem"], active=True, created_at=now,
                                                        updated_at=now, **fields))
                counts["created"] += 1
            else:
                await scoped(Question, tenant).update({**{getattr(Question, k): val for k, val in fields.items()},
                                                       Question.active: True, Question.updated_at: now}).where(
                    Question.id == old.id)
                counts["updated"] += 1
        for i in range(0, len(new), 200):
            await Question.insert(*new[i:i + 200])
    return counts


def form_values(form: dict[str, str]) -> dict[str, str]:
    """A question from the staff form, in the import's keys (so the same checks apply)."""
    label = KINDS.get(form.get("kind", ""), form.get("kind", ""))
    return {"kind": label, "stem": form.get("stem", ""), "answer": form.get("answer", ""),
            "explanation": form.get("explanation", ""), "points": form.get("points", ""),
            **{f"option_{c}": form.get(f"option_{c}", "") for c in LETTERS}}


def question_form(question: Question) -> dict[str, str]:
    """A stored question as the staff form's values."""
    options = question.options.split("\n") if question.kind != "judge" else []
    answer = ({"A": "对", "B": "错"}.get(question.answer, "") if question.kind == "judge" else question.answer)
    points = f"{question.points:g}"
    return {"kind": question.kind, "stem": question.stem, "answer": answer, "explanation": question.explanation,
            "points": points, **{f"option_{c}": (options[i] if i < len(options) else "") for i, c in enumerate(LETTERS)}}


__all__ = ["COLUMNS", "HEADERS", "BankPreview", "JUDGE_OPTIONS", "bank_for", "check_row", "commit", "mark_existing",
           "preview_table", "template_rows"]


async def seed_bank(tenant: Tenant, position: str, path) -> str:
    """A demo bank from a CSV or XLSX file in the template's format, through the same checks as
    an upload (a row with an error stops the seed: demo data must be right). Idempotent: the
    questions are upserted by 题干. Returns a line for the demo's printout."""
    data = Path(path).read_bytes()
    preview = preview_table(await read_table_async(data, Path(path).name, None))
    if preview.error_rows:
        row = preview.error_rows[0]
        raise ValueError(f"{path}: line {row.line}: {[e.message for e in row.errors]}")
    row = (await ensure_positions(tenant, [position]))[position]
    bank = await bank_for(tenant, row)
    counts = await commit(tenant, bank, [r.values for r in preview.rows])
    return f"题库 {position}：{len(preview.rows)} 道题（新增 {counts['created']}）"
