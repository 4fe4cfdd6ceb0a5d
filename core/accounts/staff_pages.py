"""账号管理 pages (tenant admins only): staff accounts, and a learner's password reset and
name / position correction. The work is in ``core.accounts.staff``; every id is read through
``scoped`` (another tenant's account → 404) and every form carries the CSRF token."""

from __future__ import annotations

from litestar import Request, Response, get, post
from litestar.exceptions import NotFoundException

from core.accounts import staff
from core.accounts.controllers import methods_for
from core.accounts.staff import StaffError, StaffForm
from core.accounts.tables import Account
from core.db.scoped import scoped
from core.hookcalls import Hooks
from core.identity import InvalidIdentity, normalize_id_number, normalize_mobile
from core.kernel import Platform
from core.roster.tables import LearnerProfile
from core.tenancy import Tenant
from core.web import form_fields, redirect, render, roles

ADMIN = [roles("tenant_admin")]
IDENTIFIERS = ("id_number", "mobile")
MAX_FOUND = 50
NOTICES = {"created": "账号已创建，初始密码须在首次登录时修改。", "saved": "已保存。",
           "deactivated": "账号已停用，该账号的登录已全部失效。", "reactivated": "账号已启用。",
           "reset": "密码已重置为本机构的初始密码，学员下次登录时须修改。", "corrected": "已更正，并记入审计日志。"}


async def signin_identifiers(platform: Platform, tenant: Tenant) -> set[str]:
    """The identifiers the tenant's sign-in methods ask for (a staff account needs one of them)."""
    return {f.name for m in await methods_for(platform, tenant) for f in m.fields if f.name in IDENTIFIERS}


async def _index(request: Request, platform: Platform, tenant: Tenant, status_code: int = 200,
                 errors: dict | None = None, form: dict | None = None) -> Response:
    return await render(request, "staff/index.html", {
        "staff": await staff.list_staff(tenant), "roles": staff.staff_roles(tenant), "role_labels": tenant.role_labels,
        "reviewers": await staff.active_count(tenant, "reviewer"),
        "needs": await signin_identifiers(platform, tenant), "errors": errors or {}, "form": form or {},
        "notice": NOTICES.get(request.query_params.get("done", ""), ""),
    }, status_code=status_code)


@get("/admin/staff", guards=ADMIN)
async def staff_index(request: Request, platform: Platform, tenant: Tenant) -> Response:
    return await _index(request, platform, tenant)


@post("/admin/staff", guards=ADMIN)
async def staff_create(request: Request, platform: Platform, tenant: Tenant, hooks: Hooks,
                       account: Account) -> Response:
    form = await form_fields(request)
    try:
        await staff.create_staff(hooks, tenant, account.id, StaffForm(
            real_name=form.get("real_name", ""), role=form.get("role", ""), id_number=form.get("id_number", ""),
            mobile=form.get("mobile", ""), password=form.get("password", "")),
            await signin_identifiers(platform, tenant))
    except StaffError as exc:
        kept = {k: v for k, v in form.items() if k != "password"}
        return await _index(request, platform, tenant, 400, {exc.field: exc.message}, kept)
    return redirect(request, "/admin/staff?done=created")


async def _edit(request: Request, tenant: Tenant, member: Account, status_code: int = 200,
                errors: dict | None = None) -> Response:
    return await render(request, "staff/edit.html", {
        "member": member, "roles": staff.staff_roles(tenant), "role_labels": tenant.role_labels, "errors": errors or {},
        "notice": NOTICES.get(request.query_params.get("done", ""), ""),
    }, status_code=status_code)


async def _member(tenant: Tenant, account_id: int) -> Account:
    member = await staff.staff_account(tenant, account_id)
    if member is None:  # another tenant's account, a learner, or no account: alike
        raise NotFoundException()
    return member


@get("/admin/staff/{account_id:int}", guards=ADMIN)
async def staff_edit(request: Request, tenant: Tenant, account_id: int) -> Response:
    return await _edit(request, tenant, await _member(tenant, account_id))


@post("/admin/staff/{account_id:int}", guards=ADMIN)
async def staff_save(request: Request, tenant: Tenant, account: Account, account_id: int) -> Response:
    member = await _member(tenant, account_id)
    form = await form_fields(request)
    try:
        await staff.update_staff(tenant, account, member, form.get("real_name", ""), form.get("role", ""))
    except StaffError as exc:
        return await _edit(request, tenant, member, 400, {exc.field: exc.message})
    return redirect(request, f"/admin/staff/{member.id}?done=saved")


@post("/admin/staff/{account_id:int}/active", guards=ADMIN)
async def staff_active(request: Request, platform: Platform, tenant: Tenant, account: Account,
                       account_id: int) -> Response:
    member = await _member(tenant, account_id)
    active = (await form_fields(request)).get("active") == "1"
    try:
        await staff.set_active(tenant, platform.sessions, account, member, active)
    except StaffError as exc:
        return await _edit(request, tenant, member, 400, {exc.field: exc.message})
    return redirect(request, f"/admin/staff/{member.id}?done={'reactivated' if active else 'deactivated'}")


# --- learner accounts -----------------------------------------------------------------------------


async def find_learners(tenant: Tenant, q: str) -> list[Account]:
    """Learners by exact ID number or mobile, else by a part of the name."""
    learners = scoped(Account, tenant).objects(Account.role == "learner")
    for normalize, column in ((normalize_id_number, Account.id_number), (normalize_mobile, Account.mobile)):
        try:
            return await learners.where(column == normalize(q)).limit(MAX_FOUND)
        except InvalidIdentity:
            continue
    return await learners.where(Account.real_name.like(f"%{q}%")).order_by(Account.id).limit(MAX_FOUND)


@get("/admin/staff/learners", guards=ADMIN)
async def learner_search(request: Request, tenant: Tenant) -> Response:
    q = (request.query_params.get("q") or "").strip()[:100]
    return await render(request, "staff/learners.html",
                        {"q": q, "found": await find_learners(tenant, q) if q else [], "max_found": MAX_FOUND})


async def _learner(request: Request, tenant: Tenant, learner: Account, status_code: int = 200,
                   errors: dict | None = None) -> Response:
    profile = await scoped(LearnerProfile, tenant).objects(LearnerProfile.account == learner.id).first()
    return await render(request, "staff/learner.html", {
        "learner": learner, "position": profile.position if profile else "",
        "positions": await staff.position_names(tenant), "errors": errors or {},
        "can_reset": bool(tenant.rules.signin.initial_password),
        "notice": NOTICES.get(request.query_params.get("done", ""), ""),
    }, status_code=status_code)


async def _learner_or_404(tenant: Tenant, account_id: int) -> Account:
    return await scoped(Account, tenant).get_or_404(account_id, Account.role == "learner")


@get("/admin/staff/learners/{account_id:int}", guards=ADMIN)
async def learner_account(request: Request, tenant: Tenant, account_id: int) -> Response:
    return await _learner(request, tenant, await _learner_or_404(tenant, account_id))


@post("/admin/staff/learners/{account_id:int}/password", guards=ADMIN)
async def learner_reset(request: Request, platform: Platform, tenant: Tenant, account: Account,
                        account_id: int) -> Response:
    learner = await _learner_or_404(tenant, account_id)
    try:
        await staff.reset_learner_password(tenant, platform.sessions, account.id, learner)
    except StaffError as exc:
        return await _learner(request, tenant, learner, 400, {exc.field: exc.message})
    return redirect(request, f"/admin/staff/learners/{learner.id}?done=reset")


@post("/admin/staff/learners/{account_id:int}", guards=ADMIN)
async def learner_correct(request: Request, tenant: Tenant, account: Account, account_id: int) -> Response:
    learner = await _learner_or_404(tenant, account_id)
    form = await form_fields(request)
    try:
        await staff.correct_learner(tenant, account.id, learner, form.get("real_name", ""), form.get("position", ""))
    except StaffError as exc:
        return await _learner(request, tenant, learner, 400, {exc.field: exc.message})
    return redirect(request, f"/admin/staff/learners/{learner.id}?done=corrected")


ROUTES = [staff_index, staff_create, staff_edit, staff_save, staff_active, learner_search, learner_account,
          learner_reset, learner_correct]
