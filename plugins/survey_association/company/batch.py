"""批量登记: template download, upload → preview of every row → confirm → progress."""

from __future__ import annotations

import math
from pathlib import PurePath

from litestar import Request, Response, get, post
from litestar.exceptions import NotFoundException

from core import (
    Account,
    Enterprise,
    ImportJob,
    Limits,
    Platform,
    SpreadsheetRejected,
    Tenant,
    audit,
    keep_table,
    kept_table,
    preview_roster,
    read_table_async,
    redirect,
    render,
    run_roster_import,
    scoped,
    write_csv,
    write_xlsx,
)
from plugins.survey_association.company.common import (
    MAX_SHEET_BYTES,
    as_json,
    read_form,
    upload_bytes,
)

PAGE_SIZE = 500
HEADERS = ["姓名", "身份证号", "手机号", "岗位"]
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _example(tenant) -> list[list[str]]:
    position = (tenant.rules.roster.positions or [""])[0]
    return [["张三", "110105199001011234", "13800000000", position]]


@get("/company/learners/import/template.xlsx")
async def template_xlsx(tenant: Tenant) -> Response:
    return Response(content=write_xlsx(HEADERS, _example(tenant)), media_type=XLSX_TYPE,
                    headers={"Content-Disposition": "attachment; filename=roster_template.xlsx"})


@get("/company/learners/import/template.csv")
async def template_csv(tenant: Tenant) -> Response:
    return Response(content=write_csv(HEADERS, _example(tenant)), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": "attachment; filename=roster_template.csv"})


def _limits(tenant) -> Limits:
    return Limits(max_bytes=MAX_SHEET_BYTES, max_rows=tenant.rules.roster.max_import_rows)


@get("/company/learners/import")
async def import_page(request: Request, tenant: Tenant, enterprise: Enterprise) -> Response:
    jobs = await scoped(ImportJob, tenant).objects(
        (ImportJob.enterprise == enterprise.id) & (ImportJob.kind == "roster")
    ).order_by(ImportJob.id, ascending=False).limit(10)
    return await render(request, "company/import.html",
                        {"enterprise": enterprise, "error": "", "jobs": jobs,
                         "max_rows": tenant.rules.roster.max_import_rows})


@post("/company/learners/import")
async def upload(request: Request, platform: Platform, tenant: Tenant, account: Account,
                 enterprise: Enterprise) -> Response:
    p = platform
    form = await read_form(request)
    file = form.files.get("file")
    try:
        data = await upload_bytes(file, MAX_SHEET_BYTES)
        table = await read_table_async(data, file.filename if file else "", _limits(tenant))
        preview = await preview_roster(hooks=p.hooks(tenant), tenant=tenant, enterprise_id=enterprise.id, table=table)
    except SpreadsheetRejected as exc:
        return await render(request, "company/import.html",
                            {"enterprise": enterprise, "error": str(exc), "jobs": [],
                             "max_rows": tenant.rules.roster.max_import_rows}, status_code=400)
    stored = await keep_table(p.storage, tenant, table)  # the parsed rows: later steps never parse again
    job = scoped(ImportJob, tenant).new(enterprise=enterprise.id, kind="roster",
                    filename=PurePath(file.filename).name[:200], file=stored.id, status="previewed",
                    total_rows=len(preview.rows), error_rows=len(preview.error_rows), created_by=account.id)
    await job.save()
    await audit("roster.import_previewed", tenant_id=tenant.id, actor_id=account.id, object_type="import_job",
                object_id=job.id, rows=len(preview.rows), errors=len(preview.error_rows))
    return redirect(request, f"/company/learners/import/{job.id}")


async def _job(tenant: Tenant, job_id: int, enterprise_id: int) -> ImportJob:
    return await scoped(ImportJob, tenant).get_or_404(
        job_id, (ImportJob.enterprise == enterprise_id) & (ImportJob.kind == "roster"))


async def _preview(p: Platform, tenant: Tenant, job: ImportJob, enterprise_id: int):
    table = await kept_table(p.storage, tenant, job, _limits(tenant))
    if table is None:  # purged by the retention rule for import files
        raise NotFoundException()
    return await preview_roster(hooks=p.hooks(tenant), tenant=tenant, enterprise_id=enterprise_id, table=table)


async def _preview_page(request: Request, platform: Platform, tenant: Tenant, job, enterprise, status_code: int = 200,
                        error: str = "") -> Response:
    preview = await _preview(platform, tenant, job, enterprise.id)
    only_errors = request.query_params.get("errors") == "1"
    rows = preview.error_rows if only_errors else preview.rows
    pages = max(1, math.ceil(len(rows) / PAGE_SIZE))
    try:
        page = min(max(1, int(request.query_params.get("page", "1"))), pages)
    except ValueError:
        page = 1
    return await render(request, "company/import_preview.html",
                        {"enterprise": enterprise, "job": job, "preview": preview,
                         "rows": rows[(page - 1) * PAGE_SIZE: page * PAGE_SIZE], "page": page, "pages": pages,
                         "only_errors": only_errors, "error": error}, status_code=status_code)


@get("/company/learners/import/{job_id:int}")
async def job_page(request: Request, platform: Platform, tenant: Tenant, enterprise: Enterprise,
                   job_id: int) -> Response:
    job = await _job(tenant, job_id, enterprise.id)
    if job.status == "previewed":
        return await _preview_page(request, platform, tenant, job, enterprise)
    return await render(request, "company/import_progress.html",
                        {"enterprise": enterprise, "job": job, "summary": as_json(job.summary, {})})


@get("/company/learners/import/{job_id:int}/progress")
async def progress(request: Request, tenant: Tenant, enterprise: Enterprise, job_id: int) -> Response:
    job = await _job(tenant, job_id, enterprise.id)
    return await render(request, "company/_import_progress.html", {"job": job, "summary": as_json(job.summary, {})})


@post("/company/learners/import/{job_id:int}/confirm")
async def confirm(request: Request, platform: Platform, tenant: Tenant, account: Account, enterprise: Enterprise,
                  job_id: int) -> Response:
    job = await _job(tenant, job_id, enterprise.id)
    if job.status not in ("previewed", "failed"):
        return redirect(request, f"/company/learners/import/{job.id}")  # already running or done
    form = await read_form(request)
    skip_errors = form.get("skip_errors") == "1"
    preview = await _preview(platform, tenant, job, enterprise.id)
    if preview.error_rows and not skip_errors:
        job.status = "previewed"
        return await _preview_page(request, platform, tenant, job, enterprise, 400,
                                   f"文件中有 {len(preview.error_rows)} 行错误，请修改后重新上传，"
                                   "或勾选“忽略错误行，仅导入正确的行”")
    if not preview.valid_rows:
        return await _preview_page(request, platform, tenant, job, enterprise, 400, "没有可以导入的正确行")
    claimed = await scoped(ImportJob, tenant).update({ImportJob.status: "queued"}).where(
        (ImportJob.id == job.id) & ImportJob.status.is_in(["previewed", "failed"])).returning(ImportJob.id)
    if not claimed:  # a second click while the first one started the import
        return redirect(request, f"/company/learners/import/{job.id}")
    # A job (core.jobs): a worker on Redis, else this process; a failed import continues where it stopped.
    await platform.jobs.enqueue(run_roster_import, key=f"import-{job.id}", tenant=tenant,
                                label=f"学员名册导入 {job.filename}", import_id=job.id,
                                skip_errors=skip_errors, actor_id=account.id)
    return redirect(request, f"/company/learners/import/{job.id}")


ROUTES = [template_xlsx, template_csv, import_page, upload, job_page, progress, confirm]
