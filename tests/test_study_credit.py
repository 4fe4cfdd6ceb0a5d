"""The crediting rule (core.study.credit.decide), property-tested: no sequence of beats credits
more than the wall-clock time elapsed, the lesson's duration or the daily cap."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from core.study.credit import LATE_MAX, State, decide

beats = st.lists(
    st.tuples(
        st.floats(min_value=0, max_value=120, allow_nan=False),  # seconds since the previous beat
        st.one_of(st.floats(min_value=-50, max_value=5000, allow_nan=False), st.just(math.nan),
                  st.just(math.inf)),  # claimed position: anything a forged client may send
        st.booleans(),  # playing
    ),
    max_size=60,
)


def run(seq, duration: float, cap: float, start: float = 1_000_000.0, tolerance: float = 2.0):
    """Apply a sequence of beats as the service does; returns (credits, elapsed, state)."""
    s = State(last_beat_at=start, position=0.0, furthest=0.0, lesson_credited=0.0, duration=duration,
              day_credited=0.0, daily_cap=cap, tolerance=tolerance)
    now, total = start, 0.0
    for gap, claimed, playing in seq:
        now += gap
        d = decide(s, now, claimed, playing)
        assert d.seconds >= 0
        assert d.seconds <= max(0.0, d.claimed) + 1e-9
        total += d.seconds
        s = State(last_beat_at=d.last_beat_at, position=d.position, furthest=d.furthest,
                  lesson_credited=s.lesson_credited + d.seconds, duration=duration,
                  day_credited=s.day_credited + d.seconds, daily_cap=cap, tolerance=tolerance)
        assert s.furthest <= duration + 1e-9
    return total, now - start, s


@settings(max_examples=400, deadline=None)
@given(beats, st.floats(min_value=1, max_value=3000), st.floats(min_value=0, max_value=3000))
def test_no_sequence_credits_more_than_wall_clock_duration_or_daily_cap(seq, duration, cap):
    total, elapsed, _ = run(seq, duration, cap)
    assert total <= elapsed + 1e-6
    assert total <= duration + 1e-6
    assert total <= cap + 1e-6


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(min_value=0, max_value=60, allow_nan=False), max_size=40),
       st.floats(min_value=1, max_value=3000))
def test_honest_playback_is_credited_in_full_up_to_the_duration(gaps, duration):
    """A player that really plays (position advances by the elapsed time) loses nothing."""
    s = State(last_beat_at=100.0, position=0.0, furthest=0.0, lesson_credited=0.0, duration=duration,
              day_credited=0.0, daily_cap=1e9)
    now, total = 100.0, 0.0
    for gap in gaps:
        now += gap
        d = decide(s, now, min(duration, s.position + gap), True)
        assert not d.anomaly
        total += d.seconds
        s = State(d.last_beat_at, d.position, d.furthest, s.lesson_credited + d.seconds, duration,
                  s.day_credited + d.seconds, 1e9)
    assert math.isclose(total, min(duration, sum(gaps)), abs_tol=1e-6)


def test_a_position_jump_is_an_anomaly_and_not_credited():
    s = State(last_beat_at=100.0, position=10.0, furthest=10.0, lesson_credited=10.0, duration=600.0,
              day_credited=0.0, daily_cap=28800.0)
    d = decide(s, 115.0, 300.0, True)
    assert d.seconds == 0 and d.anomaly and d.reason == "seek_ahead" and d.position == 10.0


def test_a_sped_up_rate_is_an_anomaly_told_as_a_seek_ahead():
    s = State(last_beat_at=100.0, position=10.0, furthest=10.0, lesson_credited=10.0, duration=600.0,
              day_credited=0.0, daily_cap=28800.0)
    d = decide(s, 110.0, 10.0 + 10 * 16 / 8, True)  # ×2 over 10 s: a rate or a click ahead, alike to the server
    assert d.anomaly and d.reason == "seek_ahead" and d.seconds == 0 and d.position == 10.0


def test_buffering_earns_nothing_and_is_no_anomaly():
    s = State(last_beat_at=100.0, position=10.0, furthest=10.0, lesson_credited=10.0, duration=600.0,
              day_credited=0.0, daily_cap=28800.0)
    d = decide(s, 130.0, 10.0, True)  # stalled: no advance in 30 s
    assert d.seconds == 0 and not d.anomaly and d.reason == ""
    d = decide(s, 130.0, 12.0, False)  # paused
    assert d.seconds == 0 and not d.anomaly


def test_seeking_back_is_fine_and_the_daily_cap_binds():
    s = State(last_beat_at=100.0, position=100.0, furthest=100.0, lesson_credited=100.0, duration=600.0,
              day_credited=0.0, daily_cap=28800.0)
    d = decide(s, 105.0, 20.0, True)
    assert d.position == 20.0 and d.furthest == 100.0 and not d.anomaly
    capped = State(100.0, 100.0, 100.0, 100.0, 600.0, day_credited=28795.0, daily_cap=28800.0)
    d = decide(capped, 115.0, 115.0, True)
    assert d.seconds == 5.0 and d.reason == "daily_cap" and not d.anomaly


def test_the_first_beat_without_a_clock_earns_nothing():
    s = State(last_beat_at=0.0, position=0.0, furthest=0.0, lesson_credited=0.0, duration=600.0,
              day_credited=0.0, daily_cap=28800.0)
    d = decide(s, 1000.0, 1.0, True)
    assert d.seconds == 0 and d.last_beat_at == 1000.0


def test_the_session_bound_holds_at_its_boundary():
    """A session that started at 99 at its furthest point 0: at 105 the position may be at most
    0 + 6 + tolerance, although the last position plus the elapsed time would allow 10."""
    s = State(last_beat_at=100.0, position=3.0, furthest=3.0, lesson_credited=3.0, duration=600.0,
              day_credited=0.0, daily_cap=28800.0, tolerance=2.0, began=99.0, origin=0.0)
    assert not decide(s, 105.0, 8.0, True).anomaly
    d = decide(s, 105.0, 8.01, True)
    assert d.anomaly and d.reason == "seek_ahead" and d.seconds == 0 and d.position == 3.0
    unbounded = State(100.0, 3.0, 3.0, 3.0, 600.0, 0.0, 28800.0, tolerance=2.0)  # no session: the per-beat rule
    assert not decide(unbounded, 105.0, 10.0, True).anomaly


def test_a_hidden_page_earns_nothing_and_the_span_back_from_it_neither():
    s = State(last_beat_at=100.0, position=10.0, furthest=10.0, lesson_credited=10.0, duration=600.0,
              day_credited=0.0, daily_cap=28800.0)
    d = decide(s, 115.0, 25.0, True, visible=False)
    assert (d.seconds, d.claimed, d.reason, d.anomaly, d.position, d.furthest) == (0, 15.0, "hidden", False, 10.0, 10.0)
    assert d.last_beat_at == 115.0  # the hidden span is consumed
    after = State(115.0, 10.0, 10.0, 10.0, 600.0, 0.0, 28800.0, hidden=True)
    d = decide(after, 130.0, 25.0, True)  # claims visible: its span began hidden
    assert d.seconds == 0 and d.reason == "hidden" and d.position == 10.0
    d = decide(after, 130.0, 5.0, False)  # back to the page, paused, after seeking back: fine, no claim
    assert d.seconds == 0 and d.reason == "" and d.position == 5.0


# --- a beat the server handled late ------------------------------------------------------------------


def _state(last: float, position: float, **kw) -> State:
    return State(last_beat_at=last, position=position, furthest=position, lesson_credited=position,
                 duration=6000.0, day_credited=0.0, daily_cap=28800.0, tolerance=2.0, **kw)


def _follow(s: State, d) -> State:
    return State(d.last_beat_at, d.position, d.furthest, s.lesson_credited + d.seconds, s.duration,
                 s.day_credited + d.seconds, s.daily_cap, tolerance=s.tolerance, began=s.began, origin=s.origin)


def test_a_beat_answered_late_leaves_its_unused_time_to_the_next_one_on_schedule():
    """The player beats every 15 s; the beat sent at 25 reaches the server 5 s late (at 30 instead
    of 25), the next one on time (at 40, position 40). Without the late beat's unused time the next
    one would claim 15 s of position in 10 s of wall time and be refused as a seek ahead."""
    s = _state(10.0, 10.0, began=0.0 + 1e-9, origin=0.0)
    d = decide(s, 30.0, 25.0, True)  # 20 s of wall time, 15 s of position: credited 15
    assert (d.seconds, d.reason, d.anomaly) == (15.0, "", False) and d.last_beat_at == 25.0
    d2 = decide(_follow(s, d), 40.0, 40.0, True)
    assert (d2.seconds, d2.reason, d2.anomaly, d2.position) == (15.0, "", False, 40.0)
    assert d.seconds + d2.seconds == 40.0 - 10.0  # credit equals the wall time since the first beat


def test_a_late_beat_leaves_at_most_late_max_and_never_more_than_the_clock():
    s = _state(100.0, 100.0)
    d = decide(s, 200.0, 110.0, True)  # 100 s of wall time, 10 s of position
    assert d.seconds == 10.0 and d.last_beat_at == 200.0 - LATE_MAX
    assert decide(_follow(s, d), 215.0, 110.0 + 15 + LATE_MAX + 2.0, True).seconds == 15 + LATE_MAX
    assert decide(_follow(s, d), 215.0, 110.0 + 15 + LATE_MAX + 2.01, True).reason == "seek_ahead"


def test_a_seek_forward_is_still_refused_after_a_beat_on_schedule_a_pause_or_a_stall():
    """Only a late beat that advanced leaves time: a pause (or a stall, or a beat on schedule)
    consumes its wall time, so clicking forward afterwards is a seek ahead as before."""
    for playing, claimed in ((True, 115.0), (False, 100.0), (True, 100.0), (True, 90.0)):
        s = _state(100.0, 100.0)
        d = decide(s, 115.0, claimed, playing)
        assert not d.anomaly and d.last_beat_at == 115.0
        after = decide(_follow(s, d), 130.0, d.position + 15 + 2.01, True)
        assert after.anomaly and after.reason == "seek_ahead" and after.seconds == 0
        assert after.position <= d.furthest


def test_rapid_beats_cannot_store_time_for_a_jump():
    """Five beats a second each claiming all the rule allows: none of them leaves time, and the
    position stays within the session's bound."""
    s = _state(100.0, 0.0, began=100.0, origin=0.0)
    now = 100.0
    for _ in range(50):
        now += 0.2
        d = decide(s, now, s.position + 0.2 + 1.99, True)
        assert d.last_beat_at == max(s.last_beat_at, now)
        assert d.position <= now - 100.0 + 2.0 + 1e-9
        s = _follow(s, d)
    assert decide(s, now + 1.0, s.position + 5.0, True).reason == "seek_ahead"


def test_a_late_beat_never_lets_the_position_pass_the_sessions_bound():
    """A position already at the session's bound (30 s into a session begun at 0, plus the
    tolerance) that then lags: the time left by the lagging beat does not pass that bound."""
    s = _state(130.0, 32.0, began=100.0, origin=0.0)
    d = decide(s, 140.0, 33.0, True)  # 10 s of wall time, 1 s of position
    assert d.last_beat_at == 131.0
    assert decide(_follow(s, d), 145.0, 47.0, True).anomaly is False  # 0 + 45 + tolerance
    refused = decide(_follow(s, d), 145.0, 47.01, True)  # the per-beat bound alone would allow 49
    assert refused.anomaly and refused.reason == "seek_ahead" and refused.seconds == 0


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.floats(min_value=0.5, max_value=60, allow_nan=False),
                          st.floats(min_value=0, max_value=60, allow_nan=False)), max_size=40))
def test_an_honest_player_answered_late_is_never_refused_and_loses_nothing(sends):
    """Beats sent on the player's clock (position = time since start) that reach the server after
    any delay up to LATE_MAX (each delay independent): none is refused, and the credit is the
    position reached."""
    s = _state(1000.0, 0.0, began=1000.0, origin=0.0)
    sent, total = 0.0, 0.0
    for gap, delay in sends:
        sent += gap
        now = max(1000.0 + sent + min(delay, LATE_MAX), s.last_beat_at)  # beats are handled in order
        d = decide(s, now, sent, True)
        assert not d.anomaly and d.reason == ""
        total += d.seconds
        s = _follow(s, d)
    assert math.isclose(total, sent, abs_tol=1e-6)
