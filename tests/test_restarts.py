"""Restarts lose no credited second (PostgreSQL + Redis, live study answered before written).

* Redis killed (SIGKILL) while a learner studies, with beats answered but not yet written:
  Redis runs as docs/operations.md asks (``appendonly yes``, ``appendfsync everysec``); the beat
  sent while it is down is answered 503 and sent again by the player; once Redis is back, the
  flusher writes every beat, each once.
* A web process replaced while a learner studies: a new platform and app (nothing of the old
  process's memory) on the same database and Redis take the learner's next beat on the same
  session cookie, and write what the old process answered but did not write.
"""

from __future__ import annotations

import asyncio
import dataclasses
import shutil
import signal
import socket
import subprocess
import time

import pytest
from litestar.testing import AsyncTestClient

from core.app import create_app
from core.study import live as live_module
from core.testing.browser import free_port, in_ci
from core.testing.client import XsClient
from core.testing.pytest_plugin import deployed_platform
from tests.live_mode import needs_live, test_live, xs_app  # noqa: F401
from tests.test_study import T, beat, clock, lesson_video, studying  # noqa: F401
from tests.test_study_live import _ledger, _study

pytestmark = needs_live


class PrivateRedis:
    """A Redis of the test's own, configured as production's must be (append-only file, fsync
    every second), that the test kills and starts again on the same data directory."""

    def __init__(self, binary: str, directory) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.args = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(directory),
                     "--appendonly", "yes", "--appendfsync", "everysec", "--save", "", "--daemonize", "no"]
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(self.args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        self.proc = None


@pytest.fixture
def private_redis(tmp_path):
    binary = shutil.which("redis-server")
    if binary is None:
        if in_ci():
            pytest.fail("redis-server is not installed")
        pytest.skip("redis-server is not installed")
    redis = PrivateRedis(binary, tmp_path)
    redis.start()
    yield redis
    if redis.proc is not None:
        redis.kill()


async def _flushed_by_the_loop(live, account_id: int, seconds: float = 30.0) -> tuple:
    """Run the flusher loop (``LiveStudy.run``, as a serving process does) until the ledger stops
    changing for a few rounds, then stop it; the ledger's totals."""
    task = asyncio.get_running_loop().create_task(live.run())
    try:
        seen, still, deadline = None, 0, time.monotonic() + seconds
        while still < 3 and time.monotonic() < deadline:
            await asyncio.sleep(live_module.FLUSH_EVERY_SECONDS)
            now = await _ledger(account_id)
            still = still + 1 if now == seen and now[1] else 0
            seen = now
        return seen
    finally:
        live._stopping.set()
        await task
        live._stopping.clear()


@pytest.fixture
def xs_settings(xs_settings, private_redis):
    """No flusher starts with the app (the tests switch to answering before writing and run the
    flusher loop themselves, on their own event loop)."""
    return dataclasses.replace(xs_settings, redis_url=private_redis.url, study_flush_inline=True, debug=True)


async def test_redis_killed_mid_study_loses_no_credited_second(client, platform, studying, clock, test_live,
                                                             private_redis):
    lesson, account = studying["lesson"].id, studying["account"]
    s = await _study(client, platform, studying, clock, 4)  # answered before written
    assert await test_live.pending() == 4 and await _ledger(account.id) == (0, 0, 0, 0)
    await asyncio.sleep(1.5)  # appendfsync everysec: what is a second old is on disk
    private_redis.kill()

    clock.advance(10)
    form = {"token": s["token"], "seq": "5", "lesson": str(lesson), "position": "50", "playing": "1",
            "event": "beat", "visible": "1"}
    down = await client.post(f"{T}/study/beat", form)
    assert down.status_code == 503 and down.headers.get("retry-after")
    assert not down.headers.get("set-cookie")  # nobody is signed out by the outage

    private_redis.start()
    again = await client.post(f"{T}/study/beat", form)  # the player sends the kept beat again
    assert again.status_code == 200, again.text
    assert again.json()["credited"] == 10 and again.json()["total_seconds"] == 50
    # The flusher loop meets the connection Redis closed, logs it and goes on.
    assert await _flushed_by_the_loop(test_live, account.id) == (50, 5, 50, 50)
    assert await test_live.pending() == 0


async def test_a_replaced_web_process_loses_no_credited_second(client, platform, studying, clock, test_live,
                                                              xs_settings):
    lesson, account = studying["lesson"].id, studying["account"]
    s = await _study(client, platform, studying, clock, 3)
    assert await test_live.pending() == 3  # answered by the old process, not yet written

    # The process ends without flushing (as after SIGKILL); a new one starts on the same
    # database and Redis and knows nothing of the old one's memory.
    fresh = await deployed_platform(xs_settings)
    app = create_app(platform=fresh)
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as http:
        http.cookies = client.http.cookies  # the learner's browser keeps its cookies
        second = XsClient(http)
        fresh.live.background = True
        clock.advance(10)
        assert (await beat(second, s["token"], 4, lesson, 40))["credited"] == 10
        assert await _flushed_by_the_loop(fresh.live, account.id) == (40, 4, 40, 40)
        assert await fresh.live.pending() == 0
        await fresh.live.close_connections()
