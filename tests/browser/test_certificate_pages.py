"""The hours certificate in headless Chromium: 我的培训 → 打印证书 → the certificate page, 证书更新,
and the public verification page of the old code (void, with its successor) — no sign-in,
masked. Screenshots in docs/screenshots/, with the certificate itself rendered by pdftoppm."""

from __future__ import annotations

import datetime as dt
import re
import shutil
import sys
from pathlib import Path

import pytest

from core.testing.browser import screenshot
from core.testing.ids import fake_id_number, fake_mobile

pytestmark = pytest.mark.browser
PASSWORD = "Certs-2026a"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/certificate_helpers.py


async def _approved_learner(live_server):
    from core.accounts.services import upsert_account
    from core.courses.tables import Course, Enrollment, Position
    from core.study.services import seconds_per_hour

    platform = live_server.app.state.platform
    tenant = platform.tenants.get("construction")
    account = await upsert_account(tenant, role="learner", password=PASSWORD, real_name="欧阳明华",
                                   id_number=fake_id_number(), mobile=fake_mobile())
    now = dt.datetime.now(dt.UTC)
    position = Position(tenant=tenant.id, name="资料员", created_at=now)
    existing = await Position.objects().where((Position.tenant == tenant.id) & (Position.name == "资料员")).first()
    if existing is None:
        await position.save()
    else:
        position = existing
    course = Course(tenant=tenant.id, position=position.id, year=2026, title="资料员继续教育（2026年度）",
                    required_hours=32.0, created_at=now)
    await course.save()
    enrollment = Enrollment(tenant=tenant.id, account=account.id, course=course.id, status="approved",
                            credited_seconds=32 * seconds_per_hour(tenant), created_at=now)
    await enrollment.save()
    return tenant, account, enrollment


async def test_print_renew_and_verify_in_a_browser(live_server, new_page):
    from core.certificates import services
    from certificate_helpers import pdf_to_png

    tenant, account, enrollment = await _approved_learner(live_server)
    root = live_server.url("/t/construction")
    page = await new_page()
    await page.goto(f"{root}/signin")
    await page.fill("input[name=id_number]", account.id_number)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("form.form button")
    await page.wait_for_url(re.compile(r"/me$"))
    await page.goto(f"{root}/study")
    await page.click(f'li[data-enrollment="{enrollment.id}"] a.print-certificate')
    await page.wait_for_url(re.compile(rf"/certificates/{enrollment.id}$"))
    await page.click("form.form button.primary")  # 打印证书
    await page.wait_for_selector('#certificate[data-status="valid"]')
    first = await services.current(tenant, enrollment.id)
    assert first.number in await page.inner_text("#certificate")
    await screenshot(page, "certificate-page-desktop")
    platform = live_server.app.state.platform
    png = pdf_to_png(await services.pdf_bytes(platform, tenant, first), dpi=110)
    shutil.copy(png, SCREENSHOTS / "certificate-construction.png")

    await page.click("form.form button:not(.primary)")  # 证书更新
    await page.wait_for_url(re.compile(r"notice="))
    second = await services.current(tenant, enrollment.id)
    assert second.id != first.id and second.number in await page.inner_text("#certificate")

    anonymous = await new_page(width=375, height=800)
    await anonymous.goto(f"{root}/verify/{first.code}")
    text = await anonymous.inner_text("#verification")
    assert "已作废" in text and second.number in text and account.id_number not in text
    assert account.id_number[:6] + "********" + account.id_number[-4:] in text and "欧**" in text
    await screenshot(anonymous, "certificate-verify-void-phone")
    desktop = await new_page()
    await desktop.goto(f"{root}/verify")
    await desktop.fill("input[name=code]", services.display_code(second.code).lower())
    await desktop.click("form.form button")
    await desktop.wait_for_selector('#verification[data-status="valid"]')
    await screenshot(desktop, "certificate-verify-valid-desktop")
