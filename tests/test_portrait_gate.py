"""The construction group's portrait gate with its SFace matcher: portraits are judged by a
provider that can (the liveness provider: SFace's five points see no eyes or pose), and a tiny face
is told 人脸太小, not 未检测到人脸 (the landmark model misses faces ~30 px wide; YuNet finds them)."""

import cv2
import numpy as np
import pytest

from core.faces import encode_jpeg
from core.proctoring.portrait import portrait_gate, quality_provider, small_face_finder
from core.testing import face_media as media

pytestmark = pytest.mark.skipif(bool(media.shared_missing_reason()), reason="face media missing")

PORTRAITS = ["obama/obama_1.jpg", "biden/biden_2.jpg", "rose_leslie/rose_leslie_2.jpg", "alex_lacamoire/alex_lacamoire_1.jpg"]


def tiny(rel: str, face_px: int) -> bytes:
    """The photo shrunk until its face is ``face_px`` wide, on a 640×480 card."""
    img = media.load_photo(media.faces_dir() / rel)
    face_w = _face_width(img)
    s = face_px / face_w
    small = cv2.resize(img, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)[:480, :640]
    card = np.full((480, 640, 3), 200, np.uint8)
    card[: small.shape[0], : small.shape[1]] = small
    return encode_jpeg(card, max_side=None)


def _face_width(img) -> float:
    from plugins.face_sface import SFaceProvider

    (box,) = SFaceProvider().detect(img)
    return box.w


def closed_eyes() -> bytes:
    from core.testing.face_contract import CLOSED_EYES, _clip_frame

    return encode_jpeg(_clip_frame(CLOSED_EYES), max_side=None)


async def test_the_gate_is_the_liveness_provider_when_the_matcher_cannot_judge_portraits(platform):
    tenant = platform.tenants.get("construction")
    assert tenant.rules.face.match_provider == "sface"
    gate = await quality_provider(platform, tenant)
    assert gate.name == tenant.rules.face.liveness_provider == "mediapipe"
    assert (await small_face_finder(platform, tenant, gate)).name == "sface"
    assert await portrait_gate(platform, tenant, closed_eyes()) == "请睁开眼睛"
    good = (media.faces_dir() / "obama" / "obama_1.jpg").read_bytes()
    assert await portrait_gate(platform, tenant, good) == ""


@pytest.mark.parametrize("rel", PORTRAITS)
async def test_a_tiny_face_is_told_too_small(platform, rel):
    tenant = platform.tenants.get("construction")
    for face_px in (30, 50, 70):
        assert await portrait_gate(platform, tenant, tiny(rel, face_px)) == "人脸太小，请靠近镜头", face_px


async def test_no_face_stays_no_face(platform):
    tenant = platform.tenants.get("construction")
    img = media.load_photo(media.faces_dir() / "biden" / "biden_1.jpg")
    no_face = encode_jpeg(np.ascontiguousarray(img[int(img.shape[0] * 0.55):, :]), max_side=None)
    assert await portrait_gate(platform, tenant, no_face) == "未检测到人脸，请正对镜头重新拍摄"
    blank = encode_jpeg(np.full((480, 640, 3), 128, np.uint8), max_side=None)
    assert await portrait_gate(platform, tenant, blank) == "未检测到人脸，请正对镜头重新拍摄"


def test_small_face_report_at_the_size_floor():
    """Where the gate saw no face, a found face under ``min_face_px`` (or under ``min_face_share``
    of the shorter side) is 人脸太小; one at the floor stays 未检测到人脸 (the gate's reason)."""
    from core.faces import FaceBox, PortraitRules, QualityCode, assess_portrait
    from core.faces.quality import small_face_report

    image = np.zeros((600, 1000, 3), np.uint8)
    rules = PortraitRules()  # 90 px and 8 % of the shorter side (48 px here)
    none = assess_portrait(image, [], rules)
    assert none.codes == [QualityCode.NO_FACE]
    small = small_face_report(none, image, [FaceBox(100, 100, 89, 110), FaceBox(400, 100, 40, 50)], rules)
    assert small.codes == [QualityCode.TOO_SMALL] and small.message == "人脸太小，请靠近镜头" and small.faces == 1
    assert small.box.w == 89  # the largest face found is judged
    assert small_face_report(none, image, [FaceBox(100, 100, 90, 110)], rules) is none
    narrow = np.zeros((2000, 3000, 3), np.uint8)  # 8 % of 2000 px = 160 px
    assert small_face_report(none, narrow, [FaceBox(100, 100, 159, 190)], rules).codes == [QualityCode.TOO_SMALL]
    assert small_face_report(none, narrow, [FaceBox(100, 100, 160, 190)], rules) is none
    assert small_face_report(none, image, [], rules) is none
