"""Background jobs: SAQ on Redis (``xueshi worker``), or in the serving process without Redis.

A job is a plain ``async def job(ctx, **kwargs)`` that loads what it needs by id and gets the
platform with ``platform_of(ctx)``; a :class:`JobSpec` gives it its timeout, retries and cron.
Plugins add jobs with the ``register_jobs()`` hook; code queues one with
``await platform.jobs.enqueue(job, tenant=tenant, key=…, **kwargs)``. See docs/architecture.md.
"""

from core.jobs.runtime import InProcessJobs, Jobs, SaqJobs
from core.jobs.specs import JobSpec, platform_of, report

__all__ = ["InProcessJobs", "JobSpec", "Jobs", "SaqJobs", "platform_of", "report"]
