"""Tencent Cloud SMS against a local stand-in of its API 3.0 (no real gateway is reached): the
documented TC3 signature, the exact request (headers, template id, ordered parameters, +86
numbers), retries, the queue at the tenant's rate, pulled receipts, the startup check, and the
SecretKey kept out of logs, rows and pages."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging

import pytest

from core.notify import gateway
from core.notify.services import Secret, send, sms_setup_problems, templates_for
from core.notify.tables import Notification
from core.tenancy import RulesError, read_rules
from plugins.sms_tencent import JOBS, TencentSms, TencentSmsRules
from plugins.sms_tencent.signer import authorization
from plugins.sms_tencent.tests.conftest import RULES
from plugins.sms_tencent.tests.standin import APP_ID, SECRET_ID, SECRET_KEY, expected_authorization

TENCENT = TencentSms()


def test_the_signer_gives_tencents_worked_example():
    # Tencent's documented example of signature v3 (CVM DescribeInstances, 2019-02-25).
    payload = b'{"Limit": 1, "Filters": [{"Values": ["\\u672a\\u547d\\u540d"], "Name": "instance-name"}]}'
    header = authorization("AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE", "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE", "cvm",
                           "cvm.tencentcloudapi.com", "application/json; charset=utf-8", payload, 1551113065)
    assert header == ("TC3-HMAC-SHA256 Credential=AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE/2019-02-25/cvm/tc3_request, "
                      "SignedHeaders=content-type;host, "
                      "Signature=72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168")


def test_the_rules_section_refuses_unknown_keys_and_impossible_values(tmp_path):
    path = tmp_path / "rules.toml"
    path.write_text(RULES.replace("sdk_app_id", "SmsSdkAppId"), encoding="utf-8")
    with pytest.raises(RulesError, match="unknown field `SmsSdkAppId`"):
        read_rules(path, {"sms_tencent": TencentSmsRules})
    path.write_text(RULES.replace("give_up_minutes = 30", "give_up_minutes = 0"), encoding="utf-8")
    with pytest.raises(RulesError, match="give_up_minutes"):
        read_rules(path, {"sms_tencent": TencentSmsRules})


async def test_a_code_is_sent_at_once_with_the_exact_request(tencent, standin, platform, make_account):
    learner, _ = await make_account("construction")
    [row] = await send(platform.hooks(tencent), tencent, learner, "sms_code", channels=("sms",),
                       code=Secret("314159"), minutes=5)
    [(headers, body)] = standin.sends()
    raw = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    assert headers["authorization"] == expected_authorization(headers, raw)
    assert headers["authorization"].startswith(f"TC3-HMAC-SHA256 Credential={SECRET_ID}/")
    assert (headers["x-tc-action"], headers["x-tc-version"], headers["x-tc-region"]) == \
        ("SendSms", "2021-01-11", "ap-guangzhou")
    assert abs(int(headers["x-tc-timestamp"]) - dt.datetime.now(dt.UTC).timestamp()) < 60
    assert SECRET_KEY not in json.dumps(headers) + raw.decode()
    assert body == {"PhoneNumberSet": [f"+86{learner.mobile}"], "SmsSdkAppId": APP_ID, "SignName": "建工培训",
                    "TemplateId": "1888001", "TemplateParamSet": ["314159", "5"], "SessionContext": str(row.id)}
    stored = await Notification.objects().where(Notification.id == row.id).first()
    assert stored.status == "sent" and stored.provider_ref.startswith("2645:") and stored.sent_at is not None
    assert "314159" not in stored.body and "******" in stored.body


async def test_throttling_is_retried_with_backoff_and_a_template_error_is_not(tencent, standin, platform, make_account):
    learner, _ = await make_account("construction")
    attempts = tencent.section("sms_tencent").attempts
    standin.script[:] = ["throttle", "30s"][: attempts - 1]  # busy until the last allowed attempt
    [row] = await send(platform.hooks(tencent), tencent, learner, "sms_code", channels=("sms",),
                       code=Secret("271828"), minutes=5)
    assert row.status == "sent" and len(standin.sends()) == attempts
    standin.requests.clear()
    standin.script[:] = ["throttle"] * attempts  # busy for every attempt: the code fails, said why
    [row] = await send(platform.hooks(tencent), tencent, learner, "sms_code", channels=("sms",),
                       code=Secret("161803"), minutes=5)
    assert row.status == "failed" and "RequestLimitExceeded" in row.error
    assert len(standin.sends()) == attempts and "161803" not in row.error
    # A refused template: queued, then one request by the job and failed with the provider's code.
    standin.requests.clear()
    [row] = await send(platform.hooks(tencent), tencent, learner, "hours_approved", channels=("sms",))
    assert row.status == "queued" and standin.sends() == []
    await gateway.send_queued(TENCENT, tencent, await templates_for(platform.hooks(tencent), tencent))
    stored = await Notification.objects().where(Notification.id == row.id).first()
    assert len(standin.sends()) == 1 and stored.status == "failed"
    assert "FailedOperation.TemplateIncorrectOrUnapproved" in stored.error


async def test_queued_texts_go_out_at_the_tenants_rate_in_the_templates_order(tencent, standin, platform, make_account):
    learner, _ = await make_account("construction", real_name="钱学员")
    rows = []
    for year in (2024, 2025, 2026):
        rows += await send(platform.hooks(tencent), tencent, learner, "hours_cleared", channels=("sms",),
                           position="施工员", year=year)
    assert [r.status for r in rows] == ["queued"] * 3 and standin.sends() == []
    per_minute = tencent.section("sms_tencent").per_minute
    ctx = {"platform": platform, "spec": JOBS[0]}
    assert JOBS[0].name == "tencent_send_queued" and JOBS[1].name == "tencent_pull_receipts"
    # The platform's own cron run may overlap this one: together they send the rate, no more.
    assert (await JOBS[0].function(ctx))["construction"] <= per_minute and len(standin.sends()) == per_minute
    assert (await JOBS[0].function(ctx))["construction"] == 0  # the minute's rate is used up
    texts = await templates_for(platform.hooks(tencent), tencent)
    later = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=61)
    assert await gateway.send_queued(TENCENT, tencent, texts, now=later) == 1
    assert [b["TemplateParamSet"] for _, b in standin.sends()] == [[str(y), "钱学员", "施工员"] for y in (2024, 2025, 2026)]
    assert {b["TemplateId"] for _, b in standin.sends()} == {"1888002"}
    stored = await Notification.objects().where(Notification.id.is_in([r.id for r in rows]))
    assert [r.status for r in stored] == ["sent"] * 3


async def test_a_busy_provider_keeps_the_text_queued_until_it_gives_up(tencent, standin, platform, make_account):
    learner, _ = await make_account("construction")
    [row] = await send(platform.hooks(tencent), tencent, learner, "hours_cleared", channels=("sms",),
                       position="安全员", year=2026)
    texts, rules = await templates_for(platform.hooks(tencent), tencent), tencent.section("sms_tencent")
    standin.script[:] = ["503"] * rules.attempts
    assert await gateway.send_queued(TENCENT, tencent, texts) == 0
    stored = await Notification.objects().where(Notification.id == row.id).first()
    assert stored.status == "queued" and "HTTP503" in stored.error
    standin.script[:] = ["30s"] * rules.attempts
    late = stored.created_at + dt.timedelta(minutes=rules.give_up_minutes, seconds=1)
    assert await gateway.send_queued(TENCENT, tencent, texts, now=late) == 0
    stored = await Notification.objects().where(Notification.id == row.id).first()
    assert stored.status == "failed" and "PhoneNumberThirtySecondLimit" in stored.error


async def test_pulled_receipts_mark_texts_delivered_or_failed_with_the_reason(tencent, standin, platform, make_account):
    learner, _ = await make_account("construction")
    rows = [(await send(platform.hooks(tencent), tencent, learner, "sms_code", channels=("sms",),
                        code=Secret(c), minutes=5))[0] for c in ("111222", "333444")]
    delivered, lost = rows
    number = f"+86{learner.mobile}"
    standin.statuses[:] = [
        {"UserReceiveTime": "2026-12-07 10:00:05", "CountryCode": "86", "SubscriberNumber": learner.mobile,
         "PhoneNumber": number, "SerialNo": delivered.provider_ref, "ReportStatus": "SUCCESS",
         "Description": "用户短信送达成功", "SessionContext": str(delivered.id)},
        {"UserReceiveTime": "2026-12-07 10:00:09", "CountryCode": "86", "SubscriberNumber": learner.mobile,
         "PhoneNumber": number, "SerialNo": lost.provider_ref, "ReportStatus": "FAIL",
         "Description": "MK:0012 空号", "SessionContext": str(lost.id)},
        {"UserReceiveTime": "2026-12-07 10:00:09", "CountryCode": "86", "SubscriberNumber": "13900000000",
         "PhoneNumber": "+8613900000000", "SerialNo": "2645:unknown", "ReportStatus": "SUCCESS",
         "Description": "not ours", "SessionContext": ""}]
    standin.requests.clear()
    assert await JOBS[1].function({"platform": platform, "spec": JOBS[1]}) == {"construction": 2}
    [(headers, body)] = standin.requests
    assert headers["x-tc-action"] == "PullSmsSendStatus" and body == {"Limit": 100, "SmsSdkAppId": APP_ID}
    got = {r.id: r for r in await Notification.objects().where(Notification.id.is_in([delivered.id, lost.id]))}
    assert got[delivered.id].status == "delivered"
    assert got[delivered.id].delivered_at == dt.datetime(2026, 12, 7, 2, 0, 5, tzinfo=dt.UTC)
    assert got[lost.id].status == "failed" and got[lost.id].error == "MK:0012 空号"


async def test_startup_refuses_texts_that_do_not_fit_the_templates(tencent, platform, monkeypatch, tmp_path):
    assert await sms_setup_problems(platform.hooks(tencent), tencent) == []
    await platform.check_sms_providers()
    wrong = tencent.section("sms_tencent").templates["hours_cleared"]
    monkeypatch.setattr(wrong, "params", ["name", "year"])  # the template lacks {position}
    [problem] = await sms_setup_problems(platform.hooks(tencent), tencent)
    assert "hours_cleared" in problem and "position" in problem
    with pytest.raises(RuntimeError, match="tenant construction"):
        await platform.check_sms_providers()
    monkeypatch.setattr(wrong, "params", ["year", "name", "position"])
    monkeypatch.setattr(tencent.section("sms_tencent"), "sdk_app_id", "")
    [problem] = await sms_setup_problems(platform.hooks(tencent), tencent)
    assert "sdk_app_id" in problem
    monkeypatch.setattr(tencent.section("sms_tencent"), "sdk_app_id", APP_ID)
    # The key may come from a secrets file instead of the environment.
    monkeypatch.delenv("XUESHI_SMS_TENCENT_SECRET_KEY")
    assert any("XUESHI_SMS_TENCENT_SECRET_ID" in p for p in await sms_setup_problems(platform.hooks(tencent), tencent))
    key_file = tmp_path / "tencent.key"
    key_file.write_text(SECRET_KEY + "\n", encoding="utf-8")
    monkeypatch.setenv("XUESHI_SMS_TENCENT_SECRET_KEY_FILE", str(key_file))
    assert await sms_setup_problems(platform.hooks(tencent), tencent) == []


async def test_the_secret_key_reaches_no_log_row_or_page(tencent, standin, platform, make_account, client, caplog):
    learner, _ = await make_account("construction")
    standin.script[:] = ["throttle", "503"]
    with caplog.at_level(logging.DEBUG):
        await send(platform.hooks(tencent), tencent, learner, "sms_code", channels=("sms",), code=Secret("909090"),
                   minutes=5)
        await send(platform.hooks(tencent), tencent, learner, "hours_approved", channels=("sms",))
        await gateway.send_queued(TENCENT, tencent, await templates_for(platform.hooks(tencent), tencent))
        await gateway.pull_receipts(TENCENT, tencent)
    logged = "\n".join(f"{r.getMessage()} {r.args}" for r in caplog.records)
    assert "sms sent by tencent" in logged  # the plugin did log, masked
    assert SECRET_KEY not in logged and learner.mobile not in logged and "909090" not in logged
    assert SECRET_KEY not in repr(TENCENT.client(tencent).credentials)
    rows = await Notification.objects().where(Notification.account == learner.id)
    assert not any(SECRET_KEY in (r.body + r.error + r.provider_ref) for r in rows)
    admin, password = await make_account("construction", role="tenant_admin")
    r = await client.signin("construction", "id", password, id_number=admin.id_number)
    assert r.status_code == 303
    page = await client.get("/t/construction/admin/sms")
    assert page.status_code == 200 and SECRET_KEY not in page.text and SECRET_ID not in page.text
    assert "909090" not in page.text and "已发送" in page.text
    assert "发送失败" in page.text and "FailedOperation.TemplateIncorrectOrUnapproved" in page.text


async def test_overlapping_runs_of_the_send_job_never_exceed_the_rate(tencent, standin, platform, make_account):
    """Every worker runs the cron: two runs at once share the tenant's rate (taken under a lock)."""
    learner, _ = await make_account("construction", real_name="孙学员")
    for year in (2024, 2025, 2026):
        await send(platform.hooks(tencent), tencent, learner, "hours_cleared", channels=("sms",),
                   position="施工员", year=year)
    per_minute = tencent.section("sms_tencent").per_minute
    ctx = {"platform": platform, "spec": JOBS[0]}
    done = await asyncio.gather(JOBS[0].function(ctx), JOBS[0].function(ctx))
    # The platform's own cron run may overlap them too (same lock): all together send the rate, no more.
    assert sum(d["construction"] for d in done) <= per_minute == len(standin.sends()) < 3
