"""The tenant dashboard's progress and exam figures, each one grouped query (or a few) in SQL.

Progress of the year by position, company and course: enrolled, each enrolment status (学习中,
待审核 = hours completed, 审核通过, 学时已清除), exam passed, certificate issued (valid), reported
to the registry (uploaded). Exams: pass rate per position, score distribution, attempts until
pass. Only grouped rows reach Python (a few per position, course or company)."""

from __future__ import annotations

import asyncio
from typing import Any

from piccolo.query.functions.aggregate import Count

from core.courses.tables import Course
from core.dashboards import counts, sql
from core.dashboards.tables import GroupCount
from core.dashboards.values import DashboardFilters, DashboardPanel
from core.db.scoped import scoped
from core.exams.tables import ExamAttempt
from core.tenancy import Tenant

STATUSES = ("studying", "review", "approved", "cleared")
PROGRESS_HEADERS = ("报名", "学习中", "待审核", "审核通过", "学时已清除", "考核合格", "已发证", "已上报")
TOP = 15  # rows shown per dimension; the rest are summed into one row
OTHERS = "其他"


def _top(table: dict[str, list[int]]) -> list[tuple[Any, ...]]:
    """The rows most enrolled first; past ``TOP`` + 1 rows, the rest summed into one row 其他."""
    rows = sorted(([label, *counts] for label, counts in table.items()), key=lambda r: (-r[1], r[0]))
    if len(rows) > TOP + 1:
        rest = rows[TOP:]
        rows = [*rows[:TOP], [OTHERS, *(sum(r[i] for r in rest) for i in range(1, len(PROGRESS_HEADERS) + 1))]]
    return [tuple(r) for r in rows]


def _add(table: dict[str, list[int]], label: str, r: dict[str, Any]) -> None:
    counts = table.setdefault(label, [0] * len(PROGRESS_HEADERS))
    counts[0] += r["count"]
    if r["status"] in STATUSES:
        counts[1 + STATUSES.index(r["status"])] += r["count"]
    for i, key in enumerate(("passed", "certified", "reported"), start=5):
        counts[i] += int(r[key] or 0)


async def progress_tables(tenant: Tenant, f: DashboardFilters) -> dict[str, list[tuple[Any, ...]]]:
    """``{dim: rows}`` for position, course and company, each row ``(label, enrolled, studying,
    review, approved, cleared, exam passed, certified, reported)``, most enrolled first. The
    enrolments grouped by course and status (a course belongs to one position, so positions are
    summed from it; labels come from the tenant's few courses) and by company and status, from the
    tenant's counts (``core.dashboards.counts``) once computed, else from the enrolments."""
    computed, courses = await asyncio.gather(
        counts.computed_at(tenant),
        scoped(Course, tenant).select(Course.id, Course.title, Course.year, Course.position.name.as_alias("position")))
    by_course, by_company = await counts.progress_groups(tenant, f, computed is not None)
    labels = {c["id"]: (f"{c['title']}（{c['year']}）", str(c["position"])) for c in courses}
    tables: dict[str, dict[str, list[int]]] = {"position": {}, "company": {}, "course": {}}
    for r in by_course:  # grouped by the course's id (integers), labelled here from the tenant's courses
        course, position = labels[r["course"]]
        _add(tables["position"], position, r)
        _add(tables["course"], course, r)
    for r in by_company:
        _add(tables["company"], str(r["label"]), r)
    return {dim: _top(table) for dim, table in tables.items()}


async def progress_rows(tenant: Tenant, f: DashboardFilters, dim: str) -> list[tuple[Any, ...]]:
    """One dimension of ``progress_tables``."""
    return (await progress_tables(tenant, f))[dim]


def progress_panels(tables: dict[str, list[tuple[Any, ...]]]) -> list[DashboardPanel]:
    titles = {"position": ("按岗位", "岗位"), "company": ("按单位", "单位"), "course": ("按课程", "课程")}
    results = [tables[dim] for dim in titles]
    return [DashboardPanel(key=f"progress_{dim}", title=f"学习进度{title}", headers=(column, *PROGRESS_HEADERS),
                           rows=tuple(rows), chart="hbar" if dim != "position" else "bar", section="学习进度",
                           order=10 + i)
            for i, ((dim, (title, column)), rows) in enumerate(zip(titles.items(), results))]


async def exam_groups(tenant: Tenant, f: DashboardFilters) -> list[dict[str, Any]]:
    """The finished attempts on enrolments matching ``f`` per position (``label``), passed, score
    tenth (``bucket``) and attempt ``number``: from the tenant's counts once computed."""
    if await counts.computed_at(tenant) is not None:
        rows = await counts.summed(tenant, f, "exam", {"label": GroupCount.label, "state": GroupCount.state,
                                                       "bucket": GroupCount.bucket, "number": GroupCount.number})
        return [{**r, "passed": r["state"] == "passed"} for r in rows]
    bucket = counts.score_bucket()
    return await scoped(ExamAttempt, tenant).select(
        ExamAttempt.position.name.as_alias("label"), ExamAttempt.passed, bucket, ExamAttempt.number, Count()).where(
        ExamAttempt.status.is_in(list(counts.FINISHED)), *sql.where(tenant, f, ExamAttempt.enrollment)).group_by(
        ExamAttempt.position.name, ExamAttempt.passed, bucket, ExamAttempt.number)


async def exam_panels(tenant: Tenant, f: DashboardFilters) -> list[DashboardPanel]:
    """Pass rate per position, score distribution (tenths of the paper's total) and the attempt
    on which learners passed: sums over the few groups of ``exam_groups``."""
    rows = await exam_groups(tenant, f)
    rates: dict[str, list[int]] = {}
    buckets: dict[int, int] = {}
    until: dict[int, int] = {}
    for r in rows:
        tally = rates.setdefault(str(r["label"]), [0, 0])
        tally[0] += r["count"]
        if r["passed"]:
            tally[1] += r["count"]
            until[int(r["number"])] = until.get(int(r["number"]), 0) + r["count"]
        if int(r["bucket"]) >= 0:  # -1: no score or no total
            buckets[int(r["bucket"])] = buckets.get(int(r["bucket"]), 0) + r["count"]
    pass_rows = tuple((label, n, ok, round(ok * 100 / n, 1) if n else 0.0) for label, (n, ok) in sorted(rates.items()))
    score_rows = tuple((f"{i * 10}–{i * 10 + 9 if i < 9 else 100}%", buckets.get(i, 0)) for i in range(10))
    until_rows = tuple((str(n), count) for n, count in sorted(until.items()))
    return [
        DashboardPanel(key="exam_pass_rate", title="各岗位考核合格率", headers=("岗位", "交卷次数", "合格次数", "合格率（％）"),
                       rows=pass_rows, chart="bar", section="在线考核", order=40, series=(3,)),
        DashboardPanel(key="exam_scores", title="成绩分布（占总分）", headers=("成绩段", "交卷次数"), rows=score_rows,
                       chart="bar", section="在线考核", order=41),
        DashboardPanel(key="exam_attempts_until_pass", title="第几次考核合格", headers=("次数", "合格人次"),
                       rows=until_rows, chart="bar", section="在线考核", order=42),
    ]
