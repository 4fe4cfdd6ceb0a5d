"""Plugin manager factory and tenant-scoped dispatch.

One manager per app instance (never a module global), so tests can build apps side by side.
A request for tenant X reaches X's tenant plugin and the global plugins only: the dispatcher
returned by ``PluginHost.hooks_for(slug)`` wraps pluggy's ``subset_hook_caller``.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable

import pluggy

from core import defaults, hookspecs
from core.hookcalls import Hooks, collect, notify, resolve
from core.tenancy import TenantSpec

PROJECT = "xueshi"

__all__ = ["PROJECT", "Hooks", "PluginHost", "PluginManager", "collect", "make_plugin_host", "notify", "resolve"]


class PluginManager(pluggy.PluginManager):
    """pluggy's manager, refusing at registration what can only misbehave later."""

    def register(self, plugin: object, name: str | None = None) -> str | None:
        registered = super().register(plugin, name)
        for caller in self.get_hookcallers(plugin) or []:
            if not (caller.spec and caller.spec.opts.get("firstresult")):
                continue
            for impl in caller.get_hookimpls():
                if impl.plugin is plugin and inspect.iscoroutinefunction(impl.function):
                    self.unregister(plugin)
                    raise TypeError(
                        f"{self.get_name(plugin) or plugin!r}: {caller.name} stops at the first non-None "
                        f"result, so its implementation must decide synchronously; an 'async def' returns "
                        f"a coroutine, which always wins. Return the value (or an async closure as the value)."
                    )
        return registered


class PluginHost:
    """The app's plugin manager plus what it knows about tenant plugins."""

    def __init__(self, pm: pluggy.PluginManager) -> None:
        self.pm = pm
        self.hooks = Hooks(pm)
        self.tenant_plugins: dict[str, object] = {}
        self.specs: dict[str, TenantSpec] = {}
        for impl in pm.hook.tenant_declare.get_hookimpls():
            spec = impl.function()
            if not isinstance(spec, TenantSpec):
                raise TypeError(f"{impl.plugin_name}: tenant_declare() must return a TenantSpec")
            if spec.slug in self.specs:
                raise ValueError(f"two plugins declare the tenant slug {spec.slug!r}")
            self.tenant_plugins[spec.slug] = impl.plugin
            self.specs[spec.slug] = spec
        self._scoped: dict[str, Hooks] = {}

    def hooks_for(self, slug: str) -> Hooks:
        """Hooks that reach ``slug``'s plugin and the global ones, not other tenants'."""
        scoped = self._scoped.get(slug)
        if scoped is None:
            others = [p for s, p in self.tenant_plugins.items() if s != slug]
            scoped = self._scoped[slug] = Hooks(self.pm, excluded=others)
        return scoped

    def plugin_of(self, slug: str) -> object:
        return self.tenant_plugins[slug]

    def owner_tenant(self, plugin: object) -> str | None:
        for slug, p in self.tenant_plugins.items():
            if p is plugin:
                return slug
        return None


def make_plugin_host(plugins: Iterable[object] = (), *, load_entrypoints: bool = True) -> PluginHost:
    """Build a fresh plugin manager: core defaults, entry-point plugins, then ``plugins``."""
    pm = PluginManager(PROJECT)
    pm.add_hookspecs(hookspecs)
    pm.register(defaults, name="core.defaults")
    if load_entrypoints:
        pm.load_setuptools_entrypoints(PROJECT)
    for plugin in plugins:
        if not pm.is_registered(plugin):
            pm.register(plugin)
    pm.check_pending()  # a misspelt hook name stops startup
    return PluginHost(pm)
