"""Live study: heartbeats decided in Redis and written to PostgreSQL in batches.

With Redis and PostgreSQL configured, the study state of a learner who is playing a lesson (the
clock, the session's sequence number, position, furthest point, credited seconds, today's
seconds, the enrolment's total and proctoring's counters) is kept in one Redis value, a
MessagePack map. A heartbeat is one Lua script (``core.study.live_lua.BEAT``): it checks the
session cookie's server-side session, decides the credit with the same rule as
``core.study.credit.decide``, updates the state and appends what the database must hold to the
learner's pending list, atomically. The answer does not wait for the database.

Everything that is not the ordinary case goes to the database path (``core.study.services``),
unchanged: a beat of another, replaced or ended session, a replayed sequence number, an anomaly,
a paused or overdue proctored session, a capture falling due, the course's hours reached, the
end of a lesson, a hidden page, an idle window opening or closing. The script answers "slow" and
the request is served by the web app as before.

The invariant that keeps both paths one ledger: **every change of a learner's study rows holds
the learner's clock lock** (``services.locked_clock``), and taking that lock *parks* the learner:
the Redis state is dropped and the pending beats are written first, in the same transaction. The
next fast beat finds no state and rebuilds it from the database under the same lock
(``core.study.live_state.hydrate``). So the database path always decides on the complete state, and Redis never
decides on a state the database has changed since.

Pending beats are written by a flusher (one at a time per deployment, under a Redis lease) in
batches: one multi-row ``INSERT … ON CONFLICT (beat) DO NOTHING`` for the ledger and one
statement that sets the counters, guarded by the session's sequence number. A beat is removed
from Redis only after its batch committed; a flusher killed in between leaves it there, and the
next flush writes it again without effect (``HoursEntry.beat`` is unique, the counters only move
forward). A credited second is therefore lost only if Redis itself loses it: run Redis with
``appendonly yes`` (``appendfsync everysec`` loses at most the last second of beats).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import secrets
import time
from typing import Any

import msgspec
from redis.asyncio import Redis

from core.db import write_transaction
from core.study import live_lua
from core.study.live_pipe import Pipe
from core.study.tables import HoursEntry, StudyClock

log = logging.getLogger("xueshi.study")

STATE_TTL = 2 * 3600  # an abandoned learner's state expires (its pending beats do not)
FLUSH_BATCH = 500  # learners per flush transaction
FLUSH_PER_LEARNER = 50  # beats per learner and flush: a backlog is parsed in slices, not at once
FLUSH_EVERY_SECONDS = 0.25  # between flushes that found less than a full batch

_active: Live | None = None  # the process's live study (set while its platform runs)

# Fault injection for the kill test (tests/test_study_live.py): called after a flush committed,
# before its beats are removed from Redis.
after_commit = None


def active() -> Live | None:
    return _active


def enabled(settings: Any) -> bool:
    """Live study needs Redis (the state) and PostgreSQL (the batch statements)."""
    return bool(settings.redis_url) and settings.database_url.startswith(("postgres://", "postgresql://"))


class Entry(msgspec.Struct, frozen=True, array_like=True):
    """What the database must hold after one fast beat (``BEAT``'s pending entry: a MessagePack
    array of these fields, in this order)."""

    tenant: int
    account: int
    session_id: int
    token: str
    seq: int
    enrollment: int
    lesson: int
    progress_id: int
    proctor_id: int
    clock_id: int
    ledger: bool
    position_from: float
    position_to: float
    claimed: float
    seconds: float
    reason: str
    wall: float
    day: str
    last: float
    position: float
    furthest: float
    lesson_credited: float
    completed: bool
    day_seconds: float
    enrollment_credited: float
    studied: float
    provisional: float

    @property
    def key(self) -> str:
        return f"{self.token}:{self.seq}"


class Answer(msgspec.Struct, frozen=True, array_like=True):
    """The figures of a beat ``BEAT`` decided (its MessagePack answer, in this order)."""

    account: int
    seconds: float
    claimed: float
    reason: str
    position: float
    furthest: float
    enrollment_credited: float
    lesson_credited: float
    completed: bool
    studying: bool
    status: str
    needed: float
    ticket: str
    within: float


_entries = msgspec.msgpack.Decoder(Entry)
_answers = msgspec.msgpack.Decoder(Answer)


def num(x: float) -> str:
    return "%.17g" % x


# --- writing beats to the database ----------------------------------------------------------------

LEDGER_SQL = """
INSERT INTO hours_entry (tenant, account, enrollment, lesson, session, seq, position_from, position_to,
                         claimed, seconds, reason, anomaly, created_at, beat)
SELECT v.tenant, v.account, v.enrollment, v.lesson, v.session, v.seq, v.pf, v.pt, v.claimed, v.seconds,
       v.reason, false, to_timestamp(v.wall), v.beat
FROM unnest({}::int[], {}::int[], {}::int[], {}::int[], {}::text[], {}::int[], {}::float8[], {}::float8[],
            {}::float8[], {}::float8[], {}::text[], {}::float8[], {}::text[])
     AS v(tenant, account, enrollment, lesson, session, seq, pf, pt, claimed, seconds, reason, wall, beat)
ON CONFLICT (beat) DO NOTHING
"""

# The learners' last beats: the session's sequence number moves forward only, and the counters
# are set only for the sessions it moved (an older or already written beat changes nothing).
STATE_SQL = """
WITH v AS (
  SELECT * FROM unnest({}::int[], {}::int[], {}::int[], {}::float8[], {}::text[], {}::float8[], {}::int[],
                       {}::float8[], {}::float8[], {}::float8[], {}::bool[], {}::int[], {}::float8[], {}::int[],
                       {}::float8[], {}::float8[], {}::float8[])
  AS v(sid, seq, clock, last, day, dsec, progress, pos, far, lcred, completed, enrollment, ecred, proctor,
       studied, prov, wall)
), moved AS (
  UPDATE study_session s SET last_seq = v.seq FROM v WHERE s.id = v.sid AND s.last_seq < v.seq RETURNING s.id
), clocks AS (
  UPDATE study_clock c SET last_beat_at = v.last, day = v.day, day_seconds = v.dsec, version = c.version + 1
  FROM v JOIN moved ON moved.id = v.sid WHERE c.id = v.clock RETURNING c.id
), progress AS (
  UPDATE lesson_progress p SET position = v.pos, furthest = v.far, credited_seconds = v.lcred,
         completed = v.completed, updated_at = to_timestamp(v.wall)
  FROM v JOIN moved ON moved.id = v.sid WHERE p.id = v.progress RETURNING p.id
), enrolments AS (
  UPDATE enrollment e SET credited_seconds = v.ecred
  FROM v JOIN moved ON moved.id = v.sid WHERE e.id = v.enrollment RETURNING e.id
), proctoring AS (
  UPDATE proctor_session ps SET studied = v.studied, provisional = v.prov
  FROM v JOIN moved ON moved.id = v.sid WHERE ps.id = v.proctor RETURNING ps.id
)
SELECT (SELECT count(*) FROM moved) AS moved
"""


async def write(entries: list[Entry]) -> None:
    """Write beats (any learners, oldest first) in the current transaction; writing a beat again
    changes nothing."""
    if not entries:
        return
    # The learners' clocks first, in one order: every other writer of a learner's rows takes its
    # clock first too (services.locked_clock), so a flush and a beat never wait on each other in
    # opposite orders (a deadlock).
    await StudyClock.raw("SELECT id FROM study_clock WHERE id = ANY({}::int[]) ORDER BY id FOR UPDATE",
                         sorted({e.clock_id for e in entries}))
    rows = [e for e in entries if e.ledger]
    if rows:
        await HoursEntry.raw(LEDGER_SQL, *[list(c) for c in zip(*[
            (e.tenant, e.account, e.enrollment, e.lesson, e.token, e.seq, e.position_from, e.position_to,
             e.claimed, e.seconds, e.reason, e.wall, e.key) for e in rows], strict=True)])
    last: dict[tuple[int, int], Entry] = {}
    for e in entries:
        last[(e.tenant, e.account)] = e
    await HoursEntry.raw(STATE_SQL, *[list(c) for c in zip(*[
        (e.session_id, e.seq, e.clock_id, e.last, e.day, e.day_seconds, e.progress_id, e.position, e.furthest,
         e.lesson_credited, e.completed, e.enrollment, e.enrollment_credited, e.proctor_id, e.studied,
         e.provisional, e.wall) for e in last.values()], strict=True)])


def _readable(raws: list[bytes]) -> list[Entry]:
    """The pending beats that parse; one that does not (the script validates what it keeps, so
    only a bug makes one) is logged and dropped rather than stopping every later flush."""
    out = []
    for raw in raws:
        try:
            out.append(_entries.decode(raw))
        except msgspec.DecodeError:
            log.error("unreadable study beat dropped from Redis: %r", raw[:300])
    return out


# --- the live state -------------------------------------------------------------------------------


class Live:
    """One process's view of live study (the platform's Redis client)."""

    def __init__(self, redis_url: str, database_url: str, *, idle_seconds: int, absolute_seconds: int,
                 store_namespace: str = "xueshi", background: bool = True) -> None:
        self.redis_url = redis_url
        # The state belongs to one database: deployments (and test runs) sharing a Redis never
        # see each other's learners, whose ids may be the same.
        self.prefix = f"{store_namespace}:live:{hashlib.sha256(database_url.encode()).hexdigest()[:12]}"
        self.dirty, self.lease = f"{self.prefix}:dirty", f"{self.prefix}:flusher"
        self.idle_seconds, self.absolute_seconds = idle_seconds, absolute_seconds
        self.store_namespace = store_namespace
        self.background = background  # False: each fast beat is written before it is answered
        self._scripts = {name: (hashlib.sha1(source.encode()).hexdigest(), source.encode()) for name, source in (
            ("beat", live_lua.BEAT), ("park", live_lua.PARK), ("trim", live_lua.TRIM))}
        self._clients: dict[int, tuple[Redis, Pipe]] = {}
        self._full = False  # the last flush found a full batch
        self._task: asyncio.Task | None = None
        self._stopping = asyncio.Event()

    def _loop_clients(self) -> tuple[Redis, Pipe]:
        """This event loop's Redis client and pipe (a connection belongs to one loop; a server
        process has one, a test has its own beside the app's)."""
        loop = id(asyncio.get_running_loop())
        clients = self._clients.get(loop)
        if clients is None:
            clients = self._clients[loop] = (Redis.from_url(self.redis_url), Pipe(self.redis_url))
        return clients

    @property
    def redis(self) -> Redis:
        """redis-py, for what is not on the heartbeat's path."""
        return self._loop_clients()[0]

    @property
    def pipe(self) -> Pipe:
        """The pipelined connection (``core.study.live_pipe``), for the scripts and the flusher's reads."""
        return self._loop_clients()[1]

    async def _run(self, name: str, keys: list, args: list) -> Any:
        sha, source = self._scripts[name]
        return await self.pipe.evalsha(sha, source, keys, args)

    def state_key(self, tenant_id: int, account_id: int | str) -> str:
        return f"{self.prefix}:state:{tenant_id}:{account_id}"

    def pending_key(self, tenant_id: int, account_id: int | str) -> str:
        return f"{self.prefix}:p:{tenant_id}:{account_id}"

    # --- a beat ------------------------------------------------------------------------------------

    async def beat(self, tenant: Any, sid: str, csrf_digest: str, form: dict[str, str], now: float,
                   day: str) -> Answer | tuple[str, str]:
        """Run ``BEAT``: the answer's figures, or (why the database path must answer, account)."""
        ns = self.store_namespace
        out = await self._run("beat", keys=[f"{ns}:session:{sid}", self.dirty], args=[
            tenant.slug, self.state_key(tenant.id, ""), self.pending_key(tenant.id, ""), f"{ns}:session-epoch:",
            csrf_digest, num(now), num(time.time()), self.idle_seconds, self.absolute_seconds,
            form.get("token", "")[:64], form.get("seq", ""), form.get("lesson", ""), form.get("position", ""),
            "1" if form.get("playing") == "1" else "0", form.get("event", "beat")[:8], form.get("idle", "0")[:32],
            day, f"{tenant.id}:", "1" if form.get("visible") == "1" else "0",
        ])
        if out[0] == b"ok":
            return _answers.decode(out[1])
        return out[1].decode(), (out[2].decode() if len(out) > 2 else "")

    async def park(self, tenant: Any, account_id: int) -> bool:
        """Under the learner's clock lock: drop the state and write its pending beats in the current
        transaction. Returns whether anything was written."""
        raw = await self._run("park", keys=[self.state_key(tenant.id, account_id), self.pending_key(tenant.id, account_id)],
                               args=[])
        if not raw:
            return False
        await write(_readable(raw))
        return True

    # --- the flusher -------------------------------------------------------------------------------

    async def flush(self, limit: int = FLUSH_BATCH, members: list[str] | None = None) -> int:
        """Write the pending beats of up to ``limit`` learners (or of ``members``, "<tenant>:<account>")
        in one transaction, then remove them from Redis. Returns the number of beats written."""
        if members is None:
            members = [m.decode() if isinstance(m, bytes) else m for m in await self.redis.srandmember(self.dirty, limit)]
            self._full = len(members) >= limit  # (a learner with more beats stays in the set)
        if not members:
            return 0
        lists = await self.pipe.calls([("LRANGE", f"{self.prefix}:p:{m}", 0, FLUSH_PER_LEARNER - 1) for m in members])
        entries = _readable([raw for items in lists for raw in items])
        async with write_transaction(HoursEntry):
            await write(entries)
        if after_commit is not None:
            after_commit()
        trims = [x for m, items in zip(members, lists, strict=True) for x in (m, len(items), items[-1] if items else b"")]
        await self._run("trim", [self.dirty], [f"{self.prefix}:p:", *trims])
        return len(entries)

    async def flush_learner(self, tenant: Any, account_id: int) -> None:
        """Write one learner's pending beats now (``background=False``)."""
        await self.flush(members=[f"{tenant.id}:{account_id}"])

    async def pending(self) -> int:
        """Beats not yet written."""
        members = await self.redis.smembers(self.dirty)
        if not members:
            return 0
        return sum(await self.pipe.calls([("LLEN", f"{self.prefix}:p:{m.decode()}") for m in members]))

    async def run(self) -> None:
        """The flusher loop: flush while this process holds the lease (one flusher at a time)."""
        me = secrets.token_hex(8)
        while not self._stopping.is_set():
            try:
                holder = await self.redis.set(self.lease, me, nx=True, px=10_000)
                if not holder and (await self.redis.get(self.lease) or b"").decode() == me:
                    holder = await self.redis.pexpire(self.lease, 10_000)
                if holder:
                    await self.flush()
                else:
                    self._full = False
            except Exception:  # the database or Redis is away: keep the beats, try again
                log.exception("flushing study beats failed")
                self._full = False
            if not self._full:  # a full batch: more are waiting; else let beats gather a moment
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), FLUSH_EVERY_SECONDS)
        with contextlib.suppress(Exception):  # hand the lease on at once
            if (await self.redis.get(self.lease) or b"").decode() == me:
                await self.redis.delete(self.lease)

    def start(self) -> None:
        global _active
        _active = self
        if self.background and self._task is None:
            self._stopping.clear()
            self._task = asyncio.get_running_loop().create_task(self.run(), name="xueshi-study-flusher")

    async def stop(self) -> None:
        global _active
        if _active is self:
            _active = None
        if self._task is not None:
            self._stopping.set()
            await self._task
            self._task = None
        await self.close_connections()

    async def close_connections(self) -> None:
        """Close this event loop's connections."""
        clients = self._clients.pop(id(asyncio.get_running_loop()), None)
        if clients is not None:
            await clients[0].aclose()
            clients[1].close()

