"""学时审核's staff pages beside the queue: bulk approval of the unflagged cases (one
confirmation), 审核工作量 (decisions per reviewer, open cases by age, the decisions of the period)
and the decisions' XLSX export with the same filters."""

from __future__ import annotations

from litestar import Request, Response, get, post

from core.accounts.tables import Account
from core.courses.exports import MAX_ROWS, xlsx_response
from core.hookcalls import Hooks
from core.identity import mask_id_number
from core.review import bulk, decisions, filters, services, workload
from core.review.services import ReviewError
from core.tenancy import Tenant
from core.web import render, roles

REVIEWER = roles("reviewer")
OVERSEERS = roles("reviewer", "tenant_admin")  # 审核工作量 is the reviewers' and their admins' view


async def _filtered_queue(request: Request, tenant: Tenant) -> tuple[list, filters.QueueFilter]:
    items = await services.queue(tenant)
    chosen = filters.QueueFilter.from_query(request.query_params)
    return filters.apply(items, chosen, await filters.companies(tenant, items)), chosen


async def _bulk_page(request: Request, tenant: Tenant, status_code: int = 200, error: str = "",
                     result: bulk.BulkResult | None = None) -> Response:
    items, chosen = await _filtered_queue(request, tenant)
    ready = await bulk.candidates(tenant, items)
    return await render(request, "review/bulk.html", {
        "items": ready, "held": len(items) - len(ready), "filter": chosen, "error": error, "result": result,
        "mask_id": mask_id_number, "max_bulk": bulk.MAX_BULK}, status_code=status_code)


@get("/review/bulk", guards=[REVIEWER])
async def bulk_confirm(request: Request, tenant: Tenant) -> Response:
    """The unflagged cases of the (filtered) queue, to approve with one confirmation."""
    return await _bulk_page(request, tenant)


@post("/review/bulk", guards=[REVIEWER])
async def bulk_approve(request: Request, tenant: Tenant, account: Account, hooks: Hooks) -> Response:
    form = await request.form()
    try:
        ids = bulk.parse_ids([v for v in form.getall("ids", []) if isinstance(v, str)])
        result = await bulk.approve_all(hooks, tenant, account, ids)
    except ReviewError as exc:
        return await _bulk_page(request, tenant, 400, error=str(exc))
    return await _bulk_page(request, tenant, result=result)


@get("/review/workload", guards=[OVERSEERS])
async def workload_page(request: Request, tenant: Tenant) -> Response:
    items = await services.queue(tenant)
    f = decisions.DecisionFilter.from_query(request.query_params)
    found = await decisions.find(tenant, f)
    loads = await workload.per_reviewer(tenant, f.days, items)
    return await render(request, "review/workload.html", {
        "loads": loads, "columns": workload.COLUMNS, "by_age": workload.open_by_age(items), "ages": workload.AGES,
        "periods": workload.PERIODS, "f": f, "found": found, "reviewers": [x.account for x in loads],
        "kinds": services.KINDS, "reasons": services.REASONS, "statuses": decisions.STATUSES,
        "mask_id": mask_id_number})


@get("/review/decisions.xlsx", guards=[OVERSEERS])
async def export_decisions(request: Request, tenant: Tenant, account: Account) -> Response:
    """审核记录: every decision 审核工作量 lists for the same query parameters."""
    f = decisions.DecisionFilter.from_query(request.query_params)
    found = await decisions.find(tenant, f, limit=MAX_ROWS)
    return await xlsx_response(tenant, account, "reviews", decisions.HEADERS, decisions.export_rows(tenant, found),
                               filters=f.query())


ROUTES = [bulk_confirm, bulk_approve, workload_page, export_decisions]
