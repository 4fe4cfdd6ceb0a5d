"""The association's own panel on 数据看板: member companies certified (企业审核 approved), staff
certificates confirmed by their companies (人员确认), and roster learners who joined (已加入).
Counted by grouped queries; the company filter narrows to that company, the year and course
filters do not apply (these records have no course)."""

from __future__ import annotations

from typing import Any

from piccolo.query.functions.aggregate import Count

from core import DashboardFilters, DashboardPanel, RosterEntry, scoped
from plugins.survey_association.tables import CertificateHolder, CompanyCertification


async def _grouped(query: Any, done: str) -> tuple[int, int]:
    counts = {r["status"]: r["count"] for r in await query}
    return counts.get(done, 0), sum(n for s, n in counts.items() if s != done)


async def panels(tenant: Any, filters: DashboardFilters) -> list[DashboardPanel]:
    companies = scoped(CompanyCertification, tenant).select(CompanyCertification.status, Count())
    holders = scoped(CertificateHolder, tenant).select(CertificateHolder.status, Count())
    entries = scoped(RosterEntry, tenant).select(RosterEntry.status, Count())
    if filters.company:
        companies = companies.where(CompanyCertification.enterprise.name == filters.company)
        holders = holders.where(CertificateHolder.enterprise.name == filters.company)
        entries = entries.where(RosterEntry.enterprise.name == filters.company)
    rows = (("企业认证", *await _grouped(companies.group_by(CompanyCertification.status), "approved")),
            ("证书确认", *await _grouped(holders.group_by(CertificateHolder.status), "confirmed")),
            ("学员加入", *await _grouped(entries.group_by(RosterEntry.status), "joined")))
    return [DashboardPanel(key="survey_members", title="会员企业与人员", headers=("项目", "已完成", "未完成"),
                           rows=rows, chart="stacked", section="会员企业", order=1, translate_rows=True,
                           note="企业认证：企业审核通过；证书确认：企业已确认的人员证书；学员加入：花名册中已加入的学员。不按年度、课程筛选。")]
