"""Mobile + password sign-in that tells a company administrator whose company is not approved
yet "待审核" (or "未通过") instead of "账号或密码错误".

The administrator's account stays inactive until staff approve the company (``staff.py``), so the
core method finds no account and the typed password counted toward the lockout. Here the
waiting account's password is checked (once, like any sign-in); only when it is right is the
status told, and that attempt is not counted as a failure. A wrong password is the usual failure.
"""

from __future__ import annotations

from dataclasses import dataclass

from core import WRONG_CREDENTIALS as WRONG
from core import (
    Account,
    MobilePassword,
    MobileSmsCode,
    SigninFailed,
    Tenant,
    scoped,
    verify_password_async,
)
from plugins.survey_association.company import certification
from plugins.survey_association.roles import COMPANY_ADMIN

WAITING = {
    "pending": "您的企业实名认证待审核，审核通过后即可登录；审核进度可在“企业管理员入口”查询",
    "rejected": "您的企业实名认证未通过，请在“企业管理员入口”查看原因并重新提交认证",
}


async def waiting_admin(tenant: Tenant, mobile: str) -> tuple[Account | None, str]:
    """The inactive administrator of a company not approved yet with this mobile, and the
    company's status (pending / rejected); (None, "") otherwise."""
    admin = await scoped(Account, tenant).objects(
        (Account.mobile == mobile) & (Account.role == COMPANY_ADMIN) & (Account.active == False)  # noqa: E712
    ).first()
    if admin is None or not admin.enterprise:
        return None, ""
    applied = await certification.of_company(tenant, admin.enterprise)
    if applied is None or applied.status not in WAITING:
        return None, ""
    return admin, applied.status


@dataclass(frozen=True)
class CompanyMobilePassword(MobilePassword):
    async def authenticate(self, tenant: Tenant, form: dict[str, str], secret: str) -> Account:
        mobile = self.clean_identifier(form)
        account = await scoped(Account, tenant).objects(
            (Account.mobile == mobile) & (Account.active == True)).first()  # noqa: E712
        waiting = ""
        if account is None:
            account, waiting = await waiting_admin(tenant, mobile)
        if not await verify_password_async(account.password_hash if account else None, form.get("password", "")):
            raise SigninFailed(WRONG, "password")
        if waiting:
            raise SigninFailed(WAITING[waiting], counts=False)
        return account


@dataclass(frozen=True)
class CompanySmsCode(MobileSmsCode):
    """The SMS code proves the mobile; a waiting company's administrator is told 待审核, not
    "该手机号尚未注册"."""

    async def authenticate(self, tenant: Tenant, form: dict[str, str], secret: str) -> Account:
        try:
            return await super().authenticate(tenant, form, secret)
        except SigninFailed as failed:
            if failed.field != "mobile":  # the code was wrong or expired: the usual failure
                raise
            _admin, waiting = await waiting_admin(tenant, self.clean_identifier(form))
            if not waiting:
                raise
            raise SigninFailed(WAITING[waiting], counts=False) from None
