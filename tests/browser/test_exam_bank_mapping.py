"""The mapping step in headless Chromium: a bank from another tool (type codes without a legend, an
explanation under a header nobody guesses, an instruction sheet) is uploaded; the administrator
says what the codes mean and which column holds the explanation, previews again, imports, and the
next file with the same headers comes with that mapping. Screenshots at 1280 and 375 px."""

from __future__ import annotations

import io
import re

import openpyxl
import pytest

from core.testing.browser import screenshot
from core.testing.ids import fake_id_number, fake_mobile

pytestmark = pytest.mark.browser
PASSWORD = "Admin-2026m"
HEADERS = ["序号", "类别", "题目内容", "A", "B", "C", "D", "正确答案（必填）", "讲解"]
ROWS = [["1", "1", "映射测试：施工现场临时用电应采用（  ）系统。", "TN-C", "TN-S", "TT", "IT", "B", "专用变压器供电时采用 TN-S。"],
        ["2", "2", "映射测试：安全“三宝”包括（  ）。", "安全帽", "安全带", "安全网", "手套", "A、B、C", ""],
        ["3", "3", "映射测试：特种作业人员必须持证上岗。", "", "", "", "", "√", ""]]


def _workbook(path) -> str:
    wb = openpyxl.Workbook()
    notes = wb.active
    notes.title = "使用说明"
    notes.append(["本题库由其他考试系统导出"])
    notes.append(["类别：1 单选 2 多选 3 判断"])
    sheet = wb.create_sheet("试题")
    sheet.append(HEADERS)
    for row in ROWS:
        sheet.append(row)
    out = io.BytesIO()
    wb.save(out)
    path.write_bytes(out.getvalue())
    return str(path)


async def test_the_administrator_confirms_and_corrects_the_proposed_mapping(live_server, new_page, tmp_path):
    from core.accounts.services import upsert_account
    from core.exams.tables import Question

    tenant = live_server.app.state.platform.tenants.get("construction")
    admin = await upsert_account(tenant, role="tenant_admin", password=PASSWORD, real_name="钱管理",
                                 id_number=fake_id_number(), mobile=fake_mobile())
    root = live_server.url("/t/construction")
    page = await new_page(1280, 900)
    await page.goto(f"{root}/signin")
    await page.fill("input[name=id_number]", admin.id_number)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("form.form button")
    await page.wait_for_url(re.compile(r"/admin/dashboard$"))  # a tenant admin lands on 数据看板
    await page.click("nav >> text=题库管理")
    await page.locator("tr[data-position='安全员'] a").click()
    await page.set_input_files("#f-file", _workbook(tmp_path / "other-tool.xlsx"))
    await page.click("button:has-text('上传并预览')")
    await page.wait_for_selector("#mapping-form")

    # The proposal: the instruction sheet is not questions; 类别 and 讲解 are not recognised (the
    # types are told by the answers: one letter, several, √).
    assert "此工作表不是题目" in await page.inner_text("section[data-sheet='使用说明']")
    sheet = page.locator("section[data-sheet='试题']")
    assert await sheet.locator("select[name='map-1-2']").input_value() == "stem"
    assert await sheet.locator("select[name='map-1-7']").input_value() == "answer"
    assert await sheet.locator("select[name='map-1-8']").input_value() == ""
    assert "未识别的列名" in await sheet.locator("tr[data-header='讲解']").inner_text()
    assert await page.inner_text("#valid-rows") == "3"
    await screenshot(page, "exam-bank-mapping-proposed-desktop")

    # The administrator: 类别 is the type, 讲解 the explanation. Until the codes are explained no
    # row can import, each row says why, and nothing is offered for commit.
    await sheet.locator("select[name='map-1-1']").select_option("kind")
    await sheet.locator("select[name='map-1-8']").select_option("explanation")
    await page.click("#apply-mapping")
    await page.wait_for_selector("section[data-sheet='试题'] .value-map")
    assert await page.locator("#commit").count() == 0 and await page.inner_text("#error-rows") == "3"
    sheet = page.locator("section[data-sheet='试题']")
    assert "题型“1”无法识别" in await sheet.locator("tr[data-line='2'] .row-note").inner_text()
    for code, kind in (("1", "single"), ("2", "multiple"), ("3", "judge")):
        await sheet.get_by_label(f"题型的值“{code}”表示").select_option(kind)
    await page.click("#apply-mapping")
    await page.wait_for_selector("#commit")
    assert await page.inner_text("#valid-rows") == "3" and await page.inner_text("#error-rows") == "0"
    await screenshot(page, "exam-bank-mapping-confirmed-desktop")
    await page.click("#commit")
    await page.wait_for_selector(".notice.ok")
    assert "新增 3 题" in await page.inner_text(".notice.ok")
    stored = await Question.objects().where(Question.stem.like("映射测试：%"))
    assert {q.stem[5:9]: (q.kind, q.answer) for q in stored} == {
        "施工现场": ("single", "B"), "安全“三": ("multiple", "ABC"), "特种作业": ("judge", "A")}
    assert any(q.explanation == "专用变压器供电时采用 TN-S。" for q in stored)

    # The next file with the same headers comes with the confirmed mapping, on a phone.
    phone = await new_page(375, 740)
    await phone.context.add_cookies(await page.context.cookies())
    await phone.goto(page.url)
    await phone.set_input_files("#f-file", _workbook(tmp_path / "again.xlsx"))
    await phone.click("button:has-text('上传并预览')")
    await phone.wait_for_selector("#commit")
    assert await phone.locator("select[name='map-1-8']").input_value() == "explanation"
    assert await phone.inner_text("#valid-rows") == "3"
    assert "已有相同题干，将更新" in await phone.inner_text("section[data-sheet='试题']")
    await screenshot(phone, "exam-bank-mapping-phone", full_page=False)
