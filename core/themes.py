"""Themes: the repository's ``themes/<name>/`` folders and those plugins ship (``theme_dirs``).

A theme folder holds ``static/`` (``tokens.css`` with the colours, ``logo.svg``), served at
``/static/themes/<name>/static/``, and optionally ``templates/`` (partials such as
``_footer.html`` and ``certificates/_document_theme.css``), searched first for its tenants' pages.
A tenant names its theme in ``TenantSpec.theme``.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from core.tenancy import TenantSpec

THEMES_DIR = Path(__file__).parent.parent / "themes"
DEFAULT_THEME = "default"


def theme_folders(shipped: Iterable[tuple[str, Path]], specs: Iterable[TenantSpec]) -> dict[str, Path]:
    """Theme name → folder: the repository's themes, then those the plugins ship (``shipped``,
    the ``theme_dirs`` hook's pairs). Two themes with one name, or a tenant naming a theme nobody
    has, stop startup."""
    folders = {p.name: p for p in sorted(THEMES_DIR.iterdir()) if (p / "static").is_dir()}
    for name, folder in shipped:
        if name in folders:
            raise ValueError(f"two themes are named {name!r}: {folders[name]} and {folder}")
        if not (Path(folder) / "static").is_dir():
            raise ValueError(f"theme {name!r}: {folder} has no static/ folder")
        folders[name] = Path(folder)
    for spec in specs:
        if spec.theme not in folders:
            raise ValueError(f"tenant {spec.slug!r} names the theme {spec.theme!r}, which no folder provides "
                             f"(themes: {', '.join(sorted(folders))})")
    return folders


def static_url(theme: str, filename: str) -> str:
    """The address of one of a theme's public files (``tokens.css``, ``logo.svg``)."""
    return f"/static/themes/{theme}/static/{filename}"
