"""Cheater's suite: a recording of the learner replayed to the face check must not pass.

The attacker holds a genuine clip of the learner (the shared Obama clip: blinks, a talking
mouth, no deliberate head movement) and replays it, looped, to fresh challenges at the page's
frame rate. The clip's MediaPipe signals are computed once; each of 1,000 challenges is drawn and
judged by the shipped code (``draw_challenge`` with the tenant's action pool, the judge issuing
prompts on the server's schedule, ``LivenessSession.finish``). A fixed recording cannot follow
the server's order and timing: at most 0.1 % may pass.
"""

from __future__ import annotations

import pytest

from core.defaults import proctor_challenge_actions
from core.faces import Action, LivenessSession, draw_challenge, frame_signals
from core.testing import face_media as media

CLIP = "obama_weekly_address_blinks.mp4"
CHALLENGES = 1000
LOOPS = 4  # ~15 s of recording: longer than any challenge can last


class _Recorded:
    """The provider the precomputed signals came from (MediaPipe): what it can measure."""

    name = "recorded"
    liveness_actions = frozenset(Action)


@pytest.fixture(scope="module")
def recording():
    """The clip's signals as the page would send them, looped: (t_ms, FrameSignals)."""
    if reason := media.shared_missing_reason():
        pytest.skip(reason)
    from plugins.face_mediapipe import MediaPipeProvider

    mp = MediaPipeProvider()
    try:
        frames = media.read_clip(media.videos_dir() / CLIP)
        signals = [(t, frame_signals(mp, f, t)[1]) for t, f in frames]
    finally:
        mp.close()
    span = signals[-1][0] + (signals[-1][0] - signals[-2][0])
    looped = [(t + k * span, s) for k in range(LOOPS) for t, s in signals]
    return media.at_rate(looped, media.PAGE_FPS)


def replay(recording, pool) -> tuple[int, dict[str, int]]:
    """Replay the recording against CHALLENGES fresh challenges; (passes, failure reasons)."""
    passes, reasons = 0, {}
    for _ in range(CHALLENGES):
        session = LivenessSession(_Recorded(), draw_challenge(pool))
        verdict, _ = media.drive(session, recording)
        passes += verdict.passed
        for c in verdict.codes:
            reasons[c.value] = reasons.get(c.value, 0) + 1
    return passes, reasons


def test_a_replayed_recording_passes_at_most_one_challenge_in_a_thousand(recording):
    pool = [Action(a) for a in proctor_challenge_actions(tenant=None)]  # the tenants' pool
    passes, reasons = replay(recording, pool)
    print(f"\nrecording replay ({CLIP}, looped, {media.PAGE_FPS:.0f} fps) against {CHALLENGES} fresh challenges "
          f"from {[str(a) for a in pool]}: {passes} passed ({passes / CHALLENGES:.1%}); reasons {reasons}")
    assert passes <= CHALLENGES * 0.001


def test_the_same_recording_passes_when_prompted_as_it_plays(recording):
    """The control: the recording is genuine and the judge the same; prompted just before the
    clip's own blink and mouth opening, it passes (so the replays above fail on order and timing,
    not on the signals)."""
    session = LivenessSession(_Recorded(), media.fixed_challenge((Action.BLINK, Action.OPEN_MOUTH)))
    verdict, _ = media.drive(session, recording, (500, 950))
    assert verdict.passed, verdict.reasons
