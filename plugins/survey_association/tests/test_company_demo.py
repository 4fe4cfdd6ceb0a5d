"""The survey demo shows data on every company page (issue 8 #14: the demo company had no credit
code, so 人员确认 was always empty)."""

from core.accounts.tables import Enterprise
from core.identity import normalize_credit_code
from plugins.survey_association.tables import CertificateHolder


async def test_tenant_demo_data_gives_the_demo_company_certificates_and_learners(xs_settings, client, platform):
    from core.demo import create_demo

    lines = await create_demo(xs_settings, "http://127.0.0.1:8000")
    assert any("示范证书 4 条" in line for line in lines), lines
    tenant = platform.tenants.get("survey")
    company = await Enterprise.objects().where(
        (Enterprise.tenant == tenant.id) & (Enterprise.name == "示范勘察设计院有限公司")).first()
    assert company.credit_code and normalize_credit_code(company.credit_code) == company.credit_code
    r = await client.signin("survey", "mobile", "Company-2026", mobile="13700137000")
    assert r.status_code == 303, r.text
    pending = await client.get("/t/survey/company/certificates")
    assert pending.status_code == 200
    assert "周勘察" in pending.text and '<span class="ok">无误' in pending.text  # a correct row
    assert "不在可选岗位中" in pending.text and "证书已过期" in pending.text  # rows to correct
    confirmed = await client.get("/t/survey/company/certificates/confirmed")
    assert "王已确认" in confirmed.text
    learners = await client.get("/t/survey/company/learners")
    assert "冯学员" in learners.text and "陈学员" in learners.text
    # Idempotent: a second demo run adds nothing.
    before = await CertificateHolder.count().where(CertificateHolder.tenant == tenant.id)
    again = await create_demo(xs_settings, "http://127.0.0.1:8000")
    assert any("示范证书 4 条" in line for line in again) and any("示范学员 2 名" in line for line in again)
    assert await CertificateHolder.count().where(CertificateHolder.tenant == tenant.id) == before
