"""Anonymous answers that must not tell which mobiles, ID numbers and companies exist, and the
per-address limits on them, under real concurrency (issue 8 #7).

Like ``tests/test_limits.py`` (whose ``http`` fixture this uses): every test runs on the file
store and on Redis, on SQLite or (with ``XUESHI_TEST_DATABASE_URL``) PostgreSQL; simultaneous
requests are sent with ``asyncio.gather`` into an app served in the test's own event loop.
"""

from __future__ import annotations

import asyncio
from collections import Counter as Tally

from core.notify.services import RECORDED
from core.testing.ids import fake_id_number, fake_mobile
from core.web import TOO_MANY_LOOKUPS
from tests.test_limits import http  # noqa: F401 - the fixture

LEARNER_PASSWORD = "Passw0rd-1"


async def _together(client, url, forms, hx=False):
    send = client.hx_post if hx else client.post
    return await asyncio.gather(*(send(url, form) for form in forms))


async def test_signin_code_answers_alike_for_registered_and_unknown_numbers(make_account, http):
    client, p = http
    account, _ = await make_account("survey")
    unknown = fake_mobile()
    await client.get("/t/survey/signin")
    registered = await _together(client, "/t/survey/sms/code", [{"mobile": account.mobile}] * 10, hx=True)
    unregistered = await _together(client, "/t/survey/sms/code", [{"mobile": unknown}] * 10, hx=True)
    assert not any(r.status_code >= 500 for r in registered + unregistered)
    # The same answers, in the same numbers: the per-number limit holds for both alike.
    assert Tally(r.text for r in registered) == Tally(r.text for r in unregistered)
    assert sum("过于频繁" in r.text for r in registered) == 10 - p.tenants.get("survey").rules.signin.sms_codes_per_mobile_per_hour
    assert sum(to == account.mobile for to, _ in RECORDED) == 5  # codes went to the registered number only
    assert not any(to == unknown for to, _ in RECORDED)
    # The address has used its 20 requests: 30 more at once to new numbers are all refused.
    more = await _together(client, "/t/survey/sms/code", [{"mobile": fake_mobile()} for _ in range(30)], hx=True)
    assert all("获取验证码过于频繁" in r.text for r in more)


async def test_registration_code_answers_alike_for_registered_and_new_numbers(make_account, http):
    client, p = http
    account, _ = await make_account("survey")
    fresh = fake_mobile()
    await client.get("/t/survey/register")
    registered = await _together(client, "/t/survey/register/code", [{"mobile": account.mobile}] * 8, hx=True)
    new = await _together(client, "/t/survey/register/code", [{"mobile": fresh}] * 8, hx=True)
    assert Tally(r.text for r in registered) == Tally(r.text for r in new)
    assert sum("验证码已发送" in r.text for r in new) == 5
    assert not any("已注册" in r.text for r in registered)


async def test_certification_form_is_limited_per_address_under_concurrency(platform, http):
    client, p = http
    limit = p.counters["lookup_client"].limit = 5
    await client.get("/t/survey/enterprise/certify")
    forms = [{"name": "某勘察有限公司", "credit_code": "x", "id_number": fake_id_number(), "mobile": fake_mobile(),
              "address": "某路", "admin_name": "李"} for _ in range(20)]
    answers = await _together(client, "/t/survey/enterprise/certify", forms)
    assert not any(r.status_code >= 500 for r in answers)
    assert sum(r.status_code == 429 and TOO_MANY_LOOKUPS in r.text for r in answers) == 20 - limit
    assert sum(r.status_code == 400 for r in answers) == limit


async def test_identity_step_is_limited_per_address_under_concurrency(make_account, http):
    client, p = http
    limit = p.counters["lookup_client"].limit = 5
    account, password = await make_account("survey", role="learner", id_number=None, password=LEARNER_PASSWORD)
    assert (await client.signin("survey", "mobile", password, mobile=account.mobile)).status_code == 303
    forms = [{"real_name": "李学员", "id_number": fake_id_number()} for _ in range(20)]
    answers = await _together(client, "/t/survey/me/profile/identity", forms)
    assert not any(r.status_code >= 500 for r in answers), [r.text[-1500:] for r in answers if r.status_code >= 500][:1]
    assert sum(r.status_code == 429 and TOO_MANY_LOOKUPS in r.text for r in answers) == 20 - limit
    assert sum(r.status_code == 303 for r in answers) == limit
