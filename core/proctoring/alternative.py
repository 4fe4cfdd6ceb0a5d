"""Studying without the camera (issue 11, item 6): where the tenant's rules allow it
(``face.allow_alternative``), a learner asks with a reason, the tenant's admin approves or refuses,
and with an approved request the gate opens study sessions without a face check
(``ProctorSession.alternative``, no snapshots) and notes each one on the study timeline.

A learner has at most one open (pending or approved) request: ``FaceAlternative.open_key`` is
unique while open, so simultaneous requests store one row."""

from __future__ import annotations

import datetime as dt

from core.db.scoped import scoped
from core.proctoring.study_tables import FaceAlternative

REASON_MAX = 500
STATUS_LABELS = {"pending": "待审批", "approved": "已批准", "refused": "未批准"}


class AlreadyOpen(Exception):
    """The learner already has a pending or approved request."""


def allowed(tenant) -> bool:
    return bool(tenant.rules.face.allow_alternative)


def check_reason(text: str) -> tuple[str, str]:
    """The cleaned reason and an error message for the field ("" when fine)."""
    reason = " ".join((text or "").split())
    if not reason:
        return reason, "请填写申请原因"
    if len(reason) > REASON_MAX:
        return reason, f"申请原因不能超过 {REASON_MAX} 个字"
    return reason, ""


async def latest(tenant, account_id: int) -> FaceAlternative | None:
    return await scoped(FaceAlternative, tenant).objects(FaceAlternative.account == account_id).order_by(
        FaceAlternative.id, ascending=False).first()


async def approved(tenant, account_id: int) -> FaceAlternative | None:
    """The account's approved request, when the rules (still) allow the alternative."""
    if not allowed(tenant):
        return None
    return await scoped(FaceAlternative, tenant).objects(
        (FaceAlternative.account == account_id) & (FaceAlternative.status == "approved")).first()


async def ask(tenant, account_id: int, reason: str) -> FaceAlternative:
    """Store a pending request. Raises AlreadyOpen when one is pending or approved."""
    key = f"{tenant.id}:{account_id}"
    if await scoped(FaceAlternative, tenant).exists(FaceAlternative.open_key == key):
        raise AlreadyOpen()
    row = scoped(FaceAlternative, tenant).new(account=account_id, reason=reason, status="pending", open_key=key,
                                              created_at=dt.datetime.now(dt.UTC))
    try:
        await row.save()
    except Exception:  # the unique open_key: a simultaneous request was stored first
        if await scoped(FaceAlternative, tenant).exists(FaceAlternative.open_key == key):
            raise AlreadyOpen() from None
        raise
    return row


async def listing(tenant) -> tuple[list[FaceAlternative], list[FaceAlternative]]:
    """(pending requests oldest first, the latest 50 decided ones)."""
    pending = await scoped(FaceAlternative, tenant).objects(FaceAlternative.status == "pending").order_by(
        FaceAlternative.id)
    decided = await scoped(FaceAlternative, tenant).objects(FaceAlternative.status != "pending").order_by(
        FaceAlternative.id, ascending=False).limit(50)
    return pending, decided


async def decide(tenant, request_id: int, staff_id: int, approve: bool) -> FaceAlternative | None:
    """Approve or refuse a pending request; refuse (withdraw) an approved one. None when the id is
    not this tenant's or the request cannot take that decision (already decided so)."""
    allowed_from = ["pending"] if approve else ["pending", "approved"]
    values = {FaceAlternative.status: "approved" if approve else "refused",
              FaceAlternative.decided_by: staff_id, FaceAlternative.decided_at: dt.datetime.now(dt.UTC)}
    if not approve:
        values[FaceAlternative.open_key] = None
    rows = await scoped(FaceAlternative, tenant).update(values).where(
        (FaceAlternative.id == request_id) & FaceAlternative.status.is_in(allowed_from)).returning(FaceAlternative.id)
    if not rows:
        return None
    return await scoped(FaceAlternative, tenant).objects(FaceAlternative.id == request_id).first()
