"""Studying without the camera (issue 11, item 6): where the tenant's rules allow it, a learner
asks with a reason, the tenant's admin approves or refuses, and an approved request opens study
sessions without a face check, marked ``alternative`` on the session and on the timeline, with no
capture tickets. Not allowed by the rules: no link, every route 404."""

from __future__ import annotations

import asyncio
import datetime as dt
from contextlib import asynccontextmanager

import msgspec
import pytest
import httpx

from core.audit.tables import AuditEntry as AuditEvent
from core.proctoring import gate
from core.proctoring.study_tables import FaceAlternative, ProctorSession
from core.testing.client import XsClient
from test_snapshots import T, beat, course, enrol, events, lesson_video, start  # noqa: F401  (fixtures)
from test_snapshots import clock  # noqa: F401


def allow(monkeypatch, tenant, value: bool = True) -> None:
    monkeypatch.setattr(tenant, "rules", msgspec.structs.replace(
        tenant.rules, face=msgspec.structs.replace(tenant.rules.face, allow_alternative=value)))


@pytest.fixture
def allowed(platform, monkeypatch):
    for slug in ("construction", "survey"):
        allow(monkeypatch, platform.tenants.get(slug))


@asynccontextmanager
async def admin_client(xs_app, make_account, slug="construction", role="tenant_admin"):
    account, password = await make_account(slug, role=role)
    # A second browser on the app the ``client`` fixture started (no second lifespan).
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=xs_app), base_url="http://testserver.local") as http:
        c = XsClient(http)
        r = await c.signin(slug, "id", password, id_number=account.id_number)
        assert r.status_code == 303
        yield c, account


async def ask(client, reason="视力障碍，无法配合摄像头动作"):
    return await client.post(f"{T}/face/alternative", {"reason": reason})


async def decide(admin, request_id: int, decision: str):
    return await admin.post(f"{T}/admin/face-alternatives/{request_id}", {"decision": decision})


async def test_approved_request_opens_sessions_without_a_face_check_or_snapshots(
        client, xs_app, platform, make_account, course, clock, allowed):
    lesson = course[1]
    me = await enrol(platform, make_account, client, course)
    account = me["account"]
    page = await client.get(f"{T}/face/check")
    assert page.status_code == 200 and 'id="face-alternative"' in page.text
    assert (await client.get(f"{T}/face/alternative")).status_code == 200
    # Bad input: no reason, an over-long one; a missing CSRF token is refused.
    r = await ask(client, "   ")
    assert r.status_code == 400 and "请填写申请原因" in r.text
    r = await ask(client, "长" * 501)
    assert r.status_code == 400 and "申请原因不能超过 500 个字" in r.text
    r = await client.post(f"{T}/face/alternative", {"reason": "原因"}, csrf=False)
    assert r.status_code == 403
    assert await FaceAlternative.count().where(FaceAlternative.account == account.id) == 0
    assert (await ask(client)).status_code == 303
    row = await FaceAlternative.objects().where(FaceAlternative.account == account.id).first()
    assert row.status == "pending" and row.reason == "视力障碍，无法配合摄像头动作"
    # Pending: the gate is still required.
    assert (await start(client, lesson.id)).status_code == 409
    assert (await client.get(f"{T}/study/lessons/{lesson.id}")).status_code == 303
    async with admin_client(xs_app, make_account) as (admin, staff):
        listing = await admin.get(f"{T}/admin/face-alternatives")
        assert listing.status_code == 200 and "视力障碍" in listing.text
        assert (await decide(admin, row.id, "approve")).status_code == 303
    row = await FaceAlternative.objects().where(FaceAlternative.id == row.id).first()
    assert row.status == "approved" and row.decided_by == staff.id and row.decided_at is not None
    assert await AuditEvent.exists().where((AuditEvent.action == "face.alternative_approved")
                                           & (AuditEvent.actor == staff.id))
    status = await client.get(f"{T}/face/alternative")
    assert "已批准" in status.text
    # Approved: the player opens without the camera and the session starts with no face check.
    player = await client.get(f"{T}/study/lessons/{lesson.id}")
    assert player.status_code == 200 and 'id="proctor-cam"' not in player.text
    r = await start(client, lesson.id)
    assert r.status_code == 201, r.text
    token = r.json()["token"]
    ps = await ProctorSession.objects().output(load_json=True).where(ProctorSession.session == token).first()
    assert ps.alternative is True and ps.gate is None and ps.plan == []
    assert await events(account.id) == ["alternative"]
    answers = []
    for seq in range(1, 13):  # three minutes of study: far beyond any snapshot interval's minimum
        clock.advance(15)
        answers.append(await beat(client, token, seq, lesson.id, seq * 15.0))
    assert not any(a.get("capture") for a in answers), answers
    assert sum(a["credited"] for a in answers) > 30 and not any(a["paused"] for a in answers), answers
    # The reviewer's case page shows the entry on the timeline.
    async with admin_client(xs_app, make_account, role="reviewer") as (reviewer, _):
        case = await reviewer.get(f"{T}/review/{me['enrollment'].id}")
        assert case.status_code == 200 and 'class="event event-alternative"' in case.text
        assert "无摄像头学习（已批准）" in case.text


async def test_refused_request_leaves_the_gate_in_place_and_may_be_asked_again(
        client, xs_app, platform, make_account, course, clock, allowed):
    me = await enrol(platform, make_account, client, course)
    await ask(client)
    row = await FaceAlternative.objects().where(FaceAlternative.account == me["account"].id).first()
    async with admin_client(xs_app, make_account) as (admin, _):
        assert (await decide(admin, row.id, "refuse")).status_code == 303
    assert (await FaceAlternative.objects().where(FaceAlternative.id == row.id).first()).status == "refused"
    r = await start(client, course[1].id)
    assert r.status_code == 409 and r.json()["error"] == gate.GATE_REQUIRED
    assert "未批准" in (await client.get(f"{T}/face/alternative")).text
    assert (await ask(client)).status_code == 303  # a refused request is closed: a new one may be sent
    assert await FaceAlternative.count().where(FaceAlternative.account == me["account"].id) == 2


async def test_withdrawn_approval_and_rules_turned_off_close_the_alternative(
        client, xs_app, platform, make_account, course, clock, monkeypatch, allowed):
    me = await enrol(platform, make_account, client, course)
    await ask(client)
    row = await FaceAlternative.objects().where(FaceAlternative.account == me["account"].id).first()
    async with admin_client(xs_app, make_account) as (admin, _):
        await decide(admin, row.id, "approve")
        allow(monkeypatch, me["tenant"], False)  # the tenant stops allowing it: approvals no longer count
        assert (await start(client, course[1].id)).status_code == 409
        allow(monkeypatch, me["tenant"], True)
        assert (await decide(admin, row.id, "refuse")).status_code == 303  # 撤销批准
    assert (await start(client, course[1].id)).status_code == 409


async def test_not_allowed_by_the_rules_no_link_and_404(client, xs_app, platform, make_account, course):
    me = await enrol(platform, make_account, client, course)
    assert me["tenant"].rules.face.allow_alternative is False  # the construction group's rules
    assert 'id="face-alternative"' not in (await client.get(f"{T}/face/check")).text
    assert (await client.get(f"{T}/face/alternative")).status_code == 404
    assert (await ask(client)).status_code == 404
    row = FaceAlternative(tenant=me["tenant"].id, account=me["account"].id, reason="x", status="pending",
                          open_key=f"{me['tenant'].id}:{me['account'].id}", created_at=dt.datetime.now(dt.UTC))
    await row.save()
    async with admin_client(xs_app, make_account) as (admin, _):
        assert (await admin.get(f"{T}/admin/face-alternatives")).status_code == 404
        assert (await decide(admin, row.id, "approve")).status_code == 404
    assert (await FaceAlternative.objects().where(FaceAlternative.id == row.id).first()).status == "pending"


async def test_another_tenants_request_is_404_and_a_learner_cannot_approve(
        client, xs_app, platform, make_account, course, allowed):
    survey = platform.tenants.get("survey")
    other, _ = await make_account("survey")
    theirs = FaceAlternative(tenant=survey.id, account=other.id, reason="x", status="pending",
                             open_key=f"{survey.id}:{other.id}", created_at=dt.datetime.now(dt.UTC))
    await theirs.save()
    me = await enrol(platform, make_account, client, course)
    await ask(client)
    mine = await FaceAlternative.objects().where(FaceAlternative.account == me["account"].id).first()
    # The learner signed in on `client` cannot decide, not even their own request.
    assert (await decide(client, mine.id, "approve")).status_code == 404
    async with admin_client(xs_app, make_account) as (admin, _):
        assert (await decide(admin, theirs.id, "approve")).status_code == 404
    assert (await FaceAlternative.objects().where(FaceAlternative.id == theirs.id).first()).status == "pending"
    assert (await FaceAlternative.objects().where(FaceAlternative.id == mine.id).first()).status == "pending"


async def test_simultaneous_requests_store_one(client, platform, make_account, course, allowed):
    me = await enrol(platform, make_account, client, course)
    results = await asyncio.gather(*(ask(client, f"原因 {i}") for i in range(8)))
    codes = sorted(r.status_code for r in results)
    assert codes == [303] + [409] * 7, codes
    assert await FaceAlternative.count().where(FaceAlternative.account == me["account"].id) == 1


async def test_retention_deletes_refused_requests_and_clears_old_reasons(platform, make_account):
    """The reasons may tell of health: past ``face_evidence_days`` after the decision a refused
    request goes, an approved one keeps its approval without the reason; recent ones stay."""
    from core.retention import purge

    tenant = platform.tenants.get("construction")
    days = tenant.rules.retention.face_evidence_days
    now = dt.datetime.now(dt.UTC) + dt.timedelta(days=3 * days)  # later than the app's own purge runs
    old, recent = now - dt.timedelta(days=days + 1), now - dt.timedelta(days=days - 1)
    rows = {}
    for name, status, decided in [("old_refused", "refused", old), ("old_approved", "approved", old),
                                  ("recent_refused", "refused", recent), ("pending", "pending", None)]:
        account, _ = await make_account("construction")
        row = FaceAlternative(tenant=tenant.id, account=account.id, reason=f"理由{name}", status=status,
                              created_at=old, decided_at=decided,
                              open_key=None if status == "refused" else f"{tenant.id}:{account.id}")
        await row.save()
        rows[name] = row.id
    counts = await purge(tenant, platform.storage, now=now)
    left = {r.id: r for r in await FaceAlternative.objects().where(FaceAlternative.id.is_in(list(rows.values())))}
    assert rows["old_refused"] not in left
    assert left[rows["old_approved"]].status == "approved" and left[rows["old_approved"]].reason == ""
    assert left[rows["recent_refused"]].reason == "理由recent_refused"
    assert left[rows["pending"]].reason == "理由pending"
    assert counts["camera_alternatives"] >= 2
