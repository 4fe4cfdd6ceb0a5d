"""Errors are pages in the tenant's theme and language (404, 405, 403, 500, and 503 while Redis
is unreachable; Chinese here, English in test_english_tenant.py), JSON only for a client that
asked for JSON; sessions survive a Redis restart when Redis keeps its data (docs/operations.md)."""

from __future__ import annotations

import asyncio
import dataclasses
import shutil
import socket
import subprocess

import pytest
from litestar import get

from core import hookimpl
from core.errors import RETRY_AFTER_SECONDS
from core.testing.browser import in_ci
from core.testing.client import XsClient
from core.testing.pytest_plugin import deployed_platform

SURVEY_THEME = "/static/themes/survey_blue/static/tokens.css"


@get("/crash-for-test")
async def crash() -> None:
    raise RuntimeError("an unexpected bug")


@get("/number-for-test")
async def number(n: int) -> str:
    return str(n)


class CrashingPage:
    @hookimpl
    def register_routes(self):
        return [crash, number]


@pytest.fixture
def xs_plugins():
    return [CrashingPage()]


def _chinese_page(r, status: int, *words: str) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("text/html"), r.headers["content-type"]
    assert r.text.startswith("<!doctype html>") and '<html lang="zh-CN">' in r.text
    assert SURVEY_THEME in r.text and "示范勘察设计协会培训中心" in r.text  # the tenant's theme and name
    for word in words:
        assert word in r.text


async def test_a_page_that_does_not_exist_is_a_chinese_404_and_json_only_when_asked(client):
    _chinese_page(await client.get("/t/survey/no-such-page"), 404, "页面不存在")
    r = await client.get("/t/survey/no-such-page", headers={"Accept": "application/json"})
    assert r.status_code == 404 and r.json() == {"status_code": 404, "detail": "您要找的内容不存在或您无权查看。"}
    # A browser's Accept names HTML (and */*): a page.
    r = await client.get("/t/survey/no-such-page", headers={"Accept": "text/html,application/json;q=0.9,*/*;q=0.8"})
    assert r.headers["content-type"].startswith("text/html")


async def test_a_method_a_page_does_not_take_is_a_chinese_405(client):
    r = await client.http.delete("/t/survey/news")  # a page that only reads
    _chinese_page(r, 405, "不支持该操作")
    assert "GET" in r.headers.get("allow", "")


async def test_a_form_with_another_sessions_token_is_a_chinese_403(client, make_account):
    account, password = await make_account("survey")
    assert (await client.signin("survey", "mobile", password, mobile=account.mobile)).status_code == 303
    r = await client.http.post("/t/survey/signout", data={"_csrf_token": "forged"})
    _chinese_page(r, 403, "无法完成操作")
    assert (await client.get("/t/survey/me")).status_code == 200  # still signed in


async def test_an_unexpected_error_is_a_chinese_500_and_logged(client, caplog):
    r = await client.get("/t/survey/crash-for-test")
    _chinese_page(r, 500, "系统出错了")
    assert "RuntimeError" not in r.text and "an unexpected bug" not in r.text  # nothing of the bug shown
    assert any(rec.levelname == "ERROR" and rec.exc_info and "an unexpected bug" in str(rec.exc_info[1])
               for rec in caplog.records)
    r = await client.get("/t/survey/crash-for-test", headers={"Accept": "application/json"})
    assert r.status_code == 500 and r.json()["detail"].startswith("服务器处理您的请求时出错")


async def test_a_malformed_parameter_is_a_chinese_400(client):
    assert (await client.get("/t/survey/number-for-test?n=7")).text == "7"
    r = await client.get("/t/survey/number-for-test?n=seven")
    _chinese_page(r, 400, "请求有误")
    assert "Validation" not in r.text


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def redis_server(tmp_path):
    """A Redis of the test's own (port, data directory) that the test stops and starts, keeping
    its data as docs/operations.md says production Redis must (append-only file)."""
    binary = shutil.which("redis-server")
    if binary is None:
        if in_ci():
            pytest.fail("redis-server is not installed")
        pytest.skip("redis-server is not installed")
    port = _free_port()
    args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(tmp_path), "--appendonly", "yes",
            "--appendfsync", "always", "--save", "", "--daemonize", "no"]
    state: dict = {}

    async def start() -> None:
        state["proc"] = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                return
            except OSError:
                await asyncio.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    async def stop() -> None:
        proc = state.pop("proc")
        proc.terminate()  # SIGTERM: Redis writes what it holds and exits
        proc.wait(10)

    yield f"redis://127.0.0.1:{port}/0", start, stop
    if "proc" in state:
        state["proc"].kill()
        state["proc"].wait(10)


async def test_while_redis_is_down_pages_say_busy_with_503_and_nobody_is_signed_out(xs_settings, make_account,
                                                                                   redis_server):
    from litestar.testing import AsyncTestClient

    from core.app import create_app

    url, start, stop = redis_server
    await start()
    platform = await deployed_platform(dataclasses.replace(xs_settings, redis_url=url))
    app = create_app(platform=platform)
    account, password = await make_account("survey")
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as http:
        client = XsClient(http)
        assert (await client.signin("survey", "mobile", password, mobile=account.mobile)).status_code == 303
        assert (await client.get("/t/survey/me")).status_code == 200
        cookie = platform.sessions.cookie_name("survey")
        sid = http.cookies.get(cookie)

        await stop()
        for path in ("/t/survey/me", "/t/survey/news"):  # a session read, with and without a sign-in guard
            r = await client.get(path)
            _chinese_page(r, 503, "系统繁忙")
            assert r.headers["retry-after"] == str(RETRY_AFTER_SECONDS)
            assert "set-cookie" not in r.headers  # the session cookie is kept
        r = await client.post("/t/survey/signout", {})
        _chinese_page(r, 503, "系统繁忙")
        client.http.cookies.delete(cookie)
        r = await client.signin("survey", "mobile", password, mobile=account.mobile)  # lockout counters
        _chinese_page(r, 503, "系统繁忙")
        http.cookies.set(cookie, sid)
        r = await client.get("/t/survey/me", headers={"Accept": "application/json"})
        assert r.status_code == 503 and r.json()["detail"].startswith("系统繁忙")
        assert r.headers["retry-after"] == str(RETRY_AFTER_SECONDS)
        # A heartbeat (the player asks for JSON and keeps a beat answered 5xx, to send it again),
        # on PostgreSQL + Redis through live study's fast path in front of the app (a tenant with
        # courses: the survey association has none; the session cookie makes the app read the store).
        http.cookies.set(platform.sessions.cookie_name("construction"), sid)
        r = await http.post("/t/construction/study/beat", data={"token": "t" * 32, "position": "1"},
                            headers={"x-csrftoken": await client._csrf(), "Accept": "application/json"})
        assert r.status_code == 503 and r.json()["detail"].startswith("系统繁忙")
        assert r.headers["retry-after"] == str(RETRY_AFTER_SECONDS)

        await start()  # the same data directory: the append-only file brings the sessions back
        r = await client.get("/t/survey/me")
        if r.status_code == 503:  # (a pooled connection from before the restart fails once)
            r = await client.get("/t/survey/me")
        assert r.status_code == 200 and account.real_name in r.text
        assert http.cookies.get(cookie) == sid
