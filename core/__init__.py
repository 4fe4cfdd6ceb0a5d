"""xueshi core: the public plugin API.

Plugins import only from this module (``from core import hookimpl, TenantSpec, ...``).
Everything named in ``__all__`` is supported; anything else in ``core.*`` may change.

Names are loaded on first use (PEP 562 ``__getattr__``): ``from core import hookimpl`` costs only
pluggy, and a plugin module that names a table or a helper loads just that area, never the face
libraries, images or spreadsheets it does not use.
"""

from __future__ import annotations

import importlib
from typing import Any

from core.audit.services import record as audit  # eager: the name is also the core.audit package's
from core.faces import __all__ as _FACE_NAMES
from core.hookspecs import hookimpl, hookspec

# public name -> (module, attribute in it)
_EXPORTS: dict[str, tuple[str, str]] = {
    **{name: ("core.faces", name) for name in _FACE_NAMES},
    **{name: ("core.tenancy", name) for name in ("Tenant", "TenantRules", "TenantSpec", "FaceRules")},
    **{name: ("core.identity", name) for name in (
        "InvalidIdentity", "is_valid_id_number", "mask_id_number", "mask_mobile", "mask_name",
        "normalize_id_number", "normalize_mobile", "normalize_credit_code")},
    "collect": ("core.hookcalls", "collect"),
    "notify_hook": ("core.hookcalls", "notify"),
    "Account": ("core.accounts.tables", "Account"),
    "Enterprise": ("core.accounts.tables", "Enterprise"),
    "hash_password": ("core.accounts.passwords", "hash_password"),
    "verify_password": ("core.accounts.passwords", "verify_password"),
    "upsert_account": ("core.accounts.services", "upsert_account"),
    **{name: ("core.values", name) for name in ("AccountRole", "DemoAccount", "DemoCourse", "DemoLesson", "MenuLink")},
    **{name: ("core.accounts.signin", name) for name in (
        "Field", "IdNumberPassword", "MobilePassword", "MobileSmsCode", "SigninFailed", "SigninMethod")},
    **{name: ("core.accounts.smscodes", name) for name in ("CodeError", "check_code", "count_code_request", "issue_code", "send_code")},
    **{name: ("core.files.images", name) for name in ("CleanImage", "ImageRejected", "clean_image")},
    "StoredFile": ("core.files.tables", "StoredFile"),
    **{name: ("core.roster.tables", name) for name in ("ImportJob", "LearnerProfile", "RosterEntry")},
    "TenantRow": ("core.tenants.tables", "TenantRow"),
    **{name: ("core.roster.spreadsheets", name) for name in (
        "Limits", "SpreadsheetRejected", "read_table", "read_table_async", "write_csv", "write_xlsx")},
    **{name: ("core.roster.imports", name) for name in (
        "begin_import", "commit_in_batches", "end_import", "import_failed", "run_roster_import")},
    **{name: ("core.roster.imports", name) for name in ("keep_table", "kept_table")},
    **{name: ("core.accounts.lockout", name) for name in ("Refused", "WrongPassword", "check_password")},
    **{name: ("core.accounts.passwords", name) for name in ("hash_password_async", "verify_password_async")},
    "WRONG_CREDENTIALS": ("core.accounts.signin", "WRONG"),
    **{name: ("core.files.limits", name) for name in ("MAX_UPLOAD_BYTES", "PHOTO_FORM_MAX_BODY")},
    "clean_image_async": ("core.files.images", "clean_image_async"),
    "JobSpec": ("core.jobs", "JobSpec"),
    "flow": ("core.capabilities", "flow"),
    "job_platform": ("core.jobs", "platform_of"),
    "job_tenants": ("core.jobs.specs", "tenants_of"),
    "report_progress": ("core.jobs", "report"),
    **{name: ("core.roster.imports", name) for name in (
        "Preview", "PreviewRow", "RosterColumn", "RowError", "commit_roster", "map_columns", "preview_roster")},
    "check_roster_row": ("core.roster.imports", "check_core"),
    "upsert_roster_rows": ("core.roster.imports", "upsert_rows"),
    "NotifyChannel": ("core.notify.services", "NotifyChannel"),
    "send_notification": ("core.notify.services", "send"),
    **{name: ("core.notify.services", name) for name in ("Secret", "SmsProvider", "placeholders")},
    "notify_texts": ("core.notify.services", "templates_for"),
    **{name: ("core.notify.gateway", name) for name in (
        "GatewayRules", "ProviderKey", "Receipt", "SmsError", "SmsGateway", "TemplateRef", "apply_receipts", "pull_receipts",
        "PROVIDER_ZONE", "provider_time", "send_queued", "sign_name", "values_in", "with_retries")},
    "Notification": ("core.notify.tables", "Notification"),
    "start_session": ("core.accounts.session_start", "start_session"),
    "articles": ("core.content.services", ""),  # the module itself
    "Article": ("core.content.tables", "Article"),
    "Consent": ("core.proctoring.tables", "Consent"),
    "face_consent_text": ("core.proctoring.consent", "face_consent_text"),
    "has_face_consent": ("core.proctoring.consent", "active_consent"),
    "face_consent_for_portrait": ("core.proctoring.consent", "for_portrait"),
    "PROFILE_IMAGES": ("core.proctoring.portrait", "IMAGES"),
    "portrait_gate": ("core.proctoring.portrait", "portrait_gate"),
    "Enrolment": ("core.proctoring.portrait", "Enrolment"),
    "enrol_images": ("core.proctoring.portrait", "enrol_images"),
    "Matches": ("core.roster.linking", "Matches"),
    "find_roster_matches": ("core.roster.linking", "find_matches"),
    "join_roster": ("core.roster.linking", "join"),
    "roster_entries_proven_by_mobile": ("core.roster.linking", "proven_by_mobile"),
    "Platform": ("core.kernel", "Platform"),
    "table_columns": ("core.db", "table_columns"),
    "Scoped": ("core.db.scoped", "Scoped"),
    "scoped": ("core.db.scoped", "scoped"),
    "DashboardFilters": ("core.dashboards.values", "DashboardFilters"),
    "DashboardPanel": ("core.dashboards.values", "DashboardPanel"),
    "dashboard_where": ("core.dashboards.sql", "where"),
    # Certificates (for cert_number / cert_issued / registry_exporters implementations)
    "Certificate": ("core.certificates.tables", "Certificate"),
    "CertificateField": ("core.certificates.fields", "CertificateField"),
    "RegistryExporter": ("core.certificates.registry", "RegistryExporter"),
    "RegistryRecord": ("core.certificates.registry", "RegistryRecord"),
    "exam_cleared": ("core.exams.eligibility", "exam_cleared"),
    **{name: ("core.exams.values", name) for name in ("ExamPolicy", "ScoredQuestion")},
    "seed_question_bank": ("core.exams.bank", "seed_bank"),
    **{name: ("core.web", name) for name in (
        "account_of", "base_of", "client_address", "is_htmx", "lookup_allowed", "TOO_MANY_LOOKUPS", "platform_of", "redirect", "render", "require",
        "roles", "signed_in", "tenant_of")},
}

__all__ = ["hookimpl", "hookspec", "audit", *_EXPORTS]


def __getattr__(name: str) -> Any:
    try:
        module, attribute = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module 'core' has no attribute {name!r}") from None
    loaded = importlib.import_module(module)
    value = getattr(loaded, attribute) if attribute else loaded
    globals()[name] = value  # the next lookup is an ordinary attribute
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
