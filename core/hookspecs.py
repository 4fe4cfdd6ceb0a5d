"""Every hook spec of xueshi, grouped by area.

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

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:  # types for readers and checkers only: no import cost, no cycles
    import msgspec
    from litestar import Request

    from core.accounts.signin import SigninMethod
    from core.accounts.tables import Account, Enterprise
    from core.certificates.registry import RegistryExporter
    from core.certificates.fields import CertificateField
    from core.certificates.tables import Certificate
    from core.courses.tables import Course, Enrollment
    from core.dashboards.values import DashboardFilters, DashboardPanel
    from core.exams.tables import ExamAttempt
    from core.exams.values import ExamPolicy, ScoredQuestion
    from core.proctoring.tables import FaceVerification
    from core.faces import FaceProvider, Verdict
    from core.jobs import JobSpec
    from core.notify.services import NotifyChannel
    from core.notify.tables import Notification
    from core.review.tables import Appeal, ReviewDecision
    from core.roster.imports import RosterColumn, RowError
    from core.roster.tables import LearnerProfile, RosterEntry
    from core.tenancy import Tenant, TenantSpec
    from core.values import DemoAccount, DemoCourse, MenuLink

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


# ---------------------------------------------------------------------------------------------
# Tenants
# ---------------------------------------------------------------------------------------------


@hookspec
def tenant_declare() -> TenantSpec | None:
    """A tenant plugin returns its ``TenantSpec`` (slug, names, hosts, theme, rules file)."""


@hookspec
def tenant_rules_sections() -> dict[str, type[msgspec.Struct]] | None:
    """This plugin's own rules sections: ``{key: msgspec Struct type}``. A tenant's rules.toml
    may then hold ``[key]``, validated at startup like the core's sections (a wrong key or value
    stops startup naming the file and the key; a missing section gets the type's defaults).
    Read by ``tenant.section(key)``. A tenant plugin's sections apply to its own tenant, a global
    plugin's to every tenant; a key may not repeat a core section or another plugin's key.
    Called once when the platform is built (must be a plain ``def``)."""


@hookspec
def tenant_onboard(tenant: Tenant) -> list[str] | None:
    """Create the tenant's own data (positions, courses, …). Must be idempotent: it runs at
    every startup and ``xueshi tenants sync``. Returns human-readable lines of what it did."""


@hookspec
def tenant_demo_accounts(tenant: Tenant) -> list[DemoAccount] | None:
    """``DemoAccount`` items the demo command creates for ``tenant`` and prints."""


@hookspec
def tenant_demo_data(tenant: Tenant) -> list[str] | None:
    """Called by the demo command after ``tenant``'s demo accounts exist: create the tenant's own
    demo records (so every page of the demo shows data). Idempotent; returns lines to print."""


@hookspec
def tenant_demo_courses(tenant: Tenant) -> list[DemoCourse] | None:
    """``DemoCourse`` items the demo command creates for ``tenant`` (positions, course, lesson
    videos made on the spot, demo learners of those positions enrolled). Idempotent by title."""


# ---------------------------------------------------------------------------------------------
# Accounts and sign-in
# ---------------------------------------------------------------------------------------------


@hookspec
def signin_methods(tenant: Tenant) -> list[SigninMethod] | None:
    """``SigninMethod`` objects offered on the tenant's sign-in page, in order."""


@hookspec(firstresult=True)
def account_password_problem(tenant: Tenant | None, password: str) -> str | None:
    """Return the Chinese message explaining why ``password`` is unacceptable, or ``""`` when it
    is fine. The core default (trylast) asks for 8+ characters with letters and digits.
    Stops at the first non-None result.

    :param tenant: the tenant, or None for a platform operator's password.
    :param password: the proposed new password, in clear (never log it).
    """


@hookspec
def account_signed_in(tenant: Tenant, account: Account) -> None:
    """An account signed in (after the session was rotated)."""


# ---------------------------------------------------------------------------------------------
# Roster (company staff lists)
# ---------------------------------------------------------------------------------------------


@hookspec
def roster_columns(tenant: Tenant) -> list[RosterColumn] | None:
    """Extra ``RosterColumn`` definitions of the tenant's roster spreadsheet."""


@hookspec
def roster_validate_row(tenant: Tenant, row: dict[str, Any]) -> list[RowError] | None:
    """Extra ``RowError`` items for one parsed roster row (core checks run first)."""


@hookspec(firstresult=True)
def roster_link_profile(tenant: Tenant, profile: LearnerProfile, entry: RosterEntry) -> bool | None:
    """Decide whether a learner profile joins a roster entry ("未加入" → "已加入").
    The core default (trylast) links when the ID numbers are equal. Stops at the first
    non-None result."""


@hookspec
def roster_imported(tenant: Tenant, enterprise: Enterprise, summary: dict[str, Any]) -> None:
    """A roster import was committed."""


@hookspec
def roster_linked(tenant: Tenant, entry: RosterEntry, profile: LearnerProfile) -> None:
    """A learner profile joined a company's roster entry."""


# ---------------------------------------------------------------------------------------------
# Proctoring and faces
# ---------------------------------------------------------------------------------------------


@hookspec
def face_providers() -> list[FaceProvider] | None:
    """Face provider objects (see ``core.faces``); tenant rules select them by name."""


@hookspec(firstresult=True)
def proctor_challenge_actions(tenant: Tenant) -> list[str] | None:
    """The liveness actions the tenant allows in a challenge (core default: all the liveness
    provider supports). Stops at the first non-None result."""


@hookspec
def proctor_verified(tenant: Tenant, account: Account, verdict: Verdict) -> None:
    """A face verification ended (passed or failed); ``verdict`` holds scores and reasons."""


@hookspec
def proctor_snapshot_checked(tenant: Tenant, account: Account, verification: FaceVerification,
                             outcome: str) -> None:
    """A snapshot taken during study was judged. ``verification`` is its ``FaceVerification``
    (``purpose="snapshot"``: status, scores, evidence file ids); ``outcome`` is ``ok``,
    ``mismatch``, ``no_face``, ``faces`` or ``missing`` (never uploaded in time)."""


@hookspec
def proctor_flagged(tenant: Tenant, account: Account, enrollment: Enrollment, reason: str) -> None:
    """An enrolment was flagged for review by proctoring (once per enrolment). ``reason``:
    ``repeated_mismatch`` (snapshots of another person) or ``shared_face`` (the same face studies
    for another account of the tenant; both accounts' enrolments are flagged)."""


# ---------------------------------------------------------------------------------------------
# Review of study hours
# ---------------------------------------------------------------------------------------------


@hookspec
def review_decided(tenant: Tenant, enrollment: Enrollment, decision: ReviewDecision) -> None:
    """A reviewer decided on an enrolment (after the change is committed and the learner told).

    :param enrollment: the enrolment as it is now (``status`` approved, cleared or still review).
    :param decision: ``kind`` approve | clear | reverify | appeal_upheld | appeal_rejected;
        a clearing is announced twice: when proposed (``status`` pending) and when a second
        reviewer confirms it (``done``, ``reversed_seconds`` taken off the ledger) or declines it
        (``cancelled``).
    """


@hookspec
def review_appealed(tenant: Tenant, enrollment: Enrollment, appeal: Appeal) -> None:
    """A learner appealed a clearing (statement, optional cleaned photo); the learner's face
    evidence is on legal hold until a reviewer decides."""


# ---------------------------------------------------------------------------------------------
# Notifications
# ---------------------------------------------------------------------------------------------


@hookspec
def notify_channels() -> list[NotifyChannel] | None:
    """Delivery channel objects (``NotifyChannel``): SMS providers and the like."""


@hookspec
def notify_templates(tenant: Tenant) -> dict[str, str] | None:
    """Message templates by key; a tenant plugin's override the core defaults."""


@hookspec
def notify_sent(tenant: Tenant, notification: Notification) -> None:
    """A notification left the outbox through its channel."""


# ---------------------------------------------------------------------------------------------
# Database
# ---------------------------------------------------------------------------------------------


@hookspec
def db_apps() -> list[str] | None:
    """Dotted paths of this plugin's Piccolo app modules (each with an ``APP_CONFIG`` whose
    migrations depend on the core's ``xueshi`` app). Registered before the first query; migrated
    by ``xueshi migrate``. Read once when the platform is built, not per tenant."""


# ---------------------------------------------------------------------------------------------
# Jobs
# ---------------------------------------------------------------------------------------------


@hookspec
def register_jobs() -> list[JobSpec] | None:
    """``JobSpec`` objects of this plugin's background jobs (each with its own ``timeout`` and
    ``retries``, optionally ``cron``). Read once when the platform is built, for every tenant:
    a ``xueshi worker`` runs the jobs of all plugins. Implementations must be plain ``def``."""


# ---------------------------------------------------------------------------------------------
# Certificates and the national registry
# ---------------------------------------------------------------------------------------------


@hookspec(firstresult=True)
def cert_number(tenant: Tenant, enrollment: Enrollment, course: Course, revision: int) -> str | None:
    """The number printed on a new certificate of ``enrollment`` (``revision`` 1 for the first,
    2 for the first renewal, …). Must be unique within the tenant for each (enrolment, revision)
    and at most 64 characters. The core default (trylast) gives
    ``<SLUG><year><enrolment id, 7 digits>-<revision, 2 digits>``. Stops at the first non-None
    result (decide synchronously).

    :param tenant: the tenant issuing the certificate.
    :param enrollment: the approved enrolment (``core.courses.tables.Enrollment``).
    :param course: its course (year, title, position id).
    :param revision: the certificate's revision for this enrolment, from 1.
    """


@hookspec
def cert_issued(tenant: Tenant, certificate: Certificate, replaced: Certificate | None) -> None:
    """A certificate was issued and stored (its PDF and SHA-256 are final). ``replaced`` is the
    certificate it voided (证书更新), or None for a first issue."""


@hookspec
def certificate_fields(tenant: Tenant, certificate: Certificate, account: Account) -> list[CertificateField] | None:
    """Extra ``CertificateField`` lines for a certificate being issued (``certificate`` is the
    row about to be saved, ``account`` its holder): a label with a text value, or with an image.
    Text fields are printed and kept with the certificate, and shown on the public verification
    page unless ``public=False``; images are printed on the PDF only."""


@hookspec
def registry_exporters(tenant: Tenant) -> list[RegistryExporter] | None:
    """``RegistryExporter`` objects (``core.certificates.registry``) that write the national
    registry report (机构 / 岗位 / 已上传学时数 / 总学时数 / 上传日期, name and ID number per learner
    and position) in a registry's own format. The core adds ``xlsx`` and ``csv``; a report uses
    the exporter named by its key (a plugin's exporter with the same key as a core one wins)."""


# ---------------------------------------------------------------------------------------------
# Exams
# ---------------------------------------------------------------------------------------------


@hookspec(firstresult=True)
def exam_policy(tenant: Tenant, position: str, course: Course) -> ExamPolicy | None:
    """Whether learners of ``position`` (its name) on ``course`` take an exam, and the paper's
    shape (questions, total and pass points, attempts, time limit) and the pacing of retakes
    (cool-down minutes, attempts a day). The core default (trylast)
    reads the tenant's ``[exam]`` rules: required for the positions listed in ``exam.positions``.
    Stops at the first non-None result.

    :param tenant: the tenant.
    :param position: the course's position name (岗位), e.g. ``"施工员"``.
    :param course: the course the learner is enrolled on.
    """


@hookspec(firstresult=True)
def exam_score(tenant: Tenant, question: ScoredQuestion) -> float | None:
    """The fraction (0 to 1) of ``question.points_centi`` a learner's choice earns. The core
    default (trylast) gives all of it for exactly the correct options and nothing otherwise
    (多选: no partial credit). Values outside 0…1 are clamped. Stops at the first non-None result.

    :param tenant: the tenant.
    :param question: kind, correct letters, chosen letters (original letters, sorted; ``""`` =
        not answered) and the question's points on this paper in hundredths.
    """


@hookspec
def exam_submitted(tenant: Tenant, account: Account, attempt: ExamAttempt) -> None:
    """An attempt was submitted and scored: by the learner (``attempt.status == "submitted"``)
    or by the server when its time was up (``"expired"``). ``attempt.score_centi`` and
    ``attempt.passed`` are final. Called once per attempt, after the commit."""


# ---------------------------------------------------------------------------------------------
# Dashboards


@hookspec
def dashboard_panels(tenant: Tenant, filters: DashboardFilters) -> list[DashboardPanel] | None:
    """The tenant's own ``DashboardPanel`` items on its 数据看板 (``/admin/dashboard``), for the
    page's ``filters`` (year, position, course, company). Each is drawn as a chart beside its data
    table and included in the XLSX export, like the core's. Figures must come from grouped SQL
    queries through ``scoped`` (never rows loaded into Python): the page is timed at national
    scale (benchmarks/bench_dashboards.py)."""
