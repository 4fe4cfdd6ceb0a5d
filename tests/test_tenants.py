"""Tenants as plugins: idempotent onboarding (``xueshi tenants sync``) and duplicate slugs refused.
A tenant installed as its own package (the ``xueshi`` entry-point group) is tests/test_third_tenant.py."""

from __future__ import annotations

import pytest

from core.app import create_app
from core.hookspecs import hookimpl
from core.tenancy import TenantSpec
from core.tenants.tables import TenantRow


def test_tenants_sync_command_is_idempotent(xs_settings, monkeypatch, capsys):
    """``xueshi tenants sync`` twice: same rows, same answer. (A plain def: the CLI runs its own
    event loop.)"""
    from core import cli

    monkeypatch.setenv("DATABASE_URL", xs_settings.database_url)
    monkeypatch.setenv("XUESHI_VAR_DIR", str(xs_settings.var_dir))
    assert cli.main(["migrate"]) == 0  # the deploy steps, when this test is the session's first
    assert cli.main(["tenants", "sync"]) == 0
    capsys.readouterr()
    assert cli.main(["tenants", "sync"]) == 0
    first = capsys.readouterr().out.splitlines()
    assert cli.main(["tenants", "sync"]) == 0
    second = capsys.readouterr().out.splitlines()
    assert "tenant survey: up to date" in second and "tenant construction: up to date" in second
    assert not any("created" in line for line in second)
    assert len(first) == len(second)
    assert cli.main(["tenants", "list"]) == 0
    listing = capsys.readouterr().out
    assert "survey\t" in listing and "/t/construction/" in listing


async def test_sync_tenants_twice_keeps_one_row_per_tenant(platform):
    from core.tenants.services import sync_tenants

    tenants = list(platform.tenants)
    ids = {t.slug: t.id for t in tenants}
    await sync_tenants(platform.plugins, tenants)
    await sync_tenants(platform.plugins, tenants)
    for slug, tenant_id in ids.items():
        rows = await TenantRow.objects().where(TenantRow.slug == slug)
        assert [r.id for r in rows] == [tenant_id]


class DuplicateSurvey:
    @hookimpl
    def tenant_declare(self):
        return TenantSpec(slug="survey", name="冒名机构", name_en="Impostor")


def test_create_app_refuses_a_duplicate_slug(xs_settings):
    with pytest.raises(ValueError, match="two plugins declare the tenant slug 'survey'"):
        create_app(xs_settings, [DuplicateSurvey()])
