"""Job runs in the database (``JobRun``): written by both runners, read by the progress pages."""

from __future__ import annotations

import datetime as dt
import traceback
from typing import Any

from core.jobs.tables import JobRun

OPEN = ("queued", "active", "retrying")


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def short_error(error: BaseException | str | None, timeout: int | None = None) -> str:
    """One line a tenant admin can read: the exception's last line, or the timeout."""
    if isinstance(error, BaseException):
        text = "".join(traceback.format_exception_only(type(error), error)).strip()
    else:
        text = (error or "").strip().splitlines()[-1] if (error or "").strip() else ""
    if text.startswith(("TimeoutError", "asyncio.exceptions.TimeoutError", "CancelledError")) or text == "":
        return f"超时：超过 {timeout} 秒未完成" if timeout else "任务被中断"
    return text[:500]


async def open_run(key: str) -> JobRun | None:
    return await JobRun.objects().where((JobRun.key == key) & JobRun.status.is_in(list(OPEN))) \
        .order_by(JobRun.id, ascending=False).first()


async def queued(*, key: str, function: str, label: str, kwargs: dict[str, Any], tenant_id: int | None,
                 max_attempts: int) -> JobRun:
    """The run of ``key``: the unfinished one when there is one (a re-enqueue continues it)."""
    run = await open_run(key)
    if run is not None:
        return run
    run = JobRun(key=key, function=function, label=label, kwargs=kwargs, tenant=tenant_id, status="queued",
                 max_attempts=max_attempts, created_at=now())
    await run.save()
    return run


async def started(*, key: str, function: str, label: str, attempt: int, max_attempts: int,
                  kwargs: dict[str, Any] | None = None) -> int:
    """An attempt begins; returns the run's id (a cron run gets its row here)."""
    run = await open_run(key)
    at = now()
    if run is None:
        run = JobRun(key=key, function=function, label=label, kwargs=kwargs or {}, tenant=None,
                     max_attempts=max_attempts, created_at=at)
    run.status, run.attempts, run.started_at, run.heartbeat_at = "active", attempt, at, at
    run.max_attempts = max_attempts
    await run.save()
    return run.id


async def progress(run_id: int, done: int, total: int) -> None:
    await JobRun.update({JobRun.done: done, JobRun.total: total, JobRun.heartbeat_at: now()}).where(
        JobRun.id == run_id)


async def beat(run_id: int) -> None:
    await JobRun.update({JobRun.heartbeat_at: now()}).where(JobRun.id == run_id)


async def finished(run_id: int, status: str, *, error: str = "", result: Any = None) -> None:
    """``status``: complete, failed, or retrying (the attempt failed, another follows)."""
    values: dict[Any, Any] = {JobRun.status: status, JobRun.error: error}
    if status != "retrying":
        values[JobRun.finished_at] = now()
    if status == "complete":
        values[JobRun.result] = result if isinstance(result, dict) else {}
    await JobRun.update(values).where(JobRun.id == run_id)
