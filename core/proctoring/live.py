"""Live face challenges in the shared store, so any server process can take the next frame.

A challenge's state (the liveness session: the judge's counts, medians' inputs and current
window, which frames the verdict reads) is pickled into the platform's store (Redis when
configured, else the file store) under its nonce, with a time to live, after every step; each
step holds the challenge's lock (``core.locks``) so frames of one challenge are judged one at a
time whichever process receives them. Face provider objects are not pickled: they are written as
their names and re-attached from the process's own providers.

What the state does not need on every frame is written once under keys of its own and read back
only where it is used: each kept frame (JPEG, face box, yaw) for the verdict, each landmark pose
of a turn or nod's window when a parallax check asks for it (``PosesNeeded``: the step is taken
again from the saved state with the poses), the judge's history of eye openness and face aspect
in chunks of 8 frames when a median leaves the band kept around it (``HistoryNeeded``, likewise),
and the portrait's encoding for the verdict.

Classes of the state are written as their number in ``STATE_CLASSES`` and providers as their
name, not by module and class name, which would be a good part of the bytes of every frame.

Everything is signed with a key derived from the platform's secret key (HMAC-SHA256) and refused
when the signature does not match, so nothing but this code's own output is ever unpickled; the
key names the state's format, so a state written by an earlier format is refused like an expired
one.
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

from core.faces import Action, Challenge, IdentityCheck, LivenessJudge, LivenessRules, LivenessSession

if TYPE_CHECKING:
    from core.faces import FaceProvider

STATE_FORMAT = 3  # part of the signing key: states of another format do not verify
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
    portrait_apart: bool = False  # the identity's portrait encoding is under its own key

    def __getstate__(self) -> tuple:
        return (self.session, self.verification_id, self.tenant_id, self.account_id, self.started, self.last_t,
                self.portrait_apart)

    def __setstate__(self, state: tuple) -> None:
        (self.session, self.verification_id, self.tenant_id, self.account_id, self.started, self.last_t,
         self.portrait_apart) = state

    def elapsed_ms(self) -> int:
        return int((time.time() - self.started) * 1000)

    def check_time(self, t_ms: int) -> None:
        """Timestamps are the page's clock since it received the challenge: plausible ones only."""
        now = self.elapsed_ms()
        if t_ms < 0 or t_ms > now + FUTURE_SLACK_MS or t_ms < now - STALE_MS:
            raise ChallengeTimeError(f"implausible timestamp {t_ms} ms at {now} ms")


# the classes a saved check holds, by number (appending keeps the numbers of the others)
STATE_CLASSES: tuple[type, ...] = (LiveCheck, LivenessSession, LivenessJudge, Challenge, Action, IdentityCheck,
                                   LivenessRules)
_CLASS_NUMBERS = {id(c): i for i, c in enumerate(STATE_CLASSES)}


class _Pickler(pickle.Pickler):
    def __init__(self, buf: io.BytesIO, providers: list[FaceProvider]) -> None:
        super().__init__(buf, protocol=pickle.HIGHEST_PROTOCOL)
        self.names: dict[int, str | int] = {id(p): p.name for p in providers}
        self.names.update(_CLASS_NUMBERS)

    def persistent_id(self, obj: Any) -> str | int | None:
        return self.names.get(id(obj))


class _Unpickler(pickle.Unpickler):
    def __init__(self, data: bytes, providers: dict[str, FaceProvider]) -> None:
        super().__init__(io.BytesIO(data))
        self.providers = providers

    def persistent_load(self, pid: Any) -> Any:
        if isinstance(pid, int) and 0 <= pid < len(STATE_CLASSES):
            return STATE_CLASSES[pid]
        if not isinstance(pid, str) or pid not in self.providers:
            raise pickle.UnpicklingError(f"unknown face provider {pid!r}")
        return self.providers[pid]


class LiveChecks:
    """Live challenges of a platform, by nonce, in its store; one open challenge per account."""

    def __init__(self, platform: Any, ttl: int = TTL_SECONDS) -> None:
        self.platform = platform
        self.store = platform.store
        self.ttl = ttl
        self._providers: list[FaceProvider] = []
        secret = platform.settings.secret_key
        self._key = hashlib.sha256(f"face-live:{STATE_FORMAT}:{secret}".encode()).digest()

    def _sign(self, data: bytes) -> bytes:
        return hmac.new(self._key, data, hashlib.sha256).digest() + data

    def _verify(self, blob: bytes) -> bytes | None:
        mac, data = blob[:32], blob[32:]
        return data if hmac.compare_digest(mac, hmac.new(self._key, data, hashlib.sha256).digest()) else None

    @staticmethod
    def _account_key(tenant_id: int, account_id: int) -> str:
        return f"face-live-account:{tenant_id}:{account_id}"

    @staticmethod
    def _part_key(nonce: str, part: str, t_ms: int | None = None) -> str:
        return f"face-live:{nonce}:{part}" + ("" if t_ms is None else f":{t_ms}")

    async def _put(self, key: str, value: Any) -> None:
        await self.store.set(key, self._sign(pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)),
                             expires_in=self.ttl)

    async def _take(self, keys: list[str]) -> list[Any]:
        """The values under ``keys`` (None for a missing or tampered one)."""
        blobs = await asyncio.gather(*(self.store.get(k) for k in keys))
        return [pickle.loads(data) if blob and (data := self._verify(blob)) is not None else None for blob in blobs]

    async def save(self, check: LiveCheck) -> None:
        """The check's state, without pictures, landmarks or the portrait: each is written once,
        under its own key, and read back where it is used."""
        session = check.session
        nonce = session.nonce
        parts = [(self._part_key(nonce, "frame", t_ms), (jpeg, box, yaw)) for t_ms, jpeg, box, yaw in session.spill()]
        parts += [(self._part_key(nonce, "pose", t_ms), pose) for t_ms, pose in session.judge.spill_poses()]
        parts += [(self._part_key(nonce, "history", k), chunk) for k, chunk in session.judge.spill_history()]
        if session.identity is not None and session.identity.portrait is not None:
            parts.append((self._part_key(nonce, "portrait"), session.identity.portrait))
            session.identity.portrait = None
            check.portrait_apart = True
        session.drop_kept()
        self._providers = await self.platform.face_providers()
        await asyncio.gather(
            *(self._put(key, value) for key, value in parts),
            self.store.set(f"face-live:{nonce}", self._sign(self.dump(check)), expires_in=self.ttl),
            self.store.set(self._account_key(check.tenant_id, check.account_id), nonce.encode(), expires_in=self.ttl),
        )

    def dump(self, check: LiveCheck) -> bytes:
        buf = io.BytesIO()
        _Pickler(buf, self._providers).dump(check)
        return buf.getvalue()

    def load(self, data: bytes) -> LiveCheck:
        """A check from ``dump``'s bytes (verified ones: ``get_with_state``)."""
        return _Unpickler(data, {p.name: p for p in self._providers}).load()

    async def get(self, nonce: str, tenant_id: int, account_id: int) -> LiveCheck | None:
        """The caller's own live check (None for an unknown, expired, tampered, or another account's
        or tenant's nonce)."""
        found = await self.get_with_state(nonce, tenant_id, account_id)
        return None if found is None else found[0]

    async def get_with_state(self, nonce: str, tenant_id: int, account_id: int) -> tuple[LiveCheck, bytes] | None:
        """``get``, with the verified state it was loaded from (``load`` makes it again)."""
        if not nonce or len(nonce) > 100:
            return None
        blob = await self.store.get(f"face-live:{nonce}")
        data = self._verify(blob) if blob else None
        if data is None:
            return None
        self._providers = await self.platform.face_providers()
        check = self.load(data)
        if check.tenant_id != tenant_id or check.account_id != account_id:
            return None
        return check, data

    async def poses(self, nonce: str, times: list[int]) -> dict[int, Any]:
        """The landmark poses of these frames (None for a missing or tampered one: the parallax
        check it was asked for then fails)."""
        return dict(zip(times, await self._take([self._part_key(nonce, "pose", t) for t in times]), strict=True))

    async def history(self, nonce: str, chunks: int) -> list[bytes] | None:
        """The first chunks of the judge's history (None when one is missing or tampered)."""
        found = await self._take([self._part_key(nonce, "history", k) for k in range(chunks)])
        return None if any(c is None for c in found) else found

    async def attach(self, check: LiveCheck) -> bool:
        """Hand the session back the kept frames its verdict reads (a tampered one is left out)
        and the portrait. False when the portrait is gone: the identity cannot be checked."""
        session = check.session
        nonce = session.nonce
        wanted = session.wanted()
        frames = await self._take([self._part_key(nonce, "frame", t) for t in wanted])
        session.attach({t: f for t, f in zip(wanted, frames, strict=True) if f is not None})
        if check.portrait_apart:
            (portrait,) = await self._take([self._part_key(nonce, "portrait")])
            if portrait is None:
                return False
            session.identity.portrait = portrait
        return True

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
