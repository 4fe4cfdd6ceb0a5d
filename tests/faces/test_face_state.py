"""A live challenge kept in the shared store between frames (core.proctoring.live) is judged
exactly as one kept in memory: the judge's bounded medians, the landmark poses and the history
kept apart and read back when asked for (``PosesNeeded``, ``HistoryNeeded``), the compact state.
Turns and nods (real and warped photos) and a long drifting session go through both and must
give the same guidance on every frame and the same verdict."""

import hashlib
import hmac
import random
import statistics
from dataclasses import replace
from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from core import Action as A
from core import FaceBox, FaceObservation, FrameSignals, LivenessSession
from core.faces import frame_signals, imaging
from core.faces.medians import MedianBand
from core.faces.session import KEEP_SOURCE_MAX_BYTES
from core.testing import face_attacks as attacks
from core.testing import face_media as media
from core.testing.face_store import StoreRun


def test_judge_median_band_is_exact_on_drifting_series():
    rng = random.Random(7)
    rebuilt = 0
    for _ in range(300):
        band, values = MedianBand(), []
        drift = rng.choice([-0.002, 0.0, 0.002])
        for i in range(rng.randint(1, 250)):
            values.append(round(0.3 + drift * i + rng.gauss(0, 0.02), 3))  # with ties
            band.add((values[-1],))
            if (mid := band.middle()) is None:
                band.rebuild([(v,) for v in values])
                mid, rebuilt = band.middle(), rebuilt + 1
            got = mid[0][1] if len(mid) == 1 else (mid[0][1] + mid[1][1]) / 2
            assert got == statistics.median(values)
            restored = MedianBand()
            restored.__setstate__(band.__getstate__())
            assert restored.rows == band.rows and restored.n == band.n
    assert rebuilt  # the drifting series left their bands


async def both(provider, challenge, frames, *, signals=False):
    """The guidance and verdicts of a session through the store and of one in memory."""
    run = StoreRun([provider])
    await run.start(LivenessSession(provider, challenge))
    here = LivenessSession(provider, challenge)
    guidance = []
    for t, f in frames:
        if signals:
            image, sig = f
            g = await run.step(image, t, sig)
            assert here.advance(image, sig) == g
        else:
            g = await run.frame(f, t)
            assert here.add_frame(f, t) == g
        guidance.append(g)
        if g.done:
            break
    verdict = await run.finish()
    assert verdict.as_dict() == here.finish().as_dict()
    trips = [x.round_trip for x in run.traffic]
    print(f"\n{[a.value for a in challenge.actions]}: passed {verdict.passed} {list(verdict.codes)}; "
          f"round trip median {statistics.median(trips):,.0f} B, max {max(trips):,} B over {len(trips)} frames")
    return verdict, guidance, run


@pytest.mark.parametrize("actions", [(A.TURN_LEFT, A.TURN_RIGHT), (A.TURN_RIGHT, A.TURN_LEFT)])
async def test_turns_of_the_clip_through_the_store(mediapipe, actions):
    frames = media.read_clip(media.videos_dir() / "intel_head_turn.gif")
    verdict, _, run = await both(mediapipe, media.fixed_challenge(actions, "n", (250, 1000)), frames)
    assert verdict.passed == (actions[0] is A.TURN_LEFT)
    if verdict.passed:  # the parallax checks read their poses back
        assert any(k.get("read pose") for k in run.kinds)


@pytest.mark.parametrize("kind", attacks.WARP_ONLY)
async def test_warped_stills_through_the_store(mediapipe, kind):
    frames = attacks.attack_inputs(mediapipe.detect, media.faces_dir() / "obama" / "obama_1.jpg", kind)
    actions, schedule = attacks.ATTACK_CHALLENGES[kind]
    verdict, _, _ = await both(mediapipe, media.fixed_challenge(actions, "n", schedule), frames)
    assert not verdict.passed


def _face(eye, mouth, aspect):
    anchors = np.array([[300.0 + 10 * i, 200.0 + (i % 3)] for i in range(13)])
    return FaceObservation(FaceBox(250, 150, 160, 180), yaw=0.0, pitch=0.0, roll=0.0, eye_openness=eye,
                           mouth_open=mouth, anchors=anchors, nose=np.array([360.0, 240.0]), eye_distance=120.0,
                           face_aspect=aspect)


async def test_judge_history_is_read_back_when_a_median_leaves_its_band():
    """Eyes narrowing and the face's aspect shrinking over a long wait, then a blink and an open
    mouth: the medians drift out of their bands and are rebuilt from the history kept apart."""
    provider = SimpleNamespace(name="constructed", liveness_actions=tuple(A))
    image = np.full((48, 64, 3), 128, np.uint8)
    frames = []
    for i in range(260):
        t = 100 * i
        eye, mouth, aspect = 0.36 - 0.0004 * i, 0.05, 0.52 - 0.0002 * i
        if 22000 <= t < 22300:  # the blink, after the prompt at 21000
            eye = 0.08
        if t >= 24500:  # the mouth opens after its prompt
            mouth = 0.45
        sig = FrameSignals(t, 64, 48, (_face(eye, mouth, aspect),), 120.0)
        frames.append((t, (image, sig)))
    challenge = media.fixed_challenge((A.BLINK, A.OPEN_MOUTH), "n", (21000, 23500))
    verdict, _, run = await both(provider, challenge, frames, signals=True)
    assert verdict.passed, verdict.reasons
    assert any(k.get("read history") for k in run.kinds)


def _page_rate(items, prompt_ms: int, phase_ms: int = 0):
    """What the page sends of a clip: ``PAGE_FPS`` until the first prompt, ``ACTION_FPS`` after."""
    before = [x for x in media.at_rate(items, media.PAGE_FPS, phase_ms) if x[0] < prompt_ms]
    return before + [x for x in media.at_rate(items, media.ACTION_FPS, phase_ms) if x[0] >= prompt_ms]


def _held_prompts(fps: float):
    """Constructed signals at ``fps``: each prompt held 2.8 s (the window grows to nearly its
    timeout) before the blink, then before the open mouth."""
    image = np.full((48, 64, 3), 128, np.uint8)
    frames = []
    for i in range(int(8.5 * fps)):
        t = round(1000 * i / fps)
        eye = 0.08 if 3800 <= t < 3950 else 0.33 + 0.01 * (i % 3)
        mouth = 0.45 if t >= 6800 else 0.05
        frames.append((t, (image, FrameSignals(t, 64, 48, (_face(eye, mouth, 0.5 + 0.002 * (i % 5)),), 120.0))))
    return frames


# not met yet at 30 fps: reading the judge's whole history back (a median left its band), or a
# window of some 85 frames in the state (18 B each, read and written), takes a frame over 4 KB
OVER_4_KB = pytest.mark.xfail(strict=True, reason="issue 20: the history read back or a long window at 30 fps")


@pytest.mark.parametrize("case", [
    pytest.param("clip 30 fps, blink then mouth", marks=OVER_4_KB),
    "clip 30 fps, mouth then blink",
    "clip page rate, blink then mouth",
    "clip page rate, mouth then blink",
    pytest.param("held prompts 30 fps", marks=OVER_4_KB),
    "held prompts 20 fps",
])
async def test_every_frame_s_round_trip_is_at_most_4_kb(mediapipe, case):
    """The state read and written, and whatever else a frame reads (poses, history), is at most
    4 KB on every frame: at the camera's 30 fps and at the page's rate (every phase), and with a
    prompt held almost to its timeout before the action; the guidance and verdict are those of
    the session kept in memory."""
    if case.startswith("clip"):
        clip = media.read_clip(media.videos_dir() / "obama_weekly_address_blinks.mp4")
        items = [(t, frame_signals(mediapipe, f, t)) for t, f in clip]
        actions, schedule = ((A.BLINK, A.OPEN_MOUTH), (1300, 1750)) if "blink then" in case else \
            ((A.OPEN_MOUTH, A.BLINK), (500, 950))
        runs = [items] if "30 fps" in case else \
            [_page_rate(items, schedule[0], p) for p in media.page_phases(items, media.ACTION_FPS)]
        provider = mediapipe
    else:
        runs, actions, schedule = [_held_prompts(30.0 if "30" in case else 20.0)], (A.BLINK, A.OPEN_MOUTH), (1000, 4000)
        provider = SimpleNamespace(name="constructed", liveness_actions=tuple(A))
    worst = 0
    for frames in runs:
        frames = [(t, (image, replace(sig, t_ms=t))) for t, (image, sig) in frames]
        verdict, _, run = await both(provider, media.fixed_challenge(actions, "n", schedule), frames, signals=True)
        assert verdict.passed, verdict.reasons
        worst = max(worst, *(x.round_trip for x in run.traffic))
    assert worst <= 4096


async def test_judge_state_of_an_earlier_format_or_tampered_with_is_not_loaded(mediapipe):
    run = StoreRun([mediapipe])
    await run.start(LivenessSession(mediapipe, media.fixed_challenge((A.BLINK, A.OPEN_MOUTH), "n", (500,))))
    key = f"face-live:{run.nonce}"
    state = await run.store.get(key)
    assert await run.checks.get(run.nonce, 1, 1) is not None
    await run.store.set(key, state[:-1] + bytes([state[-1] ^ 1]))
    assert await run.checks.get(run.nonce, 1, 1) is None
    # the earlier format: the same pickle signed with the key the earlier code derived
    earlier = hashlib.sha256(b"face-live:test-secret").digest()
    await run.store.set(key, hmac.new(earlier, state[32:], hashlib.sha256).digest() + state[32:])
    assert await run.checks.get(run.nonce, 1, 1) is None


async def test_the_page_s_jpeg_is_kept_as_the_frame_s_evidence(mediapipe):
    """A frame that comes in as a JPEG needing no downscaling is kept as it came (the pixels that
    were measured), not encoded again; the verdict is the one of the session kept in memory."""
    frames = media.read_clip(media.videos_dir() / "obama_weekly_address_blinks.mp4")[::2]
    sent = [(t, imaging.encode_jpeg(f, quality=80, max_side=None)) for t, f in frames]
    _, _, run = await both(mediapipe, media.fixed_challenge((A.BLINK, A.OPEN_MOUTH), "n", (500, 950)), sent)
    verdict = await run.finish()
    assert verdict.evidence and {e.jpeg for e in verdict.evidence} <= {j for _, j in sent}


def test_only_a_small_jpeg_of_the_measured_size_is_kept_as_it_came(mediapipe):
    frame = media.read_clip(media.videos_dir() / "obama_weekly_address_blinks.mp4")[40][1]
    jpeg = imaging.encode_jpeg(frame, max_side=None)
    assert frame_signals(mediapipe, jpeg, 0)[1].source == jpeg
    big = imaging.encode_jpeg(cv2.resize(frame, (1280, 720)), max_side=None)  # downscaled to be measured
    png = cv2.imencode(".png", frame)[1].tobytes()
    padded = jpeg[:2] + b"".join(b"\xff\xfe\xff\xff" + bytes(65533) for _ in range(3)) + jpeg[2:]  # comments
    assert len(padded) > KEEP_SOURCE_MAX_BYTES
    for data in (big, png, padded):
        image, sig = frame_signals(mediapipe, data, 0)
        assert sig.source is None and sig.face is not None and max(image.shape) <= 640
