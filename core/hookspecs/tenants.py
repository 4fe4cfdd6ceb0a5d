"""Hook specs of tenants (declaration, rules, onboarding, demo data), their accounts' roles and sign-in."""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.hookspecs.markers import hookspec

if TYPE_CHECKING:  # types for readers and checkers only: no import cost, no cycles
    import msgspec

    from core.accounts.signin import SigninMethod
    from core.accounts.tables import Account
    from core.tenancy import Tenant, TenantSpec
    from core.values import AccountRole, DemoAccount, DemoCourse


# ---------------------------------------------------------------------------------------------
# Tenants
# ---------------------------------------------------------------------------------------------


@hookspec
def tenant_declare() -> TenantSpec | None:
    """A tenant plugin returns its ``TenantSpec`` (slug, names, hosts, theme, rules file)."""


@hookspec
def tenant_rules_sections() -> dict[str, type[msgspec.Struct]] | None:
    """This plugin's own rules sections: ``{key: msgspec Struct type}``. A tenant's rules.toml
    may then hold ``[key]``, validated at startup like the core's sections (a wrong key or value
    stops startup naming the file and the key; a missing section gets the type's defaults).
    Read by ``tenant.section(key)``. A tenant plugin's sections apply to its own tenant, a global
    plugin's to every tenant; a key may not repeat a core section or another plugin's key.
    Called once when the platform is built (must be a plain ``def``)."""


@hookspec
def tenant_onboard(tenant: Tenant) -> list[str] | None:
    """Create the tenant's own data (positions, courses, …). Must be idempotent: it runs at
    every startup and ``xueshi tenants sync``. Returns human-readable lines of what it did."""


@hookspec
def tenant_demo_accounts(tenant: Tenant) -> list[DemoAccount] | None:
    """``DemoAccount`` items the demo command creates for ``tenant`` and prints."""


@hookspec
def tenant_demo_data(tenant: Tenant) -> list[str] | None:
    """Called by the demo command after ``tenant``'s demo accounts exist: create the tenant's own
    demo records (so every page of the demo shows data). Idempotent; returns lines to print."""


@hookspec
def tenant_demo_courses(tenant: Tenant) -> list[DemoCourse] | None:
    """``DemoCourse`` items the demo command creates for ``tenant`` (positions, course, lesson
    videos made on the spot, demo learners of those positions enrolled). Idempotent by title."""


# ---------------------------------------------------------------------------------------------
# Accounts and sign-in
# ---------------------------------------------------------------------------------------------


@hookspec
def account_roles() -> list[AccountRole] | None:
    """``AccountRole`` items: roles of this plugin's own, beside the core's ``tenant_admin``,
    ``reviewer`` and ``learner``. Each names the string stored in ``Account.role``, its Chinese
    label (shown in the header, 账号管理 and 操作日志) and where sign-in lands. Its pages are the
    plugin's routes guarded by ``roles(name)`` and its menu the ``MenuLink`` items naming it in
    ``roles``. A tenant plugin's roles exist in its own tenant only, a global plugin's in every
    tenant; a name may not repeat a core role or another plugin's. Read once when the platform is
    built (must be a plain ``def``); an account may only be given a role its tenant has."""


@hookspec
def signin_methods(tenant: Tenant) -> list[SigninMethod] | None:
    """``SigninMethod`` objects offered on the tenant's sign-in page, in order."""


@hookspec(firstresult=True)
def account_password_problem(tenant: Tenant | None, password: str) -> str | None:
    """Return the Chinese message explaining why ``password`` is unacceptable, or ``""`` when it
    is fine. The core default (trylast) asks for 8+ characters with letters and digits.
    Stops at the first non-None result.

    :param tenant: the tenant, or None for a platform operator's password.
    :param password: the proposed new password, in clear (never log it).
    """


@hookspec
def account_signed_in(tenant: Tenant, account: Account) -> None:
    """An account signed in (after the session was rotated)."""
