"""The cheater's suite, exams: the result page as an answer oracle (issue 19, class 4).

The attack: answer one question per attempt, hand in, read the result, start again — 135
attempts in 37 s learned 58 answers. Retakes stay unlimited (the construction group's guide:
考核未通过的，可继续考核测试，直至合格为止) but are paced by the tenant's rules: a cool-down after
each attempt and a number of attempts per day (the tenant's day: China time). Every value below
is read from the construction group's rules, none is patched. The pause is decided where the
attempt is inserted, so simultaneous starts do not each find room for one more.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import math
import sqlite3
from types import SimpleNamespace

import asyncpg
import pytest

from core import tenant_time
from core.courses import services as courses
from core.courses.tables import Enrollment
from core.exams import attempts, pacing
from core.exams.writes import ExamError
from core.exams.tables import ExamAttempt
from core.exams.values import ExamPolicy
from exam_helpers import CONFIRM, T, exam_learner, paper, save, shown, stepped_clock

CHINA = dt.timezone(dt.timedelta(hours=8))


@pytest.fixture
def clock(monkeypatch):
    return stepped_clock(monkeypatch)


@pytest.fixture
async def learner(client, platform, make_account):
    return await exam_learner(client, platform, make_account)


def china(day: dt.date, hour: int, minute: int = 0, second: int = 0) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=CHINA)


async def try_once(client, enrollment_id: int) -> int | None:
    """The attacker's round: start, answer the first question, hand in, read the result.
    Returns the attempt's id, or None when the start was refused."""
    r = await client.post(f"{T}/exams/{enrollment_id}/start")
    assert r.status_code == 303, r.text
    if "/exams/attempts/" not in r.headers["location"]:
        return None
    attempt_id = int(r.headers["location"].rsplit("/", 1)[1])
    a, q = (await paper(attempt_id))[0]
    assert (await save(client, attempt_id, a.seq, shown(a, q.answer))).status_code == 200
    assert (await client.post(f"{T}/exams/attempts/{attempt_id}/submit", data=CONFIRM)).status_code == 303
    assert (await client.get(f"{T}/exams/attempts/{attempt_id}")).status_code == 200
    return attempt_id


async def attempts_of(learner) -> list[ExamAttempt]:
    return list(await ExamAttempt.objects().where(ExamAttempt.account == learner["account"].id).order_by(ExamAttempt.id))


async def test_the_135_attempts_in_37_seconds_are_refused_after_the_limit(client, learner, clock):
    rules = learner["tenant"].rules.exam
    assert rules.cooldown_minutes > 0 and rules.daily_attempts > 0, "the construction rules pace retakes"
    day = (dt.datetime.now(CHINA) + dt.timedelta(days=2)).date()
    clock.at = china(day, 8)
    enrollment_id = learner["enrollment"].id

    # The burst: 135 tries, the clock moving 37 s over them.
    accepted = []
    for i in range(135):
        clock.offset = dt.timedelta(seconds=37 * i / 135)
        if (attempt_id := await try_once(client, enrollment_id)) is not None:
            accepted.append(attempt_id)
    assert len(accepted) == 1, accepted
    page = (await client.get(f"{T}/exams")).text
    first = (await attempts_of(learner))[0]
    assert "距上次交卷时间过短，请稍后再考" in page
    assert f"下次可考时间：<b>{tenant_time.format_datetime(first.submitted_at + dt.timedelta(minutes=rules.cooldown_minutes), tenant_time.zone_named('Asia/Shanghai'))}</b>" in page
    r = await client.post(f"{T}/exams/{enrollment_id}/start")
    assert "/exams?notice=" in r.headers["location"] and await ExamAttempt.count().where(
        ExamAttempt.account == learner["account"].id) == 1

    # One second before the cool-down ends: refused; at its end: accepted.
    clock.at, clock.offset = first.submitted_at + dt.timedelta(minutes=rules.cooldown_minutes, seconds=-1), dt.timedelta()
    assert await try_once(client, enrollment_id) is None
    clock.at += dt.timedelta(seconds=1)
    assert await try_once(client, enrollment_id) is not None

    # The rest of the day, trying every minute: the day's number, no more.
    while len(await attempts_of(learner)) < rules.daily_attempts:
        clock.at += dt.timedelta(minutes=1)
        await try_once(client, enrollment_id)
    done = await attempts_of(learner)
    assert len(done) == rules.daily_attempts
    for before, after in zip(done, done[1:]):
        assert after.started_at >= before.submitted_at + dt.timedelta(minutes=rules.cooldown_minutes)
    clock.at = china(day, 23, 59, 59)
    assert await try_once(client, enrollment_id) is None
    assert "今日考核次数已用完，请明天再考" in (await client.get(f"{T}/exams")).text
    assert len(await attempts_of(learner)) == rules.daily_attempts

    # Midnight in China (16:00 UTC) starts the next day's number.
    clock.at = china(day + dt.timedelta(days=1), 0)
    assert await try_once(client, enrollment_id) is not None

    # What that means for the attack (the same pacing rule on attempt-like rows, no database): printed for docs/exams.md.
    policy = ExamPolicy(required=True, cooldown_minutes=rules.cooldown_minutes, daily_attempts=rules.daily_attempts)
    t0, now, history = china(day, 0), china(day, 0), []
    while len(history) < 135:
        wait = pacing.pause(policy, history, now)
        if wait is not None:
            now = wait.until
            continue
        history.append(SimpleNamespace(started_at=now, submitted_at=now + dt.timedelta(seconds=1), status="submitted"))
        now += dt.timedelta(seconds=1)
    days = (now - t0) / dt.timedelta(days=1)
    print(f"\nexam oracle pacing (construction rules: cooldown {rules.cooldown_minutes} min, "
          f"{rules.daily_attempts} a day): burst of 135 tries in 37 s -> {len(accepted)} attempt; "
          f"135 attempts need {math.ceil(days)} days (were 37 s)")
    assert math.ceil(days) == math.ceil(135 / rules.daily_attempts)


async def test_the_day_is_the_tenants_china_day(client, learner, clock):
    """Attempts early in the morning in China belong to the same day as 08:00 there, which is
    midnight UTC: a UTC day would let the learner start again at 08:00."""
    rules = learner["tenant"].rules.exam
    day = (dt.datetime.now(CHINA) + dt.timedelta(days=2)).date()
    clock.at = china(day, 5)
    for _ in range(rules.daily_attempts):
        assert await try_once(client, learner["enrollment"].id) is not None
        clock.at += dt.timedelta(minutes=rules.cooldown_minutes, seconds=5)
    clock.at = china(day, 8)  # 00:00 UTC of the next UTC day
    assert await try_once(client, learner["enrollment"].id) is None


async def test_many_tabs_hammering_get_one_attempt_per_pause(client, learner, clock):
    """Rounds of 12 tabs, each starting, handing in and starting again: per round exactly one
    attempt (the cool-down), per day no more than the day's number. (The test client serves
    these one after another; the race between a check and an insert is the next test's.)"""
    rules = learner["tenant"].rules.exam
    day = (dt.datetime.now(CHINA) + dt.timedelta(days=2)).date()
    clock.at = china(day, 6)
    enrollment_id = learner["enrollment"].id

    async def tab():
        for _ in range(3):
            r = await client.post(f"{T}/exams/{enrollment_id}/start")
            if "/exams/attempts/" in r.headers["location"]:
                attempt_id = int(r.headers["location"].rsplit("/", 1)[1])
                await client.post(f"{T}/exams/attempts/{attempt_id}/submit", data=CONFIRM)

    for round_ in range(rules.daily_attempts + 2):
        await asyncio.gather(*[tab() for _ in range(12)])
        assert len(await attempts_of(learner)) == min(round_ + 1, rules.daily_attempts), round_
        clock.at += dt.timedelta(minutes=rules.cooldown_minutes, seconds=1)
    done = await attempts_of(learner)
    assert all(a.status != "open" for a in done)
    for before, after in zip(done, done[1:]):
        assert after.started_at >= before.submitted_at + dt.timedelta(minutes=rules.cooldown_minutes)


@contextlib.asynccontextmanager
async def attempts_held(database_url: str):
    """Another writer holds back every insert of an attempt (PostgreSQL: a SHARE lock on the
    table; SQLite: the write lock) while requests run their checks; released on exit."""
    if database_url.startswith("postgres"):
        conn = await asyncpg.connect(database_url)
        transaction = conn.transaction()
        await transaction.start()
        await conn.execute("LOCK TABLE exam_attempt IN SHARE MODE")
        try:
            yield lambda: conn.fetchval("SELECT count(*) FROM pg_locks WHERE NOT granted")
        finally:
            await transaction.rollback()
            await conn.close()
    else:
        conn = sqlite3.connect(database_url.removeprefix("sqlite:///"), isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield None
        finally:
            conn.execute("ROLLBACK")
            conn.close()


async def test_starts_on_two_courses_of_the_position_that_pass_their_checks_together_make_one_attempt(
        client, learner, clock, xs_database_url):
    """Two enrolments on the position (one bank, one pace). Both starts read the learner's
    attempts while the first insert is held back, so both saw room for an attempt; the pause is
    decided again under the learner's lock where the attempt is inserted: one attempt, the other
    start is refused (the other course waits for this attempt's end)."""
    t, account = learner["tenant"], learner["account"]
    other = await courses.create_course(t, learner["position"].id, 2027, "同岗位另一课程", 1.0)
    second = Enrollment(tenant=t.id, account=account.id, course=other.id, status="review",
                        credited_seconds=2700.0, created_at=dt.datetime.now(dt.UTC))
    await second.save()
    clock.at = china((dt.datetime.now(CHINA) + dt.timedelta(days=2)).date(), 9)
    async def start(enrollment_id: int) -> str:
        try:
            await attempts.start_attempt(learner["hooks"], t, account.id, enrollment_id)
        except ExamError as exc:
            return exc.code
        return "started"

    # The services, not HTTP: the test client hands a request to the app only after the previous
    # one has answered, so it cannot hold two starts between their checks and their inserts.
    async with attempts_held(xs_database_url) as waiting:
        starts = [asyncio.create_task(start(i)) for i in (learner["enrollment"].id, second.id)]
        for _ in range(40):  # until both wait to write (PostgreSQL shows it; SQLite: a pause)
            await asyncio.sleep(0.05)
            if waiting is not None and await waiting() >= 2:
                break
        assert not any(s.done() for s in starts)
    assert sorted(await asyncio.gather(*starts)) == ["cooldown", "started"]
    made = await attempts_of(learner)
    assert len(made) == 1, [(a.id, a.course) for a in made]
    assert "距上次交卷时间过短，请稍后再考" in (await client.get(f"{T}/exams")).text
