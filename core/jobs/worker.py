"""``xueshi worker``: a SAQ worker process that builds its own platform (no web app)."""

from __future__ import annotations

import logging

from core.jobs.builtin import resume_stale_jobs
from core.jobs.runtime import SaqJobs
from core.kernel import build_platform
from core.settings import Settings

log = logging.getLogger("xueshi.jobs")


async def run_worker(settings: Settings, *, concurrency: int = 4) -> None:
    """Build and start the platform (pool, tenants, queue), then work until SIGTERM/SIGINT; jobs
    still running get ``shutdown_grace_period_s`` to finish, then are cancelled and retried by
    another worker. Cron jobs run on schedule; stale jobs are also looked at once at the start."""
    platform = build_platform(settings)
    if not isinstance(platform.jobs, SaqJobs):
        raise SystemExit("xueshi worker needs REDIS_URL; without Redis the serving process runs the jobs itself")
    await platform.start()
    try:
        worker = platform.jobs.worker(platform, concurrency=concurrency, on_start=[resume_stale_jobs])
        log.info("worker %s: %d jobs, concurrency %d", worker.id, len(platform.jobs.specs), concurrency)
        await worker.start()
    finally:
        await platform.stop()
