"""create_app(settings, plugins=…) -> Litestar: the web app, one consumer of the kernel.

Routing. Every tenant page lives under its tenant's literal ``/t/<slug>/``: the core's and global
plugins' pages under every tenant, a tenant plugin's pages under its own only, so two tenants may
use the same paths. A request by host name
(``survey.localhost/me``) is rewritten to its tenant's prefix before routing (``XueshiApp``) and
its links keep no prefix. The first guard of every tenant page (``resolve_request``) finds the
tenant, the language and the signed-in account; role guards and dependencies come from
``core.web``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from litestar import Litestar, Request, Response, Router, get
from litestar.config.csrf import CSRFConfig
from litestar.connection import ASGIConnection
from litestar.exceptions import NotFoundException, PermissionDeniedException
from litestar.handlers import BaseRouteHandler
from litestar.response import Redirect
from litestar.static_files import create_static_files_router
from litestar.types import Receive, Scope, Send
from redis.exceptions import RedisError

from core import errors
from core.accounts import controllers as accounts
from core.accounts import staff_pages
from core.capabilities import flow, mounted
from core.certificates import controllers as certificates
from core.courses import controllers as courses
from core.courses import edit_pages as course_edits
from core.courses import exports
from core.dashboards import pages as dashboards
from core.exams import controllers as exams
from core.i18n import pick_language
from core.kernel import Platform, build_platform
from core.notify import controllers as notify
from core.notify import receipts as sms_receipts
from core.jobs import controllers as jobs_controllers
from core.platform_admin import router as platform_admin_router
from core.plugins import PluginHost, collected
from core.profile import controllers as profile
from core.proctoring import controllers as proctoring
from core.settings import Settings
from core.study import controllers as study
from core.study import live_http
from core.audit import pages as audit_pages
from core.review import bulk_pages as review_bulk
from core.review import controllers as review
from core.web import (
    CSRF_COOKIE,
    SAFE_METHODS,
    VIA_HOST,
    PasswordChangeRequired,
    SigninRequired,
    dependencies,
    is_htmx,
    platform_of,
    render,
)

CORE_STATIC = Path(__file__).parent / "static"
# Pages a signed-in account with an initial password may still reach.
PASSWORD_CHANGE_ALLOWED = ("/password", "/signout")
UNPREFIXED = ("/static/", "/platform/", "/platform", "/t/")
BEAT_PATH = "/study/beat"


# Sent with every response (pages, files, errors). Scripts only from our own origin (htmx runs
# with allowEval off); inline styles stay allowed for the templates' small <style> blocks.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
       "media-src 'self' blob:; connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
       "frame-ancestors 'none'")
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(self), microphone=(), geolocation=()"),
]
HSTS = (b"strict-transport-security", b"max-age=31536000; includeSubDomains")


def security_headers(platform: Any) -> list[tuple[bytes, bytes]]:
    """The headers above for this deployment: a bucket's origin may serve media (signed URLs)."""
    origin = platform.storage.media_origin
    headers = SECURITY_HEADERS
    if origin:
        csp = CSP.replace("media-src 'self' blob:", f"media-src 'self' blob: {origin}")
        headers = [(b"content-security-policy", csp.encode()), *SECURITY_HEADERS[1:]]
    return [*headers, HSTS] if platform.settings.cookie_secure else headers


class XueshiApp(Litestar):
    """Litestar, plus the host-name rewrite that runs before routing and the security headers."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await super().__call__(scope, receive, send)
            return
        path = scope["path"]
        if not path.startswith(UNPREFIXED):
            tenant = self.state.platform.tenants.from_host(_host(scope))
            if tenant is not None:
                scope["path"] = f"/t/{tenant.slug}{path}"
                scope["raw_path"] = scope["path"].encode()
                scope[VIA_HOST] = True  # type: ignore[typeddict-unknown-key]
        extra = security_headers(self.state.platform)

        async def send_with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                names = {k.lower() for k, _ in message.get("headers", [])}
                message["headers"] = [*message.get("headers", []), *[h for h in extra if h[0] not in names]]
            await send(message)

        live = self.state.platform.live
        if live is not None and scope["method"] == "POST" and scope["path"].endswith(BEAT_PATH):
            slug = scope["path"][3:-len(BEAT_PATH)] if scope["path"].startswith("/t/") else ""
            tenant = self.state.platform.tenants.get(slug) if "/" not in slug else None
            if tenant is not None and tenant.offers("courses"):  # the heartbeat's fast path (core.study.live)
                try:
                    receive = await live_http.handle(live, self.state.platform, slug, scope, receive,
                                                     send_with_headers)
                except (RedisError, OSError) as exc:  # Redis (or live study's own socket to it) down,
                    # before any answer: the player keeps the beat and sends it again
                    await errors.send_busy_json(scope, send_with_headers, exc)
                    return
                if receive is None:
                    return
        await super().__call__(scope, receive, send_with_headers)


def _host(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"host":
            return value.decode("latin-1")
    return None


async def resolve_request(connection: ASGIConnection, handler: BaseRouteHandler) -> None:
    """First guard of every tenant page: tenant (prefix or host, which must agree), language,
    session and account; an initial password must be changed before anything else."""
    p = platform_of(connection)
    slug = handler.opt["tenant"]
    tenant = p.tenants.get(slug)
    by_host = p.tenants.from_host(connection.headers.get("host"))
    if tenant is None or (by_host is not None and by_host is not tenant):
        raise NotFoundException()
    state = connection.state
    state.tenant = tenant
    state.base = "" if connection.scope.get(VIA_HOST) else f"/t/{slug}"
    state.lang = pick_language(connection.cookies.get("xs_lang"), connection.query_params.get("lang"),
                               tenant.spec.language)
    state.account = None
    session = await p.sessions.load(connection.cookies.get(p.sessions.cookie_name(tenant.slug)), tenant.slug)
    if session is None:
        return
    path = connection.scope["path"][len(f"/t/{slug}"):] or "/"
    if connection.scope["method"] not in SAFE_METHODS and not session.csrf_matches(
            connection.cookies.get(CSRF_COOKIE)):
        raise PermissionDeniedException("CSRF token does not belong to this session")
    if session.expired:
        if connection.scope["method"] == "GET" and path in ("/", "/signin"):
            return
        raise SigninRequired("expired")
    account = await p.sessions.account(session, tenant)
    if account is not None and not account.active:  # disabled: as if signed out
        account = None
    state.account = account
    if account is not None and account.must_change_password and not path.startswith(PASSWORD_CHANGE_ALLOWED):
        raise PasswordChangeRequired()


def _to(request: Request, url: str) -> Response:
    if is_htmx(request):  # a plain redirect would be swapped into the widget
        return Response(content="", status_code=200, headers={"HX-Redirect": url})
    return Redirect(path=url, status_code=303)


def _signin_redirect(request: Request, exc: SigninRequired) -> Response:
    base = request.state.get("base", "")
    response = _to(request, f"{base}/signin" + ("?expired=1" if exc.message == "expired" else ""))
    tenant = request.state.get("tenant")
    if exc.message == "expired" and tenant is not None:
        response.delete_cookie(platform_of(request).sessions.cookie_name(tenant.slug), path="/")
    return response


def _password_redirect(request: Request, _: PasswordChangeRequired) -> Response:
    return _to(request, f"{request.state.get('base', '')}/password?first=1")


@get("/", name="platform_index")
async def platform_index(request: Request) -> Response:
    """The address without a tenant: the list of training centres."""
    request.state.tenant, request.state.base = None, ""
    request.state.lang = pick_language(request.cookies.get("xs_lang"), request.query_params.get("lang"))
    return await render(request, "platform_index.html")


def _tenant_routers(platform: Platform, handlers: list[Any]) -> list[Router]:
    """One router per tenant at its literal ``/t/<slug>``: the core's and global plugins' pages,
    plus the tenant plugin's own (which no other tenant has, and which may reuse its paths),
    less the pages of flows the tenant's rules switch off (core.capabilities)."""
    shared = list(handlers)
    owned: dict[str, list[Any]] = {}
    for owner, routes in platform.plugins.owned("register_routes"):
        (owned.setdefault(owner, []) if owner else shared).extend(routes)
    return [Router(path=f"/t/{t.slug}", route_handlers=mounted(t, [*shared, *owned.get(t.slug, [])]),
                   guards=[resolve_request], opt={"tenant": t.slug})
            for t in platform.tenants]


def core_pages() -> list[Any]:
    """The core's pages, each flow's marked with its flow (core.tenancy.FLOWS); the learner
    pages of 学员管理 belong to no flow."""
    learners = [courses.learners_page, courses.learners_template, courses.learners_upload, courses.learners_commit,
                courses.learner_page, courses.learner_mobile, exports.export_learners]
    hours = [certificates.hours_records, exports.export_progress]
    registry = [courses.learner_registry_resend, certificates.registry_create, certificates.registry_batch,
                certificates.registry_file, certificates.registry_result]
    placed = {*learners, *hours, *registry, *exports.ROUTES}
    return [
        *accounts.ROUTES, *staff_pages.ROUTES, *notify.ROUTES, *sms_receipts.ROUTES, *jobs_controllers.ROUTES,
        *profile.ROUTES, *learners,
        *audit_pages.ROUTES, *(h for h in dashboards.ROUTES if h is not dashboards.reviewer_dashboard),
        *flow("courses", [*(h for h in courses.ROUTES if h not in placed), *course_edits.ROUTES, *study.ROUTES, *hours]),
        *flow("proctoring", proctoring.ROUTES),
        *flow("review", [*review.ROUTES, *review_bulk.ROUTES, dashboards.reviewer_dashboard]),
        *flow("exams", [*exams.ROUTES, exports.export_exams]),
        *flow("certificates", [*(h for h in certificates.ROUTES if h not in placed), exports.export_certificates]),
        *flow("registry", registry),
    ]


def _static_routers(host: PluginHost, themes: dict[str, Path]) -> list[Router]:
    """The core's files, each theme's ``static/`` folder (the repository's and the plugins',
    ``core.themes``) and the plugins' ``static_dirs``."""
    routers = [create_static_files_router(path="/static/core", directories=[CORE_STATIC], name="static_core")]
    for name, folder in themes.items():
        routers.append(create_static_files_router(path=f"/static/themes/{name}/static", directories=[folder / "static"],
                                                  name=f"static_theme_{name}"))
    for name, folder in collected(host.pm, "static_dirs"):
        routers.append(create_static_files_router(path=f"/static/plugins/{name}", directories=[folder],
                                                  name=f"static_{name}"))
    return routers


def create_app(settings: Settings | None = None, plugins: list[object] = (), *,
               platform: Platform | None = None) -> Litestar:
    """The web app on ``platform`` (built from ``settings`` and ``plugins`` when not given).
    Its startup opens the pool and reads the tenants' ids; it never migrates."""
    platform = platform or build_platform(settings, plugins)
    host = platform.plugins

    async def start(app: Litestar) -> None:
        await app.state.platform.start()

    async def stop(app: Litestar) -> None:
        await app.state.platform.stop()

    app = XueshiApp(
        route_handlers=[*_static_routers(host, platform.themes), platform_admin_router(), platform_index,
                        *_tenant_routers(platform, core_pages())],
        dependencies=dependencies(),
        on_startup=[start],
        on_shutdown=[stop],
        csrf_config=CSRFConfig(secret=platform.settings.secret_key, cookie_httponly=False,
                               cookie_secure=platform.settings.cookie_secure),
        exception_handlers={SigninRequired: _signin_redirect, PasswordChangeRequired: _password_redirect,
                            **errors.HANDLERS},
        debug=platform.settings.debug,
        openapi_config=None,
    )
    app.state.platform = platform
    return app


def app_from_env() -> Litestar:
    """The app factory of ``xueshi serve --workers N``: each process builds its own."""
    return create_app(Settings.from_env())
