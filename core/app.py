"""create_app(settings, plugins=…) -> Litestar: the composition root."""

from __future__ import annotations

import html
import logging

from pathlib import Path
from typing import Any

from litestar import Litestar, Request, Response, Router
from litestar.config.csrf import CSRFConfig
from litestar.exceptions import NotFoundException
from litestar.response import Redirect
from litestar.static_files import create_static_files_router
from litestar.stores.base import Store
from litestar.stores.file import FileStore

from core import db
from core.accounts import controllers as accounts
from core.accounts.sessions import Sessions
from core.accounts.tables import Account
from core.files.storage import LocalStorage
from core.i18n import pick_language
from core.limits import Counter
from core.notify import controllers as notify
from core.platform_admin import router as platform_admin_router
from core.proctoring import controllers as proctoring
from core.plugins import PluginHost, make_plugin_host
from core.settings import Settings
from core.templating import THEMES_DIR, Templates
from core.tenants.services import directory, load_tenants, sync_tenants
from core.web import Platform, SigninRequired, is_htmx, platform_of

CORE_STATIC = Path(__file__).parent / "static"
# Pages a signed-in account with an initial password may still reach.
PASSWORD_CHANGE_ALLOWED = ("/password", "/signout")


def _store(settings: Settings) -> Store:
    if settings.redis_url:
        from litestar.stores.redis import RedisStore

        return RedisStore.with_client(url=settings.redis_url, namespace="xueshi")
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    return FileStore(settings.var_dir / "store", create_directories=True)


async def _before_request(request: Request) -> Response | None:
    """Find the tenant (path prefix or host), the language and the signed-in account."""
    p = platform_of(request)
    slug = request.path_params.get("tenant_slug")
    by_host = p.tenants.from_host(request.headers.get("host"))
    if slug is not None:
        tenant = p.tenants.get(slug)
        if tenant is None or (by_host is not None and by_host is not tenant):
            raise NotFoundException()
        request.state.base = f"/t/{slug}"
    else:
        tenant = by_host
        request.state.base = ""
        if tenant is None and request.route_handler.name != "home":
            raise NotFoundException()
    owner = request.route_handler.opt.get("tenant")
    if owner is not None and (tenant is None or tenant.slug != owner):
        raise NotFoundException()  # a tenant plugin's page, asked for under another tenant
    request.state.tenant = tenant
    request.state.lang = pick_language(request.cookies.get("xs_lang"), request.query_params.get("lang"))
    request.state.account = None
    if tenant is None:
        return None
    cookie = p.sessions.cookie_name(tenant.slug)
    session = await p.sessions.load(request.cookies.get(cookie), tenant.slug)
    if session is None:
        return None
    if session.expired:
        if request.method == "GET" and request.url.path.endswith(("/signin", "/")):
            return None
        raise SigninRequired("expired")
    account = await Account.objects().where(
        (Account.id == session.account_id) & (Account.tenant == tenant.id) & (Account.active == True)  # noqa: E712
    ).first()
    request.state.account = account
    if account is not None and account.must_change_password:
        path = request.url.path[len(request.state.base):] or "/"
        if not path.startswith(PASSWORD_CHANGE_ALLOWED):
            target = f"{request.state.base}/password?first=1"
            if is_htmx(request):  # a plain redirect would be swapped into the widget
                return Response(content="", headers={"HX-Redirect": target})
            return Redirect(path=target, status_code=303)
    return None


def _signin_redirect(request: Request, exc: SigninRequired) -> Response:
    base = request.state.get("base", "")
    url = f"{base}/signin" + ("?expired=1" if exc.message == "expired" else "")
    if is_htmx(request):
        return Response(content="", status_code=200, headers={"HX-Redirect": url})
    response = Redirect(path=url, status_code=303)
    tenant = request.state.get("tenant")
    if exc.message == "expired" and tenant is not None:
        response.delete_cookie(platform_of(request).sessions.cookie_name(tenant.slug), path="/")
    return response


def _not_found(request: Request, exc: Exception) -> Response:
    """Exception handlers are synchronous in Litestar, so this page is plain HTML, not a template."""
    tenant = request.state.get("tenant")
    base = request.state.get("base", "")
    title = html.escape(tenant.name) if tenant else "学时培训平台"
    body = (
        f'<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<link rel="stylesheet" href="/static/core/css/app.css"><title>页面不存在</title></head>'
        f'<body><main class="container"><section class="card narrow"><h1>页面不存在</h1>'
        f"<p>您要找的内容不存在或您无权查看。（{title}）</p>"
        f'<a href="{html.escape(base)}/">返回首页</a></section></main></body></html>'
    )
    return Response(content=body, status_code=404, media_type="text/html")


def _tenant_routers(host: PluginHost, handlers: list[Any]) -> list[Router]:
    """The same pages under /t/<slug>/ and at the root (tenant from the host name)."""
    routers = []
    owned: dict[str | None, list[Any]] = {None: list(handlers)}
    for impl in host.pm.hook.register_routes.get_hookimpls():
        routes = impl.function() or []
        owner = host.owner_tenant(impl.plugin)
        owned.setdefault(owner, []).extend(routes)
    for owner, routes in owned.items():
        if not routes:
            continue
        opt = {"tenant": owner} if owner else {}
        for path in ("/t/{tenant_slug:str}", "/"):
            routers.append(Router(path=path, route_handlers=routes, before_request=_before_request, opt=opt))
    return routers


def _static_routers(host: PluginHost) -> list[Router]:
    routers = [
        create_static_files_router(path="/static/core", directories=[CORE_STATIC], name="static_core"),
        create_static_files_router(path="/static/themes", directories=[THEMES_DIR], name="static_themes"),
    ]
    for name, folder in [pair for impl in host.pm.hook.static_dirs.get_hookimpls() for pair in impl.function()]:
        routers.append(create_static_files_router(path=f"/static/plugins/{name}", directories=[folder],
                                                  name=f"static_{name}"))
    return routers


def create_app(settings: Settings | None = None, plugins: list[object] = (), *, sync: bool = True) -> Litestar:
    settings = settings or Settings.from_env()
    # The SQLite driver logs SQL parameters (ID numbers, mobiles) at DEBUG: never let it.
    logging.getLogger("aiosqlite").setLevel(logging.WARNING)
    db.configure(settings.database_url)
    host = make_plugin_host(plugins, load_entrypoints=settings.load_entrypoints)
    tenants = load_tenants(host)
    tenant_dirs = {
        t.slug: [d for impl in host.pm.hook.template_dirs.get_hookimpls()
                 if impl.plugin is host.plugin_of(t.slug) for d in (impl.function() or [])]
        for t in tenants
    }
    shared_dirs = [d for impl in host.pm.hook.template_dirs.get_hookimpls()
                   if host.owner_tenant(impl.plugin) is None for d in (impl.function() or [])]
    store = _store(settings)
    platform = Platform(
        settings=settings,
        plugins=host,
        tenants=directory(tenants),
        templates=Templates(tenant_dirs, shared_dirs, {t.slug: t.spec.theme for t in tenants}),
        store=store,
        sessions=Sessions(store, idle=settings.session_idle_seconds, absolute=settings.session_absolute_seconds),
        storage=LocalStorage(settings.storage_dir),
        counters={
            "signin_failures": Counter(store, "signin-fail", settings.lockout_failures, settings.lockout_seconds),
            "signin_client": Counter(store, "signin-client", settings.signin_rate_per_minute, 60),
            "sms_mobile": Counter(store, "sms-mobile", 5, 3600),
            "sms_client": Counter(store, "sms-client", 20, 3600),
        },
    )

    async def on_startup(app: Litestar) -> None:
        if sync:
            await db.migrate()
            await sync_tenants(host, tenants)
        else:
            for tenant in tenants:  # ids only; onboarding is the CLI's job then
                from core.tenants.tables import TenantRow

                row = await TenantRow.objects().where(TenantRow.slug == tenant.slug).first()
                tenant.id = row.id if row else None

    handlers = [*accounts.ROUTES, *notify.ROUTES, *proctoring.ROUTES]
    app = Litestar(
        route_handlers=[*_static_routers(host), platform_admin_router(), *_tenant_routers(host, handlers)],
        on_startup=[on_startup],
        csrf_config=CSRFConfig(secret=settings.secret_key, cookie_httponly=False, cookie_secure=settings.cookie_secure),
        exception_handlers={SigninRequired: _signin_redirect, NotFoundException: _not_found},
        debug=settings.debug,
        openapi_config=None,
    )
    app.state.platform = platform
    return app
