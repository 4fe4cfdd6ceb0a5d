"""Question banks as other people write them: five layouts modelled on public exam tools' import
templates and sample banks, each uploaded as it is, the proposed mapping confirmed as the browser
would post it (changed only where the file cannot say, as an administrator would in the mapping
step), and imported without a hand edit of the file. Then: the mapping remembered for the next
file with the same headers, a refused file offers nothing to commit, and a large bank imports as a
job with progress."""

from __future__ import annotations

import asyncio
import csv
import io
import re
import secrets
from html.parser import HTMLParser
from urllib.parse import unquote

import openpyxl
import pytest

from core.courses import services as courses
from core.exams import bank as banks
from core.exams.bank_jobs import INLINE_ROWS
from core.exams.tables import BankMapping, Question, QuestionBank
from core.roster.spreadsheets import SpreadsheetRejected, read_sheets
from exam_helpers import exam_learner, paper, start

T = "/t/construction"


class FormFields(HTMLParser):
    """The fields the mapping form posts as a browser would: hidden inputs, each select's selected
    option (else its first), ticked checkboxes."""

    def __init__(self):
        super().__init__()
        self.fields: dict[str, str] = {}
        self._select: str | None = None
        self._first = True

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "input" and a.get("name") and a.get("form") is None:
            if a.get("type") == "checkbox":
                if "checked" in a:
                    self.fields[a["name"]] = a.get("value", "on")
            elif a.get("type") != "file":
                self.fields[a["name"]] = a.get("value", "")
        elif tag == "select":
            self._select, self._first = a.get("name"), True
        elif tag == "option" and self._select:
            if self._first or "selected" in a:
                self.fields[self._select] = a.get("value", "")
            self._first = False

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None


def form_of(page: str) -> dict[str, str]:
    part = page.split('id="mapping-form"', 1)[1].split("</form>", 1)[0]
    parser = FormFields()
    parser.feed("<form " + part)
    return parser.fields


def xlsx(sheets: list[tuple[str, list[list[str]]]]) -> bytes:
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, rows in sheets:
        ws = wb.create_sheet(name)
        for row in rows:
            ws.append(row)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def csv_data(rows: list[list[str]], encoding: str = "utf-8") -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue().encode(encoding)


@pytest.fixture
async def staff(client, platform, make_account):
    tenant = platform.tenants.get("construction")
    name = f"版式岗位{secrets.token_hex(3)}"
    position = (await courses.ensure_positions(tenant, [name]))[name]
    admin, password = await make_account("construction", role="tenant_admin")
    assert (await client.signin("construction", "id", password, id_number=admin.id_number)).status_code == 303
    return {"tenant": tenant, "position": position}


async def upload(client, position_id: int, data: bytes, name: str) -> tuple[int, str]:
    r = await client.post(f"{T}/admin/exams/positions/{position_id}/import",
                          files={"file": (name, data, "application/octet-stream")})
    assert r.status_code == 303, r.text[:500]
    job = int(r.headers["location"].rsplit("/", 1)[1])
    return job, (await client.get(r.headers["location"])).text


async def confirm(client, job: int, fields: dict[str, str]):
    return await client.post(f"{T}/admin/exams/import/{job}", fields)


async def questions(position_id: int) -> dict[str, Question]:
    bank = await QuestionBank.objects().where(QuestionBank.position == position_id).first()
    return {q.stem: q for q in await Question.objects().where(Question.bank == bank.id)}


# 1. A question-practice app's template: required marks in brackets, 选项 A with a space,
#    types written 单选题, multiple answers "A,B,D", 判断 as 正确 / 错误, 章节 and 难度.
LAYOUT_HINTS = [["题干（必填）", "题型 （必填）", "选项 A", "选项 B", "选项 C", "选项 D", "选项 E", "正确答案（必填）",
                 "解析", "章节", "难度"],
                ["施工现场临时用电工程应采用（  ）系统。", "单选题", "TN-C", "TN-S", "TT", "IT", "", "B",
                 "专用变压器中性点直接接地的系统必须采用 TN-S。", "临时用电", "易"],
                ["安全“三宝”包括（  ）。", "多选题", "安全帽", "安全带", "安全网", "绝缘鞋", "护目镜", "A,B,C",
                 "", "个人防护", "中"],
                ["特种作业人员必须持证上岗。", "判断题", "", "", "", "", "", "正确", "", "特种作业", "易"],
                ["脚手架可以随意拆除连墙件。", "判断题", "", "", "", "", "", "错误", "", "脚手架", "中"]]

# 2. An exam system's export: the type as codes with their legend in the header, 题目内容, options
#    under bare letters, answers "A、C", 判断 as √ / ×, an enabled flag and a 序号 column.
LAYOUT_CODES = [["序号", "题目类型（0单选，1判断，2多选）", "题目内容", "A", "B", "C", "D", "标准答案", "答案解析", "分值",
                 "是否启用"],
                ["1", "0", "高处作业是指在坠落高度基准面（  ）m 及以上有可能坠落的高处进行的作业。", "1", "2", "3", "5", "B",
                 "GB/T 3608 规定为 2 m。", "2", "是"],
                ["2", "2", "悬挑式脚手架的悬挑梁可采用（  ）。", "型钢", "钢管", "毛竹", "工字钢", "A、D", "", "2", "是"],
                ["3", "1", "安全带应高挂低用。", "", "", "", "", "√", "", "1", "是"],
                ["4", "1", "氧气瓶与乙炔瓶的间距可以小于 5 m。", "", "", "", "", "×", "", "1", "否"]]


def layout_sheets() -> bytes:
    """3. A workbook with one sheet per type (no type column), an instruction sheet and an empty
    sheet; 判断 answers T / F."""
    head = ["序号", "题目", "选项A", "选项B", "选项C", "选项D", "答案"]
    return xlsx([
        ("说明", [["题库说明"], ["每种题型一个工作表，第一行为表头。"]]),
        ("单选题", [head, ["1", "混凝土浇筑后应在（  ）小时内覆盖保湿养护。", "4", "12", "24", "48", "B"],
                    ["2", "砌筑砂浆应随拌随用，常温下应在（  ）小时内用完。", "1", "3", "6", "8", "B"]]),
        ("多选题", [head, ["1", "模板拆除的顺序应为（  ）。", "先支后拆", "后支先拆", "先拆非承重", "先拆承重", "ABC"]]),
        ("判断题", [["序号", "题目", "答案"], ["1", "卷材防水层可以在雨天施工。", "F"],
                    ["2", "隐蔽工程在隐蔽前应通知监理验收。", "T"]]),
        ("Sheet4", []),
    ])


# 4. A plain question list exported from a document: no type column (told by the answers), every
#    option in one cell ("A.…" per line, or "A、…|B、…"), 知识点 and 难易程度; CSV in GBK.
LAYOUT_ONE_CELL = [["试题", "选项", "答案", "知识点", "难易程度"],
                   ["塔式起重机的安全装置不包括（  ）。", "A.起重量限制器\nB.力矩限制器\nC.高度限位器\nD.变频器", "D", "起重机械", "中"],
                   ["动火作业前应（  ）。", "A、办理动火审批|B、清理可燃物|C、配备灭火器|D、随时开始", "ABC", "消防", "易"],
                   ["基坑周边 1 m 内可以堆放重物。", "", "错", "基坑", "易"]]

# 5. A case-study bank: a reading material shared by a group of questions, type codes without a
#    legend (the administrator says what 1, 2 and 3 mean), an image column naming a file the CSV
#    cannot carry (the administrator leaves the column out).
MATERIAL = "某工程外脚手架高 30 m，采用扣件式钢管搭设，连墙件按两步三跨设置。"
LAYOUT_MATERIAL = [["材料", "题型", "题干", "A", "B", "C", "D", "E", "答案", "解析", "图片"],
                   [MATERIAL, "1", "该脚手架的专项施工方案（  ）。", "须专家论证", "不需编制", "须编制并审批", "口头交底即可", "",
                    "C", "24 m 以上的落地式钢管脚手架须编制专项方案。", "img/scaffold.png"],
                   [MATERIAL, "2", "连墙件设置要求正确的有（  ）。", "靠近主节点", "从底层第一步开始", "可以随意拆除", "呈梅花形布置",
                    "", "ABD", "", ""],
                   [MATERIAL, "3", "连墙件可以在拆除脚手架前一次性全部拆除。", "", "", "", "", "", "否", "", ""],
                   ["", "1", "安全网的检验周期为（  ）。", "每周", "每月", "每半年", "每年", "", "D", "", ""]]


async def test_a_template_with_hints_in_brackets(client, staff):
    pid = staff["position"].id
    job, page = await upload(client, pid, xlsx([("题库", LAYOUT_HINTS)]), "moti.xlsx")
    fields = form_of(page)
    assert [fields[f"map-0-{i}"] for i in range(11)] == [
        "stem", "kind", "option_A", "option_B", "option_C", "option_D", "option_E", "answer", "explanation",
        "chapter", "difficulty"]
    r = await confirm(client, job, fields)
    assert r.status_code == 303 and "新增 4 题" in unquote(r.headers["location"]), r.text[-2000:]
    q = await questions(pid)
    three = q["安全“三宝”包括（  ）。"]
    assert (three.kind, three.answer, three.options.split("\n")[-1], three.chapter, three.difficulty) == (
        "multiple", "ABC", "护目镜", "个人防护", "中")
    assert (q["特种作业人员必须持证上岗。"].kind, q["特种作业人员必须持证上岗。"].answer) == ("judge", "A")
    assert q["脚手架可以随意拆除连墙件。"].answer == "B"
    assert q["施工现场临时用电工程应采用（  ）系统。"].explanation.startswith("专用变压器")
    listed = (await client.get(f"{T}/admin/exams/positions/{pid}")).text.split('id="recent-imports"', 1)[1]
    assert f'/admin/exams/import/{job}">moti.xlsx</a>' in listed and "新增 4 题" in listed.split("</li>", 1)[0]


async def test_type_codes_with_their_legend_and_an_enabled_flag(client, staff):
    pid = staff["position"].id
    job, page = await upload(client, pid, xlsx([("Sheet1", LAYOUT_CODES)]), "codes.xlsx")
    fields = form_of(page)
    assert fields["map-0-0"] == "" and "序号只用于排列，不导入" in page  # used / ignored, with the reason
    assert fields["map-0-1"] == "kind" and fields["map-0-2"] == "stem"
    # The legend was read as the type's value map and is shown to the administrator.
    legend = {fields[f"kindraw-0-{n}"]: fields[f"kindval-0-{n}"] for n in range(3)}
    assert legend == {"0": "single", "1": "judge", "2": "multiple"}
    r = await confirm(client, job, fields)
    assert r.status_code == 303 and "新增 4 题" in unquote(r.headers["location"])
    q = await questions(pid)
    assert (q["悬挑式脚手架的悬挑梁可采用（  ）。"].kind, q["悬挑式脚手架的悬挑梁可采用（  ）。"].answer) == ("multiple", "AD")
    assert (q["安全带应高挂低用。"].kind, q["安全带应高挂低用。"].answer, q["安全带应高挂低用。"].active) == ("judge", "A", True)
    gas = q["氧气瓶与乙炔瓶的间距可以小于 5 m。"]
    assert (gas.answer, gas.active, gas.points) == ("B", False, 1.0)  # 是否启用 否: imported disabled
    assert q["高处作业是指在坠落高度基准面（  ）m 及以上有可能坠落的高处进行的作业。"].points == 2.0


async def test_one_sheet_per_type_every_sheet_read(client, staff):
    pid = staff["position"].id
    job, page = await upload(client, pid, layout_sheets(), "sheets.xlsx")
    for name in ("说明", "单选题", "多选题", "判断题"):
        assert f'data-sheet="{name}"' in page
    assert 'data-sheet="Sheet4"' not in page  # an empty sheet is no sheet
    assert page.count("此工作表不是题目") == 1  # the instruction sheet, said so
    fields = form_of(page)
    assert (fields["kind-1"], fields["kind-2"], fields["kind-3"]) == ("single", "multiple", "judge")
    r = await confirm(client, job, fields)
    assert r.status_code == 303 and "新增 5 题" in unquote(r.headers["location"])
    q = await questions(pid)
    assert {s: (x.kind, x.answer) for s, x in q.items()} == {
        "混凝土浇筑后应在（  ）小时内覆盖保湿养护。": ("single", "B"),
        "砌筑砂浆应随拌随用，常温下应在（  ）小时内用完。": ("single", "B"),
        "模板拆除的顺序应为（  ）。": ("multiple", "ABC"),
        "卷材防水层可以在雨天施工。": ("judge", "B"),
        "隐蔽工程在隐蔽前应通知监理验收。": ("judge", "A")}


async def test_no_type_column_and_all_options_in_one_cell_in_gbk(client, staff):
    pid = staff["position"].id
    job, page = await upload(client, pid, csv_data(LAYOUT_ONE_CELL, "gbk"), "list.csv")
    fields = form_of(page)
    assert fields["map-0-1"] == "options" and fields["kind-0"] == ""
    r = await confirm(client, job, fields)
    assert r.status_code == 303 and "新增 3 题" in unquote(r.headers["location"])
    q = await questions(pid)
    crane = q["塔式起重机的安全装置不包括（  ）。"]
    assert (crane.kind, crane.answer, crane.options, crane.chapter) == (
        "single", "D", "起重量限制器\n力矩限制器\n高度限位器\n变频器", "起重机械")
    fire = q["动火作业前应（  ）。"]
    assert (fire.kind, fire.answer, fire.options.split("\n")) == ("multiple", "ABC",
                                                                 ["办理动火审批", "清理可燃物", "配备灭火器", "随时开始"])
    assert (q["基坑周边 1 m 内可以堆放重物。"].kind, q["基坑周边 1 m 内可以堆放重物。"].answer) == ("judge", "B")


async def test_shared_material_and_codes_the_administrator_explains(client, staff):
    pid = staff["position"].id
    data = csv_data(LAYOUT_MATERIAL)
    job, page = await upload(client, pid, data, "case.csv")
    # The image column is read as 图片; the file it names is not in a CSV, and the cell says how.
    assert "图片“img/scaffold.png”不在上传的文件中：按文件名导入图片时，请把表格和图片一起压缩为 .zip 上传" in page
    fields = form_of(page)
    assert fields["map-0-0"] == "material" and fields["map-0-10"] == "image"
    fields["map-0-10"] = ""
    codes = {fields[f"kindraw-0-{n}"]: f"kindval-0-{n}" for n in range(3)}
    assert set(codes) == {"1", "2", "3"} and 'id="commit"' not in page  # nothing can import yet
    # Confirming without saying what the codes mean is refused with the reason per row.
    assert "题型“1”无法识别" in page
    fields.update({codes["1"]: "single", codes["2"]: "multiple", codes["3"]: "judge"})
    shown = await client.post(f"{T}/admin/exams/import/{job}/mapping", fields)
    assert shown.status_code == 200 and 'id="commit"' in shown.text and '<b id="valid-rows">4</b>' in shown.text
    r = await confirm(client, job, form_of(shown.text))
    assert r.status_code == 303 and "新增 4 题" in unquote(r.headers["location"])
    q = await questions(pid)
    assert {x.material for x in q.values()} == {MATERIAL, ""}
    assert (q["连墙件可以在拆除脚手架前一次性全部拆除。"].kind, q["连墙件可以在拆除脚手架前一次性全部拆除。"].answer) == ("judge", "B")
    assert q["安全网的检验周期为（  ）。"].material == ""
    # The next file with the same headers gets the confirmed mapping, codes included.
    assert await BankMapping.count().where(BankMapping.tenant == staff["tenant"].id) >= 1
    job2, page2 = await upload(client, pid, data, "case-again.csv")
    assert '<b id="valid-rows">4</b>' in page2 and "已有相同题干，将更新" in page2
    r = await confirm(client, job2, form_of(page2))
    assert "更新 4 题" in unquote(r.headers["location"])


async def test_the_material_is_shown_to_the_learner_above_the_stem(client, platform, make_account):
    learner = await exam_learner(client, platform, make_account)
    attempt = await start(client, learner["enrollment"].id)
    (first, question), *_ = await paper(attempt)
    try:
        await Question.update({Question.material: MATERIAL}).where(Question.id == question.id)
        page = (await client.get(f"{T}/exams/attempts/{attempt}")).text
        item = page.split(f'id="q{first.seq}"', 1)[1].split("</li>", 1)[0]
        assert item.index(MATERIAL) < item.index(question.stem)  # above the stem
        assert page.count(MATERIAL) == 1  # only with the question that refers to it
    finally:
        await Question.update({Question.material: ""}).where(Question.id == question.id)


async def test_a_changed_mapping_is_previewed_before_it_is_committed(client, staff):
    pid = staff["position"].id
    job, page = await upload(client, pid, xlsx([("题库", LAYOUT_HINTS)]), "moti.xlsx")
    fields = form_of(page)
    fields["map-0-9"] = ""  # the administrator drops 章节 and presses 确认导入 at once
    r = await confirm(client, job, fields)
    assert r.status_code == 400 and "对应关系已更改" in r.text
    assert await questions(pid) == {}  # nothing written
    r = await confirm(client, job, form_of(r.text))
    assert r.status_code == 303
    assert {x.chapter for x in (await questions(pid)).values()} == {""}
    # Two columns for one field are refused at the mapping step.
    job, page = await upload(client, pid, xlsx([("题库", LAYOUT_HINTS)]), "moti.xlsx")
    fields = form_of(page)
    fields["map-0-8"] = "stem"
    r = await client.post(f"{T}/admin/exams/import/{job}/mapping", fields)
    assert r.status_code == 400 and "有两列都对应“题干”" in r.text


async def test_a_file_where_nothing_imports_offers_nothing_to_commit(client, staff):
    pid = staff["position"].id
    rows = [["姓名", "身份证号"], ["张三", "110101199001011234"]]
    job, page = await upload(client, pid, csv_data(rows), "people.csv")
    assert 'id="commit"' not in page and 'id="nothing-to-import"' in page
    assert "未识别的列名" in page  # which columns were found and why they are not used
    r = await confirm(client, job, {"skip_errors": "1"})
    assert r.status_code == 400 and "没有可以导入的题目" in r.text and "已导入" not in r.text
    # Every row refused: each says why, and still nothing is offered.
    bad = [["题型", "题干", "选项A", "选项B", "答案"], ["单选", "甲", "1", "2", "E"], ["填空", "乙", "", "", "x"]]
    job, page = await upload(client, pid, csv_data(bad), "bad.csv")
    assert 'id="commit"' not in page and "答案中的 E 没有对应的选项" in page and "题型“填空”无法识别" in page
    assert (await confirm(client, job, {"skip_errors": "1"})).status_code == 400
    bank = await QuestionBank.objects().where(QuestionBank.position == pid).first()
    assert await Question.count().where(Question.bank == bank.id) == 0


async def test_a_large_bank_imports_as_a_job_with_progress(client, staff):
    pid = staff["position"].id
    n = INLINE_ROWS + 200
    rows = [["题型", "题干", "选项A", "选项B", "答案"]] + [["单选", f"大题库第 {i} 题（  ）", "甲", "乙", "A"] for i in range(n)]
    job, page = await upload(client, pid, csv_data(rows), "big.csv")
    assert f'<b id="valid-rows">{n}</b>' in page and page.count('data-line="') == 50  # first 50 rows shown
    r = await confirm(client, job, form_of(page))
    assert r.status_code == 303 and r.headers["location"].endswith(f"/admin/exams/import/{job}")
    for _ in range(300):
        fragment = (await client.get(f"{T}/admin/exams/import/{job}/progress")).text
        if 'data-status="done"' in fragment:
            break
        await asyncio.sleep(0.1)
    assert f"新增 {n} 题" in fragment
    assert await Question.count().where(Question.stem.like("大题库第 %")) >= n
    bank = await QuestionBank.objects().where(QuestionBank.position == pid).first()
    assert await Question.count().where(Question.bank == bank.id) == n


def test_the_row_limit_counts_every_sheet_together():
    """10,000 questions over two sheets are read; one more is refused, with the limit named."""
    head = [["题型", "题干", "选项A", "选项B", "答案"]]
    rows = [["单选", f"限额题 {i}（  ）", "甲", "乙", "A"] for i in range(10_001)]
    at_limit = xlsx([("一", head + rows[:5_000]), ("二", head + rows[5_000:10_000])])
    assert sum(len(t.rows) for t in read_sheets(at_limit, "limit.xlsx", banks.LIMITS)) == 10_000
    over = xlsx([("一", head + rows[:5_000]), ("二", head + rows[5_000:])])
    with pytest.raises(SpreadsheetRejected, match="10000 行的上限"):
        read_sheets(over, "over.xlsx", banks.LIMITS)


async def test_export_imports_again_unchanged(client, staff):
    pid = staff["position"].id
    job, page = await upload(client, pid, csv_data(LAYOUT_MATERIAL), "case.csv")
    fields = form_of(page)
    fields.update({f"kindval-0-{n}": v for n, v in enumerate(["single", "multiple", "judge"])})
    page = (await client.post(f"{T}/admin/exams/import/{job}/mapping", fields)).text
    await confirm(client, job, form_of(page))
    before = {s: (q.kind, q.options, q.answer, q.explanation, q.points, q.material, q.active)
              for s, q in (await questions(pid)).items()}
    exported = await client.get(f"{T}/admin/exams/positions/{pid}/export.xlsx")
    assert exported.status_code == 200
    wb = openpyxl.load_workbook(io.BytesIO(exported.content))
    assert wb.sheetnames == ["题目"] and wb["题目"].max_row == 5
    job, page = await upload(client, pid, exported.content, "export.xlsx")
    assert '<b id="valid-rows">4</b>' in page and '<b id="error-rows">0</b>' in page
    r = await confirm(client, job, form_of(page))
    assert "更新 4 题" in unquote(r.headers["location"])
    after = {s: (q.kind, q.options, q.answer, q.explanation, q.points, q.material, q.active)
             for s, q in (await questions(pid)).items()}
    assert after == before


async def test_search_and_bulk_disable_and_delete(client, staff):
    pid = staff["position"].id
    job, page = await upload(client, pid, xlsx([("Sheet1", LAYOUT_CODES)]), "codes.xlsx")
    await confirm(client, job, form_of(page))
    found = (await client.get(f"{T}/admin/exams/positions/{pid}", params={"q": "脚手架"})).text
    assert re.search(r'id="found">找到 1 道', found) and "悬挑式脚手架" in found
    assert "安全带应高挂低用" not in found
    judges = (await client.get(f"{T}/admin/exams/positions/{pid}", params={"kind": "judge"})).text
    assert re.search(r'id="found">找到 2 道', judges)
    r = await client.post(f"{T}/admin/exams/positions/{pid}/questions/bulk",
                          {"action": "disable", "all_matching": "1", "kind": "judge", "q": "", "status": ""})
    assert "已停用 2 题" in unquote(r.headers["location"])
    q = await questions(pid)
    assert {s for s, x in q.items() if not x.active} == {"安全带应高挂低用。", "氧气瓶与乙炔瓶的间距可以小于 5 m。"}
    ids = [q["安全带应高挂低用。"].id, q["悬挑式脚手架的悬挑梁可采用（  ）。"].id]
    r = await client.post(f"{T}/admin/exams/positions/{pid}/questions/bulk", {"action": "delete", "ids": [str(i) for i in ids]})
    assert "已删除 2 题" in unquote(r.headers["location"])
    assert set(await questions(pid)) == {"高处作业是指在坠落高度基准面（  ）m 及以上有可能坠落的高处进行的作业。",
                                         "氧气瓶与乙炔瓶的间距可以小于 5 m。"}


async def test_a_question_drawn_into_a_paper_is_disabled_not_deleted(client, platform, make_account):
    learner = await exam_learner(client, platform, make_account)
    attempt = await start(client, learner["enrollment"].id)
    (_, question), *_ = await paper(attempt)
    admin, password = await make_account("construction", role="tenant_admin")
    assert (await client.signin("construction", "id", password, id_number=admin.id_number)).status_code == 303
    try:
        r = await client.post(f"{T}/admin/exams/positions/{learner['position'].id}/questions/bulk",
                              {"action": "delete", "ids": [str(question.id)]})
        assert "已删除 0 题；1 题已被抽入过试卷，已停用而未删除" in unquote(r.headers["location"])
        kept = await Question.objects().where(Question.id == question.id).first()
        assert kept is not None and kept.active is False  # the attempt still points at it
    finally:
        await Question.update({Question.active: True}).where(Question.id == question.id)
