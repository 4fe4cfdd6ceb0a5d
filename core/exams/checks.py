"""Reading and checking a bank's rows: one sheet's cells through its ``SheetPlan`` into a question,
each error at its column, and the preview of a whole workbook (every sheet, what is used, what is
ignored and why). Pure functions: ``preview_sheets`` runs in the spreadsheet worker process.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from core.exams.mapping import (
    FIELD_LABELS, REQUIRED, SheetPlan, answer_letters, enabled_of, ignored_reason, judge_of, kind_of,
    split_options, unknown_values,
)
from core.exams.values import KINDS, LETTERS
from core.roster.imports import CheckedRows, PreviewRow, RowError
from core.roster.spreadsheets import Table

MAX_STEM = 500
MAX_OPTION = 500
MAX_TEXT = 2000  # 解析, 阅读材料
MAX_CHAPTER = 100
MAX_DIFFICULTY = 20
PREVIEW_VALID_ROWS = 50  # valid rows shown per sheet
PREVIEW_ERROR_ROWS = 200  # refused rows shown per sheet (the counts cover them all)
FIELDS = ("kind", "stem", "options", *[f"option_{c}" for c in LETTERS], "answer", "explanation", "points",
          "difficulty", "chapter", "active", "material", "image")


def _cell(cells: list[str], index: int | None) -> str:
    return cells[index].strip() if index is not None and index < len(cells) else ""


def read_row(cells: list[str], plan: SheetPlan) -> dict[str, str]:
    """The row's cells by field, as written (options of an all-in-one cell split into A, B, …)."""
    values = {key: "" for key in FIELDS}
    for index, key in plan.columns.items():
        if key in values and not values[key]:
            values[key] = _cell(cells, int(index))
    if values["options"] and not any(values[f"option_{c}"] for c in LETTERS):
        for c, text in zip(LETTERS, split_options(values["options"])):
            values[f"option_{c}"] = text
    return values


def _kind(values: dict[str, str], plan: SheetPlan, errors: list[RowError]) -> str:
    raw = values.get("kind", "")
    if raw:
        kind = kind_of(raw, plan)
        if kind is None:
            errors.append(RowError("kind", f"题型“{raw[:20]}”无法识别：应为单选、多选或判断（代码请在上方“题型的值”中指定）"))
        return kind or ""
    if plan.kind:
        return plan.kind
    answer = values.get("answer", "")
    has_options = any(values.get(f"option_{c}") for c in LETTERS)
    if answer and not has_options and answer_letters(answer) not in ("A", "B") and judge_of(answer, plan):
        return "judge"  # 对 / √ / T …; a lone A or B without options is a choice question missing them
    letters = answer_letters(answer)
    if letters and all(c in LETTERS for c in letters):
        return "single" if len(letters) == 1 else "multiple"
    errors.append(RowError("kind", "没有题型：请添加题型列，或用工作表名（单选题、多选题、判断题）说明"))
    return ""


def _image(values: dict[str, str], images: dict[str, str], errors: list[RowError]) -> None:
    """The row's picture reference → ``image_digest`` (the cleaned picture kept with the upload)."""
    ref = values.get("image", "")
    if not ref:
        return
    found = images.get(ref, "")
    if found.startswith("!"):
        errors.append(RowError("image", found[1:]))
    elif not found:
        errors.append(RowError("image", f"图片“{ref[:40]}”不在上传的文件中：按文件名导入图片时，请把表格和图片一起压缩为 .zip 上传"))
    else:
        values["image_digest"] = found


def check_row(values: dict[str, str], plan: SheetPlan | None = None,
              images: dict[str, str] | None = None) -> list[RowError]:
    """Normalise one row in place (``kind``, ``answer``, ``options``, ``points``, ``active``) and
    return its errors, each at its column. ``plan`` gives the sheet's type and value meanings (the
    staff form passes none); ``images`` what the upload's picture references are
    (``Table.images``)."""
    plan = plan or SheetPlan()
    errors: list[RowError] = []
    _image(values, images or {}, errors)
    kind = _kind(values, plan, errors)
    values["kind"] = kind
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
            elif len(text) > MAX_OPTION:
                errors.append(RowError(f"option_{c}", f"选项过长（不超过 {MAX_OPTION} 个字）"))
    values["options"] = "\n".join(options)
    raw = values.get("answer", "")
    values["answer_input"] = raw  # as written (the preview shows it next to its error)
    values["answer"] = _answer(raw, kind, len(options), plan, errors)
    _points(values, errors)
    for key, limit, label in (("explanation", MAX_TEXT, "解析"), ("material", MAX_TEXT, "阅读材料"),
                              ("chapter", MAX_CHAPTER, "章节/知识点"), ("difficulty", MAX_DIFFICULTY, "难度")):
        if len(values.get(key, "")) > limit:
            errors.append(RowError(key, f"{label}过长（不超过 {limit} 个字）"))
    enabled = enabled_of(values.get("active", ""))
    if enabled is None:
        errors.append(RowError("active", f"是否启用“{values['active'][:10]}”无法识别：请填写 是 或 否"))
    values["active"] = "0" if enabled is False else "1"
    return errors


def _answer(raw: str, kind: str, option_count: int, plan: SheetPlan, errors: list[RowError]) -> str:
    if not raw:
        errors.append(RowError("answer", "请填写答案"))
        return ""
    if kind == "judge":
        answer = judge_of(raw, plan)
        if not answer:
            errors.append(RowError("answer", f"判断题答案“{raw[:10]}”无法识别：应为 对/错（也可 √/×、T/F、正确/错误）"))
        return answer
    if kind not in ("single", "multiple"):
        return ""
    letters = answer_letters(raw)
    if not letters or any(c not in LETTERS for c in letters):
        errors.append(RowError("answer", f"答案“{raw[:20]}”无效：请填写选项字母，如 B 或 ACD"))
    elif any(c not in LETTERS[:option_count] for c in letters):
        missing = "".join(sorted({c for c in letters if c not in LETTERS[:option_count]}))
        errors.append(RowError("answer", f"答案中的 {missing} 没有对应的选项"))
    elif len(set(letters)) != len(letters):
        errors.append(RowError("answer", "答案中有重复的字母"))
    elif kind == "single" and len(letters) != 1:
        errors.append(RowError("answer", "单选题只能有一个答案"))
    elif kind == "multiple" and len(letters) < 2:
        errors.append(RowError("answer", "多选题至少有两个正确答案"))
    else:
        return "".join(sorted(letters))
    return ""


def _points(values: dict[str, str], errors: list[RowError]) -> None:
    text = re.sub(r"\s*分$", "", values.get("points", "")) or "1"
    try:
        number = float(text)
        if not 0 < number <= 100:
            raise ValueError
        values["points"] = f"{number:g}"
    except ValueError:
        errors.append(RowError("points", "分值须为大于 0、不超过 100 的数字"))


def form_values(form: dict[str, str]) -> dict[str, str]:
    """A question from the staff form, in the import's keys (so the same checks apply)."""
    kind = form.get("kind", "")
    return {"kind": KINDS.get(kind, kind), "stem": form.get("stem", ""), "answer": form.get("answer", ""),
            "explanation": form.get("explanation", ""), "points": form.get("points", ""),
            "difficulty": form.get("difficulty", ""), "chapter": form.get("chapter", ""),
            "material": form.get("material", ""), "active": "1",
            **{f"option_{c}": form.get(f"option_{c}", "") for c in LETTERS}}


@dataclass
class SheetPreview(CheckedRows):
    """One sheet as it would import: the plan, which columns are used and which ignored (and why),
    every row with its errors, and the values the plan cannot read yet."""

    name: str
    headers: list[str]
    plan: SheetPlan
    rows: list[PreviewRow] = field(default_factory=list)
    used: list[tuple[int, str, str]] = field(default_factory=list)  # (index, header, field)
    ignored: list[tuple[int, str, str]] = field(default_factory=list)  # (index, header, reason)
    missing: list[str] = field(default_factory=list)  # required fields without a column
    unknown: dict[str, list[str]] = field(default_factory=dict)

    @property
    def skipped(self) -> str:
        """Why nothing of this sheet imports ("" when its rows are checked)."""
        if self.plan.skip:
            return "已选择不导入此工作表"
        if len(self.missing) == len(REQUIRED):
            return "未找到题干和答案列，此工作表不是题目（如填写说明），不导入"
        if self.missing:
            return f"缺少必需的列：{'、'.join(FIELD_LABELS[m] for m in self.missing)}，请在上方指定对应的列"
        return ""

    @property
    def shown_rows(self) -> list[PreviewRow]:
        """The rows the preview lists: the first refused and the first valid ones, in file order."""
        keep = {id(r) for r in [r for r in self.rows if not r.errors][:PREVIEW_VALID_ROWS]}
        keep |= {id(r) for r in [r for r in self.rows if r.errors][:PREVIEW_ERROR_ROWS]}
        return [r for r in self.rows if id(r) in keep]

    @property
    def mapped(self) -> list[str]:
        """The fields the preview table shows, in the template's order (options split from one
        cell shown as their letters)."""
        used = self.plan.used()
        if "options" in used:
            widest = max((len(r.values.get("options", "").split("\n")) for r in self.rows), default=0)
            used = used | {f"option_{c}" for c in LETTERS[:widest]}
        return [key for key in FIELDS if key in used and key != "options"]


@dataclass
class WorkbookPreview:
    sheets: list[SheetPreview]

    @property
    def valid_rows(self) -> list[PreviewRow]:
        return [r for s in self.sheets if not s.skipped for r in s.valid_rows]

    @property
    def error_rows(self) -> list[PreviewRow]:
        return [r for s in self.sheets if not s.skipped for r in s.error_rows]

    @property
    def rows(self) -> list[PreviewRow]:
        return [r for s in self.sheets if not s.skipped for r in s.rows]


def preview_sheets(tables: list[Table], plans: list[SheetPlan]) -> WorkbookPreview:
    """Every sheet checked through its plan; writes nothing. A 题干 repeated anywhere in the
    workbook is an error at its later row."""
    out = WorkbookPreview([])
    seen: dict[str, str] = {}
    for table, plan in zip(tables, plans):
        sheet = SheetPreview(table.name, table.headers, plan)
        for i, header in enumerate(table.headers):
            key = plan.columns.get(str(i), "")
            if key:
                sheet.used.append((i, header, key))
            else:
                sheet.ignored.append((i, header, ignored_reason(header, plan, i)))
        sheet.missing = [key for key in REQUIRED if key not in plan.used()]
        out.sheets.append(sheet)
        if sheet.skipped:
            continue
        for line, cells in table.rows:
            values = read_row(cells, plan)
            row = PreviewRow(line, values, check_row(values, plan, table.images))
            if values["stem"]:
                where = f"{table.name}第 {line} 行" if table.name else f"第 {line} 行"
                first = seen.setdefault(values["stem"], where)
                if first != where:
                    row.errors.append(RowError("stem", f"与{first}的题干重复"))
            sheet.rows.append(row)
        sheet.unknown = unknown_values([cells for _, cells in table.rows], plan)
    return out
