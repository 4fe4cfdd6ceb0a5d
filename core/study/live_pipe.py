"""One pipelined Redis connection per event loop, for live study's scripts (``core.study.live``).

Every heartbeat of the fast path is one ``EVALSHA``. Through redis-py's pool each call takes a
connection, checks it, writes, and waits on that connection alone; a third of a server process
went there. Here the calls a process makes in one turn of its event loop are written to one
connection in one write, and their replies, which Redis sends in the same order, are read with
hiredis (the C parser redis-py uses) and handed back in order. Redis reads the whole batch at once
as well.

A lost connection fails the calls waiting on it with ``ConnectionError`` (as redis-py's would);
the next call connects again.
"""

from __future__ import annotations

import asyncio
import collections
import ssl
from typing import Any

import hiredis
from redis.connection import SSLConnection, parse_url
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, ResponseError


class _Connection(asyncio.Protocol):
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.reader = hiredis.Reader()
        self.waiting: collections.deque[asyncio.Future] = collections.deque()
        self.outgoing: list[bytes] = []
        self.transport: asyncio.Transport | None = None
        self.closed = False

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def send(self, packed: bytes) -> asyncio.Future:
        if self.closed:
            raise RedisConnectionError("the Redis connection was lost")
        future = self.loop.create_future()
        if not self.outgoing:
            self.loop.call_soon(self._write)
        self.outgoing.append(packed)
        self.waiting.append(future)
        return future

    def _write(self) -> None:
        if not self.closed and self.outgoing:
            self.transport.write(b"".join(self.outgoing))
        self.outgoing.clear()

    def data_received(self, data: bytes) -> None:
        self.reader.feed(data)
        try:
            while (reply := self.reader.gets()) is not False:
                future = self.waiting.popleft()
                if not future.done():
                    future.set_result(reply)
        except hiredis.ProtocolError as e:  # not Redis talking: drop the connection
            self.transport.close()
            self.connection_lost(e)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        while self.waiting:
            future = self.waiting.popleft()
            if not future.done():
                future.set_exception(RedisConnectionError(f"the Redis connection was lost: {exc}"))


def _checked(reply: Any) -> Any:
    if isinstance(reply, hiredis.ReplyError):
        message = str(reply)
        raise NoScriptError(message) if message.startswith("NOSCRIPT") else ResponseError(message)
    return reply


class Pipe:
    """Pipelined calls over one connection (made on first use, again after a loss)."""

    def __init__(self, url: str) -> None:
        self.options = parse_url(url)
        self._connection: _Connection | None = None
        self._connecting: asyncio.Lock | None = None

    async def _connect(self) -> _Connection:
        loop = asyncio.get_running_loop()
        o = self.options
        if "path" in o:
            _, conn = await loop.create_unix_connection(lambda: _Connection(loop), o["path"])
        else:
            tls = ssl.create_default_context() if o.get("connection_class") is SSLConnection else None
            _, conn = await loop.create_connection(lambda: _Connection(loop), o.get("host", "localhost"),
                                                   o.get("port", 6379), ssl=tls)
        setup = []
        if o.get("password") is not None:
            setup.append(("AUTH", o["username"], o["password"]) if o.get("username") else ("AUTH", o["password"]))
        if o.get("db"):
            setup.append(("SELECT", o["db"]))
        for command in setup:
            reply = await conn.send(hiredis.pack_command(command))
            if isinstance(reply, hiredis.ReplyError):
                conn.transport.close()
                raise RedisConnectionError(str(reply))
        return conn

    async def connection(self) -> _Connection:
        conn = self._connection
        if conn is None or conn.closed:
            if self._connecting is None:
                self._connecting = asyncio.Lock()
            async with self._connecting:
                if self._connection is None or self._connection.closed:
                    self._connection = await self._connect()
            conn = self._connection
        return conn

    async def calls(self, commands: list[tuple]) -> list[Any]:
        """Send commands in one batch; their replies, in order (a Redis error raised once all are in)."""
        conn = await self.connection()
        return [_checked(r) for r in await asyncio.gather(*[conn.send(hiredis.pack_command(c)) for c in commands])]

    async def call(self, *args: Any) -> Any:
        conn = await self.connection()
        return _checked(await conn.send(hiredis.pack_command(args)))

    async def evalsha(self, sha: str, script: bytes, keys: list, args: list) -> Any:
        """Run a script by its hash, loading it first if Redis does not have it (yet, or any more:
        a script that was not found did not run, so running it again is safe)."""
        try:
            return await self.call("EVALSHA", sha, len(keys), *keys, *args)
        except NoScriptError:
            await self.call("SCRIPT", "LOAD", script)
            return await self.call("EVALSHA", sha, len(keys), *keys, *args)

    def close(self) -> None:
        if self._connection is not None and self._connection.transport is not None:
            self._connection.transport.close()
        self._connection = None
