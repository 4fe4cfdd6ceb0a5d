"""审核工作量: how many decisions each reviewer took over a period, and the open cases by age.

A reviewer's decisions are counted where they acted: approvals, clearings proposed, clearings
confirmed or declined as the second reviewer, re-verification requests and appeals decided. The
period is a number of the tenant's days ending today (``PERIODS``). The open cases are the queue
grouped by their working-day deadline state (按期 / 临期 / 已超期), with the clearings still
waiting for a second reviewer under their proposer's name.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from core import tenant_time
from core.accounts.tables import Account
from core.db.scoped import scoped
from core.review.services import QueueItem
from core.review.tables import Appeal, ReviewDecision
from core.tenancy import Tenant

PERIODS = {7: "近 7 天", 30: "近 30 天", 90: "近 90 天", 365: "近一年"}
DEFAULT_PERIOD = 30
COLUMNS = {"approve": "审核通过", "proposed": "提出清除", "confirmed": "复核清除", "reverify": "要求重新核验",
           "appeals": "处理申诉"}
AGES = {"on_time": "按期", "due": "临期", "overdue": "已超期", "unknown": "未学完"}


@dataclass
class ReviewerLoad:
    account: Account
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COLUMNS, 0))
    waiting: int = 0  # their clearings still waiting for a second reviewer

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def period_of(value: str | None) -> int:
    return int(value) if value and value.isdigit() and int(value) in PERIODS else DEFAULT_PERIOD


async def per_reviewer(tenant: Tenant, days: int, items: list[QueueItem]) -> list[ReviewerLoad]:
    """Every reviewer (active first, then by name) with their decisions since ``days`` tenant days ago."""
    since = tenant_time.day_start(tenant_time.now(tenant) - dt.timedelta(days=days - 1), tenant_time.zone(tenant))
    reviewers = await scoped(Account, tenant).objects(Account.role == "reviewer").order_by(Account.id)
    loads = {a.id: ReviewerLoad(a) for a in reviewers}
    made = await scoped(ReviewDecision, tenant).select(ReviewDecision.reviewer, ReviewDecision.kind).where(
        (ReviewDecision.created_at >= since) & ReviewDecision.kind.is_in(["approve", "clear", "reverify"]))
    for row in made:
        load = loads.get(row["reviewer"])
        if load is not None:
            load.counts["proposed" if row["kind"] == "clear" else row["kind"]] += 1
    seconded = await scoped(ReviewDecision, tenant).select(ReviewDecision.confirmed_by).where(
        (ReviewDecision.kind == "clear") & ReviewDecision.confirmed_by.is_not_null()
        & (ReviewDecision.confirmed_at >= since))
    for row in seconded:
        if row["confirmed_by"] in loads:
            loads[row["confirmed_by"]].counts["confirmed"] += 1
    decided = await scoped(Appeal, tenant).select(Appeal.decided_by).where(
        Appeal.decided_by.is_not_null() & (Appeal.decided_at >= since))
    for row in decided:
        if row["decided_by"] in loads:
            loads[row["decided_by"]].counts["appeals"] += 1
    for item in items:
        if item.pending_clear is not None and item.pending_clear.reviewer in loads:
            loads[item.pending_clear.reviewer].waiting += 1
    return sorted(loads.values(), key=lambda x: (not x.account.active, -x.total, x.account.real_name or ""))


def open_by_age(items: list[QueueItem]) -> dict[str, list[QueueItem]]:
    """The open cases under their deadline state, in ``AGES`` order, oldest first in each."""
    out: dict[str, list[QueueItem]] = {key: [] for key in AGES}
    for item in items:
        out[item.deadline.state if item.deadline else "unknown"].append(item)
    for rows in out.values():
        rows.sort(key=lambda i: (i.deadline.elapsed if i.deadline else 0), reverse=True)
    return out
