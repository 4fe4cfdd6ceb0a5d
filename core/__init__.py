"""xueshi core: the public plugin API.

Plugins import only from this module (``from core import hookimpl, TenantSpec, ...``).
Everything named in ``__all__`` is supported; anything else in ``core.*`` may change.
"""

from core import faces as _faces
from core.faces import *  # noqa: F401,F403  (the face provider contract)
from core.hookspecs import hookimpl, hookspec
from core.tenancy import Tenant, TenantRules, TenantSpec
from core.identity import (
    InvalidIdentity,
    is_valid_id_number,
    mask_id_number,
    mask_mobile,
    mask_name,
    normalize_id_number,
    normalize_mobile,
    normalize_credit_code,
)
from core.hookcalls import collect, notify as notify_hook
from core.accounts.tables import Account, Enterprise
from core.accounts.passwords import hash_password, verify_password
from core.accounts.services import upsert_account
from core.values import DemoAccount, DemoCourse, DemoLesson, MenuLink
from core.accounts.signin import Field, IdNumberPassword, MobilePassword, MobileSmsCode, SigninFailed, SigninMethod
from core.accounts.smscodes import CodeError, check_code, issue_code, send_code
from core.audit.services import record as audit
from core.files.images import CleanImage, ImageRejected, clean_image
from core.files.tables import StoredFile
from core.roster.tables import CertificateHolder, ImportJob, LearnerProfile, RosterEntry
from core.roster.spreadsheets import Limits, SpreadsheetRejected, read_table, write_csv, write_xlsx
from core.roster.imports import Preview, PreviewRow, RosterColumn, RowError, commit_roster, map_columns, preview_roster
from core.roster.imports import check_core as check_roster_row, upsert_rows as upsert_roster_rows
from core.notify.services import NotifyChannel, send as send_notification
from core.accounts.session_start import start_session
from core.content import services as articles
from core.content.tables import Article
from core.proctoring.tables import Consent
from core.proctoring.portrait import IMAGES as PROFILE_IMAGES, Enrolment, enrol_images
from core.roster.linking import Matches, find_matches as find_roster_matches, join as join_roster
from core.kernel import Platform
from core.web import (
    account_of,
    base_of,
    client_address,
    is_htmx,
    platform_of,
    redirect,
    render,
    require,
    roles,
    signed_in,
    tenant_of,
)

__all__ = [
    "hookimpl", "hookspec",
    "Tenant", "TenantRules", "TenantSpec",
    "InvalidIdentity", "is_valid_id_number", "mask_id_number", "mask_mobile", "mask_name",
    "normalize_id_number", "normalize_mobile", "normalize_credit_code",
    "collect", "notify_hook",
    "Account", "Enterprise", "hash_password", "verify_password", "DemoAccount", "DemoCourse", "DemoLesson", "upsert_account",
    "Field", "IdNumberPassword", "MobilePassword", "MobileSmsCode", "SigninFailed", "SigninMethod",
    "CodeError", "check_code", "issue_code", "send_code", "audit",
    "CleanImage", "ImageRejected", "clean_image", "StoredFile",
    "CertificateHolder", "ImportJob", "LearnerProfile", "RosterEntry",
    "Limits", "SpreadsheetRejected", "read_table", "write_csv", "write_xlsx",
    "Preview", "PreviewRow", "RosterColumn", "RowError", "commit_roster", "map_columns", "preview_roster",
    "check_roster_row", "upsert_roster_rows",
    "NotifyChannel", "send_notification",
    "start_session", "articles", "Article", "Consent", "PROFILE_IMAGES", "Enrolment", "enrol_images",
    "Matches", "find_roster_matches", "join_roster", "LearnerProfile", "RosterEntry",
    "MenuLink", "Platform", "account_of", "base_of", "client_address", "is_htmx", "platform_of",
    "redirect", "render", "require", "roles", "signed_in", "tenant_of",
    *getattr(_faces, "__all__", ()),
]
