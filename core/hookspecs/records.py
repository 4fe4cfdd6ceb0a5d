"""Hook specs of the platform's records: database apps, background jobs, certificates and the
national registry, exams, dashboards."""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.hookspecs.markers import hookspec

if TYPE_CHECKING:  # types for readers and checkers only: no import cost, no cycles
    from core.accounts.tables import Account
    from core.certificates.fields import CertificateField
    from core.certificates.registry import RegistryExporter
    from core.certificates.tables import Certificate
    from core.courses.tables import Course, Enrollment
    from core.dashboards.values import DashboardFilters, DashboardPanel
    from core.exams.tables import ExamAttempt
    from core.exams.values import ExamPolicy, ScoredQuestion
    from core.jobs import JobSpec
    from core.tenancy import Tenant


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
    certificate it voided (a renewal), or None for a first issue."""


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
