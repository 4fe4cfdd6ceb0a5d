"""A bank import after its preview: the kept sheets, the batched write with progress, and the job
that runs it for large files (like the roster import: a worker on Redis, else the serving process;
an interrupted import continues after its last committed batch).
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Awaitable, Callable
from typing import Any

from core.audit.services import record
from core.courses.tables import Position
from core.db.scoped import scoped
from core.exams import bank as banks
from core.exams.bank_images import write_bank_workbook
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
IMAGE_KIND = "question_image"  # a question's picture (StoredFile kind)
IMAGES_MEDIA_TYPE = "application/vnd.xueshi.bank-images+zip"  # an upload's cleaned pictures, by digest


def pack_images(images: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as archive:
        for digest, data in images.items():
            archive.writestr(f"{digest}.jpg", data)
    return out.getvalue()


def unpack_images(data: bytes) -> dict[str, bytes]:
    archive = zipfile.ZipFile(io.BytesIO(data))
    return {name.removesuffix(".jpg"): archive.read(name) for name in archive.namelist()}


async def keep_images(storage: Any, tenant: Tenant, images: dict[str, bytes]) -> int | None:
    """Store an upload's cleaned pictures with its sheets (kind "import": purged with them); the
    commit makes each picture a question needs its own stored file."""
    if not images:
        return None
    data = await run_cpu("spreadsheet", pack_images, images)
    return (await storage.save(data, tenant_id=tenant.id, kind="import", media_type=IMAGES_MEDIA_TYPE)).id


async def kept_images(storage: Any, tenant: Tenant, job: ImportJob) -> dict[str, bytes]:
    stored_id = int(as_dict(job.summary).get("images") or 0)
    stored = await scoped(StoredFile, tenant).get(stored_id) if stored_id else None
    if stored is None or stored.media_type != IMAGES_MEDIA_TYPE:
        return {}
    return await run_cpu("spreadsheet", unpack_images, await storage.read(stored))


async def store_pictures(storage: Any, tenant: Tenant, digests: set[str], images: dict[str, bytes],
                         stored: dict[str, int]) -> None:
    """Each picture a batch needs as a stored file (``stored``: digest → id, filled in): the
    tenant's question picture with the same bytes if there is one and its bytes are in the
    storage, else a new one."""
    files = scoped(StoredFile, tenant)
    for digest in digests - stored.keys():
        same = None
        for row in await files.objects((StoredFile.kind == IMAGE_KIND) & (StoredFile.sha256 == digest)).order_by(
                StoredFile.id, ascending=False).limit(3):
            if await storage.exists(row):  # (a row whose bytes are gone is not reused)
                same = row
                break
        if same is None:
            if digest not in images:
                raise RuntimeError("a picture of the import is gone")
            same = await storage.save(images[digest], tenant_id=tenant.id, kind=IMAGE_KIND, media_type="image/jpeg")
        stored[digest] = same.id


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


async def export_workbook(storage: Any, tenant: Tenant, bank: Any) -> bytes:
    """The bank in the template's format, each question's picture in its 图片 cell."""
    rows = await banks.export_rows(tenant, bank)
    ids = await banks.export_pictures(tenant, bank)
    files = {f.id: f for f in await scoped(StoredFile, tenant).objects(StoredFile.id.is_in(list(set(ids.values())) or [0]))}
    data = {fid: await storage.read(files[fid]) for fid in set(ids.values()) if fid in files}
    pictures = {index: data[fid] for index, fid in ids.items() if fid in data}
    return await run_cpu("spreadsheet", write_bank_workbook, banks.QUESTION_SHEET, banks.HEADERS, rows, pictures)


async def write_import(tenant: Tenant, job: ImportJob, workbook: WorkbookPreview,
                       progress: Callable[[int, int], Awaitable[None]] | None = None, *, storage: Any = None,
                       images: dict[str, bytes] | None = None) -> dict[str, Any]:
    """Write the workbook's valid rows in batches (each batch, its pictures, the job's progress and
    counts in one transaction), from where the job stopped; marks the job done. ``images``: the
    upload's cleaned pictures by digest (default: those kept with the job, read from ``storage``)."""
    if images is None:
        images = await kept_images(storage, tenant, job) if storage is not None else {}
    stored: dict[str, int] = {}
    summary = as_dict(job.summary)
    position = await scoped(Position, tenant).get(int(summary.get("position") or 0))
    bank = await banks.bank_for(tenant, position)
    summary = await begin_import(job, total_rows=len(workbook.rows), error_rows=len(workbook.error_rows), summary={
        **summary, "created": 0, "updated": 0, "skipped": len(workbook.error_rows),
        "to_import": len(workbook.valid_rows)})

    async def write(batch) -> dict[str, int]:
        valid = [r.values for r in batch if not r.errors]
        digests = {v["image_digest"] for v in valid if v.get("image_digest")}
        if digests:
            await store_pictures(storage, tenant, digests, images, stored)
        return await banks.upsert(tenant, bank, valid, stored) if valid else {}

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
    summary = await write_import(t, job, workbook, progress=lambda done, total: report(ctx, done, total),
                                 storage=platform.storage)
    counts = {k: v for k, v in summary.items() if isinstance(v, int) and k != "position"}
    await record("exam_bank.imported", tenant_id=t.id, actor_id=actor_id, object_type="import_job",
                 object_id=job.id, **counts)
    return counts


JOBS = [JobSpec(run_bank_import, timeout=30 * 60, retries=2, heartbeat=True, retry_delay=5, label="题库导入",
                on_failure=import_failed)]
