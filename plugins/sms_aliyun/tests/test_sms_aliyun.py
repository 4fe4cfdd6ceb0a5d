"""Alibaba Cloud SMS against a local stand-in of its HTTP API (no real gateway is reached): the
exact request (signature, template, parameters, phone), retries, the queue at the tenant's rate,
receipts, the startup check, and the AccessKey secret kept out of logs, rows and pages."""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging

import pytest

from core.notify.services import Secret, send, sms_setup_problems, templates_for
from core.notify.tables import Notification
from core.tenancy import RulesError, read_rules
from core.notify import gateway
from core.notify.receipts import callback_token
from core.testing.sms import start_sms_minute, use_sms_provider
from plugins.sms_aliyun import AliyunSms, AliyunSmsRules
from plugins.sms_aliyun.jobs import JOBS
from plugins.sms_aliyun.signer import signature
from plugins.sms_aliyun.tests.standin import KEY_ID, SECRET, FakeAliyun, expected_signature, serve

ALIYUN = AliyunSms()
RULES = """
[sms]
signature = "【建工培训】"
provider = "aliyun"

[sms_aliyun]
backoff_seconds = 0.01
per_minute = 2
give_up_minutes = 30

[sms_aliyun.templates.sms_code]
code = "SMS_154950909"
params = ["code", "minutes"]

[sms_aliyun.templates.hours_cleared]
code = "SMS_465000001"
params = ["name", "position", "year"]

[sms_aliyun.templates.hours_approved]
code = "SMS_000000"
params = []
"""


@pytest.fixture(scope="module")
def standin():
    fake = FakeAliyun()
    server = serve(fake)
    yield fake
    server.should_exit = True


@pytest.fixture
def aliyun(standin, platform, monkeypatch, tmp_path):
    """The construction tenant configured for Alibaba Cloud, the stand-in emptied."""
    standin.requests.clear()
    standin.script.clear()
    return use_sms_provider(platform, monkeypatch, tmp_path, RULES, {"sms_aliyun": AliyunSmsRules}, {
        "XUESHI_SMS_ALIYUN_ACCESS_KEY_ID": KEY_ID, "XUESHI_SMS_ALIYUN_ACCESS_KEY_SECRET": SECRET,
        "XUESHI_SMS_ALIYUN_ENDPOINT": standin.url})


@pytest.fixture(autouse=True)
async def fresh_minute(platform):
    await start_sms_minute(platform.tenants.get("construction"))


def test_the_signer_gives_alibabas_worked_example():
    # Alibaba's documented example (signature method V2): AccessKey testid / testsecret.
    params = {"TimeStamp": "2016-02-23T12:46:24Z", "Format": "XML", "AccessKeyId": "testid",
              "Action": "DescribeRegions", "SignatureMethod": "HMAC-SHA1",
              "SignatureNonce": "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf", "Version": "2014-05-26",
              "SignatureVersion": "1.0"}
    assert signature("GET", params, "testsecret") == "CT9X0VtwR86fNWSnsc6v8YGOjuE="


def test_the_rules_section_refuses_unknown_keys_and_impossible_values(tmp_path):
    path = tmp_path / "rules.toml"
    path.write_text(RULES + "\n[sms_aliyun.templates.welcome]\ncode = \"SMS_1\"\nparam = [\"name\"]\n", encoding="utf-8")
    with pytest.raises(RulesError, match=r"sms_aliyun.templates.*unknown field `param`"):
        read_rules(path, {"sms_aliyun": AliyunSmsRules})
    path.write_text(RULES.replace("per_minute = 2", "per_minute = 0"), encoding="utf-8")
    with pytest.raises(RulesError, match="per_minute"):
        read_rules(path, {"sms_aliyun": AliyunSmsRules})


async def test_a_code_is_sent_at_once_as_the_template_with_the_exact_request(aliyun, standin, platform, make_account):
    learner, _ = await make_account("construction")
    [row] = await send(platform.hooks(aliyun), aliyun, learner, "sms_code", channels=("sms",),
                       code=Secret("314159"), minutes=5)
    [sent] = standin.sends()
    assert sent["Signature"] == expected_signature(sent)
    assert sent["AccessKeyId"] == KEY_ID and SECRET not in json.dumps(sent)
    assert (sent["Version"], sent["SignatureMethod"], sent["SignatureVersion"], sent["Format"]) == \
        ("2017-05-25", "HMAC-SHA1", "1.0", "JSON")
    assert sent["PhoneNumbers"] == learner.mobile and sent["SignName"] == "建工培训"
    assert sent["TemplateCode"] == "SMS_154950909"
    assert json.loads(sent["TemplateParam"]) == {"code": "314159", "minutes": "5"}
    assert sent["OutId"] == str(row.id)
    stored = await Notification.objects().where(Notification.id == row.id).first()
    assert stored.status == "sent" and stored.provider_ref.startswith("90061") and stored.sent_at is not None
    assert "314159" not in stored.body and "******" in stored.body


async def test_throttling_is_retried_with_backoff_and_a_template_error_is_not(aliyun, standin, platform, make_account):
    learner, _ = await make_account("construction")
    attempts = aliyun.section("sms_aliyun").attempts
    standin.script[:] = ["throttle"] * (attempts - 1)  # busy until the last allowed attempt
    [row] = await send(platform.hooks(aliyun), aliyun, learner, "sms_code", channels=("sms",),
                       code=Secret("271828"), minutes=5)
    assert row.status == "sent" and len(standin.sends()) == attempts
    standin.requests.clear()
    standin.script[:] = ["throttle"] * attempts  # busy for every attempt: the code fails, said why
    [row] = await send(platform.hooks(aliyun), aliyun, learner, "sms_code", channels=("sms",),
                       code=Secret("161803"), minutes=5)
    assert row.status == "failed" and "isv.BUSINESS_LIMIT_CONTROL" in row.error
    assert len(standin.sends()) == attempts and "161803" not in row.error
    # A refused template: queued, then one request by the job and failed with the provider's code.
    standin.requests.clear()
    [row] = await send(platform.hooks(aliyun), aliyun, learner, "hours_approved", channels=("sms",))
    assert row.status == "queued" and standin.sends() == []
    await gateway.send_queued(ALIYUN, aliyun, await templates_for(platform.hooks(aliyun), aliyun))
    stored = await Notification.objects().where(Notification.id == row.id).first()
    assert len(standin.sends()) == 1 and stored.status == "failed"
    assert "isv.SMS_TEMPLATE_ILLEGAL" in stored.error


async def test_queued_texts_go_out_at_the_tenants_rate_with_the_texts_values(aliyun, standin, platform, make_account):
    learner, _ = await make_account("construction", real_name="钱学员")
    rows = []
    for year in (2024, 2025, 2026):
        rows += await send(platform.hooks(aliyun), aliyun, learner, "hours_cleared", channels=("sms",),
                           position="施工员", year=year)
    assert [r.status for r in rows] == ["queued"] * 3 and standin.sends() == []
    per_minute = aliyun.section("sms_aliyun").per_minute
    ctx = {"platform": platform, "spec": JOBS[0]}
    done = await JOBS[0].function(ctx)  # the cron job: this tenant only
    # The platform's own cron run may overlap this one: together they send the rate, no more.
    assert set(done) == {"construction"} and done["construction"] <= per_minute
    assert len(standin.sends()) == per_minute
    assert (await JOBS[0].function(ctx))["construction"] == 0  # the minute's rate is used up
    texts = await templates_for(platform.hooks(aliyun), aliyun)
    assert await gateway.send_queued(ALIYUN, aliyun, texts, now=dt.datetime.now(dt.UTC) + dt.timedelta(seconds=61)) == 1
    params = [json.loads(s["TemplateParam"]) for s in standin.sends()]
    assert params == [{"name": "钱学员", "position": "施工员", "year": str(y)} for y in (2024, 2025, 2026)]
    assert {s["TemplateCode"] for s in standin.sends()} == {"SMS_465000001"}
    stored = await Notification.objects().where(Notification.id.is_in([r.id for r in rows])).order_by(Notification.id)
    assert [r.status for r in stored] == ["sent"] * 3


async def test_a_busy_provider_keeps_the_text_queued_until_it_gives_up(aliyun, standin, platform, make_account):
    learner, _ = await make_account("construction")
    [row] = await send(platform.hooks(aliyun), aliyun, learner, "hours_cleared", channels=("sms",),
                       position="安全员", year=2026)
    texts = await templates_for(platform.hooks(aliyun), aliyun)
    rules = aliyun.section("sms_aliyun")
    standin.script[:] = ["503"] * rules.attempts
    assert await gateway.send_queued(ALIYUN, aliyun, texts) == 0
    stored = await Notification.objects().where(Notification.id == row.id).first()
    assert stored.status == "queued" and "ServiceUnavailable" in stored.error
    standin.script[:] = ["503"] * rules.attempts
    late = stored.created_at + dt.timedelta(minutes=rules.give_up_minutes, seconds=1)
    assert await gateway.send_queued(ALIYUN, aliyun, texts, now=late) == 0
    stored = await Notification.objects().where(Notification.id == row.id).first()
    assert stored.status == "failed" and "ServiceUnavailable" in stored.error
    # A send interrupted mid-way (the row left "sending") is failed after give_up_minutes, not resent.
    [row] = await send(platform.hooks(aliyun), aliyun, learner, "hours_cleared", channels=("sms",),
                       position="安全员", year=2025)
    await Notification.update({Notification.status: "sending"}).where(Notification.id == row.id)
    standin.requests.clear()
    assert await gateway.send_queued(ALIYUN, aliyun, texts) == 0
    assert (await Notification.objects().where(Notification.id == row.id).first()).status == "sending"
    assert await gateway.send_queued(ALIYUN, aliyun, texts, now=late + dt.timedelta(minutes=1)) == 0
    stored = await Notification.objects().where(Notification.id == row.id).first()
    assert stored.status == "failed" and stored.error.startswith("Interrupted") and standin.sends() == []


async def test_receipts_mark_texts_delivered_or_failed_with_the_reason(aliyun, standin, platform, make_account):
    learner, _ = await make_account("construction")
    rows = [(await send(platform.hooks(aliyun), aliyun, learner, "sms_code", channels=("sms",),
                        code=Secret(c), minutes=5))[0] for c in ("111222", "333444")]
    delivered, lost = rows
    standin.receipts[delivered.provider_ref] = {"SendStatus": 3, "ErrCode": "DELIVERED", "PhoneNum": learner.mobile,
                                                "ReceiveDate": "2026-12-07 10:00:05", "TemplateCode": "SMS_154950909"}
    standin.receipts[lost.provider_ref] = {"SendStatus": 2, "ErrCode": "MOBILE_NOT_ON_SERVICE",
                                           "PhoneNum": learner.mobile, "TemplateCode": "SMS_154950909"}
    standin.requests.clear()
    assert await gateway.pull_receipts(ALIYUN, aliyun) >= 2
    query = next(r for r in standin.requests if r["BizId"] == delivered.provider_ref)
    assert query["Action"] == "QuerySendDetails" and query["PhoneNumber"] == learner.mobile
    assert query["Signature"] == expected_signature(query)
    beijing = delivered.sent_at.astimezone(dt.timezone(dt.timedelta(hours=8))).strftime("%Y%m%d")
    assert query["SendDate"] == beijing
    got = {r.id: r for r in await Notification.objects().where(Notification.id.is_in([delivered.id, lost.id]))}
    assert got[delivered.id].status == "delivered"
    assert got[delivered.id].delivered_at == dt.datetime(2026, 12, 7, 2, 0, 5, tzinfo=dt.UTC)
    assert got[lost.id].status == "failed" and got[lost.id].error == "MOBILE_NOT_ON_SERVICE"


async def test_startup_refuses_texts_that_do_not_fit_the_templates(aliyun, platform, monkeypatch):
    assert await sms_setup_problems(platform.hooks(aliyun), aliyun) == []
    await platform.check_sms_providers()
    wrong = aliyun.section("sms_aliyun").templates["hours_cleared"]
    monkeypatch.setattr(wrong, "params", ["name", "year"])  # the template lacks ${position}
    [problem] = await sms_setup_problems(platform.hooks(aliyun), aliyun)
    assert "hours_cleared" in problem and "position" in problem
    with pytest.raises(RuntimeError, match="tenant construction"):
        await platform.check_sms_providers()
    monkeypatch.delenv("XUESHI_SMS_ALIYUN_ACCESS_KEY_SECRET")
    assert any("XUESHI_SMS_ALIYUN_ACCESS_KEY_ID" in p for p in await sms_setup_problems(platform.hooks(aliyun), aliyun))
    monkeypatch.setattr(aliyun.rules.sms, "provider", "nosuch")
    [problem] = await sms_setup_problems(platform.hooks(aliyun), aliyun)
    assert "sms:nosuch" in problem


async def test_the_secret_reaches_no_log_row_or_page(aliyun, standin, platform, make_account, client, caplog):
    learner, _ = await make_account("construction")
    standin.script[:] = ["throttle", "503"]
    with caplog.at_level(logging.DEBUG):
        await send(platform.hooks(aliyun), aliyun, learner, "sms_code", channels=("sms",), code=Secret("909090"), minutes=5)
        [row] = await send(platform.hooks(aliyun), aliyun, learner, "hours_approved", channels=("sms",))
        await gateway.send_queued(ALIYUN, aliyun, await templates_for(platform.hooks(aliyun), aliyun))
        await gateway.pull_receipts(ALIYUN, aliyun)
    logged = "\n".join(f"{r.getMessage()} {r.args}" for r in caplog.records)
    assert "sms sent by aliyun" in logged  # the plugin did log, masked
    assert SECRET not in logged and learner.mobile not in logged and "909090" not in logged
    rows = await Notification.objects().where(Notification.account == learner.id)
    assert not any(SECRET in (r.body + r.error + r.provider_ref) for r in rows)
    admin, password = await make_account("construction", role="tenant_admin")
    r = await client.signin("construction", "id", password, id_number=admin.id_number)
    assert r.status_code == 303
    page = await client.get("/t/construction/admin/sms")
    assert page.status_code == 200 and SECRET not in page.text and KEY_ID not in page.text
    assert "909090" not in page.text and "已发送" in page.text and "未接入短信网关" not in page.text
    assert "发送失败" in page.text and "isv.SMS_TEMPLATE_ILLEGAL" in page.text


async def test_a_pushed_smsreport_marks_the_text_delivered_with_the_token_only(aliyun, platform, make_account, client,
                                                                               monkeypatch):
    monkeypatch.setenv("XUESHI_SMS_CALLBACK_SECRET", "callback-secret-aliyun-test")
    learner, _ = await make_account("construction")
    [row] = await send(platform.hooks(aliyun), aliyun, learner, "sms_code", channels=("sms",),
                       code=Secret("515151"), minutes=5)
    report = json.dumps([{"phone_number": learner.mobile, "send_time": "2026-12-07 10:00:00",
                          "report_time": "2026-12-07 10:00:05", "success": True, "err_code": "DELIVERED",
                          "err_msg": "用户接收成功", "sms_size": "1", "biz_id": row.provider_ref,
                          "out_id": str(row.id)}]).encode()
    url = "/t/construction/sms/receipts/aliyun"
    token = callback_token("construction", "aliyun")
    forged = await client.http.post(url, content=report, headers={"Content-Type": "application/json"})
    assert forged.status_code == 401
    assert (await Notification.objects().where(Notification.id == row.id).first()).status == "sent"
    auth = "Basic " + base64.b64encode(f"sms:{token}".encode()).decode()
    r = await client.http.post(url, content=report, headers={"Authorization": auth, "Content-Type": "application/json"})
    assert r.status_code == 200 and r.json() == {"code": 0, "msg": "接收成功"}
    stored = await Notification.objects().where(Notification.id == row.id).first()
    assert stored.status == "delivered" and stored.delivered_at == dt.datetime(2026, 12, 7, 2, 0, 5, tzinfo=dt.UTC)
