"""The core's jobs: the roster import, the nightly retention purge, and resuming stale jobs; with
the plugins' ``register_jobs()``, the jobs a platform's queue runs (``collect_specs``)."""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import TYPE_CHECKING, Any

from core.certificates.jobs import JOBS as CERTIFICATE_JOBS
from core.courses.video_jobs import JOBS as VIDEO_JOBS
from core.dashboards.counts import JOBS as COUNT_JOBS
from core.dashboards.rollup import JOBS as DASHBOARD_JOBS
from core.exams.bank_jobs import JOBS as BANK_JOBS
from core.jobs import records
from core.jobs.specs import JobSpec, platform_of, report
from core.jobs.tables import JobRun
from core.roster.imports import import_failed, run_roster_import
from core.plugins import collected
from core.proctoring.snapshots import check_snapshot
from core.proctoring.verdicts import settle_captures
from core.retention import purge

if TYPE_CHECKING:
    from core.kernel import Platform

log = logging.getLogger("xueshi.jobs")


async def purge_retention(ctx: dict[str, Any]) -> dict[str, dict[str, int]]:
    """Cron job: ``core.retention.purge`` for every tenant (what ``xueshi purge`` does by hand)."""
    platform = platform_of(ctx)
    tenants = list(platform.tenants)
    out: dict[str, dict[str, int]] = {}
    for i, tenant in enumerate(tenants):
        out[tenant.slug] = await purge(tenant, platform.storage)
        await report(ctx, i + 1, len(tenants))
    return out


async def resume_stale_jobs(ctx: dict[str, Any]) -> dict[str, int]:
    """Cron job: re-enqueue unfinished runs of resumable jobs (``heartbeat=True``: the imports)
    whose worker has been silent for two heartbeat periods, under the same key, with the same
    arguments; the import then continues after its last committed batch. With SAQ, a key that
    is still queued or active there is left alone (SAQ's own sweep retries a dead worker's job);
    in-process, this is what resumes an import cut off by a restart."""
    platform = platform_of(ctx)
    jobs = platform.jobs
    cutoff = records.now() - dt.timedelta(seconds=2 * jobs.heartbeat_seconds)
    resumed = 0
    for run in await JobRun.objects().where(JobRun.status.is_in(list(records.OPEN))):
        spec = jobs.specs.get(run.function)
        if spec is None or not spec.heartbeat:
            continue
        if (run.heartbeat_at or run.created_at) > cutoff:
            continue  # alive, or queued only recently
        kwargs = records_kwargs(run)
        log.warning("resuming stale job %s (%s), last heard of at %s", run.key, run.function, run.heartbeat_at)
        await jobs._enqueue(spec, run.key, kwargs)
        resumed += 1
    return {"resumed": resumed}


def records_kwargs(run: JobRun) -> dict[str, Any]:
    return json.loads(run.kwargs) if isinstance(run.kwargs, str) else dict(run.kwargs or {})


CORE_JOBS = [
    # 10,000 rows take seconds; a killed worker is noticed by its missing heartbeat, not the timeout.
    JobSpec(run_roster_import, timeout=30 * 60, retries=2, heartbeat=True, retry_delay=5, label="学员名册导入",
            on_failure=import_failed),
    JobSpec(purge_retention, timeout=60 * 60, retries=1, retry_delay=60, cron="30 3 * * *", label="清理过期个人数据"),
    JobSpec(resume_stale_jobs, timeout=5 * 60, retries=0, cron="*/5 * * * *", label="恢复中断的导入",
            record=False),
    *BANK_JOBS,  # question-bank imports too large for one request (core.exams.bank_jobs)
    *VIDEO_JOBS,  # lesson videos: probe, web-safe MP4, poster (core.courses.video_jobs)
    *CERTIFICATE_JOBS,  # batch certificates, registry report (core.certificates.jobs)
    # One snapshot is one detection and one encoding (~0.1-0.3 s); a retry covers a worker restart.
    JobSpec(check_snapshot, timeout=60, retries=2, retry_delay=2, label="学习抓拍比对", flow="proctoring"),
    JobSpec(settle_captures, timeout=120, retries=0, cron="* * * * *", label="处理未按时上传的学习抓拍",
            flow="proctoring"),
    *DASHBOARD_JOBS,  # the ledger's rollup per course and day for the dashboards (core.dashboards.rollup)
    *COUNT_JOBS,  # the dashboards' counts of enrolments and snapshot events per tenant (core.dashboards.counts)
]


def collect_specs(platform: Platform) -> list[JobSpec]:
    """The core's jobs, then every plugin's ``register_jobs()`` (read once, for all tenants)."""
    return [*CORE_JOBS, *collected(platform.plugins.pm, "register_jobs")]
