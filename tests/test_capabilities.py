"""Capabilities: a tenant's rules switch each flow off, and its pages, menu links and jobs go with
it, for that tenant only.

Two test tenants share one app: "capa" offers every flow, "capb" the same except one flow (and the
flows built on it, which its rules must then switch off too). A global test plugin brings one page,
one menu link and one job of the ``enterprise`` flow, as a tenant plugin's company pages would.
"""

from __future__ import annotations

import dataclasses
import re

import pytest
from litestar import Request, get
from litestar.testing import AsyncTestClient

from core import AccountRole, JobSpec, MenuLink, MobilePassword, TenantSpec, collect, hookimpl
from core.accounts.services import upsert_account
from core.app import create_app
from core.capabilities import flow_of
from core.jobs.runtime import call
from core.jobs.specs import FlowSwitchedOff, tenants_of
from core.tenancy import FLOWS, RulesError, load_rules
from core.testing.client import XsClient
from core.testing.ids import fake_mobile
from core.testing.pytest_plugin import deployed_platform

ROLES = ("learner", "reviewer", "tenant_admin", "enterprise_admin")


@get("/company/home", opt={"flow": "enterprise"})
async def company_home(request: Request) -> str:
    return "company"


async def company_job(ctx, *, tenant: str) -> str:
    return "ran"


class EnterprisePages:
    """A global plugin with one role, one page, one menu link and one job of the enterprise flow."""

    @hookimpl
    def account_roles(self):
        return [AccountRole("enterprise_admin", "企业管理员")]

    @hookimpl
    def register_routes(self):
        return [company_home]

    @hookimpl
    def menu_links(self, tenant, account):
        return [MenuLink("企业首页", "/company/home", roles=("enterprise_admin",), flow="enterprise")]

    @hookimpl
    def register_jobs(self):
        return [JobSpec(company_job, timeout=10, retries=0, flow="enterprise")]


class CapTenant:
    def __init__(self, slug: str, rules_file) -> None:
        self.slug, self.rules_file = slug, rules_file

    @hookimpl
    def tenant_declare(self):
        return TenantSpec(slug=self.slug, name=f"能力测试{self.slug}", name_en=self.slug, rules_file=self.rules_file)

    @hookimpl
    def signin_methods(self, tenant):
        return [MobilePassword()]


def off_with(name: str) -> set[str]:
    """``name`` and every flow built on it, directly or not."""
    out = {name}
    while True:
        more = {f for f, needs in FLOWS.items() if needs in out} - out
        if not more:
            return out
        out |= more


def rules_text(off: set[str]) -> str:
    lines = ["[exam]", 'positions = ["测试岗"]' if "exams" not in off else "positions = []", "[capabilities]"]
    return "\n".join([*lines, *(f"{f} = {'false' if f in off else 'true'}" for f in FLOWS)]) + "\n"


def test_a_flow_on_whose_base_is_off_is_refused_with_the_key(tmp_path):
    path = tmp_path / "rules.toml"
    path.write_text("[capabilities]\ncourses = false\nreview = false\nexams = false\ncertificates = false\n"
                    "registry = false\n", encoding="utf-8")
    with pytest.raises(RulesError, match=r"key 'capabilities.proctoring'.*needs the courses flow"):
        load_rules(path)
    path.write_text("[exam]\npositions = [\"施工员\"]\n[capabilities]\nexams = false\n", encoding="utf-8")
    with pytest.raises(RulesError, match=r"key 'exam.positions'.*exams flow is off"):
        load_rules(path)


def _paths(app, slug: str) -> dict[str, str | None]:
    """Path → flow of every page the tenant's router mounts."""
    out = {}
    for route in app.routes:
        if route.path.startswith(f"/t/{slug}/") or route.path == f"/t/{slug}":
            flows = {flow_of(h) for h in route.route_handlers} - {None}  # (Litestar adds an OPTIONS handler)
            assert len(flows) <= 1, route.path
            out[route.path[len(f"/t/{slug}"):] or "/"] = flows.pop() if flows else None
    return out


def _menu(html: str, slug: str) -> set[str]:
    nav = html.split('<nav class="menu">', 1)[1].split("</nav>", 1)[0] if '<nav class="menu">' in html else ""
    return {m[len(f"/t/{slug}"):] for m in re.findall(r'href="([^"]+)"', nav)}


@pytest.mark.parametrize("name", list(FLOWS))
async def test_a_flow_switched_off_takes_its_pages_menu_links_and_jobs_away_for_that_tenant_only(
        name, xs_settings, tmp_path):
    off = off_with(name)
    (tmp_path / "a.toml").write_text(rules_text(set()), encoding="utf-8")
    (tmp_path / "b.toml").write_text(rules_text(off), encoding="utf-8")
    settings = dataclasses.replace(xs_settings, load_entrypoints=False)
    platform = await deployed_platform(settings, [CapTenant("capa", tmp_path / "a.toml"),
                                                  CapTenant("capb", tmp_path / "b.toml"), EnterprisePages()])
    a, b = platform.tenants.get("capa"), platform.tenants.get("capb")
    assert a.offers(name) and not b.offers(name) and all(b.offers(f) for f in set(FLOWS) - off)
    app = create_app(platform=platform)

    # Pages: capb lacks exactly the switched-off flows' pages; capa has them all.
    pages_a, pages_b = _paths(app, "capa"), _paths(app, "capb")
    gone = {p for p, f in pages_a.items() if f in off}
    assert any(f == name for f in pages_a.values()), f"no page of {name}"
    assert set(pages_b) == set(pages_a) - gone

    async with AsyncTestClient(app=app, base_url="http://testserver.local") as http:
        for path in sorted(p for p in gone if "{" not in p)[:3]:
            assert (await http.get(f"/t/capb{path}")).status_code == 404, path
            assert (await http.get(f"/t/capa{path}")).status_code != 404, path

        # Menus: each role's menu on capb is capa's less the links of the switched-off flows.
        removed = 0
        for role in ROLES:
            menus = {}
            for t in (a, b):
                mobile = fake_mobile()
                await upsert_account(t, role=role, password="Passw0rd-1", mobile=mobile, real_name="能力测试")
                client = XsClient(http)
                http.cookies.clear()
                assert (await client.signin(t.slug, "mobile", "Passw0rd-1", mobile=mobile)).status_code == 303
                menus[t.slug] = _menu((await client.get(f"/t/{t.slug}/me")).text, t.slug)
            links = [m for m in await _hook_links(platform, a, role) if m.flow in off]
            assert {m.href for m in links} <= menus["capa"]
            assert menus["capb"] == menus["capa"] - {m.href for m in links}
            removed += len(links)
        if name != "registry":  # the registry report is a part of 证书管理, with no menu link of its own
            assert removed, f"no menu link of {name}"

    # Jobs: not queued for capb, not run for it if queued before, and cron jobs leave it out.
    specs = [s for s in platform.jobs.specs.values() if s.flow in off]
    if name in ("proctoring", "exams", "certificates", "registry", "enterprise"):
        assert specs, f"no job of {name}"
    for spec in specs:
        with pytest.raises(FlowSwitchedOff):
            await platform.jobs.enqueue(spec.function, tenant=b)
        ctx = {"platform": platform, "spec": spec}
        assert a in tenants_of(ctx) and b not in tenants_of(ctx)
        assert await call(spec, 0)(ctx, tenant="capb") == {"skipped": spec.flow}
    kept = [s for s in platform.jobs.specs.values() if s.flow is not None and s.flow not in off]
    for spec in kept:
        assert b in tenants_of({"platform": platform, "spec": spec})


async def _hook_links(platform, tenant, role):
    account = type("Someone", (), {"role": role, "id": 0})()
    links = await collect(platform.hooks(tenant).menu_links, tenant=tenant, account=account)
    return [m for m in links if not m.roles or role in m.roles]


async def test_the_survey_association_offers_what_its_guide_describes(client, platform, make_account):
    """Its guide: companies (实名认证, 人员确认, 学员管理) and learners' profiles; no courses, face
    checks, review, exams or hours certificates. The construction group keeps them all."""
    survey, construction = platform.tenants.get("survey"), platform.tenants.get("construction")
    assert [f for f in FLOWS if survey.offers(f)] == ["enterprise"]
    assert [f for f in FLOWS if construction.offers(f)] == [f for f in FLOWS if f != "enterprise"]
    admin, password = await make_account("survey", role="tenant_admin")
    await client.signin("survey", "mobile", password, mobile=admin.mobile)
    for path in ("/admin/courses", "/review", "/admin/certificates", "/admin/exams", "/face/check", "/study",
                 "/hours", "/verify"):
        assert (await client.get(f"/t/survey{path}")).status_code == 404, path
    menu = _menu((await client.get("/t/survey/me")).text, "survey")
    assert "/staff/enterprises" in menu and not menu & {"/admin/courses", "/admin/certificates", "/admin/exams"}
    assert (await client.get("/t/construction/verify")).status_code == 200
