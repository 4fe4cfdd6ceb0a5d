"""What a job is: an ``async def job(ctx, **kwargs)`` with its own timeout, retries and cron."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from core.capabilities import offering
from core.jobs import records
from core.tenancy import FLOWS

JobFunction = Callable[..., Awaitable[Any]]
FailureHandler = Callable[..., Awaitable[None]]


@dataclass(frozen=True)
class JobSpec:
    """A job function and how to run it. Both runners (SAQ on Redis, in-process) apply it alike.

    ``timeout``: seconds one attempt may run before it is cancelled and counts as failed.
    ``retries``: how many times a failed (or timed-out) attempt is tried again; the job runs at
    most ``retries + 1`` times (SAQ calls that number ``retries``). Neither has a default: SAQ's
    own (10 s, one attempt) suit no job of ours.
    ``heartbeat``: the job is resumable: while it runs, the runner touches it every third of
    ``Settings.job_heartbeat_seconds``; when a worker dies, its silent job is swept and retried
    (by SAQ) or re-enqueued (by ``resume_stale_jobs``) and must continue where it stopped.
    Without it only the timeout detects a dead worker.
    ``cron``: a crontab line (Asia/Shanghai time); the job then also runs on that schedule,
    with no arguments, and once when an in-process runner starts.
    ``on_failure``: ``async def (ctx, error, **kwargs)``, called once when the last attempt
    failed, so the job's own records (an import's status) can say so.
    ``record``: keep a ``job_run`` row per attempt (the jobs pages). False for housekeeping crons
    that run every minute: their failures go to the log instead.
    ``flow``: the flow (core.tenancy.FLOWS) the job belongs to: it is neither queued nor run for a
    tenant whose rules switch the flow off, and a cron job's ``tenants_of(ctx)`` leaves those out.
    """

    function: JobFunction
    timeout: int
    retries: int
    label: str = ""  # what people see (Chinese), e.g. 学员名册导入
    heartbeat: bool = False
    retry_delay: float = 1.0
    cron: str | None = None
    on_failure: FailureHandler | None = None
    record: bool = True
    flow: str | None = None

    def __post_init__(self) -> None:
        if self.timeout <= 0:
            raise ValueError(f"job {self.name}: timeout must be positive seconds")
        if self.retries < 0:
            raise ValueError(f"job {self.name}: retries must be 0 or more")
        if self.flow is not None and self.flow not in FLOWS:
            raise ValueError(f"job {self.name}: no flow {self.flow!r}")

    @property
    def name(self) -> str:
        """The name the queue knows the job by (SAQ's cron uses the function's ``__qualname__``)."""
        return self.function.__qualname__

    @property
    def max_attempts(self) -> int:
        return self.retries + 1


def platform_of(ctx: dict[str, Any]):
    """The started platform of the process running the job."""
    return ctx["platform"]


async def report(ctx: dict[str, Any], done: int, total: int) -> None:
    """A job's progress, shown on the progress pages (it also counts as a heartbeat)."""
    run_id = ctx.get("run_id")
    if run_id is not None:
        await records.progress(run_id, done, total)
    saq_job = ctx.get("job")
    if saq_job is not None:
        await saq_job.update(progress=(done / total) if total else 0.0)


def tenants_of(ctx: dict[str, Any]) -> list[Any]:
    """The tenants a job works for: every tenant that offers the running job's flow."""
    spec = ctx.get("spec")
    return offering(platform_of(ctx).tenants, spec.flow if spec is not None else None)


class FlowSwitchedOff(LookupError):
    """A job of a flow was queued for a tenant whose rules switch that flow off."""
