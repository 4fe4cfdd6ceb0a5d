"""The dashboards' counts of rows that change in place (core.dashboards.counts): after the job ran,
the figures equal counts made here and the live figures; a change shows after the next run; another
tenant's rows are never counted; the filters apply; the page says when the counts were made.
Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import re
import secrets
from collections import Counter

from certificate_helpers import sign_in
from core import tenant_time
from core.courses.tables import Course, Enrollment
from core.dashboards import activity, counts, progress
from core.dashboards.tables import CountRun, GroupCount, ProgressCount
from core.dashboards.values import DashboardFilters
from core.db.scoped import scoped
from core.exams.tables import ExamAttempt
from core.proctoring.tables import FaceVerification
from core.review.tables import ReviewDecision
from core.study.tables import StudyEvent
from dashboard_helpers import NOW, build

ALL = DashboardFilters(year=None)
T = "/t/construction"


async def figures(tenant, f=ALL) -> dict:
    """Every figure the counts feed: progress by position and company, face checks, snapshots, review,
    exams."""
    tables = await progress.progress_tables(tenant, f)
    study = {p.key: p.rows for p in await activity.study_panels(tenant, f) if p.key in ("snapshots", "face_checks")}
    review = {p.key: p.rows for p in await activity.review_panels(tenant, f) if p.key in ("decisions", "clearings")}
    exams = {p.key: p.rows for p in await progress.exam_panels(tenant, f)}
    return {"position": sorted(tables["position"]), "company": sorted(tables["company"]), **study, **review, **exams}


async def live(tenant, f=ALL) -> dict:
    """The same figures counted from the rows (no counts: the tenant's run row removed)."""
    await scoped(CountRun, tenant).delete()
    return await figures(tenant, f)


async def test_after_the_job_the_figures_equal_the_rows_and_the_live_count(platform, make_account):
    await build(platform, make_account, slug="survey")
    w = await build(platform, make_account)
    tenant = w.tenant
    await counts.recount_dashboards({"platform": platform})
    counted = await figures(tenant)
    # counted here from the tenant's rows
    statuses = Counter(e.status for e in await Enrollment.objects().where(Enrollment.tenant == tenant.id))
    position_totals = [sum(r[i] for r in counted["position"]) for i in (1, 2, 3, 4, 5)]
    assert position_totals == [sum(statuses.values()), statuses["studying"], statuses["review"], statuses["approved"],
                               statuses["cleared"]]
    events = Counter(e.kind for e in await StudyEvent.objects().where(StudyEvent.tenant == tenant.id))
    assert dict(counted["snapshots"])["抓拍非本人"] == events["snapshot_mismatch"]
    finished = await ExamAttempt.count().where(ExamAttempt.tenant == tenant.id,
                                               ExamAttempt.status.is_in(list(counts.FINISHED)))
    assert sum(r[1] for r in counted["exam_pass_rate"]) == finished
    checks = Counter((c.purpose, c.status) for c in await FaceVerification.objects().where(
        FaceVerification.tenant == tenant.id, FaceVerification.account.is_in(
            Enrollment.select(Enrollment.account).where(Enrollment.tenant == tenant.id))))
    assert [r[1:3] for r in counted["face_checks"]] == [(checks["study", "passed"], checks["study", "failed"]),
                                                        (checks["snapshot", "passed"], checks["snapshot", "failed"])]
    decided = await ReviewDecision.count().where(ReviewDecision.tenant == tenant.id,
                                                 ReviewDecision.status.is_in(["done", "pending"]))
    assert sum(sum(r[1:]) for r in counted["decisions"]) == decided
    # the counts hold no row of another tenant, and the live figures are the same
    survey = platform.tenants.get("survey")
    rows = await ProgressCount.select(ProgressCount.enrolled).where(ProgressCount.tenant == survey.id)
    assert sum(r["enrolled"] for r in rows) == await Enrollment.count().where(Enrollment.tenant == survey.id)
    assert await live(tenant) == counted
    f = DashboardFilters(year=2026, position=w.position.id, company=w.company)
    await counts.recount(tenant)
    assert await figures(tenant, f) == await live(tenant, f)


async def test_a_change_shows_after_the_next_run(platform, make_account):
    w = await build(platform, make_account)
    tenant = w.tenant
    f = DashboardFilters(year=2026, course=w.course.id)
    ran = await counts.recount(tenant)
    before = await progress.progress_rows(tenant, f, "position")
    studying = w.enrolments["studying"]
    await scoped(Enrollment, tenant).update({Enrollment.status: "review"}).where(Enrollment.id == studying.id)
    unchanged = await progress.progress_rows(tenant, f, "position")
    if await counts.computed_at(tenant) == ran:  # no run of the minutely job in between
        assert unchanged == before
    await counts.recount(tenant)
    after = await progress.progress_rows(tenant, f, "position")
    name, enrolled, learning, review, *rest = before[0]
    assert after == [(name, enrolled, learning - 1, review + 1, *rest)]
    assert after == await progress.progress_rows(tenant, f, "position") == [
        tuple(r) for r in (await live(tenant, f))["position"]]


async def test_a_face_check_shows_after_the_next_run(platform, make_account):
    w = await build(platform, make_account)
    tenant = w.tenant
    f = DashboardFilters(year=2026, course=w.course.id)

    async def checks():
        return {p.key: p.rows for p in await activity.study_panels(tenant, f)}["face_checks"]

    ran = await counts.recount(tenant)
    before = await checks()
    learner = w.enrolments["review"].account
    await FaceVerification(tenant=tenant.id, account=learner, purpose="snapshot", status="passed", nonce="n" * 32,
                           created_at=NOW).save()
    unchanged = await checks()
    if await counts.computed_at(tenant) == ran:  # no run of the minutely job in between
        assert unchanged == before
    await counts.recount(tenant)
    (_, study_ok, study_bad, _), (label, ok, bad, _) = before
    assert (await checks())[1] == (label, ok + 1, bad, round((ok + 1) * 100 / (ok + 1 + bad), 1))
    assert await checks() == (await live(tenant, f))["face_checks"]


async def test_a_learner_on_two_matching_courses_has_their_checks_counted_once(platform, make_account):
    """Face checks point at a learner: counted once whichever of the learner's courses match, and
    in the filter's year only."""
    w = await build(platform, make_account)
    tenant = w.tenant
    second = Course(tenant=tenant.id, position=w.position.id, year=2026, title=f"{w.course.title}二", created_at=NOW)
    await second.save()
    learner = w.enrolments["review"].account
    await Enrollment(tenant=tenant.id, account=learner, course=second.id, status="studying", created_at=NOW).save()
    last_year = dt.datetime(2025, 6, 1, tzinfo=dt.UTC)
    for created in (NOW, last_year):
        await FaceVerification(tenant=tenant.id, account=learner, purpose="snapshot", status="passed",
                               nonce=secrets.token_hex(16), created_at=created).save()
    await counts.recount(tenant)
    for f, passed in ((DashboardFilters(year=2026, position=w.position.id), 1),
                      (DashboardFilters(year=None, position=w.position.id), 2),
                      (DashboardFilters(year=2026, course=second.id), 1),
                      (DashboardFilters(year=2025, course=second.id), 0),  # the course is of 2026
                      (DashboardFilters(year=None, course=second.id), 2)):
        counted = await figures(tenant, f)
        assert counted["face_checks"][1][1] == passed, f
        assert counted == await live(tenant, f)
        await counts.recount(tenant)


async def test_the_counts_of_one_tenant_are_replaced_not_added_to(platform, make_account):
    w = await build(platform, make_account)
    tenant = w.tenant
    await counts.recount(tenant)
    first = await GroupCount.count().where(GroupCount.tenant == tenant.id)
    await counts.recount(tenant)
    assert await GroupCount.count().where(GroupCount.tenant == tenant.id) == first > 0


async def test_the_page_says_when_its_counts_were_made(client, platform, make_account):
    w = await build(platform, make_account)
    admin, password = await make_account("construction", role="tenant_admin")
    await sign_in(client, "construction", admin, password)
    ran = await counts.recount(w.tenant)
    page = (await client.get(f"{T}/admin/dashboard")).text
    stamp = re.search(r'id="dashboard-computed">([^<]*)<', page).group(1)
    shown = tenant_time.local(await counts.computed_at(w.tenant) or ran, tenant_time.zone(w.tenant))
    assert "统计于" in stamp and shown.strftime("%Y-%m-%d %H:%M") in stamp
    await scoped(CountRun, w.tenant).delete()
    page = (await client.get(f"{T}/admin/dashboard")).text
    stamp = re.search(r'id="dashboard-computed">([^<]*)<', page).group(1)
    assert "实时" in stamp and "统计于" not in stamp


async def test_the_job_skips_a_tenant_counted_moments_ago(platform, make_account):
    """A process that just started runs its cron jobs at once; a count of seconds ago is kept."""
    w = await build(platform, make_account)
    ran = await counts.recount(w.tenant)
    assert "construction" not in await counts.recount_dashboards({"platform": platform})
    assert await counts.computed_at(w.tenant) == ran
    await scoped(CountRun, w.tenant).update({CountRun.computed_at: ran - counts.FRESH})
    assert "construction" in await counts.recount_dashboards({"platform": platform})
    assert await counts.computed_at(w.tenant) > ran
