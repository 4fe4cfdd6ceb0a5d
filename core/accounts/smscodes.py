"""One-time SMS codes: six digits, hashed at rest (the outbox keeps the message with the code
masked), expire, single use, limited per number and per address.

Limits hold under concurrency: the per-number and per-address counters are incremented before
anything is sent and the decision is made on the returned count; each verification first counts
its attempt with one ``UPDATE … SET attempts = attempts + 1 … RETURNING`` that succeeds only
while attempts are left, and a right code is consumed by an ``UPDATE`` that only one request can
win.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets

from core.accounts.tables import Account, SmsCode
from core.db.scoped import scoped
from core.limits import Counter
from core.notify.services import Secret, send
from core.plugins import Hooks
from core.tenancy import Tenant
from core.web import client_address, platform_of, tenant_of

MAX_ATTEMPTS = 5


class CodeError(ValueError):
    """Message for the user, next to the code field."""


def _hash(secret: str, mobile: str, code: str) -> str:
    return hmac.new(secret.encode(), f"{mobile}:{code}".encode(), hashlib.sha256).hexdigest()


async def issue_code(
    *,
    hooks: Hooks,
    tenant: Tenant,
    mobile: str,
    purpose: str,
    client: str,
    secret: str,
    per_mobile: Counter,
    per_client: Counter,
    account: Account | None = None,
    counted: bool = False,
) -> str:
    """Create a code and send it by SMS. Returns the code (the caller never shows it).
    ``counted``: the caller already counted this request (``count_request``)."""
    if not counted:
        await count_request(tenant=tenant, client=client, per_client=per_client, mobile=mobile,
                            per_mobile=per_mobile)
    code = f"{secrets.randbelow(10**6):06d}"
    ttl = tenant.rules.signin.sms_code_ttl_seconds
    now = dt.datetime.now(dt.UTC)
    # A new code voids the earlier unused ones for the same purpose.
    await scoped(SmsCode, tenant).update({SmsCode.used_at: now}).where(
        (SmsCode.mobile == mobile)
        & (SmsCode.purpose == purpose)
        & SmsCode.used_at.is_null()
    )
    await SmsCode.insert(
        scoped(SmsCode, tenant).new(
            mobile=mobile,
            purpose=purpose,
            code_hash=_hash(secret, mobile, code),
            client=client[:64],
            expires_at=now + dt.timedelta(seconds=ttl),
        )
    )
    recipient = account or Account(tenant=tenant.id, mobile=mobile, real_name="")
    recipient.mobile = mobile
    # Secret: the channel gets the code, the stored outbox row and the 短信记录 page do not.
    await send(hooks, tenant, recipient, "sms_code", channels=("sms",), code=Secret(code), minutes=ttl // 60)
    return code


async def count_request(*, tenant: Tenant, client: str, per_client: Counter, mobile: str | None = None,
                        per_mobile: Counter | None = None) -> None:
    """Count one request for a code against the per-address and (given a mobile) per-number
    limits, whether or not a code will be sent: callers that send only to registered numbers
    count every request the same way, so the limits' answers tell nothing about the number."""
    rules = tenant.rules.signin
    # Hit, then check: concurrent requests each get their own count.
    if await per_client.hit(tenant.slug, client) > rules.sms_codes_per_address_per_hour:
        raise CodeError("获取验证码过于频繁，请稍后再试")
    if mobile is not None and per_mobile is not None:
        if await per_mobile.hit(tenant.slug, mobile) > rules.sms_codes_per_mobile_per_hour:
            raise CodeError("该手机号获取验证码过于频繁，请 1 小时后再试")


async def check_code(*, tenant: Tenant, mobile: str, purpose: str, code: str, secret: str) -> None:
    """Consume a valid code or raise CodeError."""
    code = (code or "").strip()
    if not code:
        raise CodeError("请输入短信验证码")
    row = (
        await scoped(SmsCode, tenant).objects()
        .where(
            (SmsCode.mobile == mobile)
            & (SmsCode.purpose == purpose)
            & SmsCode.used_at.is_null()
        )
        .order_by(SmsCode.id, ascending=False)
        .first()
    )
    if row is None:
        raise CodeError("请先获取短信验证码")
    now = dt.datetime.now(dt.UTC)
    expires = row.expires_at if row.expires_at.tzinfo else row.expires_at.replace(tzinfo=dt.UTC)
    if expires < now:
        raise CodeError("验证码已过期，请重新获取")
    # Count this attempt before evaluating it; no row comes back once the attempts are used up
    # (or another request consumed the code), so at most MAX_ATTEMPTS evaluations ever happen.
    codes = scoped(SmsCode, tenant)
    counted = await codes.update({SmsCode.attempts: SmsCode.attempts + 1}).where(
        (SmsCode.id == row.id) & SmsCode.used_at.is_null() & (SmsCode.attempts < MAX_ATTEMPTS)
    ).returning(SmsCode.attempts)
    if not counted:
        raise CodeError("验证码错误次数过多，请重新获取")
    if not _matches(row.code_hash, secret, mobile, code):
        raise CodeError("验证码不正确")
    consumed = await codes.update({SmsCode.used_at: now}).where(
        (SmsCode.id == row.id) & SmsCode.used_at.is_null()
    ).returning(SmsCode.id)
    if not consumed:  # a simultaneous request with the same code won
        raise CodeError("验证码已使用，请重新获取")


def _matches(code_hash: str, secret: str, mobile: str, code: str) -> bool:
    return hmac.compare_digest(code_hash, _hash(secret, mobile, code))


async def count_code_request(request, mobile: str | None = None) -> None:
    """``count_request`` for a web request (its tenant, address and counters)."""
    p = platform_of(request)
    await count_request(tenant=tenant_of(request), client=client_address(request),
                        per_client=p.counters["sms_client"], mobile=mobile, per_mobile=p.counters["sms_mobile"])


async def send_code(request, mobile: str, purpose: str, account: Account | None = None, *,
                    counted: bool = False) -> str:
    """``issue_code`` for a web request: the request's tenant, address, secret and counters.
    ``counted``: ``count_code_request`` already counted this request."""
    p = platform_of(request)
    tenant = tenant_of(request)
    return await issue_code(
        hooks=p.hooks(tenant),
        tenant=tenant,
        mobile=mobile,
        purpose=purpose,
        client=client_address(request),
        secret=p.settings.secret_key,
        per_mobile=p.counters["sms_mobile"],
        per_client=p.counters["sms_client"],
        account=account,
        counted=counted,
    )
