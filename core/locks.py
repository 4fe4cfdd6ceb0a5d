"""Named locks shared by the processes of a platform.

With Redis configured a lock is a Redis lock (``SET NX PX`` with a token; released only by its
holder, expiring after ``timeout`` seconds if the holder dies), so two server processes never run
the same critical section at once. Without Redis there is one process (the embedded demo and
tests), and a ``threading.Lock`` per name does the same within it. Not an ``asyncio.Lock``: that
binds to the first event loop that waits on it, and one process may run several loops (the test
client's and the app's cron jobs), so a second loop's wait raised RuntimeError. A waiter polls
(``POLL_SECONDS``) instead of blocking its loop; a name's lock is dropped once nobody holds or
waits for it (names carry ids and nonces).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any


POLL_SECONDS = 0.005


class LockTimeout(RuntimeError):
    """The lock could not be taken within the wait."""


class Locks:
    def __init__(self, store: Any) -> None:
        self._redis = getattr(store, "_redis", None)
        self._namespace = getattr(store, "namespace", None) or "xueshi"
        self._local: dict[str, tuple[threading.Lock, int]] = {}  # name → (lock, holders and waiters)
        self._guard = threading.Lock()

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
        lock = self._enter(name)
        try:
            deadline = time.monotonic() + wait
            while not lock.acquire(blocking=False):
                if time.monotonic() >= deadline:
                    raise LockTimeout(name)
                await asyncio.sleep(POLL_SECONDS)
            try:
                yield
            finally:
                lock.release()
        finally:
            self._leave(name)

    def _enter(self, name: str) -> threading.Lock:
        with self._guard:
            lock, users = self._local.get(name) or (threading.Lock(), 0)
            self._local[name] = (lock, users + 1)
            return lock

    def _leave(self, name: str) -> None:
        with self._guard:
            lock, users = self._local[name]
            if users > 1:
                self._local[name] = (lock, users - 1)
            else:
                del self._local[name]
