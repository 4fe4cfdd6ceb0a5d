"""Bulk approval of the unflagged cases with one confirmation, tried from the attacker's side (a
forged list naming a flagged case, a case with a replaced portrait, another tenant's case, a
pending clearing), each approval audited as a single one; 审核工作量 and the decisions' export."""

from __future__ import annotations

import datetime as dt
import io
import re

import openpyxl

from core.audit.tables import AuditEntry
from core.courses.tables import Course, Enrollment, Position
from core.review import bulk
from core.review import services as review
from core.review.decisions import HEADERS
from core.review.tables import ReviewDecision
from core.study.tables import StudyEvent
from tests.test_review import T, _in_review, _reviewer, _sign_in, _sms_to, recorder, xs_plugins  # noqa: F401

APPROVED_SMS = "恭喜您的继续教育学时已通过审核"


async def _foreign_case(platform, make_account) -> Enrollment:
    """A case 待审核 in the other tenant (survey)."""
    tenant = platform.tenants.get("survey")
    learner, _ = await make_account("survey", real_name="外机构学员")
    now = dt.datetime.now(dt.UTC)
    position = Position(tenant=tenant.id, name="外机构岗位", created_at=now)
    await position.save()
    course = Course(tenant=tenant.id, position=position.id, year=2026, title="外机构课程", required_hours=1.0,
                    created_at=now)
    await course.save()
    e = Enrollment(tenant=tenant.id, account=learner.id, course=course.id, status="review", created_at=now,
                   completed_at=now)
    await e.save()
    return e


def _csrf(page: str) -> str:
    return re.search(r'name="_csrf_token" value="([^"]+)"', page).group(1)


async def _status(e_id: int) -> str:
    return (await Enrollment.objects().get(Enrollment.id == e_id)).status


async def test_bulk_approves_the_unflagged_and_a_forged_list_is_refused_for_the_rest(client, platform, make_account,
                                                                                     recorder):
    tenant, l1, *_, plain1, _t = await _in_review(platform, make_account, name="批量甲")
    _, l2, *_, plain2, _t = await _in_review(platform, make_account, name="批量乙")
    _, _l3, *_, flagged, _t = await _in_review(platform, make_account, name="批量异常", flagged=True)
    _, _l4, *_, swapped, _t = await _in_review(platform, make_account, name="批量换照")
    await StudyEvent(tenant=tenant.id, account=swapped.account, enrollment=swapped.id, kind="portrait_changed",
                     detail={}, created_at=dt.datetime.now(dt.UTC)).save()
    _, _l5, *_, clearing, _t = await _in_review(platform, make_account, name="批量清除中")
    first, password = await _reviewer(make_account, "审核员甲")
    await review.propose_clear(platform.hooks(tenant), tenant, first, clearing.id, "idle")
    foreign = await _foreign_case(platform, make_account)
    await _sign_in(client, first, password)

    page = await client.get(f"{T}/review/bulk")
    assert page.status_code == 200
    listed = set(map(int, re.findall(r'name="ids" value="(\d+)"', page.text)))
    assert {plain1.id, plain2.id} <= listed
    assert not listed & {flagged.id, swapped.id, clearing.id, foreign.id}  # never offered

    # The attacker's list: the two plain cases plus every case that must not be approved in bulk.
    forged = [plain1.id, flagged.id, swapped.id, clearing.id, foreign.id, 987654321, plain2.id]
    r = await client.post(f"{T}/review/bulk", {"_csrf_token": _csrf(page.text), "ids": [str(i) for i in forged]})
    assert r.status_code == 200
    refused = dict(re.findall(r'<li data-enrollment="(\d+)">[^：]*：([^<]+)</li>', r.text))
    assert set(map(int, refused)) == {flagged.id, swapped.id, clearing.id, foreign.id, 987654321}
    assert "异常标记" in refused[str(flagged.id)] and "更换过头像" in refused[str(swapped.id)]
    assert "待复核的清除" in refused[str(clearing.id)]
    assert refused[str(foreign.id)] == refused["987654321"]  # another tenant's case looks like none
    assert "已审核通过 2 条" in r.text
    assert [await _status(i) for i in (plain1.id, plain2.id)] == ["approved", "approved"]
    assert [await _status(i) for i in (flagged.id, swapped.id, clearing.id, foreign.id)] == ["review"] * 4

    # Each approval is what a single one is: a decision, an audit entry by the reviewer, the hook, the SMS.
    for e, learner in ((plain1, l1), (plain2, l2)):
        decision = await ReviewDecision.objects().get((ReviewDecision.enrollment == e.id))
        assert (decision.kind, decision.reviewer, decision.note) == ("approve", first.id, bulk.NOTE)
        entry = await AuditEntry.objects().get((AuditEntry.action == "review.approve") & (AuditEntry.object_id == str(e.id)))
        assert entry.actor == first.id and entry.tenant == tenant.id
        assert ("construction", e.id, "approve", "done") in recorder.decided
        assert any(APPROVED_SMS in body for body in _sms_to(learner.mobile))
    assert not await ReviewDecision.exists().where(ReviewDecision.enrollment == foreign.id)

    # Posted again: already approved, refused by id; nothing approved twice.
    again = await client.post(f"{T}/review/bulk", {"_csrf_token": _csrf(page.text), "ids": [str(plain1.id)]})
    assert "不在待审核状态" in again.text and "已审核通过 0 条" in again.text
    assert await ReviewDecision.count().where(ReviewDecision.enrollment == plain1.id) == 1


async def test_bulk_refuses_bad_lists_and_other_roles(client, platform, make_account):
    tenant, *_, e, _t = await _in_review(platform, make_account, name="批量丙")
    reviewer, password = await _reviewer(make_account, "审核员乙")
    await _sign_in(client, reviewer, password)
    token = _csrf((await client.get(f"{T}/review/bulk")).text)
    for ids in ([], ["1 OR 1=1"], ["-3"], [str(i) for i in range(1, bulk.MAX_BULK + 2)]):
        r = await client.post(f"{T}/review/bulk", {"_csrf_token": token, "ids": ids})
        assert r.status_code == 400 and 'id="bulk-error"' in r.text
    assert await _status(e.id) == "review"
    # Without the CSRF token: refused before anything is read.
    assert (await client.post(f"{T}/review/bulk", {"ids": [str(e.id)]}, csrf=False)).status_code == 403
    await client.post(f"{T}/signout")
    admin, admin_password = await make_account("construction", role="tenant_admin")
    await _sign_in(client, admin, admin_password)
    page = await client.get(f"{T}/review/workload")
    assert page.status_code == 200
    r = await client.post(f"{T}/review/bulk", {"_csrf_token": _csrf(page.text), "ids": [str(e.id)]})
    assert r.status_code == 404 and await _status(e.id) == "review"
    # The service itself refuses a deactivated reviewer.
    reviewer.active = False
    try:
        await bulk.approve_all(platform.hooks(tenant), tenant, reviewer, [e.id])
    except review.ReviewError as exc:
        assert "在用的审核员" in str(exc)
    else:
        raise AssertionError("a deactivated reviewer approved in bulk")
    assert await _status(e.id) == "review"


async def test_workload_counts_each_reviewers_decisions_and_the_export_applies_the_filters(client, platform,
                                                                                          make_account):
    tenant, *_, a, _t = await _in_review(platform, make_account, name="工作量甲")
    _, *_, b, _t = await _in_review(platform, make_account, name="工作量乙")
    _, *_, c, _t = await _in_review(platform, make_account, name="工作量丙")
    first, password = await _reviewer(make_account, "统计审核员甲")
    second, _ = await _reviewer(make_account, "统计审核员乙")
    hooks = platform.hooks(tenant)
    await review.approve(hooks, tenant, first, a.id, "=HYPERLINK(\"http://x\",\"点我\")")
    d = await review.propose_clear(hooks, tenant, first, b.id, "idle")
    await review.confirm_clear(hooks, tenant, second, d.id, b.id)
    await review.propose_clear(hooks, tenant, second, c.id, "substitute")
    await _sign_in(client, first, password)
    page = await client.get(f"{T}/review/workload")
    assert page.status_code == 200

    def row(account) -> list[str]:
        found = re.search(rf'<tr data-reviewer="{account.id}">(.*?)</tr>', page.text, re.S).group(1)
        return re.findall(r'<td class="num[^"]*">(\d+)</td>', found)

    # 审核通过, 提出清除, 复核清除, 要求重新核验, 处理申诉, 合计, 待他人复核的清除
    assert row(first) == ["1", "1", "0", "0", "0", "2", "0"]
    assert row(second) == ["0", "1", "1", "0", "0", "2", "1"]
    assert re.search(r'data-age="on_time"><td>按期</td><td class="num">(\d+)', page.text)

    r = await client.get(f"{T}/review/decisions.xlsx", params={"reviewer": str(first.id), "days": "7"})
    assert r.status_code == 200 and "attachment" in r.headers["content-disposition"]
    sheet = openpyxl.load_workbook(io.BytesIO(r.content)).active
    assert [x.value for x in sheet[1]] == HEADERS
    rows = [[x for x in line] for line in sheet.iter_rows(min_row=2)]
    # The filter: the decisions first took part in (his approval, the clearing he proposed) only.
    assert sorted(line[HEADERS.index("学员")].value for line in rows) == sorted(["工作量甲", "工作量乙"])
    assert sorted(line[HEADERS.index("决定")].value for line in rows) == ["审核通过", "清除学时"]
    note = next(line[HEADERS.index("说明")] for line in rows if line[HEADERS.index("决定")].value == "审核通过")
    assert note.value.startswith("=HYPERLINK") and note.data_type == "s" and note.quotePrefix  # shown, never run
    masked = rows[0][HEADERS.index("身份证号")].value
    assert "*" in masked and not re.search(r"\d{18}", masked)
    assert await AuditEntry.exists().where((AuditEntry.action == "export.downloaded") & (AuditEntry.object_id == "reviews")
                                           & (AuditEntry.actor == first.id))
    # A learner does not see the page at all.
    await client.post(f"{T}/signout")
    learner, lp = await make_account("construction")
    await _sign_in(client, learner, lp)
    assert (await client.get(f"{T}/review/workload")).status_code == 404
    assert (await client.get(f"{T}/review/decisions.xlsx")).status_code == 404


async def test_the_same_list_submitted_ten_times_at_once_approves_each_case_once(client, platform, make_account,
                                                                                 recorder):
    import asyncio

    _, _l1, *_, a, _t = await _in_review(platform, make_account, name="并发甲")
    _, _l2, *_, b, _t = await _in_review(platform, make_account, name="并发乙")
    first, password = await _reviewer(make_account, "审核员并发")
    await _sign_in(client, first, password)
    page = await client.get(f"{T}/review/bulk")
    form = {"_csrf_token": _csrf(page.text), "ids": [str(a.id), str(b.id)]}
    answers = await asyncio.gather(*(client.post(f"{T}/review/bulk", form) for _ in range(10)))
    assert all(r.status_code == 200 for r in answers)
    approved = sum(int(re.search(r"已审核通过 (\d+) 条", r.text).group(1)) for r in answers)
    assert approved == 2
    for e in (a, b):
        assert await ReviewDecision.count().where(ReviewDecision.enrollment == e.id) == 1
        assert await AuditEntry.count().where((AuditEntry.action == "review.approve")
                                              & (AuditEntry.object_id == str(e.id))) == 1
        assert await _status(e.id) == "approved"
