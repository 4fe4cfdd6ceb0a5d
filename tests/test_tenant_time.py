"""Tenant time: stored UTC, shown, dated and counted in the tenant's zone (rules ``timezone``).

The certificate issued at 23:30 UTC on 6 December is issued on 7 December in Beijing: the
learner's page, the admin's list, the PDF and the public verification page must all say so.
"""

from __future__ import annotations

import datetime as dt

import msgspec
import pytest
import time_machine

from certificate_helpers import approved_enrolment, pdf_text, sign_in
from core import tenant_time
from core.certificates import services
from core.review import workdays
from core.study import services as study
from core.tenancy import TenantRules
from core.templating import Templates

LATE_EVENING_UTC = dt.datetime(2026, 12, 6, 23, 30, tzinfo=dt.UTC)  # 07:30 on 7 December in Beijing


def test_every_tenant_has_a_zone_and_the_shipped_ones_are_beijing(platform):
    assert TenantRules().timezone == tenant_time.DEFAULT_ZONE == "Asia/Shanghai"
    for tenant in platform.tenants:
        assert tenant_time.zone(tenant).key == tenant.rules.timezone == "Asia/Shanghai"


@pytest.mark.parametrize("name", ["Mars/Olympus", "../../etc/passwd", "", "UTC+8"])
def test_an_unknown_zone_is_refused_at_its_key(name):
    with pytest.raises(msgspec.ValidationError, match=r"\$\.timezone"):
        msgspec.convert({"timezone": name}, TenantRules)


async def test_certificate_date_agrees_on_every_page_and_the_pdf_at_2330_utc(client, platform, make_account):
    tenant, account, password, enrollment = await approved_enrolment(platform, make_account, name="时区测试")
    admin, admin_password = await make_account("construction", role="tenant_admin", real_name="时区管理")
    with time_machine.travel(LATE_EVENING_UTC, tick=True):
        await sign_in(client, "construction", account, password)
        assert (await client.post(f"/t/construction/certificates/{enrollment.id}")).status_code == 303
        cert = await services.current(tenant, enrollment.id)
        assert tenant_time.local(cert.issued_at, dt.UTC).date() == dt.date(2026, 12, 6)  # stored in UTC
        mine = (await client.get(f"/t/construction/certificates/{enrollment.id}")).text
        pdf = (await client.get(f"/t/construction/certificates/{enrollment.id}/pdf")).content
        verify = (await client.get(f"/t/construction/verify/{cert.code}")).text
        await client.post("/t/construction/signout", {})
        await sign_in(client, "construction", admin, admin_password)
        listing = (await client.get("/t/construction/admin/certificates")).text
    text = pdf_text(pdf).replace(" ", "")
    assert "2026年12月07日" in text and "2026年12月06日" not in text
    for page in (mine, verify, listing):
        assert "2026-12-07" in page and "2026-12-06" not in page


def test_pages_show_times_in_the_tenant_zone_each_tenant_its_own():
    templates = Templates({"east": [], "west": []}, [], {"east": "default", "west": "default"},
                          zones={"east": "Asia/Shanghai", "west": "America/Los_Angeles"})

    def shown(slug, at):
        return templates.env_for(slug, "zh_CN").from_string("{{ at|datetime }} / {{ at|date }}").render(at=at)

    naive_utc = LATE_EVENING_UTC.replace(tzinfo=None)  # SQLite hands timestamps back naive
    for at in (LATE_EVENING_UTC, naive_utc):
        assert shown("east", at) == "2026-12-07 07:30 / 2026-12-07"
        assert shown("west", at) == "2026-12-06 15:30 / 2026-12-06"
        assert shown(None, at) == "2026-12-07 07:30 / 2026-12-07"  # platform pages: the default zone
    assert shown("east", None) == " / "
    assert shown("west", dt.date(2026, 12, 6)).endswith("/ 2026-12-06")  # a date is a date in every zone


def test_the_daily_cap_day_turns_at_the_tenants_midnight(platform):
    tenant = platform.tenants.get("construction")
    before = dt.datetime(2026, 12, 6, 15, 59, 59, tzinfo=dt.UTC).timestamp()  # 23:59:59 in Beijing
    assert study.tenant_day(tenant, before) == "2026-12-06"
    assert study.tenant_day(tenant, before + 1) == "2026-12-07"


def test_review_working_days_count_from_the_tenants_date():
    # Completed at 23:30 UTC on Monday 7 December: in Beijing that is Tuesday 8 December, so the
    # third working day after it is Friday 11 December, not Thursday.
    completed = dt.datetime(2026, 12, 7, 23, 30, tzinfo=dt.UTC)
    beijing = workdays.deadline(completed, [3, 5], tenant_time.zone_named("Asia/Shanghai"), today=dt.date(2026, 12, 11))
    utc = workdays.deadline(completed, [3, 5], tenant_time.zone_named("UTC"), today=dt.date(2026, 12, 11))
    assert (beijing.started, beijing.due, beijing.state) == (dt.date(2026, 12, 8), dt.date(2026, 12, 11), "on_time")
    assert (utc.started, utc.due, utc.state) == (dt.date(2026, 12, 7), dt.date(2026, 12, 10), "due")


def test_face_attempts_count_per_tenant_day(platform):
    from core.proctoring import services as proctoring

    tenant = platform.tenants.get("construction")
    evening = dt.datetime(2026, 12, 6, 16, 30, tzinfo=dt.UTC)  # 00:30 on 7 December in Beijing
    start = proctoring.day_start(tenant, evening)
    assert start == dt.datetime(2026, 12, 7, tzinfo=tenant_time.zone(tenant))
    assert proctoring.attempt_key(tenant, 5, evening)[2] == "2026-12-07"
    assert proctoring.attempt_key(tenant, 5, evening - dt.timedelta(hours=1))[2] == "2026-12-06"
