"""Two app instances (two platforms, as two server processes would have) on one Redis and one
database: a session, the sign-in lockout and a face challenge started on one instance carry on on
the other. Needs REDIS_URL (CI runs it on PostgreSQL + Redis)."""

from __future__ import annotations

import dataclasses
import itertools
import os

import pytest
from litestar.testing import AsyncTestClient

from core.app import create_app
from core.testing.client import XsClient
from core.testing.pytest_plugin import deployed_platform

from test_proctoring import BlinkAndMouthOnly, challenge, clip_frames, finish, learner, run_page
from tests.face_tenant import FACE, FaceTenant

REDIS_URL = os.environ.get("REDIS_URL", "")
pytestmark = pytest.mark.skipif(not REDIS_URL, reason="needs REDIS_URL: the instances share state through Redis")


class Alternating(XsClient):
    """A browser whose requests go to instance A, B, A, B, … with one cookie jar."""

    def __init__(self, a, b) -> None:
        b._cookies = a._cookies  # one jar (the public setter copies it)
        self._turns = itertools.cycle([a, b])
        self.seen: list[str] = []

    @property
    def http(self):
        client = next(self._turns)
        self.seen.append(client.app.state.name)
        return client


@pytest.fixture
def xs_plugins():
    return [BlinkAndMouthOnly(), FaceTenant()]


@pytest.fixture
async def two(xs_settings):
    settings = dataclasses.replace(xs_settings, redis_url=REDIS_URL)
    apps = []
    for name in ("A", "B"):
        app = create_app(platform=await deployed_platform(settings, [BlinkAndMouthOnly(), FaceTenant()]))
        app.state.name = name
        apps.append(app)
    assert apps[0].state.platform is not apps[1].state.platform
    async with AsyncTestClient(app=apps[0], base_url="http://testserver.local") as a, \
            AsyncTestClient(app=apps[1], base_url="http://testserver.local") as b:
        yield Alternating(a, b), apps[0].state.platform


async def test_a_session_made_on_one_instance_signs_in_the_other(two, make_account):
    client, platform = two
    account, password = await make_account("survey")
    r = await client.signin("survey", "mobile", password, mobile=account.mobile)
    assert r.status_code == 303
    for _ in range(2):  # one request on each instance
        page = await client.get("/t/survey/me")
        assert page.status_code == 200 and account.real_name in page.text
    assert {"A", "B"} <= set(client.seen)


async def test_failed_sign_ins_on_both_instances_add_up_to_one_lockout(two, make_account):
    client, platform = two
    account, password = await make_account("survey")
    limit = platform.settings.lockout_failures
    for _ in range(limit):
        r = await client.signin("survey", "mobile", "Wrong-pass-1", mobile=account.mobile)
        assert r.status_code in (400, 429)
    r = await client.signin("survey", "mobile", password, mobile=account.mobile)
    assert r.status_code == 429 and "锁定" in r.text  # the right password, on either instance: locked


async def test_a_face_challenge_started_on_one_instance_finishes_on_the_other(two, make_account):
    client, platform = two
    await learner(platform, make_account, client)
    r = await challenge(client)
    assert r.status_code == 201, r.text
    c = r.json()
    g = await run_page(client, FACE, c, clip_frames())
    assert g["done"] and g["code"] == "finished", g
    r = await finish(client, FACE, c["nonce"])
    assert r.status_code == 200 and r.json()["passed"] is True, r.text
    assert (await finish(client, FACE, c["nonce"])).status_code == 404  # spent on both
