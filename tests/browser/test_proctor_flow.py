"""Proctoring in headless Chromium with a fake camera (issue 11).

Run 1, the real clip of the learner (../shared/videos, the portrait is a photo of the same man):
开始学习 → consent → the face check passes → the player opens the camera and plays → at the time the
server chose, the heartbeat answer asks for a capture, the page uploads one frame, the job matches
it with the portrait (snapshot_ok) and the hours stand.

Run 2, the same account's next session with another person in front of the camera (a real clip
of another man; the face check of this session is stored as passed, as if the learner had passed
it and then handed over): the snapshot mismatches, the player pauses and links to the face check,
the provisional hours are withdrawn and the enrolment is flagged.

The tenant's snapshot interval is shortened for this server only (rules are per tenant object).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import re
import secrets
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from PIL import Image

from core import hookimpl
from core.testing.browser import CHROMIUM, CHROMIUM_ARGS, LiveServer, free_port, in_ci, screenshot
from core.testing.face_media import faces_dir, videos_dir
from core.testing.ids import fake_id_number, fake_mobile

pytestmark = pytest.mark.browser
PASSWORD = "Proctor-2026a"


class BlinkAndMouth:
    """The recorded clip shows blinks and a talking mouth: the challenge asks for those."""

    @hookimpl
    def proctor_challenge_actions(self, tenant):
        return ["blink", "open_mouth"]


def _tools_or_skip() -> str:
    chromium = shutil.which(CHROMIUM) or (CHROMIUM if Path(CHROMIUM).exists() else None)
    missing = [n for n, ok in (("chromium", chromium), ("ffmpeg", shutil.which("ffmpeg"))) if not ok]
    if missing:
        if in_ci():
            pytest.fail(f"needs {', '.join(missing)} — required in CI")
        pytest.skip(f"needs the Debian packages {', '.join(missing)}")
    return chromium


def _ffmpeg(args: list[str]) -> None:
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", *args], check=True, timeout=120)


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> dict[str, Path]:
    _tools_or_skip()
    folder = tmp_path_factory.mktemp("proctor-media")
    clip, other = folder / "learner.y4m", folder / "other.y4m"
    _ffmpeg(["-i", str(videos_dir() / "obama_weekly_address_blinks.mp4"), "-vf", "scale=640:360",
             "-pix_fmt", "yuv420p", str(clip)])
    _ffmpeg(["-i", str(videos_dir() / "grid_id2_blinks.mpg"), "-vf", "scale=640:480",
             "-pix_fmt", "yuv420p", str(other)])
    return {"clip": clip, "other": other}


@pytest.fixture(scope="module")
async def server(xs_engine, xs_database_url, tmp_path_factory):
    _tools_or_skip()
    from core.app import create_app
    from core.settings import Settings
    from core.testing.pytest_plugin import deployed_platform

    settings = Settings(database_url=xs_database_url, secret_key="proctor-flow-secret",
                        var_dir=tmp_path_factory.mktemp("proctor-var"), load_entrypoints=True,
                        signin_rate_per_minute=1000, db_pool_size=0)
    platform = await deployed_platform(settings, [BlinkAndMouth()])
    rules = platform.tenants.get("construction").rules
    rules.study.snapshot_interval_seconds = [4, 8]  # this server's tenant only: a short test
    rules.face.snapshot_mismatches_to_flag = 1
    live = LiveServer(create_app(platform=platform), port=free_port())
    await asyncio.to_thread(live.start)
    yield live
    await asyncio.to_thread(live.stop)


def _jpeg(color) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (480, 360), color).save(out, format="JPEG")
    return out.getvalue()


async def _learner(live: LiveServer, seconds: int = 90):
    """A construction learner: ID images, a real portrait, enrolled on a one-lesson course."""
    from core.accounts.services import upsert_account
    from core.courses import services as courses
    from core.courses.demo_media import make_lesson_video
    from core.courses.tables import Enrollment
    from core.files.images import clean_image
    from core.roster.tables import LearnerProfile

    platform = live.app.state.platform
    tenant = platform.tenants.get("construction")
    account = await upsert_account(tenant, role="learner", password=PASSWORD, real_name="赵学员",
                                   id_number=fake_id_number(), mobile=fake_mobile())
    ids = {}
    for kind, data in (("id_front", _jpeg((200, 180, 160))), ("id_back", _jpeg((160, 180, 200))),
                       ("portrait", clean_image((faces_dir() / "obama" / "obama_1.jpg").read_bytes()).data)):
        ids[kind] = (await platform.storage.save(data, tenant_id=tenant.id, kind=kind, media_type="image/jpeg",
                                                 owner_id=account.id)).id
    now = dt.datetime.now(dt.UTC)
    await LearnerProfile(tenant=tenant.id, account=account.id, real_name="赵学员", id_number=account.id_number,
                         created_at=now, updated_at=now, **ids).save()
    # A position of its own: other browser tests share this database and pick 施工员's first course
    # (whose video lives in their server's storage, not this one's).
    position = (await courses.ensure_positions(tenant, ["监考测试员"]))["监考测试员"]
    course = await courses.create_course(tenant, position.id, 2026, f"监考测试 {secrets.token_hex(3)}", 1.0)
    video = make_lesson_video(Path(tempfile.mkdtemp()) / "lesson.webm", "监考测试", ["第一行", "第二行"],
                              seconds=seconds, fps=1, size=(320, 180))
    lesson = await courses.add_video_lesson(platform, tenant, course, "第一讲", video)
    enrollment = Enrollment(tenant=tenant.id, account=account.id, course=course.id, created_at=now)
    await enrollment.save()
    return tenant, account, lesson, enrollment


async def _browser(pw, camera: Path):
    return await pw.chromium.launch(executable_path=_tools_or_skip(), args=[
        *CHROMIUM_ARGS, "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-video-capture={camera}", "--autoplay-policy=no-user-gesture-required",
    ])


async def _sign_in(page, root: str, account) -> None:
    await page.goto(f"{root}/signin")
    await page.fill("input[name=id_number]", account.id_number)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("form.form button")
    await page.wait_for_url(re.compile(r"/me$"))


async def _play_until(page, seconds: float, timeout: float = 40) -> None:
    for _ in range(int(timeout * 4)):
        st = await page.evaluate("() => window.xsPlayer && window.xsPlayer.state()")
        if st and st["token"] and st["position"] >= seconds:
            return
        if await page.get_attribute("#player", "data-state") == "paused":
            await page.evaluate("() => document.getElementById('lesson-video').play()")
        await asyncio.sleep(0.25)
    raise AssertionError(f"the lesson did not play: {st}")


async def _beat_until_capture(page, timeout: float = 60) -> dict:
    """Beat (as the 15 s timer would) until the server's answer asks for a capture."""
    for _ in range(int(timeout)):
        await page.evaluate("() => window.xsPlayer.beat()")
        state = await page.evaluate("() => window.xsPlayer.state()")
        if state["snapshots"] >= 1:
            return state
        await asyncio.sleep(1)
    raise AssertionError("no capture was requested and uploaded")


async def _verdict(account_id: int, n: int, timeout: float = 60):
    from core.jobs.tables import JobRun
    from core.proctoring.tables import FaceVerification

    for _ in range(int(timeout * 4)):
        rows = await FaceVerification.objects().output(load_json=True).where(
            (FaceVerification.account == account_id) & (FaceVerification.purpose == "snapshot")).order_by(
            FaceVerification.id)
        if len(rows) >= n and rows[n - 1].status != "open":
            run = await JobRun.objects().where(JobRun.key == f"snapshot:{rows[n - 1].id}").first()
            if run is not None and run.status == "complete":
                return rows[n - 1]
        await asyncio.sleep(0.25)
    raise AssertionError("the snapshot was not judged")


async def test_gate_snapshot_matched_then_another_person_pauses_and_flags(server, media):
    from playwright.async_api import async_playwright

    from core.courses.tables import Enrollment
    from core.proctoring.tables import FaceVerification
    from core.study.tables import HoursEntry, StudyEvent

    tenant, account, lesson, enrollment = await _learner(server)
    root = server.url("/t/construction")
    async with async_playwright() as pw:
        # --- run 1: the learner ---------------------------------------------------------------
        browser = await _browser(pw, media["clip"])
        try:
            context = await browser.new_context(viewport={"width": 1100, "height": 900}, locale="zh-CN")
            context.set_default_timeout(30_000)
            page = await context.new_page()
            await _sign_in(page, root, account)
            await page.goto(f"{root}/study/lessons/{lesson.id}")  # 开始学习
            await page.wait_for_url(re.compile(r"/face/consent\?next=/study/lessons/"))
            await page.check("input[name=agree]")
            await page.click("#consent-agree")
            await page.wait_for_url(re.compile(r"/face/check\?next=/study/lessons/"))
            await page.click("#face-start")
            await page.wait_for_selector('#face-check[data-state="passed"]', timeout=60_000)
            await page.wait_for_url(re.compile(rf"/study/lessons/{lesson.id}$"), timeout=15_000)  # on to the lesson
            await _play_until(page, 5)
            state = await _beat_until_capture(page)
            assert state["camera"] is True
            row = await _verdict(account.id, 1)
            assert row.status == "passed" and row.scores["distance"] <= row.scores["tolerance"], row.scores
            kinds = [e.kind for e in await StudyEvent.objects().where(StudyEvent.account == account.id)]
            assert kinds[:2] == ["gate_passed", "snapshot_ok"], kinds
            await screenshot(page, "proctor-player-snapshot-ok")
            credited = (await Enrollment.objects().where(Enrollment.id == enrollment.id).first()).credited_seconds
            assert credited > 3
        finally:
            await browser.close()

        # --- run 2: another person takes the same account's next session --------------------
        now = dt.datetime.now(dt.UTC)
        await FaceVerification(tenant=tenant.id, account=account.id, purpose="study", nonce=secrets.token_hex(16),
                               status="passed", created_at=now, finished_at=now).save()
        browser = await _browser(pw, media["other"])
        try:
            context = await browser.new_context(viewport={"width": 1100, "height": 900}, locale="zh-CN")
            context.set_default_timeout(30_000)
            page = await context.new_page()
            await _sign_in(page, root, account)
            await page.goto(f"{root}/study/lessons/{lesson.id}")
            await _play_until(page, 2)
            await _beat_until_capture(page)
            row = await _verdict(account.id, 2)
            assert row.status == "failed" and row.reasons == ["抓拍照片与本人头像不一致"], row.scores
            await page.evaluate("() => window.xsPlayer.beat()")
            await page.wait_for_selector('#player[data-state="face-paused"]', timeout=15_000)
            assert "抓拍照片与本人头像不一致" in await page.inner_text("#study-message")
            href = await page.get_attribute("#face-recheck", "href")
            assert href.endswith(f"/face/check?next=/study/lessons/{lesson.id}")
            assert await page.evaluate("() => document.getElementById('lesson-video').paused")
            await screenshot(page, "proctor-player-paused")
        finally:
            await browser.close()

    fresh = await Enrollment.objects().where(Enrollment.id == enrollment.id).first()
    assert fresh.flagged
    kinds = [e.kind for e in await StudyEvent.objects().where(StudyEvent.account == account.id)]
    assert {"snapshot_mismatch", "paused", "flagged"} <= set(kinds), kinds
    withdrawn = await HoursEntry.objects().where((HoursEntry.account == account.id) & (HoursEntry.seconds < 0)
                                                 & (HoursEntry.reason == "face_unverified"))
    assert len(withdrawn) == 1 and withdrawn[0].seconds < 0
    # Everything the other person's session credited was withdrawn; the learner's verified hours
    # stand (run 1's seconds after its last snapshot were withdrawn when run 2 replaced it: face_uncovered).
    run2 = await HoursEntry.objects().where(HoursEntry.session == withdrawn[0].session)
    assert sum(h.seconds for h in run2) == pytest.approx(0.0, abs=1e-6)
    ok = await StudyEvent.objects().output(load_json=True).where(
        (StudyEvent.account == account.id) & (StudyEvent.kind == "snapshot_ok")).first()
    assert fresh.credited_seconds == pytest.approx(ok.detail["confirmed_seconds"], abs=1e-2)  # the event rounds
    assert credited >= ok.detail["confirmed_seconds"] - 1e-2


async def test_a_whole_lesson_with_another_person_on_camera_keeps_nothing_and_the_case_says_so(server, media):
    """Issue 19: the learner passes the face check, then another person takes the camera before
    the first capture and watches the whole (short) lesson. The capture the server asks for (at the
    latest when the lesson ends) shows the other person: every second is withdrawn, the enrolment
    is flagged, and the reviewer's case page lists the session at the top, in Chromium."""
    from playwright.async_api import async_playwright

    from core.accounts.services import upsert_account
    from core.courses.tables import Enrollment
    from core.proctoring import consent
    from core.proctoring.tables import FaceVerification
    from core.study.tables import HoursEntry

    tenant, account, lesson, enrollment = await _learner(server, seconds=12)
    now = dt.datetime.now(dt.UTC)
    await FaceVerification(tenant=tenant.id, account=account.id, purpose="study", nonce=secrets.token_hex(16),
                           status="passed", created_at=now, finished_at=now).save()
    reviewer = await upsert_account(tenant, role="reviewer", password=PASSWORD, real_name="钱审核",
                                    id_number=fake_id_number(), mobile=fake_mobile())
    root = server.url("/t/construction")
    async with async_playwright() as pw:
        browser = await _browser(pw, media["other"])
        try:
            context = await browser.new_context(viewport={"width": 1100, "height": 900}, locale="zh-CN")
            context.set_default_timeout(30_000)
            page = await context.new_page()
            await _sign_in(page, root, account)
            await consent.ensure(tenant, account.id)
            await page.goto(f"{root}/study/lessons/{lesson.id}")
            await _play_until(page, 1)
            # The whole lesson plays; its end (or a planned capture before it) asks for a snapshot.
            row = await _verdict(account.id, 1, timeout=90)
            assert row.status == "failed" and row.reasons == ["抓拍照片与本人头像不一致"], row.scores
            await page.evaluate("() => window.xsPlayer.beat()")
            fresh = await Enrollment.objects().where(Enrollment.id == enrollment.id).first()
            assert fresh.credited_seconds == pytest.approx(0.0, abs=1e-6) and fresh.flagged
            withdrawn = await HoursEntry.objects().where((HoursEntry.account == account.id) & (HoursEntry.seconds < 0))
            assert withdrawn and sum(-h.seconds for h in withdrawn) > 3
            await context.close()
            # The reviewer's case page: the session heads it.
            context = await browser.new_context(viewport={"width": 1100, "height": 900}, locale="zh-CN")
            page = await context.new_page()
            await page.goto(f"{root}/signin")
            await page.fill("input[name=id_number]", reviewer.id_number)
            await page.fill("input[name=password]", PASSWORD)
            await page.click("form.form button")
            await page.wait_for_load_state()
            await page.goto(f"{root}/review/{enrollment.id}")
            alert = page.locator("section.integrity")
            await alert.wait_for()
            text = await alert.inner_text()
            assert "抓拍异常的学习" in text and "抓拍照片与本人头像不一致" in text and "已撤销未核验学时" in text
            box, photos = await alert.bounding_box(), await page.locator("section.photos").bounding_box()
            assert box["y"] < photos["y"]  # above the photos and everything else
            await screenshot(page, "proctor-case-uncovered")
        finally:
            await browser.close()
