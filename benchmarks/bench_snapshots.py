"""Study snapshots: the match job against its bare matching library, and upload-to-verdict in a burst.

Run: uv run python benchmarks/bench_snapshots.py [--frames 40] [--rounds 5] [--burst 200] [--sqlite]
     [--database postgres://postgres@127.0.0.1:5432/test] [--redis redis://127.0.0.1:6379/0]

Frames: the real photos of ../shared/faces (people with one face) downscaled to 640 px JPEGs, as
the player sends them; the learner's portrait is ``obama/obama_1.jpg``.

1. Throughput per worker process: ``check_snapshot`` (the job: load the rows, read the stored
   burst of ``face.snapshot_burst_frames`` frames, decode them, detect on the frame it picks,
   compare every frame with the learner's earlier snapshots and with each other (variation),
   encode the picked frame, compare it with the cached portrait and ID-photo encodings, write the
   verdict, the timeline event and the kept encoding, compare across the tenant) run one after
   another on the snapshots (one learner: each compared with all before it, as in a course), in
   this process, against the bare library on the one frame encoded: with ``dlib``,
   ``face_recognition`` (``load_image_file`` + ``face_locations(upsample 0)`` + ``face_encodings`` +
   ``face_distance``); with another provider, OpenCV's decode and the provider's own detect,
   encode and distance (for ``sface``: YuNet, the alignment, SFace). ``--rounds`` rounds
   of ``--frames`` snapshots (each round its own variants of the photos); within a round job and
   bare alternate frame by frame, each going first every other frame. Each side is timed by the
   wall clock and by this process's CPU time (``time.process_time``, all its threads: the face
   pool's and, on SQLite, the database's; not the PostgreSQL server's work, nor waits on the disk
   or the server). Prints, per round, the seconds, the frames each side encoded and the ratio of
   seconds per frame encoded (job / bare), then the median and range of the rounds' ratios, with
   the load average (goal: ≤ 1.2× the bare encoding per frame encoded). The job matches with
   ``--provider`` (default ``dlib``; the construction tenant's rules say ``sface``), and the bare
   side runs the same library, so the ratio is the job's cost over its own library's. ``--sqlite``: part 1 on a
   SQLite file instead of PostgreSQL (no part 2).
2. A burst of ``--burst`` uploads accepted at once (``snapshots.accept``: clean, store, record,
   enqueue), matched by 1 and then 2 ``xueshi worker`` processes on SAQ/Redis (PostgreSQL, a
   throw-away database); prints upload-to-verdict p50/p95/max (``finished_at − created_at``) and
   the wall time until the last verdict.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import io
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

FACES = Path(os.environ.get("XUESHI_SHARED", REPO.parent / "shared")) / "faces"
PORTRAIT = "obama/obama_1.jpg"


def frames(n: int) -> list[bytes]:
    """``n`` frames: the photos in turn, every other round mirrored and from the third round on
    with a margin cut off (no two alike, as a course's snapshots are not)."""
    from PIL import Image

    photos = [p for p in sorted(FACES.glob("*/*")) if p.suffix in (".jpg", ".png") and p.parent.name != "groups"
              and p.name != "obama_1.jpg" and "partial" not in p.name]
    out = []
    for i in range(n):
        img = Image.open(photos[i % len(photos)]).convert("RGB")
        rounds = i // len(photos)
        if rounds % 2:
            img = img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        if rounds >= 2:  # a margin cut off: another picture even where the photo is small already
            w, h = img.size
            cut = 0.015 * (rounds // 2)  # small steps: many rounds still leave the whole face
            img = img.crop((round(w * cut), round(h * cut), round(w * (1 - cut)), round(h * (1 - cut))))
        img.thumbnail((640, 640))
        buf = io.BytesIO()
        img.save(buf, format="JPEG", quality=80)
        out.append(buf.getvalue())
    return out


def burst_of(jpeg: bytes, count: int = 3) -> list[bytes]:
    """The burst the player sends for one capture: the frame as a face moving 2 px a frame."""
    from PIL import Image

    img = Image.open(io.BytesIO(jpeg)).convert("RGB")
    out = []
    for k in range(count):
        canvas = Image.new("RGB", img.size)
        canvas.paste(img, (2 * k, k))
        buf = io.BytesIO()
        canvas.save(buf, format="JPEG", quality=80)
        out.append(buf.getvalue())
    return out


class Bare:
    """face_recognition alone on the same JPEG bytes (decode, detect, encode, compare)."""

    def __init__(self) -> None:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import face_recognition
        from core.files.images import clean_image

        self.fr = face_recognition
        portrait = face_recognition.load_image_file(io.BytesIO(clean_image((FACES / PORTRAIT).read_bytes()).data))
        self.known = face_recognition.face_encodings(portrait)[0]

    def __call__(self, jpeg: bytes) -> bool:
        fr = self.fr
        image = fr.load_image_file(io.BytesIO(jpeg))
        boxes = fr.face_locations(image, number_of_times_to_upsample=0)
        if len(boxes) != 1:
            return False
        fr.face_distance([self.known], fr.face_encodings(image, known_face_locations=boxes)[0])
        return True


class BareProvider:
    """The job's match provider alone on the same JPEG bytes: OpenCV's decode, the provider's own
    detect, encode and distance (for SFace: YuNet, the alignment and SFace, as the plugin runs
    them) — what the job adds its checks to."""

    def __init__(self, provider) -> None:
        from core.files.images import clean_image

        self.provider = provider
        self.known = provider.encode(self._decode(clean_image((FACES / PORTRAIT).read_bytes()).data))

    @staticmethod
    def _decode(jpeg: bytes):
        import cv2
        import numpy as np

        return cv2.cvtColor(cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)

    def __call__(self, jpeg: bytes) -> bool:
        image = self._decode(jpeg)
        boxes = self.provider.detect(image)
        if len(boxes) != 1:
            return False
        self.provider.distance(self.provider.encode(image, boxes[0]), self.known)
        return True


async def seed(platform, n_sessions: int):
    """A learner with the portrait, an enrolment, consent and ``n_sessions`` proctored sessions
    each holding an open capture ticket. Returns (tenant, account, [(session id, ticket)])."""
    from core.accounts.tables import Account
    from core.courses.tables import Course, Enrollment, Position
    from core.files.images import clean_image
    from core.proctoring.consent import FACE_TEXT_VERSION
    from core.proctoring.study_tables import ProctorSession
    from core.proctoring.tables import Consent
    from core.roster.tables import LearnerProfile
    from core.testing.ids import fake_id_number, fake_mobile

    tenant = platform.tenants.get("construction")
    now = dt.datetime.now(dt.UTC)
    account = Account(tenant=tenant.id, role="learner", real_name="压测学员", id_number=fake_id_number(),
                      mobile=fake_mobile(), password_hash="x", created_at=now)
    await account.save()
    portrait = await platform.storage.save(clean_image((FACES / PORTRAIT).read_bytes()).data, tenant_id=tenant.id,
                                           kind="portrait", media_type="image/jpeg", owner_id=account.id)
    await LearnerProfile(tenant=tenant.id, account=account.id, id_number=account.id_number, portrait=portrait.id,
                         created_at=now, updated_at=now).save()
    await Consent(tenant=tenant.id, account=account.id, kind="face", text_version=FACE_TEXT_VERSION,
                  text_sha256="bench", granted_at=now).save()
    pos = Position(tenant=tenant.id, name=f"施工员{secrets.token_hex(3)}", created_at=now)
    await pos.save()
    course = Course(tenant=tenant.id, position=pos.id, year=2026, title="bench", required_hours=1.0, created_at=now)
    await course.save()
    enrollment = Enrollment(tenant=tenant.id, account=account.id, course=course.id, created_at=now)
    await enrollment.save()
    sessions = []
    for _ in range(n_sessions):
        ticket = secrets.token_urlsafe(24)
        ps = ProctorSession(tenant=tenant.id, account=account.id, enrollment=enrollment.id,
                            session=secrets.token_urlsafe(24), ticket=ticket, ticket_due=time.time() + 86400,
                            created_at=now)
        await ps.save()
        sessions.append((ps.id, ticket))
    return tenant, account, sessions


class Round:
    """One round of part 1: wall and CPU seconds of each side, frames encoded, outcomes."""

    def __init__(self) -> None:
        self.wall = {"bare": 0.0, "job": 0.0}
        self.cpu = {"bare": 0.0, "job": 0.0}
        self.encoded = {"bare": 0, "job": 0}
        self.outcomes: dict[str, int] = {}

    def ratio(self, clock: str) -> float:
        """Job seconds per frame it encoded over bare seconds per frame it encoded."""
        times = self.wall if clock == "wall" else self.cpu
        return (times["job"] / max(1, self.encoded["job"])) / (times["bare"] / max(1, self.encoded["bare"]))


async def per_process(env: dict[str, str], jpegs: list[bytes], rounds: int, provider: str) -> list[Round]:
    """check_snapshot run one after another in this process (no queue) on ``rounds`` rounds of
    ``jpegs`` (each round its own variants of the pictures, so no snapshot repeats an earlier one),
    each snapshot next to the bare library on the same frame, alternately first and second (a busy
    machine slows both alike). Each side is timed by the wall clock and by this process's CPU time
    (``time.process_time``: every thread, so the face pool's and, on SQLite, the database's; not
    the PostgreSQL server's, nor time spent waiting on a disk or another process). The tenant
    matches with ``provider`` for the run; the bare side runs the same library (``Bare``,
    ``BareProvider``)."""
    from core.faces import Capability, select_provider
    from core.kernel import build_platform, deploy
    from core.proctoring import snapshots
    from core.proctoring.tables import FaceVerification
    from core.settings import Settings

    platform = build_platform(Settings.from_env({k: v for k, v in env.items() if k != "REDIS_URL"}))
    await deploy(platform)
    await platform.start()
    try:
        pictures = frames(len(jpegs) * rounds + 1)  # round r: its own variants of the same photos
        tenant, account, sessions = await seed(platform, len(pictures))
        tenant.rules.face.match_provider = provider  # this process's copy of the rules, for the run
        rows = []
        per = tenant.rules.face.snapshot_burst_frames
        for (ps_id, ticket), jpeg in zip(sessions, [pictures[-1], *pictures[:-1]], strict=True):
            stored = [await platform.storage.save(f, tenant_id=tenant.id, kind="snapshot", media_type="image/jpeg",
                                                  owner_id=account.id) for f in burst_of(jpeg, per)]
            row = FaceVerification(tenant=tenant.id, account=account.id, purpose="snapshot", nonce=ticket,
                                   status="open", evidence=[f.id for f in stored], created_at=dt.datetime.now(dt.UTC))
            await row.save()
            rows.append((row.id, ps_id))
        ctx = {"platform": platform}
        warm = rows.pop(0)  # the models and the portrait encoding load once per process
        await snapshots.check_snapshot(ctx, tenant=tenant.slug, verification=warm[0], proctor_session=warm[1])
        bare = Bare() if provider == "dlib" else BareProvider(
            select_provider(await platform.face_providers(), provider, Capability.ENCODE))
        bare(pictures[-1])

        async def job(vid: int, ps_id: int) -> str:
            return await snapshots.check_snapshot(ctx, tenant=tenant.slug, verification=vid, proctor_session=ps_id)

        results = []
        for r in range(rounds):
            res = Round()
            todo = list(zip(rows[r * len(jpegs):(r + 1) * len(jpegs)], pictures[r * len(jpegs):], strict=False))
            for i, ((vid, ps_id), jpeg) in enumerate(todo):
                for side in (("bare", "job") if i % 2 == 0 else ("job", "bare")):
                    w, c = time.perf_counter(), time.process_time()
                    if side == "bare":
                        res.encoded["bare"] += bare(jpeg)
                    else:
                        out = await job(vid, ps_id)
                        res.outcomes[out] = res.outcomes.get(out, 0) + 1
                    res.wall[side] += time.perf_counter() - w
                    res.cpu[side] += time.process_time() - c
            done = await FaceVerification.select(FaceVerification.scores).where(
                FaceVerification.id.is_in([vid for (vid, _), _ in todo])).output(load_json=True)
            res.encoded["job"] = sum(1 for d in done if "distance" in (d["scores"] or {}))  # frames it encoded
            results.append(res)
        return results
    finally:
        await platform.stop()


async def burst(env: dict[str, str], jpegs: list[bytes], workers: int) -> tuple[list[float], float]:
    """Accept len(jpegs) uploads at once, let ``workers`` worker processes match them."""
    from core.kernel import build_platform
    from core.proctoring import snapshots
    from core.proctoring.tables import FaceVerification
    from core.settings import Settings

    queue = f"bench-snap-{secrets.token_hex(4)}"
    wenv = {**env, "XUESHI_JOB_QUEUE": queue}
    platform = build_platform(Settings.from_env(wenv))
    await platform.start()
    procs = [subprocess.Popen([sys.executable, "-m", "core.cli", "worker", "--concurrency", "2"], env=wenv, cwd=REPO,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for _ in range(workers)]
    try:
        tenant, account, sessions = await seed(platform, len(jpegs))
        # Warm the workers (models, portrait encoding) with one snapshot each before the burst.
        _, warm_account, warm_sessions = await seed(platform, workers * 2)
        per = tenant.rules.face.snapshot_burst_frames
        warm = await asyncio.gather(*(snapshots.accept(platform, tenant, warm_account, t, burst_of(jpegs[0], per))
                                      for _, t in warm_sessions))
        await _wait([r.id for r in warm], timeout=300)
        t0 = time.perf_counter()
        rows = await asyncio.gather(*(snapshots.accept(platform, tenant, account, ticket, burst_of(jpeg, per))
                                      for (_, ticket), jpeg in zip(sessions, jpegs, strict=True)))
        await _wait([r.id for r in rows], timeout=1800)
        wall = time.perf_counter() - t0
        done = await FaceVerification.objects().where(FaceVerification.id.is_in([r.id for r in rows]))
        return [(r.finished_at - r.created_at).total_seconds() for r in done], wall
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
        await platform.stop()


async def _wait(ids: list[int], timeout: float) -> None:
    from core.proctoring.tables import FaceVerification

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        left = await FaceVerification.count().where(FaceVerification.id.is_in(ids) & (FaceVerification.status == "open"))
        if left == 0:
            return
        await asyncio.sleep(0.2)
    raise SystemExit(f"{left} snapshots still open after {timeout} s")


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[q - 1] if len(values) > 1 else values[0]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=40)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--burst", type=int, default=200)
    ap.add_argument("--provider", default="dlib", help="the job's match provider (construction's own: sface)")
    ap.add_argument("--sqlite", action="store_true", help="part 1 on a SQLite file (part 2 is skipped)")
    ap.add_argument("--database", default=os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432/test"))
    ap.add_argument("--redis", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    args = ap.parse_args()
    name = f"xs_snap_bench_{secrets.token_hex(4)}"
    admin = args.database
    var = Path(tempfile.mkdtemp(prefix="xs-bench-snap-"))
    if args.sqlite:
        db_url, args.burst = f"sqlite:///{var / 'bench.sqlite3'}", 0
    else:
        db_url = admin.rsplit("/", 1)[0] + f"/{name}"
        asyncio.run(_pg(admin, f'CREATE DATABASE "{name}"'))
    env = {**os.environ, "DATABASE_URL": db_url, "REDIS_URL": args.redis, "XUESHI_VAR_DIR": str(var),
           "XUESHI_SECRET_KEY": "bench-snapshots-secret", "XUESHI_DB_POOL_SIZE": "4"}
    subprocess.run([sys.executable, "-m", "core.cli", "migrate"], env=env, cwd=REPO, check=True,
                   stdout=subprocess.DEVNULL)
    subprocess.run([sys.executable, "-m", "core.cli", "tenants", "sync"], env=env, cwd=REPO, check=True,
                   stdout=subprocess.DEVNULL)
    try:
        jpegs = frames(args.frames)  # part 1 takes its own variants of these per round
        load = open("/proc/loadavg").read().split()[:3]
        results = asyncio.run(per_process(env, jpegs, args.rounds, args.provider))
        print(f"snapshot match, one process, {len(jpegs)} snapshots a round of ../shared/faces at ≤640 px, "
              f"{args.rounds} rounds, {os.cpu_count()} cores, {'SQLite' if args.sqlite else 'PostgreSQL'}, "
              f"job's match provider {args.provider}")
        print("each snapshot a burst of 3 frames (decoded, checked for variation and earlier frames), one encoded;")
        print(f"bare {'face_recognition' if args.provider == 'dlib' else args.provider + ' (the provider alone)'}: "
              "the one frame encoded; job and bare alternate frame by frame")
        print(f"load average before: {' '.join(load)}, after: {' '.join(open('/proc/loadavg').read().split()[:3])}")
        print(f"{'round':>5} {'bare s':>7} {'job s':>7} {'bare cpu':>8} {'job cpu':>8} {'encoded':>9}"
              f" {'wall x':>7} {'cpu x':>6}  outcomes")
        for i, r in enumerate(results, 1):
            print(f"{i:>5} {r.wall['bare']:>7.2f} {r.wall['job']:>7.2f} {r.cpu['bare']:>8.2f} {r.cpu['job']:>8.2f}"
                  f" {r.encoded['bare']:>4}/{r.encoded['job']:<4} {r.ratio('wall'):>7.2f} {r.ratio('cpu'):>6.2f}  "
                  f"{dict(sorted(r.outcomes.items()))}")
        for clock in ("wall", "cpu"):
            ratios = [r.ratio(clock) for r in results]
            print(f"job / bare per frame encoded ({clock}): median {statistics.median(ratios):.2f}x, "
                  f"range {min(ratios):.2f}–{max(ratios):.2f}x")
        if not args.burst:
            return
        burst_jpegs = frames(args.burst)
        print(f"\nburst of {args.burst} uploads, SAQ on Redis, PostgreSQL, xueshi worker --concurrency 2")
        print(f"{'workers':>7} {'p50 s':>7} {'p95 s':>7} {'max s':>7} {'wall s':>7} {'verdicts/s':>11}")
        for workers in (1, 2):
            latencies, wall = asyncio.run(burst(env, burst_jpegs, workers))
            print(f"{workers:>7} {pct(latencies, 50):>7.2f} {pct(latencies, 95):>7.2f} {max(latencies):>7.2f} "
                  f"{wall:>7.2f} {len(latencies) / wall:>11.2f}")
    finally:
        if not args.sqlite:
            asyncio.run(_pg(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _pg(url: str, sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


if __name__ == "__main__":
    main()
