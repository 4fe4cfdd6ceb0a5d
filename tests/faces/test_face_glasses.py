"""Genuine clips with glasses: no shared clip shows glasses, so these tests draw spectacles on
every frame of the real clips (``media.with_glasses``, placed from the frame's MediaPipe anchor
landmarks, already computed once per run in ``clip_signals``) in two styles — thin dark rims, and
thick rims with lenses tinted at partial opacity — then run the frames through MediaPipe again
and the same genuine sessions through the same judge at the page's rates in every frame phase,
and through dlib against the portrait. Drawn glasses on real clips, not recorded ones;
benchmarks/bench_faces.py prints the rates (incl. quick blinks at 10 fps, which fail with and
without glasses)."""

import statistics

import pytest

from core import Action as A
from core import IdentityCheck, LivenessSession, frame_signals, portrait_encoding
from core.testing import face_media as media

OBAMA, GRID = "obama_weekly_address_blinks.mp4", "grid_id2_blinks.mpg"
STYLES = media.GLASSES_STYLES


def _closed_runs(items):
    """Lengths of the runs of frames with the eyes closed (under half the clip's median), as
    in test_face_clips.py."""
    ears = [s.face.eye_openness for _, s in items]
    base = statistics.median(ears)
    runs, run = [], 0
    for e in [*ears, base]:
        if e < 0.5 * base:
            run += 1
        elif run:
            runs.append(run)
            run = 0
    return runs


@pytest.fixture(scope="module")
def glasses_clips(clips, clip_signals):
    """{(style, clip): frames with drawn glasses}; a frame without one face is left as it is."""
    out = {}
    for style in STYLES:
        for name, frames in clips.items():
            out[style, name] = [
                (t, media.with_glasses(f, s.face.anchors, style) if s.face else f)
                for (t, f), (_, s) in zip(frames, clip_signals[name])
            ]
    return out


@pytest.fixture(scope="module")
def glasses_signals(mediapipe, glasses_clips):
    """MediaPipe's signals of every glasses frame, computed once per module."""
    return {k: [(t, frame_signals(mediapipe, f, t)[1]) for t, f in frames] for k, frames in glasses_clips.items()}


def _eye_box(anchors, k):
    """Pixel box between one eye's corners (k=0: image-left eye, 1: image-right), a little
    taller than the open eye."""
    a, b = anchors[2 * k], anchors[2 * k + 1]
    w = abs(b[0] - a[0])
    x1, x2 = sorted((a[0], b[0]))
    y = (a[1] + b[1]) / 2
    return slice(int(y - 0.2 * w), int(y + 0.2 * w)), slice(int(x1), int(x2))


def test_glasses_cover_the_rims_but_leave_the_eyes_visible(clips, clip_signals, glasses_clips):
    t, frame = clips[OBAMA][10]
    anchors = clip_signals[OBAMA][10][1].face.anchors
    thin, tinted = (glasses_clips[s, OBAMA][10][1] for s in STYLES)
    changed = lambda g: (abs(g.astype(int) - frame.astype(int)).sum(axis=2) > 60).sum()  # noqa: E731
    d = float(abs(anchors[3][0] - anchors[0][0]))
    assert changed(thin) > 2 * d and changed(tinted) > changed(thin)  # rims, bridge, temples drawn
    for k in (0, 1):
        eye = _eye_box(anchors, k)
        assert (thin[eye] == frame[eye]).all()  # clear lenses: the eye itself untouched
        orig, tint = frame[eye].astype(float), tinted[eye].astype(float)
        assert tint.mean() < orig.mean() - 10  # tinted ...
        assert tint.std() > 0.45 * orig.std()  # ... at partial opacity: the eye still shows


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("clip", [OBAMA, GRID])
def test_face_and_blinks_are_still_seen_through_glasses(clip_signals, glasses_signals, style, clip):
    """MediaPipe finds the face in every frame and all three recorded blinks close the eyes
    (under half the median eye ratio). The quick-blink cuts were made on the bare clips, and the
    glasses move MediaPipe's eye ratio by a frame: measured, thick_tinted on GRID leaves closed
    runs of 2, 2, 1 frames, and thin on obama leaves the shallow blink's one kept frame above
    half the median (runs 1, 1) — that session is still judged in the every-phase test below."""
    sig = glasses_signals[style, clip]
    assert all(s.face is not None for _, s in sig)
    recorded, quick = _closed_runs(sig), _closed_runs(media.quick_blinks(clip, sig)[0])
    assert len(recorded) == len(_closed_runs(clip_signals[clip])) == 3, recorded
    assert max(quick) <= 2 and len(quick) >= 2, quick


@pytest.mark.parametrize("gs", media.GENUINE_SESSIONS, ids=lambda gs: gs.label)
@pytest.mark.parametrize("style", STYLES)
def test_genuine_session_with_glasses_passes_at_the_page_rate_in_every_phase(mediapipe, glasses_signals, style, gs):
    """As the bare clips' every-phase test: 20 fps (action window) always, 10 fps for the clips
    as recorded; quick blinks at 10 fps are a benchmark figure (they fail without glasses too)."""
    signals = glasses_signals[style, gs.clip]
    failed = []
    for fps in [media.ACTION_FPS] + ([] if gs.quick else [media.PAGE_FPS]):
        for phase in media.page_phases(media.genuine_inputs(gs, signals)[0], fps):
            items, schedule = media.genuine_inputs(gs, signals, fps, phase)
            s = LivenessSession(mediapipe, media.fixed_challenge(gs.actions))
            verdict, _ = media.drive(s, items, schedule)
            if not verdict.passed:
                failed.append((fps, phase, verdict.reasons))
    assert not failed, failed


@pytest.fixture(scope="module")
def obama_portrait(dlib):
    return portrait_encoding(dlib, (media.faces_dir() / "obama" / "obama_1.jpg").read_bytes())


@pytest.mark.parametrize("style", STYLES)
def test_glasses_frames_match_the_portrait_and_keep_the_impostor_margin(dlib, glasses_clips, obama_portrait, style):
    """Every 10th frame with glasses: the obama clip within the tolerance of obama_1.jpg, the
    GRID speaker (not obama) beyond it; and the closest other person's photo (measured closest
    to the bare clip: lin_manuel_miranda_1.png) stays beyond it for the obama frames."""
    tol = dlib.default_tolerance
    other = portrait_encoding(dlib, media.load_photo(media.faces_dir() / "lin_manuel_miranda" / "lin_manuel_miranda_1.png"))
    obama = [dlib.encode(f) for _, f in glasses_clips[style, OBAMA][::10]]
    grid = [dlib.encode(f) for _, f in glasses_clips[style, GRID][::10]]
    assert max(dlib.distance(e, obama_portrait) for e in obama) <= tol
    assert min(dlib.distance(e, other) for e in obama) > tol
    assert min(dlib.distance(e, obama_portrait) for e in grid) > tol


@pytest.mark.parametrize("style", STYLES)
def test_obama_with_glasses_passes_with_identity(mediapipe, dlib, glasses_clips, obama_portrait, style):
    """The full path a page takes: frames (not cached signals), liveness and identity."""
    s = LivenessSession(mediapipe, media.fixed_challenge((A.BLINK, A.OPEN_MOUTH)), identity=IdentityCheck(dlib, obama_portrait))
    verdict, _ = media.drive(s, glasses_clips[style, OBAMA], (500, 950))
    assert verdict.passed, verdict.reasons
    assert verdict.scores["identity_max_distance"] <= dlib.default_tolerance
