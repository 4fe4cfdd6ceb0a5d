"""Sessions (and sign-in counters) live in Redis when REDIS_URL is set.

Skipped without REDIS_URL (CI's SQLite run; its PostgreSQL run sets it), and when the Redis it
names is unreachable on a developer machine; under CI=true an unreachable Redis is a failure, so
CI cannot go green without having used it.
"""

from __future__ import annotations

import dataclasses
import os

import pytest

from core.testing.browser import in_ci

REDIS_URL = os.environ.get("REDIS_URL", "")
pytestmark = pytest.mark.skipif(not REDIS_URL, reason="REDIS_URL not set")


@pytest.fixture
async def redis_client():
    from redis.asyncio import Redis

    client = Redis.from_url(REDIS_URL)
    try:
        await client.ping()
    except Exception as exc:  # noqa: BLE001 - any connection problem means "no Redis here"
        await client.aclose()
        if in_ci():
            pytest.fail(f"Redis at {REDIS_URL} is unreachable in CI: {exc}")
        pytest.skip(f"Redis at {REDIS_URL} is unreachable: {exc}")
    yield client
    await client.aclose()


@pytest.fixture
async def redis_http(xs_settings, redis_client):
    from litestar.testing import AsyncTestClient

    from core.app import create_app
    from core.testing.client import XsClient
    from core.testing.pytest_plugin import deployed_platform

    app = create_app(platform=await deployed_platform(dataclasses.replace(xs_settings, redis_url=REDIS_URL)))
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as http:
        yield XsClient(http), app.state.platform


async def test_signed_in_session_is_stored_in_redis(redis_http, redis_client, make_account):
    client, platform = redis_http
    assert type(platform.store).__name__ == "RedisStore"
    account, password = await make_account("survey")
    r = await client.signin("survey", "mobile", password, mobile=account.mobile)
    assert r.status_code == 303 and r.headers["location"] == "/t/survey/me"
    sid = client.cookies.get("xs_survey")
    assert sid
    key = f"xueshi:session:{sid}"
    assert await redis_client.exists(key) == 1
    ttl = await redis_client.ttl(key)
    assert 0 < ttl <= platform.settings.session_idle_seconds
    # The session read back from Redis signs the page in.
    page = await client.get("/t/survey/me")
    assert page.status_code == 200 and account.real_name in page.text
    # Nothing personal in the stored value: only ids, the tenant and a timestamp.
    raw = (await redis_client.get(key)).decode()
    assert account.mobile not in raw and str(account.id) in raw

    r = await client.post("/t/survey/signout")
    assert r.status_code == 303
    assert await redis_client.exists(key) == 0
    r = await client.get("/t/survey/me")
    assert r.status_code == 303 and "/t/survey/signin" in r.headers["location"]


async def test_a_session_deleted_from_redis_is_signed_out(redis_http, redis_client, make_account):
    client, _ = redis_http
    account, password = await make_account("construction")
    await client.signin("construction", "id", password, id_number=account.id_number)
    sid = client.cookies.get("xs_construction")
    assert await redis_client.delete(f"xueshi:session:{sid}") == 1
    r = await client.get("/t/construction/me")
    assert r.status_code == 303 and r.headers["location"] == "/t/construction/signin?expired=1"
