"""证书管理 → 人员确认: staff load holders, the company corrects errors in red and confirms."""

import asyncio

from core.audit.tables import AuditEntry
from core.roster.tables import ImportJob
from plugins.survey_association.tables import CertificateHolder
from core.testing.ids import fake_id_number
from plugins.survey_association.tests._company_helpers import company, signed_in_admin, xlsx

HEADERS = ["姓名", "身份证号", "证书编号", "岗位", "发证日期", "有效期至", "企业信用代码"]


async def _load(client, data: bytes):
    """Upload, then poll the job's progress like the page does (the job runs in-process here)."""
    r = await client.post("/t/survey/staff/certificates/import", files={"file": ("c.xlsx", data, "application/octet-stream")})
    assert r.status_code == 303, r.text[-1500:]
    page = await client.get(r.headers["location"])
    assert page.status_code == 200 and 'id="certificates-progress"' in page.text
    for _ in range(300):
        progress = await client.hx_get(f"{r.headers['location']}/progress")
        if 'data-status="done"' in progress.text or 'data-status="failed"' in progress.text:
            return progress
        assert 'hx-trigger="every 1s"' in progress.text
        await asyncio.sleep(0.1)
    raise AssertionError(progress.text)


async def test_staff_load_company_corrects_and_confirms(client, tenant, make_account):
    t = tenant("survey")
    enterprise = await company(t)
    other = await company(t)
    good_id, cert = fake_id_number(), f"KC-{enterprise.id}-"
    rows = [
        ("周一", good_id, cert + "1", "勘察员", "2023-01-01", "2026-12-31", enterprise.credit_code),
        ("周二", "110105199001011231", cert + "2", "勘察员", "2023/02/01", "2026-12-31", enterprise.credit_code),
        ("周三", fake_id_number(), cert + "3", "厨师", "2023-03-01", "2022-01-01", enterprise.credit_code),
        ("外人", fake_id_number(), cert + "4", "勘察员", "2023-03-01", "2027-01-01", other.credit_code),
    ]
    staff, pw = await make_account("survey", role="tenant_admin")
    await client.signin("survey", "mobile", pw, mobile=staff.mobile)
    data = xlsx(rows, headers=HEADERS)
    r = await _load(client, data)
    assert "共 4 行，新增 4 行" in r.text and "2 行有问题" in r.text, r.text[:1500]
    # Loading the same file again updates, never duplicates.
    r = await _load(client, data)
    assert "新增 0 行，更新 4 行" in r.text
    assert await CertificateHolder.count().where(CertificateHolder.cert_number.like(cert + "%")) == 4
    r = await client.post("/t/survey/staff/certificates/import",
                          files={"file": ("c.xlsx", xlsx(rows, headers=["姓名"]), "application/octet-stream")})
    assert r.status_code == 400 and "表头缺少必需的列" in r.text
    await client.post("/t/survey/signout")

    await signed_in_admin(client, t, make_account, enterprise)
    page = await client.get("/t/survey/company/certificates")
    assert page.status_code == 200
    assert "周一" in page.text and "外人" not in page.text and good_id not in page.text
    assert page.text.count('class="row-error"') == 2
    assert "身份证号校验位不正确" in page.text and "岗位“厨师”不在可选岗位中" in page.text
    assert "有效期至应晚于发证日期" in page.text
    holders = {h.cert_number: h for h in await CertificateHolder.objects().where(
        CertificateHolder.enterprise == enterprise.id)}
    foreign = await CertificateHolder.objects().where(CertificateHolder.cert_number == cert + "4").first()
    assert (await client.hx_get(f"/t/survey/company/certificates/{foreign.id}/edit")).status_code == 404
    # Confirm everything: only the row without problems goes through.
    r = await client.post("/t/survey/company/certificates/confirm", {})
    assert r.status_code == 303 and "confirmed=1" in r.headers["location"] and "blocked=2" in r.headers["location"]
    # Correct row 2 inline (htmx): a still-wrong value keeps the form with the message.
    h2 = holders[cert + "2"]
    edit = await client.hx_get(f"/t/survey/company/certificates/{h2.id}/edit")
    assert edit.status_code == 200 and "身份证号校验位不正确" in edit.text
    fields = {"real_name": "周二", "id_number": "110105199001011232X", "cert_number": cert + "2", "position": "勘察员",
              "issued_on": "2023-02-01", "expires_on": "2026-12-31"}
    r = await client.hx_post(f"/t/survey/company/certificates/{h2.id}", fields)
    assert r.status_code == 200 and "身份证号应为18位" in r.text
    fields["id_number"] = fake_id_number()
    r = await client.hx_post(f"/t/survey/company/certificates/{h2.id}", fields)
    assert r.status_code == 200 and "无误" in r.text and "row-error" not in r.text
    h3 = holders[cert + "3"]
    r = await client.hx_post(f"/t/survey/company/certificates/{h3.id}", {
        "real_name": "周三", "id_number": "", "cert_number": cert + "3", "position": "测量员",
        "issued_on": "2023-03-01", "expires_on": "2028-03-01"})
    assert "无误" in r.text
    await h3.refresh()
    assert h3.id_number == holders[cert + "3"].id_number  # blank kept the stored number
    r = await client.post("/t/survey/company/certificates/confirm", {"holder_id": [str(h2.id), str(h3.id), str(foreign.id)]})
    assert "confirmed=2" in r.headers["location"]
    await foreign.refresh()
    assert foreign.status == "imported"
    confirmed = await client.get("/t/survey/company/certificates/confirmed")
    assert all(name in confirmed.text for name in ("周一", "周二", "周三"))
    assert await AuditEntry.count().where(
        (AuditEntry.action == "cert_holder.confirmed") & AuditEntry.object_id.is_in(
            [str(h.id) for h in holders.values()])) == 3
    assert await AuditEntry.count().where(
        (AuditEntry.action == "cert_holder.corrected") & AuditEntry.object_id.is_in([str(h2.id), str(h3.id)])) == 3
    assert await AuditEntry.count().where((AuditEntry.action == "cert_holder.imported")
                                          & (AuditEntry.actor == staff.id)) == 2


async def test_expired_certificate_is_an_error_and_cannot_be_confirmed(client, tenant, make_account):
    """Issue 8 #12: 有效期至 in the past was shown 无误 and could be confirmed."""
    t = tenant("survey")
    enterprise = await company(t)
    cert = f"EXP-{enterprise.id}-"
    rows = [("过期", fake_id_number(), cert + "1", "勘察员", "2020-01-01", "2024-01-01", enterprise.credit_code),
            ("有效", fake_id_number(), cert + "2", "勘察员", "2023-01-01", "2099-12-31", enterprise.credit_code)]
    staff, pw = await make_account("survey", role="tenant_admin")
    await client.signin("survey", "mobile", pw, mobile=staff.mobile)
    r = await _load(client, xlsx(rows, headers=HEADERS))
    assert "1 行有问题" in r.text, r.text[:1500]
    await client.post("/t/survey/signout")
    # A row loaded while valid that has expired since is caught at view and confirmation time.
    later = await CertificateHolder.objects().where(CertificateHolder.cert_number == cert + "2").first()
    later.expires_on = __import__("datetime").date(2024, 6, 30)
    await later.save()

    await signed_in_admin(client, t, make_account, enterprise)
    page = await client.get("/t/survey/company/certificates")
    assert "证书已过期（有效期至 2024-01-01）" in page.text and "证书已过期（有效期至 2024-06-30）" in page.text
    assert page.text.count('class="row-error"') == 2 and '<span class="ok">无误' not in page.text
    r = await client.post("/t/survey/company/certificates/confirm", {})
    assert "confirmed=0" in r.headers["location"] and "blocked=2" in r.headers["location"]
    expired = await CertificateHolder.objects().where(CertificateHolder.cert_number == cert + "1").first()
    r = await client.post("/t/survey/company/certificates/confirm", {"holder_id": [str(expired.id), str(later.id)]})
    assert "confirmed=0" in r.headers["location"]
    assert await CertificateHolder.count().where(CertificateHolder.cert_number.like(cert + "%")
                                                 & (CertificateHolder.status == "confirmed")) == 0
    # Correcting the date clears the error.
    r = await client.hx_post(f"/t/survey/company/certificates/{expired.id}", {
        "real_name": "过期", "id_number": "", "cert_number": cert + "1", "position": "勘察员",
        "issued_on": "2020-01-01", "expires_on": "2023-12-31"})
    assert "证书已过期" in r.text and '<span class="ok">无误' not in r.text


async def test_the_certificate_job_loads_the_rows_parsed_at_upload(client, tenant, make_account, platform):
    """Issue 8 #3: the job's file holds the rows parsed at upload, not the upload: the job cannot
    parse the file again (nothing else is kept)."""
    from core.files.tables import StoredFile
    from core.roster.spreadsheets import PARSED_MEDIA_TYPE, table_from_json

    t = tenant("survey")
    enterprise = await company(t)
    cert = f"KP-{enterprise.id}-"
    staff, pw = await make_account("survey", role="tenant_admin")
    await client.signin("survey", "mobile", pw, mobile=staff.mobile)
    data = xlsx([("吴一", fake_id_number(), cert + "1", "勘察员", "2023-01-01", "2027-12-31",
                  enterprise.credit_code)], headers=HEADERS)
    r = await _load(client, data)
    assert "共 1 行，新增 1 行" in r.text
    job = await ImportJob.objects().where(ImportJob.created_by == staff.id).first()
    stored = await StoredFile.objects().where(StoredFile.id == job.file).first()
    assert stored.media_type == PARSED_MEDIA_TYPE
    kept = table_from_json(await platform.storage.read(stored))
    assert kept.headers == HEADERS and kept.rows[0][1][:3] == ["吴一", kept.rows[0][1][1], cert + "1"]
    assert await CertificateHolder.count().where(CertificateHolder.cert_number == cert + "1") == 1
