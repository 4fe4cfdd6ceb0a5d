"""Cheater's suite: face challenges are attempts, counted atomically when issued.

An attacker who may fail three face checks a day asks for 40 challenges at once, hoping to keep
one whose actions match a recording. Issuing a challenge is the attempt: the store's counter
(the file store, and Redis) is incremented before anything else, so at most the tenant's daily
limit is issued, the rest are refused with the Chinese limit message, only one challenge is
open at a time, and a challenge left unfinished counts as failed.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import secrets

import pytest

from core.files.images import clean_image
from core.limits import Counter
from core.proctoring import services
from core.proctoring.tables import FaceVerification
from core.roster.tables import LearnerProfile
from core.testing.face_media import faces_dir
from core.testing.pytest_plugin import deployed_platform
from tests.face_tenant import FaceTenant
from tests.test_integrity_portrait_swap import forget_portrait_encodings  # noqa: F401  (autouse)
from tests.test_proctoring import PORTRAIT, BlinkAndMouthOnly, challenge, learner, xs_plugins  # noqa: F401  (the plugin fixture)

REDIS_URL = os.environ.get("REDIS_URL", "")


@pytest.fixture(params=["file", "redis"])
def xs_settings(request, xs_settings):
    """Each test runs on the file store and on Redis (the two stores the counter supports)."""
    if request.param == "redis":
        if not REDIS_URL:
            # CI's SQLite run has no Redis by design; its PostgreSQL run must have it.
            if os.environ.get("CI") and os.environ.get("XUESHI_TEST_DATABASE_URL", "").startswith("postgres"):
                pytest.fail("REDIS_URL is required in CI's PostgreSQL run")
            pytest.skip("needs REDIS_URL")
        return dataclasses.replace(xs_settings, redis_url=REDIS_URL)
    return xs_settings


def _own_namespace(platform, namespace: str):
    """On Redis, this run's attempt counters in a namespace of their own (test databases are
    recreated, so account ids repeat across runs sharing one Redis)."""
    if platform.settings.redis_url:
        old = platform.counters["face_attempts"]
        platform.counters["face_attempts"] = Counter(platform.store.with_namespace(namespace), old.name, old.limit,
                                                     old.window)
    return platform


@pytest.fixture
def namespace():
    return f"t{secrets.token_hex(4)}"


@pytest.fixture
def platform(platform, namespace):
    return _own_namespace(platform, namespace)


async def _attempts_shown(client) -> str:
    """今日剩余尝试次数 as the check page shows it (the page reads the store in the app's loop)."""
    page = (await client.get("/t/facecheck/face/check")).text
    return page.split('id="face-attempts"', 1)[1].split("<b>", 1)[1].split("</b>", 1)[0] if 'id="face-attempts"' in page else "0"


async def _rows(account_id: int) -> list[FaceVerification]:
    return await (FaceVerification.objects().output(load_json=True)
                  .where(FaceVerification.account == account_id).order_by(FaceVerification.id))


async def test_forty_simultaneous_challenges_issue_at_most_the_daily_limit(client, platform, make_account):
    account = await learner(platform, make_account, client)
    tenant = platform.tenants.get("facecheck")
    limit = tenant.rules.face.max_attempts
    assert (platform.store.__class__.__name__ == "RedisStore") == bool(platform.settings.redis_url)
    results = await asyncio.gather(*(challenge(client) for _ in range(40)))
    codes = sorted(r.status_code for r in results)
    issued = [r.json() for r in results if r.status_code == 201]
    print(f"\n40 simultaneous POST /face/challenge on the {type(platform.store).__name__}: "
          f"{len(issued)} issued, {codes.count(429)} refused")
    assert len(issued) == limit and codes.count(429) == 40 - limit, codes
    for r in results:
        if r.status_code == 429:
            assert r.json()["error"] == f"今日人脸核验未通过次数已达上限（{limit} 次），请明天再试"
    assert sorted(c["attempts_left"] for c in issued) == list(range(1, limit + 1))
    rows = await _rows(account.id)
    assert len(rows) == limit
    # One challenge open at a time: every earlier one was ended and counted as failed.
    assert [r.status for r in rows] == ["failed"] * (limit - 1) + ["open"]
    assert all(r.reasons == [services.ABANDONED] for r in rows[:-1])
    # Nothing is left for today, whatever the page says or does next.
    assert await _attempts_shown(client) == "0"
    again = await challenge(client)
    assert again.status_code == 429
    page = await client.get("/t/facecheck/face/check")
    assert "今日人脸核验未通过次数已达上限" in page.text and 'id="face-start"' not in page.text


async def test_forty_simultaneous_starts_in_one_process_issue_at_most_the_daily_limit(
        client, platform, make_account, namespace, xs_settings):
    """The same race without the HTTP client's scheduling in between: 40 starts interleaved on
    one event loop at every await (database, store, the encoding off the loop), on a platform of
    this loop (as a second server process would be)."""
    account = await learner(platform, make_account, client)
    here = _own_namespace(await deployed_platform(xs_settings, [BlinkAndMouthOnly(), FaceTenant()]), namespace)
    platform = here
    tenant = platform.tenants.get("facecheck")
    checks = services.live_checks(platform)
    results = await asyncio.gather(*(services.start(platform, checks, tenant, account) for _ in range(40)),
                                   return_exceptions=True)
    issued = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, services.VerificationRefused)]
    print(f"\n40 interleaved starts on the {type(platform.store).__name__}: {len(issued)} issued, {len(refused)} refused")
    assert len(issued) == tenant.rules.face.max_attempts and len(refused) == 40 - len(issued), results
    assert {r.status for r in refused} == {429}
    assert [r.status for r in await _rows(account.id)].count("open") == 1


async def test_an_abandoned_challenge_counts_as_a_failed_attempt(client, platform, make_account):
    account = await learner(platform, make_account, client)
    tenant = platform.tenants.get("facecheck")
    limit = tenant.rules.face.max_attempts
    first = await challenge(client)
    assert first.status_code == 201 and first.json()["attempts_left"] == limit
    # The learner closes the page: the challenge is never finished. It is still an attempt.
    assert await _attempts_shown(client) == str(limit - 1)
    # Replaced by a new one, it is failed in the record too.
    second = await challenge(client)
    assert second.status_code == 201 and second.json()["attempts_left"] == limit - 1
    rows = await _rows(account.id)
    assert [r.status for r in rows] == ["failed", "open"] and rows[0].reasons == [services.ABANDONED]


async def test_a_refused_start_does_not_use_an_attempt(client, platform, make_account):
    """No challenge issued (no portrait), no attempt counted: the counter gives the hit back."""
    account = await learner(platform, make_account, client, portrait=None)
    tenant = platform.tenants.get("facecheck")
    for _ in range(tenant.rules.face.max_attempts + 1):
        r = await challenge(client)
        assert r.status_code == 409 and r.json()["error"] == services.NO_PORTRAIT
    img = clean_image((faces_dir() / PORTRAIT).read_bytes())  # the portrait, uploaded at last
    stored = await platform.storage.save(img.data, tenant_id=tenant.id, kind="portrait", media_type=img.media_type,
                                         owner_id=account.id)
    await LearnerProfile(tenant=tenant.id, account=account.id, real_name=account.real_name, portrait=stored.id).save()
    assert await _attempts_shown(client) == str(tenant.rules.face.max_attempts)
    r = await challenge(client)
    assert r.status_code == 201 and r.json()["attempts_left"] == tenant.rules.face.max_attempts
