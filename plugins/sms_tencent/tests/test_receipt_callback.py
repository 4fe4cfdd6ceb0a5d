"""The pushed receipt route (``POST /t/<slug>/sms/receipts/tencent``) from the attacker's side:
no credentials, a wrong token, another tenant's token, a forged id, another tenant's text, a
wrong mobile and a replayed receipt change nothing; the provider's real push does."""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging

import pytest

from core.notify.receipts import callback_token
from core.notify.services import Secret, send
from core.notify.tables import Notification

CALLBACK_SECRET = "callback-secret-for-tests-3b8e"
URL = "/t/construction/sms/receipts/tencent"


def basic(token: str, user: str = "sms") -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{token}".encode()).decode(),
            "Content-Type": "application/json"}


def push(sid: str, mobile: str, status: str = "SUCCESS", at: str = "2026-12-07 10:00:05") -> bytes:
    return json.dumps([{"user_receive_time": at, "nationcode": "86", "mobile": mobile, "report_status": status,
                        "errmsg": "DELIVRD" if status == "SUCCESS" else "MK:0012",
                        "description": "用户短信送达成功" if status == "SUCCESS" else "空号", "sid": sid}]).encode()


@pytest.fixture
async def sent(tencent, platform, make_account, monkeypatch):
    monkeypatch.setenv("XUESHI_SMS_CALLBACK_SECRET", CALLBACK_SECRET)
    learner, _ = await make_account("construction")
    [row] = await send(platform.hooks(tencent), tencent, learner, "sms_code", channels=("sms",),
                       code=Secret("424242"), minutes=5)
    assert row.status == "sent" and row.provider_ref
    return row


async def stored(row_id: int) -> Notification:
    return await Notification.objects().where(Notification.id == row_id).first()


async def test_the_providers_push_marks_the_text_delivered_once(sent, client, caplog):
    token = callback_token("construction", "tencent")
    with caplog.at_level(logging.DEBUG):
        r = await client.http.post(URL, content=push(sent.provider_ref, sent.recipient), headers=basic(token))
    assert r.status_code == 200 and r.json() == {"result": 0, "errmsg": "OK"}
    row = await stored(sent.id)
    assert row.status == "delivered" and row.delivered_at == dt.datetime(2026, 12, 7, 2, 0, 5, tzinfo=dt.UTC)
    assert "1 of 1 applied" in caplog.text and token not in caplog.text and CALLBACK_SECRET not in caplog.text
    # The same receipt again (a replay), or a later FAIL for it, changes nothing.
    for body in (push(sent.provider_ref, sent.recipient, at="2026-12-07 11:00:00"),
                 push(sent.provider_ref, sent.recipient, status="FAIL")):
        r = await client.http.post(URL, content=body, headers=basic(token))
        assert r.status_code == 200
    row = await stored(sent.id)
    assert row.status == "delivered" and row.delivered_at == dt.datetime(2026, 12, 7, 2, 0, 5, tzinfo=dt.UTC)
    assert row.error == ""


async def test_a_failure_receipt_keeps_the_providers_reason(sent, client):
    r = await client.http.post(URL, content=push(sent.provider_ref, sent.recipient, status="FAIL"),
                               headers=basic(callback_token("construction", "tencent")))
    assert r.status_code == 200
    row = await stored(sent.id)
    assert row.status == "failed" and row.error == "MK:0012 空号"


async def test_pushes_without_the_tenants_token_are_refused(sent, client, monkeypatch):
    body = push(sent.provider_ref, sent.recipient)
    token = callback_token("construction", "tencent")
    refused = [
        {"Content-Type": "application/json"},  # no credentials
        basic("0" * len(token)),  # a guessed token
        basic(token[:-1]),  # one character short
        basic(token, user="admin"),  # the right token under another user name
        basic(callback_token("survey", "tencent")),  # another tenant's token
        basic(callback_token("construction", "aliyun")),  # the token of another provider's route
        {"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        {"Authorization": "Basic not-base64!", "Content-Type": "application/json"},
    ]
    for headers in refused:
        r = await client.http.post(URL, content=body, headers=headers)
        assert r.status_code == 401, headers
    # The token in the query string (where access logs would record it) is not accepted either.
    r = await client.http.post(f"{URL}?token={token}", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 401
    assert (await stored(sent.id)).status == "sent"
    # The route of a provider the tenant does not use, and the route without a configured secret, do not exist.
    r = await client.http.post("/t/construction/sms/receipts/aliyun", content=body,
                               headers=basic(callback_token("construction", "aliyun")))
    assert r.status_code == 404
    monkeypatch.delenv("XUESHI_SMS_CALLBACK_SECRET")
    r = await client.http.post(URL, content=body, headers=basic(token))
    assert r.status_code == 404 and (await stored(sent.id)).status == "sent"


async def test_forged_receipts_with_the_token_change_nothing(sent, client, platform):
    token = callback_token("construction", "tencent")
    survey = platform.tenants.get("survey")
    other = Notification(tenant=survey.id, channel="sms", recipient=sent.recipient, template="sms_code",
                         body="x", status="sent", provider_ref="2645:other-tenant", sent_at=dt.datetime.now(dt.UTC))
    await other.save()
    forged = [
        push("2645:00000000000000999999", sent.recipient),  # an id the provider never gave
        push(sent.provider_ref, "13900000000"),  # the right id with another mobile
        push(other.provider_ref, sent.recipient),  # another tenant's text
    ]
    for body in forged:
        r = await client.http.post(URL, content=body, headers=basic(token))
        assert r.status_code == 200
    assert (await stored(sent.id)).status == "sent" and (await stored(other.id)).status == "sent"
    for junk in (b"{}", b"not json", b'[{"mobile": "1"}]', b"[1]"):
        r = await client.http.post(URL, content=junk, headers=basic(token))
        assert r.status_code == 400
    r = await client.http.post(URL, content=b"[" + b" " * (300 * 1024) + b"]", headers=basic(token))
    assert r.status_code == 413
    assert (await stored(sent.id)).status == "sent"
