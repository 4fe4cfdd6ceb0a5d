"""Which of the core's flows a tenant offers (``[capabilities]`` in its rules.toml).

A flow's pages, menu links and jobs carry the flow's name (``core.tenancy.FLOWS``); for a tenant
whose rules switch the flow off, its router mounts none of those pages (they answer 404 there and
only there), its menu leaves the links out, and the flow's jobs are neither queued nor run for it.
Pages name their flow with ``flow(name, handlers)`` or ``opt={"flow": name}``, menu links with
``MenuLink(flow=…)``, jobs with ``JobSpec(flow=…)``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from core.tenancy import FLOWS, Tenant

FLOW_KEY = "flow"


def flow(name: str, handlers: Iterable[Any]) -> list[Any]:
    """Mark route handlers (or routers) as the pages of flow ``name``; returns them as a list."""
    if name not in FLOWS:
        raise KeyError(f"no flow {name!r}; the flows are {', '.join(FLOWS)}")
    out = list(handlers)
    for handler in out:
        if handler.opt.get(FLOW_KEY, name) != name:
            raise ValueError(f"{handler} belongs to flow {handler.opt[FLOW_KEY]!r}, not {name!r}")
        handler.opt[FLOW_KEY] = name
    return out


def flow_of(handler: Any) -> str | None:
    return (getattr(handler, "opt", None) or {}).get(FLOW_KEY)


def mounted(tenant: Tenant, handlers: Iterable[Any]) -> list[Any]:
    """The handlers a tenant's router mounts: those of no flow or of a flow the tenant offers."""
    return [h for h in handlers if tenant.offers(flow_of(h))]


def offered_links(tenant: Tenant, links: Iterable[Any]) -> list[Any]:
    """Menu links of no flow or of a flow the tenant offers."""
    return [m for m in links if tenant.offers(m.flow)]


def offering(tenants: Iterable[Tenant], name: str | None) -> list[Tenant]:
    """The tenants that offer flow ``name`` (all of them for None)."""
    return [t for t in tenants if t.offers(name)]
