"""操作日志 (tenant admins): the tenant's audit log, filtered and paged (``core.audit.viewer``)."""

from __future__ import annotations

from litestar import Request, Response, get

from core.audit import viewer
from core.tenancy import Tenant
from core.web import render, roles


@get("/admin/audit", guards=[roles("tenant_admin")])
async def audit_log(request: Request, tenant: Tenant) -> Response:
    f = viewer.AuditFilter.from_query(request.query_params)
    return await render(request, "audit/log.html", {
        "found": await viewer.find(tenant, f), "f": f, "labels": viewer.ACTION_LABELS, "role_labels": tenant.role_labels,
        "detail_items": viewer.detail_items, "masked": viewer.masked})


ROUTES = [audit_log]
