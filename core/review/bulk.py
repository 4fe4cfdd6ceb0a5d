"""Bulk approval: the unflagged cases of the queue approved with one confirmation.

A case may be approved in bulk only when nothing asks a reviewer to look at it: not marked
异常 (``Enrollment.flagged``), no clearing waiting for a second reviewer, no open request to pass
the face check again, no study session with a missing, refused or late snapshot and no portrait or
ID-card photo replaced during study (``core.review.integrity``). The reviewer confirms a list of
case ids; each id is checked again on the server (a forged list naming a flagged case or another
tenant's enrolment is refused for those ids) and approved through ``services.approve``, so each
approval is audited, announced and texted exactly as a single one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from core.accounts.tables import Account
from core.courses.tables import Enrollment
from core.db.scoped import scoped
from core.hookcalls import Hooks
from core.review import integrity, services
from core.review.services import QueueItem, ReviewError
from core.tenancy import Tenant

MAX_BULK = 200  # ids in one confirmation: a longer list is refused, not truncated
NOTE = "批量审核通过"


async def hold_reason(tenant: Tenant, enrollment: Enrollment, pending_clear: bool = False,
                      reverify: bool = False) -> str:
    """Why this case must be reviewed one by one ("" when it may be approved in bulk)."""
    if enrollment.status != "review":
        return "该学员的学时不在待审核状态"
    if enrollment.flagged:
        return "有异常标记，须逐条审核"
    if pending_clear:
        return "有待复核的清除决定"
    if reverify:
        return "已要求重新核验"
    if await integrity.session_flags(tenant, enrollment):
        return "有抓拍异常的学习记录，须逐条审核"
    if (await integrity.identity_history(tenant, enrollment)).changes:
        return "学习期间更换过头像或身份证照片，须逐条审核"
    return ""


async def candidates(tenant: Tenant, items: list[QueueItem]) -> list[QueueItem]:
    """The queue items (already filtered by the reviewer) that may be approved in bulk."""
    return [i for i in items if not await hold_reason(tenant, i.enrollment, bool(i.pending_clear), i.reverify)]


@dataclass
class BulkResult:
    approved: list[int] = field(default_factory=list)
    refused: dict[int, str] = field(default_factory=dict)  # enrolment id → why (Chinese)


def parse_ids(values: list[str]) -> list[int]:
    """The posted case ids, in order, once each; anything not a plain number is an error."""
    ids: list[int] = []
    for value in values:
        value = value.strip()
        if not value.isdigit() or len(value) > 12:
            raise ReviewError("提交的审核清单无效，请返回学时审核重新选择")
        if int(value) not in ids:
            ids.append(int(value))
    if not ids:
        raise ReviewError("没有可批量通过的学时")
    if len(ids) > MAX_BULK:
        raise ReviewError(f"一次最多批量通过 {MAX_BULK} 条，请先筛选")
    return ids


async def approve_all(hooks: Hooks, tenant: Tenant, reviewer: Account, ids: list[int]) -> BulkResult:
    """Approve each listed case that may still be approved in bulk; refuse the others by id."""
    if reviewer.role != "reviewer" or not reviewer.active:
        raise ReviewError("只有在用的审核员可以批量审核")
    result = BulkResult()
    for enrollment_id in ids:
        enrollment = await scoped(Enrollment, tenant).get(enrollment_id)
        if enrollment is None:  # another tenant's, or none: the same answer
            result.refused[enrollment_id] = "不在本机构的待审核学时中"
            continue
        pending = await services.pending_clear(tenant, enrollment.id)
        decisions = await services.decisions_of(tenant, enrollment.id)
        reverify = bool(decisions and decisions[-1].kind == "reverify")
        reason = await hold_reason(tenant, enrollment, pending is not None, reverify)
        if reason:
            result.refused[enrollment_id] = reason
            continue
        try:
            await services.approve(hooks, tenant, reviewer, enrollment_id, NOTE)
        except ReviewError as exc:  # approved by someone else meanwhile, or a clearing proposed
            result.refused[enrollment_id] = str(exc)
            continue
        result.approved.append(enrollment_id)
    return result
