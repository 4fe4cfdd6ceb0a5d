"""A bank import after its preview: the kept sheets, the batched write with progress, and the job
that runs it for large files (like the roster import: a worker on Redis, else the serving process;
an interrupted import continues after its last committed batch).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from core.audit.services import record
from core.courses.tables import Position
from core.db.scoped import scoped
from core.exams import bank as banks
from core.exams.checks import WorkbookPreview
from core.exams.mapping import SheetPlan
from core.files.tables import StoredFile
from core.jobs.specs import JobSpec, platform_of, report
from core.offload import run_cpu
from core.roster.imports import as_dict, begin_import, commit_in_batches, end_import, import_failed
from core.roster.spreadsheets import SHEETS_MEDIA_TYPE, Table, sheets_from_json, sheets_to_json
from core.roster.tables import ImportJob
from core.tenancy import Tenant

IMPORT_KIND = "exam_bank"
INLINE_ROWS = 1000  # a file this small imports within the request; larger ones as a job with progress


async def keep_sheets(storage: Any, tenant: Tenant, tables: list[Table]) -> StoredFile:
    """Store an upload's parsed sheets (private storage, kind "import", purged by the retention rule
    for import files); the preview pages, the confirm step and the job read these, never the file."""
    data = await run_cpu("spreadsheet", sheets_to_json, tables)
    return await storage.save(data, tenant_id=tenant.id, kind="import", media_type=SHEETS_MEDIA_TYPE)


async def kept_sheets(storage: Any, tenant: Tenant, job: ImportJob) -> list[Table] | None:
    stored = await scoped(StoredFile, tenant).get(job.file) if job.file else None
    if stored is None or stored.media_type != SHEETS_MEDIA_TYPE:
        return None
    data = await storage.read(stored)
    return await run_cpu("spreadsheet", sheets_from_json, data)


def plans_of(job: ImportJob) -> list[SheetPlan]:
    return [SheetPlan.from_json(p) for p in as_dict(job.summary).get("plans", [])]


async def job_preview(storage: Any, tenant: Tenant, job: ImportJob) -> tuple[list[Table], WorkbookPreview] | None:
    """The job's sheets checked through its current plans (None when retention purged them)."""
    tables = await kept_sheets(storage, tenant, job)
    if tables is None:
        return None
    return tables, await banks.preview(tables, plans_of(job))


async def write_import(tenant: Tenant, job: ImportJob, workbook: WorkbookPreview,
                       progress: Callable[[int, int], Awaitable[None]] | None = None) -> dict[str, Any]:
    """Write the workbook's valid rows in batches (each batch, the job's progress and counts in one
    transaction), from where the job stopped; marks the job done."""
    summary = as_dict(job.summary)
    position = await scoped(Position, tenant).get(int(summary.get("position") or 0))
    bank = await banks.bank_for(tenant, position)
    summary = await begin_import(job, total_rows=len(workbook.rows), error_rows=len(workbook.error_rows), summary={
        **summary, "created": 0, "updated": 0, "skipped": len(workbook.error_rows),
        "to_import": len(workbook.valid_rows)})

    async def write(batch) -> dict[str, int]:
        valid = [r.values for r in batch if not r.errors]
        return await banks.upsert(tenant, bank, valid) if valid else {}

    summary = await commit_in_batches(job=job, rows=workbook.rows, write=write, summary=summary, progress=progress)
    await end_import(job, "done", summary)
    return summary


async def run_bank_import(ctx: dict[str, Any], *, tenant: str, import_id: int,
                          actor_id: int | None = None) -> dict[str, Any]:
    """Job: commit a previewed bank import by id, from the sheets parsed at upload and the mapping
    the administrator confirmed; a retry resumes after the last committed batch."""
    platform = platform_of(ctx)
    t = platform.tenants.get(tenant)
    job = await scoped(ImportJob, t).get(import_id, ImportJob.kind == IMPORT_KIND)
    if job is None or job.status == "done":
        return {"skipped": "not found or done"}
    checked = await job_preview(platform.storage, t, job)
    if checked is None:
        raise RuntimeError(f"import {import_id}: its file is gone")
    workbook = checked[1]
    await report(ctx, job.processed_rows, len(workbook.rows))
    summary = await write_import(t, job, workbook, progress=lambda done, total: report(ctx, done, total))
    counts = {k: v for k, v in summary.items() if isinstance(v, int) and k != "position"}
    await record("exam_bank.imported", tenant_id=t.id, actor_id=actor_id, object_type="import_job",
                 object_id=job.id, **counts)
    return counts


JOBS = [JobSpec(run_bank_import, timeout=30 * 60, retries=2, heartbeat=True, retry_delay=5, label="题库导入",
                on_failure=import_failed)]
