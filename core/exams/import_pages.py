"""The bank import pages (tenant_admin): the template, upload → mapping step and preview per sheet,
the commit (in the request for small files, as a job with progress for large ones), and export.

The mapping step: every sheet's headers with the field each is read as (proposed by
``core.exams.mapping``, or the tenant's mapping confirmed earlier for the same headers), the type a
sheet's name gives, the meaning of type codes and 判断 answers the plan cannot read; the
administrator changes any of them and sees the preview again. 确认导入 commits only the mapping whose
preview was shown, and remembers it for the next file with the same headers.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json

from litestar import Request, Response, get, post
from litestar.exceptions import NotFoundException

from core.accounts.tables import Account
from core.audit.services import record
from core.courses.tables import Position
from core.db.scoped import scoped
from core.exams import bank as banks
from core.exams.bank_images import MAX_ZIP_BYTES, read_bank_upload
from core.exams.bank_jobs import (
    IMPORT_KIND, INLINE_ROWS, export_workbook, job_preview, keep_images, keep_sheets, plans_of, run_bank_import, write_import,
)
from core.exams.checks import WorkbookPreview
from core.exams.mapping import FIELD_LABELS, SheetPlan
from core.exams.values import KINDS
from core.kernel import Platform
from core.offload import run_cpu
from core.roster.imports import as_dict
from core.roster.spreadsheets import SpreadsheetRejected, Table, write_workbook
from core.roster.tables import ImportJob
from core.tenancy import Tenant
from core.web import form_fields, redirect, render, roles

STAFF = [roles("tenant_admin")]
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MAX_VALUES = 40  # value meanings posted per sheet and field


def _xlsx(data: bytes, filename: str) -> Response:
    return Response(content=data, media_type=XLSX_TYPE,
                    headers={"Content-Disposition": f"attachment; filename={filename}"})


@get("/admin/exams/template.xlsx", guards=STAFF)
async def bank_template() -> Response:
    """The template: an instruction sheet (never imported: it has no question columns) and the
    question sheet with its headers and no example rows."""
    data = await run_cpu("spreadsheet", write_workbook, [("填写说明", banks.INSTRUCTIONS[0], banks.INSTRUCTIONS[1:]),
                                                         (banks.QUESTION_SHEET, banks.HEADERS, [])])
    return _xlsx(data, "question_bank_template.xlsx")


@get("/admin/exams/positions/{position_id:int}/export.xlsx", guards=STAFF)
async def bank_export(platform: Platform, tenant: Tenant, position_id: int) -> Response:
    """The bank in the template's format, with its pictures (imports again unchanged)."""
    position = await scoped(Position, tenant).get_or_404(position_id)
    data = await export_workbook(platform.storage, tenant, await banks.bank_for(tenant, position))
    return _xlsx(data, f"question_bank_{position.id}.xlsx")


def _plan_hash(plans: list[SheetPlan]) -> str:
    return hashlib.sha256(json.dumps([p.to_json() for p in plans], sort_keys=True).encode()).hexdigest()[:16]


def _sheets_view(tables: list[Table], workbook: WorkbookPreview) -> list[dict]:
    """What the template needs per sheet, the value meanings listed for the administrator."""
    out = []
    for s, (table, sheet) in enumerate(zip(tables, workbook.sheets)):
        values = {}
        for key in ("kind", "judge"):
            known = dict(sheet.plan.values.get(key, {}))
            for raw in sheet.unknown.get(key, []):
                known.setdefault(raw, "")
            values[key] = list(known.items())[:MAX_VALUES]
        out.append({"index": s, "sheet": sheet, "values": values})
    return out


async def _page(request: Request, tenant: Tenant, position: Position, job: ImportJob, tables: list[Table],
                workbook: WorkbookPreview, error: str = "", status_code: int = 200) -> Response:
    await banks.mark_existing(tenant, await banks.bank_for(tenant, position), workbook)
    return await render(request, "exams/admin_import.html", {
        "position": position, "job": job, "preview": workbook, "sheets": _sheets_view(tables, workbook),
        "fields": FIELD_LABELS, "kinds": KINDS, "error": error, "plan_hash": _plan_hash(plans_of(job)),
        "can_commit": bool(workbook.valid_rows)}, status_code=status_code)


async def _job(tenant: Tenant, job_id: int) -> tuple[ImportJob, Position]:
    job = await scoped(ImportJob, tenant).get_or_404(job_id, ImportJob.kind == IMPORT_KIND)
    position = await scoped(Position, tenant).get_or_404(int(as_dict(job.summary).get("position") or 0))
    return job, position


@post("/admin/exams/positions/{position_id:int}/import", guards=STAFF,
      request_max_body_size=MAX_ZIP_BYTES + 65536)
async def bank_upload(request: Request, platform: Platform, tenant: Tenant, account: Account,
                      position_id: int) -> Response:
    """Upload → the mapping step and preview. The file is parsed once, here; its sheets are kept."""
    position = await scoped(Position, tenant).get_or_404(position_id)
    form = await request.form()
    upload = form.get("file")
    if upload is None or isinstance(upload, str) or not upload.filename:
        error = "请选择要导入的题库文件（xlsx、csv，或表格连同图片的 zip）"
    else:
        try:
            upload_data = await run_cpu("spreadsheet", read_bank_upload, await upload.read(), upload.filename,
                                        banks.LIMITS)
            tables, error = upload_data.tables, ""
        except SpreadsheetRejected as exc:
            error = str(exc)
    if error:
        return await render(request, "exams/admin_import.html", {"position": position, "error": error},
                            status_code=400)
    plans = await banks.remembered_plans(tenant, tables)
    stored = await keep_sheets(platform.storage, tenant, tables)
    images = await keep_images(platform.storage, tenant, upload_data.images)
    job = scoped(ImportJob, tenant).new(
        kind=IMPORT_KIND, filename=upload.filename[:200], file=stored.id, total_rows=sum(len(t.rows) for t in tables),
        summary={"position": position.id, "plans": [p.to_json() for p in plans], "images": images},
        created_by=account.id,
        created_at=dt.datetime.now(dt.UTC))
    await job.save()
    return redirect(request, f"/admin/exams/import/{job.id}")


@get("/admin/exams/import/{job_id:int}", guards=STAFF)
async def import_page(request: Request, platform: Platform, tenant: Tenant, job_id: int) -> Response:
    job, position = await _job(tenant, job_id)
    if job.status != "previewed":
        return await render(request, "exams/admin_import_progress.html",
                            {"job": job, "position": position, "summary": as_dict(job.summary)})
    checked = await job_preview(platform.storage, tenant, job)
    if checked is None:  # purged by the retention rule for import files
        raise NotFoundException()
    return await _page(request, tenant, position, job, *checked)


@get("/admin/exams/import/{job_id:int}/progress", guards=STAFF)
async def import_progress(request: Request, tenant: Tenant, job_id: int) -> Response:
    job, position = await _job(tenant, job_id)
    return await render(request, "exams/_import_progress.html",
                        {"job": job, "position": position, "summary": as_dict(job.summary)})


def _posted_plans(form: dict[str, str], tables: list[Table], current: list[SheetPlan]) -> tuple[list[SheetPlan], str]:
    """The plans the mapping form sends (the current ones where a sheet's fields are absent), and
    an error when one field is given two columns."""
    plans, error = [], ""
    for s, (table, old) in enumerate(zip(tables, current)):
        if f"kind-{s}" not in form:
            plans.append(old)
            continue
        columns = {}
        for i in range(len(table.headers)):
            key = form.get(f"map-{s}-{i}", "")
            columns[str(i)] = key if key in FIELD_LABELS else ""
        taken = [k for k in columns.values() if k]
        for key in {k for k in taken if taken.count(k) > 1}:
            error = f"工作表“{table.name or '1'}”中有两列都对应“{FIELD_LABELS[key]}”，请只保留一列"
        values: dict[str, dict[str, str]] = {}
        for key, allowed in (("kind", set(KINDS)), ("judge", {"A", "B"})):
            for n in range(MAX_VALUES):
                raw = form.get(f"{key}raw-{s}-{n}")
                if raw is None:
                    break
                meaning = form.get(f"{key}val-{s}-{n}", "")
                if meaning in allowed:
                    values.setdefault(key, {})[raw] = meaning
        kind = form.get(f"kind-{s}", "")
        plans.append(SheetPlan(columns=columns, values=values, kind=kind if kind in KINDS else "",
                               skip=form.get(f"skip-{s}") == "1"))
    return plans, error


@post("/admin/exams/import/{job_id:int}/mapping", guards=STAFF)
async def import_mapping(request: Request, platform: Platform, tenant: Tenant, job_id: int) -> Response:
    """Apply the administrator's mapping and show the preview under it (writes no question)."""
    job, position = await _job(tenant, job_id)
    if job.status != "previewed":
        return redirect(request, f"/admin/exams/import/{job.id}")
    checked = await job_preview(platform.storage, tenant, job)
    if checked is None:
        raise NotFoundException()
    tables = checked[0]
    plans, error = _posted_plans(await form_fields(request), tables, plans_of(job))
    if error:
        return await _page(request, tenant, position, job, *checked, error=error, status_code=400)
    await _save_plans(tenant, job, plans)
    return await _page(request, tenant, position, job, tables, await banks.preview(tables, plans))


async def _save_plans(tenant: Tenant, job: ImportJob, plans: list[SheetPlan]) -> None:
    job.summary = {**as_dict(job.summary), "plans": [p.to_json() for p in plans]}
    await scoped(ImportJob, tenant).update({ImportJob.summary: job.summary}).where(ImportJob.id == job.id)


@post("/admin/exams/import/{job_id:int}", guards=STAFF)
async def bank_commit(request: Request, platform: Platform, tenant: Tenant, account: Account, job_id: int) -> Response:
    """Commit the previewed mapping: the valid rows (a file with errors only with "忽略错误行").
    A mapping changed since its preview is previewed again, not committed."""
    job, position = await _job(tenant, job_id)
    if job.status != "previewed":
        return redirect(request, f"/admin/exams/import/{job.id}")
    checked = await job_preview(platform.storage, tenant, job)
    if checked is None:
        raise NotFoundException()
    tables, workbook = checked
    form = await form_fields(request)
    plans, error = _posted_plans(form, tables, plans_of(job))
    if error or (form.get("plan_hash") and form["plan_hash"] != _plan_hash(plans_of(job))) \
            or _plan_hash(plans) != _plan_hash(plans_of(job)):
        if not error:
            await _save_plans(tenant, job, plans)
            workbook = await banks.preview(tables, plans)
        return await _page(request, tenant, position, job, tables, workbook, status_code=400, error=error or (
            "对应关系已更改：请查看下方按新的对应关系生成的预览，确认无误后再点击“确认导入”"))
    if not workbook.valid_rows:
        return await _page(request, tenant, position, job, tables, workbook, status_code=400,
                           error="没有可以导入的题目：请按下方各工作表的说明调整列的对应关系，或修改文件后重新上传")
    if workbook.error_rows and form.get("skip_errors") != "1":
        return await _page(request, tenant, position, job, tables, workbook, status_code=400, error=(
            f"文件中有 {len(workbook.error_rows)} 行错误，请修改后重新上传，或勾选“忽略错误行，仅导入正确的行”"))
    claimed = await scoped(ImportJob, tenant).update({ImportJob.status: "queued"}).where(
        (ImportJob.id == job.id) & (ImportJob.status == "previewed")).returning(ImportJob.id)
    if not claimed:  # a second click while the first one started the import
        return redirect(request, f"/admin/exams/import/{job.id}")
    await banks.remember_plans(tenant, tables, plans)
    job.status = "queued"
    if len(workbook.rows) > INLINE_ROWS:
        await platform.jobs.enqueue(run_bank_import, key=f"exam-bank-import-{job.id}", tenant=tenant,
                                    label=f"题库导入 {job.filename}", import_id=job.id, actor_id=account.id)
        return redirect(request, f"/admin/exams/import/{job.id}")
    summary = await write_import(tenant, job, workbook, storage=platform.storage)
    await record("exam_bank.imported", tenant_id=tenant.id, actor_id=account.id, object_type="import_job",
                 object_id=job.id, created=summary["created"], updated=summary["updated"], skipped=summary["skipped"])
    notice = f"已导入：新增 {summary['created']} 题，更新 {summary['updated']} 题"
    if summary["skipped"]:
        notice += f"，跳过错误行 {summary['skipped']} 行"
    return redirect(request, f"/admin/exams/positions/{position.id}?notice={notice}")


ROUTES = [bank_template, bank_export, bank_upload, import_page, import_progress, import_mapping, bank_commit]
