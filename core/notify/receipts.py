"""Delivery receipts pushed by an SMS provider: ``POST /t/<slug>/sms/receipts/<provider>``.

Neither Tencent's 短信下发状态通知 nor Alibaba's ``SmsReport`` HTTP push signs its request, so the
route asks for what a pushing HTTP client can carry outside the URL's path and query (which the
access log records): HTTP Basic credentials, user ``sms`` and the tenant's receipt token, written
into the callback URL's userinfo (``https://sms:<token>@host/t/<slug>/sms/receipts/tencent``).
The token is derived per tenant and provider from ``XUESHI_SMS_CALLBACK_SECRET`` (env only);
without that secret the route does not exist (404). A receipt with the right token still changes
only a "sent" text of this tenant whose provider id and mobile it matches, once: a forged id, a
second copy (a replay) or another tenant's text changes nothing (``apply_receipts``)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import os

from litestar import Request, Response, post
from litestar.exceptions import NotAuthorizedException, NotFoundException, ValidationException

from core.hookcalls import Hooks
from core.notify.gateway import SmsGateway, apply_receipts
from core.notify.services import provider_channel
from core.tenancy import Tenant

log = logging.getLogger("xueshi.sms.receipts")
SECRET_ENV = "XUESHI_SMS_CALLBACK_SECRET"
MAX_BODY = 256 * 1024  # a pushed batch is a few hundred receipts at most


def callback_token(slug: str, provider: str) -> str | None:
    """The tenant's receipt token for ``provider``; None when no secret is configured."""
    secret = os.environ.get(SECRET_ENV, "")
    if not secret:
        return None
    return hmac.new(secret.encode(), f"sms-receipts:{slug}:{provider}".encode(), hashlib.sha256).hexdigest()[:40]


def _authorized(header: str, token: str) -> bool:
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        user, _, given = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return False
    return hmac.compare_digest(f"{user}:{given}".encode(), f"sms:{token}".encode())


@post("/sms/receipts/{provider:str}", exclude_from_csrf=True, request_max_body_size=MAX_BODY, status_code=200)
async def sms_receipts(request: Request, tenant: Tenant, hooks: Hooks, provider: str) -> Response:
    token = callback_token(tenant.slug, provider)
    if token is None or tenant.rules.sms.provider != provider:
        raise NotFoundException()
    gateway = await provider_channel(hooks, tenant)
    if not isinstance(gateway, SmsGateway):
        raise NotFoundException()
    if not _authorized(request.headers.get("authorization", ""), token):
        log.warning("sms receipts refused for %s/%s: wrong or missing credentials", tenant.slug, provider)
        raise NotAuthorizedException(headers={"WWW-Authenticate": 'Basic realm="sms-receipts"'})
    try:
        receipts = gateway.read_callback(await request.body())
    except (ValueError, KeyError, TypeError, AttributeError):
        raise ValidationException("not a receipt batch") from None
    changed = await apply_receipts(tenant, receipts)
    log.info("sms receipts pushed for %s/%s: %d of %d applied", tenant.slug, provider, changed, len(receipts))
    return Response(gateway.callback_answer(), status_code=200)


ROUTES = [sms_receipts]
