"""Bursts of frames over HTTP (core.faces.bursts): while a prompt is showing the page sends the
frames it captured at camera rate since its previous request; the server judges them in order,
each as a lone frame, and refuses a request that breaks the rules with a clear message.

Frames are the obama clip with quick blinks (eyes closed for one camera frame), real JPEGs, real
providers; the challenge's prompt schedule is set by the test (the server's own is random)."""

from __future__ import annotations

import pytest

from core import Action
from core.faces import encode_jpeg
from core.faces import face_messages as M
from core.faces.bursts import MAX_BURST
from core.proctoring import services
from core.testing import face_media as media
from tests.face_tenant import FACE
from tests.test_proctoring import challenge, learner, xs_plugins  # noqa: F401  (xs_plugins: the fixture)

OBAMA = "obama_weekly_address_blinks.mp4"
QUICK_CLOSED = media.CLOSED_EYE_FRAMES[OBAMA][0][0]  # the first blink's one closed frame (quick blinks)


@pytest.fixture(scope="module")
def quick_clip():
    """The obama clip with quick blinks, as (t_ms, JPEG)."""
    frames, _ = media.quick_blinks(OBAMA, media.read_clip(media.videos_dir() / OBAMA))
    return [(t, encode_jpeg(f)) for t, f in frames]


async def post_burst(client, nonce, frames, sizes=None):
    """One request carrying ``frames`` ((t_ms, JPEG)) as the page sends a burst."""
    body = b"".join(j for _, j in frames)
    q = f"nonce={nonce}&t={','.join(str(t) for t, _ in frames)}"
    q += f"&sizes={','.join(str(n) for n in (sizes or [len(j) for _, j in frames]))}"
    return await client.http.post(
        f"/t/{FACE}/face/frame?{q}", content=body,
        headers={"x-csrftoken": await client._csrf(), "content-type": "application/octet-stream"})


async def started(client, platform, make_account, prompt_at=None):
    """A challenge (blink, then open mouth) whose first prompt is due at ``prompt_at`` ms."""
    account = await learner(platform, make_account, client)
    c = (await challenge(client)).json()
    if prompt_at is not None:
        checks = services.live_checks(platform)
        tenant = platform.tenants.get(FACE)
        check = await checks.get(c["nonce"], tenant.id, account.id)
        check.session.challenge = check.session.judge.challenge = media.fixed_challenge(
            (Action.BLINK, Action.OPEN_MOUTH), c["nonce"], (prompt_at,))
        await checks.save(check)
    return c


async def test_bursts_breaking_the_rules_are_refused_with_a_clear_message(client, platform, make_account, quick_clip):
    c = await started(client, platform, make_account)
    f = [j for _, j in quick_clip[:MAX_BURST + 1]]
    cases = [
        ([(40 * k, j) for k, j in enumerate(f)], None, 400, M.B_TOO_MANY),  # one frame over MAX_BURST
        ([(0, f[0]), (10, f[1])], None, 400, M.B_TOO_CLOSE),  # 100 frames a second claimed
        ([(80, f[0]), (40, f[1])], None, 400, M.B_OUT_OF_ORDER),
        ([(0, f[0]), (40, b"x" * (600 * 1024))], None, 413, "画面过大"),  # one frame over the per-frame limit
        ([(0, f[0]), (40, f[1])], [len(f[0]), len(f[1]) + 1], 400, "核验请求无效，请重新开始核验"),  # sizes lie
    ]
    for frames, sizes, status, error in cases:
        r = await post_burst(client, c["nonce"], frames, sizes)
        assert (r.status_code, r.json().get("error")) == (status, error), (frames[0][0], r.text)
    # Over MAX_BURST frames' worth of bytes: refused before it is read to the end.
    r = await post_burst(client, c["nonce"], [(0, b"x" * (MAX_BURST * services.MAX_FRAME_BYTES + 1))])
    assert r.status_code == 413
    # None of them was judged; a burst within the rules is, every frame of it.
    r = await post_burst(client, c["nonce"], [(0, f[0]), (33, f[1]), (67, f[2])])
    assert r.status_code == 200 and r.json()["frames"] == 3, r.text
    # The gap holds across requests too: the next frame 25 ms after the last one at the earliest.
    r = await post_burst(client, c["nonce"], [(80, f[3])])
    assert r.status_code == 400 and r.json()["error"] == M.B_TOO_CLOSE
    r = await post_burst(client, c["nonce"], [(92, f[3])])
    assert r.status_code == 200 and r.json()["frames"] == 1


async def _blink_answer(client, c, clip, prompt_frame):
    """Single frames at 10 a second up to the blink, then one burst of the frames around it
    with the closed one in its middle, then one of the next three (the eyes open again); the
    answers to those two requests."""
    k = QUICK_CLOSED - 1
    for t, jpeg in clip[0:prompt_frame:3]:
        r = await post_burst(client, c["nonce"], [(t, jpeg)])
        assert r.status_code == 200, r.text
    if prompt_frame < k:  # the prompt's frame on its own
        r = await post_burst(client, c["nonce"], [clip[prompt_frame]])
        assert r.status_code == 200 and r.json()["next_prompt"] == "请眨眼", r.text
    burst = await post_burst(client, c["nonce"], clip[k:k + 3])
    assert burst.status_code == 200, burst.text
    after = await post_burst(client, c["nonce"], clip[k + 3:k + 6])
    assert after.status_code == 200, after.text
    return burst.json(), after.json()


async def test_a_burst_with_the_prompt_and_the_blink_does_not_count_the_blink(client, platform, make_account,
                                                                              quick_clip):
    """The prompt is due on a burst's first frame and the quick blink is in the frames after it:
    those were captured before the page could show the prompt, so they are not judged and the
    blink does not count (it would, judged as the frames after the prompt's own)."""
    k = QUICK_CLOSED - 1
    c = await started(client, platform, make_account, prompt_at=quick_clip[k][0])
    burst, after = await _blink_answer(client, c, quick_clip, k)
    assert burst["next_prompt"] == "请眨眼" and burst["frames"] == 1 and burst["step"] == 0, burst
    assert after["code"] == "do_action" and after["step"] == 0, after  # still asked: the blink went unseen


async def test_a_burst_after_the_prompt_was_shown_catches_a_quick_blink(client, platform, make_account, quick_clip):
    """The same frames once the prompt was shown by the answer to the frame before: the burst
    holds the blink's one closed frame, and the blink counts."""
    k = QUICK_CLOSED - 1
    c = await started(client, platform, make_account, prompt_at=quick_clip[k - 1][0])
    burst, after = await _blink_answer(client, c, quick_clip, k - 1)
    assert burst["frames"] == 3 and burst["step"] == 0, burst  # closed, then opening
    assert after["step"] == 1, after  # open again: the blink is done
