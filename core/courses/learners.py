"""学员管理's list and a learner's record: search, filters and paging over the tenant's learners,
and what staff see of one learner (enrolments with hours, exams, certificates, audit history)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from core.accounts.tables import Account
from core.audit.tables import AuditEntry
from core.audit.viewer import ACTION_LABELS
from core.certificates.tables import Certificate
from core.courses.tables import Course, Enrollment
from core.db.scoped import scoped
from core.exams.tables import ExamAttempt
from core.roster.tables import LearnerProfile
from core.tenancy import Tenant

PAGE_SIZE = 50
PROFILE_STATES = {"complete": "已完善", "incomplete": "未完善"}
NOT_ENROLLED = "none"  # the study filter's value for learners without an enrolment


@dataclass
class Filters:
    """The list's query parameters, cleaned: unknown values are ignored, never an error."""

    q: str = ""
    position: str = ""
    company: str = ""
    profile: str = ""  # a key of PROFILE_STATES
    study: str = ""  # an enrolment status (study.services.STATUS_LABELS) or NOT_ENROLLED
    page: int = 1

    @classmethod
    def from_query(cls, params: Any, study_states: dict[str, str]) -> Filters:
        def text(name: str, limit: int = 100) -> str:
            return (params.get(name) or "").strip()[:limit]

        page = text("page", 6)
        return cls(q=text("q"), position=text("position", 64), company=text("company", 200),
                   profile=text("profile") if text("profile") in PROFILE_STATES else "",
                   study=text("study") if text("study") in (*study_states, NOT_ENROLLED) else "",
                   page=int(page) if page.isdigit() and int(page) > 0 else 1)

    def query(self, **change: Any) -> dict[str, str]:
        """The filters as query parameters (for links and exports), with ``change`` applied."""
        values = {"q": self.q, "position": self.position, "company": self.company, "profile": self.profile,
                  "study": self.study, "page": str(self.page), **{k: str(v) for k, v in change.items()}}
        return {k: v for k, v in values.items() if v and not (k == "page" and v == "1")}


def _where(tenant: Tenant, f: Filters) -> list[Any]:
    """The conditions on ``Account`` for ``f`` (sub-selects on profiles and enrolments)."""
    where: list[Any] = [Account.role == "learner"]
    if f.q:
        where.append((Account.id_number == f.q.upper()) | (Account.mobile == f.q) | Account.real_name.like(f"%{f.q}%"))
    profiles = []
    if f.position:
        profiles.append(LearnerProfile.position == f.position)
    if f.company:
        profiles.append(LearnerProfile.company.like(f"%{f.company}%"))
    complete = (LearnerProfile.id_front.is_not_null() & LearnerProfile.id_back.is_not_null()
                & LearnerProfile.portrait.is_not_null())
    if f.profile == "complete":
        profiles.append(complete)
    if profiles:
        where.append(Account.id.is_in(scoped(LearnerProfile, tenant).select(LearnerProfile.account).where(*profiles)))
    if f.profile == "incomplete":
        where.append(Account.id.not_in(scoped(LearnerProfile, tenant).select(LearnerProfile.account).where(complete)))
    if f.study == NOT_ENROLLED:
        where.append(Account.id.not_in(scoped(Enrollment, tenant).select(Enrollment.account)))
    elif f.study:
        where.append(Account.id.is_in(scoped(Enrollment, tenant).select(Enrollment.account).where(
            Enrollment.status == f.study)))
    return where


def matching(tenant: Tenant, f: Filters) -> Any:
    """A sub-select of the ids of the learners matching ``f`` (for exports of their records)."""
    return scoped(Account, tenant).select(Account.id).where(*_where(tenant, f))


@dataclass
class LearnerPage:
    learners: list[Account]
    profiles: dict[int, LearnerProfile]
    total: int
    pages: int
    enrolments: dict[int, list[Enrollment]] = field(default_factory=dict)


async def find(tenant: Tenant, f: Filters, *, limit: int | None = PAGE_SIZE) -> LearnerPage:
    """The page ``f.page`` of the learners matching ``f`` (newest first); ``limit=None``: all."""
    where = _where(tenant, f)
    total = await scoped(Account, tenant).count(*where)
    query = scoped(Account, tenant).objects(*where).order_by(Account.id, ascending=False)
    if limit is not None:
        query = query.limit(limit).offset((f.page - 1) * limit)
    learners = await query
    ids = [a.id for a in learners] or [0]
    profiles = {p.account: p for p in await scoped(LearnerProfile, tenant).objects(LearnerProfile.account.is_in(ids))}
    enrolments: dict[int, list[Enrollment]] = {}
    for e in await scoped(Enrollment, tenant).objects(Enrollment.account.is_in(ids)).order_by(Enrollment.id):
        enrolments.setdefault(e.account, []).append(e)
    pages = max(1, -(-total // limit)) if limit else 1
    return LearnerPage(learners, profiles, total, pages, enrolments)


async def options(tenant: Tenant) -> dict[str, list[str]]:
    """The positions and companies the learners' profiles name (for the filters' choices)."""
    rows = await scoped(LearnerProfile, tenant).select(LearnerProfile.position, LearnerProfile.company).distinct()
    return {"positions": sorted({r["position"] for r in rows if r["position"]}),
            "companies": sorted({r["company"] for r in rows if r["company"]})}


async def record_of(tenant: Tenant, learner: Account) -> dict[str, Any]:
    """A learner's exams, certificates and audit history (newest first), with the courses."""
    attempts = await scoped(ExamAttempt, tenant).objects(ExamAttempt.account == learner.id).order_by(
        ExamAttempt.id, ascending=False)
    courses = {c.id: c for c in await scoped(Course, tenant).objects(
        Course.id.is_in([a.course for a in attempts] or [0]))}
    certificates = await scoped(Certificate, tenant).objects(Certificate.account == learner.id).order_by(
        Certificate.id, ascending=False)
    audit = await scoped(AuditEntry, tenant).objects(
        ((AuditEntry.object_type == "account") & (AuditEntry.object_id == str(learner.id)))
        | (AuditEntry.actor == learner.id)).order_by(AuditEntry.id, ascending=False).limit(50)
    return {"attempts": attempts, "exam_courses": courses, "certificates": certificates, "audit": audit,
            "action_labels": ACTION_LABELS}
