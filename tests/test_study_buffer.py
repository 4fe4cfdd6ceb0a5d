"""The Redis heartbeat buffer (core.study.buffer): its Lua port of the crediting rule agrees with
``core.study.credit.decide``; no sequence of beats through the whole script credits more than
the wall clock, the lesson or the daily cap, and the stream holds exactly what was credited; a
flushing worker killed with SIGKILL mid-transaction leaves a database that, once flushed by
another worker, holds every credited second exactly once."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import math
import os
import secrets
import signal
import subprocess
import sys
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.study import buffer
from core.study.credit import State, decide

REDIS_URL = os.environ.get("REDIS_URL")
needs_redis = pytest.mark.skipif(not REDIS_URL, reason="needs REDIS_URL")

DECIDE_ONLY = buffer._DECIDE + """
local a = {}
for i = 1, 12 do a[i] = tonumber(ARGV[i]) end
local s, c, r, an, p, fu, l = decide(a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], a[10], a[11], ARGV[12] == '1')
return {f(s), f(c), r, tostring(an), f(p), f(fu), f(l)}
"""

finite = st.floats(min_value=0, max_value=5000, allow_nan=False)


def _redis():
    from redis.asyncio import Redis

    return Redis.from_url(REDIS_URL)


@needs_redis
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(last=st.one_of(st.just(0.0), st.floats(min_value=1e6, max_value=1e6 + 500)), position=finite, furthest=finite,
       lesson_credited=finite, duration=st.floats(min_value=1, max_value=3000), day=finite,
       cap=st.floats(min_value=0, max_value=30000), left=st.one_of(st.just(math.inf), finite),
       gap=st.floats(min_value=0, max_value=200), claimed=st.one_of(st.just(-1.0), finite), playing=st.booleans())
def test_the_lua_rule_agrees_with_decide(last, position, furthest, lesson_credited, duration, day, cap, left, gap,
                                         claimed, playing):
    """Any state and any claim: the Lua port returns exactly what the Python rule returns."""
    furthest = max(furthest, position)
    now = (last or 1e6) + gap
    state = State(last, position, furthest, lesson_credited, duration, day, cap, left, 2.0)
    want = decide(state, now, claimed, playing)

    async def lua():
        redis = _redis()
        try:
            return await redis.eval(DECIDE_ONLY, 0, *[repr(float(x)) if x != math.inf else "inf" for x in (
                last, position, furthest, lesson_credited, duration, day, cap, left, 2.0, now, claimed)],
                "1" if playing else "0")
        finally:
            await redis.aclose()

    got = [x.decode() for x in asyncio.run(lua())]
    assert (float(got[0]), float(got[1]), got[2], got[3] == "1", float(got[4]), float(got[5]), float(got[6])) == (
        want.seconds, want.claimed, want.reason, want.anomaly, want.position, want.furthest, want.last_beat_at)


beats = st.lists(st.tuples(
    st.floats(min_value=0, max_value=120, allow_nan=False),  # seconds since the previous beat
    st.one_of(st.floats(min_value=-50, max_value=5000, allow_nan=False), st.just(math.nan), st.just(math.inf)),
    st.booleans(),  # playing
    st.sampled_from(["beat", "beat", "beat", "pause", "hide"]),
    st.sampled_from([1, 1, 1, 1, 0, -1]),  # sequence step: new, replayed, going back
), max_size=50)


@pytest.fixture
def construction(xs_settings):
    from core.kernel import build_platform

    tenant = build_platform(xs_settings).tenants.get("construction")
    tenant.id = 1
    return tenant


@needs_redis
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seq=beats, duration=st.floats(min_value=1, max_value=3000), cap=st.floats(min_value=0, max_value=3000),
       needed=st.floats(min_value=1, max_value=10000), day_before=st.floats(min_value=0, max_value=3000))
def test_no_sequence_of_beats_through_the_script_credits_more_than_it_may(construction, seq, duration, cap, needed,
                                                                          day_before):
    """Whole beats through ``BEAT`` (sessions, sequence numbers, clock, progress, enrolment and
    stream): never more than the wall clock, the lesson's duration, the daily cap (with what was
    credited earlier that day) or the course; and the stream's seconds are exactly the credit."""
    from core.study.services import BeatIn, china_day

    tenant = construction
    tenant.rules.study.daily_cap_minutes = cap / 60.0
    start = 2_000_000_000.0
    day = china_day(start)

    async def run():
        redis = _redis()
        buf = buffer.BeatBuffer(redis, f"xs-prop-{secrets.token_hex(4)}:")
        buf.auto_flush = False  # this test reads the stream itself
        p, token = buf.prefix, "tok"
        try:
            await redis.hset(f"{p}clock:7", mapping={"id": 1, "last": repr(start), "day": day,
                                                     "dsec": repr(day_before), "active": token})
            await redis.hset(f"{p}prog:7:3", mapping={"id": 1, "pos": "0.0", "far": "0.0", "cred": "0.0", "done": "0"})
            await redis.hset(f"{p}enr:5", mapping={"id": 5, "cred": "0.0", "status": "studying"})
            await redis.hset(f"{p}sess:{token}", mapping={"sid": 1, "account": 7, "tenant": 1, "lesson": 3, "enr": 5,
                                                          "dur": repr(duration), "need": repr(needed), "seq": -1,
                                                          "ended": ""})
            now, n, total = start, 0, 0.0
            for gap, claimed, playing, event, step in seq:
                now += gap
                n += step
                a = await buf.beat(tenant, 7, BeatIn(token, n, 3, claimed, playing, event), now)
                assert a["credited"] >= 0
                total += a["credited"]
            entries = await redis.xrange(buf.stream)
            enr = float(await redis.hget(f"{p}enr:5", "cred"))
            stream_seconds = sum(float(f.get(b"sec", b"0")) for _, f in entries)
            return total, now - start, enr, stream_seconds
        finally:
            keys = [k async for k in redis.scan_iter(f"{buf.prefix}*")]
            if keys:
                await redis.delete(*keys)
            await redis.aclose()

    total, elapsed, enr, stream_seconds = asyncio.run(run())
    assert total <= elapsed + 1e-3  # answers are rounded to 0.001
    assert enr <= elapsed + 1e-6 and enr <= duration + 1e-6 and enr <= needed + 1e-6
    assert enr <= max(0.0, cap - day_before) + 1e-6
    assert stream_seconds == pytest.approx(enr, abs=1e-6)


# --- kill test -------------------------------------------------------------------------------------

needs_pg_redis = pytest.mark.skipif(
    not (os.environ.get("XUESHI_TEST_DATABASE_URL", "").startswith("postgres") and REDIS_URL),
    reason="needs XUESHI_TEST_DATABASE_URL (PostgreSQL) and REDIS_URL",
)
LEARNERS, BEATS = 40, 400  # 16,000 beats: 16 flush transactions of 1,000


def _worker(settings) -> subprocess.Popen:
    from core.testing.pytest_plugin import REPO_ROOT

    env = {**os.environ, "DATABASE_URL": settings.database_url, "REDIS_URL": settings.redis_url,
           "XUESHI_VAR_DIR": str(settings.var_dir), "XUESHI_SECRET_KEY": settings.secret_key,
           "XUESHI_JOB_QUEUE": settings.job_queue, "XUESHI_DB_POOL_SIZE": "4"}
    return subprocess.Popen([sys.executable, "-m", "core.cli", "worker", "--concurrency", "2"], cwd=REPO_ROOT,
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


async def _in_flush_transaction(conn, mine: int) -> bool:
    """A backend other than ours holds an open transaction that has written ledger rows."""
    rows = await conn.fetch(
        "SELECT pid, query FROM pg_stat_activity WHERE datname = current_database() AND pid <> $1 "
        "AND xact_start IS NOT NULL AND backend_xid IS NOT NULL AND query NOT ILIKE '%job_run%' "
        "AND (query ILIKE '%hours_entry%' OR query ILIKE '%study_flush%' OR query ILIKE '%UPDATE enrollment%' "
        "OR query ILIKE '%UPDATE lesson_progress%' OR query ILIKE '%UPDATE study_%')", mine)
    return bool(rows)


@needs_pg_redis
async def test_a_flusher_killed_mid_transaction_loses_no_credited_second_and_writes_none_twice(xs_settings):
    import asyncpg

    from core.accounts.tables import Account
    from core.courses.tables import Course, Enrollment, Lesson, Position
    from core.files.tables import StoredFile
    from core.study import jobs as study_jobs
    from core.study import services
    from core.study.flush_tables import StudyFlush
    from core.study.tables import HoursEntry
    from core.testing.ids import fake_id_number, fake_mobile
    from core.testing.pytest_plugin import deployed_platform

    settings = dataclasses.replace(xs_settings, redis_url=REDIS_URL, job_queue=f"xs-kill-{secrets.token_hex(4)}")
    platform = await deployed_platform(settings)
    await platform.start()
    buf = buffer.of(platform)
    buf.auto_flush = False  # no flush from the beats: only the workers write
    workers: list[subprocess.Popen] = []
    conn = await asyncpg.connect(settings.database_url)
    try:
        t = platform.tenants.get("survey")  # (test_study's demo test counts the construction lessons)
        now = dt.datetime.now(dt.UTC)
        pos = Position(tenant=t.id, name=f"施工员{secrets.token_hex(2)}", created_at=now)
        await pos.save()
        course = Course(tenant=t.id, position=pos.id, year=2026, title="kill", required_hours=1000.0, created_at=now)
        await course.save()
        f = StoredFile(tenant=t.id, kind="lesson_video", key=f"kill/{secrets.token_hex(6)}", media_type="video/webm",
                       size=0, sha256="")
        await f.save()
        lesson = Lesson(tenant=t.id, course=course.id, title="kill", kind="video", file=f.id,
                        duration_seconds=100000.0, created_at=now)
        await lesson.save()
        clock = 2_000_000_000.0
        learners = []
        for _ in range(LEARNERS):
            a = Account(tenant=t.id, role="learner", real_name="断电学员", id_number=fake_id_number(),
                        mobile=fake_mobile(), password_hash="x", created_at=now)
            await a.save()
            e = Enrollment(tenant=t.id, account=a.id, course=course.id, created_at=now)
            await e.save()
            access = services.Access(lesson, course, e)
            session, _ = await buf.start_session(t, a.id, access, clock)
            learners.append((a.id, e.id, session.token))
        credited = {}
        for i in range(1, BEATS + 1):  # every learner plays 10 s per beat (some refused: replays)
            clock += 10
            for account_id, enrollment_id, token in learners:
                answer = await buf.beat(t, account_id, services.BeatIn(token, i, lesson.id, i * 10.0, True), clock)
                credited[enrollment_id] = credited.get(enrollment_id, 0.0) + answer["credited"]
                if i % 97 == 0:  # a resent beat: refused, recorded, not credited
                    again = await buf.beat(t, account_id, services.BeatIn(token, i, lesson.id, i * 10.0, True), clock)
                    assert again["reason"] == "replayed" and again["credited"] == 0
        total_entries = await platform.store._redis.xlen(buf.stream)
        assert total_entries == LEARNERS * (BEATS + BEATS // 97)
        assert sum(credited.values()) == LEARNERS * BEATS * 10

        async def consistent() -> int:
            """The database holds exactly the entries up to the watermark (nothing half-written)."""
            mark = await StudyFlush.objects().where(StudyFlush.stream == buf.stream).first()
            done = mark.entries if mark else 0
            rows = await HoursEntry.count().where(HoursEntry.lesson == lesson.id)
            assert rows == done, (rows, done)
            in_db = {r["id"]: r["credited_seconds"] for r in
                     await Enrollment.select(Enrollment.id, Enrollment.credited_seconds).where(Enrollment.course == course.id)}
            ledger = await HoursEntry.select(HoursEntry.enrollment, HoursEntry.seconds).where(HoursEntry.lesson == lesson.id)
            for enrollment_id in in_db:
                assert in_db[enrollment_id] == pytest.approx(
                    sum(r["seconds"] for r in ledger if r["enrollment"] == enrollment_id), abs=1e-6)
            return done

        kills = 0
        mid_transaction = 0
        for round_ in range(3):
            workers.append(_worker(settings))
            await platform.jobs.enqueue(study_jobs.flush_study_beats, key=f"flush-{round_}")
            deadline = time.monotonic() + 120
            while not await _in_flush_transaction(conn, conn.get_server_pid()):
                assert workers[-1].poll() is None, workers[-1].stderr.read().decode()[-3000:]
                assert time.monotonic() < deadline, "the worker never started a flush"
                await asyncio.sleep(0.005)
            os.kill(workers[-1].pid, signal.SIGKILL)
            workers[-1].wait()
            kills += 1
            await asyncio.sleep(0.5)  # PostgreSQL notices the closed connection and rolls back
            done = await consistent()
            mid_transaction += done < total_entries
        assert kills == 3 and mid_transaction == 3  # each kill cut a flush off before the end

        workers.append(_worker(settings))
        await platform.jobs.enqueue(study_jobs.flush_study_beats, key="flush-last")
        deadline = time.monotonic() + 300
        while (await StudyFlush.objects().where(StudyFlush.stream == buf.stream).first()).entries < total_entries:
            assert workers[-1].poll() is None, workers[-1].stderr.read().decode()[-3000:]
            assert time.monotonic() < deadline, "not flushed"
            await asyncio.sleep(0.2)
        assert await consistent() == total_entries
        assert await platform.store._redis.xlen(buf.stream) <= 1  # trimmed up to the watermark
        # Every credited second once: the enrolments and the ledger equal what the beats were told.
        rows = await Enrollment.select(Enrollment.id, Enrollment.credited_seconds).where(Enrollment.course == course.id)
        assert {r["id"]: r["credited_seconds"] for r in rows} == pytest.approx(credited)
        keys = await HoursEntry.select(HoursEntry.session, HoursEntry.seq).where(
            (HoursEntry.lesson == lesson.id) & (HoursEntry.reason == ""))
        assert len(keys) == len({(k["session"], k["seq"]) for k in keys}) == LEARNERS * BEATS
        assert await HoursEntry.count().where((HoursEntry.lesson == lesson.id) & (HoursEntry.reason == "replayed")) \
            == LEARNERS * (BEATS // 97)
        sessions = await services.StudySession.select(services.StudySession.last_seq).where(
            services.StudySession.lesson == lesson.id)
        assert {s["last_seq"] for s in sessions} == {BEATS}
    finally:
        for w in workers:
            if w.poll() is None:
                w.send_signal(signal.SIGTERM)
                try:
                    w.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    w.kill()
        await conn.close()
        redis = platform.store._redis
        keys = [k async for k in redis.scan_iter(f"*{settings.job_queue}*")]
        if keys:
            await redis.delete(*keys)
        await platform.stop()
