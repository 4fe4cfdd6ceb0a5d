"""The certificates' hooks (cert_number, cert_issued, registry_exporters), the batch job with its
progress, and the registry report: export (formula-safe), reconciliation, 学时记录."""

from __future__ import annotations

import asyncio
import csv
import io
import secrets

import openpyxl
import pytest

from certificate_helpers import approved_enrolment, pdf_text, sign_in
from core import hookimpl
from core.certificates import services
from core import RegistryExporter
from core.certificates.tables import Certificate, RegistryBatch, RegistryRow
from core.db.scoped import scoped
from core.jobs.tables import JobRun
from core.roster.spreadsheets import write_csv, write_xlsx

ISSUED: list[tuple[str, int, int | None]] = []


class Pipes(RegistryExporter):
    def write(self, records):
        return "\n".join(f"{r.row_ref}|{r.id_number}|{r.uploaded_hours}" for r in records).encode()


class CertPlugin:
    """A global plugin: numbers the survey tenant's certificates its own way, records issues,
    and adds a registry format."""

    @hookimpl
    def cert_number(self, tenant, enrollment, course, revision):
        if tenant.slug == "survey":
            return f"测绘证{course.year}-{enrollment.id}-{revision}"
        return None

    @hookimpl
    async def cert_issued(self, tenant, certificate, replaced):
        ISSUED.append((tenant.slug, certificate.id, replaced.id if replaced else None))

    @hookimpl
    def registry_exporters(self, tenant):
        return [Pipes("pipes", "竖线分隔", "txt", "text/plain")]


@pytest.fixture
def xs_plugins():
    return [CertPlugin()]


async def _wait_run(key: str, seconds: float = 120) -> JobRun:
    run = None
    for _ in range(int(seconds * 10)):
        run = await JobRun.objects().where(JobRun.key == key).order_by(JobRun.id, ascending=False).first()
        if run is not None and run.status in ("complete", "failed"):
            return run
        await asyncio.sleep(0.1)
    raise AssertionError(f"job {key} did not finish: {run and run.status}")


async def test_cert_number(platform, make_account):
    survey, _, _, enrollment = await approved_enrolment(platform, make_account, "survey")
    cert = await services.issue(platform, platform.hooks(survey), survey, enrollment)
    assert cert.number == f"测绘证2026-{enrollment.id}-1"
    assert cert.number in pdf_text(await services.pdf_bytes(platform, survey, cert))
    renewed = await services.renew(platform, platform.hooks(survey), survey, cert)
    assert renewed.number == f"测绘证2026-{enrollment.id}-2"
    # The other tenant gets the core default (the plugin answered None).
    construction, _, _, other = await approved_enrolment(platform, make_account)
    default = await services.issue(platform, platform.hooks(construction), construction, other)
    assert default.number == f"CONS2026{other.id:07d}-01"


async def test_cert_issued(platform, make_account):
    tenant, _, _, enrollment = await approved_enrolment(platform, make_account)
    hooks = platform.hooks(tenant)
    first = await services.issue(platform, hooks, tenant, enrollment)
    assert ("construction", first.id, None) in ISSUED
    again = await services.issue(platform, hooks, tenant, enrollment)  # already issued: no second call
    assert again.id == first.id and sum(1 for x in ISSUED if x[1] == first.id) == 1
    a, b = await asyncio.gather(services.renew(platform, hooks, tenant, first), services.renew(platform, hooks, tenant, first))
    assert a.id == b.id
    assert [x for x in ISSUED if x[2] == first.id] == [("construction", a.id, first.id)]  # once, not per attempt


async def test_batch_job_issues_every_eligible_learners_certificate_with_progress(client, platform, make_account):
    tenant = platform.tenants.get("construction")
    made = [await approved_enrolment(platform, make_account) for _ in range(3)]
    _, _, _, studying = await approved_enrolment(platform, make_account, status="studying")
    already = await services.issue(platform, platform.hooks(tenant), tenant, made[0][3])
    admin, password = await make_account("construction", role="tenant_admin")
    await sign_in(client, "construction", admin, password)
    page = await client.get("/t/construction/admin/certificates")
    assert page.status_code == 200 and "批量生成学时证明" in page.text
    r = await client.post("/t/construction/admin/certificates/batch")
    assert r.status_code == 303 and "/admin/jobs/" in r.headers["location"]
    run = await _wait_run("certificates:construction")
    assert run.status == "complete" and run.total >= len(made) and run.done == run.total  # other tests add more
    for _, _, _, enrollment in made:
        assert await services.current(tenant, enrollment.id) is not None
    assert (await services.current(tenant, made[0][3].id)).id == already.id  # not re-issued
    assert await scoped(Certificate, tenant).count(Certificate.enrollment == studying.id) == 0
    progress = await client.get(r.headers["location"])
    assert progress.status_code == 200 and f"{run.done} / {run.total}" in progress.text


async def _report(client, exporter: str = "xlsx") -> RegistryBatch:
    r = await client.post("/t/construction/admin/registry", {"exporter": exporter})
    assert r.status_code == 303
    batch_id = int(r.headers["location"].rsplit("/", 1)[1])
    run = await _wait_run(f"registry:{batch_id}")
    assert run.status == "complete", run.error
    return await RegistryBatch.objects().where(RegistryBatch.id == batch_id).first()


async def test_registry_export_reconciliation_and_hours_record(client, platform, make_account):
    tenant = platform.tenants.get("construction")
    _, ok_account, ok_password, ok = await approved_enrolment(platform, make_account, name="李四")
    _, bad_account, _, bad = await approved_enrolment(platform, make_account, name="=HYPERLINK(\"x\")")
    admin, password = await make_account("construction", role="tenant_admin")
    await sign_in(client, "construction", admin, password)
    batch = await _report(client)
    assert batch.status == "exported" and batch.rows >= 2
    rows = {r.enrollment: r for r in await scoped(RegistryRow, tenant).objects(RegistryRow.batch == batch.id)}
    assert rows[ok.id].status == "pending" and rows[bad.id].status == "pending"
    file = await client.get(f"/t/construction/admin/registry/{batch.id}/file")
    assert file.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(file.content)).active
    header = [c.value for c in sheet[1]]
    assert header == ["行号", "姓名", "身份证号", "机构", "岗位", "已上传学时数", "总学时数", "上传日期", "结果", "原因"]
    cells = {row[0].value: row for row in sheet.iter_rows(min_row=2)}
    mine = cells[rows[ok.id].row_ref]
    assert [c.value for c in mine[1:3]] == ["李四", ok_account.id_number] and mine[5].value == "32"
    hostile = cells[rows[bad.id].row_ref][1]
    assert hostile.data_type == "s" and hostile.quotePrefix  # text, never a formula
    # The registry's result file: one uploaded, one rejected, one that names nobody of the batch.
    result = write_xlsx(["行号", "身份证号", "结果", "原因", "上传日期"], [
        [rows[ok.id].row_ref, ok_account.id_number, "成功", "", "2026-11-20"],
        [rows[bad.id].row_ref, bad_account.id_number, "失败", "姓名与身份证号不符", ""],
        [rows[ok.id].row_ref, bad_account.id_number, "成功", "", "2026-11-20"],
    ])
    r = await client.post(f"/t/construction/admin/registry/{batch.id}/result",
                          files={"file": ("result.xlsx", result)})
    assert r.status_code == 200 and "已上传 1 行，已退回 1 行，1 行无法对应" in r.text
    rows = {r.enrollment: r for r in await scoped(RegistryRow, tenant).objects(RegistryRow.batch == batch.id)}
    assert rows[ok.id].status == "uploaded" and rows[ok.id].uploaded_on.isoformat() == "2026-11-20"
    assert rows[bad.id].status == "rejected" and rows[bad.id].reason == "姓名与身份证号不符"
    # The learner's 学时记录 shows what the registry has.
    client.http.cookies.clear()
    await sign_in(client, "construction", ok_account, ok_password)
    page = await client.get("/t/construction/hours")
    assert page.status_code == 200
    for label in ("机构", "岗位", "已上传学时数", "总学时数", "上传日期"):
        assert label in page.text
    row = page.text.split(f'data-enrollment="{ok.id}"')[1].split("</tr>")[0]
    assert tenant.name in row and '<td class="uploaded">32</td>' in row and "2026-11-20" in row


async def test_registry_result_file_with_wrong_columns_is_refused_at_the_field(client, platform, make_account):
    await approved_enrolment(platform, make_account)
    admin, password = await make_account("construction", role="tenant_admin")
    await sign_in(client, "construction", admin, password)
    batch = await _report(client, "csv")
    assert batch.filename.endswith(".csv")
    export = await client.get(f"/t/construction/admin/registry/{batch.id}/file")
    assert export.content.startswith(b"\xef\xbb\xbf\xe8\xa1\x8c\xe5\x8f\xb7")  # BOM + 行号
    r = await client.post(f"/t/construction/admin/registry/{batch.id}/result",
                          files={"file": ("x.csv", write_csv(["姓名"], [["张三"]]))})
    assert r.status_code == 400 and "结果文件缺少列" in r.text
    r = await client.post(f"/t/construction/admin/registry/{batch.id}/result",
                          files={"file": ("x.xlsx", b"PK\x03\x04 not a zip")})
    assert r.status_code == 400 and 'class="error"' in r.text
    assert batch.status == "exported"


async def test_registry_exporters(client, platform, make_account):
    _, account, _, enrollment = await approved_enrolment(platform, make_account)
    admin, password = await make_account("construction", role="tenant_admin")
    await sign_in(client, "construction", admin, password)
    assert "竖线分隔" in (await client.get("/t/construction/admin/certificates")).text
    batch = await _report(client, "pipes")
    data = (await client.get(f"/t/construction/admin/registry/{batch.id}/file")).content.decode()
    assert f"|{account.id_number}|32.0" in data
    r = await client.post("/t/construction/admin/registry", {"exporter": "nope"})
    assert r.status_code == 400 and "请选择上报文件格式" in r.text


async def test_retention_purges_old_registry_exports_and_keeps_certificates(platform, make_account):
    """Registry exports hold full ID numbers: gone after the import files' rule, the report's
    rows stay; certificate PDFs (referenced by their certificate) are never purged."""
    import datetime as _dt

    from core.retention import purge
    from test_retention import _file, _gone, _kept, _later

    t, _, _, enrollment = await approved_enrolment(platform, make_account)
    now = _later()
    days = t.rules.retention.import_files_days
    old_file, new_file = await _file(platform, t, "registry_export", days + 1, now=now), \
        await _file(platform, t, "registry_export", days - 1, now=now)
    old = RegistryBatch(tenant=t.id, status="reconciled", file=old_file.id, rows=1,
                        created_at=now - _dt.timedelta(days=days + 1))
    await old.save()
    row = RegistryRow(tenant=t.id, batch=old.id, enrollment=enrollment.id, account=enrollment.account, row_ref="x-1",
                      institution="机构", position="资料员", status="uploaded", updated_at=now)
    await row.save()
    recent = RegistryBatch(tenant=t.id, status="exported", file=new_file.id, created_at=now - _dt.timedelta(days=1))
    await recent.save()
    cert = await services.issue(platform, platform.hooks(t), t, enrollment)
    from core.files.tables import StoredFile

    await StoredFile.update({StoredFile.created_at: now - _dt.timedelta(days=days + 400)}).where(
        StoredFile.id == cert.file)

    counts = await purge(t, platform.storage, now=now)

    assert counts["registry_exports"] >= 1 and await _gone(platform, old_file) and await _kept(platform, new_file)
    assert (await RegistryBatch.objects().where(RegistryBatch.id == old.id).first()).file is None
    assert (await RegistryRow.objects().where(RegistryRow.id == row.id).first()).status == "uploaded"
    assert await services.pdf_bytes(platform, t, cert)  # still there, same hash


async def test_the_demo_issues_a_certificate_through_review_exam_and_registry(xs_settings, client, platform):
    """The demo's 陈学员: approved by the demo reviewer, the exam passed, the certificate issued
    and reported to the registry, all through the services; a second run changes nothing."""
    from core.accounts.tables import Account
    from core.demo import create_demo
    from core.exams.tables import ExamAttempt
    from core.review.tables import ReviewDecision

    lines = await create_demo(xs_settings, "http://127.0.0.1:8000")
    tenant = platform.tenants.get("construction")
    learner = await Account.objects().where((Account.tenant == tenant.id)
                                            & (Account.id_number == "110105198807151248")).first()
    certificates = await scoped(Certificate, tenant).objects(Certificate.account == learner.id)
    assert len(certificates) == 1 and certificates[0].status == "valid"
    cert = certificates[0]
    said = [x for x in lines if "电子证书" in x and "/t/construction/" in x]
    assert said == [f"  电子证书：陈学员 2026 年度继续教育（示范课程），证书编号 {cert.number}，"
                    f"验证码 {services.display_code(cert.code)}（http://127.0.0.1:8000/t/construction/verify/{cert.code}）"]
    # (Its PDF lies under the var directory of whichever demo run issued it first, perhaps another
    # test's: the PDF itself is tested in test_certificates.)
    assert cert.holder_name == "陈学员" and cert.file and len(cert.sha256) == 64
    assert await scoped(ReviewDecision, tenant).exists((ReviewDecision.learner == learner.id)
                                                       & (ReviewDecision.kind == "approve"))
    passed = await scoped(ExamAttempt, tenant).objects((ExamAttempt.account == learner.id) & (ExamAttempt.passed == True))  # noqa: E712
    assert len(passed) == 1 and passed[0].score_centi == passed[0].total_centi
    # (Other tests' report batches may hold the demo learner too, pending: the shared database.)
    rows = await scoped(RegistryRow, tenant).objects((RegistryRow.account == learner.id)
                                                     & (RegistryRow.status == "uploaded"))
    assert len(rows) == 1
    assert any(x.strip().startswith(f"学时上报：第 {rows[0].batch} 批，已上传 ") for x in lines)
    batches = await scoped(RegistryBatch, tenant).count()

    again = await create_demo(xs_settings, "http://127.0.0.1:8000")
    assert [x for x in again if "电子证书" in x or "学时上报" in x] == [x for x in lines if "电子证书" in x or "学时上报" in x]
    assert await scoped(Certificate, tenant).count(Certificate.account == learner.id) == 1
    assert await scoped(ExamAttempt, tenant).count(ExamAttempt.account == learner.id) == 1
    assert await scoped(RegistryBatch, tenant).count() == batches
