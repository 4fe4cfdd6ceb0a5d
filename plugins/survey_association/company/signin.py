"""Mobile + password sign-in that tells a company administrator whose company is not approved
yet "待审核" (or "未通过") instead of "账号或密码错误".

The administrator's account stays inactive until staff approve the company (``staff.py``), so the
core method finds no account and the typed password counted toward the lockout. Here the
waiting account's password is checked (once, like any sign-in); only when it is right is the
status told, and that attempt is not counted as a failure. A wrong password is the usual failure.
"""

from __future__ import annotations

from dataclasses import dataclass

from core import Account, Enterprise, MobilePassword, SigninFailed, Tenant, scoped
from core.accounts.passwords import verify_password_async
from core.accounts.signin import WRONG

WAITING = {
    "pending": "您的企业实名认证待审核，审核通过后即可登录；审核进度可在“企业管理员入口”查询",
    "rejected": "您的企业实名认证未通过，请在“企业管理员入口”查看原因并重新提交认证",
}


@dataclass(frozen=True)
class CompanyMobilePassword(MobilePassword):
    async def authenticate(self, tenant: Tenant, form: dict[str, str], secret: str) -> Account:
        mobile = self.clean_identifier(form)
        accounts = scoped(Account, tenant)
        account = await accounts.objects((Account.mobile == mobile) & (Account.active == True)).first()  # noqa: E712
        waiting = None
        if account is None:
            admin = await accounts.objects((Account.mobile == mobile) & (Account.role == "enterprise_admin")).first()
            if admin is not None and admin.enterprise:
                company = await scoped(Enterprise, tenant).get(admin.enterprise)
                if company is not None and company.status in WAITING:
                    account, waiting = admin, company.status
        if not await verify_password_async(account.password_hash if account else None, form.get("password", "")):
            raise SigninFailed(WRONG, "password")
        if waiting is not None:
            raise SigninFailed(WAITING[waiting], counts=False)
        return account
