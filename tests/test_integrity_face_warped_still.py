"""Cheater's suite: a still photo animated by perspective warps must not pass as a live head.

A virtual camera fed with one photo can warp it in perspective, like a head turning left and
right or nodding (core.testing.face_attacks: ``warped_still``, ``warped_still_nod``). Two rules
stop it: every challenge asks for a blink or an open mouth, which a still cannot do; and a turn or
nod must show 3-D motion — the face's pixels of a warped photo move as one plane from frame to
frame, and the landmarks' best homography leaves a small residual. The warps here are judged on
their head movements alone (a challenge the server never issues) with the full session (frames,
not only signals), so the 3-D rule must refuse them by itself; a real head turn still passes.
"""

from __future__ import annotations

import pytest

from core.defaults import proctor_challenge_actions
from core.faces import Action, LivenessSession, VerdictCode, draw_challenge
from core.testing import face_attacks as attacks
from core.testing import face_media as media

# photos whose warps MediaPipe sees as turns or nods (on the others the warp loses the face)
PHOTOS = ("obama/obama_1.jpg", "rose_leslie/rose_leslie_2.jpg", "kit_harington/kit_harington_2.jpg",
          "lin_manuel_miranda/lin_manuel_miranda_1.png", "biden/biden_2.jpg")


@pytest.fixture(scope="module")
def mediapipe():
    if reason := media.shared_missing_reason():
        pytest.skip(reason)
    from plugins.face_mediapipe import MediaPipeProvider

    provider = MediaPipeProvider()
    yield provider
    provider.close()


def test_every_challenge_asks_for_a_blink_or_an_open_mouth():
    pool = [Action(a) for a in proctor_challenge_actions(tenant=None)]
    drawn = [draw_challenge(pool).actions for _ in range(2000)]
    assert all({Action.BLINK, Action.OPEN_MOUTH} & set(a) for a in drawn)
    assert all({Action.TURN_LEFT, Action.TURN_RIGHT, Action.NOD} & set(a) for a in drawn)


@pytest.mark.parametrize("kind", attacks.WARP_ONLY)
@pytest.mark.parametrize("rel", PHOTOS)
def test_a_warped_still_is_refused_as_a_flat_picture(mediapipe, rel, kind):
    frames = attacks.attack_inputs(mediapipe.detect, media.faces_dir() / rel, kind)
    actions, schedule = attacks.ATTACK_CHALLENGES[kind]
    verdict, _ = media.drive(LivenessSession(mediapipe, media.fixed_challenge(actions)), frames, schedule)
    moved = [a.action.value for a in verdict.actions if a.passed]
    print(f"\n{rel} {kind}: movements recognised {moved}, codes {[c.value for c in verdict.codes]}, "
          f"landmark residual {verdict.scores.get('planar_residual')}, flat {verdict.scores.get('flat_movements', 0)}")
    assert not verdict.passed
    if len(moved) == len(actions):  # every movement was seen: refused for showing no 3-D motion
        assert VerdictCode.NO_PARALLAX in verdict.codes  # refused as flat (the warp may lose the face too)
        assert "疑似照片或屏幕翻拍（转头时面部没有立体变化）" in verdict.reasons


def test_a_real_head_turn_still_passes(mediapipe):
    frames = media.read_clip(media.videos_dir() / "intel_head_turn.gif")
    session = LivenessSession(mediapipe, media.fixed_challenge((Action.TURN_LEFT, Action.TURN_RIGHT)))
    verdict, _ = media.drive(session, frames, (250, 1000))
    assert verdict.passed, verdict.reasons
    assert verdict.scores["planar_residual"] > 0.1 and "flat_movements" not in verdict.scores
