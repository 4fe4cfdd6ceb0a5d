"""Tenants: what a tenant plugin declares, its typed rules, and how a request finds its tenant."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfoNotFoundError

import msgspec

from core.i18n import DEFAULT_LANGUAGE, LANGUAGES
from core.tenant_time import DEFAULT_ZONE, zone_named
from core.values import ROLE_LABELS, TENANT_ROLES, AccountRole

T = TypeVar("T")


@dataclass(frozen=True)
class TenantSpec:
    """What a tenant plugin declares through ``tenant_declare``."""

    slug: str
    name: str  # Chinese display name, shown in the header
    name_en: str
    hosts: tuple[str, ...] = ()
    theme: str = "default"
    rules_file: Path | None = None
    short_name: str = ""
    language: str = DEFAULT_LANGUAGE  # what its pages speak until a visitor picks another (core.i18n)

    def __post_init__(self) -> None:
        if self.language not in LANGUAGES:
            raise ValueError(f"tenant {self.slug!r}: language {self.language!r} is not one of {', '.join(LANGUAGES)}")


class _Section(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    pass


class SigninRules(_Section):
    initial_password_must_change: bool = True
    initial_password: str = ""  # given to learners created by a staff import ("" = no import)
    sms_code_ttl_seconds: int = 300
    sms_codes_per_mobile_per_hour: int = 5
    sms_codes_per_address_per_hour: int = 20


# Face providers that must not judge liveness (docs/faces.md): dlib's 68-point eye aspect ratio
# misses quick blinks, so it offers no LIVENESS capability.
UNFIT_FOR_LIVENESS = frozenset({"dlib"})


class FaceRules(_Section):
    liveness_provider: str = "mediapipe"
    match_provider: str = "dlib"
    match_tolerance: float | None = None  # None: the provider's measured default
    max_attempts: int = 3
    compare_portrait_with_id_card: bool = False
    gate_window_seconds: int = 600  # a passed face check opens a study session within this long
    snapshot_mismatches_to_flag: int = 3  # bad snapshots on one enrolment before it is flagged
    # A snapshot is a burst of this many frames over about a second (core.proctoring.burst) ...
    snapshot_burst_frames: int = 3
    # ... whose face region changes by at least this many grey levels (mean, 0-255) between frames
    snapshot_burst_min_change: float = 0.6
    # An encoding nearer than this fraction of the match tolerance to the portrait or the ID photo is
    # that picture again, not a new capture (core.proctoring.burst; dlib's 0.6 → 0.12).
    snapshot_duplicate_fraction: float = 0.2
    # Learners may ask to study without the camera (accessibility; PIPL's alternative to face
    # recognition); staff approve each request (core.proctoring.alternative).
    allow_alternative: bool = False

    def __post_init__(self) -> None:
        if not 2 <= self.snapshot_burst_frames <= 6:
            raise msgspec.ValidationError("must be between 2 and 6 - at `$.face.snapshot_burst_frames`")
        if self.liveness_provider in UNFIT_FOR_LIVENESS:
            raise msgspec.ValidationError(
                f"face provider {self.liveness_provider!r} cannot judge liveness (it misses quick blinks)"
                " - at `$.face.liveness_provider`"
            )


class RetentionRules(_Section):
    """How long sensitive data is kept, in days (PIPL: no longer than needed)."""

    face_evidence_days: int = 180
    id_images_days: int = 3 * 365  # ID-card images of an account inactive this long
    import_files_days: int = 30  # raw uploaded import spreadsheets (full ID numbers)
    notifications_days: int = 365
    audit_days: int = 3 * 365


class RosterRules(_Section):
    positions: list[str] = msgspec.field(default_factory=list)
    max_import_rows: int = 10_000


class ExamRules(_Section):
    """The online exam. The defaults are neutral (no tenant's): a tenant states its own."""

    questions: int = 20
    total_points: int = 100
    pass_points: int = 80
    max_attempts: int = 0  # 0 = unlimited retakes
    time_limit_minutes: int = 60  # an attempt's time; the server submits it when the time is up
    cooldown_minutes: int = 0  # wait after an attempt ends before the next may start (0 = none)
    daily_attempts: int = 0  # attempts per learner, position and day (0 = no limit)
    positions: list[str] = msgspec.field(default_factory=list)  # positions that need an exam ([] = none)


class StudyRules(_Section):
    allow_seek: bool = False
    minutes_per_hour: int = 60  # minutes of study per 学时 (neutral: a clock hour; tenants state theirs)
    daily_cap_minutes: int = 1440  # no learner is credited more in one (tenant) day (neutral: no cap)
    tolerance_seconds: float = 2.0  # slack for clock jitter between page and server
    max_video_mb: int = 300
    snapshot_interval_seconds: list[int] = msgspec.field(default_factory=lambda: [300, 900])
    # [low, high]: review is due by the low-th working day after completion, overdue after the high-th
    review_workdays: list[int] = msgspec.field(default_factory=lambda: [5, 10])
    snapshot_grace_seconds: int = 60  # a requested snapshot must arrive within this long
    idle_seconds: int = 300  # this long playing without any interaction is recorded as idle

    def __post_init__(self) -> None:
        lo_hi = self.snapshot_interval_seconds
        if len(lo_hi) != 2 or not 0 < lo_hi[0] <= lo_hi[1]:
            raise msgspec.ValidationError(
                "must be [minimum, maximum] seconds, 0 < minimum <= maximum - at `$.study.snapshot_interval_seconds`")


class ProfileRules(_Section):
    """我的档案: the tenant's service phone numbers (for a wrong mobile) and whether study
    needs a complete profile (ID card both sides and a portrait)."""

    service_phones: list[str] = msgspec.field(default_factory=list)
    required_for_study: bool = True


class ReviewRules(_Section):
    """Review of study hours: how long after a clearing takes effect the learner may appeal."""

    appeal_days: int = 30


STAFF_ROLES = ("tenant_admin", "reviewer")  # roles a tenant admin may give (core.accounts.staff)


class StaffRules(_Section):
    """账号管理: the staff roles a tenant admin may create and give (a subset of STAFF_ROLES)."""

    roles: list[str] = msgspec.field(default_factory=lambda: list(STAFF_ROLES))

    def __post_init__(self) -> None:
        if not self.roles or any(r not in STAFF_ROLES for r in self.roles):
            raise msgspec.ValidationError(
                f"must be a non-empty list of {', '.join(STAFF_ROLES)} - at `$.staff.roles`")


class SmsRules(_Section):
    signature: str = "【学时培训】"
    # The SMS provider plugin that sends this tenant's texts (its channel is named "sms:<provider>",
    # e.g. "aliyun"); "" = the "sms" channel (the core's recording one unless a plugin replaces it).
    provider: str = ""


# The core's flows a tenant may switch on or off, each with the flow it builds on (core.capabilities).
FLOWS = {
    "courses": None,  # courses, study, hours records
    "proctoring": "courses",  # face checks and study snapshots
    "review": "courses",  # 学时审核 of completed study
    "exams": "courses",  # online exams after the hours
    "certificates": "review",  # hours certificates of approved study, and their verification
    "registry": "certificates",  # the registry report (学时上报)
    "enterprise": None,  # companies and their administrators (实名认证 and what follows)
}


class CapabilityRules(_Section):
    """Which flows the tenant offers; a switched-off flow has no pages, menu items or jobs there."""

    courses: bool = True
    proctoring: bool = True
    review: bool = True
    exams: bool = True
    certificates: bool = True
    registry: bool = True
    enterprise: bool = False

    def __post_init__(self) -> None:
        for name, needs in FLOWS.items():
            if needs is not None and getattr(self, name) and not getattr(self, needs):
                raise msgspec.ValidationError(
                    f"needs the {needs} flow (switch {name} off too, or {needs} on) - at `$.capabilities.{name}`")


class TenantRules(_Section):
    timezone: str = DEFAULT_ZONE  # IANA name: pages, documents and every "today" use it (core.tenant_time)
    signin: SigninRules = msgspec.field(default_factory=SigninRules)
    face: FaceRules = msgspec.field(default_factory=FaceRules)
    retention: RetentionRules = msgspec.field(default_factory=RetentionRules)
    roster: RosterRules = msgspec.field(default_factory=RosterRules)
    exam: ExamRules = msgspec.field(default_factory=ExamRules)
    study: StudyRules = msgspec.field(default_factory=StudyRules)
    sms: SmsRules = msgspec.field(default_factory=SmsRules)
    profile: ProfileRules = msgspec.field(default_factory=ProfileRules)
    review: ReviewRules = msgspec.field(default_factory=ReviewRules)
    staff: StaffRules = msgspec.field(default_factory=StaffRules)
    capabilities: CapabilityRules = msgspec.field(default_factory=CapabilityRules)

    def __post_init__(self) -> None:
        e = self.exam
        if not 0 < e.pass_points <= e.total_points:
            raise msgspec.ValidationError("pass_points must be between 1 and total_points - at `$.exam.pass_points`")
        if not 0 < e.questions <= 500:
            raise msgspec.ValidationError("must be between 1 and 500 - at `$.exam.questions`")
        if not 0 < e.time_limit_minutes <= 600:
            raise msgspec.ValidationError("must be between 1 and 600 - at `$.exam.time_limit_minutes`")
        if e.max_attempts < 0:
            raise msgspec.ValidationError("must be 0 (unlimited) or more - at `$.exam.max_attempts`")
        if not 0 <= e.cooldown_minutes <= 7 * 24 * 60:
            raise msgspec.ValidationError("must be between 0 (none) and 10080 (a week) - at `$.exam.cooldown_minutes`")
        if e.daily_attempts < 0:
            raise msgspec.ValidationError("must be 0 (no limit) or more - at `$.exam.daily_attempts`")
        if not 0 < self.study.minutes_per_hour <= 120:
            raise msgspec.ValidationError("must be between 1 and 120 - at `$.study.minutes_per_hour`")
        if not 0 < self.study.daily_cap_minutes <= 1440:
            raise msgspec.ValidationError("must be between 1 and 1440 - at `$.study.daily_cap_minutes`")
        low_high = self.study.review_workdays
        if len(low_high) != 2 or not 0 < low_high[0] <= low_high[1]:
            raise msgspec.ValidationError("must be [low, high] working days, 0 < low <= high - at `$.study.review_workdays`")
        if not 0 <= self.review.appeal_days <= 365:
            raise msgspec.ValidationError("must be between 0 and 365 - at `$.review.appeal_days`")
        if e.positions and not self.capabilities.exams:
            raise msgspec.ValidationError("names positions that take an exam, but the exams flow is off - at `$.exam.positions`")
        if not 0 < self.face.max_attempts <= 20:
            raise msgspec.ValidationError("must be between 1 and 20 - at `$.face.max_attempts`")
        try:
            zone_named(self.timezone)
        except (ValueError, ZoneInfoNotFoundError):
            raise msgspec.ValidationError(
                "must be an IANA time zone such as Asia/Shanghai - at `$.timezone`") from None


class RulesError(Exception):
    """A rules.toml is wrong; the message names the file and the key."""


CORE_SECTIONS = frozenset(TenantRules.__struct_fields__)


def _read(path: Path) -> dict:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RulesError(f"{path}: file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise RulesError(f"{path}: not valid TOML: {exc}") from None


def _convert(path: Path, raw: Any, kind: type[T], prefix: str = "") -> T:
    """``msgspec.convert`` whose error names the file and the dotted key (``prefix`` first)."""
    try:
        return msgspec.convert(raw, kind)
    except msgspec.ValidationError as exc:
        # msgspec says e.g. "Expected `int`, got `str` - at `$.exam.pass_points`"
        message, _, where = str(exc).partition(" - at `$")
        where = where.rstrip("`").lstrip(".")
        unknown = re.search(r"unknown field `([^`]+)`", message)
        if unknown:
            where = f"{where}.{unknown.group(1)}" if where else unknown.group(1)
        where = ".".join(filter(None, [prefix, where]))
        key = f" key '{where}'" if where else ""
        raise RulesError(f"{path}:{key}: {message}") from None


def read_rules(path: Path | None, sections: Mapping[str, type[msgspec.Struct]] | None = None
               ) -> tuple[TenantRules, dict[str, msgspec.Struct]]:
    """The core's rules and the plugins' sections (``sections``: key → msgspec Struct type, from
    the ``tenant_rules_sections`` hook), each validated; a plugin section missing from the file
    gets its defaults. A key that is neither a core nor a declared section is refused."""
    sections = dict(sections or {})
    raw = _read(path) if path is not None else {}
    own = {key: raw.pop(key) for key in list(raw) if key in sections}
    rules = _convert(path, raw, TenantRules) if path is not None else TenantRules()
    return rules, {key: _convert(path, own.get(key, {}), kind, key) for key, kind in sections.items()}


def load_rules(path: Path | None) -> TenantRules:
    """The core's rules of a rules.toml that declares no plugin section."""
    return read_rules(path)[0]


@dataclass
class Tenant:
    """A tenant at run time: its declaration, validated rules and database id."""

    spec: TenantSpec
    rules: TenantRules
    id: int | None = None
    extra: dict = field(default_factory=dict)
    sections: dict[str, msgspec.Struct] = field(default_factory=dict)  # plugins' rules sections
    # Roles its accounts may hold: the core's and those its plugins declare (``account_roles``).
    roles: dict[str, AccountRole] = field(default_factory=lambda: {r.name: r for r in TENANT_ROLES})

    @property
    def role_labels(self) -> dict[str, str]:
        """Chinese label by role name: the tenant's roles and the platform operator's."""
        return {**ROLE_LABELS, **{name: role.label for name, role in self.roles.items()}}

    def section(self, key: str) -> Any:
        """A plugin's validated rules section (declared with ``tenant_rules_sections``)."""
        try:
            return self.sections[key]
        except KeyError:
            raise KeyError(f"tenant {self.slug!r} has no rules section {key!r}: no plugin declares it") from None

    @property
    def slug(self) -> str:
        return self.spec.slug

    def offers(self, flow: str | None) -> bool:
        """Whether the tenant's rules switch ``flow`` (a key of ``FLOWS``) on; None is always on."""
        if flow is None:
            return True
        if flow not in FLOWS:
            raise KeyError(f"no flow {flow!r}; the flows are {', '.join(FLOWS)}")
        return getattr(self.rules.capabilities, flow)

    @property
    def name(self) -> str:
        return self.spec.name


class TenantDirectory:
    """Finds the tenant of a request by path prefix ``/t/<slug>/`` or by host name."""

    def __init__(self, tenants: list[Tenant]) -> None:
        self.by_slug = {t.slug: t for t in tenants}
        self.by_host: dict[str, Tenant] = {}
        for t in tenants:
            for host in (*t.spec.hosts, f"{t.slug}.localhost"):
                self.by_host[host.lower()] = t

    def __iter__(self):
        return iter(self.by_slug.values())

    def get(self, slug: str | None) -> Tenant | None:
        return self.by_slug.get(slug) if slug else None

    def from_host(self, host_header: str | None) -> Tenant | None:
        if not host_header:
            return None
        host = host_header.split(":", 1)[0].lower()
        return self.by_host.get(host)
