"""The certificates' jobs: issue every eligible learner's certificate, and the registry report."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from typing import Any

from core import tenant_time
from core.certificates import registry, services
from core.certificates.tables import Certificate, RegistryBatch, RegistryRow
from core.courses.tables import Enrollment
from core.db.scoped import scoped
from core.hookcalls import Hooks
from core.jobs.specs import JobSpec, platform_of, report
from core.tenancy import Tenant

log = logging.getLogger("xueshi.certificates")
# Documents rendered at once: the ``pdf`` pool's threads work while the next one is prepared.
BATCH_CONCURRENCY = 4


async def eligible_enrolments(hooks: Hooks, tenant: Tenant) -> list[Enrollment]:
    """Approved enrolments that pass ``services.eligibility`` (the exam where needed)."""
    rows = await scoped(Enrollment, tenant).objects(Enrollment.status == "approved").order_by(Enrollment.id)
    return [e for e in rows if (await services.eligibility(hooks, tenant, e)).ok]


async def issue_certificates(ctx: dict[str, Any], *, tenant: str) -> dict[str, int]:
    """Issue the certificate of every eligible learner of ``tenant`` that has none (those that
    have one are counted, not re-issued); progress after each."""
    platform = platform_of(ctx)
    t = platform.tenants.get(tenant)
    hooks = platform.hooks(t)
    todo = await eligible_enrolments(hooks, t)
    have = {c.enrollment for c in await scoped(Certificate, t).objects(Certificate.status == "valid")}
    done = 0
    counts = {"issued": 0, "existing": 0, "failed": 0}
    gate = asyncio.Semaphore(BATCH_CONCURRENCY)
    await report(ctx, 0, len(todo))

    async def one(enrollment: Enrollment) -> None:
        nonlocal done
        async with gate:
            if enrollment.id in have:
                counts["existing"] += 1
            else:
                try:
                    await services.issue(platform, hooks, t, enrollment)
                    counts["issued"] += 1
                except services.NotEligible:
                    counts["failed"] += 1
            done += 1
            await report(ctx, done, len(todo))

    await asyncio.gather(*(one(e) for e in todo))
    return counts


async def registry_report(ctx: dict[str, Any], *, tenant: str, batch_id: int) -> dict[str, int]:
    """Write the batch's export (every eligible learner and position the registry does not have
    yet, or staff asked to report again: ``registry.to_report``; rows pending) into
    private storage for the operator to upload to the registry."""
    platform = platform_of(ctx)
    t = platform.tenants.get(tenant)
    batch = await scoped(RegistryBatch, t).get(batch_id)
    if batch is None:
        return {"rows": 0}
    exporter = (await registry.exporters(platform.hooks(t), t)).get(batch.exporter)
    if exporter is None:
        raise LookupError(f"no registry exporter {batch.exporter!r}")
    if batch.rows == 0:  # a retried attempt keeps the rows the first one made

        # One batch at a time chooses its rows: two batches made at once cannot both take a learner.
        async with platform.locks.hold(f"registry-rows:{t.slug}", timeout=600, wait=600):
            if not await scoped(RegistryRow, t).exists(RegistryRow.batch == batch.id):
                await registry.build_rows(t, batch, await eligible_enrolments(platform.hooks(t), t))
    records = await registry.records_of(t, batch.id)
    await report(ctx, 0, len(records))
    data = await registry.write_export(exporter, records)
    media_type = exporter.media_type if len(exporter.media_type) <= 64 else "application/octet-stream"
    stored = await platform.storage.save(data, tenant_id=t.id, kind="registry_export", media_type=media_type)
    day = tenant_time.now(t).strftime("%Y%m%d")
    await scoped(RegistryBatch, t).update({
        RegistryBatch.status: "exported", RegistryBatch.rows: len(records), RegistryBatch.file: stored.id,
        RegistryBatch.filename: f"registry-{day}-{batch.id}.{exporter.extension}",
        RegistryBatch.finished_at: dt.datetime.now(dt.UTC)}).where(RegistryBatch.id == batch.id)
    await report(ctx, len(records), len(records))
    return {"rows": len(records)}


async def registry_failed(ctx: dict[str, Any], error: str, *, tenant: str, batch_id: int) -> None:
    platform = platform_of(ctx)
    t = platform.tenants.get(tenant)
    await scoped(RegistryBatch, t).update({RegistryBatch.status: "failed",
                                           RegistryBatch.result_summary: str(error)[:500]}).where(
        RegistryBatch.id == batch_id)


JOBS = [
    JobSpec(issue_certificates, timeout=60 * 60, retries=1, retry_delay=10, label="批量生成学时证明", flow="certificates"),
    JobSpec(registry_report, timeout=30 * 60, retries=1, retry_delay=10, label="学时上报文件", flow="registry",
            on_failure=registry_failed),
]
