"""Question banks: the template, an upload's preview with every error at its cell, the commit
(error rows only when skipped; a second import updates instead of duplicating), hostile files,
single questions (add, edit, disable) and the demo banks."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from urllib.parse import unquote

import pytest

from core.courses import services as courses
from core.exams import bank as banks
from core.exams import eligibility
from core.exams.checks import preview_sheets
from core.exams.mapping import propose
from core.exams.tables import Question, QuestionBank
from core.roster.spreadsheets import read_sheets, write_xlsx
from core.testing import hostile

T = "/t/construction"
DEMO = Path(__file__).resolve().parents[1] / "plugins" / "construction_group" / "demo"
HEADERS = ["题型", "题干", "选项A", "选项B", "选项C", "选项D", "答案", "解析", "分值"]


def csv_bytes(rows: list[list[str]], headers=HEADERS) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows([headers, *rows])
    return out.getvalue().encode("utf-8")


@pytest.fixture
async def staff(client, platform, make_account):
    tenant = platform.tenants.get("construction")
    import secrets

    name = f"测试岗位{secrets.token_hex(3)}"
    position = (await courses.ensure_positions(tenant, [name]))[name]
    admin, password = await make_account("construction", role="tenant_admin")
    r = await client.signin("construction", "id", password, id_number=admin.id_number)
    assert r.status_code == 303
    return {"tenant": tenant, "position": position}


async def upload(client, position_id: int, data: bytes, name: str = "bank.csv"):
    """Upload a bank and open the preview it leads to (the mapping step as proposed)."""
    r = await client.post(f"{T}/admin/exams/positions/{position_id}/import",
                          files={"file": (name, data, "application/octet-stream")})
    if r.status_code != 303:
        return r
    return await client.get(r.headers["location"])


def cell(page: str, line: int, column: str) -> str:
    """The preview's cell of file line ``line`` and column key ``column``."""
    row = page.split(f'data-line="{line}"', 1)[1].split("</tr>", 1)[0]
    return row.split(f'data-col="{column}"', 1)[1].split("</td>", 1)[0]


def error_columns(page: str, line: int) -> set[str]:
    row = page.split(f'data-line="{line}"', 1)[1].split("</tr>", 1)[0]
    return set(re.findall(r'data-col="(\w+)" class="cell-error"', row))


BAD = [
    ["填空", "题型写错的题目", "甲", "乙", "", "", "A", "", "2"],                 # line 2: 题型
    ["多选", "多选只有一个答案", "甲", "乙", "丙", "", "A", "", "2"],               # line 3: 答案
    ["单选", "答案没有对应选项", "甲", "乙", "丙", "丁", "E", "", "2"],             # line 4: 答案
    ["单选", "选项不连续", "甲", "", "丙", "", "A", "", "2"],                     # line 5: 选项B
    ["判断", "判断题答案写错", "", "", "", "", "是的", "", "2"],                  # line 6: 答案
    ["单选", "分值为负数", "甲", "乙", "", "", "B", "", "-1"],                    # line 7: 分值
    ["单选", "", "甲", "乙", "", "", "B", "", "2"],                             # line 8: 题干
    ["单选", "一道正确的单选题", "甲", "乙", "丙", "", "b", "解析", "2"],            # line 9: fine
    ["多选", "一道正确的多选题", "甲", "乙", "丙", "丁", "A, C，D", "", ""],         # line 10: fine, 分值 1
    ["判断", "一道正确的判断题", "", "", "", "", "错", "", "1.5"],                 # line 11: fine
    ["单选", "一道正确的单选题", "甲", "乙", "", "", "A", "", "2"],                # line 12: repeated 题干
    ["单选", "单选有两个答案", "甲", "乙", "丙", "", "AB", "", "2"],               # line 13: 答案
]


async def test_the_preview_shows_every_error_at_its_cell_and_writes_nothing(client, staff):
    pid = staff["position"].id
    r = await upload(client, pid, csv_bytes(BAD))
    assert r.status_code == 200
    page = r.text
    assert '<b id="error-rows">9</b>' in page
    expected = {
        (2, "kind"): "题型“填空”无法识别",
        (3, "answer"): "多选题至少有两个正确答案",
        (4, "answer"): "答案中的 E 没有对应的选项",
        (5, "option_B"): "选项B为空：选项须从 A 起连续填写",
        (6, "answer"): "判断题答案“是的”无法识别",
        (7, "points"): "分值须为大于 0、不超过 100 的数字",
        (8, "stem"): "请填写题干",
        (12, "stem"): "与第 9 行的题干重复",
        (13, "answer"): "单选题只能有一个答案",
    }
    for (line, column), message in expected.items():
        text = cell(page, line, column)
        assert message in text, (line, column, text)
    for (line, column), _ in expected.items():
        assert error_columns(page, line) == {column}, line  # at that cell only
    for line in (9, 10, 11):
        assert error_columns(page, line) == set()
    assert not await QuestionBank.exists().where(QuestionBank.position == pid) or \
        await Question.count().where(Question.stem.like("一道正确的%")) == 0


async def test_commit_needs_skip_errors_then_imports_the_valid_rows_once(client, staff):
    pid = staff["position"].id
    page = (await upload(client, pid, csv_bytes(BAD))).text
    job = int(re.search(r"/admin/exams/import/(\d+)", page).group(1))
    refused = await client.post(f"{T}/admin/exams/import/{job}")
    assert refused.status_code == 400 and "文件中有 9 行错误" in refused.text
    bank = await QuestionBank.objects().where(QuestionBank.position == pid).first()
    assert await Question.count().where(Question.bank == bank.id) == 0
    r = await client.post(f"{T}/admin/exams/import/{job}", {"skip_errors": "1"})
    assert r.status_code == 303 and "新增 3 题" in unquote(r.headers["location"])
    rows = {q.stem: q for q in await Question.objects().where(Question.bank == bank.id)}
    assert set(rows) == {"一道正确的单选题", "一道正确的多选题", "一道正确的判断题"}
    assert (rows["一道正确的单选题"].kind, rows["一道正确的单选题"].answer, rows["一道正确的单选题"].options) == (
        "single", "B", "甲\n乙\n丙")
    assert (rows["一道正确的多选题"].answer, rows["一道正确的多选题"].points) == ("ACD", 1.0)
    assert (rows["一道正确的判断题"].kind, rows["一道正确的判断题"].answer, rows["一道正确的判断题"].points) == (
        "judge", "B", 1.5)
    # The same job again changes nothing; the same file again updates, never duplicates.
    await client.post(f"{T}/admin/exams/import/{job}", {"skip_errors": "1"})
    page = (await upload(client, pid, csv_bytes(BAD))).text
    assert "已有相同题干，将更新" in page
    job2 = int(re.search(r"/admin/exams/import/(\d+)", page).group(1))
    r = await client.post(f"{T}/admin/exams/import/{job2}", {"skip_errors": "1"})
    assert "更新 3 题" in unquote(r.headers["location"])
    assert await Question.count().where(Question.bank == bank.id) == 3


async def test_the_template_downloads_and_imports_cleanly(client, staff):
    r = await client.get(f"{T}/admin/exams/template.xlsx")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/vnd.openxmlformats")
    sheets = read_sheets(r.content, "t.xlsx")
    assert [s.name for s in sheets] == ["填写说明", "题目"]
    assert sheets[1].headers == banks.HEADERS and sheets[1].rows == []  # no example row that would import
    page = (await upload(client, staff["position"].id, r.content, "template.xlsx")).text
    # The instruction sheet is recognised as no questions; nothing is offered for commit.
    assert "此工作表不是题目" in page and 'id="commit"' not in page and 'id="nothing-to-import"' in page


async def test_an_xlsx_upload_is_read_like_a_csv(client, staff):
    data = write_xlsx(HEADERS, [["单选", "XLSX 里的题目", "甲", "乙", "", "", "A,", "", "2"]])
    page = (await upload(client, staff["position"].id, data, "bank.xlsx")).text
    assert '<b id="error-rows">0</b>' in page and "XLSX 里的题目" in page


@pytest.mark.parametrize("make, name, message", [
    (lambda: b"", "bank.csv", "文件是空的"),
    (lambda: b"PK\x03\x04broken", "bank.xlsx", "文件已损坏"),
    (lambda: hostile.xlsx_declaring_rows(30_000), "bank.xlsx", "表格范围过大"),
    (lambda: b"\xd0\xcf\x11\xe0" + b"\x00" * 100, "bank.xls", "不支持旧版 .xls 文件"),
    (lambda: csv_bytes([["单选", "题", "甲", "乙", "", "", "A", "", "1"]] * 10_001), "bank.csv", "10000 行的上限"),
])
async def test_hostile_or_wrong_files_get_a_chinese_message_never_a_500(client, staff, make, name, message):
    r = await upload(client, staff["position"].id, make(), name)
    assert r.status_code == 400 and message in r.text, r.text[:400]


async def test_staff_add_edit_and_disable_single_questions(client, staff):
    pid = staff["position"].id
    bad = await client.post(f"{T}/admin/exams/positions/{pid}/questions",
                            {"kind": "single", "stem": "新加的题", "option_A": "甲", "option_B": "乙", "answer": "C"})
    assert bad.status_code == 400 and "答案中的 C 没有对应的选项" in bad.text and 'value="新加的题"' not in bad.text
    assert "新加的题" in bad.text  # the form keeps what was typed
    ok = await client.post(f"{T}/admin/exams/positions/{pid}/questions",
                           {"kind": "single", "stem": "新加的题", "option_A": "甲", "option_B": "乙", "answer": "b",
                            "points": "2"})
    assert ok.status_code == 303
    q = await Question.objects().where(Question.stem == "新加的题").first()
    assert (q.kind, q.answer, q.active) == ("single", "B", True)
    dup = await client.post(f"{T}/admin/exams/positions/{pid}/questions",
                            {"kind": "judge", "stem": "新加的题", "answer": "对"})
    assert dup.status_code == 400 and "题库中已有相同题干的题目" in dup.text
    page = (await client.get(f"{T}/admin/exams/questions/{q.id}")).text
    assert 'value="甲"' in page and 'value="B"' in page
    edited = await client.post(f"{T}/admin/exams/questions/{q.id}",
                               {"kind": "judge", "stem": "改成判断题", "answer": "错", "points": "1"})
    assert edited.status_code == 303
    q = await Question.objects().where(Question.id == q.id).first()
    assert (q.kind, q.stem, q.answer, q.options) == ("judge", "改成判断题", "B", "")
    bad_edit = await client.post(f"{T}/admin/exams/questions/{q.id}", {"kind": "judge", "stem": "", "answer": "错"})
    assert bad_edit.status_code == 400 and "请填写题干" in bad_edit.text
    assert await eligibility.active_question_count(staff["tenant"], pid) == 1
    await client.post(f"{T}/admin/exams/questions/{q.id}/active")
    assert await eligibility.active_question_count(staff["tenant"], pid) == 0  # disabled: drawn no more
    assert "已停用" in (await client.get(f"{T}/admin/exams/positions/{pid}")).text
    await client.post(f"{T}/admin/exams/questions/{q.id}/active")
    assert await eligibility.active_question_count(staff["tenant"], pid) == 1


async def test_the_banks_page_lists_positions_and_counts(client, staff):
    page = (await client.get(f"{T}/admin/exams")).text
    assert "题库管理" in page and staff["position"].name in page and "下载题库模板" in page


def demo_preview(name: str):
    tables = read_sheets((DEMO / name).read_bytes(), name, banks.LIMITS)
    return preview_sheets(tables, [propose(t.headers, t.name) for t in tables])


@pytest.mark.parametrize("name, position", [("exam_bank_shigongyuan.csv", "施工员"), ("exam_bank_anquanyuan.csv", "安全员")])
def test_the_demo_banks_are_valid_and_large_enough(name, position):
    """At least 120 questions per position, so a paper of 50 rarely repeats the previous one."""
    preview = demo_preview(name)
    assert not preview.error_rows, [(r.line, r.errors) for r in preview.error_rows]
    kinds = {k: sum(1 for r in preview.rows if r.values["kind"] == k) for k in ("single", "multiple", "judge")}
    assert len(preview.rows) >= 120 and all(kinds.values()), kinds
    for r in preview.rows:
        if r.values["kind"] == "single":
            assert len(r.values["answer"]) == 1
        assert "（  ）" in r.values["stem"] or r.values["kind"] == "judge"
