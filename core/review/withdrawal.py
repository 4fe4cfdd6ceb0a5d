"""The proposer withdraws a clearing that no second reviewer has confirmed yet (``withdrawn``):
nothing had changed, the case stays 待审核 and another clearing may be proposed."""

from __future__ import annotations

from core.accounts.tables import Account
from core.db.scoped import scoped
from core.hookcalls import Hooks
from core.review import eligibility
from core.review.services import ReviewError, settle_pending
from core.review.tables import ReviewDecision
from core.tenancy import Tenant


async def withdraw_clear(hooks: Hooks, tenant: Tenant, reviewer: Account, decision_id: int,
                         enrollment_id: int) -> ReviewDecision:
    decision = await scoped(ReviewDecision, tenant).get(decision_id, ReviewDecision.enrollment == enrollment_id)
    if decision is None or decision.kind != "clear":
        raise ReviewError("清除决定不存在")
    if decision.status != "pending":
        raise ReviewError("该清除决定已处理")
    if not eligibility.may_withdraw(decision, reviewer):
        raise ReviewError("只有提出清除的审核员可以撤回")
    # Conditional: a confirmation at the same moment and this withdrawal cannot both win.
    return await settle_pending(hooks, tenant, decision, {ReviewDecision.status: "withdrawn"}, reviewer.id,
                                where=ReviewDecision.reviewer == reviewer.id)
