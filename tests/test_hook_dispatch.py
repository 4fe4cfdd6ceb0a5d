"""The startup collectors (tenant_declare, register_routes, template_dirs, static_dirs, db_apps,
register_jobs, tenant_rules_sections) are called through pluggy, so pluggy's call monitoring
(tracing) sees them, and an implementation may return None as the specs allow."""

from __future__ import annotations

import msgspec

from core import TenantSpec, hookimpl
from core.app import create_app
from core.jobs.builtin import collect_specs
from core.kernel import build_platform
from core.plugins import PluginHost, collected, make_plugin_host, per_plugin
from core.settings import Settings
from core.tenants.services import rules_sections

STARTUP_HOOKS = {"tenant_declare", "register_routes", "template_dirs", "static_dirs", "db_apps", "register_jobs",
                 "tenant_rules_sections"}


class Quiet:
    """A global plugin whose collectors contribute nothing (None)."""

    @hookimpl
    def static_dirs(self):
        return None

    @hookimpl
    def register_routes(self):
        return None

    @hookimpl
    def template_dirs(self):
        return None

    @hookimpl
    def register_jobs(self):
        return None

    @hookimpl
    def db_apps(self):
        return None


class DispatchSection(msgspec.Struct):
    level: int = 1


class Declares:
    @hookimpl
    def tenant_declare(self):
        return TenantSpec(slug="dispatch", name="调度测试", name_en="Dispatch test")

    @hookimpl
    def tenant_rules_sections(self):
        return {"dispatch_extra": DispatchSection}


def test_collectors_returning_none_add_nothing_and_the_app_starts(tmp_path):
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'db.sqlite3'}", secret_key="k", var_dir=tmp_path,
                        load_entrypoints=True)
    plain = build_platform(settings)
    quiet = Quiet()
    platform = build_platform(settings, [quiet])
    assert create_app(platform=platform) is not None  # static_dirs() -> None crashed create_app
    assert len(collect_specs(platform)) == len(collect_specs(plain))
    assert collected(platform.plugins.pm, "static_dirs") == collected(plain.plugins.pm, "static_dirs")


def test_startup_collectors_go_through_pluggys_call_machinery():
    seen: list[str] = []
    host = make_plugin_host([Declares(), Quiet()], load_entrypoints=True)
    undo = host.pm.add_hookcall_monitoring(lambda name, impls, kwargs: seen.append(name), lambda *a: None)
    try:
        again = PluginHost(host.pm)  # the tenant declarations, read through pluggy
        assert isinstance(again.plugin_of("dispatch"), Declares)
        sections = rules_sections(again, "dispatch")  # its own and the global plugins' (the SMS provider's)
        assert sections["dispatch_extra"] is DispatchSection and "acme" not in sections
        for name in ("register_routes", "template_dirs", "static_dirs", "db_apps", "register_jobs"):
            per_plugin(host.pm, name)
        assert STARTUP_HOOKS <= set(seen)
    finally:
        undo()


def test_per_plugin_keeps_each_plugins_results_apart():
    host = make_plugin_host([Declares(), Quiet()], load_entrypoints=True)
    by_plugin = dict(per_plugin(host.pm, "tenant_declare"))
    assert [spec.slug for spec in by_plugin[host.plugin_of("dispatch")]] == ["dispatch"]
    assert all(len(specs) == 1 for specs in by_plugin.values())  # one declaration per tenant plugin
    assert {slug for slug, _ in host.owned("template_dirs") if slug} <= set(host.specs)


class Wraps:
    """A global plugin that only wraps collector hooks (as a tracing or auditing plugin would)."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, list]] = []

    @hookimpl(wrapper=True)
    def template_dirs(self):
        results = yield
        self.seen.append(("template_dirs", results))
        return results

    @hookimpl(hookwrapper=True)
    def tenant_declare(self):
        outcome = yield
        self.seen.append(("tenant_declare", outcome.get_result()))


def test_a_wrapping_plugin_wraps_each_per_plugin_call():
    wraps = Wraps()
    host = make_plugin_host([Declares(), wraps], load_entrypoints=True)
    by_plugin = per_plugin(host.pm, "template_dirs")
    assert wraps not in dict(by_plugin)  # a wrapper is no implementer: it has no results of its own
    assert [results for name, results in wraps.seen if name == "template_dirs"] == [r for _, r in by_plugin]
    assert len(by_plugin) >= 2  # the tenant plugins' template folders, each call wrapped
    wraps.seen.clear()
    again = PluginHost(host.pm)  # declarations are read per plugin too, and wrapped
    declared = [spec.slug for name, results in wraps.seen if name == "tenant_declare" for spec in results]
    assert sorted(declared) == sorted(again.specs) and "dispatch" in declared
