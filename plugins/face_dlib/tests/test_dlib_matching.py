"""Matching specifics: the default tolerance sits in the measured gap; tenants may tighten it."""

import itertools

import pytest

import plugins.face_dlib as plugin
from core import Capability, CapabilityError, FaceRules, select_provider
from core.testing import face_media as media
from plugins.face_dlib import DEFAULT_TOLERANCE, DlibProvider


@pytest.fixture(scope="module")
def provider():
    return DlibProvider()


@pytest.fixture(scope="module")
def distances(provider):
    enc = {p: provider.encode(media.load_photo(p)) for p in media.single_person_photos()}
    same, diff = [], []
    for a, b in itertools.combinations(enc, 2):
        (same if media.person_of(a) == media.person_of(b) else diff).append(provider.distance(enc[a], enc[b]))
    return same, diff


def test_default_tolerance_lies_between_measured_same_and_different(distances):
    same, diff = distances
    assert max(same) < DEFAULT_TOLERANCE < min(diff)
    assert len(same) == 21 and len(diff) == 99  # all 120 pairs of the 16 photos


def test_tenant_tolerance_changes_the_decision(provider):
    a = provider.encode(media.load_photo(media.faces_dir() / "alex_lacamoire" / "alex_lacamoire_1.jpg"))
    b = provider.encode(media.load_photo(media.faces_dir() / "alex_lacamoire" / "alex_lacamoire_2.png"))
    d = provider.distance(a, b)
    assert provider.matches(a, b)  # default tolerance
    assert not provider.matches(a, b, tolerance=d - 0.01)  # a stricter tenant


def test_encode_with_a_known_box_skips_detection_and_agrees(provider):
    img = media.load_photo(media.faces_dir() / "obama" / "obama_1.jpg")
    (box,) = provider.detect(img)
    # the box comes from detection at another scale, so the face chip differs by a pixel or two
    assert provider.distance(provider.encode(img), provider.encode(img, box)) < 0.15


def test_hook_and_selection_by_tenant_rules():
    providers = [plugin.face_providers()]
    rules = FaceRules(match_provider="dlib")
    match = select_provider(providers, rules.match_provider, Capability.ENCODE)
    assert match.name == "dlib" and not match.liveness_actions  # matching, not liveness
    with pytest.raises(CapabilityError):
        select_provider(providers, "dlib", Capability.LIVENESS)
    with pytest.raises(CapabilityError):
        select_provider(providers, "mediapipe")
