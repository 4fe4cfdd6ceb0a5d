"""A worker killed (kill -9) during a 10,000-row roster import: the import resumes in another
worker and ends with every row exactly once (PostgreSQL + Redis, as CI runs it)."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import json
import os
import secrets
import signal
import subprocess
import sys
import time

import openpyxl
import pytest

from core.accounts.tables import Enterprise
from core.db.scoped import scoped
from core.jobs.tables import JobRun
from core.roster.imports import run_roster_import
from core.roster.tables import ImportJob, RosterEntry
from core.testing.ids import fake_id_number
from core.testing.pytest_plugin import REPO_ROOT, deployed_platform

pytestmark = pytest.mark.skipif(
    not (os.environ.get("XUESHI_TEST_DATABASE_URL", "").startswith("postgres") and os.environ.get("REDIS_URL")),
    reason="needs XUESHI_TEST_DATABASE_URL (PostgreSQL) and REDIS_URL",
)
ROWS = 10_000
HEARTBEAT = 10  # seconds: a silent worker is swept after this (production: 60)


def _xlsx(rows: int) -> tuple[bytes, set[str]]:
    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet()
    sheet.append(["姓名", "身份证号", "手机号", "岗位"])
    ids: set[str] = set()
    while len(ids) < rows:
        number = fake_id_number()
        if number in ids:
            continue
        ids.add(number)
        sheet.append([f"学员{len(ids)}", number, "", "勘察员"])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue(), ids


def _worker(settings) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": settings.database_url, "REDIS_URL": settings.redis_url,
           "XUESHI_VAR_DIR": str(settings.var_dir), "XUESHI_SECRET_KEY": settings.secret_key,
           "XUESHI_JOB_QUEUE": settings.job_queue, "XUESHI_JOB_HEARTBEAT_SECONDS": str(HEARTBEAT),
           "XUESHI_DB_POOL_SIZE": "4"}
    return subprocess.Popen([sys.executable, "-m", "core.cli", "worker", "--concurrency", "2"], cwd=REPO_ROOT,
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


async def _import_row(job_id: int) -> ImportJob:
    return await ImportJob.objects().where(ImportJob.id == job_id).first()


async def test_a_worker_killed_mid_import_leaves_an_import_that_resumes_with_every_row_once(xs_settings):
    settings = dataclasses.replace(xs_settings, redis_url=os.environ["REDIS_URL"],
                                   job_queue=f"xueshi-kill-{secrets.token_hex(4)}", job_heartbeat_seconds=HEARTBEAT)
    platform = await deployed_platform(settings)
    await platform.start()
    workers: list[subprocess.Popen] = []
    try:
        t = platform.tenants.get("survey")
        enterprise = scoped(Enterprise, t).new(name=f"断点续传企业{secrets.token_hex(3)}")
        await enterprise.save()
        data, ids = await asyncio.to_thread(_xlsx, ROWS)
        stored = await platform.storage.save(data, tenant_id=t.id, kind="import", media_type="application/octet-stream")
        job = scoped(ImportJob, t).new(enterprise=enterprise.id, kind="roster", filename="万人名册.xlsx",
                                       file=stored.id, status="queued", total_rows=ROWS)
        await job.save()
        run = await platform.jobs.enqueue(run_roster_import, key=f"import-{job.id}", tenant=t, import_id=job.id,
                                          skip_errors=False)

        workers.append(_worker(settings))
        deadline = time.monotonic() + 300
        while True:  # the kill must land mid-import: some batches committed, not all
            row = await _import_row(job.id)
            if row.processed_rows >= 1_000:
                break
            assert workers[0].poll() is None, workers[0].stderr.read().decode()[-3000:]
            assert time.monotonic() < deadline, "the first worker never committed a batch"
            await asyncio.sleep(0.02)
        os.kill(workers[0].pid, signal.SIGKILL)
        workers[0].wait()
        at_kill = (await _import_row(job.id)).processed_rows
        assert 1_000 <= at_kill < ROWS, at_kill
        in_db = await RosterEntry.count().where(RosterEntry.enterprise == enterprise.id)
        assert in_db == at_kill  # each batch committed with its progress, nothing half-written

        workers.append(_worker(settings))
        deadline = time.monotonic() + 300
        while (row := await _import_row(job.id)).status != "done":
            assert row.status != "failed", row.summary
            assert workers[1].poll() is None, workers[1].stderr.read().decode()[-3000:]
            assert time.monotonic() < deadline, f"not resumed: {row.status} {row.processed_rows}"
            await asyncio.sleep(0.2)

        entries = await RosterEntry.select(RosterEntry.id_number).where(RosterEntry.enterprise == enterprise.id)
        numbers = [e["id_number"] for e in entries]
        assert len(numbers) == ROWS and set(numbers) == ids  # every row exactly once
        summary = json.loads(row.summary) if isinstance(row.summary, str) else row.summary
        assert (row.processed_rows, summary["created"], summary["unchanged"]) == (ROWS, ROWS, 0)
        final = await JobRun.objects().where(JobRun.id == run.id).first()
        assert final.status == "complete" and final.attempts == 2 and (final.done, final.total) == (ROWS, ROWS), (
            final.status, final.attempts, final.error)
    finally:
        for w in workers:
            if w.poll() is None:
                w.send_signal(signal.SIGTERM)
                try:
                    w.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    w.kill()
        redis = platform.jobs.queue.redis
        keys = [k async for k in redis.scan_iter(f"saq:*{settings.job_queue}*")]
        if keys:
            await redis.delete(*keys)
        await platform.stop()
