"""Dashboards (core.dashboards): every figure against a count made here from the rows themselves,
the filters, the XLSX export, tenant isolation, the ``dashboard_panels`` hook, and who may see
which dashboard. Runs on SQLite and on PostgreSQL (XUESHI_TEST_DATABASE_URL)."""

from __future__ import annotations

import datetime as dt
import io
import re
from collections import Counter

import openpyxl

from certificate_helpers import sign_in
from core import tenant_time
from core.accounts.tables import Account
from core.certificates.tables import Certificate, RegistryRow
from core.courses.tables import Course, Enrollment, Position
from core.dashboards import activity, progress
from core.dashboards.sql import NO_COMPANY
from core.dashboards.values import DashboardFilters
from core.exams.tables import ExamAttempt
from core.review.workdays import add_workdays, workdays_between
from dashboard_helpers import build

T = "/t/construction"
ALL = DashboardFilters(year=None)


def row_of(rows, label):
    found = [r for r in rows if r[0] == label]
    assert len(found) == 1, (label, rows)
    return found[0]


async def test_progress_of_one_course_by_position_company_and_course(platform, make_account):
    w = await build(platform, make_account)
    f = DashboardFilters(year=2026, course=w.course.id)
    # enrolled, studying, review, approved, cleared, exam passed, certificate (valid), reported (uploaded)
    assert await progress.progress_rows(w.tenant, f, "position") == [(w.position.name, 5, 2, 1, 1, 1, 1, 1, 1)]
    assert await progress.progress_rows(w.tenant, f, "course") == [(f"{w.course.title}（2026）", 5, 2, 1, 1, 1, 1, 1, 1)]
    by_company = await progress.progress_rows(w.tenant, f, "company")
    assert sorted(by_company) == sorted([(NO_COMPANY, 3, 1, 1, 0, 1, 0, 0, 0), (w.company, 2, 1, 0, 1, 0, 1, 1, 1)])


async def test_progress_totals_equal_a_count_of_every_row_of_the_tenant(platform, make_account):
    """Whatever other tests left in the database: the figures of every year, summed over the
    positions, equal counts made here from the tenant's rows, and another tenant's rows (a course
    of a position with the same kind of name in the survey tenant) are never counted."""
    await build(platform, make_account, slug="survey")
    w = await build(platform, make_account)
    tenant = w.tenant
    rows = await progress.progress_rows(tenant, ALL, "position")
    enrolments = await Enrollment.objects().where(Enrollment.tenant == tenant.id)
    statuses = Counter(e.status for e in enrolments)
    passed = {a.enrollment for a in await ExamAttempt.objects().where(
        (ExamAttempt.tenant == tenant.id) & (ExamAttempt.passed == True))}  # noqa: E712
    certified = {c.enrollment for c in await Certificate.objects().where(
        (Certificate.tenant == tenant.id) & (Certificate.status == "valid"))}
    reported = {r.enrollment for r in await RegistryRow.objects().where(
        (RegistryRow.tenant == tenant.id) & (RegistryRow.status == "uploaded"))}
    expected = [len(enrolments), statuses["studying"], statuses["review"], statuses["approved"], statuses["cleared"],
                len(passed), len(certified), len(reported)]
    assert [sum(r[i] for r in rows) for i in range(1, 9)] == expected
    by_company = await progress.progress_rows(tenant, ALL, "company")
    assert [sum(r[i] for r in by_company) for i in range(1, 9)] == expected
    survey = await progress.progress_rows(platform.tenants.get("survey"), ALL, "position")
    assert sum(r[1] for r in survey) == await Enrollment.count().where(
        Enrollment.tenant == platform.tenants.get("survey").id)


async def test_filters_year_position_company_and_another_tenants_course(platform, make_account):
    old = await build(platform, make_account, year=2025)
    w = await build(platform, make_account)
    tenant = w.tenant
    this_year = await progress.progress_rows(tenant, DashboardFilters(year=2026), "position")
    assert old.position.name not in {r[0] for r in this_year} and row_of(this_year, w.position.name)[1] == 5
    last_year = await progress.progress_rows(tenant, DashboardFilters(year=2025, position=old.position.id), "position")
    assert last_year == [(old.position.name, 5, 2, 1, 1, 1, 1, 1, 1)]
    company = await progress.progress_rows(tenant, DashboardFilters(year=None, company=w.company), "position")
    assert company == [(w.position.name, 2, 1, 0, 1, 0, 1, 1, 1)]
    # the company filter on tables that point at an enrolment: the approved learner's two attempts
    exams = {p.key: p for p in await progress.exam_panels(tenant, DashboardFilters(year=None, company=w.company))}
    assert exams["exam_pass_rate"].rows == ((w.position.name, 2, 1, 50.0),)
    study = {p.key: p for p in await activity.study_panels(tenant, DashboardFilters(year=None, company=w.company))}
    assert sum(n for _, n in study["hours_per_day"].rows) == 2.0  # the studying learner of that company
    assert study["face_checks"].rows[0][1:3] == (2, 1)  # both learners' checks before studying
    theirs = await build(platform, make_account, slug="survey")
    assert await progress.progress_rows(tenant, DashboardFilters(year=None, course=theirs.course.id), "position") == []
    # The query string: junk is ignored, "all" means every year, the default is the tenant's year.
    f = DashboardFilters.from_query({"year": "20x6", "position": "abc", "course": "9" * 20, "company": " 甲 "}, 2026)
    assert f == DashboardFilters(year=2026, company="甲")
    assert DashboardFilters.from_query({"year": "all"}, 2026).year is None


async def test_exam_figures(platform, make_account):
    w = await build(platform, make_account)
    panels = {p.key: p for p in await progress.exam_panels(w.tenant, DashboardFilters(year=None, course=w.course.id))}
    # three finished attempts (40 failed, 85 passed, 10 expired), one passed
    assert panels["exam_pass_rate"].rows == ((w.position.name, 3, 1, 33.3),)
    scores = dict(panels["exam_scores"].rows)
    assert scores == {**{k: 0 for k in scores}, "10–19%": 1, "40–49%": 1, "80–89%": 1} and len(scores) == 10
    assert panels["exam_attempts_until_pass"].rows == (("2", 1),)


async def test_study_figures(platform, make_account):
    w = await build(platform, make_account)
    f = DashboardFilters(year=None, course=w.course.id)
    panels = {p.key: p for p in await activity.study_panels(w.tenant, f)}
    today = tenant_time.local(dt.datetime.now(dt.UTC), tenant_time.zone(w.tenant)).strftime("%m-%d")
    daily = dict(panels["hours_per_day"].rows)
    assert len(daily) == activity.DAYS and daily[today] == 2.0 and sum(daily.values()) == 2.0
    assert panels["face_checks"].rows == (("学习前核验", 2, 1, 66.7), ("学习中抓拍", 0, 1, 0.0))
    events = dict(panels["snapshots"].rows)
    assert (events["抓拍非本人"], events["标记异常"], events["抓拍为本人"], events["缺少抓拍"]) == (2, 1, 1, 0)
    assert dict(panels["studying_now"].rows)["标记待查的报名"] == 1


async def test_review_figures_and_the_promise(platform, make_account):
    w = await build(platform, make_account, completed_days_ago=10)
    f = DashboardFilters(year=None, course=w.course.id)
    panels = {p.key: p for p in await activity.review_panels(w.tenant, f)}
    tz = tenant_time.zone(w.tenant)
    started = tenant_time.local(w.enrolments["review"].completed_at, tz).date()
    today = tenant_time.today(w.tenant)
    elapsed = workdays_between(started, today)
    overdue = today > add_workdays(started, w.tenant.rules.study.review_workdays[1])[0]
    ages = {r[0]: r[1:] for r in panels["backlog_ages"].rows}
    bucket = next(label for low, high, label in activity.AGE_BUCKETS if low <= elapsed <= high)
    assert ages[bucket] == (1, 1 if overdue else 0) and sum(n for n, _ in ages.values()) == 1
    states = dict(panels["backlog_states"].rows)
    assert sum(states.values()) == 1 and states["已超期"] == (1 if overdue else 0)
    assert panels["decisions"].rows == ((w.reviewer.real_name, 1, 1, 0, 0, 0),)  # the withdrawn clearing not counted
    outcomes = dict(panels["clearings"].rows)
    assert (outcomes["已清除"], outcomes["清除待复核"], outcomes["申诉处理中"]) == (1, 0, 1)


def _tables(html: str) -> dict[str, list[list[str]]]:
    """Each panel's data table: its rows as cell texts."""
    out = {}
    for key, body in re.findall(r'data-panel="(\w+)".*?<tbody>(.*?)</tbody>', html, re.S):
        out[key] = [re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row) for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)]
    return out


async def test_tenant_admin_lands_on_the_dashboard_and_its_export_holds_what_it_shows(client, platform, make_account):
    w = await build(platform, make_account)
    admin, password = await make_account("construction", role="tenant_admin")
    r = await client.signin("construction", "id", password, id_number=admin.id_number)
    assert r.headers["location"] == f"{T}/admin/dashboard"
    query = {"year": "2026", "course": str(w.course.id)}
    page = await client.get(f"{T}/admin/dashboard", params=query)
    assert page.status_code == 200 and 'src="data:image/svg+xml;base64,' in page.text
    tables = _tables(page.text)
    assert tables["progress_position"] == [[w.position.name, "5", "2", "1", "1", "1", "1", "1", "1"]]
    assert tables["exam_pass_rate"] == [[w.position.name, "3", "1", "33.3"]]
    r = await client.get(f"{T}/admin/dashboard.xlsx", params=query)
    assert r.status_code == 200 and "attachment" in r.headers["content-disposition"]
    cells = [[c for c in row if c is not None] for row in openpyxl.load_workbook(io.BytesIO(r.content)).active.iter_rows(
        values_only=True)]
    assert cells[0] == [w.tenant.name, "数据看板"] and f"课程：{w.course.title}" in cells[1][1]
    start = cells.index(["学习进度按岗位"])
    assert cells[start + 1][:2] == ["岗位", "报名"] and cells[start + 2] == [w.position.name, "5", "2", "1", "1", "1",
                                                                          "1", "1", "1"]
    rate = cells.index(["各岗位考核合格率"])
    assert cells[rate + 2] == [w.position.name, "3", "1", "33.3"]
    # every panel of the page is in the file
    assert all([title] in cells for title in re.findall(r'<section class="card dash-panel"[^>]*>\s*<h3>(.*?)</h3>',
                                                        page.text))


async def test_dashboards_are_for_their_roles_only(client, platform, make_account):
    for role in ("learner", "reviewer"):
        account, password = await make_account("construction", role=role)
        client.http.cookies.clear()
        await sign_in(client, "construction", account, password)
        for url in ("/admin/dashboard", "/admin/dashboard.xlsx"):
            assert (await client.get(f"{T}{url}")).status_code == 404, (role, url)
    client.http.cookies.clear()
    assert (await client.get(f"{T}/admin/dashboard", follow_redirects=False)).status_code in (302, 303)
    assert (await client.get("/platform/dashboard", follow_redirects=False)).headers["location"] == "/platform/signin"


async def test_reviewer_dashboard_puts_the_overdue_first(client, platform, make_account):
    w = await build(platform, make_account, completed_days_ago=30)
    reviewer, password = await make_account("construction", role="reviewer")
    await sign_in(client, "construction", reviewer, password)
    page = (await client.get(f"{T}/review/dashboard")).text
    found = await activity.backlog(w.tenant)
    # The backlog counts from completion: 待审核 enrolments with their completion time (other tests
    # of the shared database put some into 待审核 by hand, without one).
    waiting = await Enrollment.count().where((Enrollment.tenant == w.tenant.id) & (Enrollment.status == "review")
                                             & Enrollment.completed_at.is_not_null())
    assert f'id="backlog-count">{waiting}<' in page and found["total"] == waiting
    assert f'id="overdue-count">{found["overdue"]}<' in page and found["overdue"] >= 1
    assert found["states"][0][0] == "已超期"  # overdue first
    assert page.index('data-panel="backlog_states"') < page.index('data-panel="backlog_ages"')


async def test_dashboard_panels_of_the_survey_association(client, platform, make_account):
    from core.roster.tables import RosterEntry
    from plugins.survey_association.tables import CertificateHolder, CompanyCertification

    tenant = platform.tenants.get("survey")
    admin, password = await make_account("survey", role="tenant_admin")
    await sign_in(client, "survey", admin, password)
    page = (await client.get("/t/survey/admin/dashboard?year=all")).text
    rows = {r[0]: r[1:] for r in _tables(page)["survey_members"]}

    async def split(table, done):
        rows = await table.select(table.status).where(table.tenant == tenant.id)
        return [str(sum(r["status"] == done for r in rows)), str(sum(r["status"] != done for r in rows))]

    assert rows["企业认证"] == await split(CompanyCertification, "approved")
    assert rows["证书确认"] == await split(CertificateHolder, "confirmed")
    assert rows["学员加入"] == await split(RosterEntry, "joined")
    # The construction group has no such panel.
    admin, password = await make_account("construction", role="tenant_admin")
    client.http.cookies.clear()
    await sign_in(client, "construction", admin, password)
    assert 'data-panel="survey_members"' not in (await client.get(f"{T}/admin/dashboard")).text


async def test_operator_dashboard_sets_tenants_side_by_side(client, platform):
    from core.accounts.services import upsert_account

    await upsert_account(None, role="operator", password="Operator-2026x", username="dash-operator",
                         real_name="运营")
    r = await client.post("/platform/signin", {"username": "dash-operator", "password": "Operator-2026x"})
    assert r.status_code == 303
    page = await client.get("/platform/dashboard")
    assert page.status_code == 200
    side = {r[0]: r[1:] for r in _tables(page.text)["tenants"]}
    for tenant in platform.tenants:
        learners = await Account.count().where((Account.tenant == tenant.id) & (Account.role == "learner"))
        backlog = await Enrollment.count().where((Enrollment.tenant == tenant.id) & (Enrollment.status == "review")
                                                 & Enrollment.completed_at.is_not_null())
        certificates = await Certificate.count().where((Certificate.tenant == tenant.id) & (Certificate.status == "valid"))
        row = side[tenant.name]
        assert (row[0], row[3], row[5]) == (str(learners), str(backlog), str(certificates))
