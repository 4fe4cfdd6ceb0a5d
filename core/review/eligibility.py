"""Who may take which review decision, and whether the tenant has enough reviewers for them.

A clearing is confirmed or declined by an active reviewer other than its proposer, and withdrawn
only by its proposer; an appeal is decided by an active reviewer who neither proposed nor
confirmed the clearing. The services refuse the others (``core.review.services``,
``core.review.appeals``) and the case page shows each reviewer only the buttons these rules let
them press. A clearing needs two active reviewers, an appeal a third: the queue and 账号管理 say so,
and name the tenant admins who can add one, while the tenant has fewer.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.accounts.tables import Account
from core.db.scoped import scoped
from core.review.tables import ReviewDecision
from core.tenancy import Tenant

CLEARING_REVIEWERS = 2  # one proposes, another confirms
APPEAL_REVIEWERS = 3  # and a third, who took no part in the clearing, decides the appeal


def may_confirm(decision: ReviewDecision, reviewer: Account) -> bool:
    """Confirm or decline a pending clearing: anyone but its proposer."""
    return decision.kind == "clear" and decision.status == "pending" and decision.reviewer != reviewer.id


def may_withdraw(decision: ReviewDecision, reviewer: Account) -> bool:
    """Withdraw a pending clearing: its proposer only."""
    return decision.kind == "clear" and decision.status == "pending" and decision.reviewer == reviewer.id


def may_decide_appeal(clearing: ReviewDecision, reviewer: Account) -> bool:
    """Decide an appeal against ``clearing``: neither of the two who cleared."""
    return reviewer.id not in (clearing.reviewer, clearing.confirmed_by)


@dataclass(frozen=True)
class Staffing:
    reviewers: int  # active reviewers
    admins: list[str]  # names of the active tenant admins, who can add reviewers

    @property
    def can_clear(self) -> bool:
        return self.reviewers >= CLEARING_REVIEWERS

    @property
    def can_decide_appeals(self) -> bool:
        return self.reviewers >= APPEAL_REVIEWERS


async def staffing(tenant: Tenant) -> Staffing:
    rows = await scoped(Account, tenant).select(Account.role, Account.real_name).where(
        Account.role.is_in(["reviewer", "tenant_admin"]) & (Account.active == True))  # noqa: E712
    return Staffing(reviewers=sum(r["role"] == "reviewer" for r in rows),
                    admins=[r["real_name"] for r in rows if r["role"] == "tenant_admin"])
