"""The review decisions of a period, filtered by reviewer and kind: listed on 审核工作量 and
exported as XLSX (审核记录) with the same filters. ID numbers are masked; times are the tenant's."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from core import tenant_time
from core.accounts.tables import Account
from core.courses.tables import Course, Enrollment, Position
from core.db.scoped import scoped
from core.identity import mask_id_number
from core.review.services import KINDS, REASONS
from core.review.tables import ReviewDecision
from core.review.workload import period_of
from core.study.services import hours
from core.tenancy import Tenant

STATUSES = {"pending": "待复核", "done": "已生效", "cancelled": "复核未同意", "withdrawn": "已撤回"}
HEADERS = ["决定时间", "学员", "身份证号", "岗位", "课程", "决定", "原因", "状态", "审核员", "复核人", "复核时间",
           "冲减学时", "说明"]
LISTED = 100  # rows on the page; the export has them all


@dataclass(frozen=True)
class DecisionFilter:
    days: int = 30
    reviewer: int | None = None
    kind: str = ""  # "" (all) or a key of KINDS

    @classmethod
    def from_query(cls, params: Mapping[str, str]) -> DecisionFilter:
        reviewer = params.get("reviewer") or ""
        return cls(days=period_of(params.get("days")), kind=params.get("kind", "") if params.get("kind") in KINDS else "",
                   reviewer=int(reviewer) if reviewer.isdigit() and len(reviewer) < 12 else None)

    def query(self) -> dict[str, str]:
        values = {"days": str(self.days), "reviewer": str(self.reviewer or ""), "kind": self.kind}
        return {k: v for k, v in values.items() if v}


@dataclass
class Decisions:
    rows: list[ReviewDecision]
    people: dict[int, Account]
    courses: dict[int, Course]  # by enrolment id
    positions: dict[int, str]
    total: int


async def find(tenant: Tenant, f: DecisionFilter, limit: int | None = LISTED) -> Decisions:
    """The decisions matching ``f``, newest first (``limit`` of them; None: all)."""
    since = tenant_time.day_start(tenant_time.now(tenant) - dt.timedelta(days=f.days - 1), tenant_time.zone(tenant))
    where: list[Any] = [ReviewDecision.created_at >= since]
    if f.reviewer:
        where.append((ReviewDecision.reviewer == f.reviewer) | (ReviewDecision.confirmed_by == f.reviewer))
    if f.kind:
        where.append(ReviewDecision.kind == f.kind)
    total = await scoped(ReviewDecision, tenant).count(*where)
    query = scoped(ReviewDecision, tenant).objects(*where).order_by(ReviewDecision.id, ascending=False)
    rows = await (query.limit(limit) if limit else query)
    ids = {r.learner for r in rows} | {r.reviewer for r in rows} | {r.confirmed_by for r in rows if r.confirmed_by}
    people = {a.id: a for a in await scoped(Account, tenant).objects(Account.id.is_in(sorted(ids) or [0]))}
    enrolments = {e.id: e for e in await scoped(Enrollment, tenant).objects(
        Enrollment.id.is_in(sorted({r.enrollment for r in rows}) or [0]))}
    by_id = {c.id: c for c in await scoped(Course, tenant).objects(
        Course.id.is_in(sorted({e.course for e in enrolments.values()}) or [0]))}
    courses = {e.id: by_id[e.course] for e in enrolments.values() if e.course in by_id}  # enrolment id → course
    positions = {p.id: p.name for p in await scoped(Position, tenant).objects()}
    return Decisions(rows, people, courses, positions, total)


def reviewers_of(found: Decisions) -> list[Account]:
    return sorted({a.id: a for a in found.people.values() if a.role == "reviewer"}.values(), key=lambda a: a.id)


def export_rows(tenant: Tenant, found: Decisions) -> list[list[str]]:
    zone = tenant_time.zone(tenant)
    out = []
    for d in found.rows:
        learner = found.people.get(d.learner)
        course = found.courses.get(d.enrollment)
        reviewer, second = found.people.get(d.reviewer), found.people.get(d.confirmed_by) if d.confirmed_by else None
        out.append([
            tenant_time.format_datetime(d.created_at, zone), learner.real_name if learner else "",
            mask_id_number(learner.id_number) if learner and learner.id_number else "",
            found.positions.get(course.position, "") if course else "", course.title if course else "",
            KINDS.get(d.kind, d.kind), REASONS.get(d.reason, "") if d.reason else "", STATUSES.get(d.status, d.status),
            reviewer.real_name if reviewer else "", second.real_name if second else "",
            tenant_time.format_datetime(d.confirmed_at, zone) if d.confirmed_at else "",
            f"{hours(tenant, d.reversed_seconds):g}" if d.reversed_seconds else "", d.note or ""])
    return out
