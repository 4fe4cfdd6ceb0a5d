"""账号管理 in headless Chromium: a tenant admin lands on their admin home, opens 账号管理 from the
menu and adds a reviewer; the new reviewer signs in with the initial password, must change it,
lands on the review queue and confirms the clearing the demo reviewer proposed: the clearing
completes. Screenshots docs/screenshots/staff-accounts-{desktop,phone}.png."""

from __future__ import annotations

import re

import pytest

from core.testing.browser import screenshot
from core.testing.ids import fake_id_number, fake_mobile
from tests.browser.test_review_flow import DEMO_REVIEWER, PASSWORD, _case

pytestmark = pytest.mark.browser


async def _sign_in(page, root: str, id_number: str, password: str) -> None:
    await page.goto(f"{root}/signin")
    await page.fill("input[name=id_number]", id_number)
    await page.fill("input[name=password]", password)
    await page.click("form.form button")


async def test_admin_adds_a_second_reviewer_and_the_clearing_completes(live_server, new_page):
    from core.accounts.services import upsert_account
    from core.courses.tables import Enrollment

    root = live_server.url("/t/construction")
    learner, enrollment, _ = await _case(live_server)
    tenant = live_server.app.state.platform.tenants.get("construction")
    admin = await upsert_account(tenant, role="tenant_admin", password=PASSWORD, real_name="钱管理",
                                 id_number=fake_id_number(), mobile=fake_mobile())

    # The demo reviewer proposes the clearing.
    first = await new_page(1280, 800)
    await _sign_in(first, root, *DEMO_REVIEWER)
    await first.wait_for_url(re.compile(r"/review$"))  # a reviewer lands on the queue
    await first.goto(f"{root}/review/{enrollment.id}")
    await first.select_option("#f-reason", "idle")
    await first.click("form.clear button")
    await first.wait_for_selector("text=撤回清除")
    assert await first.locator("button[value=confirm]").count() == 0  # not for the proposer

    # The admin adds a reviewer at 账号管理.
    page = await new_page(1280, 900)
    await _sign_in(page, root, admin.id_number, PASSWORD)
    await page.wait_for_url(re.compile(r"/admin/dashboard$"))  # a tenant admin lands on 数据看板
    await page.click("nav >> text=账号管理")
    await page.wait_for_url(re.compile(r"/admin/staff$"))
    new_id = fake_id_number()
    await page.fill("#f-real_name", "周复核")
    await page.select_option("#f-role", "reviewer")
    await page.fill("#f-id_number", new_id)
    await page.fill("#f-password", "Start-2026x")
    await page.click("#staff-create button.primary")
    await page.wait_for_selector("text=账号已创建")
    assert await page.locator("table.staff-list >> text=周复核").count() == 1
    assert await page.evaluate("() => document.documentElement.scrollWidth") <= 1280
    await screenshot(page, "staff-accounts-desktop")
    phone = await new_page(375, 800)
    await _sign_in(phone, root, admin.id_number, PASSWORD)
    await phone.wait_for_url(re.compile(r"/admin/dashboard$"))
    await phone.goto(f"{root}/admin/staff")
    assert await phone.evaluate("() => document.documentElement.scrollWidth") <= 375
    await screenshot(phone, "staff-accounts-phone")

    # The new reviewer changes the initial password, lands on the queue and confirms.
    second = await new_page(1280, 800)
    await _sign_in(second, root, new_id, "Start-2026x")
    await second.wait_for_url(re.compile(r"/password\?first=1$"))
    await second.fill("#f-current", "Start-2026x")
    await second.fill("#f-new", "Second-2026x")
    await second.fill("#f-again", "Second-2026x")
    await second.click("form.form button")
    await second.wait_for_url(re.compile(r"/me\?changed=1$"))
    await second.goto(f"{root}/review/{enrollment.id}")
    assert await second.locator("text=撤回清除").count() == 0
    await second.click("button[value=confirm]")
    await second.wait_for_selector(".status-cleared")
    row = await Enrollment.objects().get(Enrollment.id == enrollment.id)
    assert row.status == "cleared"
    assert learner.id_number not in await second.content()
