"""The survey demo's own records: the demo company's 实名认证 (approved), its certificate
holders (人员确认 with one row of each kind: correct, to be corrected, expired; 企业学员证书 with
one confirmed) and its roster (学员管理). Idempotent: holders by certificate number, roster
entries by ID number; the lines printed say what the demo has, on every run."""

from __future__ import annotations

import datetime as dt

from core import Enterprise, RosterEntry, Tenant, scoped
from plugins.survey_association.company import holders
from plugins.survey_association.tables import CertificateHolder, CompanyCertification

COMPANY = "示范勘察设计院有限公司"
CREDIT_CODE = "91110108MA2600014K"  # valid: GB 32100 structure and check characters

# name, ID number, certificate number, 岗位, 发证日期, 有效期至, confirmed
HOLDERS = [
    ("周勘察", "110105198501020018", "KC-DEMO-0001", "勘察员", "2024-03-01", "2028-02-29", False),
    ("吴测量", "110105198501030021", "KC-DEMO-0002", "测绘员", "2024-03-01", "2028-02-29", False),  # not a 岗位
    ("郑过期", "110105198501040035", "KC-DEMO-0003", "测量员", "2019-01-01", "2024-01-01", False),
    ("王已确认", "110105198501050049", "KC-DEMO-0004", "勘察员", "2023-06-01", "2027-05-31", True),
]
ROSTER = [
    {"real_name": "冯学员", "id_number": "110105198501060052", "mobile": "13600136001", "position": "勘察员"},
    {"real_name": "陈学员", "id_number": "110105198501070066", "mobile": "13600136002", "position": "测量员"},
]


async def seed(tenant: Tenant) -> list[str]:
    company = await scoped(Enterprise, tenant).objects(Enterprise.credit_code == CREDIT_CODE).first()
    if company is None:
        return []
    certifications = scoped(CompanyCertification, tenant)
    if await certifications.objects(CompanyCertification.enterprise == company.id).first() is None:
        await certifications.new(enterprise=company.id, status="approved").save()  # 已通过认证
    positions = list(tenant.rules.roster.positions)
    table = scoped(CertificateHolder, tenant)
    now = dt.datetime.now(dt.UTC)
    for name, id_number, cert, position, issued, expires, confirmed in HOLDERS:
        if await table.objects(CertificateHolder.cert_number == cert).first() is not None:
            continue
        checked = holders.check({"real_name": name, "id_number": id_number, "cert_number": cert,
                                 "position": position, "issued_on": issued, "expires_on": expires}, positions)
        row = table.new(enterprise=company.id, credit_code=CREDIT_CODE, problems=checked.problems, created_at=now,
                        **checked.values)
        if confirmed and not checked.problems:
            row.status, row.confirmed_at = "confirmed", now
        await row.save()
    entries = scoped(RosterEntry, tenant)
    for values in ROSTER:  # 未加入 until the learner joins from their own profile
        if await entries.objects(RosterEntry.id_number == values["id_number"]).first() is None:
            await entries.new(enterprise=company.id, status="pending", created_at=now, updated_at=now,
                              **values).save()
    certificates = await table.count().where(CertificateHolder.cert_number.is_in([h[2] for h in HOLDERS]))
    learners = await entries.count().where(RosterEntry.id_number.is_in([r["id_number"] for r in ROSTER]))
    return [f"{COMPANY}：示范证书 {certificates} 条（人员确认、企业学员证书）",
            f"{COMPANY}：示范学员 {learners} 名（学员管理）"]
