"""A review that completes, in headless Chromium, with nothing made behind the pages but the case:
the tenant admin adds a second and a third reviewer at 账号管理; the demo reviewer proposes a
clearing, the second confirms it, the learner appeals, and the third (who took no part in the
clearing) upholds the appeal: the hours come back. On the way, the new staff pages at 1280 and
375 px: docs/screenshots/{review-bulk,review-queue-filters,review-workload,audit-log,course-edit,learners-list,
learner-detail}-{desktop,phone}.png."""

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


async def _first_sign_in(page, root: str, id_number: str, initial: str, chosen: str) -> None:
    """A new staff account: the initial password must be changed first."""
    await _sign_in(page, root, id_number, initial)
    await page.wait_for_url(re.compile(r"/password\?first=1$"))
    await page.fill("#f-current", initial)
    await page.fill("#f-new", chosen)
    await page.fill("#f-again", chosen)
    await page.click("form.form button")
    await page.wait_for_url(re.compile(r"/me\?changed=1$"))


async def _both_widths(new_page, root: str, account, path: str, name: str, ready: str) -> None:
    """``path`` as ``account`` at 1280 and 375 px: nothing scrolls sideways; both screenshots."""
    for width, suffix in ((1280, "desktop"), (375, "phone")):
        page = await new_page(width, 900)
        await _sign_in(page, root, account.id_number, PASSWORD)
        await page.wait_for_load_state()
        await page.goto(f"{root}{path}")
        await page.wait_for_selector(ready)
        assert await page.evaluate("() => document.documentElement.scrollWidth") <= width, (path, width)
        await screenshot(page, f"{name}-{suffix}")


async def test_admin_adds_reviewers_the_clearing_completes_and_a_third_decides_the_appeal(live_server, new_page):
    from core.accounts.services import upsert_account
    from core.courses.tables import Course, Enrollment
    from core.review.tables import Appeal

    root = live_server.url("/t/construction")
    learner, enrollment, _unused = await _case(live_server)
    await Enrollment.update({Enrollment.flagged: False}).where(Enrollment.id == enrollment.id)
    credited = enrollment.credited_seconds
    tenant = live_server.app.state.platform.tenants.get("construction")
    admin = await upsert_account(tenant, role="tenant_admin", password=PASSWORD, real_name="冯管理",
                                 id_number=fake_id_number(), mobile=fake_mobile())

    # The admin adds two reviewers at 账号管理.
    page = await new_page(1280, 900)
    await _sign_in(page, root, admin.id_number, PASSWORD)
    await page.wait_for_url(re.compile(r"/admin/dashboard$"))  # a tenant admin lands on 数据看板
    await page.click("nav >> text=账号管理")
    added = {}
    for name in ("郑复核", "王申诉"):
        added[name] = fake_id_number()
        await page.fill("#f-real_name", name)
        await page.select_option("#f-role", "reviewer")
        await page.fill("#f-id_number", added[name])
        await page.fill("#f-password", "Start-2026x")
        await page.click("#staff-create button.primary")
        await page.wait_for_selector("text=账号已创建")
        assert await page.locator(f"table.staff-list >> text={name}").count() == 1

    # The demo reviewer proposes the clearing; the second reviewer confirms it.
    first = await new_page(1280, 800)
    await _sign_in(first, root, *DEMO_REVIEWER)
    await first.wait_for_url(re.compile(r"/review$"))
    await first.goto(f"{root}/review/{enrollment.id}")
    await first.select_option("#f-reason", "substitute")
    await first.fill("#f-note", "抓拍两次非本人")
    await first.click("form.clear button")
    await first.wait_for_selector("text=撤回清除")
    second = await new_page(1280, 800)
    await _first_sign_in(second, root, added["郑复核"], "Start-2026x", "Second-2026x")
    await second.goto(f"{root}/review/{enrollment.id}")
    await second.click("button[value=confirm]")
    await second.wait_for_selector(".status-cleared")
    assert (await Enrollment.objects().get(Enrollment.id == enrollment.id)).status == "cleared"

    # The learner appeals.
    student = await new_page(1280, 800)
    await _sign_in(student, root, learner.id_number, PASSWORD)
    await student.wait_for_url(re.compile(r"/me$"))
    await student.goto(f"{root}/study/{enrollment.id}/appeal")
    await student.fill("#f-statement", "抓拍时家人经过镜头前，学习全程为本人。")
    await student.click("form.form button")
    await student.wait_for_selector("#appeal-status")
    assert "申诉处理中" in await student.locator("#appeal-status").inner_text()

    # The two who cleared see no appeal buttons; the third decides.
    for reviewer in (first, second):
        await reviewer.goto(f"{root}/review/{enrollment.id}")
        assert await reviewer.locator("button[value=uphold]").count() == 0
    third = await new_page(1280, 800)
    await _first_sign_in(third, root, added["王申诉"], "Start-2026x", "Third-2026x")
    await third.goto(f"{root}/review")
    await third.click(f"a[href$='/review/{enrollment.id}#appeals']")
    await third.fill("input[name=answer]", "经核实为本人学习，恢复学时。")
    await third.click("button[value=uphold]")
    await third.wait_for_selector(".appeal-upheld")
    appeal = await Appeal.objects().where(Appeal.enrollment == enrollment.id).first()
    assert appeal.status == "upheld"
    row = await Enrollment.objects().get(Enrollment.id == enrollment.id)
    assert row.status != "cleared" and abs(row.credited_seconds - credited) < 1e-6

    # The new staff pages, on the demo data and this walk's, at both widths.
    demo_reviewer = await upsert_account(tenant, role="reviewer", password=PASSWORD, real_name="陶审核",
                                         id_number=fake_id_number(), mobile=fake_mobile())
    await _both_widths(new_page, root, demo_reviewer, "/review/bulk", "review-bulk", "section.review-bulk")
    await _both_widths(new_page, root, demo_reviewer, "/review", "review-queue-filters", "form.queue-filter")
    await _both_widths(new_page, root, admin, "/admin/learners", "learners-list", "#learner-list tbody tr")
    await _both_widths(new_page, root, admin, f"/admin/learners/{enrollment.account}", "learner-detail",
                       "#learner-exams")
    await _both_widths(new_page, root, admin, "/review/workload", "review-workload", "#workload-reviewers")
    await _both_widths(new_page, root, admin, "/admin/audit", "audit-log", "#audit-entries tbody tr")
    course = await Course.objects().get(Course.id == enrollment.course)
    await _both_widths(new_page, root, admin, f"/admin/courses/{course.id}", "course-edit", "ol.lessons-admin")
