"""Counting attempts in the app's store (file by default, Redis when configured).

Used for sign-in lockout, SMS code limits and per-address rate limits. Keys are hashed so that
no phone or ID number is written to the store in clear text.

Every count is an atomic increment that returns the new value; callers decide on that value
(hit, then check), never on a value read before the increment: under concurrency a separate
read and write would let every simultaneous request see the same old count. On Redis the
increment and its expiry are one Lua script; with any other store (the file store of the
single-process embedded mode) an asyncio lock per key makes the read-modify-write atomic within
the process.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
import weakref

from litestar.stores.base import Store
from litestar.stores.redis import RedisStore

# INCR, and start the window's expiry when the key is new (or has lost its expiry).
_HIT = """
local n = redis.call('INCR', KEYS[1])
if redis.call('TTL', KEYS[1]) < 0 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return n
"""
# Give one hit back (an attempt that turned out not to count); never below zero.
_RELEASE = """
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
if n > 0 then return redis.call('DECR', KEYS[1]) end
return 0
"""


def _key(*parts: str) -> str:
    return "limit:" + hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:40]


class Counter:
    """A fixed-window counter: ``window`` seconds from the first hit; ``limit`` hits allowed."""

    def __init__(self, store: Store, name: str, limit: int, window: int) -> None:
        self.store, self.name, self.limit, self.window = store, name, limit, window
        self._redis = store if isinstance(store, RedisStore) else None
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
        if self._redis is not None:
            self._hit_script = self._redis._redis.register_script(_HIT)
            self._release_script = self._redis._redis.register_script(_RELEASE)

    # -- the file/memory store: "count:started" under a per-key lock -------------------------

    def _lock(self, key: str) -> asyncio.Lock:
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = asyncio.Lock()
        return lock

    async def _read(self, key: str) -> tuple[int, float]:
        raw = await self.store.get(key)
        if not raw:
            return 0, 0.0
        count, started = raw.decode().split(":")
        count_, started_ = int(count), float(started)
        if time.time() - started_ >= self.window:
            return 0, 0.0
        return count_, started_

    async def _write(self, key: str, count: int, started: float) -> None:
        remaining = max(1, int(self.window - (time.time() - started)) + 1)
        await self.store.set(key, f"{count}:{started}".encode(), expires_in=remaining)

    # -- the API -------------------------------------------------------------------------------

    async def hit(self, *parts: str) -> int:
        """Count one attempt; returns the count including it (compare it with ``limit``)."""
        key = _key(self.name, *parts)
        if self._redis is not None:
            return int(await self._hit_script(keys=[self._redis._make_key(key)], args=[self.window]))
        async with self._lock(key):
            count, started = await self._read(key)
            await self._write(key, count + 1, started or time.time())
            return count + 1

    async def allow(self, *parts: str) -> bool:
        """Count one attempt; whether it is within the limit."""
        return await self.hit(*parts) <= self.limit

    async def release(self, *parts: str) -> None:
        """Give back one hit (an attempt that, once known, should not have counted)."""
        key = _key(self.name, *parts)
        if self._redis is not None:
            await self._release_script(keys=[self._redis._make_key(key)], args=[])
            return
        async with self._lock(key):
            count, started = await self._read(key)
            if count > 0:
                await self._write(key, count - 1, started)

    async def count(self, *parts: str) -> int:
        """The current count (for display; decide on what ``hit`` returns)."""
        key = _key(self.name, *parts)
        if self._redis is not None:
            raw = await self.store.get(key)
            return int(raw) if raw else 0
        return (await self._read(key))[0]

    async def reset(self, *parts: str) -> None:
        await self.store.delete(_key(self.name, *parts))

    async def retry_after(self, *parts: str) -> int:
        """Seconds until the window ends (0 when nothing is counted)."""
        key = _key(self.name, *parts)
        if self._redis is not None:
            return max(0, await self.store.expires_in(key) or 0)
        count, started = await self._read(key)
        return max(0, int(self.window - (time.time() - started))) if started else 0
