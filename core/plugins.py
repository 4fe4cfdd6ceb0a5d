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

__all__ = ["PROJECT", "Hooks", "PluginHost", "PluginManager", "collect", "collected", "make_plugin_host", "notify",
           "per_plugin", "resolve"]


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


def per_plugin(pm: pluggy.PluginManager, name: str, **kwargs: object) -> list[tuple[object, list]]:
    """Call hook ``name`` through pluggy once for each plugin that implements it, in pluggy's
    registration order: ``[(plugin, its results), …]``. For the startup collectors whose
    results belong to a plugin (a tenant's routes, templates, rules sections, its declaration).
    Each call is pluggy's own (``subset_hook_caller`` without the other implementing plugins),
    so call monitoring (tracing) sees it and a plugin that only wraps the hook (``wrapper=True``
    or ``hookwrapper=True``) wraps every one of these calls; a plugin that both implements and
    wraps the hook wraps only its own."""
    caller = getattr(pm.hook, name)
    implementers = list(dict.fromkeys(impl.plugin for impl in caller.get_hookimpls()
                                      if not (impl.wrapper or impl.hookwrapper)))
    return [(plugin, pm.subset_hook_caller(name, remove_plugins=[p for p in implementers if p is not plugin])(**kwargs))
            for plugin in implementers]


def collected(pm: pluggy.PluginManager, name: str, **kwargs: object) -> list:
    """Every item of collector hook ``name``'s lists, plugin by plugin in registration order
    (an implementation may return None: it adds nothing)."""
    return [item for _, results in per_plugin(pm, name, **kwargs) for result in results for item in result]


class PluginHost:
    """The app's plugin manager plus what it knows about tenant plugins."""

    def __init__(self, pm: pluggy.PluginManager) -> None:
        self.pm = pm
        self.hooks = Hooks(pm)
        self.tenant_plugins: dict[str, object] = {}
        self.specs: dict[str, TenantSpec] = {}
        for plugin, specs in per_plugin(pm, "tenant_declare"):
            for spec in specs:
                if not isinstance(spec, TenantSpec):
                    raise TypeError(f"{pm.get_name(plugin)}: tenant_declare() must return a TenantSpec")
                if spec.slug in self.specs:
                    raise ValueError(f"two plugins declare the tenant slug {spec.slug!r}")
                self.tenant_plugins[spec.slug] = plugin
                self.specs[spec.slug] = spec
        self._scoped: dict[str, Hooks] = {}

    def owned(self, name: str) -> list[tuple[str | None, list]]:
        """Collector hook ``name``'s items per plugin: ``[(owning tenant or None, items), …]``."""
        return [(self.owner_tenant(plugin), [item for result in results for item in result])
                for plugin, results in per_plugin(self.pm, name)]

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
