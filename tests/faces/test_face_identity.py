"""Identity across a session is judged on the frames most of the session agrees on: a strong
grimace in a few frames does not fail a genuine learner, a stand-in or a swap still fails.

Real models on the real clip (MediaPipe liveness, SFace matching); the grimace is synthesised on
the clip's frames during the mouth prompt (core.testing.face_expressions)."""

import pytest

from core import Action as A
from core import IdentityCheck, LivenessSession, VerdictCode, portrait_encoding
from core.faces.session import within_share
from core.testing import face_media as media
from core.testing.face_expressions import grimace

OBAMA, GRID = "obama_weekly_address_blinks.mp4", "grid_id2_blinks.mpg"
GRIMACE_MS = (1000, 1600)  # the mouth prompt shows at 950 ms; the mouth opens at ~1.0 s


@pytest.fixture(scope="module")
def grimacing(mediapipe, clips):
    """The obama clip with a strong grimace from 1.0 s on."""
    out = []
    for t, f in clips[OBAMA]:
        if GRIMACE_MS[0] <= t <= GRIMACE_MS[1]:
            (face,) = mediapipe.observe(f)
            f = grimace(f, face.anchors, 2.0)
        out.append((t, f))
    return out


def _run(mediapipe, matcher, frames, portrait_rel, tolerance=None):
    portrait = None if portrait_rel is None else portrait_encoding(matcher, media.load_photo(media.faces_dir() / portrait_rel))
    s = LivenessSession(mediapipe, media.fixed_challenge((A.BLINK, A.OPEN_MOUTH)),
                        identity=IdentityCheck(matcher, portrait, tolerance))
    return media.drive(s, frames, (500, 950))[0]


def test_within_share_is_the_distance_that_share_of_frames_are_within():
    assert LivenessSession.IDENTITY_SHARE == 0.75
    d = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.9]
    assert within_share(d, 0.75) == 0.6  # 6 of 8 frames are within 0.6, 5 of 8 within 0.5
    assert within_share(d[:6], 0.75) == 0.5  # ceil(4.5) = 5 of 6
    assert within_share(d[:4], 0.75) == 0.3 and within_share([0.4], 0.75) == 0.4


def test_a_grimace_beyond_tolerance_does_not_fail_the_learner(mediapipe, sface, grimacing):
    first = _run(mediapipe, sface, grimacing, "obama/obama_1.jpg")
    assert first.passed, first.reasons
    far = max((e for e in first.evidence if e.distance is not None), key=lambda e: e.distance)
    assert GRIMACE_MS[0] <= far.t_ms <= GRIMACE_MS[1] and far.label == "open_mouth"  # the grimace is farthest
    # A tenant tolerance the grimace frame exceeds but three quarters of the frames are within:
    # the old rule (every frame within tolerance) refused this genuine learner.
    tol = round((first.scores["identity_distance"] + far.distance) / 2, 4)
    verdict = _run(mediapipe, sface, grimacing, "obama/obama_1.jpg", tol)
    assert verdict.passed, verdict.reasons
    assert verdict.scores["identity_max_distance"] > tol >= verdict.scores["identity_distance"]
    assert verdict.scores["identity_consistency"] <= tol  # her own frames stay near each other
    # ...and without a portrait the grimace does not read as a change of person
    assert _run(mediapipe, sface, grimacing, None, tol).passed


def test_the_grimacing_session_is_refused_against_another_persons_portrait(mediapipe, sface, grimacing):
    verdict = _run(mediapipe, sface, grimacing, "biden/biden_2.jpg")
    assert verdict.codes == (VerdictCode.IDENTITY_MISMATCH,) and verdict.reasons == ["与登记照片不是同一人"]
    assert verdict.scores["identity_distance"] > sface.default_tolerance


@pytest.mark.parametrize("portrait", ["obama/obama_1.jpg", None])
def test_someone_else_in_a_single_action_frame_is_refused(mediapipe, sface, clips, portrait):
    """Obama blinks and begins to open the mouth live, then another live person (the GRID
    speaker) finishes the mouth prompt: one frame of seven, far from the session's centre."""
    first = [f for f in clips[OBAMA] if f[0] <= 1000]
    second = [f for f in clips[GRID] if 600 <= f[0] <= 1400]
    verdict = _run(mediapipe, sface, media.splice(first, second), portrait)
    assert [a.passed for a in verdict.actions] == [True, True]  # each part alone looks live
    assert verdict.codes == (VerdictCode.IDENTITY_INCONSISTENT,) and verdict.reasons == ["验证过程中人脸发生变化"]
    assert verdict.scores["identity_consistency"] > sface.default_tolerance
    if portrait:  # three quarters of the frames are the portrait's person
        assert verdict.scores["identity_distance"] <= sface.default_tolerance < verdict.scores["identity_max_distance"]
