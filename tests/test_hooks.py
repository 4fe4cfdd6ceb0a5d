"""One test per hook (tests/test_hooks_documented.py checks the names), through the real core path
that calls the hook where that path exists, else through tenant-scoped dispatch.

The app under test gets two extra tenant plugins ("hooktest", "hookother") and one global plugin.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from types import SimpleNamespace

import pluggy
import pytest
from litestar import Request, Response, get

from core import (
    DemoAccount,
    IdNumberPassword,
    MenuLink,
    MobilePassword,
    TenantSpec,
    hookimpl,
    render,
)
from core.accounts.tables import Enterprise
from core.notify.services import send
from core.notify.tables import Notification
from core.plugins import collect, make_plugin_host, notify
from core.roster.linking import find_matches, join
from core.roster.tables import LearnerProfile, RosterEntry
from core.testing.ids import fake_mobile

FIXTURE = Path(__file__).parent / "fixtures" / "hooktest"
CALLS: list[tuple[str, str, object]] = []  # (plugin, hook, detail) recorded by the test plugins
_seq = itertools.count(1)


@get("/hookpage")
async def hookpage(request: Request) -> Response:
    return await render(request, "hookpage.html")


class HookTenant:
    """A tenant plugin implementing every tenant-side hook with something visible."""

    slug = "hooktest"

    @hookimpl
    def tenant_declare(self):
        return TenantSpec(slug=self.slug, name="钩子测试培训中心", name_en="Hook test centre",
                          hosts=("hooktest.example.test",), rules_file=FIXTURE / "rules.toml")

    @hookimpl
    def signin_methods(self, tenant):
        return [MobilePassword(label="测试机构手机号登录"), IdNumberPassword(label="测试机构身份证登录")]

    @hookimpl
    def register_routes(self):
        return [hookpage]

    @hookimpl
    def template_dirs(self):
        return [FIXTURE / "templates"]

    @hookimpl
    def static_dirs(self):
        return [("hooktest", FIXTURE / "static")]

    @hookimpl
    def extra_template_vars(self, request, tenant):
        async def hook_visits():  # a lazy helper: awaited only for pages whose templates name it
            CALLS.append((self.slug, "hook_visits", request.url.path))
            return "已访问"

        return {"hook_motto": "安全第一，预防为主", "hook_visits": hook_visits}

    @hookimpl
    def extra_css_urls(self, tenant):
        return ["/static/plugins/hooktest/hook.css"]

    @hookimpl
    def menu_links(self, tenant, account):
        return [MenuLink("测试报表", "/hookpage", roles=("tenant_admin",), order=50)]

    @hookimpl
    async def tenant_onboard(self, tenant):
        exists = await Enterprise.exists().where(
            (Enterprise.tenant == tenant.id) & (Enterprise.name == "钩子测试入驻企业"))
        if exists:
            return []
        await Enterprise(tenant=tenant.id, name="钩子测试入驻企业").save()
        return ["入驻企业已创建"]

    @hookimpl
    def tenant_demo_accounts(self, tenant):
        return [DemoAccount("learner", "钩子学员", "Hook-2026", mobile="13312345678")]

    @hookimpl
    def account_password_problem(self, tenant, password):
        if "123" in password:
            return "密码不能包含连续数字 123"
        return None

    @hookimpl
    def notify_templates(self, tenant):
        return {"welcome": "${name}您好，欢迎参加钩子测试继续教育。"}

    @hookimpl
    def roster_link_profile(self, tenant, profile, entry):
        return False if entry.position == "已离职" else None

    @hookimpl
    def proctor_challenge_actions(self, tenant):
        return ["blink", "turn_left"]

    # notifications: record who was reached
    @hookimpl
    def account_signed_in(self, tenant, account):
        CALLS.append((self.slug, "account_signed_in", account.id))

    @hookimpl
    async def notify_sent(self, tenant, notification):
        CALLS.append((self.slug, "notify_sent", notification.id))

    @hookimpl
    def roster_linked(self, tenant, entry, profile):
        CALLS.append((self.slug, "roster_linked", entry.id))


class OtherTenant:
    """A second test tenant: must never be reached by hooktest's calls."""

    slug = "hookother"

    @hookimpl
    def tenant_declare(self):
        return TenantSpec(slug=self.slug, name="另一测试机构", name_en="Other test centre")

    @hookimpl
    def signin_methods(self, tenant):
        return [MobilePassword(label="另一机构登录")]

    @hookimpl
    def notify_templates(self, tenant):
        return {"welcome": "另一机构的欢迎语"}

    @hookimpl
    def account_signed_in(self, tenant, account):
        CALLS.append((self.slug, "account_signed_in", account.id))

    @hookimpl
    def notify_sent(self, tenant, notification):
        CALLS.append((self.slug, "notify_sent", notification.id))

    @hookimpl
    def roster_linked(self, tenant, entry, profile):
        CALLS.append((self.slug, "roster_linked", entry.id))


class BrokenFax:
    name = "fax"

    async def deliver(self, notification):
        raise ConnectionError("传真网关无响应")


class GatewaySms:
    """A plugin SMS channel: must replace the core's recording one."""

    name = "sms"
    delivered: list[int] = []

    async def deliver(self, notification):
        GatewaySms.delivered.append(notification.id)


class GlobalPlugin:
    @hookimpl
    def notify_channels(self):
        return [BrokenFax(), GatewaySms()]

    @hookimpl
    def account_signed_in(self, tenant, account):
        CALLS.append(("global", "account_signed_in", account.id))

    @hookimpl
    def notify_sent(self, tenant, notification):
        CALLS.append(("global", "notify_sent", notification.id))


@pytest.fixture
def xs_plugins():
    return [HookTenant(), OtherTenant(), GlobalPlugin()]


def reached(hook: str, detail: object) -> set[str]:
    return {who for who, h, d in CALLS if h == hook and d == detail}


async def _admin(make_account, slug="hooktest", **kw):
    return await make_account(slug, role=kw.pop("role", "tenant_admin"), **kw)


# --- app, routes and pages ---------------------------------------------------------------------


async def test_register_routes_serves_a_tenant_plugin_page_only_under_its_tenant(client):
    r = await client.get("/t/hooktest/hookpage")
    assert r.status_code == 200 and "测试插件页面" in r.text
    r = await client.get("/hookpage", headers={"host": "hooktest.example.test"})
    assert r.status_code == 200 and "测试插件页面" in r.text
    for url, host in (("/t/survey/hookpage", None), ("/t/hookother/hookpage", None),
                      ("/hookpage", "survey.localhost")):
        r = await client.get(url, headers={"host": host} if host else {})
        assert r.status_code == 404, url


async def test_template_dirs_override_a_core_page_for_their_tenant_only(client):
    r = await client.get("/t/hooktest/")
    assert r.status_code == 200
    assert 'class="hooktest-home"' in r.text
    assert "钩子测试培训中心" in r.text  # the core page it extends is still there
    r = await client.get("/t/survey/")
    assert r.status_code == 200 and "hooktest-home" not in r.text


async def test_static_dirs_are_served_under_static_plugins(client):
    r = await client.get("/static/plugins/hooktest/hook.css")
    assert r.status_code == 200 and ".hooktest-home" in r.text
    r = await client.get("/static/plugins/hooktest/../rules.toml")
    assert r.status_code == 404


async def test_extra_template_vars_reach_the_tenants_pages(client):
    r = await client.get("/t/hooktest/")
    assert "测试机构首页：安全第一，预防为主" in r.text


async def test_async_template_vars_are_awaited_only_for_pages_that_name_them(client):
    """Templates render synchronously: render() awaits an async helper before rendering, and
    only when the page's templates (with those it extends or includes) name it."""
    r = await client.get("/t/hooktest/")
    assert "首页访问：已访问" in r.text
    assert [c for c in CALLS if c[1] == "hook_visits"]
    r = await client.get("/t/hooktest/hookpage")
    assert r.status_code == 200 and "测试插件页面" in r.text
    assert not [c for c in CALLS if c[1] == "hook_visits" and c[2].endswith("/hookpage")]


async def test_extra_css_urls_are_linked_on_the_tenants_pages_only(client):
    link = '<link rel="stylesheet" href="/static/plugins/hooktest/hook.css">'
    assert link in (await client.get("/t/hooktest/signin")).text
    assert link not in (await client.get("/t/survey/signin")).text


async def test_menu_links_are_filtered_by_role_and_tenant(client, make_account):
    admin, password = await _admin(make_account)
    await client.signin("hooktest", "mobile", password, mobile=admin.mobile)
    page = await client.get("/t/hooktest/me")
    assert page.status_code == 200
    assert 'href="/t/hooktest/hookpage"' in page.text and "测试报表" in page.text
    assert 'href="/t/hooktest/inbox"' in page.text  # the core default's links stay
    learner, password = await make_account("hooktest", role="learner")
    await client.signin("hooktest", "mobile", password, mobile=learner.mobile)
    page = await client.get("/t/hooktest/me")
    assert page.status_code == 200 and "测试报表" not in page.text
    # Anonymous visitors get no menu at all.
    await client.post("/t/hooktest/signout")
    assert "测试报表" not in (await client.get("/t/hooktest/")).text


# --- tenants -----------------------------------------------------------------------------------


async def test_tenant_declare_makes_a_plugin_a_tenant(platform):
    host = platform.plugins
    assert {"survey", "construction", "hooktest", "hookother"} <= set(host.specs)
    assert isinstance(host.plugin_of("hooktest"), HookTenant)
    assert platform.tenants.from_host("hooktest.example.test").slug == "hooktest"
    assert platform.tenants.get("hooktest").rules.sms.signature == "【钩子测试】"
    with pytest.raises(TypeError, match="must return a TenantSpec"):
        class NotASpec:
            @hookimpl
            def tenant_declare(self):
                return {"slug": "x"}

        make_plugin_host([NotASpec()], load_entrypoints=False)


async def test_tenant_onboard_is_idempotent(platform):
    from core.tenants.services import sync_tenants

    tenants = list(platform.tenants)
    first = await sync_tenants(platform.plugins, tenants)
    second = await sync_tenants(platform.plugins, tenants)
    assert "tenant hooktest: up to date" in second
    assert not any("入驻企业已创建" in line for line in second)
    hooktest = platform.tenants.get("hooktest")
    count = await Enterprise.count().where(
        (Enterprise.tenant == hooktest.id) & (Enterprise.name == "钩子测试入驻企业"))
    assert count == 1
    # The hook ran for hooktest only: no other tenant got the company.
    assert await Enterprise.count().where(Enterprise.name == "钩子测试入驻企业") == 1
    assert len(first) >= len(tenants)


async def test_tenant_demo_accounts_are_created_and_printed(xs_settings, client, platform):
    from core.demo import create_demo

    lines = await create_demo(xs_settings, "http://127.0.0.1:8000")
    text = "\n".join(lines)
    assert "13600136000" in text and "Learner-2026" in text  # survey's demo learner
    assert "110105199001011232" in text and "首次登录须修改密码" in text  # construction's
    r = await client.signin("survey", "mobile", "Learner-2026", mobile="13600136000")
    assert r.status_code == 303 and r.headers["location"] == "/t/survey/me"
    # Dispatch is tenant-scoped: hooktest's demo learner is offered for hooktest only.
    hooks = platform.plugins
    ours = await collect(hooks.hooks_for("hooktest").tenant_demo_accounts, tenant=platform.tenants.get("hooktest"))
    theirs = await collect(hooks.hooks_for("hookother").tenant_demo_accounts, tenant=platform.tenants.get("hookother"))
    assert [d.real_name for d in ours] == ["钩子学员"] and theirs == []


# --- accounts ----------------------------------------------------------------------------------


async def test_signin_methods_shape_the_tenants_sign_in_page(client, make_account):
    page = await client.get("/t/hooktest/signin")
    assert page.status_code == 200 and "测试机构手机号登录" in page.text and "测试机构身份证登录" in page.text
    assert 'action="/t/hooktest/signin/mobile"' in page.text  # the first method is the default form
    assert "短信验证码登录" not in page.text and "另一机构登录" not in page.text
    assert "测试机构手机号登录" not in (await client.get("/t/survey/signin")).text
    # A method the tenant does not offer is not there at all.
    r = await client.post("/t/hooktest/signin/sms", {"mobile": fake_mobile(), "code": "123456"})
    assert r.status_code == 404
    account, password = await make_account("hooktest")
    r = await client.signin("hooktest", "mobile", password, mobile=account.mobile)
    assert r.status_code == 303 and r.headers["location"] == "/t/hooktest/me"


async def test_account_password_problem_plugin_rule_is_shown_on_the_password_form(client, make_account):
    account, password = await make_account("hooktest")
    await client.signin("hooktest", "mobile", password, mobile=account.mobile)
    r = await client.post("/t/hooktest/password", {"current": password, "new": "Abcdef123x", "again": "Abcdef123x"})
    assert r.status_code == 400 and "密码不能包含连续数字 123" in r.text
    # The plugin defers (None) on other passwords: the core default still applies.
    r = await client.post("/t/hooktest/password", {"current": password, "new": "short", "again": "short"})
    assert r.status_code == 400 and "密码至少 8 位" in r.text
    r = await client.post("/t/hooktest/password", {"current": password, "new": "Abcdef456x", "again": "Abcdef456x"})
    assert r.status_code == 303
    # Another tenant is not bound by hooktest's rule.
    other, password = await make_account("survey")
    await client.signin("survey", "mobile", password, mobile=other.mobile)
    r = await client.post("/t/survey/password", {"current": password, "new": "Abcdef123x", "again": "Abcdef123x"})
    assert r.status_code == 303


async def test_account_signed_in_reaches_the_tenants_plugin_and_global_ones(client, make_account):
    account, password = await make_account("hooktest")
    r = await client.signin("hooktest", "mobile", "Wrong-pass1", mobile=account.mobile)
    assert r.status_code == 400 and reached("account_signed_in", account.id) == set()
    r = await client.signin("hooktest", "mobile", password, mobile=account.mobile)
    assert r.status_code == 303
    assert reached("account_signed_in", account.id) == {"hooktest", "global"}


# --- notifications -----------------------------------------------------------------------------


async def test_notify_templates_tenant_override_changes_the_sent_sms(platform, make_account):
    hooktest, survey = platform.tenants.get("hooktest"), platform.tenants.get("survey")
    account, _ = await make_account("hooktest", real_name="周测试")
    [row] = await send(platform.hooks(hooktest), hooktest, account, "welcome", channels=("sms",))
    assert row.body == "【钩子测试】周测试您好，欢迎参加钩子测试继续教育。"
    assert row.recipient == account.mobile and row.channel == "sms"
    other, _ = await make_account("survey", real_name="吴默认")
    [row] = await send(platform.hooks(survey), survey, other, "welcome", channels=("sms",))
    assert row.body == f"{survey.rules.sms.signature}吴默认，欢迎使用{survey.name}在线培训平台。"
    # Keys the tenant does not override keep the core's neutral text.
    [row] = await send(platform.hooks(hooktest), hooktest, account, "hours_approved", channels=("inbox",))
    assert row.body == "周测试，您的学时已通过审核，可登录平台查看学时记录。"


async def test_notify_channels_failing_channel_keeps_the_message(platform, make_account):
    tenant = platform.tenants.get("hooktest")
    account, _ = await make_account("hooktest")
    rows = await send(platform.hooks(tenant), tenant, account, "welcome", channels=("fax", "sms", "pigeon"))
    fax, sms, pigeon = rows
    stored = await Notification.objects().where(Notification.id == fax.id).first()
    assert stored.status == "failed" and "传真网关无响应" in stored.error
    assert "欢迎参加钩子测试继续教育" in stored.body and stored.sent_at is None
    assert pigeon.status == "failed" and "no channel named 'pigeon'" in pigeon.error
    # A plugin's channel named "sms" replaces the core's recording one.
    assert sms.status == "sent" and sms.id in GatewaySms.delivered


async def test_notify_sent_is_called_for_delivered_rows_only(platform, make_account):
    tenant = platform.tenants.get("hooktest")
    account, _ = await make_account("hooktest")
    ok, failed = await send(platform.hooks(tenant), tenant, account, "welcome", channels=("inbox", "fax"))
    assert ok.status == "sent" and failed.status == "failed"
    assert reached("notify_sent", ok.id) == {"hooktest", "global"}  # never hookother
    assert reached("notify_sent", failed.id) == set()


# --- roster ------------------------------------------------------------------------------------


async def _entry_and_profile(make_account, position: str):
    account, _ = await make_account("hooktest", real_name="郑名单")
    tenant_id = account.tenant
    company = Enterprise(tenant=tenant_id, name=f"名单测试企业{next(_seq)}")
    await company.save()
    entry = RosterEntry(tenant=tenant_id, enterprise=company.id, real_name="郑名单",
                        id_number=account.id_number, position=position)
    await entry.save()
    profile = LearnerProfile(tenant=tenant_id, account=account.id, real_name="郑名单", id_number=account.id_number)
    await profile.save()
    return entry, profile


async def test_roster_link_profile_default_links_equal_id_numbers_and_plugin_can_refuse(platform, make_account):
    tenant = platform.tenants.get("hooktest")
    hooks = platform.hooks(tenant)
    entry, profile = await _entry_and_profile(make_account, "安全员")
    found = await find_matches(hooks, tenant, profile)
    assert [e.id for e in found.entries] == [entry.id]  # core default: equal ID numbers
    gone, profile2 = await _entry_and_profile(make_account, "已离职")
    found = await find_matches(hooks, tenant, profile2)
    assert found.entries == [] and found.joined == []  # the plugin's False wins over the default
    # Without the plugin (another tenant's dispatcher), the default decides.
    assert platform.hooks(platform.tenants.get("hookother")).roster_link_profile(
        tenant=tenant, profile=profile2, entry=gone) is True


async def test_roster_linked_reaches_the_tenants_plugin_only(platform, make_account):
    tenant = platform.tenants.get("hooktest")
    hooks = platform.hooks(tenant)
    entry, profile = await _entry_and_profile(make_account, "安全员")
    found = await find_matches(hooks, tenant, profile)
    assert await join(hooks, tenant, profile, found.entries, proof="company") == 1
    assert reached("roster_linked", entry.id) == {"hooktest"}
    stored = await RosterEntry.objects().where(RosterEntry.id == entry.id).first()
    assert stored.status == "joined" and stored.account == profile.account
    with pytest.raises(ValueError):  # a join without a proof is refused
        await join(hooks, tenant, profile, found.entries, proof="")


# --- resolvers without a built core flow: core default vs. plugin override ----------------------


def _both(platform):
    return (platform.tenants.get("hooktest"), platform.hooks(platform.tenants.get("hooktest")),
            platform.hooks(platform.tenants.get("survey")))



async def test_proctor_challenge_actions_default_and_plugin_override(platform):
    tenant, ours, default = _both(platform)
    assert default.proctor_challenge_actions(tenant=tenant) == ["blink", "open_mouth", "turn_left", "turn_right", "nod"]
    assert ours.proctor_challenge_actions(tenant=tenant) == ["blink", "turn_left"]


# --- hooks whose core flow is not built yet: signature accepted, tenant-scoped dispatch ---------

HOOK_ARGS = {
    "roster_imported": dict(enterprise="ENT", summary={"created": 3}),
    "proctor_verified": dict(account="ACC", verdict={"passed": True}),
    "roster_columns": dict(),
    "roster_validate_row": dict(row={"姓名": "张三"}),
}


def _recording_plugin(label: str, slug: str | None):
    """A plugin implementing each hook above with exactly its documented parameters."""
    ns: dict[str, object] = {}
    for hook, kwargs in HOOK_ARGS.items():
        params = ", ".join(["self", "tenant", *kwargs])
        exec(f"def {hook}({params}):\n    return self.seen('{hook}', tenant)", ns)  # noqa: S102
    attrs = {h: hookimpl(ns[h]) for h in HOOK_ARGS}
    attrs["seen"] = lambda self, hook, tenant: self.calls.append((hook, tenant.slug)) or [f"{label}:{hook}"]
    if slug:
        attrs["tenant_declare"] = hookimpl(lambda self: TenantSpec(slug=slug, name=slug, name_en=slug))
    plugin = type(f"Rec_{label}", (), attrs)()
    plugin.calls = []
    return plugin


@pytest.fixture(scope="module")
def dispatch_host():
    a, b, g = _recording_plugin("a", "tenant_a"), _recording_plugin("b", "tenant_b"), _recording_plugin("g", None)
    return make_plugin_host([a, b, g], load_entrypoints=False), a, b, g


async def _check_scoped(dispatch_host, hook: str) -> None:
    host, a, b, g = dispatch_host
    tenant = SimpleNamespace(slug="tenant_a")
    caller = getattr(host.hooks_for("tenant_a"), hook)
    if hook in {"roster_columns", "roster_validate_row"}:
        assert sorted(await collect(caller, tenant=tenant, **HOOK_ARGS[hook])) == [f"a:{hook}", f"g:{hook}"]
    else:
        await notify(caller, tenant=tenant, **HOOK_ARGS[hook])
    assert (hook, "tenant_a") in a.calls and (hook, "tenant_a") in g.calls
    assert not any(h == hook for h, _ in b.calls), f"{hook} reached another tenant's plugin"


async def test_roster_imported_dispatch(dispatch_host):
    await _check_scoped(dispatch_host, "roster_imported")


async def test_proctor_verified_dispatch(dispatch_host):
    await _check_scoped(dispatch_host, "proctor_verified")


async def test_roster_columns_dispatch(dispatch_host):
    await _check_scoped(dispatch_host, "roster_columns")


async def test_roster_validate_row_dispatch(dispatch_host):
    await _check_scoped(dispatch_host, "roster_validate_row")


async def test_face_providers_are_collected_from_global_plugins():
    class Provider:
        name = "fake"

    class FacePlugin:
        @hookimpl
        def face_providers(self):
            return [Provider()]

    host = make_plugin_host([FacePlugin()], load_entrypoints=False)
    providers = await collect(host.hooks_for("anything").face_providers)
    assert [p.name for p in providers] == ["fake"]


def test_a_hookimpl_with_a_wrong_parameter_is_refused():
    class Misspelt:
        @hookimpl
        def roster_linked(self, tenant, entry, profil):  # noqa: ARG002
            pass

    with pytest.raises(pluggy.PluginValidationError, match="profil"):
        make_plugin_host([Misspelt()], load_entrypoints=False)


def test_a_misspelt_hook_name_stops_startup():
    class Typo:
        @hookimpl
        def notify_sended(self, tenant, notification):
            pass

    with pytest.raises(pluggy.PluginValidationError, match="notify_sended"):
        make_plugin_host([Typo()], load_entrypoints=False)


def test_an_async_implementation_of_a_firstresult_hook_is_refused_at_registration():
    class AsyncResolver:
        @hookimpl
        async def account_password_problem(self, tenant, password):
            return None

    with pytest.raises(TypeError, match="account_password_problem.*synchronously"):
        make_plugin_host([AsyncResolver()], load_entrypoints=False)


async def test_an_async_implementation_of_a_collector_is_accepted_and_awaited():
    class AsyncCollector:
        @hookimpl
        async def extra_css_urls(self, tenant):
            return ["/x.css"]

    host = make_plugin_host([AsyncCollector()], load_entrypoints=False)
    assert await collect(host.hooks.extra_css_urls, tenant=SimpleNamespace(slug="t")) == ["/x.css"]
