"""A tenant admin in headless Chromium: the question banks, an upload with errors shown at their
cells, the commit of the valid rows, the attempt records. Screenshots at 1280 and 375 px."""

from __future__ import annotations

import csv
import io
import re

import pytest

from core.testing.browser import screenshot
from core.testing.ids import fake_id_number, fake_mobile

pytestmark = pytest.mark.browser
PASSWORD = "Admin-2026b"


def _csv(path) -> str:
    out = io.StringIO()
    csv.writer(out).writerows([
        ["题型", "题干", "选项A", "选项B", "选项C", "选项D", "答案", "解析", "分值"],
        ["单选", "浏览器导入：安全帽的作用主要是（  ）。", "防止头部受到坠落物打击", "装饰", "遮阳", "保暖", "A", "", "2"],
        ["多选", "浏览器导入：多选题只写了一个答案（  ）。", "甲", "乙", "丙", "", "A", "", "2"],
        ["判断", "浏览器导入：判断题答案写错。", "", "", "", "", "也许", "", "2"],
        ["单选", "浏览器导入：答案超出选项（  ）。", "甲", "乙", "", "", "D", "", "2"],
    ])
    path.write_text(out.getvalue(), encoding="utf-8")
    return str(path)


async def test_admin_imports_a_bank_with_errors_at_their_cells(live_server, new_page, tmp_path):
    from core.accounts.services import upsert_account
    from core.exams.tables import Question

    tenant = live_server.app.state.platform.tenants.get("construction")
    admin = await upsert_account(tenant, role="tenant_admin", password=PASSWORD, real_name="赵管理",
                                 id_number=fake_id_number(), mobile=fake_mobile())
    root = live_server.url("/t/construction")
    page = await new_page(1280, 900)
    await page.goto(f"{root}/signin")
    await page.fill("input[name=id_number]", admin.id_number)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("form.form button")
    await page.wait_for_url(re.compile(r"/admin/dashboard$"))  # a tenant admin lands on 数据看板

    await page.click("nav >> text=题库管理")
    row = page.locator("tr[data-position='安全员']")
    assert int(await row.locator("td").nth(2).inner_text()) >= 120  # the demo bank, seeded by the plugin
    await screenshot(page, "exam-banks-desktop")
    await row.locator("a").click()
    await page.set_input_files("#f-file", _csv(tmp_path / "bank.csv"))
    await page.click("button:has-text('上传并预览')")
    await page.wait_for_selector("#error-rows")
    assert await page.inner_text("#error-rows") == "3"
    assert "多选题至少有两个正确答案" in await page.inner_text("tr[data-line='3'] td[data-col='answer']")
    assert "判断题答案“也许”无法识别" in await page.inner_text("tr[data-line='4'] td[data-col='answer']")
    assert "答案中的 D 没有对应的选项" in await page.inner_text("tr[data-line='5'] td[data-col='answer']")
    await screenshot(page, "exam-bank-import-preview-desktop")
    await page.check("input[name=skip_errors]")
    await page.click("button:has-text('确认导入')")
    await page.wait_for_selector(".notice.ok")
    assert "新增 1 题" in await page.inner_text(".notice.ok")
    assert await Question.exists().where(Question.stem == "浏览器导入：安全帽的作用主要是（  ）。")

    phone = await new_page(375, 740)
    await phone.context.add_cookies(await page.context.cookies())
    await phone.goto(page.url)
    assert "添加题目" in await phone.inner_text("main")
    await screenshot(phone, "exam-bank-phone", full_page=False)
    await phone.goto(f"{root}/admin/exams/attempts")
    assert "考核记录" in await phone.inner_text("main")
    await screenshot(phone, "exam-attempts-phone")
