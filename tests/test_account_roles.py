"""Roles are the plugins' too: the core knows the platform operator, tenant_admin, reviewer and
learner; a plugin declares its own (``account_roles``): the survey association's 企业管理员
exists in its tenant only, with its label and landing page, and a name may be declared once."""

from __future__ import annotations

import dataclasses

import pytest

from core import AccountRole, MenuLink, TenantSpec, hookimpl
from core.accounts.controllers import work_page
from core.accounts.services import upsert_account
from core.accounts.tables import Account
from core.app import create_app
from core.testing.ids import fake_mobile
from core.testing.pytest_plugin import deployed_platform
from core.values import ROLE_LABELS, ROLES

S = "/t/survey"


async def test_account_roles_of_a_tenant_plugin_exist_in_its_tenant_only(platform):
    assert ROLES == ("operator", "tenant_admin", "reviewer", "learner")
    assert set(ROLE_LABELS) == set(ROLES)
    survey, construction = platform.tenants.get("survey"), platform.tenants.get("construction")
    assert survey.roles["enterprise_admin"] == AccountRole("enterprise_admin", "企业管理员", landing="/me")
    assert survey.role_labels["enterprise_admin"] == "企业管理员"
    assert "enterprise_admin" not in construction.roles and "enterprise_admin" not in construction.role_labels
    assert set(construction.roles) == {"tenant_admin", "reviewer", "learner"}

    mobile = fake_mobile()
    with pytest.raises(ValueError, match="unknown role 'enterprise_admin' in tenant 'construction'"):
        await upsert_account(construction, role="enterprise_admin", password="Passw0rd-1", mobile=mobile)
    assert await Account.count().where(Account.mobile == mobile) == 0  # nothing written
    admin = await upsert_account(survey, role="enterprise_admin", password="Passw0rd-1", mobile=mobile)
    assert (await Account.objects().where(Account.id == admin.id).first()).role == "enterprise_admin"
    with pytest.raises(ValueError, match="unknown role 'operator'"):  # the operator belongs to no tenant
        await upsert_account(survey, role="operator", password="Passw0rd-1", mobile=fake_mobile())


async def test_account_roles_label_and_landing_of_the_company_admin(client, make_account):
    admin, password = await make_account("survey", role="enterprise_admin")
    r = await client.signin("survey", "mobile", password, mobile=admin.mobile)
    assert r.status_code == 303 and r.headers["location"] == f"{S}/me"  # its declared landing page
    page = await client.get(f"{S}/me")
    assert "<dd>企业管理员</dd>" in page.text
    page = await client.get(f"{S}/me?lang=en")
    assert "<dd>Company admin</dd>" in page.text  # the plugin's own catalogue


class Inspectors:
    """A global plugin with a role of its own that lands on the first menu link of that role."""

    @hookimpl
    def account_roles(self):
        return [AccountRole("inspector", "巡查员")]

    @hookimpl
    def menu_links(self, tenant, account):
        return [MenuLink("巡查记录", "/inspections", roles=("inspector",), order=30),
                MenuLink("巡查地图", "/inspections/map", roles=("inspector",), order=10)]


class RolesTenant:
    def __init__(self, rules_file) -> None:
        self.rules_file = rules_file

    @hookimpl
    def tenant_declare(self):
        return TenantSpec(slug="rolestest", name="角色测试", name_en="Roles test", rules_file=self.rules_file)


async def test_account_roles_of_a_global_plugin_reach_every_tenant_and_land_on_their_menu(xs_settings, tmp_path):
    (tmp_path / "rules.toml").write_text("", encoding="utf-8")
    settings = dataclasses.replace(xs_settings, load_entrypoints=False)
    platform = await deployed_platform(settings, [RolesTenant(tmp_path / "rules.toml"), Inspectors()])
    tenant = platform.tenants.get("rolestest")
    assert tenant.role_labels["inspector"] == "巡查员"
    inspector = await upsert_account(tenant, role="inspector", password="Passw0rd-1", mobile=fake_mobile())
    assert await work_page(platform, tenant, inspector) == "/inspections/map"  # its first link by order
    learner = await upsert_account(tenant, role="learner", password="Passw0rd-1", mobile=fake_mobile())
    assert await work_page(platform, tenant, learner) == "/me"


class ClaimsReviewer:
    @hookimpl
    def account_roles(self):
        return [AccountRole("reviewer", "评审")]


class ClaimsCompanyAdmin:
    @hookimpl
    def account_roles(self):
        return [AccountRole("enterprise_admin", "单位管理员")]


class NotARole:
    @hookimpl
    def account_roles(self):
        return ["inspector"]


def test_account_roles_a_name_is_declared_once(xs_settings):
    with pytest.raises(ValueError, match="'reviewer' is already declared by the core"):
        create_app(xs_settings, [ClaimsReviewer()])
    with pytest.raises(ValueError, match="'enterprise_admin' is already declared by another plugin"):
        create_app(xs_settings, [ClaimsCompanyAdmin()])  # a global plugin repeating the survey plugin's
    with pytest.raises(TypeError, match="must return AccountRole items"):
        create_app(xs_settings, [NotARole()])
