"""Column mapping of a question-bank sheet: which header holds which field, and what its values mean.

Banks come written by other people and other tools: the stem under 题目内容, the answer under
正确答案（必填）, the type under 题目类型（0单选，1判断，2多选） with numeric codes, or no type column at
all on a sheet named 多选题. ``propose`` reads the headers (synonyms, hints in brackets, code
legends) and the sheet name into a ``SheetPlan``; the administrator confirms or changes it in the
preview, and the tenant's confirmed plan is proposed again for the next file with the same
headers (``signature``). Pure functions: no database, no web (they run in the spreadsheet worker).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

from core.exams.values import LETTERS

# Target fields, in the order the mapping step lists them; "" means the column is not imported.
FIELD_LABELS = {
    "kind": "题型", "stem": "题干", "options": "选项（一格内全部选项）",
    **{f"option_{c}": f"选项{c}" for c in LETTERS},
    "answer": "答案", "explanation": "解析", "points": "分值", "difficulty": "难度", "chapter": "章节/知识点",
    "active": "是否启用", "material": "阅读材料（共用题干）", "image": "图片",
}
REQUIRED = ("stem", "answer")

_SYNONYMS = {
    "kind": ["题型", "题目类型", "试题类型", "题类型", "类型", "题型名称", "题目题型", "type", "questiontype"],
    "stem": ["题干", "题目", "试题", "题目内容", "试题内容", "题干内容", "问题", "题目名称", "试题题干", "question",
             "title", "stem"],
    "options": ["选项", "选项内容", "全部选项", "备选项", "options"],
    "answer": ["答案", "正确答案", "标准答案", "参考答案", "正确选项", "answer", "correctanswer", "key"],
    "explanation": ["解析", "答案解析", "试题解析", "题目解析", "解释", "答题解析", "解题思路", "analysis",
                    "explanation"],
    "points": ["分值", "分数", "每题分值", "试题分值", "score", "points"],
    "difficulty": ["难度", "难易程度", "难易度", "试题难度", "题目难度", "difficulty", "level"],
    "chapter": ["章节", "知识点", "所属章节", "考点", "分类", "题目分类", "试题分类", "科目", "章节名称", "chapter",
                "category", "knowledgepoint"],
    "active": ["是否启用", "启用", "状态", "启用状态", "是否有效", "有效", "enabled", "active", "status"],
    "material": ["材料", "阅读材料", "共用题干", "案例", "案例背景", "背景材料", "案例材料", "material", "passage"],
    "image": ["图片", "题目图片", "试题图片", "图片文件", "图片名称", "图片文件名", "图片地址", "插图", "配图", "image",
              "picture"],
}
for _c in LETTERS:
    _SYNONYMS[f"option_{_c}"] = [f"选项{_c}", _c, f"{_c}选项", f"选项{_c}内容", f"答案{_c}", f"选择项{_c}",
                                 f"option{_c}", f"选项{LETTERS.index(_c) + 1}"]
_BY_NAME = {name.lower(): key for key, names in _SYNONYMS.items() for name in names}
# Headers known to carry something this import does not keep, with the reason shown for them.
_KNOWN_IGNORED = {("序号", "编号", "题号", "no", "id", "试题编号", "题目编号"): "序号只用于排列，不导入",
                  ("填空答案", "出题人", "创建时间", "备注"): "题库不保存此列"}
IGNORED_REASON = {name: reason for names, reason in _KNOWN_IGNORED.items() for name in names}

KIND_WORDS = {
    "single": ["单选", "单选题", "单项选择", "单项选择题", "单择题", "单选择题", "single", "singlechoice", "radio"],
    "multiple": ["多选", "多选题", "多项选择", "多项选择题", "不定项", "不定项选择", "不定项选择题", "multiple",
                 "multiplechoice", "checkbox"],
    "judge": ["判断", "判断题", "是非题", "对错题", "正误题", "judge", "truefalse", "tf"],
}
KIND_BY_WORD = {w: k for k, words in KIND_WORDS.items() for w in words}
TRUE_WORDS = {"对", "正确", "√", "✓", "✔", "是", "T", "TRUE", "Y", "YES", "A", "R", "RIGHT"}
FALSE_WORDS = {"错", "错误", "×", "✗", "✘", "X", "否", "F", "FALSE", "N", "NO", "B", "WRONG"}
ENABLED_WORDS = {"是", "启用", "有效", "正常", "1", "Y", "YES", "TRUE", "T", "√", "ON"}
DISABLED_WORDS = {"否", "停用", "禁用", "无效", "0", "N", "NO", "FALSE", "F", "×", "OFF"}

_BRACKETS = re.compile(r"[（(【\[<《]([^）)】\]>》]*)[）)】\]>》]?")
_LEGEND = re.compile(r"([0-9A-Za-z]{1,3})\s*[=:：\-—.、]?\s*(单选题?|多选题?|判断题?|不定项选择题?|不定项)")
_LEGEND_REVERSED = re.compile(r"(单选题?|多选题?|判断题?|不定项)\s*[=:：为是]\s*([0-9A-Za-z]{1,3})")


def plain(text: str) -> str:
    """A header or value without spaces, marks of requiredness and brackets' contents, lower case."""
    return re.sub(r"[\s*＊:：_\-.]", "", _BRACKETS.sub("", text)).lower()


def kind_word(text: str) -> str | None:
    """单选 / 单选题 / 单项选择题 / … → ``single``; None when the text is no known type."""
    return KIND_BY_WORD.get(plain(text))


def legend(header: str) -> dict[str, str]:
    """The code legend a header carries: "题型（0单选，1判断，2多选）" → {"0": "single", "1": "judge",
    "2": "multiple"}; also "单选=1"."""
    codes: dict[str, str] = {}
    for code, word in _LEGEND.findall(header):
        codes.setdefault(code.upper(), kind_word(word) or "")
    for word, code in _LEGEND_REVERSED.findall(header):
        codes.setdefault(code.upper(), kind_word(word) or "")
    return {c: k for c, k in codes.items() if k}


def sheet_kind(name: str) -> str:
    """The type a sheet's name gives (单选题, 多选题, 判断题, "Sheet-多选"), or ""."""
    text = name.strip()
    found = {k for k, words in KIND_WORDS.items() for w in words if len(w) >= 2 and w in text}
    return found.pop() if len(found) == 1 else ""


def signature(headers: list[str]) -> str:
    """The key under which a confirmed mapping is remembered: the headers as written, in order."""
    return hashlib.sha256("\x1f".join(h.strip() for h in headers).encode()).hexdigest()[:32]


@dataclass
class SheetPlan:
    """How one sheet is read: ``columns`` maps a header's index (as a string, for JSON) to a field
    ("" = ignored); ``values`` maps raw cell values to their meaning per field ("kind": code →
    single | multiple | judge; "judge": word → A (对) | B (错)); ``kind`` is the type of every row
    without a type of its own (from the sheet's name, or chosen), "" = told by the answer."""

    columns: dict[str, str] = field(default_factory=dict)
    values: dict[str, dict[str, str]] = field(default_factory=dict)
    kind: str = ""
    skip: bool = False  # the administrator chose not to import this sheet

    def to_json(self) -> dict:
        return {"columns": self.columns, "values": self.values, "kind": self.kind, "skip": self.skip}

    @classmethod
    def from_json(cls, raw: dict) -> SheetPlan:
        return cls(columns={str(k): str(v) for k, v in (raw.get("columns") or {}).items()},
                   values={str(f): {str(k): str(v) for k, v in m.items()} for f, m in (raw.get("values") or {}).items()},
                   kind=str(raw.get("kind") or ""), skip=bool(raw.get("skip")))

    def index_of(self, key: str) -> int | None:
        for index, target in self.columns.items():
            if target == key:
                return int(index)
        return None

    def used(self) -> set[str]:
        return {v for v in self.columns.values() if v}


def propose(headers: list[str], sheet_name: str = "", remembered: SheetPlan | None = None) -> SheetPlan:
    """The mapping offered for a sheet: a mapping the tenant confirmed for the same headers, else
    one read from the headers (the first header for a field wins; a legend gives the type's codes)."""
    kind = sheet_kind(sheet_name)
    if remembered is not None:
        return SheetPlan(columns=dict(remembered.columns), values={k: dict(v) for k, v in remembered.values.items()},
                         kind=kind)
    plan = SheetPlan(kind=kind)
    taken: set[str] = set()
    for i, header in enumerate(headers):
        key = _BY_NAME.get(plain(header), "")
        if key in taken:
            key = ""
        if key:
            taken.add(key)
        plan.columns[str(i)] = key
        if key == "kind" and (codes := legend(header)):
            plan.values["kind"] = codes
    if "options" in taken and any(k.startswith("option_") for k in taken):
        plan.columns = {i: ("" if k == "options" else k) for i, k in plan.columns.items()}
    return plan


def ignored_reason(header: str, plan: SheetPlan, index: int) -> str:
    """Why a column is not imported, in the administrator's words."""
    if not header.strip():
        return "没有表头"
    known = IGNORED_REASON.get(plain(header))
    if known:
        return known
    guess = _BY_NAME.get(plain(header))
    if guess and plan.index_of(guess) not in (None, index):
        return f"已有其他列作为“{FIELD_LABELS[guess]}”"
    return "未识别的列名，可在上方指定它对应的内容"


def kind_of(raw: str, plan: SheetPlan) -> str | None:
    """A cell of the type column as single | multiple | judge (None: unknown)."""
    text = raw.strip()
    mapped = plan.values.get("kind", {}).get(text.upper()) or plan.values.get("kind", {}).get(text)
    return mapped or kind_word(text)


def judge_of(raw: str, plan: SheetPlan) -> str:
    """A 判断 answer as A (对) or B (错), "" when unknown."""
    text = raw.strip()
    mapped = plan.values.get("judge", {}).get(text)
    if mapped in ("A", "B"):
        return mapped
    word = re.sub(r"[\s。.!！]", "", text).upper()
    return "A" if word in TRUE_WORDS else "B" if word in FALSE_WORDS else ""


def answer_letters(raw: str) -> str:
    """"A,B" / "AB" / "A、B" / "a b" / "A|B" → "AB" (anything else left for the checks to refuse)."""
    return re.sub(r"[\s,，、;；/|+＋]+", "", raw).upper()


def enabled_of(raw: str) -> bool | None:
    word = raw.strip().upper()
    if not word:
        return True
    return True if word in ENABLED_WORDS else False if word in DISABLED_WORDS else None


_OPTION_PREFIX = re.compile(r"^\s*([A-Ha-h])\s*[.．、:：)）\]]\s*")
_OPTION_SPLIT = re.compile(r"\s*(?:\n|\||｜|；|;|\s(?=[A-Ha-h]\s*[.．、:：)）]))\s*")


def split_options(cell: str) -> list[str]:
    """All options in one cell ("A.xxx|B.yyy", "A、xxx\\nB、yyy", "A.xxx B.yyy") → their texts."""
    parts = [p for p in _OPTION_SPLIT.split(cell.strip()) if p.strip()]
    return [_OPTION_PREFIX.sub("", p).strip() for p in parts]


def unknown_values(rows: list[list[str]], plan: SheetPlan, limit: int = 20) -> dict[str, list[str]]:
    """Distinct values the plan cannot read yet, for the value step: types and 判断 answers."""
    out: dict[str, list[str]] = {"kind": [], "judge": []}
    kind_at, answer_at = plan.index_of("kind"), plan.index_of("answer")
    for cells in rows:
        raw_kind = cells[kind_at].strip() if kind_at is not None and kind_at < len(cells) else ""
        kind = kind_of(raw_kind, plan) if raw_kind else plan.kind or None
        if raw_kind and kind is None and raw_kind not in out["kind"] and len(out["kind"]) < limit:
            out["kind"].append(raw_kind)
        raw_answer = cells[answer_at].strip() if answer_at is not None and answer_at < len(cells) else ""
        if (kind == "judge" and raw_answer and not judge_of(raw_answer, plan)
                and raw_answer not in out["judge"] and len(out["judge"]) < limit):
            out["judge"].append(raw_answer)
    return out


__all__ = ["FIELD_LABELS", "REQUIRED", "SheetPlan", "answer_letters", "enabled_of", "ignored_reason", "judge_of",
           "kind_of", "legend", "plain", "propose", "sheet_kind", "signature", "split_options", "unknown_values"]
