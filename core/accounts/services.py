"""Creating accounts (used by the CLI, the demo and tenant plugins)."""

from __future__ import annotations

from core.accounts.passwords import hash_password_async
from core.accounts.sessions import Sessions
from core.accounts.tables import Account
from core.db.scoped import scoped
from core.tenancy import Tenant


async def upsert_account(
    tenant: Tenant | None,
    *,
    role: str,
    password: str,
    real_name: str = "",
    id_number: str | None = None,
    mobile: str | None = None,
    username: str | None = None,
    must_change_password: bool = False,
    enterprise_id: int | None = None,
    sessions: Sessions | None = None,
) -> Account:
    """Create the account identified by id number, mobile or username, or reset it.

    Resetting an existing account's password ends its sessions when ``sessions`` (the platform's)
    is given; every caller that has a platform passes it."""
    if role not in (tenant.roles if tenant else ("operator",)):
        raise ValueError(f"unknown role {role!r}{f' in tenant {tenant.slug!r}' if tenant else ''}")
    query = scoped(Account, tenant).objects() if tenant else \
        Account.objects().where(Account.tenant.is_null())  # platform operators have no tenant
    if id_number:
        query = query.where(Account.id_number == id_number)
    elif mobile:
        query = query.where(Account.mobile == mobile)
    elif username:
        query = query.where(Account.username == username)
    else:
        raise ValueError("an account needs an id number, a mobile or a username")
    account = await query.first() or (scoped(Account, tenant).new() if tenant else Account(tenant=None))
    account.role = role
    account.real_name = real_name
    account.id_number = id_number
    account.mobile = mobile
    account.username = username
    account.password_hash = await hash_password_async(password)
    account.must_change_password = must_change_password
    account.enterprise = enterprise_id
    account.active = True
    await account.save()
    if sessions is not None:
        await sessions.end_all(account.id)
    return account
