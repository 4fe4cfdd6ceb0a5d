"""What one simulated learner does over HTTP in the load test (benchmarks/load_learners.py):
the same requests, bodies and pacing as the pages' scripts (core/static/js/facecheck.js and
player.js), each timed under the name of its step.

Frames are real: the webcam's are the shared clip ``obama_weekly_address_blinks.mp4`` (every
frame, 640 px JPEGs, paced like the face page: 10 a second until a prompt, 20 after); a
snapshot's burst is three frames of the same clip 0.4 s apart from a random point, the
learner's portrait being ``obama/obama_1.jpg`` (load_seed.py).
"""

from __future__ import annotations

import asyncio
import random
import re
import time
from dataclasses import dataclass, field

import httpx

from core.accounts.sessions import Sessions
from core.faces import encode_jpeg
from core.testing.face_media import read_clip, videos_dir

T = "/t/construction"
BEAT_SECONDS = 15.0  # player.js INTERVAL: a beat every 15 s while playing
FRAME_GAP_MS, ACTION_FRAME_GAP_MS = 100, 50  # facecheck.js: 10 fps, 20 once a prompt is shown
BURST_GAP_FRAMES = 12  # 0.4 s at the clip's 30 frames a second (player.js BURST_GAP_MS)
COOKIE = Sessions.cookie_name("construction")


@dataclass
class Recorder:
    """Every timed request: (end time, step, milliseconds, ok)."""

    samples: list[tuple[float, str, float, bool]] = field(default_factory=list)
    notes: dict[str, int] = field(default_factory=dict)  # counted answers (captures, snapshot outcomes, …)

    async def timed(self, step: str, call, ok=lambda r: r.status_code < 400):
        t0 = time.perf_counter()
        try:
            r = await call
        except httpx.HTTPError as exc:
            self.samples.append((time.time(), step, (time.perf_counter() - t0) * 1000, False))
            self.note(f"{step}: {type(exc).__name__}")
            return None
        good = ok(r)
        self.samples.append((time.time(), step, (time.perf_counter() - t0) * 1000, good))
        if not good:
            self.note(f"{step}: HTTP {r.status_code}")
        return r

    def note(self, what: str) -> None:
        self.notes[what] = self.notes.get(what, 0) + 1


class Media:
    """The clip's frames as JPEGs, decoded and encoded once."""

    def __init__(self) -> None:
        frames = read_clip(videos_dir() / "obama_weekly_address_blinks.mp4")
        self.frames = [(t, encode_jpeg(f)) for t, f in frames]

    def burst(self, count: int) -> list[bytes]:
        start = random.randrange(0, len(self.frames) - BURST_GAP_FRAMES * count)
        return [self.frames[start + k * BURST_GAP_FRAMES][1] for k in range(count)]


def csrf_of(client: httpx.AsyncClient) -> str:
    return client.cookies.get("csrftoken") or ""


@dataclass
class Study:
    """One study session: its token, the next sequence number and where the video started."""

    token: str
    position: float
    started: float
    seq: int = 0


async def start_study(rec: Recorder, client: httpx.AsyncClient, headers: dict, lesson: int) -> Study | None:
    r = await rec.timed("session start", client.post(f"{T}/study/lessons/{lesson}/session", headers=headers))
    if r is None or r.status_code != 201:
        return None
    body = r.json()
    # The player loads the video: 302 to a signed URL on the bucket (206 from local disk).
    await rec.timed("video (redirect)", client.get(f"{T}/study/lessons/{lesson}/media",
                                                   headers={**headers, "Range": "bytes=0-"}))
    return Study(body["token"], body["position"], time.monotonic())


async def beat(rec: Recorder, client: httpx.AsyncClient, headers: dict, csrf: str, lesson: int, s: Study,
               media: Media) -> bool:
    """One beat of a playing, visible player (position = where it started + the time since);
    a capture in the answer is uploaded as the player does. False once the player would stop."""
    s.seq += 1
    position = s.position + time.monotonic() - s.started
    r = await rec.timed("beat", client.post(f"{T}/study/beat", headers=headers, data={
        "token": s.token, "seq": s.seq, "lesson": lesson, "position": f"{position:.3f}", "playing": "1",
        "visible": "1", "event": "beat", "_csrf_token": csrf}))
    if r is None or r.status_code >= 400:
        return True  # the player keeps the beat and goes on
    answer = r.json()
    if not answer.get("credited"):
        rec.note(f"beat not credited: {answer.get('reason') or 'none'}")
    if answer.get("capture", {}).get("ticket"):
        rec.note("captures asked")
        asyncio.get_running_loop().create_task(snapshot(rec, client, headers, answer["capture"], media))
    if answer.get("paused") or answer.get("face_paused"):
        rec.note(f"player stopped: {answer.get('reason') or 'paused'}")
        return False
    return True


async def snapshot(rec: Recorder, client: httpx.AsyncClient, headers: dict, capture: dict, media: Media) -> None:
    count = capture.get("frames") or 3
    await asyncio.sleep(0.4 * (count - 1))  # the burst takes that long to shoot
    files = [("frame", (f"frame{k}.jpg", jpeg, "image/jpeg")) for k, jpeg in enumerate(media.burst(count))]
    await rec.timed("snapshot upload", client.post(f"{T}/study/snapshot", params={"ticket": capture["ticket"]},
                                                   headers={**headers, "Accept": "application/json"}, files=files),
                    ok=lambda r: r.status_code == 202)


async def keep_studying(rec: Recorder, client: httpx.AsyncClient, headers: dict, csrf: str, lesson: int,
                        s: Study, media: Media, until: list[float]) -> None:
    """Beat every BEAT_SECONDS until ``until[0]`` (a list: the driver moves the end)."""
    next_at = time.monotonic() + random.uniform(0, BEAT_SECONDS)  # learners' beats are not in step
    while True:
        await asyncio.sleep(max(0.0, next_at - time.monotonic()))
        if time.monotonic() >= until[0]:
            return
        next_at += BEAT_SECONDS
        if not await beat(rec, client, headers, csrf, lesson, s, media):
            return


async def face_check(rec: Recorder, client: httpx.AsyncClient, media: Media) -> bool:
    """Challenge, frames paced like the page (the server's answers carry the prompts), finish."""
    headers = {"x-csrftoken": csrf_of(client)}
    r = await rec.timed("face challenge", client.post(f"{T}/face/challenge", headers=headers))
    if r is None or r.status_code != 201:
        return False
    nonce = r.json()["nonce"]
    span = media.frames[-1][0] + 33
    frames = [(t + k * span, jpeg) for k in range(3) for t, jpeg in media.frames]  # 11.5 s: longer than a challenge
    t0, sent, prompted, done = time.monotonic(), -1_000_000, False, False
    for t, jpeg in frames:
        if t < sent + (ACTION_FRAME_GAP_MS if prompted else FRAME_GAP_MS):
            continue
        if t < (time.monotonic() - t0) * 1000 - 1000:
            continue  # the camera moved on: the page grabs what it shows now
        ahead = t - (time.monotonic() - t0) * 1000 - 500
        if ahead > 0:
            await asyncio.sleep(ahead / 1000)
        r = await rec.timed("face frame", client.post(f"{T}/face/frame", params={"nonce": nonce, "t": t},
                                                      content=jpeg, headers={**headers, "content-type": "image/jpeg"}))
        if r is None or r.status_code != 200:
            return False
        sent, answer = t, r.json()
        prompted = prompted or bool(answer.get("next_prompt"))
        if answer["done"]:
            done = True
            break
    if not done:
        rec.note("face check: clip ran out")
        return False
    r = await rec.timed("face finish", client.post(f"{T}/face/finish", params={"nonce": nonce}, headers=headers))
    passed = r is not None and r.status_code == 200 and "通过" in r.json().get("message", "") \
        and "未通过" not in r.json().get("message", "")
    rec.note("face check passed" if passed else "face check failed")
    return passed


async def whole_learner(rec: Recorder, base: str, media: Media, lesson: int, password: str, id_number: str,
                        exam_enrollment: int, beats: int) -> None:
    """Sign in (CSRF), consent, the face check, study (``beats`` beats at the player's interval,
    snapshots when asked), then the exam: start, the paper, 50 answers, submit."""
    async with httpx.AsyncClient(base_url=base, timeout=60) as c:
        await rec.timed("sign-in page", c.get(f"{T}/signin"))
        r = await rec.timed("sign-in", c.post(f"{T}/signin/id", data={
            "id_number": id_number, "password": password, "_csrf_token": csrf_of(c)}),
            ok=lambda r: r.status_code == 303)
        if r is None or r.status_code != 303:
            return
        page = await rec.timed("consent page", c.get(f"{T}/face/consent"))
        sha = re.search(r'name="text_sha256" value="([0-9a-f]{64})"', page.text if page else "")
        await rec.timed("consent", c.post(f"{T}/face/consent", data={
            "agree": "yes", "text_sha256": sha[1] if sha else "", "_csrf_token": csrf_of(c)}),
            ok=lambda r: r.status_code == 303)
        if not await face_check(rec, c, media):
            return
        headers = {"x-csrftoken": csrf_of(c)}
        s = await start_study(rec, c, headers, lesson)
        if s is None:
            return
        await keep_studying(rec, c, headers, csrf_of(c), lesson, s, media,
                            [time.monotonic() + beats * BEAT_SECONDS + 1])
        r = await rec.timed("exam start", c.post(f"{T}/exams/{exam_enrollment}/start", headers=headers),
                            ok=lambda r: r.status_code in (302, 303))
        m = re.search(r"/exams/attempts/(\d+)", r.headers.get("location", "") if r else "")
        if not m:
            return
        attempt = m[1]
        await rec.timed("exam paper", c.get(f"{T}/exams/attempts/{attempt}"))
        for seq in range(1, 51):
            await rec.timed("exam answer", c.post(f"{T}/exams/attempts/{attempt}/answer", headers={
                **headers, "HX-Request": "true"}, data={"seq": seq, "choice": "A", "_csrf_token": csrf_of(c)}))
        await rec.timed("exam submit", c.post(f"{T}/exams/attempts/{attempt}/submit", data={
            "confirm": "1", "_csrf_token": csrf_of(c)}), ok=lambda r: r.status_code in (302, 303))
