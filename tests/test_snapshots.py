"""Proctoring during study (issue 11): the face gate before a session, the server's snapshot
schedule, snapshots matched in a job on the real photos (../shared/faces), pause and withdrawal of
provisional seconds, flags for repeated mismatches and for one face on several accounts, the
player's idle/hidden/devices evidence, the reviewer-only image route and the retention hold."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import random
import secrets

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from core import hookimpl
from core.courses.tables import Enrollment
from core.files.images import clean_image
from core.files.tables import StoredFile
from core.proctoring import consent as consents
from core.faces import Capability, select_provider
from core.proctoring import gate, snapshot_match, snapshots
from core.proctoring.coverage import first_capture_plan
from core.proctoring.schedule import plan
from core.proctoring.study_tables import FaceEncoding, ProctorSession
from core.proctoring.tables import FaceVerification
from core.roster.tables import LearnerProfile
from core.study import services
from core.study.tables import HoursEntry, LessonProgress, StudyEvent
from core.testing.face_media import faces_dir
from plugins.face_sface import DEFAULT_TOLERANCE as SFACE_TOLERANCE  # the construction group's matcher

T = "/t/construction"


# --- the schedule: a pure function ---------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(seed=st.integers(0, 2**32), span=st.floats(0.5, 20_000), lo=st.integers(1, 900), extra=st.integers(0, 900))
def test_schedule_never_leaves_more_than_the_maximum_and_asks_at_least_once(seed, span, lo, extra):
    hi = lo + extra
    times = plan(random.Random(seed), span, lo, hi)
    assert times, "every lesson with something left to study gets a capture"
    assert all(0 < t < span for t in times) and times == sorted(times)
    gaps = [b - a for a, b in zip([0.0, *times], [*times, span], strict=True)]
    assert max(gaps) <= hi + 1e-9
    assert all(b - a >= lo - 1e-9 for a, b in zip(times, times[1:], strict=False))


@settings(max_examples=300, deadline=None)
@given(seed=st.integers(0, 2**32), first=st.floats(0.1, 2_000), creditable=st.floats(1, 1_000))
def test_the_first_capture_falls_in_the_middle_half_of_what_the_session_can_credit(seed, first, creditable):
    times = first_capture_plan(random.Random(seed), [first, first + 600], creditable)
    assert times[0] <= 0.75 * creditable
    assert times[-2:] == [first, first + 600], "the lesson's plan is kept after it"
    if first > 0.75 * creditable:
        assert 0.25 * creditable <= times[0] and len(times) == 3


def test_schedule_is_random_and_refuses_bad_intervals():
    a, b = plan(random.Random(1), 3600, 300, 900), plan(random.Random(2), 3600, 300, 900)
    assert a != b and 3 <= len(a) <= 12
    assert plan(random.Random(1), 0, 300, 900) == []
    with pytest.raises(ValueError):
        plan(random.Random(1), 100, 0, 10)
    with pytest.raises(ValueError):
        plan(random.Random(1), 100, 20, 10)


def test_rules_refuse_a_bad_snapshot_interval():
    import msgspec

    from core.tenancy import StudyRules

    with pytest.raises(msgspec.ValidationError, match="snapshot_interval_seconds"):
        msgspec.convert({"snapshot_interval_seconds": [900, 300]}, StudyRules)
    with pytest.raises(msgspec.ValidationError, match="snapshot_interval_seconds"):
        msgspec.convert({"snapshot_interval_seconds": [0, 300]}, StudyRules)


# --- fixtures ------------------------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 2_000_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Recorder:
    """Records the proctoring notifications with their real arguments."""

    def __init__(self) -> None:
        self.checked: list[tuple[str, int, str, str]] = []
        self.flagged: list[tuple[str, int, int, str]] = []

    @hookimpl
    def proctor_snapshot_checked(self, tenant, account, verification, outcome):
        self.checked.append((tenant.slug, account.id, verification.purpose, outcome))

    @hookimpl
    async def proctor_flagged(self, tenant, account, enrollment, reason):
        self.flagged.append((tenant.slug, account.id, enrollment.id, reason))


@pytest.fixture
def recorder():
    return Recorder()


@pytest.fixture
def xs_plugins(recorder):
    return [recorder]


@pytest.fixture
def clock(monkeypatch):
    c = FakeClock()
    monkeypatch.setattr(services, "server_time", c)
    return c


@pytest.fixture(scope="session")
def lesson_video(tmp_path_factory):
    from core.courses.demo_media import make_lesson_video

    return make_lesson_video(tmp_path_factory.mktemp("video") / "lesson.webm", "测试课件", ["第一行"],
                             seconds=60, fps=1, size=(320, 180))


def plain_jpeg(size=(400, 300), color=(120, 140, 160)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, format="JPEG")
    return out.getvalue()


def frame(photo: str, side: int = 480) -> bytes:
    """A real photo as the player sends it: a small JPEG."""
    img = Image.open(faces_dir() / photo).convert("RGB")
    img.thumbnail((side, side))
    out = io.BytesIO()
    img.save(out, format="JPEG", quality=80)
    return out.getvalue()


@pytest.fixture
async def course(platform, lesson_video):
    import shutil
    import tempfile
    from pathlib import Path

    from core.courses import services as courses

    tenant = platform.tenants.get("construction")
    position = (await courses.ensure_positions(tenant, ["施工员"]))["施工员"]
    c = await courses.create_course(tenant, position.id, 2026, "2026 年度继续教育", 1.0)
    tmp = Path(tempfile.mkdtemp()) / "v.webm"
    shutil.copy(lesson_video, tmp)
    lesson = await courses.add_video_lesson(platform, tenant, c, "第一讲", tmp)
    return c, lesson


async def enrol(platform, make_account, client, course, portrait="obama/obama_1.jpg", consent=True):
    """A construction learner with ID images and a real portrait, enrolled, signed in, consenting."""
    tenant = platform.tenants.get("construction")
    account, password = await make_account("construction")
    now = dt.datetime.now(dt.UTC)
    ids = {}
    for kind in ("id_front", "id_back", "portrait"):
        data = clean_image((faces_dir() / portrait).read_bytes()).data if kind == "portrait" else plain_jpeg()
        ids[kind] = (await platform.storage.save(data, tenant_id=tenant.id, kind=kind, media_type="image/jpeg",
                                                 owner_id=account.id)).id
    await LearnerProfile(tenant=tenant.id, account=account.id, real_name=account.real_name,
                         id_number=account.id_number, created_at=now, updated_at=now, **ids).save()
    enrollment = Enrollment(tenant=tenant.id, account=account.id, course=course[0].id, created_at=now)
    await enrollment.save()
    await signin(client, account, password)
    if consent:
        await consents.grant(tenant, account.id, consents.text_sha256(consents.face_consent_text(tenant)))
    return {"account": account, "password": password, "enrollment": enrollment, "tenant": tenant}


async def signin(client, account, password):
    r = await client.signin("construction", "id", password, id_number=account.id_number)
    assert r.status_code == 303


async def passed_check(tenant, account_id: int, age_seconds: float = 0.0, purpose="study", status="passed"):
    """A face check as /face/finish stores it (the webcam flow itself: tests/test_proctoring.py)."""
    at = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=age_seconds)
    row = FaceVerification(tenant=tenant.id, account=account_id, purpose=purpose, nonce=secrets.token_hex(16),
                           status=status, created_at=at, finished_at=at, liveness_provider="mediapipe",
                           match_provider="sface")
    await row.save()
    return row


async def start(client, lesson_id: int):
    return await client.post(f"{T}/study/lessons/{lesson_id}/session")


async def beat(client, token, seq, lesson_id, position, playing=True, event="beat", idle=0):
    r = await client.post(f"{T}/study/beat", {"token": token, "seq": str(seq), "lesson": str(lesson_id),
                                              "position": str(position), "playing": "1" if playing else "0",
                                              "event": event, "idle": str(idle), "visible": "1"})
    assert r.status_code == 200, r.text
    return r.json()


def as_burst(data: bytes | list[bytes], frames: int = 3) -> list[bytes]:
    """The burst the player sends: a list as given; an image as a face moving a little (shifted
    by 2 px a frame, as a head moves between frames 0.4 s apart); anything else repeated."""
    if isinstance(data, list):
        return data
    try:
        img = Image.open(io.BytesIO(data)).convert("RGB")
    except Exception:
        return [data] * frames
    out = []
    for n in range(frames):
        shifted = Image.new("RGB", img.size)
        shifted.paste(img, (2 * n, n))
        buf = io.BytesIO()
        shifted.save(buf, format="JPEG", quality=80)
        out.append(buf.getvalue())
    return out


async def upload(client, ticket: str, data: bytes | list[bytes]):
    files = [("frame", (f"f{i}.jpg", f, "image/jpeg")) for i, f in enumerate(as_burst(data))]
    return await client.http.post(f"{T}/study/snapshot?ticket={ticket}", files=files,
                                  headers={"x-csrftoken": await client._csrf()})


async def settled(verification_id: int, timeout: float = 90.0) -> FaceVerification:
    """Wait for the check_snapshot job (in-process runner) to judge the snapshot."""
    from core.jobs.tables import JobRun

    for _ in range(int(timeout * 10)):
        run = await JobRun.objects().where(JobRun.key == f"snapshot:{verification_id}").order_by(
            JobRun.id, ascending=False).first()
        if run is not None and run.status in ("complete", "failed"):
            assert run.status == "complete", run.error
            return await FaceVerification.objects().output(load_json=True).where(
                FaceVerification.id == verification_id).first()
        await asyncio.sleep(0.1)
    raise AssertionError("the snapshot job did not finish")


async def study_until_capture(client, clock, token, lesson_id, seq=0, position=0.0):
    """Play (15 s beats) until the server asks for a capture; returns (ticket, seq, position)."""
    for _ in range(8):
        clock.advance(15)
        seq, position = seq + 1, position + 15
        a = await beat(client, token, seq, lesson_id, position)
        if a.get("capture"):
            return a["capture"]["ticket"], seq, position
    raise AssertionError("no capture was requested")


async def events(account_id: int) -> list[str]:
    return [e.kind for e in await StudyEvent.objects().output(load_json=True).where(StudyEvent.account == account_id).order_by(StudyEvent.id)]


# --- the gate ------------------------------------------------------------------------------------


async def test_player_and_session_need_a_recent_unused_passed_face_check(client, platform, make_account, course,
                                                                         clock):
    lesson = course[1]
    me = await enrol(platform, make_account, client, course)
    tenant, account = me["tenant"], me["account"]
    r = await client.get(f"{T}/study/lessons/{lesson.id}")
    assert r.status_code == 303 and r.headers["location"].endswith(f"/face/check?next=/study/lessons/{lesson.id}")
    r = await start(client, lesson.id)
    assert r.status_code == 409 and r.json()["error"] == gate.GATE_REQUIRED
    assert r.json()["face_check"] == f"/face/check?next=/study/lessons/{lesson.id}"
    # Failed, too old, another purpose, a snapshot: none of them opens the gate.
    await passed_check(tenant, account.id, status="failed")
    await passed_check(tenant, account.id, age_seconds=tenant.rules.face.gate_window_seconds + 5)
    await passed_check(tenant, account.id, purpose="snapshot")
    assert (await start(client, lesson.id)).status_code == 409
    ok = await passed_check(tenant, account.id)
    assert (await client.get(f"{T}/study/lessons/{lesson.id}")).status_code == 200
    r = await start(client, lesson.id)
    assert r.status_code == 201, r.text
    ps = await ProctorSession.objects().where(ProctorSession.session == r.json()["token"]).first()
    assert ps.gate == ok.id and ps.account == account.id and ps.enrollment == me["enrollment"].id
    assert await events(account.id) == ["gate_passed"]
    # Used: the next session (a reload, another tab) needs a new face check.
    assert (await client.get(f"{T}/study/lessons/{lesson.id}")).status_code == 303
    assert (await start(client, lesson.id)).status_code == 409
    # Consent withdrawn: a fresh check no longer opens the gate.
    await passed_check(tenant, account.id)
    await consents.withdraw(tenant, account.id)
    assert (await start(client, lesson.id)).status_code == 409


async def test_simultaneous_starts_with_one_face_check_open_one_session(client, platform, make_account, course,
                                                                        clock):
    me = await enrol(platform, make_account, client, course)
    await passed_check(me["tenant"], me["account"].id)
    results = await asyncio.gather(*(start(client, course[1].id) for _ in range(6)))
    codes = sorted(r.status_code for r in results)
    assert codes == [201] + [409] * 5, codes
    assert await ProctorSession.count().where(ProctorSession.account == me["account"].id) == 1


async def test_another_accounts_face_check_does_not_open_the_gate(client, platform, make_account, course, clock):
    other = await enrol(platform, make_account, client, course)
    await passed_check(other["tenant"], other["account"].id)
    me = await enrol(platform, make_account, client, course)
    assert (await start(client, course[1].id)).status_code == 409
    assert (await client.get(f"{T}/study/lessons/{course[1].id}")).status_code == 303
    del me


async def test_snapshot_failures_are_not_face_check_attempts(client, platform, make_account, course):
    from core.proctoring.services import attempts_left

    me = await enrol(platform, make_account, client, course)
    for _ in range(5):
        await passed_check(me["tenant"], me["account"].id, purpose="snapshot", status="failed")
    assert await attempts_left(platform, me["tenant"], me["account"].id) == me["tenant"].rules.face.max_attempts
    await passed_check(me["tenant"], me["account"].id, status="failed")
    assert await attempts_left(platform, me["tenant"], me["account"].id) == me["tenant"].rules.face.max_attempts - 1


async def test_the_construction_face_page_uses_the_guides_words_and_core_stays_neutral(client, platform, make_account):
    """拍照识别 and the camera-refused message come from the construction plugin's templates; the
    scripts show the page's words (data-camera-refused), and the core's own words are neutral."""
    from pathlib import Path

    guide = Path(faces_dir()).parent.joinpath("manuals", "construction_group_user_guide.zh.txt").read_text("utf-8")
    from tests.test_proctoring import learner

    await learner(platform, make_account, client, slug="construction")  # a portrait, signed in, consent given
    page = (await client.get("/t/construction/face/check")).text
    refused = page.split('data-camera-refused="', 1)[1].split('"', 1)[0]
    assert refused.removeprefix("无法使用摄像头：请").removesuffix("。") in guide and refused.startswith("无法使用摄像头：请单击“允许”")
    assert "点击“拍照识别”" in guide and ">拍照识别</button>" in page
    core = Path(__file__).resolve().parents[1] / "core"
    neutral = core.joinpath("templates", "proctoring", "_camera_refused.html").read_text("utf-8")
    assert "单击“允许”" not in neutral and "拍照识别" not in core.joinpath("templates", "proctoring", "check.html").read_text("utf-8")
    for script in ("facecheck.js", "player.js"):
        js = core.joinpath("static", "js", script).read_text("utf-8")
        assert 'getAttribute("data-camera-refused")' in js and "启用摄像头" not in js


# --- snapshots on the real photos ----------------------------------------------------------------


async def test_same_person_snapshot_is_matched_in_a_job_and_confirms_the_hours(client, platform, make_account,
                                                                                course, clock, recorder, monkeypatch):
    import threading

    from core.proctoring import burst

    matched_in = []
    real_judge = burst.judge

    def judge(*args):  # where the face work runs: the bounded face pool, off the event loop
        matched_in.append(threading.current_thread().name)
        return real_judge(*args)

    monkeypatch.setattr(burst, "judge", judge)
    lesson = course[1]
    me = await enrol(platform, make_account, client, course)
    account = me["account"]
    await passed_check(me["tenant"], account.id)
    token = (await start(client, lesson.id)).json()["token"]
    ticket, seq, position = await study_until_capture(client, clock, token, lesson.id)
    # Only the outstanding ticket is accepted: no ticket, a made-up one, a hostile file.
    assert (await upload(client, "", frame("obama/obama_2.jpg"))).status_code == 404
    assert (await upload(client, "made-up", frame("obama/obama_2.jpg"))).status_code == 404
    bad = await upload(client, ticket, b"<svg onload=alert(1)>")
    assert bad.status_code == 400 and "图片" in bad.json()["error"]
    r = await upload(client, ticket, frame("obama/obama_2.jpg"))
    assert r.status_code == 202, r.text
    assert (await upload(client, ticket, frame("obama/obama_2.jpg"))).status_code == 404  # spent
    row = await settled(r.json()["id"])
    assert row.purpose == "snapshot" and row.status == "passed" and row.reasons == []
    assert matched_in and all(name.startswith("xs-face") for name in matched_in), matched_in
    assert row.match_provider == me["tenant"].rules.face.match_provider == "sface"
    assert row.scores["faces"] == 1 and row.scores["distance"] <= row.scores["tolerance"] == SFACE_TOLERANCE
    stored = await StoredFile.objects().where(StoredFile.id == row.evidence[0]).first()
    assert stored.kind == "snapshot" and stored.owner == account.id
    assert (await platform.storage.read(stored))[:2] == b"\xff\xd8"  # re-encoded JPEG
    ps = await ProctorSession.objects().where(ProctorSession.session == token).first()
    assert ps.provisional == 0.0 and not ps.paused and ps.ticket == ""
    kinds = await events(account.id)
    assert kinds == ["gate_passed", "snapshot_ok"], kinds
    ok = await StudyEvent.objects().output(load_json=True).where((StudyEvent.account == account.id) & (StudyEvent.kind == "snapshot_ok")).first()
    assert ok.verification == row.id and ok.session == token and ok.detail["confirmed_seconds"] == position
    # Study goes on and is credited.
    clock.advance(10)
    a = await beat(client, token, seq + 1, lesson.id, position + 10)
    assert a["credited"] == 10 and not a.get("paused")
    assert (me["tenant"].slug, account.id, "snapshot", "ok") in recorder.checked


async def test_other_person_pauses_withdraws_provisional_hours_and_needs_a_new_face_check(
        client, platform, make_account, course, clock, recorder):
    lesson = course[1]
    me = await enrol(platform, make_account, client, course)
    account, tenant = me["account"], me["tenant"]
    await passed_check(tenant, account.id)
    token = (await start(client, lesson.id)).json()["token"]
    ticket, seq, position = await study_until_capture(client, clock, token, lesson.id)
    credited = (await Enrollment.objects().where(Enrollment.id == me["enrollment"].id).first()).credited_seconds
    assert credited == position
    r = await upload(client, ticket, frame("biden/biden_1.jpg"))
    assert r.status_code == 202
    row = await settled(r.json()["id"])
    assert row.status == "failed" and row.reasons == ["抓拍照片与本人头像不一致"]
    assert row.scores["distance"] > row.scores["tolerance"] == SFACE_TOLERANCE
    clock.advance(15)
    a = await beat(client, token, seq + 1, lesson.id, position + 15)
    assert a["paused"] and a["face_paused"] and a["credited"] == 0
    assert a["face_check"] == f"/face/check?next=/study/lessons/{lesson.id}" and "人脸核验" in a["message"]
    # The seconds since the last good snapshot (none: all of them) were withdrawn by a reversing row.
    enrolment = await Enrollment.objects().where(Enrollment.id == me["enrollment"].id).first()
    assert enrolment.credited_seconds == 0.0 and not enrolment.flagged
    reversal = await HoursEntry.objects().where((HoursEntry.account == account.id) & (HoursEntry.seconds < 0)).first()
    assert reversal.seconds == -position and reversal.reason == "face_unverified"
    progress = await LessonProgress.objects().where(LessonProgress.account == account.id).first()
    # The lesson goes back to where the credit stands: those seconds are watched (and earned) again.
    assert progress.credited_seconds == 0.0 and progress.furthest == 0.0 and progress.position == 0.0
    assert not progress.completed and a["total_hours"] == 0.0  # the page shows the hours net of the withdrawal
    kinds = await events(account.id)
    assert kinds == ["gate_passed", "snapshot_mismatch", "paused"], kinds
    paused = await StudyEvent.objects().output(load_json=True).where((StudyEvent.account == account.id) & (StudyEvent.kind == "paused")).first()
    assert paused.detail == {"reason": "snapshot_mismatch", "withdrawn_seconds": position}
    # A new face check resumes with a new session; the timeline says so.
    await passed_check(tenant, account.id)
    r = await start(client, lesson.id)
    assert r.status_code == 201 and r.json()["position"] == 0.0 and r.json()["lesson_credited"] == 0.0
    assert (await events(account.id))[-2:] == ["gate_passed", "resumed"]
    assert (tenant.slug, account.id, "snapshot", "mismatch") in recorder.checked


async def test_a_capture_that_never_arrives_counts_as_a_bad_snapshot(client, platform, make_account, course, clock):
    lesson = course[1]
    me = await enrol(platform, make_account, client, course)
    account, tenant = me["account"], me["tenant"]
    await passed_check(tenant, account.id)
    token = (await start(client, lesson.id)).json()["token"]
    ticket, seq, position = await study_until_capture(client, clock, token, lesson.id)
    clock.advance(tenant.rules.study.snapshot_grace_seconds + 1)
    a = await beat(client, token, seq + 1, lesson.id, position + 2)
    assert a["paused"] and a["face_paused"] and "未按要求上传学习抓拍照片" in a["message"]
    assert (await upload(client, ticket, frame("obama/obama_2.jpg"))).status_code == 404  # too late
    missing = await FaceVerification.objects().where(
        (FaceVerification.account == account.id) & (FaceVerification.purpose == "snapshot")).first()
    assert missing.status == "failed" and missing.nonce == ticket
    assert (await events(account.id))[1:] == ["snapshot_missing", "paused"]
    assert (await Enrollment.objects().where(Enrollment.id == me["enrollment"].id).first()).credited_seconds == 0.0


async def test_repeated_mismatches_flag_the_enrolment(client, platform, make_account, course, clock, recorder,
                                                      monkeypatch):
    lesson = course[1]
    me = await enrol(platform, make_account, client, course)
    account, tenant = me["account"], me["tenant"]
    monkeypatch.setattr(tenant.rules.face, "snapshot_mismatches_to_flag", 2)
    for n in range(2):
        await passed_check(tenant, account.id)
        token = (await start(client, lesson.id)).json()["token"]
        ticket, _, _ = await study_until_capture(client, clock, token, lesson.id)
        row = await settled((await upload(client, ticket, frame(f"biden/biden_{n + 1}.jpg"))).json()["id"])
        assert row.status == "failed" and row.reasons == ["抓拍照片与本人头像不一致"], row.scores
        flagged = (await Enrollment.objects().where(Enrollment.id == me["enrollment"].id).first()).flagged
        assert flagged is (n == 1)
    kinds = await events(account.id)
    assert kinds.count("snapshot_mismatch") == 2 and kinds.count("flagged") == 1 and kinds[-1] == "flagged"
    assert recorder.flagged == [(tenant.slug, account.id, me["enrollment"].id, "repeated_mismatch")]


async def test_proctor_snapshot_checked(client, platform, make_account, course, clock, recorder):
    """The hook gets the tenant, the Account row, the snapshot's FaceVerification and the outcome."""
    lesson = course[1]
    me = await enrol(platform, make_account, client, course)
    await passed_check(me["tenant"], me["account"].id)
    token = (await start(client, lesson.id)).json()["token"]
    ticket, _, _ = await study_until_capture(client, clock, token, lesson.id)
    await settled((await upload(client, ticket, frame("groups/two_people.jpg", side=640))).json()["id"])
    assert recorder.checked == [("construction", me["account"].id, "snapshot", "faces")]
    assert (await events(me["account"].id))[1:] == ["snapshot_faces", "paused"]


async def test_proctor_flagged(client, platform, make_account, course, clock, recorder, monkeypatch):
    """Flagged once per enrolment, with the real Enrollment row."""
    me = await enrol(platform, make_account, client, course)
    assert await snapshots.flag(platform, me["tenant"], me["account"].id, me["enrollment"].id, "repeated_mismatch")
    assert not await snapshots.flag(platform, me["tenant"], me["account"].id, me["enrollment"].id, "repeated_mismatch")
    assert recorder.flagged == [("construction", me["account"].id, me["enrollment"].id, "repeated_mismatch")]


# --- one face, several accounts ------------------------------------------------------------------


async def _study_with(client, platform, make_account, course, clock, portrait, snapshot):
    me = await enrol(platform, make_account, client, course, portrait=portrait)
    await passed_check(me["tenant"], me["account"].id)
    token = (await start(client, course[1].id)).json()["token"]
    ticket, _, _ = await study_until_capture(client, clock, token, course[1].id)
    row = await settled((await upload(client, ticket, frame(snapshot))).json()["id"])
    assert row.status == "passed", row.scores
    return me


async def test_one_face_studying_for_two_accounts_flags_both(client, platform, make_account, course, clock, recorder,
                                                              monkeypatch):
    # Photos of one person nobody else in this test database studies as (two photos: each is one
    # account's portrait and the other's snapshot).
    a = await _study_with(client, platform, make_account, course, clock, "alex_lacamoire/alex_lacamoire_1.jpg",
                          "alex_lacamoire/alex_lacamoire_2.png")
    b = await _study_with(client, platform, make_account, course, clock, "alex_lacamoire/alex_lacamoire_2.png",
                          "alex_lacamoire/alex_lacamoire_1.jpg")
    for me in (a, b):
        assert (await Enrollment.objects().where(Enrollment.id == me["enrollment"].id).first()).flagged
    flags = sorted((acc, reason) for _, acc, _, reason in recorder.flagged)
    assert flags == sorted([(a["account"].id, "shared_face"), (b["account"].id, "shared_face")])
    event_a = await StudyEvent.objects().output(load_json=True).where((StudyEvent.account == a["account"].id)
                                               & (StudyEvent.kind == "flagged")).first()
    assert event_a.detail["other_account"] == b["account"].id and event_a.detail["distance"] <= SFACE_TOLERANCE
    kept = await FaceEncoding.count().where(FaceEncoding.account.is_in([a["account"].id, b["account"].id])
                                            & FaceEncoding.kind.is_in(["portrait", "snapshot"]))
    assert kept == 4  # two portraits, two snapshots (and each ID-card photo's, kept for the duplicate check)
    # Another good snapshot of the same face: both enrolments are flagged already, nothing is
    # flagged again (a face shared by many accounts must not cost a flag per account and snapshot).
    flagged = []

    async def no_flag(*args, **kwargs):
        flagged.append(args)

    monkeypatch.setattr(snapshot_match.verdicts, "flag", no_flag)
    snap = await FaceEncoding.objects().output(load_json=True).where(
        (FaceEncoding.account == a["account"].id) & (FaceEncoding.kind == "snapshot")).first()
    ps = await ProctorSession.objects().where(ProctorSession.account == a["account"].id).first()
    row = await FaceVerification.objects().where((FaceVerification.account == a["account"].id)
                                                 & (FaceVerification.purpose == "snapshot")).first()
    matcher = select_provider(await platform.face_providers(), "sface", Capability.ENCODE)
    await snapshot_match._index(platform, a["tenant"], ps, row, matcher, snap.vector, SFACE_TOLERANCE)
    assert flagged == []


async def test_different_people_are_not_flagged(client, platform, make_account, course, clock, recorder):
    a = await _study_with(client, platform, make_account, course, clock, "kit_harington/kit_harington_1.jpg",
                          "kit_harington/kit_harington_2.jpg")
    b = await _study_with(client, platform, make_account, course, clock, "rose_leslie/rose_leslie_1.jpg",
                          "rose_leslie/rose_leslie_2.jpg")
    for me in (a, b):
        assert not (await Enrollment.objects().where(Enrollment.id == me["enrollment"].id).first()).flagged
    assert recorder.flagged == []


# --- the player's evidence -----------------------------------------------------------------------


async def test_idle_hidden_and_a_second_device_are_on_the_timeline(client, platform, make_account, course, clock):
    lesson = course[1]
    me = await enrol(platform, make_account, client, course)
    account, tenant = me["account"], me["tenant"]
    await passed_check(tenant, account.id)
    first = (await start(client, lesson.id)).json()["token"]
    idle = tenant.rules.study.idle_seconds
    clock.advance(5)
    await beat(client, first, 1, lesson.id, 5, idle=idle + 1)
    clock.advance(5)
    await beat(client, first, 2, lesson.id, 10, idle=idle + 6)  # the same idle window: recorded once
    clock.advance(1)
    await beat(client, first, 3, lesson.id, 11, event="hide", playing=False)
    await passed_check(tenant, account.id)
    second = (await start(client, lesson.id)).json()["token"]
    a = await beat(client, first, 4, lesson.id, 11)
    assert a["reason"] == "session_replaced"
    await beat(client, first, 5, lesson.id, 11)
    kinds = await events(account.id)
    # The first session was replaced with 11 s no snapshot covers: withdrawn when the second started.
    assert kinds == ["gate_passed", "idle", "hidden", "gate_passed", "uncovered", "devices"], kinds
    idle_event = await StudyEvent.objects().output(load_json=True).where((StudyEvent.account == account.id) & (StudyEvent.kind == "idle")).first()
    assert idle_event.detail == {"seconds": idle + 1} and idle_event.session == first
    del second


# --- privacy -------------------------------------------------------------------------------------


async def test_only_reviewers_see_a_snapshot_image(client, platform, make_account, course, clock):
    lesson = course[1]
    me = await enrol(platform, make_account, client, course)
    await passed_check(me["tenant"], me["account"].id)
    token = (await start(client, lesson.id)).json()["token"]
    ticket, _, _ = await study_until_capture(client, clock, token, lesson.id)
    vid = (await upload(client, ticket, frame("obama/obama_2.jpg"))).json()["id"]
    await settled(vid)
    url = f"{T}/review/snapshots/{vid}/image"
    assert (await client.get(url)).status_code == 404  # the learner: other roles get 404
    reviewer, password = await make_account("construction", role="reviewer")
    r = await client.signin("construction", "id", password, id_number=reviewer.id_number)
    assert r.status_code == 303
    r = await client.get(url)
    assert r.status_code == 200 and r.content[:2] == b"\xff\xd8" and "no-store" in r.headers["cache-control"]
    assert (await client.get(f"{T}/review/snapshots/{vid + 1000}/image")).status_code == 404
    gate_row = await passed_check(me["tenant"], me["account"].id)  # not a snapshot
    assert (await client.get(f"{T}/review/snapshots/{gate_row.id}/image")).status_code == 404


async def test_retention_purges_snapshots_unless_the_enrolment_is_held(client, platform, make_account, course, clock):
    from core.retention import evidence_on_hold, purge

    lesson = course[1]
    held = await _study_with(client, platform, make_account, course, clock, "obama/obama_1.jpg", "obama/obama_2.jpg")
    free = await _study_with(client, platform, make_account, course, clock, "biden/biden_1.jpg", "biden/biden_2.jpg")
    tenant = held["tenant"]
    await Enrollment.update({Enrollment.status: "review"}).where(Enrollment.id == held["enrollment"].id)
    assert await evidence_on_hold(await Enrollment.objects().where(Enrollment.id == held["enrollment"].id).first())
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=tenant.rules.retention.face_evidence_days + 1)
    await purge(tenant, platform.storage, now=later)
    for me, kept in ((held, True), (free, False)):
        snaps = await FaceVerification.count().where((FaceVerification.account == me["account"].id)
                                                     & (FaceVerification.purpose == "snapshot"))
        assert (snaps == 1) is kept
        assert (await FaceEncoding.count().where(FaceEncoding.account == me["account"].id) > 0) is kept
        # The timeline keeps its entries (without the purged image).
        assert await StudyEvent.count().where((StudyEvent.account == me["account"].id)
                                              & (StudyEvent.kind == "snapshot_ok")) == 1
    del lesson


async def test_a_ticket_is_the_learners_own_and_taken_once(client, platform, make_account, course, clock):
    lesson = course[1]
    me = await enrol(platform, make_account, client, course)
    await passed_check(me["tenant"], me["account"].id)
    token = (await start(client, lesson.id)).json()["token"]
    ticket, _, _ = await study_until_capture(client, clock, token, lesson.id)
    other = await enrol(platform, make_account, client, course)  # now signed in as another learner
    assert (await upload(client, ticket, frame("obama/obama_2.jpg"))).status_code == 404
    await signin(client, me["account"], me["password"])
    results = await asyncio.gather(*(upload(client, ticket, frame("obama/obama_2.jpg")) for _ in range(5)))
    codes = sorted(r.status_code for r in results)
    assert codes[0] == 202 and set(codes[1:]) <= {404, 409}, codes  # one taker; the rest: spent
    assert await FaceVerification.count().where((FaceVerification.account == me["account"].id)
                                                & (FaceVerification.purpose == "snapshot")) == 1
    del other
