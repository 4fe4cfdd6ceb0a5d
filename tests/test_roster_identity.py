"""A learner import never rewrites a person's identity. A row giving another name or another
mobile for an existing ID number renamed the account and moved its mobile ("已有账号，将更新"),
bypassing the audited mobile correction and its SMS: such a row is now refused at the row, with
the reason, and the account stays as it was; the correction path still works."""

from __future__ import annotations

import datetime as dt
import html
import re

from core.accounts.tables import Account, Enterprise
from core.audit.tables import AuditEntry
from core.courses.services import LEARNER_HEADERS, MOBILE_CONFLICT, MOBILE_TAKEN, NAME_CONFLICT
from core.notify.tables import Notification
from core.roster.imports import commit_roster, preview_roster
from core.roster.spreadsheets import Table, write_csv
from core.roster.tables import ImportJob, LearnerProfile, RosterEntry
from core.testing.ids import fake_id_number, fake_mobile

T = "/t/construction"


async def _admin(client, make_account):
    admin, password = await make_account("construction", role="tenant_admin")
    assert (await client.signin("construction", "id", password, id_number=admin.id_number)).status_code == 303
    return admin


async def _preview(client, rows):
    r = await client.post(f"{T}/admin/learners/import", {},
                          files={"file": ("l.csv", write_csv(LEARNER_HEADERS, rows), "text/csv")})
    assert r.status_code == 200, r.text[-2000:]
    return r, int(re.search(r"/admin/learners/import/(\d+)", r.text).group(1))


def _row(page: str, line: int) -> str:
    cells = re.findall(r"<tr class=\"[^\"]*\"><td>(\d+)</td>(.*?)</tr>", page, re.S)
    return html.unescape(next(body for n, body in cells if int(n) == line))


async def test_a_spreadsheet_cannot_take_over_an_existing_learners_name_or_mobile(client, make_account):
    victim, _ = await make_account("construction", real_name="王真名")
    await _admin(client, make_account)
    attacker_mobile = fake_mobile()
    rows = [
        ["李冒名", victim.id_number, attacker_mobile, "安全员", ""],  # line 2: another name and mobile
        ["王真名", victim.id_number, attacker_mobile, "安全员", ""],  # line 3: duplicate ID (refused anyway)
    ]
    page, job_id = await _preview(client, rows[:1])
    row = _row(page.text, 2)
    assert NAME_CONFLICT in row and MOBILE_CONFLICT in row and "row-error" in page.text
    assert "已有账号，将更新" not in page.text
    refused = await client.post(f"{T}/admin/learners/import/{job_id}", {})
    assert refused.status_code == 400 and "1 行错误" in refused.text
    done = await client.post(f"{T}/admin/learners/import/{job_id}", {"skip_errors": "1"})
    assert done.status_code == 303

    # Same name, attacker's mobile: still refused (a mobile moves only through the correction).
    page, job_id = await _preview(client, rows[1:])
    assert MOBILE_CONFLICT in _row(page.text, 2) and NAME_CONFLICT not in page.text
    assert (await client.post(f"{T}/admin/learners/import/{job_id}", {"skip_errors": "1"})).status_code == 303

    after = await Account.objects().where(Account.id == victim.id).first()
    assert (after.real_name, after.mobile) == ("王真名", victim.mobile)
    assert not await Notification.exists().where(Notification.recipient == attacker_mobile)


async def test_a_new_row_cannot_claim_a_mobile_another_account_uses(client, make_account):
    victim, _ = await make_account("construction")
    await _admin(client, make_account)
    stranger = fake_id_number()
    other, mobile = fake_id_number(), fake_mobile()
    page, job_id = await _preview(client, [["新学员甲", stranger, victim.mobile, "安全员", ""],
                                           ["新学员乙", other, mobile, "安全员", ""],
                                           ["新学员丙", fake_id_number(), mobile, "安全员", ""]])
    assert MOBILE_TAKEN in _row(page.text, 2)
    assert "与第 3 行的手机号重复" in _row(page.text, 4) and "row-error" not in _row(page.text, 3)
    assert (await client.post(f"{T}/admin/learners/import/{job_id}", {"skip_errors": "1"})).status_code == 303
    assert not await Account.exists().where(Account.id_number == stranger)
    assert await Account.exists().where((Account.id_number == other) & (Account.mobile == mobile))
    assert await Account.count().where(Account.mobile == victim.mobile) == 1


async def test_a_matching_row_completes_the_account_and_the_mobile_moves_only_by_the_audited_correction(
        client, make_account):
    learner, _ = await make_account("construction", real_name="赵一致")
    admin = await _admin(client, make_account)
    page, job_id = await _preview(client, [["赵一致", learner.id_number, learner.mobile, "安全员", "证-001"]])
    assert "已有账号，将更新岗位和证书编号" in _row(page.text, 2)
    assert (await client.post(f"{T}/admin/learners/import/{job_id}", {})).status_code == 303
    profile = await LearnerProfile.objects().where(LearnerProfile.account == learner.id).first()
    assert (profile.position, profile.cert_number) == ("安全员", "证-001")

    new = fake_mobile()
    assert (await client.post(f"{T}/admin/learners/{learner.id}/mobile", {"mobile": new})).status_code == 303
    assert (await Account.objects().where(Account.id == learner.id).first()).mobile == new
    assert await Notification.exists().where((Notification.recipient == new) & (Notification.channel == "sms"))
    assert await AuditEntry.exists().where((AuditEntry.action == "learner.mobile_changed")
                                           & (AuditEntry.actor == admin.id))


async def test_a_company_roster_cannot_rename_or_move_the_mobile_of_a_joined_entry(platform, make_account):
    """The company rosters (core.roster.imports): once a learner joined an entry, a roster file
    naming it under another name or mobile is refused at the row, and the commit leaves it."""
    tenant = platform.tenants.get("survey")
    learner, _ = await make_account("survey", real_name="钱已加入")
    now = dt.datetime.now(dt.UTC)
    company = Enterprise(tenant=tenant.id, name="测试企业" + learner.mobile[-4:], created_at=now)
    await company.save()
    entry = RosterEntry(tenant=tenant.id, enterprise=company.id, real_name="钱已加入", id_number=learner.id_number,
                        mobile=learner.mobile, status="joined", account=learner.id, created_at=now, updated_at=now)
    await entry.save()
    positions = list(tenant.rules.roster.positions)
    position = positions[0] if positions else ""
    table = Table(["姓名", "身份证号", "手机号", "岗位"],
                  [(2, ["孙冒名", learner.id_number, fake_mobile(), position])])
    hooks = platform.hooks(tenant)
    preview = await preview_roster(hooks=hooks, tenant=tenant, enterprise_id=company.id, table=table)
    row = preview.rows[0]
    assert "不能更改其姓名" in row.error_for("real_name") and "不能更改其手机号" in row.error_for("mobile")
    job = ImportJob(tenant=tenant.id, enterprise=company.id, kind="roster", created_at=now)
    await job.save()
    await commit_roster(hooks=hooks, tenant=tenant, job=job, preview=preview, skip_errors=True)
    after = await RosterEntry.objects().where(RosterEntry.id == entry.id).first()
    assert (after.real_name, after.mobile) == ("钱已加入", learner.mobile)
