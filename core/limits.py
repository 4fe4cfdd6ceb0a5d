"""Counting attempts in the app's store (file by default, Redis when configured).

Used for sign-in lockout, SMS code limits and per-address rate limits. Keys are hashed so that
no phone or ID number is written to the store in clear text.
"""

from __future__ import annotations

import hashlib
import time

from litestar.stores.base import Store


def _key(*parts: str) -> str:
    return "limit:" + hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:40]


class Counter:
    """A fixed-window counter: ``window`` seconds from the first hit."""

    def __init__(self, store: Store, name: str, limit: int, window: int) -> None:
        self.store, self.name, self.limit, self.window = store, name, limit, window

    async def _read(self, key: str) -> tuple[int, float]:
        raw = await self.store.get(key)
        if not raw:
            return 0, 0.0
        count, started = raw.decode().split(":")
        return int(count), float(started)

    async def count(self, *parts: str) -> int:
        count, started = await self._read(_key(self.name, *parts))
        return count if started and time.time() - started < self.window else 0

    async def exceeded(self, *parts: str) -> bool:
        return await self.count(*parts) >= self.limit

    async def hit(self, *parts: str) -> int:
        key = _key(self.name, *parts)
        count, started = await self._read(key)
        now = time.time()
        if not started or now - started >= self.window:
            count, started = 0, now
        count += 1
        remaining = max(1, int(self.window - (now - started)) + 1)
        await self.store.set(key, f"{count}:{started}".encode(), expires_in=remaining)
        return count

    async def reset(self, *parts: str) -> None:
        await self.store.delete(_key(self.name, *parts))

    async def retry_after(self, *parts: str) -> int:
        count, started = await self._read(_key(self.name, *parts))
        return max(0, int(self.window - (time.time() - started))) if started else 0
