"""Cheater's suite (issue 19, item 2): a snapshot must be live evidence. A script that answers the
capture with the learner's own portrait, the ID-card photo, one still photo or an earlier snapshot
is refused with the reason, its provisional seconds are withdrawn and the case page says why; a
burst of real camera frames of the learner passes. Real photos (../shared/faces), a real clip
(../shared/videos), the real dlib matcher in the real job."""

from __future__ import annotations

import functools
import io

import numpy as np
import pytest
from PIL import Image

from core.courses.tables import Enrollment
from core.files.tables import StoredFile
from core.faces import decode_image, ensure_rgb
from core.files.images import clean_image
from core.proctoring import burst as bursts
from core.proctoring import signatures, snapshot_match
from core.proctoring.study_tables import FaceEncoding, ProctorSession
from core.roster.tables import LearnerProfile
from core.study.tables import HoursEntry, StudyEvent
from core.tenancy import FaceRules
from core.testing.face_media import faces_dir, read_clip, videos_dir
from plugins.face_sface import DEFAULT_TOLERANCE as SFACE_TOLERANCE  # the construction group's matcher
from plugins.face_sface import SFaceProvider
from tests.test_snapshots import (  # noqa: F401  (fixtures)
    T,
    clock,
    course,
    enrol,
    events,
    frame,
    lesson_video,
    passed_check,
    recorder,
    settled,
    signin,
    start,
    study_until_capture,
    upload,
    xs_plugins,
)


@pytest.fixture(autouse=True)
async def no_faces_of_earlier_tests(xs_app):
    """Every learner here has the same portrait: no kept encoding outlives its test (else one face
    studying for several accounts flags them first)."""
    await FaceEncoding.delete(force=True)
    yield
    await FaceEncoding.delete(force=True)


def jpeg(img: Image.Image, quality: int = 80) -> bytes:
    out = io.BytesIO()
    img.save(out, format="JPEG", quality=quality)
    return out.getvalue()


def moved(data: bytes, frames: int = 3) -> list[bytes]:
    """A still picture animated as a script would: shifted by 2 px a frame (enough to look like
    natural variation between frames)."""
    img = Image.open(io.BytesIO(data)).convert("RGB")
    out = []
    for n in range(frames):
        canvas = Image.new("RGB", img.size)
        canvas.paste(img, (2 * n, n))
        out.append(jpeg(canvas))
    return out


@functools.cache
def _clip() -> list:
    return read_clip(videos_dir() / "obama_weekly_address_blinks.mp4", max_side=640)


def live_burst(start_ms: int = 500, gap_ms: int = 400, frames: int = 3) -> list[bytes]:
    """Frames of a real camera recording of the learner (the portrait is obama_1), ``gap_ms``
    apart, as the player takes them."""
    clip = _clip()
    out = []
    for n in range(frames):
        t = start_ms + n * gap_ms
        _, rgb = min(clip, key=lambda f: abs(f[0] - t))
        out.append(jpeg(Image.fromarray(rgb)))
    return out


async def portrait_bytes(platform, account_id: int) -> bytes:
    """The learner's own stored portrait file (what a learner can download from their archive)."""
    profile = await LearnerProfile.objects().where(LearnerProfile.account == account_id).first()
    return await platform.storage.read(await StoredFile.objects().where(StoredFile.id == profile.portrait).first())


async def captured(client, me, clock, lesson_id):
    await passed_check(me["tenant"], me["account"].id)
    token = (await start(client, lesson_id)).json()["token"]
    ticket, seq, position = await study_until_capture(client, clock, token, lesson_id)
    return token, ticket


async def credited(me) -> float:
    return (await Enrollment.objects().where(Enrollment.id == me["enrollment"].id).first()).credited_seconds


async def test_the_learners_own_portrait_is_not_a_snapshot(client, platform, make_account, course, clock):
    lesson = course[1].id
    me = await enrol(platform, make_account, client, course)
    portrait = await portrait_bytes(platform, me["account"].id)
    # The portrait file sent as every frame of the burst: no variation at all.
    token, ticket = await captured(client, me, clock, lesson)
    row = await settled((await upload(client, ticket, [portrait] * 3)).json()["id"])
    assert row.status == "failed" and row.reasons == ["抓拍的连续画面没有变化，不是摄像头现场画面"], row.scores
    assert row.scores["change"] == 0.0
    assert await credited(me) == 0.0  # the provisional seconds were withdrawn
    ps = await ProctorSession.objects().where(ProctorSession.session == token).first()
    assert ps.paused and ps.pause_reason == "snapshot_still"
    # Another learner's script moves the portrait by a few pixels a frame (variation enough): it is
    # still the portrait's picture.
    me = await enrol(platform, make_account, client, course)
    portrait = await portrait_bytes(platform, me["account"].id)
    token, ticket = await captured(client, me, clock, lesson)
    row = await settled((await upload(client, ticket, moved(portrait))).json()["id"])
    assert row.status == "failed" and row.scores["duplicate_of"] == "portrait", row.scores
    assert row.scores["duplicate_distance"] < me["tenant"].rules.face.snapshot_duplicate_fraction * SFACE_TOLERANCE
    assert row.reasons == ["抓拍照片与头像、身份证照片或以往抓拍重复，不是现场拍摄"]
    assert await credited(me) == 0.0
    assert (await events(me["account"].id)).count("snapshot_duplicate") == 1


def test_a_stored_photo_correlates_with_itself_sent_again_and_not_with_live_frames():
    """The figures behind ``burst.PICTURE_CORRELATION`` (docs/proctoring.md), printed."""
    matcher = SFaceProvider()

    def frame_signatures(jpegs):
        out = []
        for j in jpegs:
            box = matcher.detect(ensure_rgb(decode_image(j)))[0]
            out.append(bursts._unhex(bursts.Frame(decode_image(j, grey=True)).signature(box)))
        return out

    photos = {p: bursts._unhex(bursts.picture_signature(matcher, clean_image((faces_dir() / p).read_bytes()).data))
              for p in ("obama/obama_1.jpg", "obama/obama_2.jpg", "obama/obama_3.jpg")}
    sent = [bursts._correlation(f, photos[p]) for p in ("obama/obama_1.jpg", "obama/obama_3.jpg")
            for side in (480, 640, 1024) for f in frame_signatures(moved(frame(p, side)))]
    live = [bursts._correlation(f, ref) for start in range(300, 3400, 700)
            for f in frame_signatures(live_burst(start)) for ref in photos.values()]
    pair = [bursts._correlation(photos[a], photos[b]) for a in photos for b in photos if a < b]
    print(f"\npicture correlation: a photo sent shifted at 480-1024 px {min(sent):.2f}-{max(sent):.2f}; "
          f"live frames vs his photos {min(live):.2f}-{max(live):.2f}; photos of him {min(pair):.2f}-{max(pair):.2f}; "
          f"threshold {bursts.PICTURE_CORRELATION}")
    assert min(sent) >= bursts.PICTURE_CORRELATION > max(max(live), max(pair))


def noisy(data: bytes, sigma: float = 3.0, seed: int = 0) -> bytes:
    """A frame with Gaussian noise added, re-encoded: a replay dressed up as a new capture."""
    levels = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), dtype=np.float64)
    levels = levels + np.random.default_rng(seed).normal(0, sigma, levels.shape)
    return jpeg(Image.fromarray(np.clip(levels, 0, 255).astype(np.uint8)))


def test_live_frames_change_more_than_a_still_picture_sent_again():
    """The figures behind ``snapshot_burst_min_change`` for the variation rule (docs/proctoring.md),
    printed: the face region's change between consecutive frames 0.4 s apart of the two real clips,
    and of one photo sent three times re-encoded at quality 50-90 or with noise added."""
    matcher = SFaceProvider()
    min_change = FaceRules().snapshot_burst_min_change

    def change(jpegs):
        box = matcher.detect(ensure_rgb(decode_image(jpegs[0])))[0]
        crops = [bursts._crop(signatures.Frame(decode_image(j, grey=True)), box) for j in jpegs]
        return min(float(np.abs(a - b).mean()) for a, b in zip(crops, crops[1:]))

    quiet = read_clip(videos_dir() / "grid_id2_blinks.mpg", max_side=640)
    grid = [change([jpeg(Image.fromarray(min(quiet, key=lambda f: abs(f[0] - t))[1])) for t in (s, s + 400, s + 800)])
            for s in range(0, int(quiet[-1][0]) - 800, 400)]
    obama = [change(live_burst(s)) for s in range(0, 3000, 400)]
    photo = frame("obama/obama_2.jpg")
    still = [change([jpeg(Image.open(io.BytesIO(photo)).convert("RGB"), q) for q in qualities])
             for qualities in ((50, 70, 90), (90, 70, 50), (60, 80, 60))]
    noise = change([noisy(photo, 3.0, seed) for seed in range(3)])
    print(f"\nvariation: grid clip {min(grid):.2f}-{max(grid):.2f}, obama clip {min(obama):.2f}-{max(obama):.2f}; "
          f"one photo re-encoded {min(still):.2f}-{max(still):.2f}, with noise (sigma 3) {noise:.2f}; "
          f"min_change {min_change}")
    assert max(max(still), noise) < min_change < min(min(grid), min(obama))


def test_an_earlier_burst_sent_again_is_near_its_signatures_and_later_frames_are_far():
    """The figures behind the earlier-snapshot check (docs/proctoring.md), for both kinds of
    signature, printed: a burst of the clip re-encoded at quality 50-90 or with noise added, cut at
    its own face box, against its kept signatures; frames of the clip 1-2 s later against them.
    Re-encoded ones lie below ``snapshot_burst_min_change``, later frames far above it."""
    matcher = SFaceProvider()
    min_change = FaceRules().snapshot_burst_min_change

    def cut(kind, jpegs, box):
        frames = [signatures.Frame(decode_image(j, grey=True)) for j in jpegs]
        return signatures.CUTS[kind](frames, box)[:, 0].astype(np.int16)

    figures = {}
    for kind in (signatures.CELLS, signatures.BILINEAR):
        sent, noise, later = [], [], []
        for start_ms in (300, 700):
            burst = live_burst(start_ms)
            found = matcher.detect(ensure_rgb(decode_image(burst[0])))[0]
            box = np.array([[found.x, found.y, found.w, found.h]])
            theirs = cut(kind, burst, box)
            for quality in (50, 70, 90):
                again = [jpeg(Image.open(io.BytesIO(f)).convert("RGB"), quality) for f in burst]
                sent.append(float(np.abs(cut(kind, again, box) - theirs).mean(axis=1).max()))
            noise.append(float(np.abs(cut(kind, [noisy(f) for f in burst], box) - theirs).mean(axis=1).max()))
            for after_ms in (1000, 1500, 2000):
                mine = cut(kind, live_burst(start_ms + after_ms), box)
                later.append(min(float(np.abs(a - b).mean()) for a in mine for b in theirs))
        figures[kind] = (sent, noise, later)
        print(f"\nearlier-snapshot check, {kind}: sent again re-encoded {min(sent):.2f}-{max(sent):.2f}, "
              f"with noise (sigma 3) {min(noise):.2f}-{max(noise):.2f}; frames 1-2 s later {min(later):.2f}-"
              f"{max(later):.2f}; min_change {min_change}")
    for kind, (sent, _noise, later) in figures.items():
        assert max(sent) < min_change < min(later), kind


async def test_the_id_card_photo_is_not_a_snapshot(client, platform, make_account, course, clock):
    me = await enrol(platform, make_account, client, course)
    tenant, account = me["tenant"], me["account"]
    # The ID card's photo: another real photo of the learner (it would match the portrait).
    id_photo = clean_image((faces_dir() / "obama/obama_3.jpg").read_bytes()).data
    stored = await platform.storage.save(id_photo, tenant_id=tenant.id, kind="id_front", media_type="image/jpeg",
                                         owner_id=account.id)
    await LearnerProfile.update({LearnerProfile.id_front: stored.id}).where(LearnerProfile.account == account.id)
    token, ticket = await captured(client, me, clock, course[1].id)
    row = await settled((await upload(client, ticket, moved(frame("obama/obama_3.jpg", 1024)))).json()["id"])
    assert row.status == "failed" and row.scores["duplicate_of"] == "id_card", row.scores
    assert row.scores["distance"] <= row.scores["tolerance"]  # the same person: only the duplicate check refuses it
    assert await credited(me) == 0.0


async def test_an_earlier_snapshot_sent_again_is_refused_and_flagged(client, platform, make_account, course, clock,
                                                                     recorder):
    me = await enrol(platform, make_account, client, course)
    burst = live_burst()
    token, ticket = await captured(client, me, clock, course[1].id)
    first = await settled((await upload(client, ticket, burst)).json()["id"])
    assert first.status == "passed", first.scores
    confirmed = await credited(me)
    assert confirmed > 0
    # The next session's capture answered with the same frames, re-encoded (other bytes, other pixels).
    token, ticket = await captured(client, me, clock, course[1].id)
    again = [jpeg(Image.open(io.BytesIO(f)).convert("RGB"), quality=70) for f in burst]
    row = await settled((await upload(client, ticket, again)).json()["id"])
    assert row.status == "failed" and row.scores["duplicate_of"] == "snapshot", row.scores
    assert await credited(me) == confirmed  # this session's seconds withdrawn, the verified ones kept
    enrolment = await Enrollment.objects().where(Enrollment.id == me["enrollment"].id).first()
    assert enrolment.flagged
    assert ("construction", me["account"].id, me["enrollment"].id, "replayed_snapshot") in recorder.flagged
    reversal = await HoursEntry.objects().where((HoursEntry.account == me["account"].id) & (HoursEntry.seconds < 0)).first()
    assert reversal.reason == "face_unverified"


async def test_an_earlier_snapshot_judged_by_another_worker_sent_again_is_refused(client, platform, make_account,
                                                                                  course, clock):
    """The earlier snapshots' face boxes and signatures are kept in the worker's memory once read
    or written; one judged by another worker process (not in this one's memory) is read from the
    database, also when the worker holds another row that had its id (SQLite reuses a deleted
    row's id)."""
    me = await enrol(platform, make_account, client, course)
    burst = live_burst(2600)
    token, ticket = await captured(client, me, clock, course[1].id)
    first = await settled((await upload(client, ticket, burst)).json()["id"])
    assert first.status == "passed", first.scores
    snapshot_match._EARLIER.clear()  # this worker did not judge it, but held a deleted row of the same id
    snapshot_match._EARLIER[(me["tenant"].id, first.id, "a deleted snapshot's ticket")] = None
    token, ticket = await captured(client, me, clock, course[1].id)
    again = [jpeg(Image.open(io.BytesIO(f)).convert("RGB"), quality=70) for f in burst]
    row = await settled((await upload(client, ticket, again)).json()["id"])
    assert row.status == "failed" and row.scores["duplicate_of"] == "snapshot", row.scores
    kept = snapshot_match._EARLIER[(me["tenant"].id, first.id, first.nonce)]
    assert kept == (first.scores["box"], first.scores["signatures"], "cells")


async def test_a_live_burst_of_the_learner_passes_and_the_case_page_says_why_others_did_not(
        client, platform, make_account, course, clock):
    me = await enrol(platform, make_account, client, course)
    token, ticket = await captured(client, me, clock, course[1].id)
    good = await settled((await upload(client, ticket, live_burst(1200))).json()["id"])
    assert good.status == "passed" and good.scores["change"] >= me["tenant"].rules.face.snapshot_burst_min_change
    assert len(good.evidence) == me["tenant"].rules.face.snapshot_burst_frames
    token, ticket = await captured(client, me, clock, course[1].id)
    still = await settled((await upload(client, ticket, [frame("obama/obama_2.jpg")] * 3)).json()["id"])
    assert still.status == "failed"
    ok = await StudyEvent.objects().output(load_json=True).where(
        (StudyEvent.account == me["account"].id) & (StudyEvent.kind == "snapshot_ok")).first()
    assert ok.detail["confirmed_seconds"] > 0
    # A burst of the wrong size is refused at the upload, in Chinese.
    token, ticket = await captured(client, me, clock, course[1].id)
    r = await upload(client, ticket, live_burst(2000, frames=2))
    assert r.status_code == 400 and "连续拍摄的 3 张画面" in r.json()["error"]
    await Enrollment.update({Enrollment.status: "review"}).where(Enrollment.id == me["enrollment"].id)
    reviewer, password = await make_account("construction", role="reviewer")
    assert (await client.signin("construction", "id", password, id_number=reviewer.id_number)).status_code == 303
    page = (await client.get(f"{T}/review/{me['enrollment'].id}")).text
    assert "抓拍的连续画面没有变化，不是摄像头现场画面" in page
    top = page[:page.index("本人照片")]
    assert "抓拍异常的学习" in top and "抓拍未通过 1 次" in top
