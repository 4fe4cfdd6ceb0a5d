"""Live face challenges in the shared store, so any server process can take the next frame.

A challenge's state (the liveness session: judge, recent frames, identity check) is pickled into
the platform's store (Redis when configured, else the file store) under its nonce, with a time to
live, after every step; each step holds the challenge's lock (``core.locks``) so frames of one
challenge are judged one at a time whichever process receives them. Face provider objects are not
pickled: they are written as their names and re-attached from the process's own providers.
The pickle is signed with the platform's secret key (HMAC-SHA256) and refused when the signature
does not match, so nothing but this code's own output is ever unpickled.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import io
import pickle
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from core.faces import FaceProvider

TTL_SECONDS = 120  # a challenge takes well under a minute; then it is dropped
FUTURE_SLACK_MS = 1500  # a frame may not claim more elapsed time than the server has seen
STALE_MS = 15_000  # ... nor arrive later than this after it was taken


class ChallengeTimeError(ValueError):
    pass


@dataclass
class LiveCheck:
    """One learner's challenge in progress. ``started`` is wall-clock time (processes share it)."""

    session: Any  # core.faces.LivenessSession
    verification_id: int
    tenant_id: int
    account_id: int
    started: float
    last_t: int = -1

    def elapsed_ms(self) -> int:
        return int((time.time() - self.started) * 1000)

    def check_time(self, t_ms: int) -> None:
        """Timestamps are the page's clock since it received the challenge: plausible ones only."""
        now = self.elapsed_ms()
        if t_ms < 0 or t_ms > now + FUTURE_SLACK_MS or t_ms < now - STALE_MS:
            raise ChallengeTimeError(f"implausible timestamp {t_ms} ms at {now} ms")


class _Pickler(pickle.Pickler):
    def __init__(self, buf: io.BytesIO, providers: list[FaceProvider]) -> None:
        super().__init__(buf, protocol=pickle.HIGHEST_PROTOCOL)
        self.names = {id(p): p.name for p in providers}

    def persistent_id(self, obj: Any) -> str | None:
        name = self.names.get(id(obj))
        return None if name is None else f"face-provider:{name}"


class _Unpickler(pickle.Unpickler):
    def __init__(self, data: bytes, providers: dict[str, FaceProvider]) -> None:
        super().__init__(io.BytesIO(data))
        self.providers = providers

    def persistent_load(self, pid: Any) -> Any:
        kind, _, name = str(pid).partition(":")
        if kind != "face-provider" or name not in self.providers:
            raise pickle.UnpicklingError(f"unknown face provider {name!r}")
        return self.providers[name]


class LiveChecks:
    """Live challenges of a platform, by nonce, in its store; one open challenge per account."""

    def __init__(self, platform: Any, ttl: int = TTL_SECONDS) -> None:
        self.platform = platform
        self.store = platform.store
        self.ttl = ttl
        self._key = hashlib.sha256(f"face-live:{platform.settings.secret_key}".encode()).digest()

    def _sign(self, data: bytes) -> bytes:
        return hmac.new(self._key, data, hashlib.sha256).digest() + data

    def _verify(self, blob: bytes) -> bytes | None:
        mac, data = blob[:32], blob[32:]
        return data if hmac.compare_digest(mac, hmac.new(self._key, data, hashlib.sha256).digest()) else None

    @staticmethod
    def _account_key(tenant_id: int, account_id: int) -> str:
        return f"face-live-account:{tenant_id}:{account_id}"

    @staticmethod
    def _frame_key(nonce: str, t_ms: int) -> str:
        return f"face-live:{nonce}:frame:{t_ms}"

    async def save(self, check: LiveCheck) -> None:
        """The check's state, without pictures: each frame the session keeps is written once,
        under its own key, and read back only by ``attach`` before the verdict."""
        nonce = check.session.nonce
        for t_ms, jpeg in check.session.spill():
            await self.store.set(self._frame_key(nonce, t_ms), self._sign(jpeg), expires_in=self.ttl)
        check.session.drop_jpegs()
        buf = io.BytesIO()
        _Pickler(buf, await self.platform.face_providers()).dump(check)
        await self.store.set(f"face-live:{check.session.nonce}", self._sign(buf.getvalue()), expires_in=self.ttl)
        await self.store.set(self._account_key(check.tenant_id, check.account_id), check.session.nonce.encode(),
                             expires_in=self.ttl)

    async def get(self, nonce: str, tenant_id: int, account_id: int) -> LiveCheck | None:
        """The caller's own live check (None for an unknown, expired, tampered, or another account's
        or tenant's nonce)."""
        if not nonce or len(nonce) > 100:
            return None
        blob = await self.store.get(f"face-live:{nonce}")
        data = self._verify(blob) if blob else None
        if data is None:
            return None
        providers = {p.name: p for p in await self.platform.face_providers()}
        check = _Unpickler(data, providers).load()
        if check.tenant_id != tenant_id or check.account_id != account_id:
            return None
        return check

    async def attach(self, check: LiveCheck) -> None:
        """Hand the session back the kept frames its verdict reads (a tampered one is left out)."""
        wanted = check.session.wanted()
        blobs = await asyncio.gather(*(self.store.get(self._frame_key(check.session.nonce, t)) for t in wanted))
        check.session.attach({t: data for t, blob in zip(wanted, blobs, strict=True)
                              if blob and (data := self._verify(blob)) is not None})

    async def pop(self, nonce: str) -> None:
        await self.store.delete(f"face-live:{nonce}")

    async def drop_account(self, tenant_id: int, account_id: int) -> None:
        key = self._account_key(tenant_id, account_id)
        nonce = await self.store.get(key)
        if nonce:
            await self.pop(nonce.decode())
        await self.store.delete(key)

    @asynccontextmanager
    async def locked(self, nonce: str) -> AsyncIterator[None]:
        async with self.platform.locks.hold(f"face-live:{nonce}", timeout=30):
            yield
