"""The survey association's jobs (``register_jobs``). Light to import: the kernel reads them when
it builds the platform, so the page modules (and ``core``'s package) load only when a job runs."""

from __future__ import annotations

from core import ImportJob, JobSpec, Limits, audit, import_failed, kept_table, scoped
from core import job_platform as platform_of
from core import report_progress as report
from plugins.survey_association.company.holders import load_rows


async def run_certificate_import(ctx, *, tenant: str, import_id: int, actor_id: int | None = None) -> dict[str, int]:
    """Job: load an uploaded certificate-holder file, by id, from the rows parsed at upload
    (``kept_table``; resumable)."""
    platform = platform_of(ctx)
    t = platform.tenants.get(tenant)
    job = await scoped(ImportJob, t).get(import_id, ImportJob.kind == "certificates")
    if job is None or job.status == "done":
        return {}
    table = await kept_table(platform.storage, t, job, Limits(max_rows=t.rules.roster.max_import_rows))
    if table is None:
        raise RuntimeError(f"import {import_id}: its file is gone")
    await report(ctx, job.processed_rows, len(table.rows))
    counts = await load_rows(t, table, list(t.rules.roster.positions), job=job,
                             progress=lambda done, total: report(ctx, done, total))
    counts = {k: v for k, v in counts.items() if isinstance(v, int)}
    await audit("cert_holder.imported", tenant_id=t.id, actor_id=actor_id, object_type="certificate_holder", **counts)
    return counts


JOBS = [JobSpec(run_certificate_import, timeout=30 * 60, retries=2, heartbeat=True, retry_delay=5,
                label="证书人员导入", on_failure=import_failed, flow="enterprise")]
