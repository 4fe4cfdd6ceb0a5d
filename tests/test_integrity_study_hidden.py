"""The cheater's suite, hang-up study (挂机, issue 19 #6): a page that is hidden, or a player that is
not visibly playing, earns no time, and the learner is told why.

The server knows only what the page reports. It enforces what follows from the reports: a beat
that says the page is hidden earns nothing and moves the position no further, and once a page
said it was hidden, the span up to its next beat (the way back) earns nothing either, whatever
that beat claims. A page that never reports hiding (a forged client) is what a browser cannot
prevent (docs/study.md, threat model): snapshots and the idle evidence are the check on it.

Run again with live study on (PostgreSQL + Redis) by tests/test_integrity_study_live.py.
"""

from __future__ import annotations

from core.courses.tables import Enrollment
from core.study.tables import HoursEntry, LessonProgress
from tests.test_study import beat, clock, lesson_video, start, studying  # noqa: F401

T = "/t/construction"
HIDDEN = "未计入学时：页面不在前台或视频未在播放时不计学时"


async def _credited(account_id: int) -> float:
    return (await Enrollment.objects().where(Enrollment.account == account_id).first()).credited_seconds


async def test_a_hidden_page_earns_nothing_even_when_it_claims_visible_afterwards(client, studying, clock):
    lesson, account = studying["lesson"].id, studying["account"]
    s = await start(client, lesson)
    clock.advance(10)
    assert (await beat(client, s["token"], 1, lesson, 10))["credited"] == 10
    # The page goes to the background but the video keeps playing (a player that does not pause).
    clock.advance(15)
    a = await beat(client, s["token"], 2, lesson, 25, visible=False)
    assert a["credited"] == 0 and a["reason"] == "hidden" and a["message"] == HIDDEN and not a["anomaly"]
    assert a["position"] == 10  # nothing watched: the page is sent back
    # A forged report claims the page was visible all along: the span back from hidden earns nothing.
    clock.advance(15)
    a = await beat(client, s["token"], 3, lesson, 25)
    assert a["credited"] == 0 and a["reason"] == "hidden" and a["message"] == HIDDEN and a["position"] == 10
    # A page that stays visible earns again, from where the credit stands.
    clock.advance(15)
    a = await beat(client, s["token"], 4, lesson, 25)
    assert a["credited"] == 15 and a["message"] == ""
    assert await _credited(account.id) == 25  # of 55 s, of which 30 hidden
    rows = await HoursEntry.objects().where((HoursEntry.account == account.id) & (HoursEntry.reason == "hidden"))
    assert len(rows) == 2 and all(r.seconds == 0 and not r.anomaly for r in rows)
    e = await Enrollment.objects().where(Enrollment.account == account.id).first()
    assert HIDDEN in (await client.get(f"{T}/study/{e.id}")).text  # the course page says why


async def test_the_players_hide_and_return_credit_what_played_before_and_nothing_while_hidden(client, studying, clock):
    """The page's own reports (core/static/js/player.js): hidden → the video pauses and a hide beat
    reports where it stopped; back → a show beat; the learner presses play."""
    lesson, account = studying["lesson"].id, studying["account"]
    s = await start(client, lesson)
    clock.advance(10)
    assert (await beat(client, s["token"], 1, lesson, 10))["credited"] == 10
    clock.advance(5)
    a = await beat(client, s["token"], 2, lesson, 15, playing=False, event="hide", visible=False)
    assert a["credited"] == 5 and a["message"] == ""  # played up to the hide: visible until then
    clock.advance(35)  # 35 s in the background
    a = await beat(client, s["token"], 3, lesson, 15, playing=False, event="show")
    assert a["credited"] == 0 and a["message"] == "" and a["position"] == 15
    clock.advance(15)
    a = await beat(client, s["token"], 4, lesson, 30)
    assert a["credited"] == 15
    assert await _credited(account.id) == 30
    progress = await LessonProgress.objects().where(LessonProgress.account == account.id).first()
    assert progress.position == 30 and progress.credited_seconds == 30


async def test_a_hide_report_then_a_quick_visible_claim_with_a_far_position_is_refused(client, studying, clock):
    """A script that says hidden and then, a moment later, visible at a position as if it had
    played all along: nothing for the hidden span, and the position stays where it was."""
    lesson, account = studying["lesson"].id, studying["account"]
    s = await start(client, lesson)
    clock.advance(10)
    await beat(client, s["token"], 1, lesson, 10)
    clock.advance(1)
    await beat(client, s["token"], 2, lesson, 11, event="hide", visible=False)
    for seq in range(3, 7):  # hidden beats claiming play: nothing
        clock.advance(10)
        a = await beat(client, s["token"], seq, lesson, 11 + (seq - 2) * 10, visible=False)
        assert a["credited"] == 0 and a["position"] == 11
    clock.advance(0.5)
    a = await beat(client, s["token"], 7, lesson, 12)
    assert a["credited"] == 0 and a["position"] == 11
    assert await _credited(account.id) == 11


async def test_a_paused_or_stalled_player_earns_nothing(client, studying, clock):
    lesson, account = studying["lesson"].id, studying["account"]
    s = await start(client, lesson)
    clock.advance(10)
    await beat(client, s["token"], 1, lesson, 10)
    clock.advance(30)
    a = await beat(client, s["token"], 2, lesson, 10, playing=False)  # visible, paused for 30 s
    assert a["credited"] == 0
    clock.advance(30)
    a = await beat(client, s["token"], 3, lesson, 10)  # "playing" but stalled: no advance
    assert a["credited"] == 0
    assert await _credited(account.id) == 10
