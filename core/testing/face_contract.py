"""The contract suite every face provider runs, on the real photos and clips in ``../shared``.

Use it from a provider plugin's tests::

    import pytest
    from core.testing.face_contract import FaceProviderContract
    from plugins.face_x import XProvider

    class TestXContract(FaceProviderContract):
        @pytest.fixture(scope="class")
        @classmethod
        def provider(cls):
            return XProvider()

Checks are skipped when the provider does not declare the capability they need, so one suite
serves detection-only, liveness and matching providers alike. Without ``../shared`` the suite is
skipped, except under CI (``CI=true``), where that is an error.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import cv2
import numpy as np
import pytest

from core.faces import (
    Action,
    Capability,
    FaceBox,
    FaceProvider,
    LivenessSession,
    frame_signals,
    MultipleFacesError,
    NoFaceError,
    QualityCode,
    VerdictCode,
    messages,
)
from core.testing import face_attacks as attacks
from core.testing import face_media as media

_MISSING = media.shared_missing_reason()  # raises under CI: the suite must run there

PHOTOS = media.single_person_photos() if media.faces_dir().is_dir() else []
GROUPS = media.group_photos() if media.faces_dir().is_dir() else []
# clearly good portraits (frontal, sharp, well lit, big enough) that every provider must accept
GOOD_PORTRAITS = ["obama/obama_1.jpg", "biden/biden_2.jpg", "rose_leslie/rose_leslie_2.jpg", "alex_lacamoire/alex_lacamoire_1.jpg"]
OBAMA_CLIP = "obama_weekly_address_blinks.mp4"
# frames of the obama clip (README + our measurements): eyes fully closed in 61, open in 50;
# mouth closed in 41, open in 47
CLOSED_EYES, OPEN_EYES, MOUTH_SHUT, MOUTH_OPEN = 61, 50, 41, 47


def _id(p: Path) -> str:
    return f"{p.parent.name}/{p.name}"


def _photo(rel: str) -> np.ndarray:
    return media.load_photo(media.faces_dir() / rel)


def _clip_frame(index: int, max_side: int = 1280) -> np.ndarray:
    cap = cv2.VideoCapture(str(media.videos_dir() / OBAMA_CLIP))
    cap.set(cv2.CAP_PROP_POS_FRAMES, index)
    ok, bgr = cap.read()
    cap.release()
    assert ok, f"cannot read frame {index} of {OBAMA_CLIP}"
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    h, w = rgb.shape[:2]
    s = min(1.0, max_side / max(h, w))
    return cv2.resize(rgb, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA) if s < 1 else rgb


def _need(provider: FaceProvider, cap: Capability) -> None:
    if cap not in provider.capabilities:
        pytest.skip(f"{provider.name} does not declare {cap.value}")


@pytest.mark.skipif(bool(_MISSING), reason=_MISSING or "")  # a class mark: subclasses inherit it
class FaceProviderContract:
    """Subclass it and define a ``provider`` fixture (class or session scope)."""

    @pytest.fixture(scope="class")
    @classmethod
    def provider(cls) -> FaceProvider:  # pragma: no cover - overridden
        raise NotImplementedError("define a `provider` fixture returning the provider under test")

    @pytest.fixture(scope="class")
    @classmethod
    def clip_signals(cls, provider) -> dict[str, list]:
        """The provider's signals of every frame of the blink clips (each frame observed once)."""
        _need(provider, Capability.LIVENESS)
        return {
            name: [(t, frame_signals(provider, f, t)[1]) for t, f in media.read_clip(media.videos_dir() / name)]
            for name in media.CLIPS
        }

    @pytest.fixture(scope="class")
    @classmethod
    def encodings(cls, provider) -> dict[Path, np.ndarray]:
        _need(provider, Capability.ENCODE)
        return {p: provider.encode(media.load_photo(p)) for p in PHOTOS}

    # --- declaration --------------------------------------------------------------------------

    def test_declares_the_contract(self, provider):
        assert isinstance(provider, FaceProvider)
        assert isinstance(provider.name, str) and provider.name
        assert provider.capabilities and all(isinstance(c, Capability) for c in provider.capabilities)
        assert all(isinstance(a, Action) for a in provider.liveness_actions)
        if Capability.LIVENESS in provider.capabilities:
            assert len(provider.liveness_actions) >= 2, "a challenge needs at least two actions"
        else:
            assert not provider.liveness_actions
        if Capability.ENCODE in provider.capabilities:
            assert 0 < provider.default_tolerance < 2

    # --- detection ----------------------------------------------------------------------------

    @pytest.mark.parametrize("path", PHOTOS, ids=_id)
    def test_one_face_on_every_single_person_photo(self, provider, path):
        _need(provider, Capability.DETECT)
        img = media.load_photo(path)
        boxes = provider.detect(img)
        assert len(boxes) == 1, f"{_id(path)}: {boxes}"
        b = boxes[0]
        assert isinstance(b, FaceBox)
        assert 0 <= b.center[0] <= img.shape[1] and 0 <= b.center[1] <= img.shape[0]

    @pytest.mark.parametrize("path", GROUPS, ids=_id)
    def test_several_faces_on_group_photos(self, provider, path):
        _need(provider, Capability.DETECT)
        assert len(provider.detect(media.load_photo(path))) >= 2

    def test_no_face_on_a_photo_without_face(self, provider):
        _need(provider, Capability.DETECT)
        img = _photo("obama/obama_1.jpg")
        suit = np.ascontiguousarray(img[int(img.shape[0] * 0.62) :, :])  # the lower part: suit and arms
        assert provider.detect(suit) == []
        assert provider.detect(np.full((480, 640, 3), 128, np.uint8)) == []

    # --- portrait quality gate ----------------------------------------------------------------

    @pytest.mark.parametrize("rel", GOOD_PORTRAITS)
    def test_good_portraits_pass(self, provider, rel):
        _need(provider, Capability.QUALITY)
        report = provider.check_portrait(_photo(rel))
        assert report.ok, report.reasons
        assert report.faces == 1 and report.message == messages.Q_OK

    @pytest.mark.parametrize("path", GROUPS, ids=_id)
    def test_group_photo_is_refused_as_several_faces(self, provider, path):
        _need(provider, Capability.QUALITY)
        report = provider.check_portrait(media.load_photo(path))
        assert not report.ok
        assert report.codes == [QualityCode.MULTIPLE_FACES]
        assert report.message == "照片中有多张人脸，请只保留本人"

    def test_face_cut_by_the_border_is_refused(self, provider):
        _need(provider, Capability.QUALITY)
        report = provider.check_portrait(_photo("obama/obama_partial_face.jpg"))  # cut at the left edge
        assert report.codes[0] is QualityCode.INCOMPLETE
        assert report.message == "人脸不完整，请将整张脸置于画面中"
        whole = _photo("obama/obama_1.jpg")
        (box,) = provider.detect(whole)
        for cut in (whole[:, int(box.x + 0.3 * box.w) :], whole[int(box.y + 0.3 * box.h) :, :], whole[: int(box.y + 0.7 * box.h), :]):
            report = provider.check_portrait(np.ascontiguousarray(cut))
            assert not report.ok and report.codes[0] in (QualityCode.INCOMPLETE, QualityCode.NO_FACE), report.codes

    def test_photo_without_face_is_refused(self, provider):
        _need(provider, Capability.QUALITY)
        img = _photo("biden/biden_1.jpg")
        report = provider.check_portrait(np.ascontiguousarray(img[int(img.shape[0] * 0.55) :, :]))
        assert report.codes == [QualityCode.NO_FACE]
        assert report.message == "未检测到人脸，请正对镜头重新拍摄"

    def test_small_face_is_refused(self, provider):
        _need(provider, Capability.QUALITY)
        report = provider.check_portrait(_photo("obama/obama_240p.jpg"))
        assert QualityCode.TOO_SMALL in report.codes
        assert "人脸太小，请靠近镜头" in report.reasons

    def test_dark_photo_is_refused(self, provider):
        _need(provider, Capability.QUALITY)
        img = (_photo("obama/obama_1.jpg").astype(np.float32) * 0.3).astype(np.uint8)
        report = provider.check_portrait(img)
        if report.faces == 0:  # a provider may not even find the face: still refused
            assert report.codes == [QualityCode.NO_FACE]
        else:
            assert QualityCode.TOO_DARK in report.codes and "光线太暗" in report.reasons

    def test_overexposed_photo_is_refused(self, provider):
        _need(provider, Capability.QUALITY)
        img = np.clip(_photo("obama/obama_1.jpg").astype(np.float32) * 1.9 + 40, 0, 255).astype(np.uint8)
        report = provider.check_portrait(img)
        assert not report.ok
        if report.faces == 1:
            assert QualityCode.TOO_BRIGHT in report.codes and "光线过亮" in report.reasons

    def test_blurred_photo_is_refused(self, provider):
        _need(provider, Capability.QUALITY)
        img = _photo("obama/obama_1.jpg")
        blurred = cv2.GaussianBlur(img, (0, 0), sigmaX=6)
        report = provider.check_portrait(blurred)
        assert QualityCode.BLURRY in report.codes and "照片模糊" in report.reasons
        assert provider.check_portrait(img).ok  # the same photo, sharp, passes

    def test_closed_eyes_are_refused(self, provider):
        _need(provider, Capability.QUALITY)
        closed = provider.check_portrait(_clip_frame(CLOSED_EYES))
        assert QualityCode.EYES_CLOSED in closed.codes and "请睁开眼睛" in closed.reasons
        assert QualityCode.EYES_CLOSED not in provider.check_portrait(_clip_frame(OPEN_EYES)).codes

    def test_turned_head_is_refused(self, provider):
        _need(provider, Capability.QUALITY)
        frames = media.read_clip(media.videos_dir() / "intel_head_turn.gif", max_side=960)
        report = provider.check_portrait(cv2.resize(frames[2][1], None, fx=2, fy=2))  # yaw ≈ −43°
        assert not report.ok
        assert report.codes == [QualityCode.NO_FACE] or QualityCode.NOT_FRONTAL in report.codes

    # --- per-frame liveness signals -------------------------------------------------------------

    def test_signals_see_a_blink_and_an_open_mouth(self, provider):
        _need(provider, Capability.LIVENESS)
        (closed,) = provider.observe(_clip_frame(CLOSED_EYES, 640))
        (open_,) = provider.observe(_clip_frame(OPEN_EYES, 640))
        assert closed.eye_openness < 0.6 * open_.eye_openness
        if Action.OPEN_MOUTH in provider.liveness_actions:
            (shut,) = provider.observe(_clip_frame(MOUTH_SHUT, 640))
            (wide,) = provider.observe(_clip_frame(MOUTH_OPEN, 640))
            assert wide.mouth_open > shut.mouth_open + 0.2

    def test_genuine_clips_pass_at_the_page_rate_in_every_phase(self, provider, clip_signals):
        """Every genuine session the provider can measure (quick-blink variants included), at the
        rate the page sends during an action in every frame phase, and as recorded at the
        page's idle rate; a still photo fails."""
        sessions = [gs for gs in media.GENUINE_SESSIONS if set(gs.actions) <= provider.liveness_actions]
        if not sessions:
            pytest.skip("no recorded clip shows the actions this provider measures")
        failed, runs = [], 0
        for gs in sessions:
            for fps in [media.ACTION_FPS] + ([] if gs.quick else [media.PAGE_FPS]):
                for phase in media.page_phases(media.genuine_inputs(gs, clip_signals[gs.clip])[0], fps):
                    items, schedule = media.genuine_inputs(gs, clip_signals[gs.clip], fps, phase)
                    verdict, _ = media.drive(LivenessSession(provider, media.fixed_challenge(gs.actions)), items, schedule)
                    runs += 1
                    if not verdict.passed:
                        failed.append((gs.label, fps, phase, verdict.reasons))
        assert runs >= 2 * len(sessions) and not failed, failed

    def test_still_photo_fails_with_action_timeout(self, provider):
        _need(provider, Capability.LIVENESS)
        acts = (Action.BLINK, Action.OPEN_MOUTH)
        if not set(acts) <= provider.liveness_actions:
            pytest.skip("needs blink and open mouth")
        photo = media.faces_dir() / "obama" / "obama_1.jpg"
        frames = attacks.attack_inputs(provider.detect, photo, "still")
        verdict, guidance = media.drive(LivenessSession(provider, media.fixed_challenge(acts)), frames, (800, 2000))
        assert not verdict.passed and verdict.codes[0] is VerdictCode.ACTION_TIMEOUT
        assert verdict.reasons[0] == "动作超时" and guidance[-1].message == "动作超时"

    # --- identity -----------------------------------------------------------------------------

    def test_same_person_within_tolerance_others_beyond(self, provider, encodings):
        tol = provider.default_tolerance
        for a, b in itertools.combinations(PHOTOS, 2):
            d = provider.distance(encodings[a], encodings[b])
            same = media.person_of(a) == media.person_of(b)
            assert (d <= tol) == same, f"{_id(a)} vs {_id(b)}: {d:.3f} (tolerance {tol})"

    def test_encode_requires_exactly_one_face(self, provider):
        _need(provider, Capability.ENCODE)
        with pytest.raises(MultipleFacesError):
            provider.encode(media.load_photo(GROUPS[0]))
        with pytest.raises(NoFaceError):
            provider.encode(np.full((480, 640, 3), 128, np.uint8))

    def test_webcam_frames_match_their_portrait_only(self, provider):
        _need(provider, Capability.ENCODE)
        tol = provider.default_tolerance
        obama, biden = provider.encode(_photo("obama/obama_1.jpg")), provider.encode(_photo("biden/biden_2.jpg"))
        for _, frame in media.read_clip(media.videos_dir() / OBAMA_CLIP, step=23):
            e = provider.encode(frame)
            assert provider.distance(e, obama) <= tol < provider.distance(e, biden)
