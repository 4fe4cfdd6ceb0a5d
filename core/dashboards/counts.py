"""The tenant dashboard's counts of rows that change in place, recomputed per tenant by a job.

An enrolment changes status, gains an exam pass, a certificate, a registry upload; a decision is
confirmed or withdrawn, an appeal decided, an attempt finished. A mark like the ledger's
(``core.dashboards.rollup``) cannot follow rows that change, so the ``recount_dashboards`` job
(every minute) replaces each tenant's ``ProgressCount`` and ``GroupCount`` rows with the grouped
counts of its rows now (per course and company of the enrolment, the filters, and per status,
kind, reviewer …: thousands of rows where the tenant has a hundred thousand enrolments; face
checks, which point at a learner, per set of the learner's courses, see ``_face_rows``) and
records when (``CountRun``). The dashboard sums them under its filters and says when they were
computed; a tenant never counted is counted live by the grouped queries the panels had before.
The figures are exact as of the last run."""

from __future__ import annotations

import datetime as dt
from typing import Any

from piccolo.query.functions.aggregate import Count, Sum
from piccolo.querystring import QueryString

from core import tenant_time
from core.certificates.tables import Certificate, RegistryRow
from core.courses.tables import Enrollment
from core.dashboards import sql
from core.dashboards.tables import CountRun, GroupCount, ProgressCount
from core.dashboards.values import DashboardFilters
from core.db.scoped import scoped
from core.exams.tables import ExamAttempt
from core.jobs.specs import JobSpec, platform_of
from core.proctoring.tables import FaceVerification
from core.review.tables import Appeal, ReviewDecision
from core.study.tables import StudyEvent
from core.tenancy import Tenant

SNAPSHOT_KINDS = ("snapshot_ok", "snapshot_mismatch", "snapshot_no_face", "snapshot_faces", "snapshot_missing",
                  "snapshot_still", "snapshot_duplicate", "flagged")
FACE_PURPOSES = ("study", "snapshot")  # face checks before studying, snapshots while studying
FACE_STATES = ("passed", "failed")  # open checks are not counted
FIGURES = ("passed", "certified", "reported")
FINISHED = ("submitted", "expired")
FRESH = dt.timedelta(seconds=30)


def score_bucket() -> QueryString:
    """An attempt's score in tenths of the paper's total, 0–9 (-1: no score or no total)."""
    a = ExamAttempt
    return QueryString("CASE WHEN {} IS NULL OR {} <= 0 THEN -1 WHEN {} >= {} THEN 9 ELSE ({} * 10) / {} END",
                       a.score_centi, a.total_centi, a.score_centi, a.total_centi, a.score_centi, a.total_centi,
                       alias="bucket")


def _sources(tenant: Tenant) -> dict[str, Any]:
    """Per figure of ``GroupCount``, the rows to count: their enrolment and keys."""
    def keys(label: Any = "''", state: Any = "''", number: Any = "0", bucket: Any = "0") -> list[QueryString]:
        return [QueryString(v, alias=k) if isinstance(v, str) else v if isinstance(v, QueryString) else v.as_alias(k)
                for k, v in (("label", label), ("state", state), ("number", number), ("bucket", bucket))]
    passed = QueryString("CASE WHEN {} THEN 'passed' ELSE '' END", ExamAttempt.passed, alias="state")
    return {
        "event": scoped(StudyEvent, tenant).select(StudyEvent.enrollment, *keys(StudyEvent.kind)).where(
            StudyEvent.kind.is_in(list(SNAPSHOT_KINDS))),
        "decision": scoped(ReviewDecision, tenant).select(ReviewDecision.enrollment, *keys(
            ReviewDecision.kind, ReviewDecision.status, ReviewDecision.reviewer)),
        "appeal": scoped(Appeal, tenant).select(Appeal.enrollment, *keys(Appeal.status)),
        "exam": scoped(ExamAttempt, tenant).select(ExamAttempt.enrollment, *keys(
            ExamAttempt.position.name, passed, ExamAttempt.number, score_bucket())).where(
            ExamAttempt.status.is_in(list(FINISHED))),
    }


def _has(tenant: Tenant, table: Any, having: Any, alias: str) -> QueryString:
    """How many of a group's enrolments have a row of ``table`` matching ``having`` (a semi-join:
    an enrolment counts once however many rows it has)."""
    ids = scoped(table, tenant).select(table.enrollment).where(having)
    return QueryString("SUM(CASE WHEN {} THEN 1 ELSE 0 END)", Enrollment.id.is_in(ids).querystring, alias=alias)


def _figures(tenant: Tenant) -> list[Any]:
    return [Count(), _has(tenant, ExamAttempt, ExamAttempt.passed == True, "passed"),  # noqa: E712
            _has(tenant, Certificate, Certificate.status == "valid", "certified"),
            _has(tenant, RegistryRow, RegistryRow.status == "uploaded", "reported")]


async def computed_at(tenant: Tenant) -> dt.datetime | None:
    """When the tenant's counts were computed (None: never; the dashboard counts live)."""
    row = await scoped(CountRun, tenant).select(CountRun.computed_at).first()
    return row["computed_at"] if row else None


def _rolled(tenant: Tenant, f: DashboardFilters, table: Any) -> list[Any]:
    """The filters on a count table's course and company (as ``sql.where`` on the enrolment)."""
    return [sql.on_course(tenant, f, table.course), *([table.company == f.company] if f.company else [])]


async def progress_groups(tenant: Tenant, f: DashboardFilters, counted: bool) -> tuple[list[dict], list[dict]]:
    """The enrolments matching ``f`` grouped by course and status, and by company (``label``) and
    status, each group with ``count``, ``passed``, ``certified``, ``reported``: from the tenant's
    counts when ``counted``, else from its enrolments."""
    if counted:
        sums = [Sum(ProgressCount.enrolled, alias="count"),
                *(Sum(getattr(ProgressCount, key), alias=key) for key in FIGURES)]
        counts = scoped(ProgressCount, tenant)
        conditions = _rolled(tenant, f, ProgressCount)
        by_course = await counts.select(ProgressCount.course, ProgressCount.status, *sums).where(*conditions).group_by(
            ProgressCount.course, ProgressCount.status)
        by_company = await counts.select(ProgressCount.company.as_alias("label"), ProgressCount.status, *sums).where(
            *conditions).group_by(ProgressCount.company, ProgressCount.status)
        return by_course, by_company
    enrolments = scoped(Enrollment, tenant)
    conditions = sql.where(tenant, f)
    company = sql.company_of_enrolment(alias="label")
    by_course = await enrolments.select(Enrollment.course, Enrollment.status, *_figures(tenant)).where(
        *conditions).group_by(Enrollment.course, Enrollment.status)
    by_company = await enrolments.select(company, Enrollment.status, *_figures(tenant)).where(*conditions).group_by(
        company, Enrollment.status)
    return by_course, by_company


async def summed(tenant: Tenant, f: DashboardFilters, figure: str, keys: dict[str, Any], *where: Any) -> list[dict]:
    """The tenant's ``GroupCount`` rows of ``figure`` matching ``f`` and ``where``, summed per
    ``keys`` (``{alias: column}``) into ``count``."""
    return await scoped(GroupCount, tenant).select(*(c.as_alias(k) for k, c in keys.items()),
                                                   Sum(GroupCount.n, alias="count")).where(
        GroupCount.figure == figure, *_rolled(tenant, f, GroupCount), *where).group_by(*keys.values())


async def snapshot_counts(tenant: Tenant, f: DashboardFilters, counted: bool) -> dict[str, int]:
    """``{kind: events}`` of the snapshot events on enrolments matching ``f``."""
    if counted:
        rows = await summed(tenant, f, "event", {"kind": GroupCount.label})
    else:
        rows = await scoped(StudyEvent, tenant).select(StudyEvent.kind, Count()).where(
            StudyEvent.kind.is_in(list(SNAPSHOT_KINDS)), *sql.where(tenant, f, StudyEvent.enrollment)).group_by(
            StudyEvent.kind)
    return {r["kind"]: int(r["count"] or 0) for r in rows}


def _checks(tenant: Tenant, *columns: Any) -> Any:
    """``columns`` of the tenant's finished face checks of ``FACE_PURPOSES``."""
    return scoped(FaceVerification, tenant).select(*columns).where(FaceVerification.status.is_in(list(FACE_STATES)),
                                                                   FaceVerification.purpose.is_in(list(FACE_PURPOSES)))


def _learners(tenant: Tenant) -> Any:
    """Each learner with an enrolment: ``account``, ``company`` and ``courses``, the learner's
    course ids in order as one text (the key of the set). SQLite's ``group_concat`` takes no order
    as an aggregate but follows the window's as a window function."""
    company = sql.company_of_enrolment()
    if sql.postgres(Enrollment):
        key = QueryString("string_agg(CAST({} AS TEXT), ',' ORDER BY {})", Enrollment.course, Enrollment.course,
                          alias="courses")
        return scoped(Enrollment, tenant).select(Enrollment.account, company, key).group_by(Enrollment.account, company)
    key = QueryString("group_concat({}, ',') OVER (PARTITION BY {} ORDER BY {} ROWS BETWEEN UNBOUNDED PRECEDING "
                      "AND UNBOUNDED FOLLOWING)", Enrollment.course, Enrollment.account, Enrollment.course,
                      alias="courses")
    return scoped(Enrollment, tenant).select(Enrollment.account, company, key).distinct()


def _face_rows(tenant: Tenant) -> QueryString:
    """One statement (one snapshot) inserting the face checks' counts. A check belongs to a learner,
    not an enrolment, and counts once for a learner enrolled on several matching courses: learners
    with the same set of courses get one number (``DENSE_RANK`` of the set's key); the ``face`` rows
    count the checks per that number, the learner's company, purpose, status and tenant year of the
    check, and the ``face_set`` rows list each number's courses."""
    checks = _checks(tenant, FaceVerification.account, FaceVerification.purpose, FaceVerification.status,
                     sql.local_year(FaceVerification.created_at, tenant_time.zone(tenant)))
    enrolments = scoped(Enrollment, tenant).select(Enrollment.account, Enrollment.course)
    return QueryString(
        "WITH s AS (SELECT l.account, l.company, DENSE_RANK() OVER (ORDER BY l.courses) AS learners FROM ({}) AS l) "
        "INSERT INTO dashboard_counts (tenant, figure, course, company, label, state, number, bucket, n) "
        "SELECT CAST({} AS INTEGER), 'face', 0, s.company, v.purpose, v.status, s.learners, v.year, COUNT(*) "
        "FROM ({}) AS v JOIN s ON s.account = v.account GROUP BY s.company, v.purpose, v.status, s.learners, v.year "
        "UNION ALL SELECT DISTINCT CAST({} AS INTEGER), 'face_set', e.course, NULL, '', '', s.learners, 0, 0 "
        "FROM ({}) AS e JOIN s ON s.account = e.account",
        _learners(tenant).querystrings[0], tenant.id, checks.querystrings[0], tenant.id, enrolments.querystrings[0])


async def face_counts(tenant: Tenant, f: DashboardFilters, counted: bool) -> dict[tuple[str, str], int]:
    """``{(purpose, status): checks}`` of the learners enrolled on a course matching ``f``, made in
    the filter's year (the tenant's calendar) when it has one."""
    if counted:
        where = [GroupCount.figure == "face", *([GroupCount.bucket == f.year] if f.year else []),
                 *([GroupCount.company == f.company] if f.company else [])]
        if f.year or f.position or f.course:  # else every set matches: each has a course of the tenant
            # the matching sets' numbers first, a few integers: a semi-join's plan would hang on
            # the estimates of a table replaced every minute
            sets = await scoped(GroupCount, tenant).select(GroupCount.number).where(
                GroupCount.figure == "face_set", sql.on_course(tenant, f, GroupCount.course)).distinct()
            if not sets:
                return {}
            where.append(GroupCount.number.is_in([r["number"] for r in sets]))
        rows = await scoped(GroupCount, tenant).select(GroupCount.label.as_alias("purpose"),
                                                       GroupCount.state.as_alias("status"),
                                                       Sum(GroupCount.n, alias="count")).where(*where).group_by(
            GroupCount.label, GroupCount.state)
    else:
        checks = _checks(tenant, FaceVerification.purpose, FaceVerification.status, Count()).where(
            FaceVerification.account.is_in(sql.learners_in(tenant, f)))
        if (period := sql.year_range(f, tenant_time.zone(tenant))) is not None:
            checks = checks.where(FaceVerification.created_at >= period[0], FaceVerification.created_at < period[1])
        rows = await checks.group_by(FaceVerification.purpose, FaceVerification.status)
    return {(r["purpose"], r["status"]): int(r["count"] or 0) for r in rows}


async def recount(tenant: Tenant) -> dt.datetime:
    """Replaces the tenant's counts with those of its rows now, in one transaction; returns when.
    The first statement locks the tenant's ``CountRun`` row, so two runs for one tenant follow each
    other and the later one, counting later, is what stays."""
    db = ProgressCount._meta.db
    company = sql.company_of_enrolment()
    progress = scoped(Enrollment, tenant).select(Enrollment.course, company, Enrollment.status,
                                                 *_figures(tenant)).group_by(Enrollment.course, company,
                                                                             Enrollment.status)
    enrolments = scoped(Enrollment, tenant).select(Enrollment.id, Enrollment.course, company)
    async with db.transaction():
        await db.run_querystring(QueryString(
            "INSERT INTO dashboard_count_run (tenant, computed_at) VALUES ({}, {}) "
            "ON CONFLICT (tenant) DO UPDATE SET computed_at = excluded.computed_at", tenant.id, dt.datetime.now(dt.UTC)))
        now = dt.datetime.now(dt.UTC)  # after the lock: every statement below sees the rows of this moment or later
        await scoped(ProgressCount, tenant).delete()
        await db.run_querystring(QueryString(
            "INSERT INTO dashboard_progress (tenant, course, company, status, enrolled, passed, certified, reported) "
            'SELECT {}, d.course, d.company, d.status, d."count", COALESCE(d.passed, 0), COALESCE(d.certified, 0), '
            "COALESCE(d.reported, 0) FROM ({}) AS d", tenant.id, progress.querystrings[0]))
        await scoped(GroupCount, tenant).delete()
        for figure, rows in _sources(tenant).items():
            await db.run_querystring(QueryString(
                "INSERT INTO dashboard_counts (tenant, figure, course, company, label, state, number, bucket, n) "
                "SELECT {}, {}, COALESCE(e.course, 0), e.company, v.label, v.state, v.number, v.bucket, COUNT(*) "
                "FROM ({}) AS v LEFT JOIN ({}) AS e ON e.id = v.enrollment "
                "GROUP BY COALESCE(e.course, 0), e.company, v.label, v.state, v.number, v.bucket",
                tenant.id, figure, rows.querystrings[0], enrolments.querystrings[0]))
        await db.run_querystring(_face_rows(tenant))
        await scoped(CountRun, tenant).update({CountRun.computed_at: now})
    return now


async def recount_dashboards(ctx: dict[str, Any]) -> dict[str, str]:
    """Cron job: ``recount`` every tenant not counted in the last ``FRESH`` (a process that just
    started runs its cron jobs at once: its writes would only repeat a run of seconds ago)."""
    done = {}
    for tenant in platform_of(ctx).tenants:
        if tenant.id is None:
            continue
        last = await computed_at(tenant)
        if last is None or dt.datetime.now(dt.UTC) - last >= FRESH:
            done[tenant.slug] = (await recount(tenant)).isoformat()
    return done


JOBS = [JobSpec(recount_dashboards, timeout=5 * 60, retries=0, cron="* * * * *", label="汇总学习进度与抓拍结果",
                record=False)]
