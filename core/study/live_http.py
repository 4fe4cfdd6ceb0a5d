"""The heartbeat's fast path over HTTP (``core.study.live``), in front of the web app.

``XueshiApp`` hands every ``POST …/study/beat`` here first when live study is on. The request is
answered from Redis when the beat is an ordinary one of a signed-in learner's active session with
a valid CSRF token; otherwise (no or another session, a bad token, anything the Lua script leaves
to the database) the body is handed on unread to the web app, whose ``/study/beat`` handler
answers as it always did. Either way the answer is the same JSON.
"""

from __future__ import annotations

import functools
import hmac
import logging
from typing import Any
from urllib.parse import parse_qsl

import msgspec
from litestar.middleware.csrf import CSRF_SECRET_LENGTH, generate_csrf_hash

from core.accounts.sessions import csrf_digest
from core.proctoring.snapshots import capture
from core.study import beats, credit, live_state, services
from core.study.live import Answer, Live
from core.web import CSRF_COOKIE

log = logging.getLogger("xueshi.study")
MAX_BODY = 4096
HEADERS = [(b"content-type", b"application/json"), (b"cache-control", b"no-store")]


def _replay(body: bytes, receive: Any):
    sent = False

    async def again() -> dict:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return again


def _cookies(header: str) -> dict[str, str]:
    """name → value of a Cookie header (our cookies' values are URL-safe tokens, never quoted)."""
    out = {}
    for part in header.split(";"):
        name, eq, value = part.strip().partition("=")
        if eq and name not in out:
            out[name] = value
    return out


@functools.lru_cache(maxsize=4096)
def _csrf_ok(secret: str, token: str | None, cookie: str | None) -> bool:
    """Litestar's double-submit check: both are our tokens (HMAC) and carry the same secret.
    (A pure function of its arguments: a learner's beats repeat the same pair, kept per process.)"""
    if not token or not cookie or len(token) <= CSRF_SECRET_LENGTH or len(cookie) <= CSRF_SECRET_LENGTH:
        return False
    for value in (token, cookie):
        if not hmac.compare_digest(value[CSRF_SECRET_LENGTH:], generate_csrf_hash(value[:CSRF_SECRET_LENGTH], secret)):
            return False
    return hmac.compare_digest(token[:CSRF_SECRET_LENGTH], cookie[:CSRF_SECRET_LENGTH])


def answer(tenant: Any, a: Answer) -> dict[str, Any]:
    """The JSON of a fast beat: ``beats.credited_answer`` of the script's figures."""
    d = credit.Decision(a.seconds, a.claimed, a.reason, False, a.position, a.furthest, 0.0)
    extra = {"capture": capture(tenant, a.ticket, a.within)} if a.ticket else {}
    return beats.credited_answer(tenant, d, a.enrollment_credited, a.needed, a.lesson_credited, a.completed,
                                 not a.studying, a.status == "review", **extra)


async def handle(live: Live, platform: Any, slug: str, scope: dict, receive: Any, send: Any):
    """Answer the beat from Redis and return None, or return the ``receive`` the web app must
    read the (already read) request from."""
    body, more = b"", True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
        if len(body) > MAX_BODY:
            break
    rest = _replay(body, receive)
    tenant = platform.tenants.get(slug)
    if tenant is None or len(body) > MAX_BODY:
        return rest
    headers = {k.lower(): v for k, v in scope.get("headers", ())}
    by_host = platform.tenants.from_host(headers.get(b"host", b"").decode("latin-1"))
    if by_host is not None and by_host is not tenant:
        return rest
    if not headers.get(b"content-type", b"").startswith(b"application/x-www-form-urlencoded"):
        return rest
    cookies = _cookies(headers.get(b"cookie", b"").decode("latin-1"))
    sid = cookies.get(platform.sessions.cookie_name(slug))
    csrf_cookie = cookies.get(CSRF_COOKIE)
    form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    token = headers.get(b"x-csrftoken", b"").decode("latin-1") or form.get("_csrf_token")
    if sid is None or csrf_cookie is None or len(sid) > 100 or not _csrf_ok(
            platform.settings.secret_key, token, csrf_cookie):
        return rest
    digest = csrf_digest(csrf_cookie)
    now = services.server_time()
    day = services.tenant_day(tenant, now)
    r = await live.beat(tenant, sid, digest, form, now, day)
    if isinstance(r, tuple) and r[0] == "missing":
        if await live_state.hydrate(live, tenant, int(r[1]), form.get("token", "")[:64]):
            r = await live.beat(tenant, sid, digest, form, now, day)
    if isinstance(r, tuple):
        log.debug("heartbeat left to the database path: %s", r[0])
        return rest
    if not live.background:
        await live.flush_learner(tenant, r.account)
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": msgspec.json.encode(answer(tenant, r))})
    return None
