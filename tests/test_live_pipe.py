"""The pipelined Redis connection live study's scripts go through (core.study.live_pipe)."""

from __future__ import annotations

import asyncio
import os
import secrets

import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

from core.study.live_pipe import Pipe

REDIS_URL = os.environ.get("REDIS_URL", "")
ON_PG = os.environ.get("XUESHI_TEST_DATABASE_URL", "").startswith("postgres")
# Skipped without Redis, as in CI's SQLite run; CI's PostgreSQL run has Redis, and without it
# these fail there rather than skip.
pytestmark = pytest.mark.skipif(not REDIS_URL and not (os.environ.get("CI") and ON_PG), reason="REDIS_URL not set")

SCRIPT = b"return redis.call('INCRBY', KEYS[1], ARGV[1])"


@pytest.fixture
async def pipe():
    p = Pipe(REDIS_URL)
    yield p
    p.close()


@pytest.fixture
async def redis():
    r = Redis.from_url(REDIS_URL)
    yield r
    await r.aclose()


async def test_simultaneous_calls_go_out_in_one_write_and_each_gets_its_own_reply(pipe):
    key = f"xs-test-pipe:{secrets.token_hex(4)}"
    conn = await pipe.connection()
    writes = []
    write = conn.transport.write
    conn.transport.write = lambda data: (writes.append(data), write(data))
    try:
        replies = await asyncio.gather(*[pipe.call("INCRBY", key, i) for i in range(1, 301)])
    finally:
        conn.transport.write = write
        await pipe.call("DEL", key)
    assert replies == [i * (i + 1) // 2 for i in range(1, 301)]  # in order, each its own
    assert len(writes) == 1


async def test_an_error_reply_fails_its_call_only(pipe):
    key = f"xs-test-pipe:{secrets.token_hex(4)}"
    await pipe.call("SET", key, "text")
    try:
        results = await asyncio.gather(pipe.call("GET", key), pipe.call("INCR", key), pipe.call("GET", key),
                                       return_exceptions=True)
        assert results[0] == b"text" and results[2] == b"text"
        assert isinstance(results[1], ResponseError) and "not an integer" in str(results[1])
        with pytest.raises(ResponseError):  # a batch raises once all its replies are in
            await pipe.calls([("INCR", key), ("SET", key, "after")])
        assert await pipe.call("GET", key) == b"after"
    finally:
        await pipe.call("DEL", key)


async def test_a_script_redis_lost_is_loaded_again(pipe, redis):
    import hashlib

    key = f"xs-test-pipe:{secrets.token_hex(4)}"
    sha = hashlib.sha1(SCRIPT).hexdigest()
    try:
        assert await pipe.evalsha(sha, SCRIPT, [key], [2]) == 2
        await redis.script_flush()
        assert await pipe.evalsha(sha, SCRIPT, [key], [3]) == 5  # ran once, after loading
    finally:
        await redis.delete(key)


async def test_a_lost_connection_fails_the_waiting_calls_and_the_next_call_connects_again(pipe, redis):
    key = f"xs-test-pipe:{secrets.token_hex(4)}"
    client_id = await pipe.call("CLIENT", "ID")
    waiting = asyncio.ensure_future(pipe.call("BLPOP", key, 10))
    await asyncio.sleep(0.1)
    assert await redis.client_kill_filter(_id=client_id) == 1
    with pytest.raises(RedisConnectionError):
        await asyncio.wait_for(waiting, 5)
    assert await pipe.call("CLIENT", "ID") != client_id
    assert await pipe.call("PING") == b"PONG"


async def test_the_urls_database_is_selected_and_a_refused_login_is_an_error(redis):
    from redis.connection import parse_url

    key = f"xs-test-pipe:{secrets.token_hex(4)}"
    o = parse_url(REDIS_URL)
    db = (o.get("db", 0) + 5) % 16
    base = f"redis://{o.get('host', 'localhost')}:{o.get('port', 6379)}"
    other, there = Pipe(f"{base}/{db}"), Redis.from_url(f"{base}/{db}")
    try:
        await other.call("SET", key, "there")
        assert await there.get(key) == b"there"
        assert await redis.get(key) is None
    finally:
        await there.delete(key)
        await there.aclose()
        other.close()
    wrong = Pipe(f"redis://:not-the-password@{base.removeprefix('redis://')}/0")
    with pytest.raises(RedisConnectionError, match="AUTH|password|WRONGPASS"):
        await wrong.call("PING")
    wrong.close()


async def test_a_peer_that_is_not_redis_fails_the_call_instead_of_hanging():
    async def garbage(reader, writer):
        await reader.read(100)
        writer.write(b"HTTP/1.1 400 Bad Request\r\n\r\n")
        await writer.drain()
        await asyncio.sleep(5)
        writer.close()

    server = await asyncio.start_server(garbage, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    p = Pipe(f"redis://127.0.0.1:{port}/0")
    try:
        with pytest.raises(RedisConnectionError):
            await asyncio.wait_for(p.call("PING"), 5)
    finally:
        p.close()
        server.close()
