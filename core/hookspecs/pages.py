"""Hook specs of the app, its routes and pages (templates, static files, themes, menus)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.hookspecs.markers import hookspec

if TYPE_CHECKING:  # types for readers and checkers only: no import cost, no cycles
    from litestar import Request

    from core.accounts.tables import Account
    from core.tenancy import Tenant
    from core.values import MenuLink


# ---------------------------------------------------------------------------------------------
# App, routes and pages
# ---------------------------------------------------------------------------------------------


@hookspec
def register_routes() -> list[Any] | None:
    """Litestar route handlers or controllers of this plugin.

    A tenant plugin's routes are served only under its own tenant (``/t/<slug>/…`` and its host
    names); a global plugin's routes are served under every tenant.
    """


@hookspec
def template_dirs() -> list[Path] | None:
    """Folders (``pathlib.Path``) holding this plugin's Jinja2 templates."""


@hookspec
def static_dirs() -> list[tuple[str, Path]] | None:
    """``(name, folder)`` pairs served at ``/static/plugins/<name>/``."""


@hookspec
def theme_dirs() -> list[tuple[str, Path]] | None:
    """``(name, folder)`` pairs: themes this plugin ships, chosen by ``TenantSpec.theme``. A
    folder holds ``static/`` (``tokens.css``, ``logo.svg``, served at
    ``/static/themes/<name>/static/``) and optionally ``templates/`` (searched first for the
    tenant's pages). A name may not repeat one of the repository's ``themes/`` or another plugin's."""


@hookspec
def extra_template_vars(request: Request, tenant: Tenant) -> dict[str, Any] | None:
    """Extra variables for every page rendered for ``tenant``. An ``async def`` value without
    arguments is awaited by ``render`` first, only for pages whose templates name it."""


@hookspec
def extra_css_urls(tenant: Tenant) -> list[str] | None:
    """Stylesheet URLs added to every page of ``tenant``."""


@hookspec
def menu_links(tenant: Tenant, account: Account | None) -> list[MenuLink] | None:
    """``MenuLink`` items for the navigation of the signed-in ``account`` (``render`` asks only
    for signed-in accounts; other callers may pass None for an anonymous visitor)."""


@hookspec
def menu_hidden(tenant: Tenant, account: Account) -> list[str] | None:
    """``href``s of menu links (any plugin's, the core's included) that ``account`` is not shown
    in ``tenant``'s menu. Hiding a link leaves its page where it was."""
