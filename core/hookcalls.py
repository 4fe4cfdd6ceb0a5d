"""Calling hooks: one helper per hook shape, awaiting whatever an implementation returns.

A leaf module (pluggy only), so any area can call hooks without importing the plugin host.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable
from typing import Any

import pluggy


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
