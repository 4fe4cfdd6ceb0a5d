"""Platform operator: sign-in with username and password, the list of tenants, every job.

These pages belong to no tenant: the session lives under its own cookie and scope
(``_platform``), and only active accounts with role ``operator`` and no tenant may use it.
"""

from __future__ import annotations

from litestar import Request, Response, Router, get, post
from litestar.response import Redirect
from piccolo.query.functions.aggregate import Count

from core.accounts import lockout
from core.accounts.tables import Account
from core.audit.services import record
from core.jobs.controllers import STATUS_LABELS
from core.jobs.records import OPEN
from core.jobs.tables import JobRun
from core.dashboards.pages import shown
from core.dashboards.platform import panels as dashboard_figures
from core.tenants.tables import TenantRow
from core.web import CSRF_COOKIE, SAFE_METHODS, client_address, platform_of, render

SCOPE = "_platform"
WRONG = "用户名或密码错误"


def _cookie(request: Request) -> str:
    return platform_of(request).sessions.cookie_name(SCOPE)


async def _operator(request: Request) -> Account | None:
    p = platform_of(request)
    session = await p.sessions.load(request.cookies.get(_cookie(request)), SCOPE)
    if session is None or session.expired:
        return None
    if request.method not in SAFE_METHODS and not session.csrf_matches(request.cookies.get(CSRF_COOKIE)):
        return None
    account = await p.sessions.kept(session, None, lambda: Account.objects().where(
        (Account.id == session.account_id) & Account.tenant.is_null()).first())
    return account if account is not None and account.role == "operator" and account.active else None


async def _page(request: Request, status_code: int = 200, **ctx) -> Response:
    ctx.setdefault("errors", {})
    ctx.setdefault("form", {})
    return await render(request, "platform_signin.html", {**ctx}, status_code=status_code)


@get("/signin")
async def signin_page(request: Request) -> Response:
    return await _page(request)


@post("/signin")
async def signin_submit(request: Request) -> Response:
    p = platform_of(request)
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    username = form.get("username", "").strip()
    shown = {"username": username}
    if not username:
        return await _page(request, 400, errors={"username": "请输入用户名"}, form=shown)
    account = await Account.objects().where(
        Account.tenant.is_null() & (Account.role == "operator") & (Account.username == username)
        & (Account.active == True)  # noqa: E712
    ).first()
    try:
        await lockout.check_password(p, scope=SCOPE, who=username, client=client_address(request),
                                     password_hash=account.password_hash if account else None,
                                     password=form.get("password", ""), wrong=WRONG)
    except lockout.Refused as exc:
        return await _page(request, 429, errors={"_": exc.message}, form=shown)
    except lockout.WrongPassword as exc:
        if exc.left == 0:
            await record("platform.signin.locked", tenant_id=None)
            return await _page(request, 429, errors={"_": exc.message}, form=shown)
        return await _page(request, 400, errors={"password": exc.message}, form=shown)
    old = request.cookies.get(_cookie(request))
    if old:
        await p.sessions.destroy(old)
    sid = await p.sessions.create(account.id, SCOPE, request.cookies.get(CSRF_COOKIE))
    await record("platform.signin", tenant_id=None, actor_id=account.id)
    response = Redirect(path="/platform/", status_code=303)
    response.set_cookie(_cookie(request), sid, httponly=True, samesite="lax", secure=p.settings.cookie_secure,
                        path="/platform")
    return response


@post("/signout")
async def signout(request: Request) -> Response:
    sid = request.cookies.get(_cookie(request))
    if sid:
        await platform_of(request).sessions.destroy(sid)
    response = Redirect(path="/platform/signin", status_code=303)
    response.delete_cookie(_cookie(request), path="/platform")
    return response


@get("/")
async def tenants_page(request: Request) -> Response:
    operator = await _operator(request)
    if operator is None:
        return Redirect(path="/platform/signin", status_code=303)
    counts = {
        row["tenant"]: row["count"]
        for row in await Account.select(Account.tenant, Count(Account.id, alias="count"))
        .where(Account.tenant.is_not_null())
        .group_by(Account.tenant)
    }
    declared = {t.slug: t for t in platform_of(request).tenants}
    no_gateway = {t.slug for t in await platform_of(request).tenants_without_sms_gateway()}
    rows = [
        {"slug": r.slug, "name": r.name, "hosts": r.hosts, "active": r.active, "accounts": counts.get(r.id, 0),
         "declared": r.slug in declared, "sms_recorded_only": r.slug in no_gateway}
        for r in await TenantRow.objects().order_by(TenantRow.id)
    ]
    return await render(request, "platform_tenants.html", {"rows": rows, "operator": operator})


@get("/jobs")
async def jobs_page(request: Request) -> Response:
    """后台任务 of every tenant and the platform's own (cron): progress, attempts and failures."""
    operator = await _operator(request)
    if operator is None:
        return Redirect(path="/platform/signin", status_code=303)
    status = request.query_params.get("status", "")
    query = JobRun.objects().order_by(JobRun.id, ascending=False).limit(200)
    if status in STATUS_LABELS:
        query = query.where(JobRun.status == status)
    rows = await query
    counts = {r["status"]: r["count"] for r in
              await JobRun.select(JobRun.status, Count(JobRun.id, alias="count")).group_by(JobRun.status)}
    slugs = {r["id"]: r["slug"] for r in await TenantRow.select(TenantRow.id, TenantRow.slug)}
    poll = f"/platform/jobs?status={status}" if status else "/platform/jobs"
    template = "jobs/_runs.html" if request.headers.get("hx-request") else "platform_jobs.html"
    return await render(request, template,
                        {"rows": rows, "counts": counts, "labels": STATUS_LABELS, "operator": operator,
                         "busy": any(r.status in OPEN for r in rows), "poll": poll, "show_tenant": True,
                         "tenant_slugs": slugs, "status": status})


@get("/dashboard")
async def dashboard_page(request: Request) -> Response:
    """数据看板 of the platform: tenants side by side, SMS, the job queue (core.dashboards.platform)."""
    operator = await _operator(request)
    if operator is None:
        return Redirect(path="/platform/signin", status_code=303)
    p = platform_of(request)
    panels, queue = await dashboard_figures([t for t in p.tenants if t.id is not None])
    return await render(request, "dashboards/platform.html", {
        "operator": operator, "queue": queue, "panels": await shown(request, panels)})


def router() -> Router:
    return Router(path="/platform", route_handlers=[signin_page, signin_submit, signout, tenants_page, jobs_page,
                                                    dashboard_page])
