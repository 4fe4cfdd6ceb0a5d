"""Error answers: HTML pages in the tenant's theme for every status (404, 405, 413, 403, other
4xx, 500, and 503 while Redis is unreachable), JSON only for a client that asked for it. They are
written in Chinese and shown in the visitor's language (the tenant's, or the one picked): English
from the tenant's catalogue for an English tenant such as Acme.

Litestar's own answers are English JSON (``{"status_code":500,"detail":"Internal Server Error"}``);
``HANDLERS`` replaces them all: by exception class, with ``HTTPException`` for the statuses not
named and ``Exception`` for anything a handler did not expect.
"""

from __future__ import annotations

import html
import inspect
import json
import logging
from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException, MethodNotAllowedException, NotFoundException, PermissionDeniedException
from litestar.exceptions.http_exceptions import RequestEntityTooLarge
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from core.files.limits import MAX_UPLOAD_BYTES
from core.files.storage import StorageUnavailable
from core.i18n import DEFAULT_LANGUAGE, pick_language
from core.themes import static_url
from core.web import VIA_HOST, is_htmx, platform_of

FAVICON = "/static/core/favicon.svg"
RETRY_AFTER_SECONDS = 30  # what a 503 asks a client to wait before trying again
BUSY = "系统繁忙，请稍等片刻后刷新页面再试。"
_AGAIN = "请返回上一页，重新拍摄或选择较小的照片，或分几次上传；手机拍摄的照片可直接上传，系统会自动缩小。"
TOO_LARGE = "本页一次最多可上传 %(size)s MB（所选文件合计），每张照片不超过 %(photo)s MB。" + _AGAIN
TOO_LARGE_UNKNOWN = "本页一次可上传的文件有上限（所选文件合计），每张照片不超过 %(photo)s MB。" + _AGAIN
log = logging.getLogger("xueshi.app")


def wants_json(request: Request) -> bool:
    """The client asked for JSON rather than a page (``Accept: application/json``, no HTML)."""
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def _page_tenant(request: Request) -> tuple[Any, str]:
    """The tenant of an error page and its base URL: set by ``resolve_request`` when it ran, else
    read from the routed path (a 404 for an unknown path never reaches the tenant's guard)."""
    tenant = request.state.get("tenant")
    if tenant is not None:
        return tenant, request.state.get("base", "")
    path = request.scope.get("path", "")
    if path.startswith("/t/"):
        tenant = platform_of(request).tenants.get(path[3:].split("/", 1)[0])
    if tenant is None:
        return None, ""
    return tenant, "" if request.scope.get(VIA_HOST) else f"/t/{tenant.slug}"


def _tenant_css(request: Request, tenant: Any) -> list[str]:
    """The tenant's stylesheets: its theme's tokens and the plugins' plain-``def`` extra CSS (an
    exception handler cannot await, so async implementations are left out)."""
    urls = [static_url(tenant.spec.theme, "tokens.css")]
    for result in platform_of(request).hooks(tenant).extra_css_urls(tenant=tenant):
        if inspect.iscoroutine(result):
            result.close()
        elif result:
            urls.extend(result)
    return urls


def _translator(request: Request, tenant: Any) -> tuple[str, Any]:
    """The page's language (as ``resolve_request`` picked it, else the tenant's unless the visitor
    picked one) and its catalogue lookup."""
    lang = request.state.get("lang") or pick_language(
        request.cookies.get("xs_lang"), request.query_params.get("lang"),
        tenant.spec.language if tenant else DEFAULT_LANGUAGE)
    return lang, platform_of(request).templates.gettext_for(tenant.slug if tenant else None, lang)


def error_page(request: Request, status_code: int, heading: str, message: str,
               headers: dict[str, str] | None = None, **variables: Any) -> Response:
    """An error page in the tenant's theme, with its header (logo and name) and footer, in plain
    HTML: exception handlers are synchronous in Litestar, so not a template. ``heading`` and
    ``message`` are Chinese msgids (``message`` formatted with ``variables`` after translation),
    shown in the visitor's language. Everything shown is escaped here; htmx requests get a
    fragment for the widget that asked, a client that asked for JSON (``Accept``) gets
    ``{"status_code", "detail"}`` with the same message."""
    tenant, base = _page_tenant(request)
    lang, _ = _translator(request, tenant)
    heading, message = _(heading), _(message) % variables
    if wants_json(request):
        return Response(content={"status_code": status_code, "detail": message}, status_code=status_code,
                        media_type="application/json", headers=headers)
    if is_htmx(request):
        return Response(content=f'<p class="error" role="alert">{html.escape(message)}</p>',
                        status_code=status_code, media_type="text/html", headers=headers)
    e = html.escape
    name = e(tenant.name) if tenant else "学时培训平台"
    css = ["/static/core/css/app.css", *(_tenant_css(request, tenant) if tenant else [])]
    links = "".join(f'<link rel="stylesheet" href="{e(url)}">' for url in css)
    logo = (f'<img class="logo" src="{e(static_url(tenant.spec.theme, "logo.svg"))}" alt="">'
            if tenant else "")
    body = (
        f'<!doctype html><html lang="{"zh-CN" if lang == DEFAULT_LANGUAGE else e(lang)}"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<link rel="icon" href="{FAVICON}" type="image/svg+xml">{links}'
        f"<title>{e(heading)} · {name}</title></head><body>"
        f'<header class="site-header"><div class="bar"><a class="brand" href="{e(base)}/">{logo}'
        f'<span class="brand-name">{name}</span></a></div></header>'
        f'<main class="container"><section class="card narrow"><h1>{e(heading)}</h1>'
        f"<p>{e(message)}</p>"
        f'<p><a href="{e(base)}/">{e(_("返回首页"))}</a></p></section></main>'
        f'<footer class="site-footer"><p>{name}</p></footer></body></html>'
    )
    return Response(content=body, status_code=status_code, media_type="text/html", headers=headers)


def _not_found(request: Request, exc: Exception) -> Response:
    if isinstance(exc, FileNotFoundError):  # a stored file gone from disk (purged, or lost): logged
        log.warning("stored file missing on %s %s: %s", request.method, request.url.path, exc.strerror or exc)
    return error_page(request, 404, "页面不存在", "您要找的内容不存在或您无权查看。")


def _too_large(request: Request, exc: Exception) -> Response:
    """A body over the route's ``request_max_body_size`` (Litestar answered with English JSON)."""
    try:
        limit = request.route_handler.resolve_request_max_body_size()
    except Exception:  # noqa: BLE001  (no route resolved: the app-wide default)
        limit = None
    photo = MAX_UPLOAD_BYTES // (1024 * 1024)
    if not limit:
        return error_page(request, 413, "上传的文件太大", TOO_LARGE_UNKNOWN, photo=photo)
    return error_page(request, 413, "上传的文件太大", TOO_LARGE, size=f"{limit / (1024 * 1024):.0f}", photo=photo)


def _method_not_allowed(request: Request, exc: MethodNotAllowedException) -> Response:
    return error_page(request, 405, "不支持该操作", "此页面不支持这种访问方式，请从页面上的按钮或链接进入。",
                      headers=exc.headers)


def _forbidden(request: Request, exc: PermissionDeniedException) -> Response:
    """Refused: mostly a form whose CSRF token no longer matches the session (the page was open
    across a sign-out, or in another browser)."""
    return error_page(request, 403, "无法完成操作", "页面已过期或您无权执行此操作，请刷新页面后重试。")


def _client_error(request: Request, exc: HTTPException) -> Response:
    """Any other refusal Litestar raises (a malformed parameter: 400, …), in Chinese."""
    if exc.status_code == 503:
        return _busy(request, exc)
    if exc.status_code >= 500:
        return _server_error(request, exc)
    return error_page(request, exc.status_code, "请求有误", "请求的内容不完整或格式不正确，请返回上一页重新操作。",
                      headers=exc.headers)


def _busy(request: Request, exc: Exception) -> Response:
    """Redis (sessions, counters, locks, jobs) or the file bucket unreachable, or a 503 raised: ``Retry-After``,
    and no cookie is touched, so nobody is signed out."""
    log.warning("service unavailable on %s %s: %s", request.method, request.url.path, exc)
    return error_page(request, 503, "系统繁忙", BUSY,
                      headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


async def send_busy_json(scope: dict, send: Any, exc: Exception) -> None:
    """The busy answer where no request object exists yet (the heartbeat's fast path in front of
    the app, ``core.app.XueshiApp``): 503 JSON with ``Retry-After``."""
    log.warning("service unavailable on %s %s: %s", scope.get("method"), scope.get("path"), exc)
    body = json.dumps({"status_code": 503, "detail": BUSY}, ensure_ascii=False).encode()
    await send({"type": "http.response.start", "status": 503, "headers": [
        (b"content-type", b"application/json"), (b"retry-after", str(RETRY_AFTER_SECONDS).encode()),
        (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def _server_error(request: Request, exc: Exception) -> Response:
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_page(request, 500, "系统出错了", "服务器处理您的请求时出错，我们已记录此问题。请稍后再试，或返回首页。")


HANDLERS: dict[Any, Any] = {
    NotFoundException: _not_found, FileNotFoundError: _not_found, RequestEntityTooLarge: _too_large,
    MethodNotAllowedException: _method_not_allowed, PermissionDeniedException: _forbidden,
    HTTPException: _client_error, RedisConnectionError: _busy, RedisTimeoutError: _busy, StorageUnavailable: _busy,
    Exception: _server_error,
}
