"""数据看板 in headless Chromium on the demo's data: the construction group's tenant admin lands on
it after signing in and sees the demo learners' figures; the reviewer's, the survey association's
(with its own panel) and the operator's dashboards. Every page passes axe-core (the fixtures
check each one) and fits a 375 px phone. Screenshots docs/screenshots/dashboard-*-{desktop,phone}.png."""

from __future__ import annotations

import re

import pytest

from core import tenant_time
from core.courses.tables import Enrollment
from core.dashboards import counts
from core.demo import OPERATOR
from core.testing.browser import screenshot

pytestmark = pytest.mark.browser


async def _shots(page, name: str) -> None:
    await screenshot(page, f"dashboard-{name}-desktop")
    await page.set_viewport_size({"width": 375, "height": 740})
    await page.wait_for_timeout(100)
    await screenshot(page, f"dashboard-{name}-phone")
    assert await page.evaluate("document.documentElement.scrollWidth") <= 375, f"{name}: wider than the phone"
    await page.set_viewport_size({"width": 1280, "height": 900})


async def _sign_in(page, root: str, field: str, value: str, password: str) -> None:
    await page.goto(f"{root}/signin")
    await page.fill(f"input[name={field}]", value)
    await page.fill("input[name=password]", password)
    await page.press("input[name=password]", "Enter")


async def test_dashboards_show_the_demo_figures(live_server, new_page):
    root = live_server.url("/t/construction")
    tenant = live_server.app.state.platform.tenants.get("construction")
    await counts.recount(tenant)  # as the minutely job does: other tests may have enrolled learners since
    page = await new_page(1280, 900)
    await _sign_in(page, root, "id_number", "110102198505050020", "Admin-2026")  # the demo's 王管理
    await page.wait_for_url(re.compile(r"/admin/dashboard$"))  # a tenant admin lands on 数据看板
    assert await page.locator("#panel-progress_position img").count() == 1  # a chart beside the table
    # 报名 summed over the positions: the enrolments on this year's courses (the demo learners')
    enrolled = await page.locator("#panel-progress_position tbody tr td.count:nth-of-type(1)").all_inner_texts()
    expected = await Enrollment.count().where((Enrollment.tenant == tenant.id)
                                              & (Enrollment.course.year == tenant_time.today(tenant).year))
    assert sum(int(n) for n in enrolled) == expected >= 3
    await _shots(page, "tenant")

    reviewer = await new_page(1280, 900)
    await _sign_in(reviewer, root, "id_number", "110101198001010010", "Review-2026")  # the demo's 李审核
    await reviewer.wait_for_url(re.compile(r"/review$"))
    await reviewer.goto(f"{root}/review/dashboard")
    assert int(await reviewer.locator("#backlog-count").inner_text()) >= 1  # the demo's case awaiting review
    await _shots(reviewer, "reviewer")

    survey = await new_page(1280, 900)
    await _sign_in(survey, live_server.url("/t/survey"), "mobile", "13900139000", "Admin-2026")
    await survey.wait_for_url(re.compile(r"/admin/dashboard$"))
    assert await survey.locator("#panel-survey_members tbody tr").count() == 3
    await _shots(survey, "survey")

    operator = await new_page(1280, 900)
    await operator.goto(live_server.url("/platform/signin"))
    await operator.fill("input[name=username]", OPERATOR.username)
    await operator.fill("input[name=password]", OPERATOR.password)
    await operator.press("input[name=password]", "Enter")
    await operator.wait_for_url(re.compile(r"/platform/$"))
    await operator.goto(live_server.url("/platform/dashboard"))
    assert await operator.locator("#panel-tenants tbody tr").count() >= 2
    await _shots(operator, "platform")
