"""操作日志 for tenant admins: filters by actor, action and the tenant's days, paging, Chinese
action names, masked ID and mobile numbers whatever an entry holds, and no other tenant's entries."""

from __future__ import annotations

import datetime as dt
import re

from core.audit.services import record
from core.audit.tables import AuditEntry
from core.audit.viewer import PAGE_SIZE
from tests.test_review import T, _sign_in



async def test_admin_filters_pages_and_sees_masked_numbers_in_tenant_time(client, platform, make_account):
    tenant = platform.tenants.get("construction")
    other = platform.tenants.get("survey")
    admin, password = await make_account("construction", role="tenant_admin", real_name="日志管理员")
    actor, _ = await make_account("construction", role="reviewer", real_name="日志审核员")
    # 23:30 UTC on 1 March is 07:30 on 2 March in Beijing: the entry belongs to 2 March.
    late = dt.datetime(2026, 3, 1, 23, 30, tzinfo=dt.UTC)
    await AuditEntry.insert(AuditEntry(tenant=tenant.id, actor=actor.id, action="review.approve", object_type="account",
                                       object_id="110105199001011232", created_at=late,
                                       detail={"note": "手机 13812345678，身份证 11010519900101123X"}))
    for i in range(PAGE_SIZE + 3):
        await record("export.downloaded", tenant_id=tenant.id, actor_id=actor.id, object_type="export",
                     object_id="learners", rows=i)
    await record("export.downloaded", tenant_id=other.id, actor_id=None, object_type="export", object_id="外机构")
    await _sign_in(client, admin, password)

    page = await client.get(f"{T}/admin/audit", params={"actor": "日志审核", "action": "review.approve",
                                                        "since": "2026-03-02", "until": "2026-03-02"})
    assert page.status_code == 200
    rows = re.findall(r'<tr data-entry="\d+">(.*?)</tr>', page.text, re.S)
    assert len(rows) == 1 and "审核通过" in rows[0] and "日志审核员" in rows[0]
    assert "2026-03-02 07:30" in rows[0]
    assert "13812345678" not in page.text and "110105199001011232" not in page.text
    assert "11010519900101123X" not in page.text and "138****5678" in page.text
    assert "note=手机 138****5678" in page.text  # the detail read as its keys and values, not JSON text
    # The same entry is not on 1 March (a UTC day), nor for another actor's name.
    assert 'data-entry' not in (await client.get(f"{T}/admin/audit", params={
        "action": "review.approve", "since": "2026-03-01", "until": "2026-03-01", "actor": "日志审核"})).text
    assert 'data-entry' not in (await client.get(f"{T}/admin/audit", params={
        "action": "review.approve", "actor": "无此人"})).text

    first = await client.get(f"{T}/admin/audit", params={"actor": "日志审核员", "action": "export.downloaded"})
    assert len(re.findall(r'<tr data-entry=', first.text)) == PAGE_SIZE and "共 %d 条" % (PAGE_SIZE + 3) in first.text
    assert "外机构" not in first.text
    nxt = re.search(r'href="([^"]*page=2[^"]*)"', first.text).group(1).replace("&amp;", "&")
    second = await client.get(nxt)
    assert len(re.findall(r'<tr data-entry=', second.text)) == 3
    # Bad filter values are ignored, never an error.
    assert (await client.get(f"{T}/admin/audit", params={"since": "2026-13-45", "page": "x"})).status_code == 200


async def test_only_tenant_admins_see_the_log(client, make_account):
    for role in ("reviewer", "learner"):
        account, password = await make_account("construction", role=role)
        await _sign_in(client, account, password)
        assert (await client.get(f"{T}/admin/audit")).status_code == 404
        await client.post(f"{T}/signout")
