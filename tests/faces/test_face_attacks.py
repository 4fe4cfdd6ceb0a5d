"""Photo attacks synthesised from every single-person photo must all be rejected, with a reason.

Each attack is a clip a page could send: the printed photo held still, slid across the picture,
tilted ±40° about either axis (true perspective warp), flicked, zoomed in and out, a still frame
warped in perspective like a head turning or nodding, or swapped for another person's photo
half-way. The challenge is the one most favourable to the attacker, with
prompts timed to the photo's movement (core.testing.face_attacks.ATTACK_CHALLENGES). MediaPipe
is the liveness provider (dlib offers no liveness). Each attack clip is synthesised and observed
once per test run (``attack_clip``); sessions without identity are fed those signals, except the
warped stills, whose pixels the session checks for 3-D motion.
"""

import pytest

from core import Action, IdentityCheck, LivenessSession, VerdictCode, portrait_encoding
from core.faces import messages
from core.testing import face_attacks as attacks
from core.testing import face_media as media

PHOTOS = media.single_person_photos() if media.faces_dir().is_dir() else []
FAST = [p for p in PHOTOS if p.name in ("obama_1.jpg", "rose_leslie_2.jpg")]


def _id(p):
    return f"{p.parent.name}/{p.name}"


@pytest.fixture
def attack(mediapipe, dlib, attack_clip, attack_signals):
    def run(path, kind, challenge=None):
        actions, schedule = challenge or attacks.ATTACK_CHALLENGES[kind]
        if kind == "swap":  # the portrait is the first person's: the second half must not pass as them
            identity = IdentityCheck(dlib, portrait_encoding(dlib, media.load_photo(path)))
            session = LivenessSession(mediapipe, media.fixed_challenge(actions), identity=identity)
            return media.drive(session, attack_clip(path, kind), schedule, stop_when_done=False)
        if kind in attacks.WARP_ONLY:
            return media.drive(LivenessSession(mediapipe, media.fixed_challenge(actions)), attack_clip(path, kind), schedule)
        return media.drive(LivenessSession(mediapipe, media.fixed_challenge(actions)), attack_signals(path, kind), schedule)

    return run


def check_rejected(verdict, guidance, kind):
    assert not verdict.passed, f"{kind} attack accepted: {verdict.as_dict()}"
    assert verdict.codes and verdict.reasons, "a rejection must say why"
    assert all(r in messages.VERDICT_MESSAGES.values() for r in verdict.reasons)
    if kind in attacks.WARP_ONLY:
        # A warped photo is refused for whichever flaw shows first on that photo: flat motion
        # (no_parallax), the warp's edge losing the face or making a second one, or the action's
        # time running out; what matters is that no warp passes and the learner is told why.
        return
    assert not all(a.passed for a in verdict.actions) or kind == "swap" or VerdictCode.NO_PARALLAX in verdict.codes
    if kind == "swap":
        assert VerdictCode.IDENTITY_MISMATCH in verdict.codes
    else:
        assert guidance[-1].done and guidance[-1].message in ("动作超时", "动作不正确", messages.VERDICT_MESSAGES["no_parallax"])


@pytest.mark.parametrize("kind", attacks.ATTACKS)
@pytest.mark.parametrize("path", FAST, ids=_id)
def test_photo_attack_is_rejected(attack, path, kind):
    check_rejected(*attack(path, kind), kind)


@pytest.mark.slow
@pytest.mark.parametrize("kind", attacks.ATTACKS)
@pytest.mark.parametrize("path", [p for p in PHOTOS if p not in FAST], ids=_id)
def test_every_photo_attack_is_rejected(attack, path, kind):
    check_rejected(*attack(path, kind), kind)


@pytest.mark.parametrize("rel", ["obama/obama_3.jpg", "kit_harington/kit_harington_1.jpg"])
def test_flicked_photo_does_not_fake_a_blink(attack, rel):
    """Pitching a photo by 60° squeezes its eyes like a blink; the judge divides eye openness
    by the face's own rigid aspect, so the flick is not a blink (on these photos it would be
    one without that tilt compensation)."""
    path = media.faces_dir() / rel
    verdict, _ = attack(path, "flick", ((Action.BLINK, Action.OPEN_MOUTH), (1000, 2400)))
    assert not verdict.passed
    assert verdict.actions[0].action is Action.BLINK and not verdict.actions[0].passed
