"""Onboarding: make the database match the tenant plugins. Idempotent."""

from __future__ import annotations

import msgspec

from core.plugins import PluginHost, collect, per_plugin
from core.tenancy import CORE_SECTIONS, Tenant, TenantDirectory, read_rules
from core.tenants.tables import TenantRow
from core.values import ROLES, TENANT_ROLES, AccountRole


def load_tenants(host: PluginHost) -> list[Tenant]:
    """Read every declared tenant and validate its rules, the core's sections and those the
    tenant's plugin and the global plugins declare (a bad rules.toml stops startup)."""
    tenants = []
    for spec in host.specs.values():
        rules, sections = read_rules(spec.rules_file, rules_sections(host, spec.slug))
        tenants.append(Tenant(spec=spec, rules=rules, sections=sections, roles=account_roles(host, spec.slug)))
    return tenants


def account_roles(host: PluginHost, slug: str) -> dict[str, AccountRole]:
    """The roles of tenant ``slug``'s accounts: the core's, then those its plugin and the global
    plugins declare (``account_roles``); a name declared twice stops startup."""
    roles = {r.name: r for r in TENANT_ROLES}
    for plugin, results in per_plugin(host.pm, "account_roles"):
        if host.owner_tenant(plugin) not in (None, slug):
            continue  # another tenant's plugin
        name = host.pm.get_name(plugin)
        for role in (item for declared in results for item in declared):
            if not isinstance(role, AccountRole):
                raise TypeError(f"{name}: account_roles() must return AccountRole items, not {role!r}")
            if not (role.name and role.label):
                raise ValueError(f"{name}: role {role!r} needs a name and a Chinese label")
            if role.name in roles or role.name in ROLES:
                raise ValueError(f"{name}: role {role.name!r} is already declared"
                                 f"{' by the core' if role.name in ROLES else ' by another plugin'}")
            roles[role.name] = role
    return roles


def rules_sections(host: PluginHost, slug: str) -> dict[str, type[msgspec.Struct]]:
    """The rules sections plugins declare for tenant ``slug`` (``tenant_rules_sections``)."""
    sections: dict[str, type[msgspec.Struct]] = {}
    for plugin, results in per_plugin(host.pm, "tenant_rules_sections"):
        if host.owner_tenant(plugin) not in (None, slug):
            continue  # another tenant's plugin
        name = host.pm.get_name(plugin)
        for key, kind in (item for declared in results for item in declared.items()):
            if not (isinstance(kind, type) and issubclass(kind, msgspec.Struct)):
                raise TypeError(f"{name}: rules section {key!r} must be a msgspec.Struct type")
            if key in CORE_SECTIONS or key in sections:
                raise ValueError(f"{name}: rules section {key!r} is already declared"
                                 f"{' by the core' if key in CORE_SECTIONS else ' by another plugin'}")
            sections[key] = kind
    return sections


async def sync_tenants(host: PluginHost, tenants: list[Tenant]) -> list[str]:
    """Create or update each tenant's row and run its onboarding hook. Returns what happened."""
    lines: list[str] = []
    for tenant in tenants:
        spec = tenant.spec
        values = {
            TenantRow.name: spec.name,
            TenantRow.name_en: spec.name_en,
            TenantRow.hosts: list(spec.hosts),
            TenantRow.theme: spec.theme,
        }
        row = await TenantRow.objects().where(TenantRow.slug == spec.slug).first()
        if row is None:
            row = TenantRow(slug=spec.slug, **{c._meta.name: v for c, v in values.items()})
            await row.save()
            lines.append(f"tenant {spec.slug}: created")
        else:
            await TenantRow.update(values).where(TenantRow.id == row.id)
            lines.append(f"tenant {spec.slug}: up to date")
        tenant.id = row.id
        for line in await collect(host.hooks_for(spec.slug).tenant_onboard, tenant=tenant):
            lines.append(f"tenant {spec.slug}: {line}")
    return lines


def directory(tenants: list[Tenant]) -> TenantDirectory:
    return TenantDirectory(tenants)
