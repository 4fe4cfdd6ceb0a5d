"""What every handler needs: the platform object, the request's tenant and account, rendering.

Handlers get the request's tenant and signed-in account from ``request.state`` (filled by
``before_request`` on the tenant routers) and render pages with ``render()``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from litestar import Request, Response
from litestar.exceptions import NotFoundException
from litestar.response import Redirect
from litestar.stores.base import Store
from litestar.utils.scope.state import ScopeState

from core.accounts.sessions import Sessions
from core.accounts.tables import Account
from core.files.storage import LocalStorage
from core.limits import Counter
from core.plugins import PluginHost, collect
from core.settings import Settings
from core.templating import Templates
from core.tenancy import Tenant, TenantDirectory

ROLE_LABELS = {
    "operator": "平台运营",
    "tenant_admin": "机构管理员",
    "reviewer": "审核员",
    "enterprise_admin": "企业管理员",
    "learner": "学员",
}


@dataclass(frozen=True)
class MenuLink:
    label: str
    href: str  # relative to the tenant's base, e.g. "/inbox"
    roles: tuple[str, ...] = ()  # empty: everyone signed in
    order: int = 100


@dataclass
class Platform:
    """Everything one app instance owns; stored at ``app.state.platform``."""

    settings: Settings
    plugins: PluginHost
    tenants: TenantDirectory
    templates: Templates
    store: Store
    sessions: Sessions
    storage: LocalStorage
    counters: dict[str, Counter] = field(default_factory=dict)

    def hooks(self, tenant: Tenant):
        return self.plugins.hooks_for(tenant.slug)


class SigninRequired(Exception):
    def __init__(self, message: str = "") -> None:
        super().__init__(message)
        self.message = message


def platform_of(request: Request) -> Platform:
    return request.app.state.platform


def tenant_of(request: Request) -> Tenant:
    tenant = request.state.get("tenant")
    if tenant is None:
        raise NotFoundException()
    return tenant


def account_of(request: Request) -> Account | None:
    return request.state.get("account")


def base_of(request: Request) -> str:
    return request.state.get("base", "")


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def require(request: Request, *roles: str) -> Account:
    """The signed-in account, which must hold one of ``roles`` (any role when none given)."""
    account = account_of(request)
    if account is None:
        raise SigninRequired()
    if roles and account.role not in roles:
        raise NotFoundException()  # do not reveal pages of other roles
    return account


def redirect(request: Request, path: str) -> Response:
    """Redirect within the tenant; htmx requests get ``HX-Redirect`` instead of a 302."""
    url = base_of(request) + path
    if is_htmx(request):
        return Response(content="", headers={"HX-Redirect": url})
    return Redirect(path=url, status_code=303)


async def render(
    request: Request, template: str, status_code: int = 200, headers: dict | None = None, **context: Any
) -> Response:
    p = platform_of(request)
    tenant: Tenant | None = request.state.get("tenant")
    account = account_of(request)
    ctx: dict[str, Any] = {
        "request": request,
        "tenant": tenant,
        "tenants": list(p.tenants),
        "account": account,
        "role_label": ROLE_LABELS.get(account.role, "") if account else "",
        "base": base_of(request),
        "csrf_token": ScopeState.from_scope(request.scope).csrf_token or "",
        "lang": request.state.get("lang", "zh_CN"),
        "htmx": is_htmx(request),
        "menu": [],
        "css_urls": [],
    }
    if tenant is not None:
        hooks = p.hooks(tenant)
        links = await collect(hooks.menu_links, tenant=tenant, account=account)
        if account is not None:
            links = [m for m in links if not m.roles or account.role in m.roles]
            ctx["menu"] = sorted(links, key=lambda m: m.order)
        ctx["css_urls"] = await collect(hooks.extra_css_urls, tenant=tenant)
        for extra in await collect(hooks.extra_template_vars, request=request, tenant=tenant):
            ctx.update(extra)
    ctx.update(context)
    env = p.templates.env_for(tenant.slug if tenant else None, ctx["lang"])
    html = await env.get_template(template).render_async(ctx)
    response = Response(content=html, media_type="text/html", status_code=status_code, headers=headers)
    if request.query_params.get("lang") == ctx["lang"]:  # a language switch is remembered
        response.set_cookie("xs_lang", ctx["lang"], max_age=365 * 86400, samesite="lax", path="/")
    return response
