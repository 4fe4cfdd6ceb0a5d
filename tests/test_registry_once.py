"""The registry report reports a learner's hours once. It re-reported learners already uploaded
(one learner in batches 1, 2 and 3), and the learner's 学时记录 mixed batches ("2026-12-08 已退回：…"
after a later success). Now an uploaded enrolment, or one a batch awaiting its result is
reporting, is left out of the next batch unless staff ask (reason required, audited); a rejected
one is reported again; the history shows each batch's state in batch order, in Chinese."""

from __future__ import annotations

import asyncio
import json

from certificate_helpers import approved_enrolment, sign_in
from core.audit.tables import AuditEntry
from core.certificates.tables import RegistryBatch, RegistryResend, RegistryRow
from core.db.scoped import scoped
from core.jobs.tables import JobRun
from core.roster.spreadsheets import write_xlsx

T = "/t/construction"


async def _wait_run(key: str) -> JobRun:
    for _ in range(1200):
        run = await JobRun.objects().where(JobRun.key == key).order_by(JobRun.id, ascending=False).first()
        if run is not None and run.status in ("complete", "failed"):
            return run
        await asyncio.sleep(0.1)
    raise AssertionError(f"job {key} did not finish")


async def _report(client) -> int:
    r = await client.post(f"{T}/admin/registry", {"exporter": "xlsx"})
    assert r.status_code == 303
    batch_id = int(r.headers["location"].rsplit("/", 1)[1])
    assert (await _wait_run(f"registry:{batch_id}")).status == "complete"
    return batch_id


async def _rows(tenant, batch_id: int, enrolments) -> dict[int, RegistryRow]:
    return {r.enrollment: r for r in await scoped(RegistryRow, tenant).objects(
        (RegistryRow.batch == batch_id) & RegistryRow.enrollment.is_in([e.id for e in enrolments]))}


async def _result(client, tenant, batch_id: int, outcomes: list) -> None:
    """Import the registry's result file for ``outcomes``: (row, account, 结果, 原因, 日期)."""
    lines = [[row.row_ref, account.id_number, *outcome] for row, account, *outcome in outcomes]
    r = await client.post(f"{T}/admin/registry/{batch_id}/result",
                          files={"file": ("r.xlsx", write_xlsx(["行号", "身份证号", "结果", "原因", "上传日期"], lines))})
    assert r.status_code == 200, r.text[-1500:]


async def test_an_uploaded_learner_is_reported_once_unless_staff_ask_with_a_reason(client, platform, make_account):
    tenant, done_account, done_password, done = await approved_enrolment(platform, make_account, name="王已传")
    _, bad_account, _, bad = await approved_enrolment(platform, make_account, name="李退回")
    _, _, _, waiting = await approved_enrolment(platform, make_account, name="赵待结果")
    mine = [done, bad, waiting]
    admin, password = await make_account("construction", role="tenant_admin")
    await sign_in(client, "construction", admin, password)

    first = await _report(client)
    rows = await _rows(tenant, first, mine)
    assert set(rows) == {done.id, bad.id, waiting.id}
    await _result(client, tenant, first, [(rows[done.id], done_account, "成功", "", "2026-12-01"),
                                          (rows[bad.id], bad_account, "失败", "姓名与身份证号不符", "")])
    # 赵待结果 stays pending in batch 1, which is reconciled now: the registry never answered, so
    # it goes again; 李退回 was rejected: again; 王已传 is uploaded: never again.
    second = await _report(client)
    assert set(await _rows(tenant, second, mine)) == {bad.id, waiting.id}
    third = await _report(client)  # batch 2 awaits its result: nothing of it is reported twice
    assert await _rows(tenant, third, mine) == {}
    if not await scoped(RegistryRow, tenant).exists(RegistryRow.batch == third):
        assert "不重复上报" in (await client.get(f"{T}/admin/registry/{third}")).text

    # Staff ask to report 王已传 again: the reason is required (refused at its field), audited.
    page = f"{T}/admin/learners/{done_account.id}"
    resend = f"{page}/registry/{done.id}/resend"
    refused = await client.post(resend, {"reason": "  "})
    assert refused.status_code == 400 and "请填写重新上报的原因" in refused.text
    assert (await client.post(resend, {"reason": "学时核减后更正"})).status_code == 303
    again = await client.post(resend, {"reason": "再次申请"})
    assert again.status_code == 400 and "已申请重新上报" in again.text
    entry = await AuditEntry.objects().where(AuditEntry.action == "registry.resend_requested").order_by(
        AuditEntry.id, ascending=False).first()
    assert entry.actor == admin.id and str(entry.object_id) == str(done.id)
    detail = json.loads(entry.detail) if isinstance(entry.detail, str) else entry.detail
    assert detail["reason"] == "学时核减后更正"
    fourth = await _report(client)
    fourth_rows = await _rows(tenant, fourth, mine)
    assert set(fourth_rows) == {done.id}
    request = await RegistryResend.objects().where(RegistryResend.enrollment == done.id).first()
    assert request.batch == fourth  # taken by the batch that reported it
    await _result(client, tenant, fourth, [(fourth_rows[done.id], done_account, "失败", "重复上报", "")])
    assert await _rows(tenant, await _report(client), [done]) == {}  # the request was used once

    # The learner's 学时记录: the registry has the upload of batch 1; the history lists batch 1
    # 已上传 then batch 4 已退回, in batch order, in Chinese.
    client.http.cookies.clear()
    await sign_in(client, "construction", done_account, done_password)
    text = (await client.get(f"{T}/hours")).text
    current = text.split(f'data-enrollment="{done.id}"')[1].split("</tr>")[0]
    assert "2026-12-01" in current and "已退回" not in current and 'data-status="uploaded"' in current
    history = text.split(f'data-history="{done.id}"')[1].split("</tr>")[0]
    assert history.index(f'data-batch="{first}"') < history.index(f'data-batch="{fourth}"')
    assert "已上传 2026-12-01" in history and "已退回：重复上报" in history and "工作人员申请重新上报" in history
    assert ">uploaded" not in text and ">rejected" not in text and ">pending" not in text


async def test_resend_refuses_what_is_not_uploaded_another_learners_enrolment_and_learners(
        client, platform, make_account):
    tenant, account, password, enrollment = await approved_enrolment(platform, make_account)
    _, other, _, theirs = await approved_enrolment(platform, make_account)
    admin, admin_password = await make_account("construction", role="tenant_admin")
    await sign_in(client, "construction", admin, admin_password)
    r = await client.post(f"{T}/admin/learners/{account.id}/registry/{enrollment.id}/resend", {"reason": "x"})
    assert r.status_code == 400 and "尚未上传成功" in r.text  # the next batch reports it anyway
    batch = await _report(client)
    rows = await _rows(tenant, batch, [enrollment, theirs])
    await _result(client, tenant, batch, [(rows[theirs.id], other, "成功", "", "2026-12-02")])
    # Another learner's uploaded enrolment through this learner's page: refused.
    r = await client.post(f"{T}/admin/learners/{account.id}/registry/{theirs.id}/resend", {"reason": "x"})
    assert r.status_code == 400
    assert not await RegistryResend.exists().where(RegistryResend.enrollment == theirs.id)
    client.http.cookies.clear()
    await sign_in(client, "construction", account, password)
    r = await client.post(f"{T}/admin/learners/{other.id}/registry/{theirs.id}/resend", {"reason": "x"})
    assert r.status_code in (403, 404)
    assert not await RegistryResend.exists().where(RegistryResend.enrollment == theirs.id)


async def test_two_batches_made_at_once_do_not_both_report_a_learner(client, platform, make_account):
    tenant, _, _, enrollment = await approved_enrolment(platform, make_account)
    admin, password = await make_account("construction", role="tenant_admin")
    await sign_in(client, "construction", admin, password)
    made = await asyncio.gather(*(client.post(f"{T}/admin/registry", {"exporter": "xlsx"}) for _ in range(2)))
    ids = [int(r.headers["location"].rsplit("/", 1)[1]) for r in made]
    for batch_id in ids:
        assert (await _wait_run(f"registry:{batch_id}")).status == "complete"
    assert await scoped(RegistryRow, tenant).count(
        (RegistryRow.enrollment == enrollment.id) & RegistryRow.batch.is_in(ids)) == 1
    assert {b.status for b in await RegistryBatch.objects().where(RegistryBatch.id.is_in(ids))} == {"exported"}
