"""Sign-in methods. Tenant plugins choose theirs through the ``signin_methods`` hook.

Every method answers a failure with one generic message (no hint whether the account exists).
The sign-in handler wraps ``authenticate`` in ``core.accounts.lockout`` (rate limit per address,
attempt counted before evaluation, lockout after ``lockout_failures`` in a row).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from core.accounts.passwords import verify_password_async
from core.accounts.smscodes import CodeError, check_code
from core.accounts.tables import Account
from core.db.scoped import scoped
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
    query = scoped(Account, tenant).objects(Account.active == True)  # noqa: E712
    for column, value in where.items():
        query = query.where(getattr(Account, column) == value)
    return await query.first()


WRONG = "账号或密码错误"


@dataclass(frozen=True)
class _IdentifierPassword(SigninMethod):
    """Identifier + password. Subclasses name the identifier field and its normaliser."""

    field_name: ClassVar[str]
    identifier_field: ClassVar[Field]

    @staticmethod
    def normalize(raw: str) -> str:
        raise NotImplementedError

    @property
    def fields(self) -> tuple[Field, ...]:
        return (self.identifier_field, Field("password", "密码", "password", autocomplete="current-password"))

    def identifier(self, form: dict[str, str]) -> str:
        raw = form.get(self.field_name, "").strip()
        try:
            return self.normalize(raw)
        except InvalidIdentity:
            return raw.upper()

    def clean_identifier(self, form: dict[str, str]) -> str:
        try:
            return self.normalize(form.get(self.field_name, ""))
        except InvalidIdentity as exc:
            raise SigninFailed(str(exc), self.field_name, counts=False) from None

    async def authenticate(self, tenant: Tenant, form: dict[str, str], secret: str) -> Account:
        account = await _find(tenant, **{self.field_name: self.clean_identifier(form)})
        if not await verify_password_async(account.password_hash if account else None, form.get("password", "")):
            raise SigninFailed(WRONG, "password")
        return account


@dataclass(frozen=True)
class IdNumberPassword(_IdentifierPassword):
    key: str = "id"
    label: str = "身份证号登录"
    field_name: ClassVar[str] = "id_number"
    identifier_field: ClassVar[Field] = Field("id_number", "身份证号", placeholder="18位身份证号",
                                              autocomplete="username")
    normalize = staticmethod(normalize_id_number)


@dataclass(frozen=True)
class MobilePassword(_IdentifierPassword):
    key: str = "mobile"
    label: str = "手机号密码登录"
    field_name: ClassVar[str] = "mobile"
    identifier_field: ClassVar[Field] = Field("mobile", "手机号", "tel", "11位手机号", "username")
    normalize = staticmethod(normalize_mobile)


@dataclass(frozen=True)
class MobileSmsCode(MobilePassword):
    key: str = "sms"
    label: str = "短信验证码登录"

    @property
    def fields(self) -> tuple[Field, ...]:
        return (self.identifier_field, Field("code", "短信验证码", "text", "6位数字", "one-time-code"))

    @property
    def sends_sms_code(self) -> bool:
        return True

    async def authenticate(self, tenant: Tenant, form: dict[str, str], secret: str) -> Account:
        mobile = self.clean_identifier(form)
        try:
            await check_code(tenant=tenant, mobile=mobile, purpose="signin", code=form.get("code", ""), secret=secret)
        except CodeError as exc:
            raise SigninFailed(str(exc), "code") from None
        account = await _find(tenant, mobile=mobile)
        if account is None:
            raise SigninFailed("该手机号尚未注册，请先注册", "mobile", counts=False)
        return account
