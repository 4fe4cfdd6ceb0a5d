"""Onboarding: make the database match the tenant plugins. Idempotent."""

from __future__ import annotations

from core.plugins import PluginHost, collect
from core.tenancy import Tenant, TenantDirectory, load_rules
from core.tenants.tables import TenantRow


def load_tenants(host: PluginHost) -> list[Tenant]:
    """Read every declared tenant and validate its rules (a bad rules.toml stops startup)."""
    return [Tenant(spec=spec, rules=load_rules(spec.rules_file)) for spec in host.specs.values()]


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
