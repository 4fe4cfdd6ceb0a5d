"""Every hook spec of xueshi, grouped by area.

Conventions (docs/hooks.md has the full reference):

* collectors return lists (or ``None`` to contribute nothing) and every implementation is called;
* resolvers are ``firstresult=True``; the core's own default (``core/defaults``) is ``trylast``.
  A resolver implementation must decide synchronously: an ``async def`` returns a coroutine,
  which is never ``None``, so it would always win;
* notifications are named in the past tense and return nothing;
* impls of collectors and notifications may be ``def`` or ``async def``: the core awaits them.

Tenant-scoped hooks take ``tenant`` and reach only that tenant's plugin plus the global ones.
"""

from __future__ import annotations

from typing import Any

import pluggy

hookspec = pluggy.HookspecMarker("xueshi")
hookimpl = pluggy.HookimplMarker("xueshi")


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
def template_dirs() -> list[Any] | None:
    """Folders (``pathlib.Path``) holding this plugin's Jinja2 templates."""


@hookspec
def static_dirs() -> list[Any] | None:
    """``(name, folder)`` pairs served at ``/static/plugins/<name>/``."""


@hookspec
def extra_template_vars(request: Any, tenant: Any) -> dict[str, Any] | None:
    """Extra variables for every page rendered for ``tenant``."""


@hookspec
def extra_css_urls(tenant: Any) -> list[str] | None:
    """Stylesheet URLs added to every page of ``tenant``."""


@hookspec
def menu_links(tenant: Any, account: Any) -> list[Any] | None:
    """``MenuLink`` items for the navigation of the signed-in ``account`` (None when anonymous)."""


# ---------------------------------------------------------------------------------------------
# Tenants
# ---------------------------------------------------------------------------------------------


@hookspec
def tenant_declare() -> Any:
    """A tenant plugin returns its ``TenantSpec`` (slug, names, hosts, theme, rules file)."""


@hookspec
def tenant_onboard(tenant: Any) -> list[str] | None:
    """Create the tenant's own data (positions, courses, …). Must be idempotent: it runs at
    every startup and ``xueshi tenants sync``. Returns human-readable lines of what it did."""


@hookspec
def tenant_demo_accounts(tenant: Any) -> list[Any] | None:
    """``DemoAccount`` items the demo command creates for ``tenant`` and prints."""


# ---------------------------------------------------------------------------------------------
# Accounts and sign-in
# ---------------------------------------------------------------------------------------------


@hookspec
def signin_methods(tenant: Any) -> list[Any] | None:
    """``SigninMethod`` objects offered on the tenant's sign-in page, in order."""


@hookspec(firstresult=True)
def account_password_problem(tenant: Any, password: str) -> str | None:
    """Return the Chinese message explaining why ``password`` is unacceptable, or ``""`` when it
    is fine. The core default (trylast) asks for 8+ characters with letters and digits."""


@hookspec
def account_signed_in(tenant: Any, account: Any) -> None:
    """An account signed in (after the session was rotated)."""


# ---------------------------------------------------------------------------------------------
# Roster (company staff lists)
# ---------------------------------------------------------------------------------------------


@hookspec
def roster_columns(tenant: Any) -> list[Any] | None:
    """Extra ``RosterColumn`` definitions of the tenant's roster spreadsheet."""


@hookspec
def roster_validate_row(tenant: Any, row: dict[str, Any]) -> list[Any] | None:
    """Extra ``RowError`` items for one parsed roster row (core checks run first)."""


@hookspec(firstresult=True)
def roster_link_profile(tenant: Any, profile: Any, entry: Any) -> bool | None:
    """Decide whether a learner profile joins a roster entry ("未加入" → "已加入").
    The core default (trylast) links when the ID numbers are equal."""


@hookspec
def roster_imported(tenant: Any, enterprise: Any, summary: Any) -> None:
    """A roster import was committed."""


@hookspec
def roster_linked(tenant: Any, entry: Any, profile: Any) -> None:
    """A learner profile joined a company's roster entry."""


# ---------------------------------------------------------------------------------------------
# Study sessions
# ---------------------------------------------------------------------------------------------


@hookspec(firstresult=True)
def study_policy(tenant: Any, course: Any) -> Any:
    """The ``StudyPolicy`` for a course: seeking allowed, snapshot interval, idle limit."""


@hookspec
def study_completed(tenant: Any, enrollment: Any) -> None:
    """All lessons of an enrollment were studied to the end."""


# ---------------------------------------------------------------------------------------------
# Proctoring and faces
# ---------------------------------------------------------------------------------------------


@hookspec
def face_providers() -> list[Any] | None:
    """Face provider objects (see ``core.faces``); tenant rules select them by name."""


@hookspec(firstresult=True)
def proctor_challenge_actions(tenant: Any) -> list[str] | None:
    """The liveness actions the tenant allows in a challenge (core default: all the liveness
    provider supports)."""


@hookspec
def proctor_verified(tenant: Any, account: Any, verdict: Any) -> None:
    """A face verification ended (passed or failed); ``verdict`` holds scores and reasons."""


# ---------------------------------------------------------------------------------------------
# Review of study hours
# ---------------------------------------------------------------------------------------------


@hookspec
def review_decided(tenant: Any, enrollment: Any, approved: bool, reason: str) -> None:
    """A reviewer approved the hours, or cleared them (substitute or idle study)."""


# ---------------------------------------------------------------------------------------------
# Exams
# ---------------------------------------------------------------------------------------------


@hookspec(firstresult=True)
def exam_policy(tenant: Any, course: Any) -> Any:
    """The ``ExamPolicy``: number of questions, total and pass points, retakes."""


@hookspec(firstresult=True)
def exam_score(tenant: Any, policy: Any, questions: list[Any], answers: dict[str, Any]) -> Any:
    """Score one attempt; returns ``ExamScore``. Core default: equal points, exact answers."""


@hookspec
def exam_submitted(tenant: Any, attempt: Any) -> None:
    """An exam attempt was submitted and scored."""


# ---------------------------------------------------------------------------------------------
# Certificates
# ---------------------------------------------------------------------------------------------


@hookspec(firstresult=True)
def cert_number(tenant: Any, kind: str, year: int, sequence: int) -> str | None:
    """The printed number of a new certificate."""


@hookspec
def cert_issued(tenant: Any, certificate: Any, replaces: Any) -> None:
    """A certificate was issued; ``replaces`` is the voided one on renewal, else None."""


# ---------------------------------------------------------------------------------------------
# Notifications
# ---------------------------------------------------------------------------------------------


@hookspec
def notify_channels() -> list[Any] | None:
    """Delivery channel objects (``NotifyChannel``): SMS providers and the like."""


@hookspec
def notify_templates(tenant: Any) -> dict[str, str] | None:
    """Message templates by key; a tenant plugin's override the core defaults."""


@hookspec
def notify_sent(tenant: Any, notification: Any) -> None:
    """A notification left the outbox through its channel."""
