"""Face verification over HTTP with the real face providers: consent, challenge, frames, verdict.

Frames come from a real clip (../shared/videos) and from a synthesised printed-photo attack; they
are sent as JPEG bodies with their own timestamps, paced like a camera, exactly as the page does.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import time

import pytest

from core import hookimpl
from core.faces import encode_jpeg
from core.files.images import clean_image
from core.files.tables import StoredFile
from core.proctoring import consent as consents
from core.proctoring.tables import Consent, FaceVerification
from core.roster.tables import LearnerProfile
from core.testing.face_media import faces_dir, read_clip, videos_dir
from tests.face_tenant import FACE, FaceTenant
from tests.test_integrity_portrait_swap import forget_portrait_encodings  # noqa: F401  (autouse)

CLIP = "obama_weekly_address_blinks.mp4"
PORTRAIT = "obama/obama_1.jpg"


class BlinkAndMouthOnly:
    """The recorded clip shows blinks and a talking mouth, so the challenge may ask for just those."""

    @hookimpl
    def proctor_challenge_actions(self, tenant):
        return ["blink", "open_mouth"]

    @hookimpl
    def proctor_verified(self, tenant, account, verdict):
        VERIFIED.append((tenant.slug, account.id, verdict.passed))


VERIFIED: list[tuple[str, int, bool]] = []  # proctor_verified calls, in order


@pytest.fixture
def xs_plugins():
    return [BlinkAndMouthOnly(), FaceTenant()]


async def learner(platform, make_account, client, slug=FACE, portrait=PORTRAIT, consent=True):
    account, password = await make_account(slug)
    t = platform.tenants.get(slug)
    if portrait:
        img = clean_image((faces_dir() / portrait).read_bytes())
        stored = await platform.storage.save(img.data, tenant_id=t.id, kind="portrait",
                                             media_type=img.media_type, owner_id=account.id)
        await LearnerProfile(tenant=t.id, account=account.id, real_name=account.real_name,
                             portrait=stored.id).save()
    if slug == FACE:
        r = await client.signin(slug, "mobile", password, mobile=account.mobile)
    else:
        r = await client.signin(slug, "id", password, id_number=account.id_number)
    assert r.status_code == 303, r.text
    if consent:
        page = await client.get(f"/t/{slug}/face/consent")
        sha = consents.text_sha256(consents.face_consent_text(t))
        assert sha in page.text
        r = await client.post(f"/t/{slug}/face/consent", {"agree": "yes", "text_sha256": sha})
        assert r.status_code == 303
    return account


async def post_frame(client, slug, nonce, jpeg, t, shown=None):
    q = f"nonce={nonce}&t={t}" + (f"&shown={shown[0]}&shown_t={shown[1]}" if shown else "")
    return await client.http.post(
        f"/t/{slug}/face/frame?{q}", content=jpeg,
        headers={"x-csrftoken": await client._csrf(), "content-type": "image/jpeg"},
    )


async def challenge(client, slug=FACE):
    r = await client.http.post(f"/t/{slug}/face/challenge", headers={"x-csrftoken": await client._csrf()})
    return r


async def finish(client, slug, nonce):
    return await client.http.post(f"/t/{slug}/face/finish?nonce={nonce}", headers={"x-csrftoken": await client._csrf()})


FRAME_GAP_MS, ACTION_FRAME_GAP_MS = 100, 50  # core/static/js/facecheck.js: 10 fps, 20 once a prompt is shown


async def run_page(client, slug, c, frames):
    """Do what facecheck.js does: frames paced like the page (10 a second until the first prompt
    is shown, 20 after it); the server's answers carry the prompts (when to show them is the
    server's choice, not the page's)."""
    t0 = time.monotonic()
    last, sent, prompted = None, -1_000_000, False
    for t, jpeg in frames:
        if t < sent + (ACTION_FRAME_GAP_MS if prompted else FRAME_GAP_MS):
            continue
        if t < (time.monotonic() - t0) * 1000 - 1000:
            continue  # a camera has moved on: the page grabs what it shows now, not an old frame
        ahead = t - (time.monotonic() - t0) * 1000 - 500
        if ahead > 0:
            await asyncio.sleep(ahead / 1000)
        r = await post_frame(client, slug, c["nonce"], jpeg, t)
        assert r.status_code == 200, r.text
        sent, last = t, r.json()
        prompted = prompted or bool(last.get("next_prompt"))
        if last["done"]:
            break
    return last


def clip_frames(loops=3):  # 11.5 s: longer than a blink-and-mouth challenge lasts (≤ 7 s)
    frames = read_clip(videos_dir() / CLIP)  # every frame of the clip: run_page paces them like the page
    span = frames[-1][0] + 33
    return [(t + k * span, encode_jpeg(f)) for k in range(loops) for t, f in frames]


async def test_check_page_asks_for_consent_first(client, platform, make_account):
    account = await learner(platform, make_account, client, consent=False)
    r = await client.get("/t/facecheck/face/check")
    assert r.status_code == 303 and r.headers["location"] == "/t/facecheck/face/consent"
    r = await challenge(client)
    assert r.status_code == 403 and "同意" in r.json()["error"]
    page = await client.get("/t/facecheck/face/consent")
    assert "人脸信息处理告知" in page.text and "保存 180 天" in page.text
    assert "face-v1" not in page.text and "版本" not in page.text  # an internal code, not for users (issue 8 #15)
    # Not ticked: refused at the field, nothing recorded.
    r = await client.post("/t/facecheck/face/consent", {"text_sha256": "x"})
    assert r.status_code == 400 and "请阅读并勾选" in r.text
    # Ticked, but the text shown was another one.
    r = await client.post("/t/facecheck/face/consent", {"agree": "yes", "text_sha256": "0" * 64})
    assert r.status_code == 400 and "告知内容已更新" in r.text
    assert await Consent.count().where(Consent.account == account.id) == 0
    tenant = platform.tenants.get("facecheck")
    text = consents.face_consent_text(tenant)
    sha = hashlib.sha256("\n".join(f"{h}：{p}" for h, p in text).encode()).hexdigest()
    before = dt.datetime.now(dt.UTC)
    r = await client.post("/t/facecheck/face/consent", {"agree": "yes", "text_sha256": sha})
    assert r.status_code == 303 and r.headers["location"] == "/t/facecheck/face/check"
    row = await Consent.objects().where(Consent.account == account.id).first()
    assert row.kind == "face" and row.text_version == "face-v1" and row.text_sha256 == sha
    assert row.tenant == tenant.id and row.withdrawn_at is None
    assert row.granted_at >= before - dt.timedelta(seconds=2)
    page = await client.get("/t/facecheck/face/check")
    assert page.status_code == 200 and 'id="face-start"' in page.text and "facecheck.js" in page.text
    # Withdrawing closes the page again.
    r = await client.post("/t/facecheck/face/consent/withdraw", {})
    assert r.status_code == 303
    assert (await client.get("/t/facecheck/face/check")).status_code == 303


async def test_no_portrait_is_refused_with_a_clear_message(client, platform, make_account):
    await learner(platform, make_account, client, portrait=None)
    page = await client.get("/t/facecheck/face/check")
    assert "请先在个人档案中上传本人近期头像" in page.text and 'data-state="blocked"' in page.text
    r = await challenge(client)
    assert r.status_code == 409 and r.json()["error"] == "请先在个人档案中上传本人近期头像"


async def test_other_roles_do_not_see_the_face_pages(client, make_account):
    account, password = await make_account("facecheck", role="reviewer")
    await client.signin("facecheck", "mobile", password, mobile=account.mobile)
    assert (await client.get("/t/facecheck/face/check")).status_code == 404
    assert (await challenge(client)).status_code == 404
    assert await FaceVerification.count().where(FaceVerification.account == account.id) == 0  # no challenge made


async def test_real_clip_passes_and_is_stored_with_evidence(client, platform, make_account):
    account = await learner(platform, make_account, client)
    r = await challenge(client)
    assert r.status_code == 201, r.text
    c = r.json()
    assert sorted(c["actions"]) == ["blink", "open_mouth"] and c["timeout_ms"] == 3000
    assert set(c["prompts"]) == {"请眨眼", "请张嘴"} and c["attempts_left"] == 3
    row = await FaceVerification.objects().output(load_json=True).where(FaceVerification.nonce == c["nonce"]).first()
    assert row.status == "open" and row.account == account.id and row.actions == c["actions"]
    # The clip (looped) blinks every 1–1.5 s and opens the mouth while talking: whenever the
    # server shows the prompts, the asked actions follow them.
    g = await run_page(client, "facecheck", c, clip_frames())
    assert g["done"] and g["code"] == "finished", g
    r = await finish(client, "facecheck", c["nonce"])
    assert r.status_code == 200
    out = r.json()
    assert out["passed"] is True and out["status"] == "passed" and out["message"] == "人脸核验通过", out
    assert out["attempts_left"] == 3  # a passed check gives its attempt back
    assert VERIFIED[-1] == ("facecheck", account.id, True)  # the proctor_verified hook heard of it
    row = await FaceVerification.objects().output(load_json=True).where(FaceVerification.nonce == c["nonce"]).first()
    assert row.status == "passed" and row.reasons == [] and row.finished_at is not None
    assert row.frames >= 8 and row.liveness_provider == "mediapipe" and row.match_provider == "dlib"
    assert row.scores["identity_max_distance"] < 0.6 and row.scores["blink_score"] > 0.3
    assert 1 <= len(row.evidence) <= 6
    files = await StoredFile.objects().where(StoredFile.id.is_in(row.evidence))
    assert len(files) == len(row.evidence)
    for f in files:
        assert f.kind == "evidence" and f.tenant == row.tenant and f.owner == account.id
        assert (await platform.storage.read(f))[:2] == b"\xff\xd8"
    # The nonce is spent.
    assert (await finish(client, "facecheck", c["nonce"])).status_code == 404
    page = await client.get("/t/facecheck/face/check")
    assert "最近核验记录" in page.text and "通过" in page.text


async def test_the_stored_challenge_holds_no_pictures_between_frames(client, platform, make_account):
    """Each frame's picture is stored once under its own key; the state read and written on every
    frame holds none (it was about 1 MB a frame, mostly evidence JPEGs)."""
    await learner(platform, make_account, client)
    c = (await challenge(client)).json()
    for t, jpeg in clip_frames(1)[:12:3]:
        r = await post_frame(client, FACE, c["nonce"], jpeg, t)
        assert r.status_code == 200, r.text
    state = await platform.store.get(f"face-live:{c['nonce']}")
    assert state and b"\xff\xd8\xff" not in state and len(state) < 20_000
    frame = await platform.store.get(f"face-live:{c['nonce']}:frame:{clip_frames(1)[0][0]}")
    assert frame and b"\xff\xd8\xff" in frame


async def test_still_photo_fails_with_a_reason(client, platform, make_account):
    from core.faces import Capability, select_provider
    from core.plugins import collect
    from core.testing.face_attacks import attack_inputs

    await learner(platform, make_account, client)
    found = await collect(platform.plugins.hooks.face_providers)
    mp = select_provider(found, "mediapipe", Capability.LIVENESS)
    frames = [(t, encode_jpeg(f)) for t, f in
              attack_inputs(mp.detect, faces_dir() / PORTRAIT, "still", fps=10)]
    c = (await challenge(client)).json()
    await run_page(client, "facecheck", c, frames)
    out = (await finish(client, "facecheck", c["nonce"])).json()
    assert out["passed"] is False and out["status"] == "failed"
    assert out["message"].startswith("人脸核验未通过：") and out["reasons"]
    assert "动作超时" in out["reasons"]
    assert out["attempts_left"] == 2 and out["can_retry"] is True
    row = await FaceVerification.objects().output(load_json=True).where(FaceVerification.nonce == c["nonce"]).first()
    assert row.status == "failed" and "动作超时" in row.reasons and row.evidence


async def test_bad_frames_are_refused(client, platform, make_account):
    await learner(platform, make_account, client)
    c = (await challenge(client)).json()
    jpeg = clip_frames(1)[0][1]
    r = await post_frame(client, "facecheck", c["nonce"], b"not an image at all", 0)
    assert r.status_code == 400 and "无法识别的图片" in r.json()["error"]
    # A timestamp far in the future (claiming time that has not passed) is implausible.
    r = await post_frame(client, "facecheck", c["nonce"], jpeg, 60_000)
    assert r.status_code == 400 and r.json()["error"] == "核验请求无效，请重新开始核验"
    r = await client.http.post(f"/t/facecheck/face/frame?nonce={c['nonce']}&t=abc", content=jpeg,
                               headers={"x-csrftoken": await client._csrf()})
    assert r.status_code == 400
    r = await post_frame(client, "facecheck", c["nonce"], jpeg, 10)
    assert r.status_code == 200
    r = await post_frame(client, "facecheck", c["nonce"], jpeg, 5)  # time going backwards
    assert r.status_code == 400
    # The page cannot say when a prompt was shown: the server issues the prompts on its own schedule.
    r = await post_frame(client, "facecheck", c["nonce"], jpeg, 40, shown=(0, 15))
    assert r.status_code == 200 and r.json()["next_prompt"] is None and r.json()["code"] != "do_action"
    r = await post_frame(client, "facecheck", c["nonce"], b"x" * (600 * 1024), 80)
    assert r.status_code == 413
    # Without the CSRF header the frame is refused.
    r = await client.http.post(f"/t/facecheck/face/frame?nonce={c['nonce']}&t=40", content=jpeg)
    assert r.status_code == 403


async def test_attempts_are_limited_per_day(client, platform, make_account):
    account = await learner(platform, make_account, client)
    t = platform.tenants.get("facecheck")
    first = (await challenge(client)).json()
    # A new challenge ends the unfinished one: it counts as a failed attempt.
    second = (await challenge(client)).json()
    assert second["attempts_left"] == t.rules.face.max_attempts - 1
    row = await FaceVerification.objects().output(load_json=True).where(FaceVerification.nonce == first["nonce"]).first()
    assert row.status == "failed" and row.reasons == ["核验未完成（页面已关闭或超时）"]
    assert (await post_frame(client, "facecheck", first["nonce"], b"x", 0)).status_code == 404
    yesterday = dt.datetime.now(dt.UTC) - dt.timedelta(days=2)
    await FaceVerification(tenant=t.id, account=account.id, nonce=f"old-{account.id}", status="failed",
                           created_at=yesterday).save()  # yesterday's failures do not count
    for k in range(t.rules.face.max_attempts):
        await FaceVerification(tenant=t.id, account=account.id, nonce=f"f{k}-{account.id}", status="failed",
                               created_at=dt.datetime.now(dt.UTC)).save()
    r = await challenge(client)
    assert r.status_code == 429
    assert r.json()["error"] == f"今日人脸核验未通过次数已达上限（{t.rules.face.max_attempts} 次），请明天再试"
    page = await client.get("/t/facecheck/face/check")
    assert "今日人脸核验未通过次数已达上限" in page.text and 'id="face-start"' not in page.text


async def test_another_accounts_nonce_is_not_found(client, platform, make_account):
    await learner(platform, make_account, client)
    c = (await challenge(client)).json()
    jpeg = clip_frames(1)[0][1]
    await client.post("/t/facecheck/signout", {})
    await learner(platform, make_account, client)
    assert (await post_frame(client, "facecheck", c["nonce"], jpeg, 0)).status_code == 404
    assert (await finish(client, "facecheck", c["nonce"])).status_code == 404
    row = await FaceVerification.objects().output(load_json=True).where(FaceVerification.nonce == c["nonce"]).first()
    assert row.status == "open" and row.frames == 0


async def test_another_tenants_nonce_is_not_found(client, platform, make_account):
    await learner(platform, make_account, client, slug="construction")
    c = (await challenge(client, "construction")).json()
    assert "nonce" in c, c
    await learner(platform, make_account, client, slug=FACE)
    jpeg = clip_frames(1)[0][1]
    assert (await post_frame(client, "facecheck", c["nonce"], jpeg, 0)).status_code == 404
    assert (await finish(client, "facecheck", c["nonce"])).status_code == 404


async def test_a_frame_declaring_too_many_pixels_is_refused_before_decoding(client, platform, make_account):
    """A small JPEG can declare a huge picture (here 4000 × 3000 of flat colour, a few KB): a face
    frame needs at most ~2 MP, so it is refused from its header, with the page's message."""
    import io

    from PIL import Image

    from core.faces.imaging import FRAME_MAX_PIXELS

    await learner(platform, make_account, client)
    c = (await challenge(client)).json()
    buf = io.BytesIO()
    Image.new("RGB", (4000, 3000), (120, 110, 100)).save(buf, "JPEG", quality=50)
    assert 4000 * 3000 > FRAME_MAX_PIXELS and len(buf.getvalue()) < 512 * 1024
    r = await post_frame(client, "facecheck", c["nonce"], buf.getvalue(), 100)
    assert r.status_code == 400 and r.json()["error"]
    ok = encode_jpeg(read_clip(videos_dir() / CLIP, step=3)[0][1])
    assert (await post_frame(client, "facecheck", c["nonce"], ok, 200)).status_code == 200  # the challenge goes on
