"""Server-side sessions: an opaque cookie per tenant, state in the app's store.

Idle timeout: the store entry expires ``idle`` seconds after the last request. Absolute timeout:
a session older than ``absolute`` seconds is refused whatever its activity. Sign-in always
starts a new session id (no fixation). Changing or resetting a password ends every session of the
account that started before (``end_all``): a per-account epoch in the store that ``load`` checks,
so no index of an account's sessions is needed and it works the same on every store.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass

from litestar.stores.base import Store
from litestar.stores.redis import RedisStore

# On Redis a session is read in one round trip: the session (its idle timeout renewed, as
# ``RedisStore.get(renew_for=…)`` does) and its account's epoch, whose key the script finds in
# the session itself (so it is not among KEYS: a single Redis, as the platform runs, not a cluster).
LOAD_SCRIPT = b"""
local data = redis.call('GET', KEYS[1])
if not data then return {} end
if redis.call('TTL', KEYS[1]) > 0 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
local ok, session = pcall(cjson.decode, data)
local epoch = false
if ok and type(session) == 'table' and type(session['account_id']) == 'number' then
  epoch = redis.call('GET', ARGV[2] .. string.format('%d', session['account_id']))
end
return {data, epoch or ''}
"""


@dataclass
class SessionData:
    sid: str
    account_id: int
    tenant: str
    created: float
    expired: bool = False
    csrf: str | None = None  # sha256 of the CSRF cookie the session was started with

    def csrf_matches(self, cookie: str | None) -> bool:
        """The CSRF cookie is the one this session was started with (a session started without
        one binds to nothing)."""
        if self.csrf is None:
            return True
        return cookie is not None and hmac.compare_digest(self.csrf, csrf_digest(cookie))


def csrf_digest(value: str) -> str:
    """What a session keeps of the CSRF cookie it was started with."""
    return hashlib.sha256(value.encode()).hexdigest()


class Sessions:
    def __init__(self, store: Store, *, idle: int, absolute: int) -> None:
        self.store, self.idle, self.absolute = store, idle, absolute
        self._load_script = store._redis.register_script(LOAD_SCRIPT) if isinstance(store, RedisStore) else None

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
        raw, epoch = await self._read(sid)
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
        return SessionData(sid, data["account_id"], tenant, data["created"], csrf=data.get("csrf"))

    async def _read(self, sid: str) -> tuple[bytes | None, bytes | None]:
        """The session's stored value (its idle timeout renewed) and its account's epoch."""
        if self._load_script is not None:
            found = await self._load_script(keys=[self.store._make_key(f"session:{sid}")],
                                            args=[self.idle, self.store._make_key("session-epoch:")])
            return (found[0], found[1] or None) if found else (None, None)
        raw = await self.store.get(f"session:{sid}", renew_for=self.idle)
        if raw is None:
            return None, None
        return raw, await self.store.get(f"session-epoch:{json.loads(raw)['account_id']}")

    async def end_all(self, account_id: int) -> None:
        """End every session of ``account_id`` started until now (a session created afterwards,
        such as the one a password change starts, stays valid)."""
        # Older sessions cannot outlive the absolute timeout, so neither need the epoch.
        await self.store.set(f"session-epoch:{account_id}", repr(time.time()).encode(),
                             expires_in=self.absolute + 60)

    async def destroy(self, sid: str) -> None:
        await self.store.delete(f"session:{sid}")
