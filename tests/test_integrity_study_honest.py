"""What honest learners met (issue 19): the rules against cheating must not punish the ordinary case.

* Every normal lesson end showed two red messages ("重复提交的学习记录", "本次学习已结束…"): the
  page's pause and end reports raced and one was sent twice. The page now sends one beat at a
  time; the server answers a resent last beat again without effect and records no anomaly.
* Clicking ahead on the timeline was told "播放速度异常": a forward jump is told
  "不能拖动到未学习的位置" (the player clamps it before it is sent; tests/browser/test_study_flow.py).

Run again with live study on (PostgreSQL + Redis) by tests/test_integrity_study_live.py.
"""

from __future__ import annotations

from core.courses.tables import Enrollment
from core.study.tables import HoursEntry
from tests.test_study import beat, clock, lesson_video, start, studying  # noqa: F401

T = "/t/construction"


async def test_a_lesson_end_after_a_pause_shows_no_red_message_and_leaves_no_refused_rows(client, studying, clock):
    lesson, account = studying["lesson"].id, studying["account"]
    duration = studying["lesson"].duration_seconds
    s = await start(client, lesson)
    position, seq = 0.0, 0
    while position < duration - 15:
        clock.advance(15)
        seq += 1
        position += 15
        assert (await beat(client, s["token"], seq, lesson, position))["message"] == ""
    clock.advance(duration - position)
    # The browser fires pause, then ended; the pause's request is sent twice (its answer was lost,
    # or two sends raced), the end follows, then the end is sent again.
    answers = [await beat(client, s["token"], seq + 1, lesson, duration, playing=False, event="pause"),
               await beat(client, s["token"], seq + 1, lesson, duration, playing=False, event="pause"),
               await beat(client, s["token"], seq + 2, lesson, duration, playing=False, event="end"),
               await beat(client, s["token"], seq + 2, lesson, duration, playing=False, event="end")]
    assert [a["message"] for a in answers] == ["", "", "", ""], answers
    assert not any(a["anomaly"] or a["paused"] for a in answers)
    assert not await HoursEntry.exists().where((HoursEntry.account == account.id) & (HoursEntry.reason != ""))
    e = await Enrollment.objects().where(Enrollment.account == account.id).first()
    assert "未计入学时" not in (await client.get(f"{T}/study/{e.id}")).text
    # A new beat after the end is still refused (and recorded), as is an older one.
    clock.advance(5)
    for n in (seq + 3, seq):
        a = await beat(client, s["token"], n, lesson, duration)
        assert a["reason"] == "session_ended" and a["anomaly"] and a["credited"] == 0


async def test_a_forward_jump_is_told_it_cannot_skip_ahead(client, studying, clock):
    lesson = studying["lesson"].id
    s = await start(client, lesson)
    clock.advance(7)
    a = await beat(client, s["token"], 1, lesson, 7 + 15)  # clicked 15 s ahead after watching 7 s
    assert a["reason"] == "seek_ahead" and a["message"] == "未计入学时：不能拖动到未学习的位置"
    assert "播放速度" not in a["message"]
