"""Every hook spec of xueshi, one module per area (``pages``, ``tenants``, ``learning``,
``records``), all importable from here: ``pluggy`` reads them from this package.

Conventions (docs/hooks.md has the full reference):

* collectors return lists (or ``None`` to contribute nothing) and every implementation is called;
* resolvers are ``firstresult=True`` and stop at the first non-None result; the core's own
  default (``core/defaults``) is ``trylast``. A resolver implementation must decide
  synchronously: an ``async def`` returns a coroutine, which is never ``None``, so it would
  always win; ``core.plugins.PluginManager`` refuses one at registration;
* notifications are named in the past tense and return nothing;
* impls of collectors and notifications may be ``def`` or ``async def``: the core awaits them.

Tenant-scoped hooks take ``tenant`` and reach only that tenant's plugin plus the global ones.
"""

from __future__ import annotations

from core.hookspecs.markers import hookimpl, hookspec  # noqa: F401  (core and plugins import them from here)
from core.hookspecs.pages import (  # noqa: F401  (re-exported: the specs pluggy reads)
    register_routes,
    template_dirs,
    static_dirs,
    theme_dirs,
    extra_template_vars,
    extra_css_urls,
    menu_links,
    menu_hidden,
)
from core.hookspecs.tenants import (  # noqa: F401  (re-exported: the specs pluggy reads)
    account_roles,
    tenant_declare,
    tenant_rules_sections,
    tenant_onboard,
    tenant_demo_accounts,
    tenant_demo_data,
    tenant_demo_courses,
    signin_methods,
    account_password_problem,
    account_signed_in,
)
from core.hookspecs.learning import (  # noqa: F401  (re-exported: the specs pluggy reads)
    roster_columns,
    roster_validate_row,
    roster_link_profile,
    roster_imported,
    roster_linked,
    face_providers,
    proctor_challenge_actions,
    proctor_verified,
    proctor_snapshot_checked,
    proctor_flagged,
    review_decided,
    review_appealed,
    notify_channels,
    notify_templates,
    notify_sent,
)
from core.hookspecs.records import (  # noqa: F401  (re-exported: the specs pluggy reads)
    db_apps,
    register_jobs,
    cert_number,
    cert_issued,
    certificate_fields,
    registry_exporters,
    exam_policy,
    exam_score,
    exam_submitted,
    dashboard_panels,
)
