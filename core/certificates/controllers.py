"""Certificate pages: the learner's 获取证书 / 重新生成证书 / 学时记录, the public verification page
(no sign-in, rate limited), and the tenant admin's 证书管理 (batch job, registry reports)."""

from __future__ import annotations

import datetime as dt
import logging

from litestar import Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.response import Redirect

from core.accounts.tables import Account
from core.audit.services import record
from core.certificates import registry, services
from core.certificates.jobs import eligible_enrolments, issue_certificates, registry_report
from core.certificates.tables import Certificate, RegistryBatch, RegistryRow
from core.courses.tables import Course, Enrollment
from core.db.scoped import scoped
from core.files.tables import StoredFile
from core.hookcalls import Hooks
from core.kernel import Platform
from core.roster.spreadsheets import SpreadsheetRejected
from core.tenancy import Tenant
from core.web import client_address, redirect, render, roles

log = logging.getLogger("xueshi.certificates")
LEARNER = [roles("learner")]
STAFF = [roles("tenant_admin")]
MAX_RESULT_BYTES = 5 * 1024 * 1024
TOO_MANY = "查询过于频繁，请稍后再试"


# --- learner ---------------------------------------------------------------------------------


async def _own_enrollment(tenant: Tenant, account: Account, enrollment_id: int) -> Enrollment:
    return await scoped(Enrollment, tenant).get_or_404(enrollment_id, Enrollment.account == account.id)


async def _certificate_page(request: Request, hooks: Hooks, tenant: Tenant, enrollment: Enrollment, status_code: int = 200,
                            error: str = "", notice: str = "") -> Response:
    course = await scoped(Course, tenant).get_or_404(enrollment.course)
    certificate = await services.current(tenant, enrollment.id)
    verdict = await services.eligibility(hooks, tenant, enrollment)
    history = await scoped(Certificate, tenant).objects(Certificate.enrollment == enrollment.id).order_by(
        Certificate.revision, ascending=False)
    return await render(request, "certificates/mine.html",
                        {"enrollment": enrollment, "course": course, "certificate": certificate,
                         "eligible": verdict.ok, "reason": verdict.reason, "history": history,
                         "labels": services.STATUS_LABELS, "error": error,
                         "notice": notice or request.query_params.get("notice", ""),
                         "display_code": services.display_code}, status_code=status_code)


@get("/certificates/{enrollment_id:int}", guards=LEARNER)
async def certificate_page(request: Request, hooks: Hooks, tenant: Tenant, account: Account,
                           enrollment_id: int) -> Response:
    """获取证书: the certificate of one enrolment (view, download, 重新生成证书)."""
    return await _certificate_page(request, hooks, tenant, await _own_enrollment(tenant, account, enrollment_id))


@post("/certificates/{enrollment_id:int}", guards=LEARNER)
async def certificate_issue(request: Request, platform: Platform, hooks: Hooks, tenant: Tenant, account: Account,
                            enrollment_id: int) -> Response:
    enrollment = await _own_enrollment(tenant, account, enrollment_id)
    try:
        row = await services.issue(platform, hooks, tenant, enrollment)
    except services.NotEligible as exc:
        return await _certificate_page(request, hooks, tenant, enrollment, 409, error=str(exc))
    await record("certificate.issued", tenant_id=tenant.id, actor_id=account.id, object_type="certificate",
                 object_id=row.id)
    return redirect(request, f"/certificates/{enrollment.id}")


@post("/certificates/{enrollment_id:int}/renew", guards=LEARNER)
async def certificate_renew(request: Request, platform: Platform, hooks: Hooks, tenant: Tenant, account: Account,
                            enrollment_id: int) -> Response:
    """重新生成证书: a new certificate number; the old certificate becomes void."""
    enrollment = await _own_enrollment(tenant, account, enrollment_id)
    certificate = await services.current(tenant, enrollment.id)
    if certificate is None:
        return await _certificate_page(request, hooks, tenant, enrollment, 409, error="尚未生成证书，请先获取证书")
    try:
        row = await services.renew(platform, hooks, tenant, certificate)
    except services.NotEligible as exc:
        return await _certificate_page(request, hooks, tenant, enrollment, 409, error=str(exc))
    await record("certificate.renewed", tenant_id=tenant.id, actor_id=account.id, object_type="certificate",
                 object_id=row.id, replaced=certificate.id)
    return redirect(request, f"/certificates/{enrollment.id}?notice=已生成新证书，原证书已作废")


@get("/certificates/{enrollment_id:int}/pdf", guards=LEARNER)
async def certificate_pdf(platform: Platform, tenant: Tenant, account: Account, enrollment_id: int,
                          download: bool = False) -> Response:
    """The stored PDF, the same bytes on every download; viewed from a bucket by a signed URL."""
    enrollment = await _own_enrollment(tenant, account, enrollment_id)
    certificate = await services.current(tenant, enrollment.id)
    if certificate is None:
        raise NotFoundException()
    stored = await scoped(StoredFile, tenant).get(certificate.file)
    if not download and stored is not None and (url := await platform.storage.signed_url(stored)):
        return Redirect(url, status_code=302, headers={"Cache-Control": "private, no-store"})
    data = await services.pdf_bytes(platform, tenant, certificate)
    disposition = "attachment" if download else "inline"
    return Response(content=data, media_type="application/pdf", headers={
        "Content-Disposition": f'{disposition}; filename="certificate-{certificate.number}.pdf"',
        "Cache-Control": "private, no-store", "ETag": f'"{certificate.sha256}"'})


@get("/hours", guards=LEARNER)
async def hours_records(request: Request, tenant: Tenant, account: Account) -> Response:
    """学时记录: 机构 / 岗位 / 已上传学时数 / 总学时数 / 上传日期 per enrolment."""
    return await render(request, "certificates/hours.html",
                        {"items": await registry.hours_records(tenant, account.id),
                         "labels": registry.ROW_STATUS_LABELS, "registry_labels": registry.ROW_STATUS_LABELS})


# --- public verification ---------------------------------------------------------------------


async def _verify_allowed(request: Request, platform: Platform, tenant: Tenant) -> bool:
    """Every look-up counts for the client address; once it guessed too many unknown codes, it
    gets no answers at all (not even for a valid code) until the window ends."""
    counter = platform.counters["verify_client"]
    if await counter.hit(tenant.slug, client_address(request)) > counter.limit:
        return False
    unknown = platform.counters["verify_unknown"]
    return await unknown.count(tenant.slug, client_address(request)) < unknown.limit


async def _verify_answer(request: Request, platform: Platform, tenant: Tenant, text: str) -> Response:
    if not await _verify_allowed(request, platform, tenant):
        return await render(request, "certificates/verify.html",
                            {"error": TOO_MANY, "code": text[:40]}, status_code=429)
    code = services.normalize_code(text)
    found = await services.verify(tenant, code) if code else None
    if found is None:
        unknown = platform.counters["verify_unknown"]
        if await unknown.hit(tenant.slug, client_address(request)) > unknown.limit:
            return await render(request, "certificates/verify.html",
                                {"error": TOO_MANY, "code": text[:40]}, status_code=429)
        return await render(request, "certificates/verify.html",
                            {"code": text[:40], "error": "未找到该验证码对应的证书，请核对后重新输入"}, status_code=404)
    return await render(request, "certificates/verify.html",
                        {"result": found, "code": services.display_code(code), "labels": services.STATUS_LABELS})


@get("/verify")
async def verify_form(request: Request, platform: Platform, tenant: Tenant, code: str = "") -> Response:
    """证书查验: a form (GET, no sign-in); with ``?code=`` it answers like /verify/<code>."""
    if not code.strip():
        return await render(request, "certificates/verify.html", {"code": ""})
    return await _verify_answer(request, platform, tenant, code)


@get("/verify/{code:str}")
async def verify_page(request: Request, platform: Platform, tenant: Tenant, code: str) -> Response:
    """The address in the certificate's QR code."""
    return await _verify_answer(request, platform, tenant, code)


# --- tenant admin ----------------------------------------------------------------------------


async def _admin_page(request: Request, platform: Platform, hooks: Hooks, tenant: Tenant, status_code: int = 200,
                      error: str = "") -> Response:
    eligible = await eligible_enrolments(hooks, tenant)
    issued = await scoped(Certificate, tenant).count(Certificate.status == "valid")
    certificates = await scoped(Certificate, tenant).objects().order_by(Certificate.id, ascending=False).limit(50)
    batches = await scoped(RegistryBatch, tenant).objects().order_by(RegistryBatch.id, ascending=False).limit(20)
    return await render(request, "certificates/admin.html",
                        {"eligible": len(eligible), "issued": issued, "certificates": certificates,
                         "batches": batches, "labels": services.STATUS_LABELS,
                         "batch_labels": registry.BATCH_STATUS_LABELS,
                         "exporters": list((await registry.exporters(hooks, tenant)).values()), "error": error},
                        status_code=status_code)


@get("/admin/certificates", guards=STAFF)
async def admin_page(request: Request, platform: Platform, hooks: Hooks, tenant: Tenant) -> Response:
    return await _admin_page(request, platform, hooks, tenant)


@post("/admin/certificates/batch", guards=STAFF)
async def admin_batch(request: Request, platform: Platform, tenant: Tenant, account: Account) -> Response:
    """批量生成: a job issuing every eligible learner's certificate; its progress page follows."""
    run = await platform.jobs.enqueue(issue_certificates, tenant=tenant, key=f"certificates:{tenant.slug}")
    await record("certificate.batch", tenant_id=tenant.id, actor_id=account.id, object_type="job_run",
                 object_id=run.id)
    return redirect(request, f"/admin/jobs/{run.id}")


@post("/admin/registry", guards=STAFF)
async def registry_create(request: Request, platform: Platform, hooks: Hooks, tenant: Tenant,
                          account: Account) -> Response:
    """学时上报: a report batch, written by a job in the chosen exporter's format."""
    form = await request.form()
    key = str(form.get("exporter") or "xlsx")
    if key not in await registry.exporters(hooks, tenant):
        return await _admin_page(request, platform, hooks, tenant, 400, error="请选择上报文件格式")
    batch = scoped(RegistryBatch, tenant).new(exporter=key, status="exporting", created_by=account.id,
                                              created_at=dt.datetime.now(dt.UTC))
    await batch.save()
    await platform.jobs.enqueue(registry_report, tenant=tenant, key=f"registry:{batch.id}", batch_id=batch.id)
    await record("registry.report", tenant_id=tenant.id, actor_id=account.id, object_type="registry_batch",
                 object_id=batch.id)
    return redirect(request, f"/admin/registry/{batch.id}")


async def _batch_page(request: Request, tenant: Tenant, batch_id: int, status_code: int = 200, error: str = "",
                      notice: str = "") -> Response:
    batch = await scoped(RegistryBatch, tenant).get_or_404(batch_id)
    rows = await scoped(RegistryRow, tenant).objects(RegistryRow.batch == batch.id).order_by(RegistryRow.id)
    people = {a.id: a for a in await scoped(Account, tenant).objects(
        Account.id.is_in([r.account for r in rows] or [0]))}
    template = "certificates/_registry_batch.html" if request.headers.get("hx-request") else \
        "certificates/registry_batch.html"
    return await render(request, template,
                        {"batch": batch, "rows": rows, "people": people, "labels": registry.ROW_STATUS_LABELS,
                         "others": await registry.other_batches(tenant, rows),
                         "error": error, "notice": notice, "result_headers": registry.RESULT_HEADERS,
                         "busy": batch.status == "exporting"}, status_code=status_code)


@get("/admin/registry/{batch_id:int}", guards=STAFF)
async def registry_batch(request: Request, tenant: Tenant, batch_id: int) -> Response:
    return await _batch_page(request, tenant, batch_id)


@get("/admin/registry/{batch_id:int}/file", guards=STAFF)
async def registry_file(platform: Platform, hooks: Hooks, tenant: Tenant, batch_id: int) -> Response:
    batch = await scoped(RegistryBatch, tenant).get_or_404(batch_id)
    stored = await scoped(StoredFile, tenant).get(batch.file)
    if stored is None:
        raise NotFoundException()
    exporter = (await registry.exporters(hooks, tenant)).get(batch.exporter)  # its type may exceed 64 chars
    return Response(content=await platform.storage.read(stored), media_type=exporter.media_type if exporter else
                    stored.media_type, headers={
        "Content-Disposition": f'attachment; filename="{batch.filename}"', "Cache-Control": "private, no-store"})


@post("/admin/registry/{batch_id:int}/result", guards=STAFF, request_max_body_size=MAX_RESULT_BYTES + 65536)
async def registry_result(request: Request, tenant: Tenant, account: Account, batch_id: int) -> Response:
    """Import the registry's result file: each row uploaded or rejected with the reason."""
    batch = await scoped(RegistryBatch, tenant).get_or_404(batch_id)
    form = await request.form()
    upload = form.get("file")
    if upload is None or isinstance(upload, str) or not upload.filename:
        return await _batch_page(request, tenant, batch.id, 400, error="请选择上报结果文件（xlsx 或 csv）")
    if batch.status not in ("exported", "reconciled"):
        return await _batch_page(request, tenant, batch.id, 409, error="上报文件尚未生成，请稍后再导入结果")
    data = await upload.read()
    try:
        result = await registry.reconcile(tenant, batch, data, upload.filename)
    except SpreadsheetRejected as exc:
        return await _batch_page(request, tenant, batch.id, 400, error=str(exc))
    await record("registry.reconciled", tenant_id=tenant.id, actor_id=account.id, object_type="registry_batch",
                 object_id=batch.id, uploaded=result.uploaded, rejected=result.rejected)
    notice = result.summary() + ("：" + "；".join(result.errors[:20]) if result.errors else "")
    return await _batch_page(request, tenant, batch.id, notice=notice)


ROUTES = [certificate_page, certificate_issue, certificate_renew, certificate_pdf, hours_records, verify_form,
          verify_page, admin_page, admin_batch, registry_create, registry_batch, registry_file, registry_result]
