"""A live face challenge through the shared store, without a server: what each frame reads from
and writes to the store (core.proctoring.live), counted in bytes.

``StoreRun(providers)`` holds an in-memory store that counts its traffic and a stand-in for the
platform (store, secret key, face providers); ``await run.start(session)`` saves a new check,
``await run.frame(image, t_ms)`` takes one step as the web layer does (load, measure, judge,
save) and records its traffic, ``await run.finish()`` gives the verdict.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from litestar.stores.memory import MemoryStore

from core.proctoring import services
from core.proctoring.live import LiveCheck, LiveChecks


class CountingStore(MemoryStore):
    """A memory store that adds up the bytes read and written, by kind of key: ``frame`` (a kept
    frame's JPEG, written once), ``pose``, ``portrait``, ``state`` and ``account``."""

    def __init__(self) -> None:
        super().__init__()
        self.read: dict[str, int] = {}
        self.written: dict[str, int] = {}

    @staticmethod
    def kind(key: str) -> str:
        if key.startswith("face-live-account:"):
            return "account"
        parts = key.split(":")
        return parts[2] if len(parts) > 2 else "state"

    async def get(self, key: str, renew_for: Any = None) -> bytes | None:
        value = await super().get(key, renew_for)
        k = self.kind(key)
        self.read[k] = self.read.get(k, 0) + len(value or b"")
        return value

    async def set(self, key: str, value: str | bytes, expires_in: Any = None) -> None:
        k = self.kind(key)
        self.written[k] = self.written.get(k, 0) + len(value)
        await super().set(key, value, expires_in)

    def reset(self) -> None:
        self.read.clear()
        self.written.clear()


@dataclass
class FrameTraffic:
    """One frame's store traffic in bytes: the state read and written, everything else but the
    kept frame's JPEG (poses, the account's key), and that JPEG record."""

    state: int
    other: int
    frame: int

    @property
    def round_trip(self) -> int:
        return self.state + self.other


@dataclass
class StoreRun:
    providers: list[Any]
    store: CountingStore = field(default_factory=CountingStore)
    traffic: list[FrameTraffic] = field(default_factory=list)
    states: list[bytes] = field(default_factory=list)
    kinds: list[dict[str, int]] = field(default_factory=list)  # each frame's bytes by key kind
    keep_states: bool = True  # keep each saved state in ``states`` (off when timing)

    def __post_init__(self) -> None:
        async def face_providers() -> list[Any]:
            return self.providers

        platform = SimpleNamespace(store=self.store, settings=SimpleNamespace(secret_key="test-secret"),
                                   face_providers=face_providers)
        self.checks = LiveChecks(platform)

    async def start(self, session: Any) -> None:
        self.nonce = session.nonce
        await self.checks.save(LiveCheck(session, 1, 1, 1, started=time.time()))

    async def frame(self, image: Any, t_ms: int) -> Any:
        """One step as ``services.add_frame`` takes it (without the lock and the clock checks)."""
        return await self.step(image, t_ms)

    async def step(self, image: Any, t_ms: int, sig: Any = None) -> Any:
        """``frame``, or with the provider's signals given (``sig``; ``image`` is then the
        picture kept for the verdict)."""
        self.store.reset()
        check, state = await self.checks.get_with_state(self.nonce, 1, 1)
        check, guidance = await services.advance(self.checks, check, state, image, t_ms, sig)
        await self.checks.save(check)
        r, w = self.store.read, self.store.written
        self.kinds.append({**{f"read {k}": v for k, v in r.items()}, **{f"written {k}": v for k, v in w.items()}})
        self.traffic.append(FrameTraffic(
            r.get("state", 0) + w.get("state", 0),
            sum(v for k, v in (*r.items(), *w.items()) if k not in ("state", "frame")),
            w.get("frame", 0),
        ))
        if self.keep_states:
            self.states.append((await self.store.get(f"face-live:{self.nonce}")) or b"")
        return guidance

    async def finish(self) -> Any:
        """The verdict, as ``services.finish`` reaches it."""
        check = await self.checks.get(self.nonce, 1, 1)
        assert await self.checks.attach(check)
        return await services.verdict_of(self.checks, check)
