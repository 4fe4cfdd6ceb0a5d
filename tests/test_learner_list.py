"""学员管理: search, filters (position, company, profile state, study state) and paging, each
learner's page reachable from the list with enrolments, exams, certificates and audit history;
the import keeps 所在单位 and names every column it does not import."""

from __future__ import annotations

import re
import secrets

from certificate_helpers import approved_enrolment, sign_in
from core.accounts.tables import Account
from core.certificates import services as certificates
from core.courses.learners import PAGE_SIZE
from core.courses.services import LEARNER_HEADERS
from core.roster.spreadsheets import write_csv
from core.roster.tables import LearnerProfile
from core.testing.ids import fake_id_number, fake_mobile

T = "/t/construction"


async def _import(client, headers, rows) -> str:
    r = await client.post(f"{T}/admin/learners/import", {},
                          files={"file": ("l.csv", write_csv(headers, rows), "text/csv")})
    assert r.status_code == 200, r.text[-1500:]
    job_id = int(re.search(r"/admin/learners/import/(\d+)", r.text).group(1))
    assert (await client.post(f"{T}/admin/learners/import/{job_id}", {})).status_code == 303
    return r.text


def _names(page: str) -> list[str]:
    body = page.split('id="learner-list"')[1].split("</table>")[0]
    return re.findall(r'/admin/learners/\d+">([^<]+)</a>', body)


async def test_filters_paging_and_the_company_column(client, platform, make_account):
    admin, password = await make_account("construction", role="tenant_admin")
    await sign_in(client, "construction", admin, password)
    company = "测试单位" + secrets.token_hex(3)
    # PAGE_SIZE + 1 learners of one company: two pages, the boundary on each side.
    rows = [[f"甲{i:03d}", fake_id_number(), fake_mobile(), "安全员", "", company] for i in range(PAGE_SIZE + 1)]
    rows[0][3] = "施工员"
    preview = await _import(client, [*LEARNER_HEADERS, "备注", "电子邮箱"],
                            [[*r, "备注内容", "x@example.com"] for r in rows])
    assert "以下列不会导入：备注、电子邮箱" in preview
    first = await client.get(f"{T}/admin/learners", params={"company": company})
    assert first.status_code == 200 and f"共 {PAGE_SIZE + 1} 名学员" in first.text
    assert len(_names(first.text)) == PAGE_SIZE and "第 1 / 2 页" in first.text and "下一页" in first.text
    second = await client.get(f"{T}/admin/learners", params={"company": company, "page": "2"})
    assert len(_names(second.text)) == 1 and "上一页" in second.text and "下一页" not in second.text
    assert set(_names(first.text)) | set(_names(second.text)) == {r[0] for r in rows}
    # Exactly PAGE_SIZE: one page, no pager.
    by_position = await client.get(f"{T}/admin/learners", params={"company": company, "position": "安全员"})
    assert f"共 {PAGE_SIZE} 名学员" in by_position.text and "下一页" not in by_position.text
    only = await client.get(f"{T}/admin/learners", params={"company": company, "position": "施工员"})
    assert _names(only.text) == ["甲000"]

    # Profile state: one learner's profile complete.
    account = await Account.objects().where(Account.id_number == rows[1][1]).first()
    profile = await LearnerProfile.objects().where(LearnerProfile.account == account.id).first()
    assert profile.company == company  # 所在单位 kept
    stored = await platform.storage.save(b"x", tenant_id=account.tenant, kind="id_front", media_type="image/jpeg")
    await LearnerProfile.update({LearnerProfile.id_front: stored.id, LearnerProfile.id_back: stored.id,
                                 LearnerProfile.portrait: stored.id}).where(LearnerProfile.id == profile.id)
    complete = await client.get(f"{T}/admin/learners", params={"company": company, "profile": "complete"})
    assert _names(complete.text) == [rows[1][0]]
    incomplete = await client.get(f"{T}/admin/learners", params={"company": company, "profile": "incomplete"})
    assert f"共 {PAGE_SIZE} 名学员" in incomplete.text and rows[1][0] not in _names(incomplete.text)

    # Study state: nobody of the company is enrolled; search by name still works with filters.
    none = await client.get(f"{T}/admin/learners", params={"company": company, "study": "none"})
    assert f"共 {PAGE_SIZE + 1} 名学员" in none.text
    studying = await client.get(f"{T}/admin/learners", params={"company": company, "study": "studying"})
    assert "共 0 名学员" in studying.text
    found = await client.get(f"{T}/admin/learners", params={"company": company, "q": "甲007"})
    assert _names(found.text) == ["甲007"]
    odd = await client.get(f"{T}/admin/learners", params={"page": "-3", "profile": "<x>", "study": "nope"})
    assert odd.status_code == 200  # unknown values are ignored, never an error


async def test_the_learners_page_shows_enrolments_exams_certificates_and_history(client, platform, make_account):
    tenant, learner, _, enrollment = await approved_enrolment(platform, make_account, name="周详情")
    certificate = await certificates.issue(platform, platform.hooks(tenant), tenant, enrollment)
    admin, password = await make_account("construction", role="tenant_admin")
    await sign_in(client, "construction", admin, password)
    listing = await client.get(f"{T}/admin/learners", params={"q": learner.id_number})
    assert f'href="{T}/admin/learners/{learner.id}">周详情</a>' in listing.text
    assert "审核通过" in listing.text.split('id="learner-list"')[1]
    assert (await client.post(f"{T}/admin/learners/{learner.id}/mobile", {"mobile": fake_mobile()})).status_code == 303
    page = (await client.get(f"{T}/admin/learners/{learner.id}")).text
    for heading in ("培训", "考核记录", "证书", "学时上报", "操作记录"):
        assert f"<h2>{heading}</h2>" in page
    assert certificate.number in page.split('id="learner-certificates"')[1].split("</table>")[0]
    assert "更正手机号" in page.split('id="learner-audit"')[1].split("</table>")[0]  # the action named in Chinese


async def test_a_learner_cannot_open_the_list(client, make_account):
    learner, password = await make_account("construction")
    await sign_in(client, "construction", learner, password)
    assert (await client.get(f"{T}/admin/learners")).status_code in (403, 404)
