"""The tenant dashboard's study and review figures, from grouped queries.

Study: learners studying now (a beat within ``ACTIVE_SECONDS``), credited 学时 per tenant day,
face checks passed and failed, snapshot outcomes and flags. Review: the backlog (待审核) by age in
working days and against the tenant's promise (rules ``study.review_workdays``), decisions per
reviewer, clearings and appeals. The backlog is grouped by completion date in SQL; each date's
working-day age comes from ``core.review.workdays`` (a few dates, not a row per case)."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from typing import Any

from piccolo.query.functions.aggregate import Count

from core import tenant_time
from core.accounts.tables import Account
from core.courses.tables import Enrollment
from core.dashboards import counts, rollup, sql
from core.dashboards.counts import SNAPSHOT_KINDS
from core.dashboards.tables import GroupCount
from core.dashboards.values import DashboardFilters, DashboardPanel
from core.db.scoped import scoped
from core.review.controllers import EVENT_LABELS
from core.review.tables import Appeal, ReviewDecision
from core.review.workdays import deadline
from core.study.services import seconds_per_hour
from core.study.tables import StudyClock
from core.tenancy import Tenant

ACTIVE_SECONDS = 300
DAYS = 30  # credited hours per day: the last DAYS days of the period
FACE_LABELS = {"study": "学习前核验", "snapshot": "学习中抓拍"}  # counts.FACE_PURPOSES
DECISIONS = {"approve": "审核通过", "clear": "清除学时", "reverify": "要求重新核验", "appeal_upheld": "申诉成立",
             "appeal_rejected": "申诉驳回"}
AGE_BUCKETS = ((0, 0, "0"), (1, 1, "1"), (2, 2, "2"), (3, 3, "3"), (4, 4, "4"), (5, 5, "5"), (6, 10, "6–10"),
               (11, 10**6, "11 以上"))
DECIDED = ("done", "pending")  # decisions counted per reviewer (not withdrawn or cancelled)
PROMISE = {"on_time": "按期", "due": "临期", "overdue": "已超期"}


async def studying_now(tenant: Tenant, f: DashboardFilters) -> int:
    return await scoped(StudyClock, tenant).count(StudyClock.last_beat_at > time.time() - ACTIVE_SECONDS,
                                                  StudyClock.account.is_in(sql.learners_in(tenant, f)))


def _period_end(tenant: Tenant, f: DashboardFilters) -> dt.date:
    today = tenant_time.today(tenant)
    return min(today, dt.date(f.year, 12, 31)) if f.year else today


async def hours_per_day(tenant: Tenant, f: DashboardFilters) -> tuple[tuple[str, float], ...]:
    """Credited 学时 per tenant day over the last ``DAYS`` days of the period (days without any: 0)."""
    end = _period_end(tenant, f)
    start = end - dt.timedelta(days=DAYS - 1)
    per = await rollup.hours_by_day(tenant, f, start, end)
    scale = seconds_per_hour(tenant)
    return tuple(((start + dt.timedelta(days=i)).strftime("%m-%d"),
                  round(per.get(start + dt.timedelta(days=i), 0.0) / scale, 2)) for i in range(DAYS))


async def study_panels(tenant: Tenant, f: DashboardFilters) -> list[DashboardPanel]:
    counted = await counts.computed_at(tenant) is not None
    now, daily, face, kinds, flagged = await asyncio.gather(
        studying_now(tenant, f), hours_per_day(tenant, f), counts.face_counts(tenant, f, counted),
        counts.snapshot_counts(tenant, f, counted),
        scoped(Enrollment, tenant).count(Enrollment.flagged == True, *sql.where(tenant, f)))  # noqa: E712
    face_rows = []
    for purpose, label in FACE_LABELS.items():
        ok, bad = face.get((purpose, "passed"), 0), face.get((purpose, "failed"), 0)
        face_rows.append((label, ok, bad, round(ok * 100 / (ok + bad), 1) if ok + bad else 0.0))
    event_rows = [(EVENT_LABELS[k], kinds.get(k, 0)) for k in SNAPSHOT_KINDS]
    return [
        DashboardPanel(key="studying_now", title="正在学习的学员", headers=("项目", "人数"),
                       rows=(("正在学习（5 分钟内有学习记录）", now), ("标记待查的报名", flagged)), chart="none",
                       section="学习情况", order=20, translate_rows=True),
        DashboardPanel(key="hours_per_day", title="每日计入学时（近 30 天）", headers=("日期", "学时"), rows=daily,
                       chart="line", section="学习情况", order=21),
        DashboardPanel(key="face_checks", title="人脸核验通过率", headers=("核验", "通过", "未通过", "通过率（％）"),
                       rows=tuple(face_rows), chart="bar", section="学习情况", order=22, series=(1, 2),
                       translate_rows=True),
        DashboardPanel(key="snapshots", title="抓拍结果与异常标记", headers=("结果", "次数"), rows=tuple(event_rows),
                       chart="hbar", section="学习情况", order=23, translate_rows=True),
    ]


async def backlog(tenant: Tenant, f: DashboardFilters | None = None) -> dict[str, Any]:
    """The cases awaiting review by working days since completion and by state against the promise."""
    tz = tenant_time.zone(tenant)
    day = sql.local_date(Enrollment.completed_at, tz)
    rows = await scoped(Enrollment, tenant).select(day, Count()).where(
        Enrollment.status == "review", Enrollment.completed_at.is_not_null(),
        *sql.where(tenant, f or DashboardFilters())).group_by(day)
    ages = {label: [0, 0] for _, _, label in AGE_BUCKETS}
    states = {state: 0 for state in PROMISE}
    today = tenant_time.today(tenant)
    for r in rows:
        started = dt.datetime.combine(sql.as_date(r["day"]), dt.time(12), tz)
        d = deadline(started, tenant.rules.study.review_workdays, tz, today=today)
        label = next(label for low, high, label in AGE_BUCKETS if low <= d.elapsed <= high)
        ages[label][0] += r["count"]
        ages[label][1] += r["count"] if d.state == "overdue" else 0
        states[d.state] += r["count"]
    return {"ages": tuple((label, n, late) for label, (n, late) in ages.items()),
            "states": tuple((PROMISE[s], n) for s, n in sorted(states.items(), key=lambda x: x[0] != "overdue")),
            "total": sum(states.values()), "overdue": states["overdue"]}


def backlog_panels(found: dict[str, Any], order: int = 30) -> list[DashboardPanel]:
    return [
        DashboardPanel(key="backlog_states", title="待审核与承诺时限", headers=("状态", "待审核"), rows=found["states"],
                       chart="pie", section="学时审核", order=order, translate_rows=True),
        DashboardPanel(key="backlog_ages", title="待审核按工作日", headers=("已等待工作日", "待审核", "其中已超期"),
                       rows=found["ages"], chart="stacked", section="学时审核", order=order + 1),
    ]


async def _counted_review(tenant: Tenant, f: DashboardFilters) -> tuple[list[dict], list[dict], list[dict]]:
    """``review_groups`` from the tenant's counts (reviewers' names read for the few reviewers)."""
    per_reviewer, clearings, appeals = await asyncio.gather(
        counts.summed(tenant, f, "decision", {"reviewer": GroupCount.number, "kind": GroupCount.label},
                      GroupCount.state.is_in(list(DECIDED))),
        counts.summed(tenant, f, "decision", {"status": GroupCount.state}, GroupCount.label == "clear"),
        counts.summed(tenant, f, "appeal", {"status": GroupCount.label}))
    ids = sorted({r["reviewer"] for r in per_reviewer})
    names = {r["id"]: r["real_name"] for r in await scoped(Account, tenant).select(Account.id, Account.real_name).where(
        Account.id.is_in(ids))} if ids else {}
    return [{**r, "name": names.get(r["reviewer"], "")} for r in per_reviewer], clearings, appeals


async def review_groups(tenant: Tenant, f: DashboardFilters) -> tuple[list[dict], list[dict], list[dict]]:
    """Decided reviews per reviewer (``name``) and kind, clearings per status, appeals per status,
    of enrolments matching ``f``: from the tenant's counts once computed."""
    if await counts.computed_at(tenant) is not None:
        return await _counted_review(tenant, f)
    decisions = scoped(ReviewDecision, tenant)
    conditions = sql.where(tenant, f, ReviewDecision.enrollment)
    return await asyncio.gather(
        decisions.select(ReviewDecision.reviewer.real_name.as_alias("name"), ReviewDecision.reviewer,
                         ReviewDecision.kind, Count()).where(
            ReviewDecision.status.is_in(list(DECIDED)), *conditions).group_by(
            ReviewDecision.reviewer, ReviewDecision.reviewer.real_name, ReviewDecision.kind),
        decisions.select(ReviewDecision.status, Count()).where(ReviewDecision.kind == "clear", *conditions).group_by(
            ReviewDecision.status),
        scoped(Appeal, tenant).select(Appeal.status, Count()).where(*sql.where(tenant, f, Appeal.enrollment)).group_by(
            Appeal.status))


async def review_panels(tenant: Tenant, f: DashboardFilters) -> list[DashboardPanel]:
    found, (per_reviewer, clearings, appeals) = await asyncio.gather(backlog(tenant, f), review_groups(tenant, f))
    people: dict[tuple[int, str], dict[str, int]] = {}
    for r in per_reviewer:
        people.setdefault((r["reviewer"], r["name"] or ""), {})[r["kind"]] = r["count"]
    reviewer_rows = tuple((name, *(kinds.get(k, 0) for k in DECISIONS))
                          for (_, name), kinds in sorted(people.items(), key=lambda x: (-sum(x[1].values()), x[0][1])))
    clear = {r["status"]: r["count"] for r in clearings}
    appeal = {r["status"]: r["count"] for r in appeals}
    outcome_rows = (("清除待复核", clear.get("pending", 0)), ("已清除", clear.get("done", 0)),
                    ("复核未同意", clear.get("cancelled", 0)), ("申诉处理中", appeal.get("open", 0)),
                    ("申诉成立", appeal.get("upheld", 0)), ("申诉驳回", appeal.get("rejected", 0)))
    return [
        *backlog_panels(found),
        DashboardPanel(key="decisions", title="审核员的审核决定", headers=("审核员", *DECISIONS.values()),
                       rows=reviewer_rows, chart="stacked", section="学时审核", order=32),
        DashboardPanel(key="clearings", title="清除与申诉", headers=("项目", "数量"), rows=outcome_rows, chart="hbar",
                       section="学时审核", order=33, translate_rows=True),
    ]
