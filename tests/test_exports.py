"""Staff exports (XLSX) of learners (学员管理's filters applied) and certificates: every cell
that starts like a formula (= + - @ tab CR) is stored as text with Excel's quote prefix, never a
formula; ID numbers and mobiles are masked; only staff may download; each download is audited."""

from __future__ import annotations

import datetime as dt
import io
import secrets

import openpyxl
import pytest

from certificate_helpers import approved_enrolment, sign_in
from core.audit.tables import AuditEntry
from core.certificates import services as certificates
from core.courses.exports import CERTIFICATE_HEADERS, LEARNER_HEADERS
from core.testing.hostile import xlsx_text
from core.courses.tables import Course
from core.exams.tables import ExamAttempt
from core.courses.services import LEARNER_HEADERS as IMPORT_HEADERS
from core.roster.spreadsheets import write_csv
from core.roster.tables import LearnerProfile
from core.testing.ids import fake_id_number, fake_mobile

T = "/t/construction"
# (Chinese words: the crawl test, sharing the database, reads these names on the staff pages)
HOSTILE = ["=超链接(\"网址\",\"点我\")", "+1+1", "-2+3", "@求和(甲1)", "\t命令", "\r=1"]


def _sheet(content: bytes):
    return openpyxl.load_workbook(io.BytesIO(content)).active


async def _import(client, rows):
    r = await client.post(f"{T}/admin/learners/import", {},
                          files={"file": ("l.csv", write_csv(IMPORT_HEADERS, rows), "text/csv")})
    job_id = r.text.split("/admin/learners/import/")[1].split('"')[0]
    assert (await client.post(f"{T}/admin/learners/import/{job_id}", {})).status_code == 303


async def test_learner_export_neutralises_formulas_masks_and_applies_the_filters(client, platform, make_account):
    admin, password = await make_account("construction", role="tenant_admin")
    await sign_in(client, "construction", admin, password)
    company = "导出单位" + secrets.token_hex(3)
    people = [[f"导出{i}", fake_id_number(), fake_mobile(), "安全员", "", company] for i in range(len(HOSTILE))]
    people.append(["导出施工员", fake_id_number(), fake_mobile(), "施工员", "", company])
    await _import(client, people)
    # Hostile values where a learner's data can carry them (company, certificate number).
    for person, value in zip(people, HOSTILE):
        account_id = (await LearnerProfile.select(LearnerProfile.id).where(
            LearnerProfile.id_number == person[1]).first())["id"]
        await LearnerProfile.update({LearnerProfile.cert_number: value[:64]}).where(LearnerProfile.id == account_id)
    r = await client.get(f"{T}/admin/exports/learners.xlsx", params={"company": company, "position": "安全员"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/vnd.openxmlformats")
    assert "attachment" in r.headers["content-disposition"]
    sheet = _sheet(r.content)
    assert [c.value for c in sheet[1]] == LEARNER_HEADERS
    rows = {row[0].value: row for row in sheet.iter_rows(min_row=2)}
    assert set(rows) == {p[0] for p in people[:-1]}  # the filters: 施工员 left out
    cert_col = LEARNER_HEADERS.index("证书编号")
    for person, value in zip(people, HOSTILE):
        cell = rows[person[0]][cert_col]
        # the value exactly (a CR included), kept text by the quote prefix
        assert xlsx_text(cell.value) == value and cell.data_type == "s" and cell.quotePrefix, value
        assert rows[person[0]][1].value != person[1] and "*" in rows[person[0]][1].value  # masked
        assert person[2] not in (rows[person[0]][2].value or "")
    assert all(p[1] not in r.content.decode("latin-1") for p in people)
    entry = await AuditEntry.objects().where(AuditEntry.action == "export.downloaded").order_by(
        AuditEntry.id, ascending=False).first()
    assert entry.actor == admin.id and entry.object_id == "learners"


async def test_certificate_export_neutralises_a_hostile_name(client, platform, make_account):
    tenant, _, _, enrollment = await approved_enrolment(platform, make_account, name="=命令|'计算器'!甲0")
    certificate = await certificates.issue(platform, platform.hooks(tenant), tenant, enrollment)
    admin, password = await make_account("construction", role="tenant_admin")
    await sign_in(client, "construction", admin, password)
    sheet = _sheet((await client.get(f"{T}/admin/exports/certificates.xlsx", params={"status": "valid"})).content)
    assert [c.value for c in sheet[1]] == CERTIFICATE_HEADERS
    row = next(r for r in sheet.iter_rows(min_row=2) if r[0].value == certificate.number)
    assert row[1].value == "=命令|'计算器'!甲0" and row[1].data_type == "s" and row[1].quotePrefix
    assert row[7].value == "有效"


@pytest.mark.parametrize("path", ["learners.xlsx", "certificates.xlsx", "progress.xlsx", "exams.xlsx"])
async def test_only_staff_export(client, make_account, path):
    learner, password = await make_account("construction")
    await sign_in(client, "construction", learner, password)
    assert (await client.get(f"{T}/admin/exports/{path}")).status_code in (403, 404)
    client.http.cookies.clear()
    anonymous = await client.get(f"{T}/admin/exports/{path}")
    assert anonymous.status_code in (302, 303, 401, 403, 404)
    assert not anonymous.content.startswith(b"PK")


async def test_progress_and_exam_exports_follow_the_list_filters(client, platform, make_account):
    tenant, learner, _, enrollment = await approved_enrolment(platform, make_account, name="@进度甲")
    _, other, _, _ = await approved_enrolment(platform, make_account, name="进度乙")
    course_id = enrollment.course
    now = dt.datetime.now(dt.UTC)
    course = await Course.objects().where(Course.id == course_id).first()
    await ExamAttempt(tenant=tenant.id, account=learner.id, enrollment=enrollment.id, course=course_id,
                      position=course.position, year=course.year, number=1, status="submitted", started_at=now,
                      deadline=now, submitted_at=now, score_centi=8500, passed=True).save()
    admin, password = await make_account("construction", role="tenant_admin")
    await sign_in(client, "construction", admin, password)
    page = (await client.get(f"{T}/admin/learners", params={"q": learner.id_number})).text
    assert f"/admin/exports/progress.xlsx?q={learner.id_number}" in page  # the list's filters, in the link
    progress = _sheet((await client.get(f"{T}/admin/exports/progress.xlsx", params={"q": learner.id_number})).content)
    rows = list(progress.iter_rows(min_row=2, values_only=True))
    assert len(rows) == 1 and rows[0][0] == "@进度甲" and rows[0][5] == "32" and rows[0][7] == "审核通过"
    assert progress.cell(row=2, column=1).quotePrefix
    exams = _sheet((await client.get(f"{T}/admin/exports/exams.xlsx", params={"q": learner.id_number})).content)
    rows = list(exams.iter_rows(min_row=2, values_only=True))
    assert rows == [("@进度甲", rows[0][1], course.title, "第 1 次", "85", "合格", rows[0][6])]
    assert other.id_number not in rows[0][1]
