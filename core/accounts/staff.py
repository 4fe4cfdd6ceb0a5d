"""账号管理: a tenant admin's staff accounts and learner account corrections.

Staff (the roles of the tenant's ``staff.roles`` rule) are created with an initial password that
must be changed at first sign-in, renamed, given another role, deactivated and reactivated.
A learner's password is reset to the tenant's initial password (``signin.initial_password``)
with a forced change; a learner's name and position are corrected. Every change is audited;
deactivating an account or resetting its password ends its sessions at once (the session epoch of
``core.accounts.sessions``), and a deactivated account cannot sign in (sign-in and the request's
account lookup both ask for ``active``). The web pages (``core.accounts.staff_pages``) and the CLI
(``xueshi staff``) call these functions.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from core.accounts.passwords import hash_password_async
from core.accounts.sessions import Sessions
from core.accounts.tables import Account
from core.audit.services import record
from core.courses.tables import Position
from core.db.scoped import scoped
from core.hookcalls import Hooks
from core.identity import InvalidIdentity, normalize_id_number, normalize_mobile
from core.roster.tables import LearnerProfile
from core.tenancy import Tenant

MAX_NAME = 100


class StaffError(Exception):
    """A refused change; ``field`` names the form field, the message is Chinese."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field, self.message = field, message


@dataclass(frozen=True)
class StaffForm:
    real_name: str
    role: str
    id_number: str = ""
    mobile: str = ""
    password: str = ""


def staff_roles(tenant: Tenant) -> list[str]:
    return list(tenant.rules.staff.roles)


async def list_staff(tenant: Tenant) -> list[Account]:
    return await scoped(Account, tenant).objects(Account.role.is_in(staff_roles(tenant))).order_by(
        Account.role).order_by(Account.id)


async def active_count(tenant: Tenant, role: str) -> int:
    return await scoped(Account, tenant).count((Account.role == role) & (Account.active == True))  # noqa: E712


def _name(raw: str) -> str:
    name = " ".join(raw.split())
    if not name:
        raise StaffError("real_name", "请填写姓名")
    if len(name) > MAX_NAME:
        raise StaffError("real_name", f"姓名不能超过 {MAX_NAME} 个字")
    return name


def _role(tenant: Tenant, role: str) -> str:
    if role not in staff_roles(tenant):
        raise StaffError("role", "请选择本机构允许的角色")
    return role


async def _identifiers(tenant: Tenant, form: StaffForm, needs: set[str]) -> tuple[str | None, str | None]:
    """The normalised ID number and mobile; at least one that the tenant's sign-in asks for
    (``needs``: ``id_number`` and/or ``mobile``), neither used by another account."""
    try:
        id_number = normalize_id_number(form.id_number) if form.id_number.strip() else None
    except InvalidIdentity as exc:
        raise StaffError("id_number", str(exc)) from None
    try:
        mobile = normalize_mobile(form.mobile) if form.mobile.strip() else None
    except InvalidIdentity as exc:
        raise StaffError("mobile", str(exc)) from None
    given = {k for k, v in (("id_number", id_number), ("mobile", mobile)) if v}
    if needs and not given & needs:
        field = sorted(needs)[0]
        raise StaffError(field, "请填写登录用的身份证号" if field == "id_number" else "请填写登录用的手机号")
    accounts = scoped(Account, tenant)
    if id_number and await accounts.exists(Account.id_number == id_number):
        raise StaffError("id_number", "该身份证号已有本机构的账号")
    if mobile and await accounts.exists(Account.mobile == mobile):
        raise StaffError("mobile", "该手机号已被本机构的其他账号使用")
    return id_number, mobile


async def create_staff(hooks: Hooks, tenant: Tenant, actor_id: int | None, form: StaffForm,
                       needs: set[str]) -> Account:
    """A new staff account with an initial password to change at first sign-in."""
    name, role = _name(form.real_name), _role(tenant, form.role)
    id_number, mobile = await _identifiers(tenant, form, needs)
    problem = hooks.account_password_problem(tenant=tenant, password=form.password)
    if problem:
        raise StaffError("password", problem)
    account = scoped(Account, tenant).new(
        role=role, real_name=name, id_number=id_number, mobile=mobile,
        password_hash=await hash_password_async(form.password), must_change_password=True, active=True,
        created_at=dt.datetime.now(dt.UTC))
    try:
        await account.save()
    except Exception:  # a simultaneous creation took the ID number or mobile (unique in the tenant)
        await _identifiers(tenant, form, needs)  # names the field taken
        raise
    await record("staff.created", tenant_id=tenant.id, actor_id=actor_id, object_type="account",
                 object_id=account.id, role=role, real_name=name)
    return account


async def staff_account(tenant: Tenant, account_id: int) -> Account | None:
    return await scoped(Account, tenant).get(account_id, Account.role.is_in(staff_roles(tenant)))


async def update_staff(tenant: Tenant, actor: Account | None, account: Account, real_name: str,
                       role: str) -> Account:
    name, role = _name(real_name), _role(tenant, role)
    if actor is not None and account.id == actor.id and role != account.role:
        raise StaffError("role", "不能更改自己的角色")
    changes = {k: (old, new) for k, old, new in (("real_name", account.real_name, name), ("role", account.role, role))
               if old != new}
    if not changes:
        return account
    await scoped(Account, tenant).update({Account.real_name: name, Account.role: role}).where(Account.id == account.id)
    await record("staff.updated", tenant_id=tenant.id, actor_id=actor.id if actor else None, object_type="account",
                 object_id=account.id, **{k: {"old": o, "new": n} for k, (o, n) in changes.items()})
    account.real_name, account.role = name, role
    return account


async def set_active(tenant: Tenant, sessions: Sessions, actor: Account | None, account: Account,
                     active: bool) -> Account:
    """Deactivate (its sessions end at once, it cannot sign in) or reactivate a staff account."""
    if actor is not None and account.id == actor.id and not active:
        raise StaffError("active", "不能停用自己的账号")
    await scoped(Account, tenant).update({Account.active: active}).where(Account.id == account.id)
    if not active:
        await sessions.end_all(account.id)
    if account.active != active:
        await record("staff.reactivated" if active else "staff.deactivated", tenant_id=tenant.id,
                     actor_id=actor.id if actor else None, object_type="account", object_id=account.id)
    account.active = active
    return account


# --- learners -------------------------------------------------------------------------------------


async def learner_account(tenant: Tenant, account_id: int) -> Account | None:
    return await scoped(Account, tenant).get(account_id, Account.role == "learner")


async def reset_learner_password(tenant: Tenant, sessions: Sessions, actor_id: int | None,
                                 learner: Account) -> None:
    """The tenant's initial password, to be changed at next sign-in; the learner's sessions end."""
    initial = tenant.rules.signin.initial_password
    if not initial:
        raise StaffError("password", "本机构未设置初始密码，不能重置为初始密码")
    await scoped(Account, tenant).update({
        Account.password_hash: await hash_password_async(initial), Account.must_change_password: True,
    }).where(Account.id == learner.id)
    await sessions.end_all(learner.id)
    await record("learner.password_reset", tenant_id=tenant.id, actor_id=actor_id, object_type="account",
                 object_id=learner.id)


async def position_names(tenant: Tenant) -> list[str]:
    names = [p.name for p in await scoped(Position, tenant).objects().order_by(Position.id)]
    return names + [n for n in tenant.rules.roster.positions if n not in names]


async def correct_learner(tenant: Tenant, actor_id: int | None, learner: Account, real_name: str,
                          position: str) -> dict[str, dict[str, str]]:
    """Correct the name (account and profile) and the position (profile); audited old → new.
    Returns what changed."""
    name = _name(real_name)
    position = position.strip()
    if position and position not in await position_names(tenant):
        raise StaffError("position", "请选择本机构的岗位")
    profiles = scoped(LearnerProfile, tenant)
    profile = await profiles.objects(LearnerProfile.account == learner.id).first()
    old_position = profile.position if profile else ""
    changes = {k: {"old": o, "new": n} for k, o, n in (("real_name", learner.real_name, name),
                                                       ("position", old_position, position)) if o != n}
    if not changes:
        return {}
    now = dt.datetime.now(dt.UTC)
    await scoped(Account, tenant).update({Account.real_name: name}).where(Account.id == learner.id)
    if profile is None:
        await profiles.new(account=learner.id, real_name=name, id_number=learner.id_number, position=position,
                           created_at=now, updated_at=now).save()
    else:
        await profiles.update({LearnerProfile.real_name: name, LearnerProfile.position: position,
                               LearnerProfile.updated_at: now}).where(LearnerProfile.id == profile.id)
    await record("learner.corrected", tenant_id=tenant.id, actor_id=actor_id, object_type="account",
                 object_id=learner.id, **changes)
    learner.real_name = name
    return changes
