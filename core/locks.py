"""Named locks shared by the processes of a platform.

With Redis configured a lock is a Redis lock (``SET NX PX`` with a token; released only by its
holder, expiring after ``timeout`` seconds if the holder dies), so two server processes never run
the same critical section at once. Without Redis there is one process (the embedded demo and
tests), and an ``asyncio.Lock`` per name does the same within it.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any


class LockTimeout(RuntimeError):
    """The lock could not be taken within the wait."""


class Locks:
    def __init__(self, store: Any) -> None:
        self._redis = getattr(store, "_redis", None)
        self._namespace = getattr(store, "namespace", None) or "xueshi"
        self._local: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    @asynccontextmanager
    async def hold(self, name: str, *, timeout: float = 30, wait: float = 10) -> AsyncIterator[None]:
        """Hold lock ``name`` for at most ``timeout`` seconds; wait at most ``wait`` for it."""
        if self._redis is not None:
            lock = self._redis.lock(f"{self._namespace}:lock:{name}", timeout=timeout, blocking_timeout=wait)
            if not await lock.acquire():
                raise LockTimeout(name)
            try:
                yield
            finally:
                try:
                    await lock.release()
                except Exception:  # expired meanwhile: another holder may have it now; nothing to undo
                    pass
            return
        lock = self._local.get(name)
        if lock is None:
            lock = self._local[name] = asyncio.Lock()
        try:
            await asyncio.wait_for(lock.acquire(), wait)
        except TimeoutError:
            raise LockTimeout(name) from None
        try:
            yield
        finally:
            lock.release()
