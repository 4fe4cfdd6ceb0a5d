"""Live study (core.study.live): heartbeats decided in Redis, written to PostgreSQL in batches.

* The Lua rule gives the same credit as ``core.study.credit.decide`` for any state and beat.
* The heartbeat tests of tests/test_study.py and tests/test_snapshots.py run again here with live
  study on (each fast beat written before it is answered), and must pass unchanged; a counter
  shows that their ordinary beats took the fast path.
* With the flusher: beats are answered before they are written, and the ledger and counters end
  up equal to the database path's; a flusher killed between its commit and its acknowledgement
  writes nothing twice and loses nothing; a change under the learner's lock (a withdrawal) sees
  the beats still in Redis.

Needs PostgreSQL (XUESHI_TEST_DATABASE_URL) and Redis (REDIS_URL); CI runs it on both.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.courses.tables import Enrollment
from core.proctoring import coverage
from core.proctoring.study_tables import ProctorSession
from core.study import credit, live, services
from core.study.tables import HoursEntry, LessonProgress, StudyClock, StudySession

REDIS_URL = os.environ.get("REDIS_URL", "")
from tests.live_mode import fast_answers, needs_live, test_live, xs_app, xs_settings  # noqa: E402,F401

pytestmark = needs_live

# The heartbeat tests of the database path, run again with live study on.
from tests.test_study import (  # noqa: E402,F401
    FakeClock,
    beat,
    clock,
    lesson_video,
    start,
    studying,
    test_a_beat_answered_late_then_one_on_schedule_is_credited_without_an_error,
    test_a_second_tab_takes_over_and_the_first_pauses,
    test_beats_credit_wall_clock_and_advance_and_resume_on_any_device,
    test_completion_shows_the_guides_text_and_moves_to_review,
    test_daily_cap_binds_and_is_shown,
    test_forged_beats_are_refused_recorded_and_never_a_server_error,
    test_seek_ahead_is_clamped_not_credited_and_shown,
    test_simultaneous_beats_from_two_tabs_never_credit_double,
)

T = "/t/construction"
FAST_PATH_TESTS = {"test_beats_credit_wall_clock_and_advance_and_resume_on_any_device",
                   "test_a_beat_answered_late_then_one_on_schedule_is_credited_without_an_error",
                   "test_daily_cap_binds_and_is_shown", "test_completion_shows_the_guides_text_and_moves_to_review",
                   "test_simultaneous_beats_from_two_tabs_never_credit_double"}


# --- the rule, in Lua and in Python ---------------------------------------------------------------

finite = st.floats(min_value=0, max_value=10_000, allow_nan=False)


@pytest.fixture(scope="module")
def lua_decide():
    from redis import Redis

    from core.study.live_lua import DECIDE_ONLY

    client = Redis.from_url(REDIS_URL)
    script = client.register_script(DECIDE_ONLY)
    yield script
    client.close()


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(last=st.one_of(st.just(0.0), finite), position=finite, furthest=finite, lesson_credited=finite,
       duration=st.floats(min_value=1, max_value=5000), day_credited=finite, daily_cap=finite,
       course_left=st.one_of(st.just(math.inf), finite), tolerance=st.floats(min_value=0, max_value=5),
       step=st.floats(min_value=0, max_value=100), claimed=finite, playing=st.booleans(),
       session_age=st.one_of(st.none(), st.floats(min_value=0, max_value=200)), origin=finite)
def test_the_lua_rule_credits_exactly_as_the_python_rule(lua_decide, last, position, furthest, lesson_credited,
                                                         duration, day_credited, daily_cap, course_left, tolerance,
                                                         step, claimed, playing, session_age, origin):
    now = last + step
    # The session's bound: started session_age seconds ago (None: no bound) at its furthest point then.
    began = 0.0 if session_age is None or now - session_age <= 0 else now - session_age
    state = credit.State(last_beat_at=last, position=position, furthest=max(furthest, position),
                         lesson_credited=lesson_credited, duration=duration, day_credited=day_credited,
                         daily_cap=daily_cap, course_left=course_left, tolerance=tolerance, began=began,
                         origin=origin)
    d = credit.decide(state, now, claimed, playing)
    n = live.num
    out = lua_decide(args=[n(state.last_beat_at), n(state.position), n(state.furthest), n(lesson_credited),
                           n(duration), n(day_credited), n(daily_cap), n(course_left), n(tolerance), n(now),
                           n(claimed), "1" if playing else "0", n(began), n(origin)])
    out = [x.decode() for x in out]
    if d.anomaly:
        assert out == ["anomaly"]
        return
    assert [float(out[0]), float(out[1]), out[2], float(out[3]), float(out[4]), float(out[5])] == [
        d.seconds, d.claimed, d.reason, d.position, d.furthest, d.last_beat_at]


# --- answered before written: the flusher ----------------------------------------------------------


@pytest.fixture
def background(xs_settings):
    return dataclasses.replace(xs_settings, study_flush_inline=False)


async def _no_captures(token: str) -> None:
    """No snapshot falls due in this session (a capture is decided by the database path, which
    writes the beats kept in Redis: these tests watch the flusher do it)."""
    from core.proctoring.study_tables import ProctorSession

    assert await ProctorSession.update({ProctorSession.plan: []}).where(ProctorSession.session == token).returning(
        ProctorSession.id)


async def _study(client, platform, studying, clock, beats: int) -> dict:
    """Start the lesson with no capture due and send ``beats`` beats of 10 s, each answered (from
    Redis) before it is written: the flusher's part is left to the test."""
    platform.live.background = True
    lesson = studying["lesson"].id
    s = await start(client, lesson)
    await _no_captures(s["token"])
    for seq in range(1, beats + 1):
        clock.advance(10)
        assert (await beat(client, s["token"], seq, lesson, seq * 10))["credited"] == 10
    return s


async def _ledger(account_id: int) -> tuple[float, int, float, float]:
    rows = await HoursEntry.select(HoursEntry.seconds).where(HoursEntry.account == account_id)
    e = await Enrollment.objects().where(Enrollment.account == account_id).first()
    p = await LessonProgress.objects().where(LessonProgress.account == account_id).first()
    return sum(r["seconds"] for r in rows), len(rows), e.credited_seconds, p.credited_seconds


async def test_beats_are_answered_from_redis_and_written_by_the_flusher(client, platform, studying, clock, test_live):
    platform.live.background = True  # answered before written; no flusher task runs in this test
    lesson, account = studying["lesson"].id, studying["account"]
    s = await start(client, lesson)
    await _no_captures(s["token"])
    for seq in range(1, 5):
        clock.advance(10)
        a = await beat(client, s["token"], seq, lesson, seq * 10)
        assert a["credited"] == 10 and a["total_seconds"] == seq * 10
    assert await _ledger(account.id) == (0, 0, 0, 0)  # nothing written yet
    assert await test_live.pending() == 4
    assert await test_live.flush() == 4
    assert await test_live.pending() == 0
    assert await _ledger(account.id) == (40, 4, 40, 40)
    clock_row = await StudyClock.objects().where(StudyClock.account == account.id).first()
    session = await StudySession.objects().where(StudySession.token == s["token"]).first()
    assert clock_row.last_beat_at == clock.now and session.last_seq == 4
    assert await test_live.flush() == 0


async def test_scripts_redis_no_longer_holds_are_loaded_again(client, platform, studying, clock, test_live):
    """After a restart or SCRIPT FLUSH the next beat loads its script and runs it once, and so does
    the flusher's trim (which must not run twice: it drops the beats it wrote)."""
    account = studying["account"]
    s = await _study(client, platform, studying, clock, 2)
    await test_live.redis.script_flush()
    clock.advance(10)
    assert (await beat(client, s["token"], 3, studying["lesson"].id, 30))["credited"] == 10
    await test_live.redis.script_flush()
    assert await test_live.flush() == 3
    assert await test_live.pending() == 0
    assert await _ledger(account.id) == (30, 3, 30, 30)


async def test_a_change_under_the_learners_lock_sees_the_beats_still_in_redis(client, platform, studying, clock, test_live):
    """Withdrawing provisional seconds (a bad snapshot) parks the learner: the unwritten beats are
    written first, then withdrawn with them; the next beat starts from the database again."""
    lesson, account = studying["lesson"].id, studying["account"]
    s = await _study(client, platform, studying, clock, 3)
    withdrawn = await coverage.withdraw(studying["tenant"], account.id, s["token"])
    assert withdrawn == 30
    assert await test_live.pending() == 3  # written by the park; the flusher's copy is a no-op
    assert await test_live.flush() == 3
    total, rows, enrolled, lesson_credited = await _ledger(account.id)
    assert (total, enrolled, lesson_credited) == (0, 0, 0) and rows == 4  # 3 beats and 1 reversal
    # The lesson went back to where the credit stands (0): that part is watched again.
    assert (await LessonProgress.objects().where(LessonProgress.account == account.id).first()).position == 0
    clock.advance(10)
    a = await beat(client, s["token"], 4, lesson, 10)
    assert a["credited"] == 10 and a["total_seconds"] == 10


async def test_simultaneous_fast_beats_never_credit_more_than_the_wall_clock(client, platform, studying, clock, test_live):
    platform.live.background = True
    lesson, account = studying["lesson"].id, studying["account"]
    s = await start(client, lesson)
    await _no_captures(s["token"])
    clock.advance(20)
    answers = await asyncio.gather(*[beat(client, s["token"], seq, lesson, 20) for seq in range(1, 41)])
    assert sum(a["credited"] for a in answers) == 20
    await test_live.flush()
    assert (await _ledger(account.id))[0] == 20


async def test_a_late_beat_and_the_next_on_schedule_are_answered_from_redis(client, studying, clock, fast_answers):
    """Under load a beat handled late must not send the next one to the database path as a seek
    ahead (an anomaly costs a park, a ledger row and a state rebuild)."""
    lesson = studying["lesson"].id
    s = await start(client, lesson)
    # No snapshot falls in these 40 s (one would send its beat to the database path).
    await ProctorSession.update({ProctorSession.plan: [50.0], ProctorSession.next_index: 0}).where(
        ProctorSession.session == s["token"])
    for seq, (wait, position) in enumerate(((10, 10), (20, 25), (10, 40)), start=1):
        clock.advance(wait)
        a = await beat(client, s["token"], seq, lesson, position)
        assert a["credited"] == 15 if seq > 1 else a["credited"] == 10
    assert len(fast_answers) == 3


async def test_a_signed_out_or_forged_beat_is_not_answered_from_redis(client, platform, studying, clock,
                                                                        fast_answers):
    lesson = studying["lesson"].id
    s = await start(client, lesson)
    clock.advance(10)
    assert (await beat(client, s["token"], 1, lesson, 10))["credited"] == 10
    assert len(fast_answers) == 1
    r = await client.post(f"{T}/study/beat", {"token": s["token"], "seq": "2", "lesson": str(lesson),
                                              "position": "20", "playing": "1", "visible": "1"}, csrf=False)
    assert r.status_code == 403  # no CSRF token: the web app refuses it
    await client.post(f"{T}/signout", {})
    clock.advance(10)
    r = await client.post(f"{T}/study/beat", {"token": s["token"], "seq": "3", "lesson": str(lesson),
                                              "position": "20", "playing": "1", "visible": "1"})
    assert r.status_code in (303, 401, 403) or "signin" in r.headers.get("location", "")
    assert len(fast_answers) == 1


async def test_a_csrf_cookie_the_session_was_not_started_with_is_not_answered_from_redis(
        client, platform, studying, clock, fast_answers):
    """A valid CSRF pair planted later (a sibling host, say) is refused: the session is bound to
    the cookie it was started with, in Redis as in the web app."""
    from litestar.middleware.csrf import generate_csrf_token

    lesson = studying["lesson"].id
    s = await start(client, lesson)
    clock.advance(10)
    planted = generate_csrf_token(platform.settings.secret_key)
    client.http.cookies.set("csrftoken", planted)
    r = await client.http.post(f"{T}/study/beat", data={
        "token": s["token"], "seq": "1", "lesson": str(lesson), "position": "10", "playing": "1", "visible": "1",
        "_csrf_token": planted})
    assert r.status_code == 403 and not fast_answers


async def test_the_flusher_loop_writes_the_beats_and_hands_its_lease_on(client, platform, studying, clock,
                                                                        test_live):
    lesson, account = studying["lesson"].id, studying["account"]
    s = await _study(client, platform, studying, clock, 3)
    flusher = live.Live(REDIS_URL, platform.settings.database_url, idle_seconds=1800, absolute_seconds=43200)
    before = live._active
    flusher.start()
    try:
        for _ in range(200):
            if await test_live.pending() == 0:
                break
            await asyncio.sleep(0.05)
    finally:
        await flusher.stop()
        live._active = before
    assert await test_live.pending() == 0
    assert await _ledger(account.id) == (30, 3, 30, 30)
    assert not await test_live.redis.exists(test_live.lease)


KILLED_FLUSH = textwrap.dedent("""
    import asyncio, os, signal, sys
    from pathlib import Path
    from core import db
    from core.kernel import build_platform
    from core.settings import Settings
    from core.study import live

    async def main():
        settings = Settings(database_url=sys.argv[1], redis_url=sys.argv[2], secret_key="x", var_dir=Path(sys.argv[3]),
                            load_entrypoints=True, db_pool_size=0)
        platform = build_platform(settings)
        live.after_commit = lambda: os.kill(os.getpid(), signal.SIGKILL)  # committed, not acknowledged
        await platform.live.flush()

    asyncio.run(main())
""")


async def test_a_flusher_killed_after_its_commit_writes_each_beat_once(client, platform, studying, clock,
                                                                        tmp_path, test_live):
    lesson, account = studying["lesson"].id, studying["account"]
    s = await _study(client, platform, studying, clock, 4)
    script = tmp_path / "flush.py"
    script.write_text(KILLED_FLUSH)
    done = subprocess.run([sys.executable, str(script), platform.settings.database_url, REDIS_URL,
                           str(tmp_path / "var")], cwd=Path(__file__).resolve().parents[1], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == -9, done.stderr[-2000:]
    assert await test_live.pending() == 4  # killed before removing them from Redis
    assert await _ledger(account.id) == (40, 4, 40, 40)  # but they were committed
    assert await test_live.flush() == 4  # written again: no effect
    assert await test_live.pending() == 0
    assert await _ledger(account.id) == (40, 4, 40, 40)
    clock.advance(10)
    assert (await beat(client, s["token"], 5, lesson, 50))["total_seconds"] == 50
    await test_live.flush()
    assert await _ledger(account.id) == (50, 5, 50, 50)


async def test_the_daily_cap_starts_again_at_china_midnight_in_redis(client, platform, studying, clock,
                                                                     fast_answers):
    import datetime as dt

    cap = studying["tenant"].rules.study.daily_cap_minutes * 60  # the construction group's, from its rules
    china = dt.timezone(dt.timedelta(hours=8))
    clock.now = dt.datetime(2033, 5, 18, 23, 59, 20, tzinfo=china).timestamp()
    lesson = studying["lesson"].id
    s = await start(client, lesson)
    await _no_captures(s["token"])
    await StudyClock.update({StudyClock.day: services.tenant_day(studying["tenant"], clock.now), StudyClock.day_seconds: cap - 10.0}).where(
        StudyClock.account == studying["account"].id)  # all but 10 s of the cap studied earlier that day
    clock.advance(20)  # 23:59:40
    a = await beat(client, s["token"], 1, lesson, 20)
    assert a["credited"] == 10 and a["reason"] == "daily_cap"
    clock.advance(30)  # 00:00:10, the next day
    a = await beat(client, s["token"], 2, lesson, 50)
    assert a["credited"] == 30 and a["reason"] == ""
    assert len(fast_answers) == 2
    row = await StudyClock.objects().where(StudyClock.account == studying["account"].id).first()
    assert (row.day, row.day_seconds) == ("2033-05-19", 30.0)


async def test_numbers_the_ledger_cannot_hold_go_to_the_database_path(client, platform, studying, clock,
                                                                      test_live, fast_answers):
    """A sequence number the flusher could not write ("1e3", 12 digits, "+5") is never kept in
    Redis: the database path answers it, and the flusher goes on writing the other beats."""
    s = await _study(client, platform, studying, clock, 1)
    lesson = studying["lesson"].id
    for seq in ("1e3", "999999999999", "+5", " 7", "0x10"):
        clock.advance(1)
        r = await client.post(f"{T}/study/beat", {"token": s["token"], "seq": seq, "lesson": str(lesson),
                                                  "position": "11", "playing": "1", "visible": "1"})
        assert r.status_code == 200, (seq, r.status_code)  # "+5" and " 7" are numbers to Python
    assert len(fast_answers) == 1
    clock.advance(10)
    assert (await beat(client, s["token"], 9, lesson, 20))["credited"] == 9
    assert len(fast_answers) == 2
    assert await test_live.flush() >= 1
    assert await test_live.pending() == 0


async def test_an_unreadable_pending_beat_is_dropped_and_the_rest_written(client, platform, studying, clock,
                                                                          test_live, caplog):
    await _study(client, platform, studying, clock, 2)
    account = studying["account"]
    await test_live.redis.rpush(test_live.pending_key(studying["tenant"].id, account.id), b"not|a|beat")
    assert await test_live.flush() == 2
    assert await test_live.pending() == 0
    assert await _ledger(account.id) == (20, 2, 20, 20)
    assert "unreadable study beat dropped" in caplog.text


async def test_two_flushers_with_the_same_beats_never_drop_one_that_came_after(client, platform, studying, clock,
                                                                               test_live, monkeypatch):
    """Two flushes read the same pending beats (a lease that lapsed during a long flush); a beat
    arrives after the first one's commit. The second one's removal must not take it."""
    import msgspec
    from redis import Redis

    await _study(client, platform, studying, clock, 2)
    tenant, account = studying["tenant"], studying["account"]
    key = test_live.pending_key(tenant.id, account.id)
    last = msgspec.msgpack.decode(
        (await test_live.redis.lrange(key, -1, -1))[0], type=live.Entry)
    later = msgspec.msgpack.encode(msgspec.structs.replace(last, seq=last.seq + 1))
    sync = Redis.from_url(test_live.redis_url)
    pushed = []

    def a_beat_arrives():
        if not pushed:
            pushed.append(sync.rpush(key, later))

    monkeypatch.setattr(live, "after_commit", a_beat_arrives)
    member = f"{tenant.id}:{account.id}"
    assert await asyncio.gather(test_live.flush(members=[member]), test_live.flush(members=[member])) == [2, 2]
    assert pushed and await test_live.redis.lrange(key, 0, -1) == [later]
    monkeypatch.setattr(live, "after_commit", None)
    assert await test_live.flush() == 1
    assert await test_live.pending() == 0
    assert (await _ledger(account.id))[1] == 3
    sync.close()


async def test_a_session_of_another_tenant_is_not_answered_from_redis(client, platform, studying, clock,
                                                                      fast_answers):
    """The construction learner's session id sent as the survey tenant's cookie: the script finds
    the session belongs to another tenant and leaves the beat to the web app (not signed in)."""
    lesson = studying["lesson"].id
    s = await start(client, lesson)
    sid = client.http.cookies.get(platform.sessions.cookie_name("construction"))
    client.http.cookies.set(platform.sessions.cookie_name("survey"), sid)
    clock.advance(10)
    r = await client.post("/t/survey/study/beat", {"token": s["token"], "seq": "1", "lesson": str(lesson),
                                                   "position": "10", "playing": "1", "visible": "1"})
    assert r.status_code != 200 and not fast_answers


async def test_a_backlog_is_written_in_slices_of_a_learners_beats(client, platform, studying, clock, test_live,
                                                                  monkeypatch):
    monkeypatch.setattr(live, "FLUSH_PER_LEARNER", 2)
    account = studying["account"]
    await _study(client, platform, studying, clock, 5)
    assert await test_live.flush() == 2 and await test_live.pending() == 3
    assert await test_live.flush() == 2 and await test_live.flush() == 1
    assert await test_live.pending() == 0
    assert await _ledger(account.id) == (50, 5, 50, 50)
