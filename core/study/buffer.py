"""Heartbeats credited in Redis, written to the database in batches (when Redis is configured).

Why: one beat through the database is one transaction of nine queries under a row lock; with
Redis a beat is one Lua script (``BEAT``), atomic per Redis server, so beats of one learner from
two tabs, two devices or two processes are serialised without any database lock.

State in Redis (keys under ``<queue>:study:``, no expiry except sessions; Redis is the authority
for a key once it exists, the database is loaded into a missing key when a session starts):

* ``clock:<account>`` — the learner's clock: ``last`` (server time of the previous beat, per
  learner, not per video), ``day``/``dsec`` (today's credited seconds), ``active`` (the one live
  session's token);
* ``sess:<token>`` — a study session: account, tenant, lesson, enrolment, ``seq`` (last sequence
  number), ``ended`` ("", replaced, ended), the lesson's duration and the course's required
  seconds;
* ``prog:<account>:<lesson>`` — position, furthest, credited seconds, done;
* ``enr:<enrollment>`` — credited seconds and status (studying → review).

``BEAT`` runs ``core.study.credit.decide`` (ported to Lua line by line; tests/test_study_buffer.py
checks the two agree on random beats), updates that state and appends one entry to the stream
``ledger`` in the same atomic step: a credited second exists exactly when its stream entry does.

``flush()`` writes the stream to the database: under the ``study_flush`` row lock it reads the
entries after the watermark, inserts their ``HoursEntry`` rows, adds their seconds to
``LessonProgress``/``Enrollment`` (one ``UPDATE … FROM (VALUES …)`` per table), copies positions,
clocks and sessions, and moves the watermark, all in one transaction; only then is the stream
trimmed. A flush killed at any point is redone from the watermark: nothing is lost, nothing is
written twice (tests/test_study_buffer.py kills flushing workers with SIGKILL). Flushes start
from the beats themselves (every ``FLUSH_EVERY`` entries or ``FLUSH_SECONDS``), from the
``flush_study_beats`` cron job every minute, and before the course page lists refused credits.
Pages read the live figures from Redis (``live_enrollments``, ``live_progress``).

The scripts reach keys named inside them (an enrolment's, a replaced session's): one Redis server,
not Redis Cluster.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from piccolo.engine.sqlite import SQLiteEngine, TransactionType

from core.courses.tables import Enrollment
from core.db.scoped import scoped
from core.study import credit
from core.study.flush_tables import StudyFlush
from core.study.tables import HoursEntry, LessonProgress, StudyClock, StudySession

if TYPE_CHECKING:
    from core.kernel import Platform
    from core.study.services import Access, BeatIn
    from core.tenancy import Tenant

log = logging.getLogger("xueshi.study")
BATCH = 1000  # stream entries per flush transaction
FLUSH_EVERY = 500  # a beat that finds this many entries waiting starts a flush in its process
FLUSH_SECONDS = 5.0  # … or when its process has not flushed for this long
SESSION_TTL = 2 * 24 * 3600  # a study session's Redis state outlives its last beat by this long

_DECIDE = r"""
local function decide(last_beat_at, position, furthest, lesson_credited, duration, day_credited, daily_cap,
                      course_left, tol, now, claimed, playing)
  -- core.study.credit.decide, line by line: returns seconds, claimed, reason, anomaly, position,
  -- furthest, last_beat_at
  local last, elapsed = now, 0
  if last_beat_at > 0 then
    last = math.max(last_beat_at, now)
    elapsed = math.max(0, now - last_beat_at)
  end
  if claimed < 0 then
    return 0, 0, 'bad_beat', 1, position, furthest, last
  end
  local advance = claimed - position
  local reachable = math.min(math.max(furthest, position + elapsed), duration) + tol
  if claimed > reachable then
    local speed = math.huge
    if elapsed > 0 then speed = advance / elapsed end
    local reason = 'seek_ahead'
    if 1.5 < speed and speed <= 16.5 and playing then reason = 'rate' end
    local claim = 0
    if playing then claim = math.max(0, advance) end
    return 0, claim, reason, 1, math.max(position, math.min(claimed, furthest)), furthest, last
  end
  local pos = math.min(claimed, duration)
  local far = math.max(furthest, pos)
  if (not playing) or advance <= 0 then
    return 0, 0, '', 0, pos, far, last
  end
  local seconds, reason = math.min(elapsed, advance), ''
  if advance - seconds > tol then reason = 'wall_clock' end
  local why = 'duration'
  if lesson_credited >= duration - tol then why = 'lesson_complete' end
  local rooms = {{duration - lesson_credited, why}, {daily_cap - day_credited, 'daily_cap'},
                 {course_left, 'course_complete'}}
  for _, r in ipairs(rooms) do
    local room = math.max(0, r[1])
    if seconds > room then seconds, reason = room, r[2] end
  end
  return seconds, advance, reason, 0, pos, far, last
end
local function f(x) return string.format('%.17g', x) end
"""

# KEYS: sess, clock, prog, stream. ARGV: prefix, account, tenant, token, seq, lesson, position (-1 when
# not a finite number ≥ 0), position for the ledger, playing (1/0), event, now, day, daily cap,
# tolerance, session ttl.
BEAT = _DECIDE + r"""
local P, account, tenant, token = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local seq, lesson, claimed, pt = tonumber(ARGV[5]), ARGV[6], tonumber(ARGV[7]), ARGV[8]
local playing, event, now, day = ARGV[9] == '1', ARGV[10], tonumber(ARGV[11]), ARGV[12]
local cap, tol = tonumber(ARGV[13]), tonumber(ARGV[14])
local function refuse(reason, enr, les, sid, ended)
  local anomaly = '0'
  if reason ~= 'session_replaced' then anomaly = '1' end
  local n = redis.call('XADD', KEYS[4], '*', 'k', 'r', 'h', '1', 't', tenant, 'a', account, 'e', enr or '',
                       'l', les or '', 's', string.sub(token, 1, 64), 'q', ARGV[5], 'pt', pt, 'r', reason,
                       'an', anomaly, 'at', ARGV[11], 'sid', sid or '', 'end', ended or '')
  return {'r', reason, redis.call('XLEN', KEYS[4])}
end
local s = redis.call('HMGET', KEYS[1], 'account', 'lesson', 'enr', 'seq', 'ended', 'dur', 'need', 'sid')
if not s[1] or s[1] ~= account then return refuse('foreign_session') end
if lesson ~= s[2] then return refuse('lesson_mismatch', s[3], s[2]) end
if s[5] ~= '' then
  if s[5] == 'replaced' then return refuse('session_replaced', s[3], s[2]) end
  return refuse('session_ended', s[3], s[2])
end
if seq <= tonumber(s[4]) then return refuse('replayed', s[3], s[2]) end
local c = redis.call('HMGET', KEYS[2], 'active', 'last', 'day', 'dsec', 'id')
local p = redis.call('HMGET', KEYS[3], 'pos', 'far', 'cred', 'done', 'id')
local ekey = P .. 'enr:' .. s[3]
local e = redis.call('HMGET', ekey, 'cred', 'status')
if not c[5] or not p[5] or not e[1] then return {'m'} end  -- state to load from the database first
if c[1] ~= token then
  redis.call('HSET', KEYS[1], 'ended', 'replaced')
  return refuse('session_replaced', s[3], s[2], s[8], 'replaced')
end
redis.call('HSET', KEYS[1], 'seq', ARGV[5])
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[15]))
local duration, needed = tonumber(s[6]), tonumber(s[7])
local dsec = 0
if c[3] == day then dsec = tonumber(c[4]) end
local ecred, status = tonumber(e[1]), e[2]
local studying = status == 'studying' or status == 'cleared'  -- services.STUDYING
local left = 0
if studying then left = math.max(0, needed - ecred) end
local pos0, far0, pcred = tonumber(p[1]), tonumber(p[2]), tonumber(p[3])
local play = playing or event == 'pause' or event == 'end' or event == 'hide'
local sec, claim, reason, anomaly, pos, far, last = decide(tonumber(c[2]), pos0, far0, pcred, duration, dsec, cap,
                                                           left, tol, now, claimed, play)
if claimed < 0 then pos, far = pos0, far0 end
dsec = dsec + sec
redis.call('HSET', KEYS[2], 'last', f(last), 'day', day, 'dsec', f(dsec))
local done = p[4] == '1' or far >= duration - tol
local done_s = '0'
if done then done_s = '1' end
pcred = pcred + sec
redis.call('HSET', KEYS[3], 'pos', f(pos), 'far', f(far), 'cred', f(pcred), 'done', done_s)
local total, moved = ecred, '0'
if sec > 0 then
  total = ecred + sec
  local fields = {'cred', f(total)}
  if total >= needed - 1e-6 and studying then
    moved = '1'
    fields = {'cred', f(total), 'status', 'review', 'mvat', ARGV[11]}
  end
  redis.call('HSET', ekey, unpack(fields))
end
local ended = ''
if event == 'end' then
  ended = 'ended'
  redis.call('HSET', KEYS[1], 'ended', 'ended')
end
local ledger = '0'
if claim > 0 or reason ~= '' or anomaly == 1 then ledger = '1' end
redis.call('XADD', KEYS[4], '*', 'k', 'c', 'h', ledger, 't', tenant, 'a', account, 'e', s[3], 'l', s[2],
           's', token, 'q', ARGV[5], 'pf', f(pos0), 'pt', pt, 'c', f(claim), 'sec', f(sec), 'r', reason,
           'an', tostring(anomaly), 'at', ARGV[11], 'sid', s[8], 'pid', p[5], 'cid', c[5], 'pos', f(pos),
           'far', f(far), 'done', done_s, 'last', f(last), 'day', day, 'dsec', f(dsec), 'rv', moved, 'end', ended)
return {'c', reason, redis.call('XLEN', KEYS[4]), f(sec), f(claim), tostring(anomaly), f(pos), f(far), f(total),
        f(pcred), done_s, moved, status, f(needed)}
"""

# Start (or take over) a session. KEYS: clock, prog, enr, sess. ARGV: prefix, token, now, ttl, then
# the database's values, loaded only into keys Redis does not have: clock id, last, day, dsec;
# progress id, pos, far, cred, done; enrolment id, cred, status; then the session's fields: sid,
# account, tenant, lesson, enr, dur, need.
START = r"""
local P, token, now = ARGV[1], ARGV[2], tonumber(ARGV[3])
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('HSET', KEYS[1], 'id', ARGV[5], 'last', ARGV[6], 'day', ARGV[7], 'dsec', ARGV[8], 'active', '')
end
if redis.call('EXISTS', KEYS[2]) == 0 then
  redis.call('HSET', KEYS[2], 'id', ARGV[9], 'pos', ARGV[10], 'far', ARGV[11], 'cred', ARGV[12], 'done', ARGV[13])
end
if redis.call('EXISTS', KEYS[3]) == 0 then
  redis.call('HSET', KEYS[3], 'id', ARGV[14], 'cred', ARGV[15], 'status', ARGV[16])
end
local old = redis.call('HGET', KEYS[1], 'active')
if old and old ~= '' and old ~= token and redis.call('HGET', P .. 'sess:' .. old, 'ended') == '' then
  redis.call('HSET', P .. 'sess:' .. old, 'ended', 'replaced')
end
local last = tonumber(redis.call('HGET', KEYS[1], 'last'))
redis.call('HSET', KEYS[1], 'active', token, 'last', string.format('%.17g', math.max(last, now)))
redis.call('HSET', KEYS[4], 'sid', ARGV[17], 'account', ARGV[18], 'tenant', ARGV[19], 'lesson', ARGV[20],
           'enr', ARGV[21], 'dur', ARGV[22], 'need', ARGV[23], 'seq', '-1', 'ended', '')
redis.call('EXPIRE', KEYS[4], tonumber(ARGV[4]))
return redis.call('HMGET', KEYS[2], 'pos', 'far', 'cred', 'done')
"""


LOAD = r"""
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('HSET', KEYS[1], 'id', ARGV[1], 'last', ARGV[2], 'day', ARGV[3], 'dsec', ARGV[4], 'active', ARGV[5])
end
if redis.call('EXISTS', KEYS[2]) == 0 then
  redis.call('HSET', KEYS[2], 'id', ARGV[6], 'pos', ARGV[7], 'far', ARGV[8], 'cred', ARGV[9], 'done', ARGV[10])
end
if redis.call('EXISTS', KEYS[3]) == 0 then
  redis.call('HSET', KEYS[3], 'id', ARGV[11], 'cred', ARGV[12], 'status', ARGV[13])
end
return 1
"""


def _num(x: float) -> str:
    return repr(float(x))


@dataclass
class Live:
    position: float
    furthest: float
    credited_seconds: float
    completed: bool


class BeatBuffer:
    """The Redis side of study hours for one platform (``of(platform)``; None without Redis)."""

    def __init__(self, redis: Any, prefix: str) -> None:
        self.redis = redis
        self.prefix = prefix
        self.stream = prefix + "ledger"
        self._beat = redis.register_script(BEAT)
        self._start = redis.register_script(START)
        self._load = redis.register_script(LOAD)
        self._last_flush = time.monotonic()
        self._flushing: asyncio.Task | None = None
        self.auto_flush = True  # beats start flushes in their process (tests switch it off)

    # --- sessions and beats ------------------------------------------------------------------

    async def start_session(self, tenant: Tenant, account_id: int, access: Access, now: float) -> tuple[StudySession, Live]:
        """The database's session row (replacing the learner's open ones), then the Redis state."""
        import secrets

        from core.study import services

        clock = await services.clock_of(tenant, account_id)
        progress = await services.ensure_progress(tenant, account_id, access.lesson.id)
        token = secrets.token_urlsafe(24)
        stamp = dt.datetime.now(dt.UTC)
        await scoped(StudySession, tenant).update(
            {StudySession.ended_at: stamp, StudySession.ended_reason: "replaced"}
        ).where((StudySession.account == account_id) & StudySession.ended_at.is_null())
        session = scoped(StudySession, tenant).new(
            account=account_id, lesson=access.lesson.id, enrollment=access.enrollment.id, token=token,
            started_at=stamp, duration_seconds=float(access.lesson.duration_seconds),
            required_seconds=services.required_seconds(tenant, access.course),
        )
        await session.save()
        await scoped(StudyClock, tenant).update({StudyClock.active_token: token}).where(StudyClock.id == clock.id)
        e = access.enrollment
        await self.live_enrollments([e])  # drops a copy a review made stale, so START loads the database's
        p = self.prefix
        pos, far, cred, done = await self._start(
            keys=[f"{p}clock:{account_id}", f"{p}prog:{account_id}:{access.lesson.id}", f"{p}enr:{e.id}",
                  f"{p}sess:{token}"],
            args=[p, token, _num(now), SESSION_TTL,
                  clock.id, _num(clock.last_beat_at), clock.day, _num(clock.day_seconds),
                  progress.id, _num(progress.position), _num(progress.furthest), _num(progress.credited_seconds),
                  "1" if progress.completed else "0",
                  e.id, _num(e.credited_seconds), e.status,
                  session.id, account_id, tenant.id, access.lesson.id, e.id, _num(session.duration_seconds),
                  _num(session.required_seconds)])
        return session, Live(float(pos), float(far), float(cred), done == b"1" or done == "1")

    async def beat(self, tenant: Tenant, account_id: int, beat: BeatIn, now: float,
                   _reloaded: bool = False) -> dict[str, Any]:
        """Credit one heartbeat in Redis (the same rules and answers as ``services.beat``)."""
        from core.study import services

        pos = beat.position if math.isfinite(beat.position) and beat.position >= 0 else -1.0
        rules = tenant.rules.study
        p = self.prefix
        out = await self._beat(
            keys=[f"{p}sess:{beat.token}", f"{p}clock:{account_id}", f"{p}prog:{account_id}:{beat.lesson_id}",
                  self.stream],
            args=[p, account_id, tenant.id, beat.token, beat.seq, beat.lesson_id, _num(pos),
                  _num(services._finite(beat.position)), "1" if beat.playing else "0", beat.event, _num(now),
                  services.china_day(now), _num(rules.daily_cap_minutes * 60.0), _num(rules.tolerance_seconds),
                  SESSION_TTL])
        out = [x.decode() if isinstance(x, bytes) else x for x in out]
        if out[0] == "m":  # a clock, progress or enrolment Redis lost or was told to forget
            if _reloaded:
                raise RuntimeError("study state missing in Redis after loading it")
            await self._reload(tenant, account_id, beat)
            return await self.beat(tenant, account_id, beat, now, _reloaded=True)
        self._maybe_flush(int(out[2]))
        if out[0] == "r":
            reason = out[1]
            if reason in credit.ANOMALIES:
                log.info("study beat refused: %s (tenant %s, account %s)", reason, tenant.slug, account_id)
            return services._answer(None, reason)
        (sec, claim, anomaly, position, furthest, total, lesson_credited, done, moved, status,
         needed) = out[3:]
        d = credit.Decision(float(sec), float(claim), out[1], anomaly == "1", float(position), float(furthest), now)
        total = float(total)
        completed_now = moved == "1"
        return services._answer(
            d, d.reason if (d.refused > 0.5 or d.anomaly) else "",
            total_seconds=round(total, 3), total_hours=services.hours(tenant, total),
            required_hours=round(float(needed) / services.seconds_per_hour(tenant), 4),
            lesson_credited=round(float(lesson_credited), 3), lesson_completed=done == "1",
            completed=completed_now or status not in services.STUDYING,
            completion_text=services.completion_text(tenant) if (completed_now or status == "review") else "",
        )

    async def _reload(self, tenant: Tenant, account_id: int, beat: BeatIn) -> None:
        """Load the database's clock, progress and enrolment into the keys Redis lacks (flushed
        first, so the database holds every credited second)."""
        from core.study import services

        await self.flush()
        p = self.prefix
        lesson, enrollment = await self.redis.hmget(f"{p}sess:{beat.token}", "lesson", "enr")
        clock = await services.clock_of(tenant, account_id)
        progress = await services.ensure_progress(tenant, account_id, int(lesson))
        e = await scoped(Enrollment, tenant).get(int(enrollment))
        await self._load(
            keys=[f"{p}clock:{account_id}", f"{p}prog:{account_id}:{int(lesson)}", f"{p}enr:{int(enrollment)}"],
            args=[clock.id, _num(clock.last_beat_at), clock.day, _num(clock.day_seconds), clock.active_token,
                  progress.id, _num(progress.position), _num(progress.furthest), _num(progress.credited_seconds),
                  "1" if progress.completed else "0", e.id, _num(e.credited_seconds), e.status])

    # --- live figures for pages --------------------------------------------------------------

    async def live_enrollments(self, rows: list[Enrollment]) -> None:
        """Replace the rows' credited seconds and status by Redis's (not yet flushed) figures. A
        copy whose status the database has since changed otherwise (a review approved or cleared
        the hours) is flushed and dropped instead: the next session loads the database's figures."""
        if not rows:
            return
        pipe = self.redis.pipeline(transaction=False)
        for e in rows:
            pipe.hmget(f"{self.prefix}enr:{e.id}", "cred", "status", "mvat")
        from core.study.services import STUDYING

        stale = []
        for e, (cred, status, moved_at) in zip(rows, await pipe.execute()):
            if cred is None:
                continue
            status = status.decode() if isinstance(status, bytes) else status
            # A beat's move to review that the database has not seen yet (a flushed move set
            # completed_at to the move's time, so a status changed after it is the database's).
            unflushed = (e.status in STUDYING and status == "review" and moved_at is not None and
                         (e.completed_at is None or e.completed_at.timestamp() < float(moved_at) - 0.001))
            if status == e.status or unflushed:
                e.credited_seconds, e.status = float(cred), status
            else:  # the database moved on (a review approved or cleared it): Redis's copy is stale
                stale.append(e.id)
        for enrollment_id in stale:
            await self.forget_enrollment(enrollment_id)

    async def live_progress(self, rows: list[LessonProgress]) -> None:
        rows = [r for r in rows if r is not None]
        if not rows:
            return
        pipe = self.redis.pipeline(transaction=False)
        for r in rows:
            pipe.hmget(f"{self.prefix}prog:{r.account}:{r.lesson}", "pos", "far", "cred", "done")
        for r, (pos, far, cred, done) in zip(rows, await pipe.execute()):
            if pos is not None:
                r.position, r.furthest, r.credited_seconds = float(pos), float(far), float(cred)
                r.completed = done in (b"1", "1")

    async def forget_enrollment(self, enrollment_id: int) -> None:
        """Flush, then drop Redis's figures of an enrolment whose hours or status changed in the
        database by other means (a review clearing hours): the next session loads them again."""
        await self.flush()
        await self.redis.delete(f"{self.prefix}enr:{enrollment_id}")

    # --- flushing ----------------------------------------------------------------------------

    def _maybe_flush(self, waiting: int) -> None:
        if not self.auto_flush:
            return
        if self._flushing is not None and not self._flushing.done():
            return
        if waiting >= FLUSH_EVERY or time.monotonic() - self._last_flush >= FLUSH_SECONDS:
            self._last_flush = time.monotonic()
            self._flushing = asyncio.get_running_loop().create_task(self.flush_quietly())

    async def flush_quietly(self) -> None:
        """``flush()``, logging instead of raising: what is not written stays in the stream."""
        try:
            await self.flush()
        except Exception:  # the entries stay in the stream; the next flush or the cron job retries
            log.exception("flushing study beats failed")

    async def flush(self, *, limit: int | None = None) -> int:
        """Write every stream entry after the watermark to the database (``limit``: at most that
        many batches); returns how many entries were written."""
        written, batches = 0, 0
        while limit is None or batches < limit:
            n = await self.flush_batch()
            written += n
            batches += 1
            if n < BATCH:
                break
        self._last_flush = time.monotonic()
        return written

    async def flush_batch(self, size: int = BATCH) -> int:
        """One transaction: lock the watermark, read the entries after it, write them, move it."""
        await _ensure_watermark(self.stream)
        db = StudyFlush._meta.db
        sqlite = isinstance(db, SQLiteEngine)
        transaction = db.transaction(transaction_type=TransactionType.immediate) if sqlite else db.transaction()
        async with transaction:
            query = StudyFlush.objects().where(StudyFlush.stream == self.stream)
            mark = await (query if sqlite else query.lock_rows()).first()
            entries = await self.redis.xrange(self.stream, min=f"({mark.last_id}", count=size)
            if not entries:
                return 0
            await _write(entries)
            last_id = entries[-1][0]
            last_id = last_id.decode() if isinstance(last_id, bytes) else last_id
            await StudyFlush.update({StudyFlush.last_id: last_id, StudyFlush.entries: StudyFlush.entries + len(entries),
                                     StudyFlush.updated_at: dt.datetime.now(dt.UTC)}).where(StudyFlush.id == mark.id)
        # Committed: the entries up to last_id may go (the watermark alone keeps them from being
        # written again if this trim never happens).
        await self.redis.xtrim(self.stream, minid=last_id, approximate=False)
        return len(entries)


async def _ensure_watermark(stream: str) -> None:
    if await StudyFlush.exists().where(StudyFlush.stream == stream):
        return
    try:
        await StudyFlush(stream=stream, last_id="0-0", entries=0, updated_at=dt.datetime.now(dt.UTC)).save()
    except Exception:  # another process made it first (unique stream)
        if not await StudyFlush.exists().where(StudyFlush.stream == stream):
            raise


def _fields(raw: dict) -> dict[str, str]:
    return {(k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
            for k, v in raw.items()}


def _int_or_none(value: str) -> int | None:
    return int(value) if value not in ("", None) else None


async def _write(entries: list) -> None:
    """The ledger rows and the mirrored state of a batch, per tenant (scoped writes)."""
    by_tenant: dict[int, list[dict[str, str]]] = {}
    for _, raw in entries:
        f = _fields(raw)
        by_tenant.setdefault(int(f["t"]), []).append(f)
    for tenant_id, rows in by_tenant.items():
        await _write_tenant(tenant_id, rows)


LEDGER_COLUMNS = ["account", "enrollment", "lesson", "session", "seq", "position_from", "position_to", "claimed",
                  "seconds", "reason", "anomaly", "created_at"]


async def _write_tenant(tenant_id: int, rows: list[dict[str, str]]) -> None:
    ledger = scoped(HoursEntry, tenant_id)
    new = []
    enrol: dict[int, list] = {}  # id → [seconds, moved to review, at]
    progress: dict[int, list] = {}  # id → [seconds, position, furthest, done, at]
    clocks: dict[int, tuple] = {}  # id → (last, day, day seconds)
    sessions: dict[int, list] = {}  # id → [last seq, ended reason, at]
    for f in rows:
        at = dt.datetime.fromtimestamp(float(f["at"]), dt.UTC)
        seconds = float(f.get("sec") or 0.0)
        if f["h"] == "1":
            new.append((int(f["a"]), _int_or_none(f["e"]), _int_or_none(f["l"]), f["s"], int(f["q"]),
                        float(f.get("pf") or 0.0), float(f["pt"]), float(f.get("c") or 0.0), seconds, f["r"],
                        f["an"] == "1", at))
        sid = _int_or_none(f.get("sid", ""))
        if f["k"] == "r":
            if sid is not None and f.get("end"):
                sessions.setdefault(sid, [-1, "", at])[1:] = [f["end"], at]
            continue
        e = enrol.setdefault(int(f["e"]), [0.0, 0, at])
        e[0] += seconds
        if f["rv"] == "1":
            e[1:] = [1, at]
        p = progress.setdefault(int(f["pid"]), [0.0, 0.0, 0.0, 0, at])
        p[0] += seconds
        p[1:] = [float(f["pos"]), float(f["far"]), int(f["done"]), at]
        clocks[int(f["cid"])] = (float(f["last"]), f["day"], float(f["dsec"]))
        s = sessions.setdefault(sid, [-1, "", at])
        s[0] = max(s[0], int(f["q"]))
        if f["end"]:
            s[1:] = [f["end"], at]
    await ledger.insert_many(LEDGER_COLUMNS, new)
    await scoped(Enrollment, tenant_id).update_each(
        [(i, sec, moved, at) for i, (sec, moved, at) in enrol.items()],
        ["INTEGER", "DOUBLE PRECISION", "INTEGER", "TIMESTAMPTZ"],
        {"credited_seconds": "enrollment.credited_seconds + v.column2",
         "status": "CASE WHEN v.column3 = 1 AND enrollment.status IN ('studying', 'cleared') THEN 'review' "
                   "ELSE enrollment.status END",
         "completed_at": "CASE WHEN v.column3 = 1 AND enrollment.status IN ('studying', 'cleared') THEN v.column4 "
                         "ELSE enrollment.completed_at END"})
    await scoped(LessonProgress, tenant_id).update_each(
        [(i, *values) for i, values in progress.items()],
        ["INTEGER", "DOUBLE PRECISION", "DOUBLE PRECISION", "DOUBLE PRECISION", "INTEGER", "TIMESTAMPTZ"],
        {"credited_seconds": "lesson_progress.credited_seconds + v.column2", "position": "v.column3",
         "furthest": "v.column4", "completed": "lesson_progress.completed OR v.column5 = 1",
         "updated_at": "v.column6"})
    await scoped(StudyClock, tenant_id).update_each(
        [(i, *values) for i, values in clocks.items()],
        ["INTEGER", "DOUBLE PRECISION", "VARCHAR(10)", "DOUBLE PRECISION"],
        {"last_beat_at": "v.column2", "day": "v.column3", "day_seconds": "v.column4",
         "version": "study_clock.version + 1"})
    await scoped(StudySession, tenant_id).update_each(
        [(i, *values) for i, values in sessions.items()],
        ["INTEGER", "INTEGER", "VARCHAR(16)", "TIMESTAMPTZ"],
        {"last_seq": "CASE WHEN v.column2 > study_session.last_seq THEN v.column2 ELSE study_session.last_seq END",
         "ended_reason": "CASE WHEN study_session.ended_at IS NULL AND v.column3 <> '' THEN v.column3 "
                         "ELSE study_session.ended_reason END",
         "ended_at": "CASE WHEN study_session.ended_at IS NULL AND v.column3 <> '' THEN v.column4 "
                     "ELSE study_session.ended_at END"})


def of(platform: Platform) -> BeatBuffer | None:
    """The platform's beat buffer, or None without Redis (beats then go to the database)."""
    redis = getattr(platform.store, "_redis", None)
    if redis is None:
        return None
    buf = getattr(platform, "_study_buffer", None)
    if buf is None:
        buf = BeatBuffer(redis, f"{platform.settings.job_queue}:study:")
        platform._study_buffer = buf  # type: ignore[attr-defined]
    return buf
