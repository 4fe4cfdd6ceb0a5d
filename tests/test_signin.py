"""Sign-in through the real forms: methods per tenant, lockout, first-sign-in password change."""

from core.accounts.tables import Account
from core.audit.tables import AuditEntry
from core.testing.ids import fake_id_number


async def test_construction_initial_password_must_be_changed(client, make_account):
    account, password = await make_account("construction", password="111111", must_change_password=True)
    r = await client.signin("construction", "id", password, id_number=account.id_number)
    assert r.status_code == 303
    assert r.headers["location"] == "/t/construction/password?first=1"
    # Every other page sends the account back to the password form until it is changed.
    r = await client.get("/t/construction/me")
    assert r.status_code == 303 and r.headers["location"].endswith("/password?first=1")
    page = await client.get("/t/construction/password?first=1")
    assert "首次登录请修改初始密码" in page.text
    r = await client.post("/t/construction/password", {"current": password, "new": "short", "again": "short"})
    assert r.status_code == 400 and "密码至少 8 位" in r.text
    r = await client.post("/t/construction/password", {"current": password, "new": "Newpass-2026", "again": "Newpass-2026"})
    assert r.status_code == 303
    r = await client.get("/t/construction/me")
    assert r.status_code == 200 and account.real_name in r.text


async def test_five_wrong_passwords_lock_the_account(client, make_account):
    account, password = await make_account("construction")
    for attempt in range(1, 5):
        r = await client.signin("construction", "id", "wrong-password", id_number=account.id_number)
        assert r.status_code == 400
        assert f"还可尝试 {5 - attempt} 次" in r.text
    r = await client.signin("construction", "id", "wrong-password", id_number=account.id_number)
    assert r.status_code == 429 and "账号已被临时锁定" in r.text
    # Locked: even the right password is refused now.
    r = await client.signin("construction", "id", password, id_number=account.id_number)
    assert r.status_code == 429 and "账号已被临时锁定" in r.text


async def test_unknown_id_number_gets_the_same_message_as_a_wrong_password(client):
    r = await client.signin("construction", "id", "whatever1", id_number=fake_id_number())
    assert r.status_code == 400 and "账号或密码错误" in r.text


async def test_bad_id_number_is_reported_at_the_field(client):
    r = await client.signin("construction", "id", "x", id_number="110105199001011231")
    assert r.status_code == 400 and "身份证号校验位不正确" in r.text


async def test_survey_offers_mobile_password_and_sms_code(client, make_account):
    page = await client.get("/t/survey/signin")
    assert "手机号密码登录" in page.text and "短信验证码登录" in page.text
    account, password = await make_account("survey")
    r = await client.signin("survey", "mobile", password, mobile=account.mobile)
    assert r.status_code == 303 and r.headers["location"] == "/t/survey/me"


async def test_construction_sign_in_is_not_offered_under_survey(client):
    r = await client.post("/t/survey/signin/id", {"id_number": fake_id_number(), "password": "x"})
    assert r.status_code == 404


async def test_post_without_csrf_token_is_refused(client, make_account):
    account, password = await make_account("survey")
    await client.get("/t/survey/signin")
    r = await client.post("/t/survey/signin/mobile", {"mobile": account.mobile, "password": password}, csrf=False)
    assert r.status_code == 403
    # Refused before the handler: no session, no sign-in recorded, the password not even tried.
    assert "xs_survey" not in r.cookies and client.cookies.get("xs_survey") is None
    assert (await Account.objects().where(Account.id == account.id).first()).last_signin_at is None
    assert await AuditEntry.count().where(AuditEntry.actor == account.id) == 0
    assert (await client.get("/t/survey/me", follow_redirects=False)).status_code in (302, 303)


async def test_session_is_rotated_and_signout_ends_it(client, make_account):
    account, password = await make_account("survey")
    await client.signin("survey", "mobile", password, mobile=account.mobile)
    first = client.cookies.get("xs_survey")
    await client.signin("survey", "mobile", password, mobile=account.mobile)
    second = client.cookies.get("xs_survey")
    assert first and second and first != second
    r = await client.post("/t/survey/signout")
    assert r.status_code == 303
    r = await client.get("/t/survey/me")
    assert r.status_code == 303 and "/t/survey/signin" in r.headers["location"]


async def test_expired_session_redirects_with_a_message(client, make_account, platform):
    account, password = await make_account("survey")
    await client.signin("survey", "mobile", password, mobile=account.mobile)
    await platform.store.delete(f"session:{client.cookies.get('xs_survey')}")  # idle timeout passed
    r = await client.get("/t/survey/me")
    assert r.status_code == 303 and r.headers["location"] == "/t/survey/signin?expired=1"
    page = await client.get(r.headers["location"])
    assert "登录已过期" in page.text


async def test_session_older_than_the_absolute_timeout_is_refused(client, make_account, platform):
    """Activity renews the idle timeout, never the absolute one."""
    import json

    account, password = await make_account("survey")
    await client.signin("survey", "mobile", password, mobile=account.mobile)
    key = f"session:{client.cookies.get('xs_survey')}"
    assert (await client.get("/t/survey/me")).status_code == 200
    data = json.loads(await platform.store.get(key))
    data["created"] -= platform.settings.session_absolute_seconds + 1  # signed in long ago
    await platform.store.set(key, json.dumps(data).encode(), expires_in=600)
    r = await client.get("/t/survey/me")
    assert r.status_code == 303 and r.headers["location"] == "/t/survey/signin?expired=1"
    assert await platform.store.get(key) is None  # destroyed, not just refused
