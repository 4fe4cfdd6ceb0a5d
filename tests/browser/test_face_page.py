"""The webcam face verification page in headless Chromium with a fake camera fed from a file.

One Chromium launch per video (the fake capture file is a launch switch). A real clip of a
speaker who blinks and talks must pass a blink/open-mouth challenge; videos made from a still
photo (held still, slid, tilted ±40° with a true perspective warp, zoomed) must fail, with the
reason shown on the page. The videos are generated at test time into a temporary folder.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from core import hookimpl
from core.faces.bursts import MAX_BURST
from core.testing.browser import (CHROMIUM, CHROMIUM_ARGS, AxeFindings, LiveServer, axe_checks, axe_final, free_port,
                                  in_ci, screenshot)
from core.testing.face_attacks import ATTACK_CHALLENGES, photo_attack
from core.testing.face_media import faces_dir, load_photo, videos_dir
from core.testing.ids import fake_id_number, fake_mobile

pytestmark = pytest.mark.browser

PORTRAIT = faces_dir() / "obama" / "obama_1.jpg"
ATTACK_PHOTO = faces_dir() / "obama" / "obama_2.jpg"  # the same person: only liveness can refuse it
FINAL = '#face-check[data-state="passed"], #face-check[data-state="failed"]'


class ChosenActions:
    """The actions a challenge may ask for, set per test: the real clip shows blinks and a talking
    mouth; each photo video faces the actions most favourable to it (face_attacks.ATTACK_CHALLENGES:
    turns for the slid and tilted photo, a nod for the zoomed one), with the blink every issued
    challenge has."""

    actions: list[str] = ["blink", "open_mouth"]

    @hookimpl
    def proctor_challenge_actions(self, tenant):
        return list(self.actions)


CHOSEN = ChosenActions()


def _tools_or_skip() -> str:
    chromium = shutil.which(CHROMIUM) or (CHROMIUM if Path(CHROMIUM).exists() else None)
    missing = [name for name, ok in (("chromium", chromium), ("ffmpeg", shutil.which("ffmpeg"))) if not ok]
    if missing:
        message = f"needs the Debian packages {', '.join(missing)} (and fonts-noto-cjk)"
        if in_ci():
            pytest.fail(message + " — required in CI")
        pytest.skip(message)
    return chromium


def _ffmpeg(args: list[str], stdin: bytes | None = None) -> None:
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", *args], input=stdin, check=True, timeout=120)


def clip_y4m(folder: Path) -> Path:
    out = folder / "obama_blinks.y4m"
    _ffmpeg(["-i", str(videos_dir() / "obama_weekly_address_blinks.mp4"), "-vf", "scale=640:360",
             "-pix_fmt", "yuv420p", str(out)])
    return out


def attack_y4m(folder: Path, kind: str, detect) -> Path:
    photo = load_photo(ATTACK_PHOTO)
    box = max(detect(photo), key=lambda b: b.area)
    frames = photo_attack(photo, box, kind, fps=15, seconds=5.0, size=(640, 480))
    raw = b"".join(f.tobytes() for _, f in frames)
    out = folder / f"photo_{kind}.y4m"
    _ffmpeg(["-f", "rawvideo", "-pix_fmt", "rgb24", "-s", "640x480", "-r", "15", "-i", "-",
             "-pix_fmt", "yuv420p", str(out)], stdin=raw)
    return out


@pytest.fixture(scope="module")
async def face_server(xs_engine, xs_database_url, tmp_path_factory):
    _tools_or_skip()
    from core.app import create_app
    from core.settings import Settings
    from core.testing.pytest_plugin import deployed_platform

    settings = Settings(database_url=xs_database_url, secret_key="face-page-secret",
                        var_dir=tmp_path_factory.mktemp("face-var"), load_entrypoints=True,
                        signin_rate_per_minute=1000, db_pool_size=0)
    server = LiveServer(create_app(platform=await deployed_platform(settings, [CHOSEN])), port=free_port())
    await asyncio.to_thread(server.start)
    yield server
    await asyncio.to_thread(server.stop)


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("face-media")


async def make_learner(server: LiveServer) -> tuple[str, str]:
    """A construction learner with the portrait in the profile; returns (mobile, password, ID number)."""
    from core.accounts.services import upsert_account
    from core.files.images import clean_image
    from core.roster.tables import LearnerProfile

    p = server.app.state.platform
    tenant = p.tenants.get("construction")
    mobile, password, id_number = fake_mobile(), "Passw0rd-1", fake_id_number()
    account = await upsert_account(tenant, role="learner", password=password, mobile=mobile, id_number=id_number,
                                   real_name="测试学员")
    img = clean_image(PORTRAIT.read_bytes())
    stored = await p.storage.save(img.data, tenant_id=tenant.id, kind="portrait", media_type=img.media_type,
                                  owner_id=account.id)
    await LearnerProfile(tenant=tenant.id, account=account.id, real_name="测试学员", portrait=stored.id).save()
    return mobile, password, id_number


async def run_check(server: LiveServer, video: Path, *, shots: str | None = None, during=None,
                    answer_delay_ms: int = 0) -> dict:
    """Launch Chromium with ``video`` as the camera, sign in, consent, verify; the page's outcome.
    ``during(page, mobile)`` runs once the check is running; ``answer_delay_ms`` holds each
    ``/face/frame`` request that long before it reaches the server (a slow network)."""
    from playwright.async_api import async_playwright

    mobile, password, id_number = await make_learner(server)
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=_tools_or_skip(), args=[
            *CHROMIUM_ARGS, "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-video-capture={video}", "--autoplay-policy=no-user-gesture-required",
        ])
        try:
            context = await browser.new_context(viewport={"width": 1000, "height": 900}, locale="zh-CN")
            context.set_default_timeout(20_000)
            axe = AxeFindings()
            await axe_checks(context, axe)
            page = await context.new_page()
            sent: list[list[int]] = []  # each /face/frame request's frame times
            page.on("request", lambda r: sent.append([int(t) for t in parse_qs(urlsplit(r.url).query)["t"][0].split(",")])
                    if "/face/frame" in r.url else None)
            if answer_delay_ms:
                async def slow(route):
                    await asyncio.sleep(answer_delay_ms / 1000)
                    await route.continue_()
                await page.route("**/face/frame*", slow)
            await page.goto(server.url("/t/construction/signin"))
            await page.fill("#f-id_number", id_number)
            await page.fill("#f-password", password)
            await page.click("#signin-form button[type=submit]")
            await page.wait_for_url("**/me")
            await page.goto(server.url("/t/construction/face/check"))
            assert page.url.endswith("/face/consent")  # consent comes first
            if shots:
                await screenshot(page, "face-check-consent")
            await page.check("input[name=agree]")
            await page.click("#consent-agree")
            await page.wait_for_url("**/face/check")
            await page.click("#face-start")
            if during is not None:
                await page.wait_for_selector('#face-check[data-state="running"]', timeout=30_000)
                await during(page, mobile)
            if shots:
                await page.wait_for_selector("#face-check[data-step]", timeout=30_000)
                await page.wait_for_timeout(300)
                await screenshot(page, "face-check-prompt", full_page=False)
            await page.wait_for_selector(FINAL, timeout=60_000)
            result = await page.evaluate("""() => {
                const root = document.getElementById('face-check');
                return {state: root.dataset.state, actions: root.dataset.actions || '',
                        outcome: document.getElementById('face-outcome').textContent,
                        retry: !document.getElementById('face-start').hidden};
            }""")
            result["sent"] = sent
            if shots:
                await screenshot(page, f"face-check-{result['state']}", full_page=False)
            await axe_final(context, axe)
            assert not axe.found, "axe-core (WCAG 2.1 AA) violations:\n" + axe.summary()
            return result
        finally:
            await browser.close()


async def test_real_clip_passes_in_chromium(face_server, media):
    CHOSEN.actions = ["blink", "open_mouth"]
    result = await run_check(face_server, clip_y4m(media), shots="passed")
    assert result["state"] == "passed", result
    assert result["outcome"] == "人脸核验通过"
    assert sorted(result["actions"].split(",")) == ["blink", "open_mouth"]


async def test_over_a_slow_network_requests_carry_the_frames_captured_during_a_prompt(face_server, media):
    """Each frame request held 250 ms (a slow network): while a prompt shows, the page captures at
    camera rate and each request carries the frames captured since the previous one (at most
    MAX_BURST, a second's worth; at least 25 ms apart, in order); before the first prompt, one
    frame each. Without the delay a fast round trip may take each frame alone, which says nothing
    about bursts. The real clip passes."""
    CHOSEN.actions = ["blink", "open_mouth"]
    result = await run_check(face_server, clip_y4m(media), answer_delay_ms=250)
    assert result["state"] == "passed", result
    sent = result["sent"]
    assert any(len(times) > 3 for times in sent), sent
    assert max(map(len, sent)) <= MAX_BURST and len(sent[0]) == 1
    times = [t for ts in sent for t in ts]
    assert all(b - a >= 25 for a, b in zip(times, times[1:])), times


async def test_the_start_button_is_gone_while_a_check_runs(face_server, media):
    """开始核验 must not be visible (nor work) during a running check: a click would abandon the
    check and cost one of the day's attempts."""
    from core.accounts.tables import Account
    from core.proctoring.tables import FaceVerification

    CHOSEN.actions = ["blink", "open_mouth"]
    seen: dict = {}

    async def during(page, mobile):
        seen["visible"] = await page.is_visible("#face-start")
        seen["enabled"] = await page.is_enabled("#face-start")
        await page.evaluate("() => document.getElementById('face-start').click()")  # a click anyway
        await page.wait_for_timeout(500)
        account = await Account.objects().where(Account.mobile == mobile).first()
        seen["checks"] = await FaceVerification.count().where(FaceVerification.account == account.id)

    result = await run_check(face_server, clip_y4m(media), during=during)
    assert seen == {"visible": False, "enabled": False, "checks": 1}, seen
    assert result["state"] in ("passed", "failed")


@pytest.mark.parametrize("kind", ["still", "slide", "tilt", "zoom"])
async def test_photo_videos_are_refused_in_chromium(face_server, media, kind):
    from core.faces import Capability, select_provider
    from core.plugins import collect

    found = await collect(face_server.app.state.platform.plugins.hooks.face_providers)
    detect = select_provider(found, "mediapipe", Capability.LIVENESS).detect
    video = attack_y4m(media, kind, detect)
    CHOSEN.actions = list(dict.fromkeys([str(a) for a in ATTACK_CHALLENGES[kind][0]] + ["blink"]))
    result = await run_check(face_server, video, shots="failed" if kind == "tilt" else None)
    assert result["state"] == "failed", result
    assert set(result["actions"].split(",")) <= set(CHOSEN.actions)
    assert result["outcome"].startswith("人脸核验未通过："), result
    assert len(result["outcome"]) > len("人脸核验未通过：")  # the reason is shown
    assert result["retry"] is True
