"""Counters, sign-in lockout and SMS code limits under real concurrency (issue 8 #1, #2, #6).

Every test runs on the file store and on Redis (``store`` parameter); with
``XUESHI_TEST_DATABASE_URL`` set the database is PostgreSQL, else SQLite. Many requests are sent
at once with ``asyncio.gather`` through the app's test client: the app handles them concurrently
on one event loop, as a server does.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import secrets

import pytest
from litestar.stores.file import FileStore

from core.accounts import passwords, smscodes
from core.accounts.tables import Account, SmsCode
from core.audit.tables import AuditEntry
from core.limits import Counter
from core.notify.tables import Notification
from core.testing.ids import fake_mobile
from core.testing.sms import last_sms_code
from core.testing.browser import in_ci

STORES = ["file", "redis"]
# The limits hold on both stores in every run: the Redis one here even where REDIS_URL is unset
# (CI's SQLite run), on the local server's first database as CI starts it.
REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"


def _need_redis() -> None:
    """Skip without Redis on a developer machine; under CI=true a missing Redis fails."""
    from redis import Redis

    client = Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except Exception as exc:  # noqa: BLE001 - any connection problem means "no Redis here"
        if in_ci():
            pytest.fail(f"Redis at {REDIS_URL} is unreachable in CI: {exc}")
        pytest.skip(f"Redis at {REDIS_URL} is unreachable: {exc}")
    finally:
        client.close()


def _fresh_namespace(store):
    """Counters in a namespace of their own, so runs sharing one Redis never see each other's
    counts (and nothing needs deleting)."""
    from litestar.stores.redis import RedisStore

    if isinstance(store, RedisStore):
        return store.with_namespace(f"t{secrets.token_hex(4)}")
    return store


@pytest.fixture(params=STORES)
async def http(request, xs_settings):
    """(client, platform) of an app on the file store or on Redis, served in the test's own event
    loop through httpx's ASGI transport, so requests sent together really run concurrently
    (Litestar's test client hands them one at a time to a portal thread)."""
    import httpx

    from core.app import create_app
    from core.testing.client import XsClient
    from core.testing.pytest_plugin import deployed_platform

    settings = xs_settings
    if request.param == "redis":
        _need_redis()
        settings = dataclasses.replace(xs_settings, redis_url=REDIS_URL)
    app = create_app(platform=await deployed_platform(settings))
    p = app.state.platform
    store = _fresh_namespace(p.store)
    p.counters = {name: Counter(store, c.name, c.limit, c.window) for name, c in p.counters.items()}
    transport = httpx.ASGITransport(app=app, client=("198.51.100.7", 40000))
    # The startup hooks by hand: pytest-asyncio tears a fixture down in another task than it set
    # it up in, which ``app.lifespan()``'s task group does not allow.
    for hook in app.on_startup:
        await hook(app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver.local") as c:
        yield XsClient(c), p
    for hook in app.on_shutdown:
        await hook(app)
    if hasattr(p.store, "_redis"):
        await p.store._redis.aclose()


@pytest.fixture
def count_calls(monkeypatch):
    """``count_calls(module, name)`` wraps a function and returns the list its calls go to."""

    def wrap(module, name):
        calls = []
        real = getattr(module, name)

        def counted(*args, **kw):
            calls.append(args)
            return real(*args, **kw)

        monkeypatch.setattr(module, name, counted)
        return calls

    return wrap


# -- the Counter itself ----------------------------------------------------------------------


@pytest.mark.parametrize("kind", STORES)
async def test_counter_hits_are_atomic_under_gather(kind, tmp_path):
    if kind == "redis":
        _need_redis()
        from litestar.stores.redis import RedisStore

        store = RedisStore.with_client(url=REDIS_URL, namespace=f"xueshi_t{secrets.token_hex(4)}")
    else:
        store = FileStore(tmp_path / "store", create_directories=True)
    counter = Counter(store, "test", limit=7, window=60)
    counts = await asyncio.gather(*(counter.hit("k") for _ in range(120)))
    assert sorted(counts) == list(range(1, 121))  # every hit saw its own count: none lost
    assert await counter.count("k") == 120
    allowed = await asyncio.gather(*(counter.allow("other") for _ in range(60)))
    assert allowed.count(True) == 7
    await asyncio.gather(*(counter.release("k") for _ in range(20)))
    assert await counter.count("k") == 100
    assert 0 < await counter.retry_after("k") <= 60
    await counter.reset("k")
    assert await counter.count("k") == 0 and await counter.retry_after("k") == 0
    await counter.release("k")  # never below zero
    assert await counter.count("k") == 0


# -- sign-in lockout -------------------------------------------------------------------------


async def test_requests_sent_together_run_concurrently(http, monkeypatch):
    """The premise of this module: gathered requests overlap inside the app."""
    from core.accounts import lockout

    client, p = http
    inflight, peak = [0], [0]
    real = lockout.throttle

    async def slow_throttle(*args):
        inflight[0] += 1
        peak[0] = max(peak[0], inflight[0])
        await asyncio.sleep(0.05)
        inflight[0] -= 1
        return await real(*args)

    monkeypatch.setattr(lockout, "throttle", slow_throttle)
    await client.get("/t/survey/signin")
    await asyncio.gather(*(client.post("/t/survey/signin/mobile", {"mobile": fake_mobile(), "password": "x"})
                           for _ in range(10)))
    assert peak[0] > 1


async def test_forty_simultaneous_wrong_passwords_lock_the_account(http, make_account, count_calls):
    client, p = http
    account, password = await make_account("survey")
    verified = count_calls(passwords, "verify_password")
    await client.get("/t/survey/signin")  # the CSRF cookie, once
    wrong = [client.post("/t/survey/signin/mobile", {"mobile": account.mobile, "password": f"wrong-{i}"})
             for i in range(40)]
    answers = await asyncio.gather(*wrong)
    assert all(r.status_code in (400, 429) for r in answers), {r.status_code for r in answers}
    assert len(verified) == p.settings.lockout_failures  # exactly the threshold evaluated
    assert sum("还可尝试" in r.text for r in answers) == p.settings.lockout_failures - 1
    assert sum(r.status_code == 429 for r in answers) == 40 - (p.settings.lockout_failures - 1)
    # Locked now: the right password is refused without being checked.
    r = await client.signin("survey", "mobile", password, mobile=account.mobile)
    assert r.status_code == 429 and "账号已被临时锁定" in r.text
    assert len(verified) == p.settings.lockout_failures


async def test_right_password_among_simultaneous_wrong_ones_is_judged_by_its_turn(http, make_account):
    """Whatever the interleaving, no more than the threshold of attempts is evaluated in all."""
    client, p = http
    account, password = await make_account("survey")
    await client.get("/t/survey/signin")
    attempts = [client.post("/t/survey/signin/mobile", {"mobile": account.mobile, "password": "wrong"})
                for _ in range(20)]
    attempts.insert(10, client.post("/t/survey/signin/mobile", {"mobile": account.mobile, "password": password}))
    answers = await asyncio.gather(*attempts)
    assert not any(r.status_code >= 500 for r in answers)
    assert sum(r.status_code in (303, 400) for r in answers) <= p.settings.lockout_failures + 1
    # A sign-in is recorded (and the account's last sign-in set) exactly when the right password got through.
    signed_in = sum(r.status_code == 303 for r in answers)
    assert signed_in <= 1
    assert await AuditEntry.count().where((AuditEntry.actor == account.id) & (AuditEntry.action == "signin")) == signed_in
    row = await Account.objects().where(Account.id == account.id).first()
    assert (row.last_signin_at is not None) == bool(signed_in)


async def test_per_address_sign_in_rate_is_enforced_under_concurrency(http, make_account):
    client, p = http
    limit = p.counters["signin_client"].limit = 10
    account, _ = await make_account("survey")
    await client.get("/t/survey/signin")
    answers = await asyncio.gather(*(
        client.post("/t/survey/signin/mobile", {"mobile": fake_mobile(), "password": "x"}) for _ in range(30)))
    assert sum("尝试过于频繁" in r.text for r in answers) == 30 - limit
    # A forged X-Forwarded-For is not a new address: only the connecting peer counts (uvicorn
    # replaces the peer with the forwarded one only for proxies in FORWARDED_ALLOW_IPS).
    r = await client.post("/t/survey/signin/mobile", {"mobile": account.mobile, "password": "x"},
                          headers={"X-Forwarded-For": "203.0.113.9"})
    assert r.status_code == 429 and "尝试过于频繁" in r.text


async def test_an_address_over_its_sign_in_rate_leaves_another_address_unaffected(http, make_account):
    """Issue 8 #17: the per-address throttle with a low limit: many simultaneous attempts from one
    address are refused past it (even with the right password), while another address signs in."""
    import httpx

    from core.testing.client import XsClient

    client, p = http
    limit = p.counters["signin_client"].limit = 5
    account, password = await make_account("survey")
    await client.get("/t/survey/signin")
    answers = await asyncio.gather(*(
        client.post("/t/survey/signin/mobile", {"mobile": fake_mobile(), "password": "wrong"}) for _ in range(25)))
    assert sum(r.status_code == 429 and "尝试过于频繁" in r.text for r in answers) == 25 - limit
    r = await client.post("/t/survey/signin/mobile", {"mobile": account.mobile, "password": password})
    assert r.status_code == 429 and "尝试过于频繁" in r.text
    other = httpx.ASGITransport(app=client.http._transport.app, client=("203.0.113.50", 40001))
    async with httpx.AsyncClient(transport=other, base_url="http://testserver.local") as c:
        r = await XsClient(c).signin("survey", "mobile", password, mobile=account.mobile)
        assert r.status_code == 303, r.text[-500:]


# -- SMS codes -------------------------------------------------------------------------------


async def test_thirty_simultaneous_code_requests_send_at_most_five(http, make_account):
    client, p = http
    account, _ = await make_account("survey")
    await client.get("/t/survey/signin")
    answers = await asyncio.gather(*(
        client.hx_post("/t/survey/sms/code", {"mobile": account.mobile}) for _ in range(30)))
    assert all(r.status_code == 200 for r in answers)
    sent = await Notification.count().where(
        (Notification.recipient == account.mobile) & (Notification.channel == "sms"))
    assert sent == 5
    assert sum("过于频繁" in r.text for r in answers) == 25


async def test_three_hundred_simultaneous_wrong_codes_are_not_all_evaluated(http, make_account, count_calls):
    client, p = http
    account, _ = await make_account("survey")
    await client.get("/t/survey/signin")
    await client.hx_post("/t/survey/sms/code", {"mobile": account.mobile})
    code = await last_sms_code(account.mobile)
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    evaluated = count_calls(smscodes, "_matches")
    answers = await asyncio.gather(*(
        client.post("/t/survey/signin/sms", {"mobile": account.mobile, "code": wrong}) for _ in range(300)))
    assert not [r.status_code for r in answers if r.status_code >= 500]
    assert len(evaluated) <= smscodes.MAX_ATTEMPTS
    row = await SmsCode.objects().where(SmsCode.mobile == account.mobile).first()
    assert row.attempts <= smscodes.MAX_ATTEMPTS and row.used_at is None


async def test_code_attempts_are_counted_atomically(http, make_account, count_calls):
    """Past the sign-in lockout, the code's own limit: 300 simultaneous checks, 5 evaluations."""
    client, p = http
    tenant = p.tenants.get("survey")
    mobile = fake_mobile()
    code = await smscodes.issue_code(hooks=p.hooks(tenant), tenant=tenant, mobile=mobile, purpose="register",
                                     client="198.51.100.1", secret="s", per_mobile=p.counters["sms_mobile"],
                                     per_client=p.counters["sms_client"])
    evaluated = count_calls(smscodes, "_matches")
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    # 40 at a time: without a connection pool each query opens a PostgreSQL connection, and 300
    # at once would exceed the server's max_connections (a pool is the kernel's job, DESIGN §9).
    gate = asyncio.Semaphore(40)

    async def check():
        async with gate:
            await smscodes.check_code(tenant=tenant, mobile=mobile, purpose="register", code=wrong, secret="s")

    results = await asyncio.gather(*(check() for _ in range(300)), return_exceptions=True)
    assert all(isinstance(e, smscodes.CodeError) for e in results), {type(e).__name__: str(e) for e in results}
    assert len(evaluated) == smscodes.MAX_ATTEMPTS
    assert sum(str(e) == "验证码不正确" for e in results) == smscodes.MAX_ATTEMPTS
    row = await SmsCode.objects().where(SmsCode.mobile == mobile).first()
    assert row.attempts == smscodes.MAX_ATTEMPTS
    with pytest.raises(smscodes.CodeError, match="错误次数过多"):  # even the right code now
        await smscodes.check_code(tenant=tenant, mobile=mobile, purpose="register", code=code, secret="s")


async def test_a_code_is_consumed_once_under_concurrency(http):
    client, p = http
    tenant = p.tenants.get("survey")
    mobile = fake_mobile()
    code = await smscodes.issue_code(hooks=p.hooks(tenant), tenant=tenant, mobile=mobile, purpose="register",
                                     client="198.51.100.2", secret="s", per_mobile=p.counters["sms_mobile"],
                                     per_client=p.counters["sms_client"])
    results = await asyncio.gather(*(
        smscodes.check_code(tenant=tenant, mobile=mobile, purpose="register", code=code, secret="s")
        for _ in range(4)), return_exceptions=True)
    assert results.count(None) == 1
    assert all(isinstance(e, smscodes.CodeError) for e in results if e is not None)


# -- every password check is protected -------------------------------------------------------


async def test_enterprise_status_check_has_the_sign_in_lockout(http, make_account, count_calls):
    client, p = http
    account, password = await make_account("survey", role="enterprise_admin")
    verified = count_calls(passwords, "verify_password")
    await client.get("/t/survey/enterprise")
    answers = await asyncio.gather(*(
        client.post("/t/survey/enterprise/status", {"mobile": account.mobile, "password": f"guess-{i}"})
        for i in range(20)))
    assert len(verified) == p.settings.lockout_failures
    assert sum(r.status_code == 429 for r in answers) == 20 - (p.settings.lockout_failures - 1)
    r = await client.post("/t/survey/enterprise/status", {"mobile": account.mobile, "password": password})
    assert r.status_code == 429 and "账号已被临时锁定" in r.text
    # One lockout for the identifier: sign-in by the same mobile is locked too.
    r = await client.signin("survey", "mobile", password, mobile=account.mobile)
    assert r.status_code == 429 and "账号已被临时锁定" in r.text


async def test_password_change_form_has_the_lockout(http, make_account, count_calls):
    client, p = http
    account, password = await make_account("survey")
    await client.signin("survey", "mobile", password, mobile=account.mobile)
    verified = count_calls(passwords, "verify_password")
    answers = await asyncio.gather(*(
        client.post("/t/survey/password", {"current": f"guess-{i}", "new": "Newpass-2026", "again": "Newpass-2026"})
        for i in range(12)))
    assert len(verified) == p.settings.lockout_failures
    assert sum("账号已被临时锁定" in r.text for r in answers) == 12 - (p.settings.lockout_failures - 1)


# -- sessions end with a password change (#6) ------------------------------------------------


async def test_changing_the_password_ends_the_other_sessions(http, make_account):
    client, p = http
    account, password = await make_account("survey")
    cookie = p.sessions.cookie_name("survey")
    # A first device signs in; then, without its cookie, a second one.
    await client.signin("survey", "mobile", password, mobile=account.mobile)
    first = client.cookies.get(cookie)
    client.cookies.delete(cookie)
    await client.signin("survey", "mobile", password, mobile=account.mobile)
    r = await client.post("/t/survey/password", {"current": password, "new": "Newpass-2026", "again": "Newpass-2026"})
    assert r.status_code == 303
    assert (await client.get("/t/survey/me")).status_code == 200  # this device stays signed in
    client.cookies.set(cookie, first)
    r = await client.get("/t/survey/me")
    assert r.status_code == 303 and "/signin" in r.headers["location"]


async def test_resetting_a_password_ends_the_sessions(http, make_account):
    from core.accounts.services import upsert_account

    client, p = http
    account, password = await make_account("survey")
    await client.signin("survey", "mobile", password, mobile=account.mobile)
    assert (await client.get("/t/survey/me")).status_code == 200
    await upsert_account(p.tenants.get("survey"), role="learner", password="Reset-2026x", mobile=account.mobile,
                         id_number=account.id_number, sessions=p.sessions)
    r = await client.get("/t/survey/me")
    assert r.status_code == 303 and "/signin" in r.headers["location"]

