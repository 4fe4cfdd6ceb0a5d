"""Studying without the camera over HTTP: the learner's request (a reason, one open request) and
its status, and the tenant admin's list of requests to approve or refuse (audited). Where the
tenant's rules do not allow the alternative (``face.allow_alternative``) every route answers 404."""

from __future__ import annotations

from litestar import Request, Response, get, post
from litestar.exceptions import NotFoundException

from core.accounts.tables import Account
from core.audit.services import record
from core.db.scoped import scoped
from core.proctoring import alternative as alternatives
from core.tenancy import Tenant
from core.web import redirect, render, roles

LEARNER = roles("learner")
ADMIN = roles("tenant_admin")


def _require(tenant: Tenant) -> None:
    if not alternatives.allowed(tenant):
        raise NotFoundException()


async def _learner_page(request: Request, tenant: Tenant, account: Account, *, errors: dict, reason: str = "",
                        status_code: int = 200) -> Response:
    current = await alternatives.latest(tenant, account.id)
    return await render(request, "proctoring/alternative.html",
                        {"current": current, "labels": alternatives.STATUS_LABELS, "errors": errors, "reason": reason,
                         "reason_max": alternatives.REASON_MAX}, status_code=status_code)


@get("/face/alternative", guards=[LEARNER])
async def alternative_page(request: Request, tenant: Tenant, account: Account) -> Response:
    _require(tenant)
    return await _learner_page(request, tenant, account, errors={})


@post("/face/alternative", guards=[LEARNER])
async def alternative_submit(request: Request, tenant: Tenant, account: Account) -> Response:
    _require(tenant)
    form = await request.form()
    reason, error = alternatives.check_reason(str(form.get("reason") or ""))
    if error:
        return await _learner_page(request, tenant, account, errors={"reason": error}, reason=reason[:2000],
                                   status_code=400)
    try:
        row = await alternatives.ask(tenant, account.id, reason)
    except alternatives.AlreadyOpen:
        return await _learner_page(request, tenant, account, status_code=409,
                                   errors={"reason": "您已有待审批或已批准的申请，无需重复提交"})
    await record("face.alternative_requested", tenant_id=tenant.id, actor_id=account.id,
                 object_type="face_alternative", object_id=row.id)
    return redirect(request, "/face/alternative")


@get("/admin/face-alternatives", guards=[ADMIN])
async def admin_page(request: Request, tenant: Tenant) -> Response:
    _require(tenant)
    pending, decided = await alternatives.listing(tenant)
    ids = {r.account for r in [*pending, *decided]}
    names = {a["id"]: a["real_name"] for a in await scoped(Account, tenant).select(
        Account.id, Account.real_name).where(Account.id.is_in(list(ids)))} if ids else {}
    return await render(request, "proctoring/alternative_admin.html",
                        {"pending": pending, "decided": decided, "names": names, "labels": alternatives.STATUS_LABELS})


@post("/admin/face-alternatives/{request_id:int}", guards=[ADMIN])
async def admin_decide(request: Request, tenant: Tenant, account: Account, request_id: int) -> Response:
    _require(tenant)
    await scoped(alternatives.FaceAlternative, tenant).get_or_404(request_id)  # another tenant's id: 404
    form = await request.form()
    decision = form.get("decision")
    if decision not in ("approve", "refuse"):  # only the page's two buttons: anything else changes nothing
        return redirect(request, "/admin/face-alternatives")
    row = await alternatives.decide(tenant, request_id, account.id, decision == "approve")
    if row is not None:
        await record(f"face.alternative_{row.status}", tenant_id=tenant.id, actor_id=account.id,
                     object_type="face_alternative", object_id=row.id, learner=row.account)
    return redirect(request, "/admin/face-alternatives")


ROUTES = [alternative_page, alternative_submit, admin_page, admin_decide]
