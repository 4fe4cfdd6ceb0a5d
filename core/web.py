"""What every handler needs: the platform, the request's tenant and account, guards, rendering.

The tenant routers' first guard (``core.app``) fills ``request.state`` with the tenant, the base
URL and the signed-in account. Handlers ask for them by parameter name through Litestar's
dependency injection (``platform``, ``tenant``, ``account``, ``hooks``: see ``DEPENDENCIES``),
restrict themselves to roles with guards (``guards=[signed_in]``, ``guards=[roles("learner")]``)
and render pages with ``render()``.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Mapping
from typing import Any

from litestar import Request, Response
from litestar.connection import ASGIConnection
from litestar.di import Provide
from litestar.exceptions import NotFoundException
from litestar.handlers import BaseRouteHandler
from litestar.response import Redirect
from litestar.utils.scope.state import ScopeState

from core.accounts.tables import Account
from core.capabilities import offered_links
from core.hookcalls import Hooks, collect
from core.kernel import Platform
from core.tenancy import Tenant
from core.values import ROLE_LABELS, MenuLink  # noqa: F401  (MenuLink: part of this module's API)


CSRF_COOKIE = "csrftoken"  # Litestar's CSRF cookie (double submit); sessions bind to it
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
VIA_HOST = "xs_via_host"  # scope key: the tenant came from the host name, links have no prefix


class SigninRequired(Exception):
    def __init__(self, message: str = "") -> None:
        super().__init__(message)
        self.message = message


class PasswordChangeRequired(Exception):
    """A signed-in account with an initial password asked for another page."""


def platform_of(request: ASGIConnection) -> Platform:
    return request.app.state.platform


def _state(connection: ASGIConnection) -> dict[str, Any]:
    """The dict behind ``connection.state`` (which builds a new ``State``, with its own lock, on
    each access: ~2 µs, several times a page)."""
    return connection.scope.setdefault("state", {})  # type: ignore[typeddict-item]


def tenant_of(request: ASGIConnection) -> Tenant:
    tenant = _state(request).get("tenant")
    if tenant is None:
        raise NotFoundException()
    return tenant


def account_of(request: ASGIConnection) -> Account | None:
    return _state(request).get("account")


# --- guards -------------------------------------------------------------------------------------


# Guards are coroutines: Litestar runs a plain function guard in a worker thread
# (``ensure_async_callable``), a thread hop on every request for a dictionary look-up.


async def signed_in(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    """Guard: any signed-in account of the request's tenant."""
    if account_of(connection) is None:
        raise SigninRequired()


def roles(*allowed: str):
    """Guard factory: a signed-in account holding one of ``allowed`` roles. Other roles get 404,
    so pages of other roles are not revealed."""

    async def guard(connection: ASGIConnection, _: BaseRouteHandler) -> None:
        account = account_of(connection)
        if account is None:
            raise SigninRequired()
        if account.role not in allowed:
            raise NotFoundException()

    guard.__name__ = f"roles_{'_'.join(allowed)}"
    return guard


# --- dependencies (by parameter name) -----------------------------------------------------------


# Each provider names the one before it (platform → tenant → account → hooks), though it reads
# ``request.state``: Litestar resolves dependencies of the same depth together in an anyio task
# group, which cost a handler asking for two of them ~80 µs a request, twice a bare handler's
# whole cost; one after another they cost a few µs each.


def _provide_platform(request: Request) -> Platform:
    return platform_of(request)


def _provide_tenant(request: Request, platform: Platform) -> Tenant:
    return tenant_of(request)


def _provide_account(request: Request, tenant: Tenant) -> Account | None:
    return account_of(request)


def _provide_hooks(platform: Platform, tenant: Tenant, account: Account | None) -> Hooks:
    return platform.hooks(tenant)


def dependencies() -> dict[str, Any]:
    """Litestar ``Provide`` objects for the app: ``platform``, ``tenant``, ``account``, ``hooks``."""
    return {
        "platform": Provide(_provide_platform, sync_to_thread=False),
        "tenant": Provide(_provide_tenant, sync_to_thread=False),
        "account": Provide(_provide_account, sync_to_thread=False),
        "hooks": Provide(_provide_hooks, sync_to_thread=False),
    }


def base_of(request: Request) -> str:
    return _state(request).get("base", "")


async def form_fields(request: Request) -> dict[str, str]:
    """The posted form's text fields, trimmed (files left out)."""
    form = await request.form()
    return {k: v.strip() for k, v in form.items() if isinstance(v, str)}


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


TOO_MANY_LOOKUPS = "操作过于频繁，请稍后再试"


async def lookup_allowed(request: Request, *scope: str) -> bool:
    """Count one look-up of personal data (does this ID number, mobile or company exist?) for
    the client address (and ``scope``, e.g. an account); whether it is within the hourly limit.
    Atomic: the decision is made on the count the increment returned."""
    counter = platform_of(request).counters["lookup_client"]
    return await counter.hit(tenant_of(request).slug, client_address(request), *scope) <= counter.limit


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


class _Result:
    """An awaited helper in the context: the template calls it as before and gets its result."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __call__(self) -> Any:
        return self.value


def _not_awaited(name: str):
    def helper(*_: Any, **__: Any) -> Any:
        raise RuntimeError(f"template helper {name}() called, but render() found no template of the page "
                           "naming it, so did not await it")

    return helper


async def _await_helpers(p: Platform, slug: str | None, template: str, ctx: dict[str, Any]) -> None:
    """Templates render synchronously (``core.templating``), so an async function without
    arguments in the context (a lazy helper such as a plugin's ``extra_template_vars``) is awaited
    here, and only when the page's templates name it: other pages never run it."""
    helpers = [k for k, v in ctx.items() if callable(v) and inspect.iscoroutinefunction(v)]
    if not helpers:
        return
    used = p.templates.names_used(slug, template)
    wanted = [k for k in helpers if used is None or k in used]
    if len(wanted) == 1:  # (gather would wrap it in a task)
        results = [await ctx[wanted[0]]()]
    else:
        results = await asyncio.gather(*(ctx[k]() for k in wanted))
    for k in helpers:
        ctx[k] = _not_awaited(k)
    for k, value in zip(wanted, results):
        ctx[k] = _Result(value)


async def menu_for(hooks: Hooks, tenant: Tenant, account: Account) -> list[MenuLink]:
    """``account``'s menu: every plugin's ``menu_links`` for its role and of a flow the tenant
    offers, less the ``href``s any ``menu_hidden`` implementation hides, in ``order``."""
    hidden = set(await collect(hooks.menu_hidden, tenant=tenant, account=account))
    links = offered_links(tenant, await collect(hooks.menu_links, tenant=tenant, account=account))
    return sorted((m for m in links if (not m.roles or account.role in m.roles) and m.href not in hidden),
                  key=lambda m: m.order)


async def render(request: Request, template: str, context: Mapping[str, Any] | None = None, /, *,
                 status_code: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    """The page ``template`` with ``context`` (its variables, one mapping) over the common ones
    (tenant, account, menu, CSRF token …). The template's variables travel in that one mapping and
    the response's status and HTTP headers are keyword-only, so no template variable can be taken
    for an argument of ``render`` (a variable named ``headers`` once became the HTTP headers)."""
    p = platform_of(request)
    state = _state(request)
    tenant: Tenant | None = state.get("tenant")
    account = account_of(request)
    ctx: dict[str, Any] = {
        "request": request,
        "tenant": tenant,
        "tenants": list(p.tenants),
        "account": account,
        "role_label": (tenant.role_labels if tenant else ROLE_LABELS).get(account.role, "") if account else "",
        "base": base_of(request),
        "csrf_token": ScopeState.from_scope(request.scope).csrf_token or "",
        "lang": state.get("lang", "zh_CN"),
        "htmx": is_htmx(request),
        "menu": [],
        "css_urls": [],
    }
    slug = tenant.slug if tenant else None
    if tenant is not None:
        hooks = p.hooks(tenant)
        # The menu and the plugins' CSS only for a template that shows them (not for an htmx
        # fragment such as the exam's autosave answer).
        used = p.templates.names_used(slug, template)
        if account is not None and (used is None or "menu" in used):  # anonymous: no menu
            ctx["menu"] = await menu_for(hooks, tenant, account)
        if used is None or "css_urls" in used:
            ctx["css_urls"] = await collect(hooks.extra_css_urls, tenant=tenant)
        for extra in await collect(hooks.extra_template_vars, request=request, tenant=tenant):
            ctx.update(extra)
    ctx.update(context or {})
    await _await_helpers(p, slug, template, ctx)
    html = p.templates.env_for(slug, ctx["lang"]).get_template(template).render(ctx)
    response = Response(content=html, media_type="text/html", status_code=status_code, headers=headers)
    if request.query_params.get("lang") == ctx["lang"]:  # a language switch is remembered
        response.set_cookie("xs_lang", ctx["lang"], max_age=365 * 86400, samesite="lax", path="/")
    return response
