"""Association staff (tenant_admin): approve companies, load certificate holders."""

from __future__ import annotations

import datetime as dt
from pathlib import PurePath

from litestar import Request, Response, get, post
from litestar.exceptions import NotFoundException

from core import (
    Account,
    ImportJob,
    Limits,
    Platform,
    SpreadsheetRejected,
    StoredFile,
    Tenant,
    keep_table,
    map_columns,
    read_table_async,
    redirect,
    render,
    roles,
    scoped,
    write_xlsx,
)
from plugins.survey_association.company import certification, holders
from plugins.survey_association.company.common import (
    MAX_SHEET_BYTES,
    as_json,
    read_form,
    upload_bytes,
)
from plugins.survey_association.company.jobs import run_certificate_import
from plugins.survey_association.roles import COMPANY_ADMIN

STAFF = [roles("tenant_admin")]


async def _admins(tenant: Tenant) -> dict[int, Account]:
    return {a.enterprise: a for a in await scoped(Account, tenant).objects(Account.role == COMPANY_ADMIN)}


@get("/staff/enterprises", guards=STAFF)
async def enterprises(request: Request, tenant: Tenant) -> Response:
    return await _page(request, tenant, {}, request.query_params.get("done", ""))


async def _page(request: Request, tenant: Tenant, errors: dict[int, str], done: str, status_code: int = 200) -> Response:
    rows = await certification.applications(tenant)
    return await render(request, "company/staff_enterprises.html",
                        {"pending": [c for c in rows if c.status == "pending"],
                         "decided": [c for c in rows if c.status != "pending"][:100],
                         "admins": await _admins(tenant), "errors": errors, "done": done}, status_code=status_code)


@get("/staff/enterprises/{enterprise_id:int}/licence", guards=STAFF)
async def licence(platform: Platform, tenant: Tenant, enterprise_id: int) -> Response:
    row = await certification.of_company(tenant, enterprise_id)
    stored = await scoped(StoredFile, tenant).get_or_404(row.licence if row else None)
    data = await platform.storage.read(stored)
    return Response(content=data, media_type=stored.media_type,
                    headers={"Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"})


@post("/staff/enterprises/{enterprise_id:int}/approve", guards=STAFF)
async def approve(request: Request, tenant: Tenant, account: Account, enterprise_id: int) -> Response:
    if await certification.decide(tenant, account, enterprise_id, "approved") is None:
        raise NotFoundException()
    return redirect(request, "/staff/enterprises?done=approved")


@post("/staff/enterprises/{enterprise_id:int}/reject", guards=STAFF)
async def reject(request: Request, tenant: Tenant, account: Account, enterprise_id: int) -> Response:
    if await certification.of_company(tenant, enterprise_id) is None:  # 404 before reading the form
        raise NotFoundException()
    form = await read_form(request)
    reason = form.get("reason")[:500]
    if not reason:
        return await _page(request, tenant, {enterprise_id: "请填写驳回原因"}, "", status_code=400)
    await certification.decide(tenant, account, enterprise_id, "rejected", reason)
    return redirect(request, "/staff/enterprises?done=rejected")


@get("/staff/certificates/import", guards=STAFF)
async def certificates_import_page(request: Request) -> Response:
    return await render(request, "company/staff_certificates.html", {"error": "", "job": None})


@get("/staff/certificates/template.xlsx", guards=STAFF)
async def certificates_template() -> Response:
    data = write_xlsx([c.header for c in holders.COLUMNS])
    return Response(content=data, media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    headers={"Content-Disposition": "attachment; filename=certificate_holders.xlsx"})


@post("/staff/certificates/import", guards=STAFF)
async def certificates_import(request: Request, platform: Platform, tenant: Tenant, account: Account) -> Response:
    """Check the file's columns here (parsed in a thread), then load it as a job."""
    form = await read_form(request)
    upload = form.files.get("file")
    try:
        data = await upload_bytes(upload, MAX_SHEET_BYTES)
        table = await read_table_async(data, upload.filename if upload else "",
                                       Limits(max_rows=tenant.rules.roster.max_import_rows))
        map_columns(table.headers, holders.COLUMNS)
    except SpreadsheetRejected as exc:
        return await render(request, "company/staff_certificates.html",
                            {"error": str(exc), "job": None}, status_code=400)
    stored = await keep_table(platform.storage, tenant, table)  # the job loads these rows, never the file
    job = scoped(ImportJob, tenant).new(kind="certificates", filename=PurePath(upload.filename).name[:200],
                                        file=stored.id, status="queued", total_rows=len(table.rows),
                                        created_by=account.id, created_at=dt.datetime.now(dt.UTC))
    await job.save()
    await platform.jobs.enqueue(run_certificate_import, key=f"import-{job.id}", tenant=tenant,
                                label=f"证书人员导入 {job.filename}", import_id=job.id, actor_id=account.id)
    return redirect(request, f"/staff/certificates/import/{job.id}")


@get("/staff/certificates/import/{import_id:int}", guards=STAFF)
async def certificates_import_job(request: Request, tenant: Tenant, import_id: int) -> Response:
    job = await scoped(ImportJob, tenant).get_or_404(import_id, ImportJob.kind == "certificates")
    return await render(request, "company/staff_certificates.html",
                        {"error": "", "job": job, "summary": as_json(job.summary, {})})


@get("/staff/certificates/import/{import_id:int}/progress", guards=STAFF)
async def certificates_import_progress(request: Request, tenant: Tenant, import_id: int) -> Response:
    job = await scoped(ImportJob, tenant).get_or_404(import_id, ImportJob.kind == "certificates")
    return await render(request, "company/_certificates_progress.html",
                        {"job": job, "summary": as_json(job.summary, {})})


ROUTES = [enterprises, licence, approve, reject, certificates_import_page, certificates_template, certificates_import,
          certificates_import_job, certificates_import_progress]
