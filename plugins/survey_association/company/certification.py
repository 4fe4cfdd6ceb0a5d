"""A company's 实名认证 with the association (``CompanyCertification``): looked up by company,
the approved companies, and the staff's decision."""

from __future__ import annotations

import datetime as dt

from core import Account, Enterprise, Tenant, audit, scoped
from plugins.survey_association.tables import CompanyCertification
from plugins.survey_association.roles import COMPANY_ADMIN

STATUS_LABELS = {"pending": "待审核", "approved": "已通过", "rejected": "未通过"}


async def of_company(tenant: Tenant, enterprise_id: int | None) -> CompanyCertification | None:
    if not enterprise_id:
        return None
    return await scoped(CompanyCertification, tenant).objects(CompanyCertification.enterprise == enterprise_id).first()


async def approved_company(tenant: Tenant, enterprise_id: int | None) -> Enterprise | None:
    """The company if the association approved it, else None."""
    certification = await of_company(tenant, enterprise_id)
    if certification is None or certification.status != "approved":
        return None
    return await scoped(Enterprise, tenant).get(enterprise_id)


async def approved_credit_codes(tenant: Tenant) -> dict[str, int]:
    """Credit code → company id of every approved company that has one."""
    rows = await scoped(CompanyCertification, tenant).select(
        CompanyCertification.enterprise.as_alias("id"),
        CompanyCertification.enterprise.credit_code.as_alias("credit_code"),
    ).where(CompanyCertification.status == "approved")
    return {r["credit_code"]: r["id"] for r in rows if r["credit_code"]}


async def applications(tenant: Tenant) -> list[CompanyCertification]:
    """Every application with its company (``row.enterprise`` is the ``Enterprise``), newest first."""
    return await scoped(CompanyCertification, tenant).objects().prefetch(CompanyCertification.enterprise).order_by(
        CompanyCertification.enterprise, ascending=False)


async def submit(tenant: Tenant, enterprise: Enterprise, licence_id: int) -> CompanyCertification:
    """A new or repeated application: pending again, the previous decision cleared."""
    row = await of_company(tenant, enterprise.id) or scoped(CompanyCertification, tenant).new(
        enterprise=enterprise.id)
    row.status, row.reject_reason, row.licence = "pending", "", licence_id
    row.decided_at = row.decided_by = None
    await row.save()
    return row


async def decide(tenant: Tenant, staff: Account, enterprise_id: int, status: str,
                 reason: str = "") -> CompanyCertification | None:
    """Approve or reject an application (its administrator can sign in only once approved); None
    when the company never applied."""
    row = await of_company(tenant, enterprise_id)
    if row is None:
        return None
    row.status, row.reject_reason = status, reason
    row.decided_at, row.decided_by = dt.datetime.now(dt.UTC), staff.id
    await row.save([CompanyCertification.status, CompanyCertification.reject_reason,
                    CompanyCertification.decided_at, CompanyCertification.decided_by])
    await scoped(Account, tenant).update({Account.active: status == "approved"}).where(
        (Account.enterprise == enterprise_id) & (Account.role == COMPANY_ADMIN))
    await audit(f"enterprise.{status}", tenant_id=tenant.id, actor_id=staff.id, object_type="enterprise",
                object_id=enterprise_id, reason=reason)
    return row
