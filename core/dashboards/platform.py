"""The platform operator's dashboard: tenants side by side (learners, studying now, 学时 credited
this year, review backlog and overdue cases, valid certificates), SMS sent and failed per tenant,
and the job queue's health. One grouped query or count per figure and tenant, each through
``scoped`` (a handful of tenants); the job runs table belongs to the platform."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from typing import Any

from piccolo.query.functions.aggregate import Count, Min

from core import tenant_time
from core.accounts.tables import Account
from core.certificates.tables import Certificate
from core.dashboards import activity, rollup
from core.dashboards.values import DashboardPanel
from core.db.scoped import scoped
from core.jobs.controllers import STATUS_LABELS as JOB_STATES
from core.jobs.records import OPEN
from core.jobs.tables import JobRun
from core.notify.tables import Notification
from core.study.services import seconds_per_hour
from core.study.tables import StudyClock
from core.tenancy import Tenant

SMS_STATES = ("sent", "failed", "pending")


async def tenant_figures(tenant: Tenant) -> dict[str, Any]:
    year_start = dt.date(tenant_time.today(tenant).year, 1, 1)
    learners, active, seconds, found, certificates, sms = await asyncio.gather(
        scoped(Account, tenant).count(Account.role == "learner"),
        scoped(StudyClock, tenant).count(StudyClock.last_beat_at > time.time() - activity.ACTIVE_SECONDS),
        rollup.net_seconds_since(tenant, year_start),
        activity.backlog(tenant),
        scoped(Certificate, tenant).count(Certificate.status == "valid"),
        scoped(Notification, tenant).select(Notification.status, Count()).where(
            Notification.channel == "sms").group_by(Notification.status))
    return {"learners": learners, "active": active,
            "hours": round(seconds / seconds_per_hour(tenant), 2),
            "backlog": found["total"], "overdue": found["overdue"], "certificates": certificates,
            "sms": {r["status"]: r["count"] for r in sms}}


async def panels(tenants: list[Tenant]) -> tuple[list[DashboardPanel], dict[str, Any]]:
    """The operator's panels and the job queue's oldest unfinished run and recent failures."""
    day_ago = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    figures, jobs, oldest, failed = await asyncio.gather(
        asyncio.gather(*(tenant_figures(t) for t in tenants)),
        JobRun.select(JobRun.status, Count()).group_by(JobRun.status),
        JobRun.select(Min(JobRun.created_at, alias="oldest")).where(JobRun.status.is_in(list(OPEN))),
        JobRun.count().where((JobRun.status == "failed") & (JobRun.finished_at >= day_ago)))
    side = tuple((t.name, f["learners"], f["active"], f["hours"], f["backlog"], f["overdue"], f["certificates"])
                 for t, f in zip(tenants, figures))
    sms = tuple((t.name, *(f["sms"].get(s, 0) for s in SMS_STATES)) for t, f in zip(tenants, figures))
    counts = {r["status"]: r["count"] for r in jobs}
    out = [
        DashboardPanel(key="tenants", title="各培训机构", headers=("培训机构", "学员", "正在学习", "本年计入学时", "待审核",
                                                                  "已超期", "有效证书"),
                       rows=side, chart="bar", order=1, series=(4, 5, 6)),
        DashboardPanel(key="sms", title="短信发送", headers=("培训机构", "已发送", "发送失败", "待发送"), rows=sms,
                       chart="stacked", order=2),
        DashboardPanel(key="jobs", title="后台任务队列", headers=("状态", "任务数"),
                       rows=tuple((label, counts.get(k, 0)) for k, label in JOB_STATES.items()), chart="hbar",
                       order=3, translate_rows=True),
    ]
    first = oldest[0]["oldest"] if oldest else None
    if isinstance(first, str):  # SQLite's MIN() gives the stored text
        first = dt.datetime.fromisoformat(first)
    return out, {"oldest": first, "failed_day": failed,
                 "waiting": sum(counts.get(k, 0) for k in OPEN)}
