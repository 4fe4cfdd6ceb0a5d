"""Learner registration with mobile + SMS code: expiry, single use, attempts, rate limits."""

import datetime as dt

from core.accounts.tables import Account, SmsCode
from core.testing.ids import fake_mobile
from plugins.survey_association.tests._learner_helpers import last_code, register


async def _code(client, mobile):
    r = await client.hx_post("/t/survey/register/code", {"mobile": mobile})
    assert r.status_code == 200
    return r, await last_code(mobile)


def _form(mobile, code, password="Learner-2026", **kw):
    return {"mobile": mobile, "code": code, "real_name": "王小勘", "password": password, "again": password, **kw}


async def test_register_creates_a_signed_in_learner(client, tenant):
    mobile = fake_mobile()
    r = await register(client, mobile, name="王小勘")
    assert r.status_code == 303 and r.headers["location"] == "/t/survey/me/profile?welcome=1"
    account = await Account.objects().where(Account.mobile == mobile).first()
    assert account.role == "learner" and account.real_name == "王小勘" and account.tenant == tenant("survey").id
    page = await client.get("/t/survey/me/profile?welcome=1")
    assert page.status_code == 200 and "注册成功" in page.text
    # The mobile is masked on the page.
    assert mobile not in page.text


async def test_registered_mobile_is_told_to_sign_in_only_after_its_code(client, make_account):
    """Issue 8 #7: the code request answers alike for registered and new numbers; only whoever
    received the code learns that the number is registered."""
    account, _ = await make_account("survey")
    fresh = fake_mobile()
    registered = await client.hx_post("/t/survey/register/code", {"mobile": account.mobile})
    new = await client.hx_post("/t/survey/register/code", {"mobile": fresh})
    assert registered.status_code == new.status_code == 200 and registered.text == new.text
    assert "已注册" not in registered.text
    r = await client.post("/t/survey/register", _form(account.mobile, "000000"))
    assert r.status_code == 400 and "该手机号已注册" not in r.text and "验证码不正确" in r.text
    r = await client.post("/t/survey/register", _form(account.mobile, await last_code(account.mobile)))
    assert r.status_code == 400 and "该手机号已注册，请直接登录" in r.text
    assert await Account.count().where(Account.mobile == account.mobile) == 1


async def test_bad_mobile_and_weak_password_are_shown_at_their_fields(client):
    r = await client.hx_post("/t/survey/register/code", {"mobile": "12345"})
    assert "手机号格式不正确" in r.text
    mobile = fake_mobile()
    _, code = await _code(client, mobile)
    r = await client.post("/t/survey/register", _form(mobile, code, password="short"))
    assert r.status_code == 400 and "密码至少 8 位" in r.text
    r = await client.post("/t/survey/register", {**_form(mobile, code), "again": "Other-2026"})
    assert r.status_code == 400 and "两次输入的密码不一致" in r.text
    # Those errors did not use the code up: it still works.
    r = await client.post("/t/survey/register", _form(mobile, code))
    assert r.status_code == 303


async def test_expired_code_is_refused(client):
    mobile = fake_mobile()
    _, code = await _code(client, mobile)
    await SmsCode.update({SmsCode.expires_at: dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)}).where(
        SmsCode.mobile == mobile)
    r = await client.post("/t/survey/register", _form(mobile, code))
    assert r.status_code == 400 and "验证码已过期，请重新获取" in r.text
    assert not await Account.exists().where(Account.mobile == mobile)


async def test_code_is_single_use(client, make_account):
    mobile = fake_mobile()
    _, code = await _code(client, mobile)
    assert (await client.post("/t/survey/register", _form(mobile, code))).status_code == 303
    await client.post("/t/survey/signout")
    # Someone replays the same form: the code is spent (and the number's state is not told).
    r = await client.post("/t/survey/register", _form(mobile, code))
    assert r.status_code == 400 and "请先获取短信验证码" in r.text and "该手机号已注册" not in r.text
    unused = await SmsCode.count().where((SmsCode.mobile == mobile) & SmsCode.used_at.is_null())
    assert unused == 0


async def test_five_wrong_codes_void_the_code(client):
    mobile = fake_mobile()
    _, code = await _code(client, mobile)
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    for _ in range(5):
        r = await client.post("/t/survey/register", _form(mobile, wrong))
        assert r.status_code == 400 and "验证码不正确" in r.text
    r = await client.post("/t/survey/register", _form(mobile, code))
    assert r.status_code == 400 and "验证码错误次数过多，请重新获取" in r.text
    assert not await Account.exists().where(Account.mobile == mobile)


async def test_sixth_code_per_number_within_an_hour_is_refused(client):
    mobile = fake_mobile()
    for _ in range(5):
        r = await client.hx_post("/t/survey/register/code", {"mobile": mobile})
        assert "验证码已发送" in r.text
    r = await client.hx_post("/t/survey/register/code", {"mobile": mobile})
    assert "该手机号获取验证码过于频繁，请 1 小时后再试" in r.text
    assert await SmsCode.count().where(SmsCode.mobile == mobile) == 5


async def test_codes_per_address_are_limited(client, tenant):
    limit = tenant("survey").rules.signin.sms_codes_per_address_per_hour
    for _ in range(limit):
        r = await client.hx_post("/t/survey/register/code", {"mobile": fake_mobile()})
        assert "验证码已发送" in r.text
    mobile = fake_mobile()
    r = await client.hx_post("/t/survey/register/code", {"mobile": mobile})
    assert "获取验证码过于频繁，请稍后再试" in r.text
    assert await SmsCode.count().where(SmsCode.mobile == mobile) == 0


async def test_register_code_needs_csrf(client):
    await client.get("/t/survey/register")
    mobile = fake_mobile()
    r = await client.post("/t/survey/register/code", {"mobile": mobile}, csrf=False)
    assert r.status_code == 403
    assert await SmsCode.count().where(SmsCode.mobile == mobile) == 0  # no code made, none sent


async def test_register_is_survey_only(client):
    r = await client.get("/t/construction/register")
    assert r.status_code == 404
