"""Association staff (tenant_admin): approve companies, load certificate holders."""

from __future__ import annotations

import datetime as dt
from pathlib import PurePath

from litestar import Request, Response, get, post
from litestar.exceptions import NotFoundException

from core import (
    Account,
    Enterprise,
    ImportJob,
    Limits,
    SpreadsheetRejected,
    StoredFile,
    audit,
    map_columns,
    platform_of,
    redirect,
    render,
    tenant_of,
    write_xlsx,
)
from core.roster.spreadsheets import read_table_async
from core.db.scoped import scoped
from plugins.survey_association.company import holders
from plugins.survey_association.company.jobs import run_certificate_import
from plugins.survey_association.company.common import MAX_SHEET_BYTES, as_json, read_form, staff_of, upload_bytes


async def _enterprise(request: Request, enterprise_id: int) -> Enterprise:
    tenant = tenant_of(request)
    row = await Enterprise.objects().where((Enterprise.id == enterprise_id) & (Enterprise.tenant == tenant.id)).first()
    if row is None:
        raise NotFoundException()
    return row


@get("/staff/enterprises")
async def enterprises(request: Request) -> Response:
    staff_of(request)
    tenant = tenant_of(request)
    rows = await Enterprise.objects().where(Enterprise.tenant == tenant.id).order_by(Enterprise.id, ascending=False)
    admins = {a.enterprise: a for a in await Account.objects().where(
        (Account.tenant == tenant.id) & (Account.role == "enterprise_admin"))}
    pending = [e for e in rows if e.status == "pending"]
    decided = [e for e in rows if e.status != "pending"][:100]
    return await render(request, "company/staff_enterprises.html", pending=pending, decided=decided, admins=admins,
                        errors={}, done=request.query_params.get("done", ""))


@get("/staff/enterprises/{enterprise_id:int}/licence")
async def licence(request: Request, enterprise_id: int) -> Response:
    staff_of(request)
    row = await _enterprise(request, enterprise_id)
    stored = await StoredFile.objects().where(
        (StoredFile.id == row.licence) & (StoredFile.tenant == row.tenant)).first() if row.licence else None
    if stored is None:
        raise NotFoundException()
    data = platform_of(request).storage.read(stored)
    return Response(content=data, media_type=stored.media_type,
                    headers={"Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"})


async def _decide(request: Request, enterprise_id: int, status: str, reason: str = "") -> Enterprise:
    staff = staff_of(request)
    tenant = tenant_of(request)
    row = await _enterprise(request, enterprise_id)
    row.status, row.reject_reason = status, reason
    row.decided_at, row.decided_by = dt.datetime.now(dt.UTC), staff.id
    await row.save([Enterprise.status, Enterprise.reject_reason, Enterprise.decided_at, Enterprise.decided_by])
    await Account.update({Account.active: status == "approved"}).where(
        (Account.tenant == tenant.id) & (Account.enterprise == row.id) & (Account.role == "enterprise_admin"))
    await audit(f"enterprise.{status}", tenant_id=tenant.id, actor_id=staff.id, object_type="enterprise",
                object_id=row.id, reason=reason)
    return row


@post("/staff/enterprises/{enterprise_id:int}/approve")
async def approve(request: Request, enterprise_id: int) -> Response:
    await _decide(request, enterprise_id, "approved")
    return redirect(request, "/staff/enterprises?done=approved")


@post("/staff/enterprises/{enterprise_id:int}/reject")
async def reject(request: Request, enterprise_id: int) -> Response:
    staff_of(request)
    await _enterprise(request, enterprise_id)  # 404 before reading the form
    form = await read_form(request)
    reason = form.get("reason")[:500]
    if not reason:
        tenant = tenant_of(request)
        rows = await Enterprise.objects().where(Enterprise.tenant == tenant.id).order_by(Enterprise.id, ascending=False)
        admins = {a.enterprise: a for a in await Account.objects().where(
            (Account.tenant == tenant.id) & (Account.role == "enterprise_admin"))}
        return await render(request, "company/staff_enterprises.html", status_code=400,
                            pending=[e for e in rows if e.status == "pending"],
                            decided=[e for e in rows if e.status != "pending"][:100], admins=admins,
                            errors={enterprise_id: "请填写驳回原因"}, done="")
    await _decide(request, enterprise_id, "rejected", reason)
    return redirect(request, "/staff/enterprises?done=rejected")


@get("/staff/certificates/import")
async def certificates_import_page(request: Request) -> Response:
    staff_of(request)
    return await render(request, "company/staff_certificates.html", error="", job=None)


@get("/staff/certificates/template.xlsx")
async def certificates_template(request: Request) -> Response:
    staff_of(request)
    data = write_xlsx([c.header for c in holders.COLUMNS])
    return Response(content=data, media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    headers={"Content-Disposition": "attachment; filename=certificate_holders.xlsx"})


@post("/staff/certificates/import")
async def certificates_import(request: Request) -> Response:
    """Check the file's columns here (parsed in a thread), then load it as a job."""
    staff = staff_of(request)
    tenant = tenant_of(request)
    p = platform_of(request)
    form = await read_form(request)
    upload = form.files.get("file")
    try:
        data = await upload_bytes(upload, MAX_SHEET_BYTES)
        table = await read_table_async(data, upload.filename if upload else "",
                                       Limits(max_rows=tenant.rules.roster.max_import_rows))
        map_columns(table.headers, holders.COLUMNS)
    except SpreadsheetRejected as exc:
        return await render(request, "company/staff_certificates.html", status_code=400, error=str(exc), job=None)
    stored = await p.storage.save(data, tenant_id=tenant.id, kind="import", media_type="application/octet-stream")
    job = scoped(ImportJob, tenant).new(kind="certificates", filename=PurePath(upload.filename).name[:200],
                                        file=stored.id, status="queued", total_rows=len(table.rows),
                                        created_by=staff.id, created_at=dt.datetime.now(dt.UTC))
    await job.save()
    await p.jobs.enqueue(run_certificate_import, key=f"import-{job.id}", tenant=tenant,
                         label=f"证书人员导入 {job.filename}", import_id=job.id, actor_id=staff.id)
    return redirect(request, f"/staff/certificates/import/{job.id}")


async def _certificate_import(request: Request, import_id: int) -> ImportJob:
    staff_of(request)
    return await scoped(ImportJob, tenant_of(request)).get_or_404(import_id, ImportJob.kind == "certificates")


@get("/staff/certificates/import/{import_id:int}")
async def certificates_import_job(request: Request, import_id: int) -> Response:
    job = await _certificate_import(request, import_id)
    return await render(request, "company/staff_certificates.html", error="", job=job,
                        summary=as_json(job.summary, {}))


@get("/staff/certificates/import/{import_id:int}/progress")
async def certificates_import_progress(request: Request, import_id: int) -> Response:
    job = await _certificate_import(request, import_id)
    return await render(request, "company/_certificates_progress.html", job=job, summary=as_json(job.summary, {}))


ROUTES = [enterprises, licence, approve, reject, certificates_import_page, certificates_template, certificates_import,
          certificates_import_job, certificates_import_progress]
