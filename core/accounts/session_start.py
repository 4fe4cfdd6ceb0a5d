"""Starting a signed-in session: one place that rotates the session id and sets the cookie."""

from __future__ import annotations

from litestar import Request, Response

from core.accounts.tables import Account
from core.web import CSRF_COOKIE, platform_of, redirect, tenant_of


async def start_session(request: Request, account: Account, target: str = "/me") -> Response:
    """Destroy the request's old session (no fixation), create a new one for ``account`` and
    answer with a redirect to ``target`` (tenant-relative) carrying the new cookie."""
    p = platform_of(request)
    tenant = tenant_of(request)
    cookie = p.sessions.cookie_name(tenant.slug)
    old = request.cookies.get(cookie)
    if old:
        await p.sessions.destroy(old)
    sid = await p.sessions.create(account.id, tenant.slug, request.cookies.get(CSRF_COOKIE))
    request.state.account = account
    response = redirect(request, target)
    response.set_cookie(cookie, sid, httponly=True, samesite="lax", secure=p.settings.cookie_secure, path="/")
    return response
