"""Review that completes: a tenant with one reviewer is told clearing needs two (and who can add
one); the proposer withdraws but never confirms, not even by posting directly; only eligible
reviewers see the decision buttons; the queue filters; staff land on their work page."""

from __future__ import annotations

import datetime as dt
import re

from core.accounts.tables import Account, Enterprise
from core.audit.tables import AuditEntry
from core.courses.tables import Enrollment
from core.review import appeals
from core.review import services as review
from core.review.tables import ReviewDecision
from core.roster.tables import LearnerProfile
from tests.test_review import T, _in_review, _reviewer, _sign_in, recorder, xs_plugins  # noqa: F401 (fixtures)


async def _only_reviewers(platform, *keep: int) -> None:
    """The tenant's reviewers are the ones given (the database is shared by the session's tests)."""
    tenant = platform.tenants.get("construction")
    await Account.update({Account.active: False}).where(
        (Account.tenant == tenant.id) & (Account.role == "reviewer") & Account.id.not_in(list(keep) or [0]))


async def test_one_reviewer_is_told_clearing_needs_two_and_who_can_add_one(client, platform, make_account):
    tenant, learner, *_, e, _t = await _in_review(platform, make_account)
    admin, _ = await make_account("construction", role="tenant_admin", real_name="王管理员")
    first, password = await _reviewer(make_account, "审核员甲")
    await _only_reviewers(platform, first.id)
    await _sign_in(client, first, password)
    queue = await client.get(f"{T}/review")
    assert "清除学时须由两位审核员完成" in queue.text and "王管理员" in queue.text and "账号管理" in queue.text
    assert (await client.post(f"{T}/review/{e.id}/clear", {"reason": "idle"})).status_code == 303
    case = await client.get(f"{T}/review/{e.id}")
    assert "清除学时须由两位审核员完成" in case.text
    second, _ = await _reviewer(make_account, "审核员乙")
    assert "清除学时须由两位审核员完成" not in (await client.get(f"{T}/review")).text


async def test_the_proposer_withdraws_but_cannot_confirm_even_by_posting(client, platform, make_account, recorder):
    tenant, learner, *_, e, _t = await _in_review(platform, make_account)
    first, password = await _reviewer(make_account, "审核员甲")
    await _sign_in(client, first, password)
    assert (await client.post(f"{T}/review/{e.id}/clear", {"reason": "substitute"})).status_code == 303
    decision = await ReviewDecision.objects().where(
        (ReviewDecision.enrollment == e.id) & (ReviewDecision.status == "pending")).first()
    page = (await client.get(f"{T}/review/{e.id}")).text
    assert "复核确认清除" not in page and "不同意清除" not in page  # no buttons the proposer may not press
    assert f"/clearings/{decision.id}/withdraw" in page and "撤回清除" in page
    for action in ("confirm", "decline"):  # posted directly, all the same
        r = await client.post(f"{T}/review/{e.id}/clearings/{decision.id}", {"action": action})
        assert r.status_code == 400 and "不能复核自己提出的清除" in r.text
    assert (await ReviewDecision.objects().get(ReviewDecision.id == decision.id)).status == "pending"
    assert (await Enrollment.objects().get(Enrollment.id == e.id)).status == "review"

    # Another reviewer sees the buttons but cannot withdraw someone else's clearing.
    await client.post(f"{T}/signout")
    second, password2 = await _reviewer(make_account, "审核员乙")
    await _sign_in(client, second, password2)
    page = (await client.get(f"{T}/review/{e.id}")).text
    assert "复核确认清除" in page and "撤回清除" not in page
    r = await client.post(f"{T}/review/{e.id}/clearings/{decision.id}/withdraw")
    assert r.status_code == 400 and "只有提出清除的审核员可以撤回" in r.text
    await client.post(f"{T}/signout")

    await _sign_in(client, first, password)
    r = await client.post(f"{T}/review/{e.id}/clearings/{decision.id}/withdraw")
    assert r.status_code == 303
    row = await ReviewDecision.objects().get(ReviewDecision.id == decision.id)
    assert row.status == "withdrawn" and row.confirmed_by is None
    assert (await Enrollment.objects().get(Enrollment.id == e.id)).status == "review"
    assert recorder.decided[-1] == ("construction", e.id, "clear", "withdrawn")
    entry = await AuditEntry.objects().where((AuditEntry.action == "review.clear") & (AuditEntry.object_id == str(e.id))
                                             ).order_by(AuditEntry.id, ascending=False).first()
    assert entry.actor == first.id
    assert "已撤回" in (await client.get(f"{T}/review/{e.id}")).text
    # Withdrawn: nobody can confirm it any more, and a new clearing may be proposed.
    r = await client.post(f"{T}/review/{e.id}/clearings/{decision.id}/withdraw")
    assert r.status_code == 400 and "已处理" in r.text
    await client.post(f"{T}/signout")
    await _sign_in(client, second, password2)
    r = await client.post(f"{T}/review/{e.id}/clearings/{decision.id}", {"action": "confirm"})
    assert r.status_code == 400
    assert (await client.post(f"{T}/review/{e.id}/clear", {"reason": "idle"})).status_code == 303


async def test_withdrawal_and_confirmation_at_once_one_wins(platform, make_account):
    import asyncio

    tenant, learner, *_, e, _t = await _in_review(platform, make_account)
    first, _ = await _reviewer(make_account, "审核员甲")
    second, _ = await _reviewer(make_account, "审核员乙")
    hooks = platform.hooks(tenant)
    from core.review import withdrawal

    d = await review.propose_clear(hooks, tenant, first, e.id, "idle")
    results = await asyncio.gather(withdrawal.withdraw_clear(hooks, tenant, first, d.id, e.id),
                                   review.confirm_clear(hooks, tenant, second, d.id, e.id), return_exceptions=True)
    won = [r for r in results if not isinstance(r, Exception)]
    assert len(won) == 1
    status = (await ReviewDecision.objects().get(ReviewDecision.id == d.id)).status
    enrollment = await Enrollment.objects().get(Enrollment.id == e.id)
    assert (status, enrollment.status) in (("withdrawn", "review"), ("done", "cleared"))


async def test_reviewers_who_cleared_do_not_see_appeal_buttons_a_third_does(client, platform, make_account):
    tenant, learner, *_, e, _t = await _in_review(platform, make_account)
    first, p1 = await _reviewer(make_account, "审核员甲")
    second, p2 = await _reviewer(make_account, "审核员乙")
    third, p3 = await _reviewer(make_account, "审核员丙")
    hooks = platform.hooks(tenant)
    d = await review.propose_clear(hooks, tenant, first, e.id, "substitute")
    await review.confirm_clear(hooks, tenant, second, d.id, e.id)
    appeal = await appeals.submit_appeal(platform, hooks, tenant, learner, e.id, "全程本人学习", None)
    for account, password in ((first, p1), (second, p2)):
        await _sign_in(client, account, password)
        page = (await client.get(f"{T}/review/{e.id}")).text
        assert "申诉成立，恢复学时" not in page and "驳回申诉" not in page
        assert "您参与了该清除" in page
        r = await client.post(f"{T}/review/{e.id}/appeals/{appeal.id}", {"action": "uphold", "answer": "同意"})
        assert r.status_code == 400 and "申诉须由未参与清除的审核员处理" in r.text
        await client.post(f"{T}/signout")
    await _sign_in(client, third, p3)
    page = (await client.get(f"{T}/review/{e.id}")).text
    assert "申诉成立，恢复学时" in page and "驳回申诉" in page
    r = await client.post(f"{T}/review/{e.id}/appeals/{appeal.id}", {"action": "reject", "answer": "抓拍非本人"})
    assert r.status_code == 303


async def test_queue_filters_status_overdue_flagged_position_company(client, platform, make_account):
    tenant, a, *_, e_plain, _t = await _in_review(platform, make_account, name="普通学员")
    _, b, *_, e_flag, _t = await _in_review(platform, make_account, name="异常学员", flagged=True)
    _, c, *_, e_old, _t = await _in_review(platform, make_account, name="超期学员")
    await Enrollment.update({Enrollment.completed_at: dt.datetime(2026, 9, 1, 2, tzinfo=dt.UTC)}).where(
        Enrollment.id == e_old.id)
    first, password = await _reviewer(make_account, "审核员甲")
    await review.propose_clear(platform.hooks(tenant), tenant, first, e_plain.id, "idle")
    now = dt.datetime.now(dt.UTC)
    company = Enterprise(tenant=tenant.id, name="筛选测试建筑公司", created_at=now)
    await company.save()
    await LearnerProfile(tenant=tenant.id, account=b.id, real_name=b.real_name, enterprise=company.id,
                         created_at=now, updated_at=now).save()
    await _sign_in(client, first, password)

    def shown(html: str) -> set[int]:
        return {int(x) for x in re.findall(r'data-enrollment="(\d+)"', html)}

    ours = {e_plain.id, e_flag.id, e_old.id}
    assert ours <= shown((await client.get(f"{T}/review")).text)
    assert shown((await client.get(f"{T}/review?flagged=1")).text) & ours == {e_flag.id}
    assert shown((await client.get(f"{T}/review?overdue=1")).text) & ours == {e_old.id}
    assert shown((await client.get(f"{T}/review?status=clearing")).text) & ours == {e_plain.id}
    assert shown((await client.get(f"{T}/review?status=plain")).text) & ours == {e_flag.id, e_old.id}
    page = (await client.get(f"{T}/review?company={company.id}")).text
    assert shown(page) == {e_flag.id} and "筛选测试建筑公司" in page and "筛选后 1 条" in page
    assert shown((await client.get(f"{T}/review?position=施工员&flagged=1")).text) & ours == {e_flag.id}
    assert shown((await client.get(f"{T}/review?position=不存在的岗位")).text) == set()
    # Junk in the query is ignored, not an error.
    assert (await client.get(f"{T}/review?company=abc&status=<x>")).status_code == 200


async def test_staff_land_on_their_work_page(client, make_account):
    reviewer, password = await make_account("construction", role="reviewer")
    r = await client.signin("construction", "id", password, id_number=reviewer.id_number)
    assert r.headers["location"] == f"{T}/review"
    await client.post(f"{T}/signout")
    admin, password = await make_account("construction", role="tenant_admin")
    r = await client.signin("construction", "id", password, id_number=admin.id_number)
    assert r.headers["location"] == f"{T}/admin/dashboard"  # the first page of the admin menu: 数据看板
    await client.post(f"{T}/signout")
    learner, password = await make_account("construction", role="learner")
    r = await client.signin("construction", "id", password, id_number=learner.id_number)
    assert r.headers["location"] == f"{T}/me"
