"""The mapping's readings on their own (core.exams.mapping, core.exams.checks): header synonyms and
hints, code legends, sheet names, option cells, and the values a bank writes its answers in."""

from __future__ import annotations

import pytest

from core.exams.checks import check_row, read_row
from core.exams.mapping import SheetPlan, answer_letters, legend, propose, sheet_kind, split_options


def test_headers_with_hints_and_synonyms_are_proposed():
    plan = propose(["题干（必填）", "*题型", "选项 A", "B", "选项3", "正确答案(必填)", "答案解析", "知识点", "备注"])
    assert [plan.columns[str(i)] for i in range(9)] == [
        "stem", "kind", "option_A", "option_B", "option_C", "answer", "explanation", "chapter", ""]
    # The first column for a field wins; a second is left for the administrator.
    assert propose(["题目", "试题", "答案"]).columns == {"0": "stem", "1": "", "2": "answer"}


@pytest.mark.parametrize("header, codes", [
    ("题目类型（0单选，1判断，2多选）", {"0": "single", "1": "judge", "2": "multiple"}),
    ("题型(1=单选题 2=多选题 3=判断题)", {"1": "single", "2": "multiple", "3": "judge"}),
    ("题型【单选:A，多选:B，判断:C】", {"A": "single", "B": "multiple", "C": "judge"}),
    ("题型", {}),
])
def test_a_legend_in_the_header_is_the_types_value_map(header, codes):
    assert legend(header) == codes
    assert propose([header, "题干", "答案"]).values.get("kind", {}) == codes


@pytest.mark.parametrize("name, kind", [("单选题", "single"), ("Sheet-多选", "multiple"), ("判断题（30道）", "judge"),
                                        ("不定项选择题", "multiple"), ("Sheet1", ""), ("选择题", "")])
def test_a_sheets_name_gives_its_type(name, kind):
    assert sheet_kind(name) == kind


@pytest.mark.parametrize("cell, options", [
    ("A.甲\nB.乙\nC.丙", ["甲", "乙", "丙"]),
    ("A、甲|B、乙", ["甲", "乙"]),
    ("A. 甲 B. 乙 C. 丙 D. 丁", ["甲", "乙", "丙", "丁"]),
    ("A：甲；B：乙", ["甲", "乙"]),
])
def test_options_in_one_cell_are_split(cell, options):
    assert split_options(cell) == options


@pytest.mark.parametrize("raw", ["A,C", "AC", "A、C", "a c", "A|C", "A；C", "A+C"])
def test_multiple_answers_however_written(raw):
    assert answer_letters(raw) == "AC"


def _row(**cells):
    headers = ["题型", "题干", "选项A", "选项B", "选项C", "答案", "是否启用"]
    keys = ["kind", "stem", "option_A", "option_B", "option_C", "answer", "active"]
    plan = propose(headers)
    values = read_row([cells.get(k, "") for k in keys], plan)
    return values, check_row(values, plan)


@pytest.mark.parametrize("word, answer", [("对", "A"), ("√", "A"), ("T", "A"), ("正确", "A"), ("是", "A"),
                                          ("错", "B"), ("×", "B"), ("F", "B"), ("错误", "B"), ("否", "B")])
def test_true_false_answers(word, answer):
    values, errors = _row(kind="判断", stem="判断", answer=word)
    assert not errors and values["answer"] == answer


def test_without_a_type_the_answer_tells_it_but_a_lone_letter_needs_options():
    values, errors = _row(stem="无题型的判断", answer="√")
    assert not errors and (values["kind"], values["answer"]) == ("judge", "A")
    values, errors = _row(stem="无题型的多选", option_A="甲", option_B="乙", option_C="丙", answer="A、C")
    assert not errors and (values["kind"], values["answer"]) == ("multiple", "AC")
    # "B" with no options is a choice question whose options are missing, not a 判断 answered 错.
    values, errors = _row(stem="缺选项的单选", answer="B")
    assert values["kind"] == "single" and {e.column for e in errors} == {"option_A", "answer"}


@pytest.mark.parametrize("flag, active, ok", [("", "1", True), ("是", "1", True), ("启用", "1", True), ("0", "0", True),
                                              ("停用", "0", True), ("否", "0", True), ("也许", "1", False)])
def test_the_enabled_flag(flag, active, ok):
    values, errors = _row(kind="判断", stem="启用标记", answer="对", active=flag)
    assert values["active"] == active and (not errors) == ok


def test_a_value_the_administrator_explains():
    plan = SheetPlan(columns={"0": "kind", "1": "stem", "2": "answer"}, values={"kind": {"9": "judge"},
                                                                                 "judge": {"没错": "A"}})
    values = read_row(["9", "自定义代码", "没错"], plan)
    assert not check_row(values, plan) and (values["kind"], values["answer"]) == ("judge", "A")
