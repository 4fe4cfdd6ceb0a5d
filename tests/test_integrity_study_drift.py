"""The cheater's suite, position drift (issue 19 #7): the position cannot run ahead of the clock.

The per-beat tolerance (``study.tolerance_seconds``) once let every beat move the position that
much further than the time since the previous beat: five beats a second moved it about 10× real
time, and a lesson showed 已学完 long before it could have been watched. Over a whole session the
position now stays within the furthest point at the session's start plus the wall-clock time
since, plus one tolerance.

Run again with live study on (PostgreSQL + Redis) by tests/test_integrity_study_live.py.
"""

from __future__ import annotations

from core.courses.tables import Enrollment
from core.study.tables import HoursEntry, LessonProgress
from tests.test_study import beat, clock, lesson_video, start, studying  # noqa: F401

T = "/t/construction"


async def test_five_beats_a_second_cannot_move_the_position_faster_than_the_clock(client, studying, clock):
    lesson, account = studying["lesson"].id, studying["account"]
    tol = studying["tenant"].rules.study.tolerance_seconds
    s = await start(client, lesson)
    began = clock.now
    position, seq = 0.0, 0
    for _ in range(75):  # 15 s of beats every 0.2 s, each claiming all the rule allows per beat
        clock.advance(0.2)
        seq += 1
        a = await beat(client, s["token"], seq, lesson, round(position + 0.2 + tol - 0.01, 3))
        position = a["position"]
        assert position <= (clock.now - began) + tol + 1e-6, (seq, position, clock.now - began)
    progress = await LessonProgress.objects().where(LessonProgress.account == account.id).first()
    assert progress.furthest <= 15 + tol + 1e-6 and not progress.completed  # a 60 s lesson
    e = await Enrollment.objects().where(Enrollment.account == account.id).first()
    assert e.credited_seconds <= 15 + 1e-6
    # The claims past the bound were refused as seeks ahead (recorded for the reviewer).
    assert await HoursEntry.exists().where((HoursEntry.account == account.id) & (HoursEntry.reason == "seek_ahead")
                                           & (HoursEntry.anomaly == True))  # noqa: E712


async def test_the_lesson_is_not_finished_before_its_duration_has_passed(client, studying, clock):
    """The issue's figure: a lesson shown 已学完 after a fraction of its length."""
    lesson, account = studying["lesson"].id, studying["account"]
    tol = studying["tenant"].rules.study.tolerance_seconds
    duration = studying["lesson"].duration_seconds
    s = await start(client, lesson)
    began = clock.now
    position, seq = 0.0, 0
    while clock.now - began < duration - 2 * tol - 1:
        clock.advance(0.5)
        seq += 1
        position = (await beat(client, s["token"], seq, lesson, round(position + 0.5 + tol - 0.01, 3)))["position"]
        done = (await LessonProgress.objects().where(LessonProgress.account == account.id).first()).completed
        assert not done, (clock.now - began, position)


async def test_an_honest_player_is_not_held_back_by_the_bound(client, studying, clock):
    """Beats at the page's interval, a little late or early, a seek back and the lesson's end:
    everything watched is credited."""
    lesson, account = studying["lesson"].id, studying["account"]
    duration = studying["lesson"].duration_seconds
    s = await start(client, lesson)
    clock.advance(1.5)  # the video starts a moment after the session
    position, seq = 0.0, 0
    for step in (15.4, 14.6, 15.2):
        clock.advance(step)
        seq += 1
        position += step
        a = await beat(client, s["token"], seq, lesson, position)
        assert a["credited"] > 0 and not a["anomaly"], a
    clock.advance(duration - position)
    seq += 1
    a = await beat(client, s["token"], seq, lesson, duration, playing=False, event="end")
    assert not a["anomaly"] and a["message"] == ""
    progress = await LessonProgress.objects().where(LessonProgress.account == account.id).first()
    assert progress.completed and abs(progress.credited_seconds - duration) < 1e-6
