"""Tenants as plugins: an out-of-tree third tenant through the ``xueshi`` entry-point group,
idempotent onboarding (``xueshi tenants sync``), and duplicate slugs refused."""

from __future__ import annotations

import importlib.metadata
import json
from pathlib import Path

import pytest
from litestar.testing import AsyncTestClient

from core.app import create_app
from core.testing.pytest_plugin import deployed_platform
from core.hookspecs import hookimpl
from core.tenancy import TenantSpec
from core.tenants.tables import TenantRow

THIRD = Path(__file__).parent / "fixtures" / "third_tenant"


@pytest.fixture
def third_on_path(monkeypatch):
    monkeypatch.syspath_prepend(str(THIRD))
    yield
    # later apps in this session must not see it again
    importlib.invalidate_caches()


def _entry_points() -> set[str]:
    return {ep.name for ep in importlib.metadata.entry_points(group="xueshi")}


async def test_third_tenant_arrives_through_the_entry_point_group(xs_settings, third_on_path):
    assert "third_tenant" in _entry_points()
    app = create_app(platform=await deployed_platform(xs_settings))
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as http:
        platform = app.state.platform
        assert sorted(t.slug for t in platform.tenants) == ["construction", "survey", "third"]
        third = platform.tenants.get("third")
        assert third.id is not None  # onboarded at startup
        assert third.rules.exam.questions == 30 and third.rules.sms.signature == "【示范培训学校】"
        r = await http.get("/t/third/")
        assert r.status_code == 200
        assert "第三方示范培训学校" in r.text and 'class="third-welcome"' in r.text
        r = await http.get("/", headers={"host": "third.example.test"})
        assert r.status_code == 200 and "third-welcome" in r.text
        r = await http.get("/t/third/signin")
        assert r.status_code == 200 and "身份证号登录" in r.text and "手机号密码登录" in r.text
        # Its template folder is its own: the survey home page is unchanged.
        assert "third-welcome" not in (await http.get("/t/survey/")).text
        row = await TenantRow.objects().where(TenantRow.slug == "third").first()
        assert row.name == "第三方示范培训学校" and json.loads(row.hosts) == ["third.example.test"]


async def test_without_the_package_there_are_two_tenants(xs_settings):
    assert "third_tenant" not in _entry_points()
    app = create_app(platform=await deployed_platform(xs_settings))
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as http:
        assert sorted(t.slug for t in app.state.platform.tenants) == ["construction", "survey"]
        assert (await http.get("/t/third/")).status_code == 404


def test_tenants_sync_command_is_idempotent(xs_settings, monkeypatch, capsys):
    """``xueshi tenants sync`` twice: same rows, same answer. (A plain def: the CLI runs its own
    event loop.)"""
    from core import cli

    monkeypatch.setenv("DATABASE_URL", xs_settings.database_url)
    monkeypatch.setenv("XUESHI_VAR_DIR", str(xs_settings.var_dir))
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
