"""The platform's job queue: SAQ on Redis when ``REDIS_URL`` is set, else an in-process runner.

Both run the same :class:`JobSpec` functions with the same semantics: each attempt is bounded by
the spec's ``timeout``; a failed or timed-out attempt is tried again up to ``retries`` times, after
``retry_delay`` seconds; the last failure calls ``on_failure``; every attempt is recorded in
``JobRun`` (status, attempts, progress, error) for the progress pages. Job keys make enqueueing
idempotent: while a key is queued or running, enqueueing it again does nothing.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging
import uuid
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from core.jobs import records
from core.jobs.specs import FlowSwitchedOff, JobFunction, JobSpec

if TYPE_CHECKING:
    from core.jobs.tables import JobRun
    from core.kernel import Platform
    from core.tenancy import Tenant

log = logging.getLogger("xueshi.jobs")
CRON_TZ = ZoneInfo("Asia/Shanghai")


class Jobs:
    """The job queue of one process. ``enqueue`` from anywhere; ``start``/``stop`` with the platform."""

    backend = "none"

    def __init__(self, specs: list[JobSpec], *, heartbeat_seconds: int) -> None:
        self.specs: dict[str, JobSpec] = {}
        for spec in specs:
            if not isinstance(spec, JobSpec):
                raise TypeError(f"register_jobs() must return JobSpec objects, got {spec!r}")
            if spec.name in self.specs and self.specs[spec.name] is not spec:
                raise ValueError(f"two jobs are named {spec.name!r}: job function names must be unique")
            self.specs[spec.name] = spec
        self.heartbeat_seconds = heartbeat_seconds
        self.platform: Platform | None = None

    @classmethod
    def for_platform(cls, platform: Platform, specs: list[JobSpec]) -> Jobs:
        """The queue for ``platform``'s settings (SAQ with ``REDIS_URL``, else in-process)."""
        heartbeat = platform.settings.job_heartbeat_seconds
        if platform.settings.redis_url:
            return SaqJobs(specs, redis_url=platform.settings.redis_url, heartbeat_seconds=heartbeat,
                           queue_name=platform.settings.job_queue)
        return InProcessJobs(specs, heartbeat_seconds=heartbeat)

    def spec(self, job: str | JobFunction) -> JobSpec:
        name = job if isinstance(job, str) else job.__qualname__
        try:
            return self.specs[name]
        except KeyError:
            raise LookupError(f"no job {name!r}; plugins add jobs with the register_jobs() hook") from None

    def heartbeat_of(self, spec: JobSpec) -> int:
        return self.heartbeat_seconds if spec.heartbeat else 0

    async def enqueue(self, job: str | JobFunction, *, key: str | None = None, tenant: Tenant | None = None,
                      label: str = "", **kwargs: Any) -> JobRun | None:
        """Queue ``job`` with ``kwargs`` (JSON values: ids, not objects). A tenant's job also gets
        ``tenant=<slug>`` and shows on that tenant's job page. Returns the run's record (None for
        a job with ``record=False``)."""
        spec = self.spec(job)
        if tenant is not None and not tenant.offers(spec.flow):
            raise FlowSwitchedOff(f"job {spec.name} belongs to the {spec.flow} flow, which {tenant.slug} does not offer")
        key = key or f"{spec.name}:{uuid.uuid4().hex}"
        if tenant is not None:
            kwargs["tenant"] = tenant.slug
        if not spec.record:
            await self._enqueue(spec, key, kwargs)
            return None
        run = await records.queued(key=key, function=spec.name, label=label or spec.label, kwargs=kwargs,
                                   tenant_id=tenant.id if tenant is not None else None,
                                   max_attempts=spec.max_attempts)
        await self._enqueue(spec, key, kwargs)
        return run

    async def _enqueue(self, spec: JobSpec, key: str, kwargs: dict[str, Any]) -> None:
        raise NotImplementedError

    async def start(self, platform: Platform) -> None:
        self.platform = platform

    async def stop(self) -> None:
        pass

    # --- what both runners do around an attempt ----------------------------------------------

    async def _attempt_started(self, ctx: dict[str, Any], spec: JobSpec, key: str, attempt: int,
                               kwargs: dict[str, Any]) -> None:
        ctx["spec"] = spec
        if not spec.record:
            ctx["run_id"] = None
            return
        ctx["run_id"] = await records.started(key=key, function=spec.name, label=spec.label, attempt=attempt,
                                              max_attempts=spec.max_attempts, kwargs=kwargs)

    async def _attempt_ended(self, ctx: dict[str, Any], spec: JobSpec, *, ok: bool, last: bool,
                             error: BaseException | str | None = None, result: Any = None,
                             kwargs: dict[str, Any] | None = None) -> None:
        run_id = ctx.get("run_id")
        if ok:
            if run_id is not None:
                await records.finished(run_id, "complete", result=result)
            return
        message = records.short_error(error, spec.timeout)
        if run_id is not None:
            await records.finished(run_id, "failed" if last else "retrying", error=message)
        elif not spec.record:
            log.warning("job %s failed (attempt %s): %s", spec.name, "last" if last else "to retry", message)
        if last and spec.on_failure is not None:
            try:
                await spec.on_failure(ctx, message, **(kwargs or {}))
            except Exception:
                log.exception("on_failure of job %s failed", spec.name)


def call(spec: JobSpec, heartbeat: int):
    """The job function as the runners call it: a job with ``heartbeat`` gets a ticker that
    touches the run every third of the period while the attempt runs, so a long CPU step (parsing
    a spreadsheet) never looks like a dead worker; a killed process stops ticking. A job of a
    flow does nothing for a tenant that no longer offers the flow (rules changed since it was queued)."""
    if spec.flow is not None:
        spec = dataclasses.replace(spec, function=_where_offered(spec))
    if not heartbeat:
        return spec.function

    async def with_heartbeat(ctx: dict[str, Any], **kwargs: Any) -> Any:
        async def tick() -> None:
            while True:
                await asyncio.sleep(max(0.5, heartbeat / 3))
                if ctx.get("run_id") is not None:
                    await records.beat(ctx["run_id"])
                if ctx.get("job") is not None:
                    await ctx["job"].update()

        ticker = asyncio.create_task(tick())
        try:
            return await spec.function(ctx, **kwargs)
        finally:
            ticker.cancel()

    with_heartbeat.__qualname__ = spec.name
    return with_heartbeat


def _where_offered(spec: JobSpec) -> JobFunction:
    async def where_offered(ctx: dict[str, Any], **kwargs: Any) -> Any:
        tenant = ctx["platform"].tenants.get(kwargs.get("tenant"))
        if tenant is not None and not tenant.offers(spec.flow):
            log.warning("job %s skipped: %s does not offer the %s flow", spec.name, tenant.slug, spec.flow)
            return {"skipped": spec.flow}
        return await spec.function(ctx, **kwargs)

    where_offered.__qualname__ = spec.name
    return where_offered


# --- SAQ on Redis --------------------------------------------------------------------------------


class SaqJobs(Jobs):
    """SAQ queue on Redis (built through litestar-saq's ``QueueConfig``); workers run in
    ``xueshi worker`` processes, which build their own platform; serving processes only enqueue."""

    backend = "redis"

    def __init__(self, specs: list[JobSpec], *, redis_url: str, heartbeat_seconds: int,
                 queue_name: str = "xueshi") -> None:
        super().__init__(specs, heartbeat_seconds=heartbeat_seconds)
        from litestar_saq import QueueConfig, SAQConfig

        self.config = SAQConfig(queue_configs=[QueueConfig(dsn=redis_url, name=queue_name)])
        self.queue = self.config.get_queues().get(queue_name)

    async def start(self, platform: Platform) -> None:
        await super().start(platform)
        await self.queue.connect()

    async def stop(self) -> None:
        await self.queue.disconnect()

    def _saq_job(self, spec: JobSpec, key: str, kwargs: dict[str, Any]):
        from litestar_saq import Job

        # SAQ's ``retries`` is the number of attempts in all.
        return Job(function=spec.name, kwargs=kwargs, key=key, timeout=spec.timeout, retries=spec.max_attempts,
                   heartbeat=self.heartbeat_of(spec), retry_delay=spec.retry_delay, ttl=24 * 3600)

    async def _enqueue(self, spec: JobSpec, key: str, kwargs: dict[str, Any]) -> None:
        await self.queue.enqueue(self._saq_job(spec, key, kwargs))

    def worker(self, platform: Platform, *, concurrency: int = 4, on_start: Iterable[JobFunction] = ()):
        """A litestar-saq ``Worker`` for this queue: every job, the cron schedule, and the records;
        each of ``on_start`` runs once (with the worker's context) when the worker starts."""
        from litestar_saq import CronJob, Worker

        crons = [CronJob(function=s.function, cron=s.cron, timeout=s.timeout, retries=s.max_attempts,
                         heartbeat=self.heartbeat_of(s) or None, ttl=24 * 3600)
                 for s in self.specs.values() if s.cron]

        async def startup(ctx: dict[str, Any]) -> None:
            ctx["platform"] = platform
            for job in on_start:
                await job(ctx)

        async def before(ctx: dict[str, Any]) -> None:
            job = ctx["job"]
            await self._attempt_started(ctx, self.spec(job.function), job.key, job.attempts, job.kwargs or {})

        async def after(ctx: dict[str, Any]) -> None:
            from saq.job import Status

            job = ctx["job"]
            spec = self.spec(job.function)
            ok = job.status == Status.COMPLETE
            last = job.status in (Status.FAILED, Status.ABORTED)
            await self._attempt_ended(ctx, spec, ok=ok, last=last, error=ctx.get("exception") or job.error,
                                      result=job.result, kwargs=job.kwargs or {})

        return Worker(
            self.queue, functions=[(s.name, call(s, self.heartbeat_of(s))) for s in self.specs.values()],
            cron_jobs=crons,
            cron_tz=CRON_TZ, concurrency=concurrency, startup=startup, before_process=before, after_process=after,
            # Sweep (find jobs whose worker died) twice per heartbeat period.
            timers={"sweep": max(1, self.heartbeat_seconds // 2)},
            separate_process=False, enable_heartbeat_manager=False, shutdown_grace_period_s=10,
        )


# --- in-process (no Redis) -----------------------------------------------------------------------


class InProcessJobs(Jobs):
    """The same jobs in the serving process (the embedded demo, SQLite without Redis): tasks on
    this process's event loop, kept referenced; cron jobs run once at start, then on schedule."""

    backend = "process"

    def __init__(self, specs: list[JobSpec], *, heartbeat_seconds: int) -> None:
        super().__init__(specs, heartbeat_seconds=heartbeat_seconds)
        self._tasks: dict[str, asyncio.Task] = {}
        self._crons: list[asyncio.Task] = []

    async def start(self, platform: Platform) -> None:
        await super().start(platform)
        self._crons = [asyncio.create_task(self._cron(spec), name=f"cron:{spec.name}")
                       for spec in self.specs.values() if spec.cron]

    async def stop(self) -> None:
        tasks = [*self._crons, *self._tasks.values()]
        for task in tasks:
            task.cancel()
        # An interrupted run stays open (active, with its last heartbeat): the stale-job recovery
        # of the next start resumes it.
        await asyncio.gather(*tasks, return_exceptions=True)
        self._crons, self._tasks = [], {}

    async def _enqueue(self, spec: JobSpec, key: str, kwargs: dict[str, Any]) -> None:
        running = self._tasks.get(key)
        if running is not None and not running.done():
            return
        task = asyncio.create_task(self._run(spec, key, kwargs), name=key)
        self._tasks[key] = task
        task.add_done_callback(lambda t, k=key: self._tasks.pop(k, None) if self._tasks.get(k) is t else None)

    async def _run(self, spec: JobSpec, key: str, kwargs: dict[str, Any]) -> None:
        for attempt in range(1, spec.max_attempts + 1):
            ctx: dict[str, Any] = {"platform": self.platform, "job": None, "attempt": attempt}
            await self._attempt_started(ctx, spec, key, attempt, kwargs)
            last = attempt == spec.max_attempts
            try:
                result = await asyncio.wait_for(call(spec, self.heartbeat_of(spec))(ctx, **kwargs), spec.timeout)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # TimeoutError included: the attempt counts as failed
                log.warning("job %s attempt %s/%s failed: %r", key, attempt, spec.max_attempts, exc)
                await self._attempt_ended(ctx, spec, ok=False, last=last, error=exc, kwargs=kwargs)
                if not last:
                    await asyncio.sleep(spec.retry_delay)
                continue
            await self._attempt_ended(ctx, spec, ok=True, last=last, result=result)
            return

    async def _cron(self, spec: JobSpec) -> None:
        from croniter import croniter

        schedule = croniter(spec.cron, dt.datetime.now(CRON_TZ))
        while True:
            try:
                await self.enqueue(spec.function, key=f"cron:{spec.name}")
            except Exception:
                log.exception("cron job %s could not be queued", spec.name)
            delay = schedule.get_next(float) - dt.datetime.now(CRON_TZ).timestamp()
            await asyncio.sleep(max(1.0, delay))
