"""Matching specifics: unit encodings, the default tolerance inside the measured gap, a known box."""

import itertools

import numpy as np
import pytest

from core import FaceBox, NoFaceError
from core.testing import face_media as media
from plugins.face_sface import DEFAULT_TOLERANCE, SFaceProvider


@pytest.fixture(scope="module")
def provider():
    return SFaceProvider()


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


def test_encodings_are_unit_vectors_and_distance_is_the_cosine_metric(provider):
    a = provider.encode(media.load_photo(media.faces_dir() / "obama" / "obama_1.jpg"))
    b = provider.encode(media.load_photo(media.faces_dir() / "biden" / "biden_2.jpg"))
    assert a.shape == (128,) and abs(np.linalg.norm(a) - 1) < 1e-9
    cos = float(a @ b)
    assert provider.distance(a, b) == pytest.approx(np.sqrt(2 - 2 * cos))
    # the stored-vector comparison (Euclidean, core.proctoring.snapshots) agrees with distance()
    assert float(np.linalg.norm(a - b)) == pytest.approx(provider.distance(a, b))


def test_encode_with_a_known_box_skips_whole_image_detection_and_agrees(provider):
    img = media.load_photo(media.faces_dir() / "obama" / "obama_1.jpg")
    (box,) = provider.detect(img)
    # detect() searches the image at another scale, so its box (and the crop the points are found
    # again on) differs by a few pixels; SFace moves by up to ~0.26 for that (same-person photo
    # pairs reach 1.01)
    assert provider.distance(provider.encode(img), provider.encode(img, box)) < 0.3


def test_a_known_box_picks_its_face_on_a_group_photo(provider):
    """With a box (the liveness provider's), the face in that box is encoded, not another."""
    group = media.load_photo(media.faces_dir() / "groups" / "obama_and_biden.jpg")
    obama = provider.encode(media.load_photo(media.faces_dir() / "obama" / "obama_1.jpg"))
    biden = provider.encode(media.load_photo(media.faces_dir() / "biden" / "biden_2.jpg"))
    near = {}
    for box in provider.detect(group):
        e = provider.encode(group, box)
        near[box.center] = (provider.distance(e, obama), provider.distance(e, biden))
    assert any(o <= DEFAULT_TOLERANCE < b for o, b in near.values())
    assert any(b <= DEFAULT_TOLERANCE < o for o, b in near.values())


def test_a_box_beside_the_face_is_not_encoded_as_that_face(provider):
    """A caller's box where no face is (here below obama's face, on his collar) is refused, not
    matched to the nearby face that the crop around it also holds."""
    img = media.load_photo(media.faces_dir() / "obama" / "obama_1.jpg")
    (box,) = provider.detect(img)
    below = FaceBox(box.x, box.y + 0.9 * box.h, box.w, box.h)
    with pytest.raises(NoFaceError):
        provider.encode(img, below)
