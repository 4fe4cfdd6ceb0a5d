"""The tenant dashboard's progress and exam figures, each one grouped query (or a few) in SQL.

Progress of the year by position, company and course: enrolled, each enrolment status (学习中,
待审核 = hours completed, 审核通过, 学时已清除), exam passed, certificate issued (valid), reported
to the registry (uploaded). Exams: pass rate per position, score distribution, attempts until
pass. Only grouped rows reach Python (a few per position, course or company)."""

from __future__ import annotations

import asyncio
from typing import Any

from piccolo.query.functions.aggregate import Count
from piccolo.querystring import QueryString

from core.certificates.tables import Certificate, RegistryRow
from core.courses.tables import Enrollment
from core.dashboards import sql
from core.dashboards.values import DashboardFilters, DashboardPanel
from core.db.scoped import scoped
from core.exams.tables import ExamAttempt
from core.tenancy import Tenant

STATUSES = ("studying", "review", "approved", "cleared")
PROGRESS_HEADERS = ("报名", "学习中", "待审核", "审核通过", "学时已清除", "考核合格", "已发证", "已上报")
TOP = 15  # rows shown per dimension; the rest are summed into one row
OTHERS = "其他"
FINISHED = ("submitted", "expired")


def dimension(name: str) -> QueryString | Any:
    """The grouped label of dimension ``name`` on an enrolment."""
    if name == "position":
        return Enrollment.course.position.name.as_alias("label")
    if name == "course":
        return QueryString("{} || '（' || CAST({} AS VARCHAR(8)) || '）'", Enrollment.course.title,
                           Enrollment.course.year, alias="label")
    return sql.company_of_enrolment(alias="label")


async def progress_rows(tenant: Tenant, f: DashboardFilters, dim: str) -> list[tuple[str, ...]]:
    """``(label, enrolled, studying, review, approved, cleared, exam passed, certified,
    reported)`` per position, course or company (``dim``), most enrolled first. Each figure counts
    enrolments: those with a passed attempt, a valid certificate or an uploaded registry row are
    found by a subquery (a semi-join), so an enrolment counts once however many rows it has."""
    label = dimension(dim)
    enrolments = scoped(Enrollment, tenant)
    conditions = sql.where(tenant, f)

    async def counted(table: Any, *having: Any) -> dict[str, int]:
        ids = scoped(table, tenant).select(table.enrollment).where(*having)
        rows = await enrolments.select(label, Count()).where(Enrollment.id.is_in(ids), *conditions).group_by(label)
        return {str(r["label"]): int(r["count"]) for r in rows}

    statuses, passed, certified, reported = await asyncio.gather(
        enrolments.select(label, Enrollment.status, Count()).where(*conditions).group_by(label, Enrollment.status),
        counted(ExamAttempt, ExamAttempt.passed == True),  # noqa: E712
        counted(Certificate, Certificate.status == "valid"),
        counted(RegistryRow, RegistryRow.status == "uploaded"))
    table: dict[str, list[int]] = {}
    for r in statuses:
        counts = table.setdefault(str(r["label"]), [0] * 5)
        counts[0] += r["count"]
        if r["status"] in STATUSES:
            counts[1 + STATUSES.index(r["status"])] += r["count"]
    rows = sorted(([label, *counts, passed.get(label, 0), certified.get(label, 0), reported.get(label, 0)]
                   for label, counts in table.items()), key=lambda r: (-r[1], r[0]))
    if len(rows) > TOP + 1:
        rest = rows[TOP:]
        rows = [*rows[:TOP], [OTHERS, *(sum(r[i] for r in rest) for i in range(1, len(PROGRESS_HEADERS) + 1))]]
    return [tuple(r) for r in rows]


async def progress_panels(tenant: Tenant, f: DashboardFilters) -> list[DashboardPanel]:
    titles = {"position": ("按岗位", "岗位"), "company": ("按单位", "单位"), "course": ("按课程", "课程")}
    results = await asyncio.gather(*(progress_rows(tenant, f, dim) for dim in titles))
    return [DashboardPanel(key=f"progress_{dim}", title=f"学习进度{title}", headers=(column, *PROGRESS_HEADERS),
                           rows=tuple(rows), chart="hbar" if dim != "position" else "bar", section="学习进度",
                           order=10 + i)
            for i, ((dim, (title, column)), rows) in enumerate(zip(titles.items(), results))]


def _finished(tenant: Tenant, f: DashboardFilters) -> list[Any]:
    return [ExamAttempt.status.is_in(list(FINISHED)), *sql.where(tenant, f, ExamAttempt.enrollment)]


async def exam_panels(tenant: Tenant, f: DashboardFilters) -> list[DashboardPanel]:
    """Pass rate per position, score distribution (tenths of the paper's total) and the attempt
    on which learners passed."""
    attempts = scoped(ExamAttempt, tenant)
    bucket = QueryString("CASE WHEN {} >= {} THEN 9 ELSE ({} * 10) / {} END", ExamAttempt.score_centi,
                         ExamAttempt.total_centi, ExamAttempt.score_centi, ExamAttempt.total_centi, alias="bucket")
    by_position, scores, until = await asyncio.gather(
        attempts.select(ExamAttempt.position.name.as_alias("label"), ExamAttempt.passed, Count()).where(
            *_finished(tenant, f)).group_by(ExamAttempt.position.name, ExamAttempt.passed),
        attempts.select(bucket, Count()).where(*_finished(tenant, f), ExamAttempt.score_centi.is_not_null(),
                                               ExamAttempt.total_centi > 0).group_by(bucket),
        attempts.select(ExamAttempt.number, Count()).where(*_finished(tenant, f), ExamAttempt.passed == True)  # noqa: E712
        .group_by(ExamAttempt.number))
    rates: dict[str, list[int]] = {}
    for r in by_position:
        counts = rates.setdefault(str(r["label"]), [0, 0])
        counts[0] += r["count"]
        counts[1] += r["count"] if r["passed"] else 0
    pass_rows = tuple((label, n, ok, round(ok * 100 / n, 1) if n else 0.0) for label, (n, ok) in sorted(rates.items()))
    buckets = {int(r["bucket"]): int(r["count"]) for r in scores}
    score_rows = tuple((f"{i * 10}–{i * 10 + 9 if i < 9 else 100}%", buckets.get(i, 0)) for i in range(10))
    until_rows = tuple((str(r["number"]), int(r["count"])) for r in sorted(until, key=lambda r: r["number"]))
    return [
        DashboardPanel(key="exam_pass_rate", title="各岗位考核合格率", headers=("岗位", "交卷次数", "合格次数", "合格率（％）"),
                       rows=pass_rows, chart="bar", section="在线考核", order=40, series=(3,)),
        DashboardPanel(key="exam_scores", title="成绩分布（占总分）", headers=("成绩段", "交卷次数"), rows=score_rows,
                       chart="bar", section="在线考核", order=41),
        DashboardPanel(key="exam_attempts_until_pass", title="第几次考核合格", headers=("次数", "合格人次"),
                       rows=until_rows, chart="bar", section="在线考核", order=42),
    ]
