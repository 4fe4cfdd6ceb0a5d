"""Plugin manager factory and tenant-scoped dispatch.

One manager per app instance (never a module global), so tests can build apps side by side.
A request for tenant X reaches X's tenant plugin and the global plugins only: the dispatcher
returned by ``PluginHost.hooks_for(slug)`` wraps pluggy's ``subset_hook_caller``.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable
from typing import Any

import pluggy

from core import hookspecs
from core.tenancy import TenantSpec

PROJECT = "xueshi"


async def resolve(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


async def collect(caller: pluggy.HookCaller, **kwargs: Any) -> list[Any]:
    """Call a collector hook and flatten its lists, awaiting async implementations."""
    out: list[Any] = []
    for result in caller(**kwargs):
        result = await resolve(result)
        if result is None:
            continue
        if isinstance(result, list | tuple):
            out.extend(result)
        else:
            out.append(result)
    return out


async def notify(caller: pluggy.HookCaller, **kwargs: Any) -> None:
    """Call a notification hook, awaiting async implementations."""
    for result in caller(**kwargs):
        await resolve(result)


class Hooks:
    """Attribute access to hook callers, optionally restricted to one tenant."""

    def __init__(self, pm: pluggy.PluginManager, excluded: Iterable[object] = ()) -> None:
        self._pm = pm
        self._excluded = list(excluded)
        self._cache: dict[str, pluggy.HookCaller] = {}

    def __getattr__(self, name: str) -> pluggy.HookCaller:
        if name.startswith("_"):
            raise AttributeError(name)
        caller = self._cache.get(name)
        if caller is None:
            if not self._excluded:
                caller = getattr(self._pm.hook, name)
            else:
                caller = self._pm.subset_hook_caller(name, remove_plugins=self._excluded)
            self._cache[name] = caller
        return caller


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
    from core import defaults

    pm = pluggy.PluginManager(PROJECT)
    pm.add_hookspecs(hookspecs)
    pm.register(defaults, name="core.defaults")
    if load_entrypoints:
        pm.load_setuptools_entrypoints(PROJECT)
    for plugin in plugins:
        if not pm.is_registered(plugin):
            pm.register(plugin)
    pm.check_pending()  # a misspelt hook name stops startup
    return PluginHost(pm)
