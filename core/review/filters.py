"""The review queue's filters: status, overdue, flagged, position and company (所属企业).

The queue is one tenant's cases awaiting review (``core.review.services.queue``): it is filtered
in memory, and the choices offered for position and company are those of the cases in it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from core.accounts.tables import Enterprise
from core.db.scoped import scoped
from core.review.services import QueueItem
from core.roster.tables import LearnerProfile
from core.tenancy import Tenant

STATUSES = {"plain": "待审核", "clearing": "清除待复核", "reverify": "已要求重新核验"}


@dataclass(frozen=True)
class QueueFilter:
    status: str = ""  # "" (all) or a key of STATUSES
    overdue: bool = False
    flagged: bool = False
    position: str = ""
    company: int | None = None

    @classmethod
    def from_query(cls, params: Mapping[str, str]) -> QueueFilter:
        company = params.get("company") or ""
        return cls(status=params.get("status", "") if params.get("status") in STATUSES else "",
                   overdue=params.get("overdue") == "1", flagged=params.get("flagged") == "1",
                   position=(params.get("position") or "")[:64],
                   company=int(company) if company.isdigit() and len(company) < 12 else None)

    def query(self) -> dict[str, str]:
        """The filter as query parameters (for the bulk approval's links and form)."""
        values = {"status": self.status, "overdue": "1" if self.overdue else "", "flagged": "1" if self.flagged else "",
                  "position": self.position, "company": str(self.company or "")}
        return {k: v for k, v in values.items() if v}

    @property
    def active(self) -> bool:
        return bool(self.status or self.overdue or self.flagged or self.position or self.company)


def status_of(item: QueueItem) -> str:
    return "clearing" if item.pending_clear else "reverify" if item.reverify else "plain"


async def companies(tenant: Tenant, items: list[QueueItem]) -> dict[int, Enterprise]:
    """The company of each queued learner that has one (learner account id → Enterprise)."""
    ids = sorted({i.learner.id for i in items})
    if not ids:
        return {}
    profiles = await scoped(LearnerProfile, tenant).select(LearnerProfile.account, LearnerProfile.enterprise).where(
        LearnerProfile.account.is_in(ids) & LearnerProfile.enterprise.is_not_null())
    rows = {e.id: e for e in await scoped(Enterprise, tenant).objects(
        Enterprise.id.is_in(sorted({p["enterprise"] for p in profiles}) or [0]))}
    return {p["account"]: rows[p["enterprise"]] for p in profiles if p["enterprise"] in rows}


def apply(items: list[QueueItem], f: QueueFilter, by_learner: dict[int, Enterprise]) -> list[QueueItem]:
    out = []
    for item in items:
        company = by_learner.get(item.learner.id)
        if ((f.status and status_of(item) != f.status)
                or (f.overdue and not (item.deadline and item.deadline.state == "overdue"))
                or (f.flagged and not item.enrollment.flagged)
                or (f.position and item.position != f.position)
                or (f.company and (company is None or company.id != f.company))):
            continue
        out.append(item)
    return out
