"""Sign-in methods. Tenant plugins choose theirs through the ``signin_methods`` hook.

Every method answers a failure with one generic message (no hint whether the account exists),
counts failures per identifier, and locks the identifier after ``lockout_failures`` in a row.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.accounts.passwords import verify_password
from core.accounts.smscodes import CodeError, check_code
from core.accounts.tables import Account
from core.identity import InvalidIdentity, normalize_id_number, normalize_mobile
from core.tenancy import Tenant


class SigninFailed(Exception):
    def __init__(self, message: str, field: str = "", counts: bool = True) -> None:
        super().__init__(message)
        self.message, self.field, self.counts = message, field, counts


@dataclass(frozen=True)
class Field:
    name: str
    label: str
    type: str = "text"
    placeholder: str = ""
    autocomplete: str = "off"


@dataclass(frozen=True)
class SigninMethod:
    """Base class: ``key`` appears in the URL (``/signin/<key>``), never personal data."""

    key: str
    label: str

    @property
    def fields(self) -> tuple[Field, ...]:
        raise NotImplementedError

    @property
    def sends_sms_code(self) -> bool:
        return False

    def identifier(self, form: dict[str, str]) -> str:
        """What failures are counted against (normalised when valid, raw otherwise)."""
        raise NotImplementedError

    async def authenticate(self, tenant: Tenant, form: dict[str, str], secret: str) -> Account:
        raise NotImplementedError


async def _find(tenant: Tenant, **where: str) -> Account | None:
    query = Account.objects().where(Account.tenant == tenant.id).where(Account.active == True)  # noqa: E712
    for column, value in where.items():
        query = query.where(getattr(Account, column) == value)
    return await query.first()


WRONG = "账号或密码错误"


@dataclass(frozen=True)
class IdNumberPassword(SigninMethod):
    key: str = "id"
    label: str = "身份证号登录"

    @property
    def fields(self) -> tuple[Field, ...]:
        return (
            Field("id_number", "身份证号", placeholder="18位身份证号", autocomplete="username"),
            Field("password", "密码", "password", autocomplete="current-password"),
        )

    def identifier(self, form: dict[str, str]) -> str:
        raw = form.get("id_number", "").strip().upper()
        try:
            return normalize_id_number(raw)
        except InvalidIdentity:
            return raw

    async def authenticate(self, tenant: Tenant, form: dict[str, str], secret: str) -> Account:
        try:
            id_number = normalize_id_number(form.get("id_number", ""))
        except InvalidIdentity as exc:
            raise SigninFailed(str(exc), "id_number", counts=False) from None
        account = await _find(tenant, id_number=id_number)
        if not verify_password(account.password_hash if account else None, form.get("password", "")):
            raise SigninFailed(WRONG, "password")
        return account


@dataclass(frozen=True)
class MobilePassword(SigninMethod):
    key: str = "mobile"
    label: str = "手机号密码登录"

    @property
    def fields(self) -> tuple[Field, ...]:
        return (
            Field("mobile", "手机号", "tel", "11位手机号", "username"),
            Field("password", "密码", "password", autocomplete="current-password"),
        )

    def identifier(self, form: dict[str, str]) -> str:
        try:
            return normalize_mobile(form.get("mobile", ""))
        except InvalidIdentity:
            return form.get("mobile", "").strip()

    async def authenticate(self, tenant: Tenant, form: dict[str, str], secret: str) -> Account:
        try:
            mobile = normalize_mobile(form.get("mobile", ""))
        except InvalidIdentity as exc:
            raise SigninFailed(str(exc), "mobile", counts=False) from None
        account = await _find(tenant, mobile=mobile)
        if not verify_password(account.password_hash if account else None, form.get("password", "")):
            raise SigninFailed(WRONG, "password")
        return account


@dataclass(frozen=True)
class MobileSmsCode(MobilePassword):
    key: str = "sms"
    label: str = "短信验证码登录"

    @property
    def fields(self) -> tuple[Field, ...]:
        return (
            Field("mobile", "手机号", "tel", "11位手机号", "username"),
            Field("code", "短信验证码", "text", "6位数字", "one-time-code"),
        )

    @property
    def sends_sms_code(self) -> bool:
        return True

    async def authenticate(self, tenant: Tenant, form: dict[str, str], secret: str) -> Account:
        try:
            mobile = normalize_mobile(form.get("mobile", ""))
        except InvalidIdentity as exc:
            raise SigninFailed(str(exc), "mobile", counts=False) from None
        try:
            await check_code(tenant=tenant, mobile=mobile, purpose="signin", code=form.get("code", ""), secret=secret)
        except CodeError as exc:
            raise SigninFailed(str(exc), "code") from None
        account = await _find(tenant, mobile=mobile)
        if account is None:
            raise SigninFailed("该手机号尚未注册，请先注册", "mobile", counts=False)
        return account
