"""Server-side sessions: an opaque cookie per tenant, state in the app's store.

Idle timeout: the store entry expires ``idle`` seconds after the last request. Absolute timeout:
a session older than ``absolute`` seconds is refused whatever its activity. Sign-in always
starts a new session id (no fixation). Changing or resetting a password ends every session of the
account that started before (``end_all``): a per-account epoch in the store that ``load`` checks,
so no index of an account's sessions is needed and it works the same on every store.

The signed-in account's row is kept per process (``account``), under the account's stamp in the
store, which ``load`` reads with the session: every change of an account row through Piccolo
bumps it (``core.accounts.tables`` reports it, ``accounts_changed``), so the next request of any
process loads the row again, and a disabled account is refused on its next request. A row is
kept at most ``ACCOUNT_KEEP_SECONDS`` (a change made outside the platform, by hand in SQL, shows
by then).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import secrets
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from litestar.stores.base import Store
from litestar.stores.redis import RedisStore

from core.accounts.tables import WATCHERS, Account
from core.db.scoped import scoped

ACCOUNT_KEEP_SECONDS = 300
ACCOUNTS_KEPT = 10_000

# On Redis a session is read in one round trip: the session (its idle timeout renewed, as
# ``RedisStore.get(renew_for=…)`` does), its account's epoch and stamp, whose keys the script
# finds in the session itself (so not among KEYS: a single Redis, as the platform runs).
LOAD_SCRIPT = b"""
local data = redis.call('GET', KEYS[1])
if not data then return {} end
if redis.call('TTL', KEYS[1]) > 0 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
local ok, session = pcall(cjson.decode, data)
local epoch, stamp = false, false
if ok and type(session) == 'table' and type(session['account_id']) == 'number' then
  local id = string.format('%d', session['account_id'])
  epoch = redis.call('GET', ARGV[2] .. id)
  stamp = redis.call('GET', ARGV[3] .. id)
end
return {data, epoch or '', stamp or ''}
"""


@dataclass
class SessionData:
    sid: str
    account_id: int
    tenant: str
    created: float
    expired: bool = False
    csrf: str | None = None  # sha256 of the CSRF cookie the session was started with
    stamp: bytes = b""  # the account's stamp when the session was read (see Sessions.account)

    def csrf_matches(self, cookie: str | None) -> bool:
        """The CSRF cookie is the one this session was started with (a session started without
        one binds to nothing)."""
        if self.csrf is None:
            return True
        return cookie is not None and hmac.compare_digest(self.csrf, csrf_digest(cookie))


def csrf_digest(value: str) -> str:
    """What a session keeps of the CSRF cookie it was started with."""
    return hashlib.sha256(value.encode()).hexdigest()


def _copy(account: Account) -> Account:
    """A copy of the row object (its column values: immutable), so that a handler setting an
    attribute changes no other request's account. (``copy.copy`` goes through ``__reduce_ex__``:
    several times slower.)"""
    clone = object.__new__(Account)
    clone.__dict__.update(account.__dict__)
    return clone


class Sessions:
    def __init__(self, store: Store, *, idle: int, absolute: int) -> None:
        self.store, self.idle, self.absolute = store, idle, absolute
        self._load_script = store._redis.register_script(LOAD_SCRIPT) if isinstance(store, RedisStore) else None
        self._accounts: OrderedDict[int, tuple[bytes, float, Account]] = OrderedDict()
        self.loop: asyncio.AbstractEventLoop | None = None  # set by ``watch``

    @staticmethod
    def cookie_name(tenant: str) -> str:
        return f"xs_{tenant}"

    async def create(self, account_id: int, tenant: str, csrf_cookie: str | None = None) -> str:
        """A new session; ``csrf_cookie`` (the request's CSRF cookie) binds the session to it, so
        a CSRF cookie planted later (by a sibling host, say) does not pass with this session."""
        sid = secrets.token_urlsafe(32)
        data = {"account_id": account_id, "tenant": tenant, "created": time.time(),
                "csrf": csrf_digest(csrf_cookie) if csrf_cookie else None}
        await self.store.set(f"session:{sid}", json.dumps(data).encode(), expires_in=self.idle)
        return sid

    async def load(self, sid: str | None, tenant: str) -> SessionData | None:
        """The live session, a marker with ``expired=True`` for a timed-out one, or None."""
        if not sid or len(sid) > 100:
            return None
        raw, epoch, stamp = await self._read(sid)
        if raw is None:
            return SessionData(sid, 0, tenant, 0, expired=True)
        data = json.loads(raw)
        if data["tenant"] != tenant:
            return None
        if epoch is not None and data["created"] < float(epoch):
            await self.destroy(sid)
            return SessionData(sid, 0, tenant, 0, expired=True)
        if time.time() - data["created"] > self.absolute:
            await self.destroy(sid)
            return SessionData(sid, 0, tenant, 0, expired=True)
        return SessionData(sid, data["account_id"], tenant, data["created"], csrf=data.get("csrf"), stamp=stamp or b"")

    async def _read(self, sid: str) -> tuple[bytes | None, bytes | None, bytes | None]:
        """The session's stored value (its idle timeout renewed), its account's epoch and stamp."""
        if self._load_script is not None:
            found = await self._load_script(keys=[self.store._make_key(f"session:{sid}")],
                                            args=[self.idle, self.store._make_key("session-epoch:"),
                                                  self.store._make_key("account-stamp:")])
            return (found[0], found[1] or None, found[2] or None) if found else (None, None, None)
        raw = await self.store.get(f"session:{sid}", renew_for=self.idle)
        if raw is None:
            return None, None, None
        account_id = json.loads(raw)["account_id"]
        return (raw, await self.store.get(f"session-epoch:{account_id}"),
                await self.store.get(f"account-stamp:{account_id}"))

    async def account(self, session: SessionData, tenant: Any) -> Account | None:
        """The session's account (of ``tenant``), from this process's copy while the account's
        stamp is the one read with the session, else from the database. Each caller gets its own
        copy of the row object."""
        return await self.kept(session, tenant.id, lambda: scoped(Account, tenant).get(session.account_id))

    async def kept(self, session: SessionData, tenant_id: int | None,
                   load: Callable[[], Awaitable[Account | None]]) -> Account | None:
        """``account`` for a caller that reads the row itself with ``load`` (the platform
        operator's pages: accounts of no tenant, ``tenant_id`` None)."""
        now = time.monotonic()
        kept = self._accounts.get(session.account_id)
        if kept is not None and kept[0] == session.stamp and now - kept[1] < ACCOUNT_KEEP_SECONDS \
                and kept[2].tenant == tenant_id:
            self._accounts.move_to_end(session.account_id)
            return _copy(kept[2])
        account = await load()
        if account is None:
            self._accounts.pop(session.account_id, None)
            return None
        self._accounts[session.account_id] = (session.stamp, now, account)
        self._accounts.move_to_end(session.account_id)
        while len(self._accounts) > ACCOUNTS_KEPT:
            self._accounts.popitem(last=False)
        return _copy(account)

    def watch(self) -> None:
        """Be told of account rows changed in this process (``core.accounts.tables.WATCHERS``),
        from the running event loop (its store's client belongs to it)."""
        self.loop = asyncio.get_running_loop()
        WATCHERS.add(self)

    def forget(self, ids: list[int]) -> None:
        """Drop this process's copies of the rows of ``ids``."""
        for account_id in ids:
            self._accounts.pop(account_id, None)

    async def accounts_changed(self, ids: list[int]) -> None:
        """Rows of ``ids`` changed: a new stamp for each, so every process loads them again."""
        stamp = secrets.token_hex(8).encode()
        self.forget(ids)
        for account_id in ids:
            await self.store.set(f"account-stamp:{account_id}", stamp,
                                 expires_in=max(self.absolute, ACCOUNT_KEEP_SECONDS) + 60)

    async def end_all(self, account_id: int) -> None:
        """End every session of ``account_id`` started until now (a session created afterwards,
        such as the one a password change starts, stays valid)."""
        # Older sessions cannot outlive the absolute timeout, so neither need the epoch.
        await self.store.set(f"session-epoch:{account_id}", repr(time.time()).encode(),
                             expires_in=self.absolute + 60)

    async def destroy(self, sid: str) -> None:
        await self.store.delete(f"session:{sid}")
