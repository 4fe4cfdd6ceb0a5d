"""Notifications: the inbox and its bell badge (htmx), marking read, and the tenant admin's
SMS outbox page (短信记录)."""

from __future__ import annotations

import re

from core.identity import mask_mobile
from core.notify.services import send
from core.notify.tables import Notification


async def _signed_in(client, make_account, slug="survey", role="learner", **fields):
    account, password = await make_account(slug, role=role, **fields)
    r = await client.signin(slug, "mobile", password, mobile=account.mobile)
    assert r.status_code == 303
    return account


async def test_bell_badge_inbox_and_mark_read(client, make_account, platform):
    tenant = platform.tenants.get("survey")
    account = await _signed_in(client, make_account)
    r = await client.hx_get("/t/survey/inbox/badge")
    assert r.status_code == 200 and "badge" not in r.text  # nothing unread yet
    [row] = await send(platform.hooks(tenant), tenant, account, "hours_approved", channels=("inbox",))
    r = await client.hx_get("/t/survey/inbox/badge")
    assert r.status_code == 200 and 'data-unread="1"' in r.text
    page = await client.get("/t/survey/inbox")
    assert page.status_code == 200
    assert f'id="msg-{row.id}"' in page.text and "您的学时已通过审核" in page.text
    assert f'hx-post="/t/survey/inbox/{row.id}/read"' in page.text
    r = await client.hx_post(f"/t/survey/inbox/{row.id}/read")
    assert r.status_code == 200
    assert "标为已读" not in r.text and 'hx-swap-oob="true"' in r.text  # the bell is refreshed too
    assert 'data-unread' not in r.text
    r = await client.hx_get("/t/survey/inbox/badge")
    assert "badge" not in r.text
    stored = await Notification.objects().where(Notification.id == row.id).first()
    assert stored.read_at is not None


async def test_another_account_cannot_mark_a_message_read(client, make_account, platform):
    tenant = platform.tenants.get("survey")
    owner, _ = await make_account("survey", real_name="蒋他人")
    [row] = await send(platform.hooks(tenant), tenant, owner, "welcome", channels=("inbox",))
    await _signed_in(client, make_account)  # someone else of the same tenant
    r = await client.hx_post(f"/t/survey/inbox/{row.id}/read")
    assert r.status_code == 404
    assert "蒋他人" not in (await client.get("/t/survey/inbox")).text
    stored = await Notification.objects().where(Notification.id == row.id).first()
    assert stored.read_at is None


async def test_inbox_needs_a_signed_in_account(client):
    r = await client.get("/t/survey/inbox")
    assert r.status_code == 303 and r.headers["location"] == "/t/survey/signin"
    r = await client.hx_get("/t/survey/inbox/badge")
    assert r.headers.get("hx-redirect") == "/t/survey/signin"
    r = await client.post("/t/survey/inbox/1/read")
    assert r.status_code == 303


async def test_read_with_a_malformed_id_is_not_found(client, make_account):
    await _signed_in(client, make_account)
    r = await client.hx_post("/t/survey/inbox/abc/read")
    assert r.status_code in (400, 404)
    r = await client.hx_post("/t/survey/inbox/99999999/read")
    assert r.status_code == 404


async def test_sms_outbox_lists_the_tenants_messages_masked(client, make_account, platform):
    tenant = platform.tenants.get("survey")
    learner, _ = await make_account("survey", real_name="冯短信")
    [sms] = await send(platform.hooks(tenant), tenant, learner, "welcome", channels=("sms",))
    assert sms.status == "recorded" and sms.sent_at is not None  # the default channel sends nothing
    await _signed_in(client, make_account, role="tenant_admin")
    me = await client.get("/t/survey/me")
    assert 'href="/t/survey/admin/sms"' in me.text and "短信记录" in me.text
    page = await client.get("/t/survey/admin/sms")
    assert page.status_code == 200
    assert f"{tenant.rules.sms.signature}冯短信，欢迎使用" in page.text
    assert mask_mobile(learner.mobile) in page.text
    assert learner.mobile not in page.text
    assert "已记录（未发送）" in page.text


async def test_sms_outbox_shows_failures(client, make_account, platform):
    tenant = platform.tenants.get("survey")
    learner, _ = await make_account("survey", real_name="陈失败")
    [row] = await send(platform.hooks(tenant), tenant, learner, "welcome", channels=("sms",))
    await Notification.update({Notification.status: "failed"}).where(Notification.id == row.id)
    await _signed_in(client, make_account, role="tenant_admin")
    page = await client.get("/t/survey/admin/sms")
    assert re.search(r'<tr class="row-error">(?:(?!</tr>).)*陈失败(?:(?!</tr>).)*发送失败', page.text, re.S)


async def test_sms_outbox_is_for_tenant_admins_of_that_tenant_only(client, make_account, platform):
    survey = platform.tenants.get("survey")
    learner, _ = await make_account("survey", real_name="褚隔离")
    await send(platform.hooks(survey), survey, learner, "welcome", channels=("sms",))
    await _signed_in(client, make_account)  # a learner
    assert (await client.get("/t/survey/admin/sms")).status_code == 404
    assert "短信记录" not in (await client.get("/t/survey/me")).text
    # The other tenant's admin sees only the other tenant's messages.
    admin, password = await make_account("construction", role="tenant_admin")
    r = await client.signin("construction", "id", password, id_number=admin.id_number)
    assert r.status_code == 303
    page = await client.get("/t/construction/admin/sms")
    assert page.status_code == 200 and "褚隔离" not in page.text and mask_mobile(learner.mobile) not in page.text
    assert (await client.get("/admin/sms", headers={"host": "construction.localhost"})).status_code == 200
    # Anonymous: sign in first.
    await client.post("/t/construction/signout")
    r = await client.get("/t/construction/admin/sms")
    assert r.status_code == 303 and r.headers["location"] == "/t/construction/signin"


async def test_sms_codes_are_stored_and_shown_masked(client, make_account, platform):
    """The outbox row and the 短信记录 page hold the code masked; only the channel got it."""
    from core.notify.services import RECORDED

    learner, _ = await make_account("survey")
    await client.get("/t/survey/signin")
    r = await client.hx_post("/t/survey/sms/code", {"mobile": learner.mobile})
    assert r.status_code == 200
    delivered = next(text for mobile, text in reversed(RECORDED) if mobile == learner.mobile)
    code = re.search(r"\d{6}", delivered).group(0)
    row = await Notification.objects().where(
        (Notification.recipient == learner.mobile) & (Notification.channel == "sms")).first()
    assert code not in row.body and "******" in row.body and code not in row.subject
    # The code still works: it was delivered, only not kept.
    r = await client.post("/t/survey/signin/sms", {"mobile": learner.mobile, "code": code})
    assert r.status_code == 303
    await client.post("/t/survey/signout")
    await _signed_in(client, make_account, role="tenant_admin")
    page = await client.get("/t/survey/admin/sms")
    assert "您的验证码是 ******" in page.text and code not in page.text
    assert learner.mobile not in page.text


async def test_a_failing_gateway_error_does_not_keep_the_code(platform, make_account, monkeypatch):
    from core.notify.services import RecordingSms, Secret

    async def leaky(self, notification):
        raise RuntimeError(f"gateway refused: {notification.body}")

    monkeypatch.setattr(RecordingSms, "deliver", leaky)
    tenant = platform.tenants.get("survey")
    learner, _ = await make_account("survey")
    [row] = await send(platform.hooks(tenant), tenant, learner, "sms_code", channels=("sms",),
                       code=Secret("314159"), minutes=5)
    assert row.status == "failed" and "gateway refused" in row.error
    stored = await Notification.objects().where(Notification.id == row.id).first()
    assert "314159" not in stored.error and "314159" not in stored.body


async def test_without_a_gateway_sms_is_recorded_not_sent_and_staff_are_told(client, make_account, platform, caplog):
    from core.notify.services import DemoConsoleSms, sms_gateway_missing

    tenant = platform.tenants.get("survey")
    assert await sms_gateway_missing(platform.hooks(tenant))
    await _signed_in(client, make_account, role="tenant_admin")
    page = await client.get("/t/survey/admin/sms")
    assert "未接入短信网关" in page.text and "演示环境" not in page.text
    # Startup says so too (Platform.start calls this).
    caplog.clear()
    with caplog.at_level("WARNING", logger="xueshi.kernel"):
        await platform.warn_without_sms_gateway()
    assert any("survey has no SMS gateway" in r.getMessage() for r in caplog.records)
    # The demo's console channel is no gateway either, but it is the demo: no warning there.
    from core.plugins import make_plugin_host

    demo_host = make_plugin_host([DemoConsoleSms()], load_entrypoints=False)
    assert not await sms_gateway_missing(demo_host.hooks)


async def test_the_demo_console_channel_prints_the_clear_text(platform, make_account, capsys):
    from core.notify.services import RecordingSms

    tenant = platform.tenants.get("survey")
    learner, _ = await make_account("survey", real_name="褚演示")
    [row] = await send(platform.hooks(tenant), tenant, learner, "welcome", channels=("inbox",))
    row.recipient, row.body = learner.mobile, "【演示】您的验证码是 123456"
    await RecordingSms(console=True).deliver(row)
    out = capsys.readouterr().out
    assert "123456" in out and learner.mobile not in out and learner.mobile[-4:] in out
