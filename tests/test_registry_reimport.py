"""The registry export is itself a result file: its last columns (结果, 原因) are left empty; filled
in per learner (成功 / 失败 with the reason) the same file is imported back, a row left empty stays
待上传. The batch page shows each learner's rows in the other batches, every status in Chinese."""

from __future__ import annotations

import io
import re

import openpyxl

from core import tenant_time
from core.certificates import registry
from core.certificates.tables import RegistryRow
from core.db.scoped import scoped
from certificate_helpers import approved_enrolment, sign_in
from tests.test_registry_once import T, _report, _rows


async def test_the_exported_file_filled_in_is_imported_as_the_result(client, platform, make_account):
    tenant, ok_account, _, ok = await approved_enrolment(platform, make_account, name="回填成功")
    _, bad_account, _, bad = await approved_enrolment(platform, make_account, name="回填失败")
    _, _, _, blank = await approved_enrolment(platform, make_account, name="回填未填")
    mine = [ok, bad, blank]
    admin, password = await make_account("construction", role="tenant_admin")
    await sign_in(client, "construction", admin, password)
    first = await _report(client)
    r = await client.get(f"{T}/admin/registry/{first}/file")
    assert r.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(r.content))
    sheet = book.active
    headers = [c.value for c in sheet[1]]
    assert headers == registry.HEADERS and headers[-2:] == ["结果", "原因"]
    col = {h: i for i, h in enumerate(headers)}
    answers = {ok_account.id_number: ("成功", None), bad_account.id_number: ("失败", "身份证号与姓名不符")}
    for line in sheet.iter_rows(min_row=2):
        assert line[col["结果"]].value in (None, "")  # left empty for the registry's answer
        assert line[col["上传日期"]].value == tenant_time.today(tenant).isoformat()  # the tenant's day
        if line[col["身份证号"]].value in answers:
            line[col["结果"]].value, line[col["原因"]].value = answers[line[col["身份证号"]].value]
    out = io.BytesIO()
    book.save(out)
    r = await client.post(f"{T}/admin/registry/{first}/result", files={"file": ("上报文件.xlsx", out.getvalue())})
    assert r.status_code == 200 and "未填写结果（仍为待上传）" in r.text and "无法对应" not in r.text
    rows = await _rows(tenant, first, mine)
    assert (rows[ok.id].status, rows[bad.id].status, rows[blank.id].status) == ("uploaded", "rejected", "pending")
    assert rows[bad.id].reason == "身份证号与姓名不符" and rows[ok.id].uploaded_on == tenant_time.today(tenant)

    # The next batch reports the rejected and the unanswered again, and shows their first batch.
    second = await _report(client)
    assert set(await _rows(tenant, second, mine)) == {bad.id, blank.id}
    page = (await client.get(f"{T}/admin/registry/{second}")).text
    others = dict(re.findall(r'<tr data-row="([^"]+)"[^>]*>.*?<td class="registry-others">(.*?)</td>', page, re.S))
    second_rows = await _rows(tenant, second, mine)
    assert f"#{first}：已退回" in others[second_rows[bad.id].row_ref]
    assert f"#{first}：待上传" in others[second_rows[blank.id].row_ref]
    for text in ("pending", "uploaded", "rejected", "exported", "reconciled"):
        assert f">{text}<" not in page and f"：{text}" not in page
    assert await scoped(RegistryRow, tenant).count(RegistryRow.enrollment == ok.id) == 1  # uploaded: never again
