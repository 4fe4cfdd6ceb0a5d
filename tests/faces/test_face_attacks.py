"""Photo attacks synthesised from every single-person photo must all be rejected, with a reason.

Each attack is a clip a page could send: the printed photo held still, slid across the picture,
tilted ±40° about either axis (true perspective warp), flicked, zoomed in and out, or swapped for
another person's photo half-way. The challenge is the one most favourable to the attacker, with
prompts timed to the photo's movement (core.testing.face_media.ATTACK_CHALLENGES).
"""

import pytest

from core import Action, IdentityCheck, LivenessSession, VerdictCode, portrait_encoding
from core.faces import messages
from core.testing import face_media as media

PHOTOS = media.single_person_photos() if media.faces_dir().is_dir() else []
FAST = [p for p in PHOTOS if p.name in ("obama_1.jpg", "rose_leslie_2.jpg")]


def _id(p):
    return f"{p.parent.name}/{p.name}"


def attack(provider, matcher, detect, path, kind):
    actions, schedule = media.ATTACK_CHALLENGES[kind]
    if not set(actions) <= provider.liveness_actions:  # dlib: blink and mouth only
        actions, schedule = (Action.BLINK, Action.OPEN_MOUTH), (800, 2000)
    identity = None
    if kind == "swap":  # the portrait is the first person's: the second half must not pass as them
        identity = IdentityCheck(matcher, portrait_encoding(matcher, media.load_photo(path)))
    frames = media.attack_inputs(detect, path, kind)
    session = LivenessSession(provider, media.fixed_challenge(actions), identity=identity)
    return media.drive(session, frames, schedule, stop_when_done=kind != "swap")


def check_rejected(verdict, guidance, kind):
    assert not verdict.passed, f"{kind} attack accepted: {verdict.as_dict()}"
    assert verdict.codes and verdict.reasons, "a rejection must say why"
    assert all(r in messages.VERDICT_MESSAGES.values() for r in verdict.reasons)
    assert not all(a.passed for a in verdict.actions) or kind == "swap"
    if kind == "swap":
        assert VerdictCode.IDENTITY_MISMATCH in verdict.codes
    if kind != "swap":
        assert guidance[-1].done and guidance[-1].message in ("动作超时", "动作不正确", messages.VERDICT_MESSAGES["no_parallax"])


@pytest.mark.parametrize("kind", media.ATTACKS)
@pytest.mark.parametrize("path", FAST, ids=_id)
def test_photo_attack_is_rejected_mediapipe(mediapipe, dlib, path, kind):
    verdict, guidance = attack(mediapipe, dlib, mediapipe.detect, path, kind)
    check_rejected(verdict, guidance, kind)


@pytest.mark.slow
@pytest.mark.parametrize("kind", media.ATTACKS)
@pytest.mark.parametrize("path", [p for p in PHOTOS if p not in FAST], ids=_id)
def test_every_photo_attack_is_rejected_mediapipe(mediapipe, dlib, path, kind):
    verdict, guidance = attack(mediapipe, dlib, mediapipe.detect, path, kind)
    check_rejected(verdict, guidance, kind)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["still", "slide", "tilt_nod", "flick", "zoom", "swap"])
@pytest.mark.parametrize("path", [p for p in PHOTOS if p.name in ("obama_1.jpg", "biden_2.jpg", "kit_harington_3.jpg")], ids=_id)
def test_photo_attack_is_rejected_dlib(mediapipe, dlib, path, kind):
    verdict, guidance = attack(dlib, dlib, mediapipe.detect, path, kind)
    check_rejected(verdict, guidance, kind)
