"""Jobs: the same JobSpec semantics in-process (no Redis) and through a real SAQ worker on Redis;
timeouts and retries really apply; plugins add jobs with register_jobs(); the progress pages."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import secrets

import pytest

from core import hookimpl
from core.jobs import JobSpec, platform_of, report
from core.jobs.tables import JobRun
from core.testing.pytest_plugin import deployed_platform

CALLS: dict[str, list[int]] = {}


async def count_rows(ctx, *, tenant: str, n: int) -> dict:
    """Reports progress and returns what it saw."""
    CALLS.setdefault(f"count:{n}", []).append(ctx.get("run_id"))
    for i in range(n):
        await report(ctx, i + 1, n)
    return {"tenant": tenant, "tenants": len(list(platform_of(ctx).tenants))}


async def sleeps_too_long(ctx, *, tag: str, tenant: str | None = None) -> None:
    CALLS.setdefault(tag, []).append(1)
    await asyncio.sleep(30)


async def fails_once(ctx, *, tag: str, tenant: str | None = None) -> str:
    CALLS.setdefault(tag, []).append(1)
    if len(CALLS[tag]) == 1:
        raise ValueError("第一次失败")
    return "ok"


async def housekeeping(ctx, *, tag: str, tenant: str | None = None) -> None:
    CALLS.setdefault(tag, []).append(1)


FAILED: list[tuple[str, str]] = []


async def note_failure(ctx, error, *, tag: str, **_) -> None:
    FAILED.append((tag, error))


class JobsPlugin:
    @hookimpl
    def register_jobs(self):
        return [
            JobSpec(count_rows, timeout=20, retries=0, label="测试计数"),
            JobSpec(sleeps_too_long, timeout=1, retries=1, retry_delay=0.1, label="测试超时", on_failure=note_failure),
            JobSpec(fails_once, timeout=5, retries=1, retry_delay=0.1, label="测试重试"),
            JobSpec(housekeeping, timeout=5, retries=0, label="测试不记录", record=False),
        ]


@pytest.fixture
def xs_plugins():
    return [JobsPlugin()]


def _json(value):
    return json.loads(value) if isinstance(value, str) else value


async def _wait_run(key: str, statuses=("complete", "failed"), seconds: float = 60) -> JobRun:
    for _ in range(int(seconds * 10)):
        run = await JobRun.objects().where(JobRun.key == key).order_by(JobRun.id, ascending=False).first()
        if run is not None and run.status in statuses:
            return run
        await asyncio.sleep(0.1)
    raise AssertionError(f"job {key} did not reach {statuses}: {run and run.status}")


async def _exercise(platform) -> str:
    """The same assertions for either runner."""
    survey = platform.tenants.get("survey")
    tag = secrets.token_hex(4)
    run = await platform.jobs.enqueue(count_rows, tenant=survey, key=f"count-{tag}", n=3)
    assert run.tenant == survey.id and run.status == "queued" and run.label == "测试计数"
    done = await _wait_run(f"count-{tag}")
    assert (done.status, done.done, done.total, done.attempts) == ("complete", 3, 3, 1), done.error
    result = _json(done.result)
    assert result["tenant"] == "survey" and result["tenants"] >= 2

    # A job that sleeps past its 1 s timeout is cancelled, retried once, then fails, visibly.
    await platform.jobs.enqueue(sleeps_too_long, key=f"slow-{tag}", tag=f"slow-{tag}")
    slow = await _wait_run(f"slow-{tag}", seconds=30)
    assert slow.status == "failed" and slow.attempts == 2 and slow.max_attempts == 2
    assert "超时" in slow.error and "1 秒" in slow.error

    # A failed attempt is retried and the retry succeeds.
    await platform.jobs.enqueue(fails_once, key=f"flaky-{tag}", tag=f"flaky-{tag}")
    flaky = await _wait_run(f"flaky-{tag}", seconds=30)
    assert (flaky.status, flaky.attempts, _json(flaky.result)) == ("complete", 2, {}), flaky.error

    # A housekeeping job (record=False) runs and leaves no row on the jobs pages.
    await platform.jobs.enqueue(housekeeping, key=f"quiet-{tag}", tag=f"quiet-{tag}")
    for _ in range(300):
        if CALLS.get(f"quiet-{tag}"):
            break
        await asyncio.sleep(0.1)
    assert CALLS[f"quiet-{tag}"] == [1]
    await asyncio.sleep(0.2)
    assert not await JobRun.exists().where(JobRun.key == f"quiet-{tag}")
    return tag


async def test_register_jobs_runs_a_plugins_jobs_in_process_with_timeouts_and_retries(xs_settings):
    platform = await deployed_platform(xs_settings, [JobsPlugin()])
    assert platform.jobs.backend == "process"
    assert {"count_rows", "sleeps_too_long", "fails_once", "run_roster_import"} <= set(platform.jobs.specs)
    await platform.start()
    try:
        before = len(FAILED)
        await _exercise(platform)
        assert FAILED[before:] and "超时" in FAILED[-1][1]  # on_failure ran once, after the last attempt
        # The cron jobs ran once at start (the retention purge and the stale-job resumption).
        purge = await _wait_run("cron:purge_retention")
        assert purge.status == "complete" and purge.tenant is None and purge.done == purge.total >= 2
    finally:
        await platform.stop()


def test_job_specs_refuse_missing_limits():
    with pytest.raises(ValueError, match="timeout"):
        JobSpec(count_rows, timeout=0, retries=1)
    with pytest.raises(ValueError, match="retries"):
        JobSpec(count_rows, timeout=5, retries=-1)


needs_redis = pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="REDIS_URL not set")


@needs_redis
async def test_register_jobs_on_redis_through_a_real_saq_worker(xs_settings):
    settings = dataclasses.replace(xs_settings, redis_url=os.environ["REDIS_URL"],
                                   job_queue=f"xueshi-test-{secrets.token_hex(4)}")
    platform = await deployed_platform(settings, [JobsPlugin()])
    assert platform.jobs.backend == "redis"
    await platform.start()
    worker = platform.jobs.worker(platform, concurrency=4)
    task = asyncio.create_task(worker.start())
    try:
        tag = await _exercise(platform)
        # SAQ itself holds the job with the spec's limits (never its 10 s / 1 attempt defaults).
        job = await platform.jobs.queue.job(f"flaky-{tag}")
        assert job is not None and job.timeout == 5 and job.retries == 2
    finally:
        await worker.stop()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await platform.jobs.queue.redis.delete(*[k async for k in platform.jobs.queue.redis.scan_iter(
            f"saq:{settings.job_queue}:*")] or ["-"])
        await platform.stop()


def test_xueshi_worker_needs_redis(xs_settings, monkeypatch):
    from core.cli import main

    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.setenv("DATABASE_URL", xs_settings.database_url)
    monkeypatch.setenv("XUESHI_VAR_DIR", str(xs_settings.var_dir))
    with pytest.raises(SystemExit, match="needs REDIS_URL"):
        main(["worker"])


# --- progress pages ------------------------------------------------------------------------------


async def test_tenant_admin_sees_the_tenants_jobs_and_failures_only(client, platform, make_account):
    survey, construction = platform.tenants.get("survey"), platform.tenants.get("construction")
    mine = await platform.jobs.enqueue(fails_once, tenant=survey, key=f"page-{secrets.token_hex(4)}",
                                       label="名册导入 甲.xlsx", tag=secrets.token_hex(4))
    theirs = await platform.jobs.enqueue(count_rows, tenant=construction, label="别家的任务", n=1)
    await _wait_run(mine.key)
    admin, pw = await make_account("survey", role="tenant_admin")
    await client.signin("survey", "mobile", pw, mobile=admin.mobile)
    page = await client.get("/t/survey/admin/jobs")
    assert page.status_code == 200 and "后台任务" in page.text
    assert "名册导入 甲.xlsx" in page.text and "别家的任务" not in page.text
    assert f'data-run="{mine.id}" data-status="complete"' in page.text and "2 / 2" in page.text
    detail = await client.get(f"/t/survey/admin/jobs/{mine.id}")
    assert detail.status_code == 200 and "已完成" in detail.text
    partial = await client.hx_get(f"/t/survey/admin/jobs/{mine.id}")
    assert partial.text.lstrip().startswith('<dl id="job-run"')
    assert (await client.get(f"/t/survey/admin/jobs/{theirs.id}")).status_code == 404
    # A failed job shows its error.
    failed = await platform.jobs.enqueue(sleeps_too_long, tenant=survey, label="会超时的任务",
                                         tag=secrets.token_hex(4))
    await _wait_run(failed.key, seconds=30)
    detail = await client.get(f"/t/survey/admin/jobs/{failed.id}")
    assert "失败" in detail.text and "超时：超过 1 秒未完成" in detail.text


async def test_other_roles_do_not_see_the_jobs_page(client, make_account):
    learner, pw = await make_account("survey", role="learner")
    await client.signin("survey", "mobile", pw, mobile=learner.mobile)
    assert (await client.get("/t/survey/admin/jobs")).status_code == 404


async def test_operator_sees_every_tenants_jobs(client, platform):
    from core.accounts.services import upsert_account

    survey, construction = platform.tenants.get("survey"), platform.tenants.get("construction")
    a = await platform.jobs.enqueue(count_rows, tenant=survey, label="甲机构任务", n=1)
    b = await platform.jobs.enqueue(count_rows, tenant=construction, label="乙机构任务", n=1)
    await _wait_run(a.key), await _wait_run(b.key)
    name = f"op{secrets.token_hex(3)}"
    await upsert_account(None, role="operator", password="Passw0rd-1", username=name, real_name="运营")
    r = await client.post("/platform/signin", {"username": name, "password": "Passw0rd-1"})
    assert r.status_code == 303
    page = await client.get("/platform/jobs")
    assert page.status_code == 200 and "甲机构任务" in page.text and "乙机构任务" in page.text
    assert ">survey<" in page.text and ">construction<" in page.text
    failed = await client.get("/platform/jobs?status=failed")
    assert "甲机构任务" not in failed.text
    await client.post("/platform/signout")
    r = await client.get("/platform/jobs")
    assert r.status_code == 303 and r.headers["location"] == "/platform/signin"
