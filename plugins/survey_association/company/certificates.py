"""The company's 证书管理: 人员确认 (check, correct, confirm) and 企业学员证书."""

from __future__ import annotations

import datetime as dt

from litestar import Request, Response, get, post
from litestar.exceptions import NotFoundException

from core import Account, Enterprise, Tenant, audit, is_htmx, redirect, render, scoped
from plugins.survey_association.company import holders
from plugins.survey_association.company.common import as_json, read_form
from plugins.survey_association.tables import CertificateHolder


async def _holder(tenant: Tenant, holder_id: int, enterprise_id: int) -> CertificateHolder:
    return await scoped(CertificateHolder, tenant).get_or_404(holder_id, CertificateHolder.enterprise == enterprise_id)


def current_problems(row: CertificateHolder) -> list[dict]:
    """The stored problems, plus expiry as of today (a row loaded while valid may have expired)."""
    problems = list(as_json(row.problems, []))
    message = holders.expired(row.expires_on)
    if message and not any(p["message"] == message for p in problems):
        problems.append({"field": "expires_on", "message": message})
    return problems


def problems_by_field(row: CertificateHolder) -> dict[str, str]:
    out: dict[str, str] = {}
    for p in current_problems(row):
        out[p["field"]] = "；".join(filter(None, [out.get(p["field"]), p["message"]]))
    return out


@get("/company/certificates")
async def pending_list(request: Request, tenant: Tenant, enterprise: Enterprise) -> Response:
    rows = await scoped(CertificateHolder, tenant).objects(
        (CertificateHolder.enterprise == enterprise.id)
        & (CertificateHolder.status == "imported")).order_by(CertificateHolder.id)
    return await render(request, "company/certificates.html",
                        {"enterprise": enterprise, "rows": rows, "problems": problems_by_field,
                         "confirmed": request.query_params.get("confirmed"),
                         "blocked": request.query_params.get("blocked")})


@get("/company/certificates/confirmed")
async def confirmed_list(request: Request, tenant: Tenant, enterprise: Enterprise) -> Response:
    rows = await scoped(CertificateHolder, tenant).objects(
        (CertificateHolder.enterprise == enterprise.id)
        & (CertificateHolder.status == "confirmed")).order_by(CertificateHolder.id)
    return await render(request, "company/certificates_confirmed.html", {"enterprise": enterprise, "rows": rows})


@get("/company/certificates/{holder_id:int}/edit")
async def edit_row(request: Request, tenant: Tenant, enterprise: Enterprise, holder_id: int) -> Response:
    row = await _holder(tenant, holder_id, enterprise.id)
    if row.status != "imported":
        raise NotFoundException()
    return await render(request, "company/_holder_form.html",
                        {"row": row, "errors": problems_by_field(row), "form": None})


@post("/company/certificates/{holder_id:int}")
async def save_row(request: Request, tenant: Tenant, account: Account, enterprise: Enterprise,
                   holder_id: int) -> Response:
    row = await _holder(tenant, holder_id, enterprise.id)
    if row.status != "imported":
        raise NotFoundException()
    form = await read_form(request)
    raw = {k: form.get(k) for k in holders.EDITABLE}
    raw["id_number"] = raw["id_number"] or row.id_number  # blank keeps the stored number (shown masked)
    checked = holders.check(raw, list(tenant.rules.roster.positions))
    changed = []
    for key, value in checked.values.items():
        if getattr(row, key) != value:
            changed.append(key)
            setattr(row, key, value)
    row.problems = checked.problems
    await row.save()
    await audit("cert_holder.corrected", tenant_id=tenant.id, actor_id=account.id, object_type="certificate_holder",
                object_id=row.id, fields=changed, problems=len(checked.problems))
    if current_problems(row):
        status = 200 if is_htmx(request) else 400
        return await render(request, "company/_holder_form.html",
                            {"row": row, "errors": problems_by_field(row), "form": raw}, status_code=status)
    return await render(request, "company/_holder_row.html", {"row": row, "problems": problems_by_field})


@post("/company/certificates/confirm")
async def confirm(request: Request, tenant: Tenant, account: Account, enterprise: Enterprise) -> Response:
    form = await read_form(request)
    ids = [int(x) for x in form.lists.get("holder_id", []) if x.isdigit()]
    query = scoped(CertificateHolder, tenant).objects(
        (CertificateHolder.enterprise == enterprise.id)
        & (CertificateHolder.status == "imported"))
    if ids:
        query = query.where(CertificateHolder.id.is_in(ids))
    now = dt.datetime.now(dt.UTC)
    confirmed = blocked = 0
    for row in await query:
        if current_problems(row):  # an expired certificate is never confirmed
            blocked += 1
            continue
        row.status, row.confirmed_at, row.confirmed_by = "confirmed", now, account.id
        await row.save([CertificateHolder.status, CertificateHolder.confirmed_at, CertificateHolder.confirmed_by])
        await audit("cert_holder.confirmed", tenant_id=tenant.id, actor_id=account.id,
                    object_type="certificate_holder", object_id=row.id)
        confirmed += 1
    return redirect(request, f"/company/certificates?confirmed={confirmed}&blocked={blocked}")


ROUTES = [pending_list, confirmed_list, edit_row, save_row, confirm]
