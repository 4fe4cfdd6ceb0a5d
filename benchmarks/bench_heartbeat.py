"""The heartbeat endpoint (signed in, one ledger row per beat) against a bare Litestar JSON
handler, both served the same way in the same run (as ``xueshi serve`` serves: ``core.serving``), real sockets,
``wrk`` as the client, 1 and 2 server processes, on SQLite and (when reachable) PostgreSQL + Redis,
where heartbeats are live study's (``core.study.live``: decided in Redis, written by the flusher).

Run: uv run python benchmarks/bench_heartbeat.py [seconds] [connections]
     BENCH_PG=postgres://postgres@127.0.0.1:5432/test BENCH_REDIS=redis://127.0.0.1:6379/0 (defaults)
     BENCH_ONLY=pg leaves SQLite out.

Every beat claims a small, plausible advance (the position follows the wall clock) with a new
sequence number, so each one is credited and appends an ``HoursEntry``. Each wrk thread sends
its learners' beats in turn; with 512 learners one learner's next beat leaves long after its
last was answered, so beats rarely arrive out of order (those few go to the database path, and
the ledger counts show how many). A warm-up run before each measured run builds the learners'
live state. Prints req/s, p50/p95, the ratio to the bare handler, and per configuration the beats
waiting in Redis when wrk stopped, how long the flusher took to write them, the ledger rows
written from Redis and by the database path, and the CPU time per request of the server, Redis and
PostgreSQL (read from /proc; Redis's command statistics are reset before each run, so run it on a
Redis of its own). Server logs go to the temporary directory.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import httpx
from tiny import pick  # the script's own folder is on sys.path

ROOT = Path(__file__).resolve().parents[1]
LEARNERS = pick(512, 8)
WARM_UP = pick(3, 1)  # seconds of beats before each measured run (not counted)
LUA = textwrap.dedent("""
    local learners = {}
    %s
    local threads = {}
    local counter = 0
    local t0 = os.time()
    function setup(thread)
      thread:set("id", counter)
      table.insert(threads, thread)
      counter = counter + 1
    end
    function init(args)
      mine = {}
      for i, l in ipairs(learners) do
        if (i - 1) %% %d == id then table.insert(mine, {l[1], l[2], l[3], l[4], 0}) end
      end
      n = 0
    end
    function request()
      n = n + 1
      local l = mine[(n %% #mine) + 1]
      l[5] = l[5] + 1
      local pos = %d + (os.time() - t0) + l[5] * 0.0001
      local body = "token=" .. l[1] .. "&seq=" .. (%d + l[5]) .. "&lesson=" .. l[4] .. "&position=" .. pos
                   .. "&playing=1&visible=1&event=beat&_csrf_token=" .. l[3]
      return wrk.format("POST", "%s", {["Cookie"] = l[2], ["Content-Type"] = "application/x-www-form-urlencoded",
                                       ["x-csrftoken"] = l[3]}, body)
    end
    function done(summary, latency, requests)
      io.write(string.format("RESULT %%f %%f %%f %%d %%d\\n", summary.requests / (summary.duration / 1e6),
               latency:percentile(50) / 1000, latency:percentile(95) / 1000, summary.errors.status,
               summary.requests))
    end
""")

BARE = textwrap.dedent("""
    from litestar import Litestar, Request, post

    @post("/beat", status_code=200)
    async def beat(request: Request) -> dict:
        form = await request.form()
        return {"credited": 0.0, "reason": "", "seq": form.get("seq")}

    app = Litestar([beat])
""")


def process_cpu():
    """(pid, command name, process group, CPU seconds so far) of every live process, from /proc."""
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()  # state, ppid, pgrp, …, utime (11), stime (12)
        yield int(pid), comm, int(fields[2]), (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_seconds(server_pgid: int) -> dict[str, float]:
    """CPU seconds so far of the server (its process group), Redis and PostgreSQL (live processes)."""
    out = {"server": 0.0, "redis": 0.0, "postgres": 0.0}
    for _, comm, pgrp, seconds in process_cpu():
        if pgrp == server_pgid:
            out["server"] += seconds
        elif comm == "redis-server":
            out["redis"] += seconds
        elif comm == "postgres":
            out["postgres"] += seconds
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout: float = 60) -> None:
    end = time.time() + timeout
    while time.time() < end:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise RuntimeError(f"server on {port} did not start")


def serve(target: str, port: int, workers: int, env: dict, cwd: Path, factory: bool = False) -> subprocess.Popen:
    """``target`` served as ``xueshi serve --workers N`` serves (``core.serving``: uvicorn on uvloop
    + httptools, a listening socket per process); returns once every process has started (its
    sockets listen before that, so an open port says nothing)."""
    cmd = [sys.executable, "-m", "core.serving", target, "--host", "127.0.0.1", "--port", str(port), "--workers",
           str(workers), "--log-level", "info", *(["--factory"] if factory else [])]
    path = Path(tempfile.gettempdir()) / f"xs-bench-server-{port}.log"
    log = open(path, "w")  # a file: a full pipe would stall the server
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=log, stderr=log, start_new_session=True)
    end = time.time() + 120
    while path.read_text().count("Application startup complete.") < workers:
        if proc.poll() is not None or time.time() > end:
            stop(proc)
            raise RuntimeError(f"{target} did not start:\n{path.read_text()[-2000:]}")
        time.sleep(0.1)
    return proc


def stop(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, 15)
        proc.wait(timeout=20)
    except Exception:
        os.killpg(proc.pid, 9)


def wrk(url: str, script: Path, seconds: int, connections: int) -> tuple[float, float, float, int, int]:
    out = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "-s", str(script), url],
                         capture_output=True, text=True, check=True).stdout
    m = re.search(r"RESULT (\S+) (\S+) (\S+) (\d+) (\d+)", out)
    return float(m[1]), float(m[2]), float(m[3]), int(m[4]), int(m[5])


async def prepare(env: dict) -> None:
    """Deploy, then one course with a long lesson and LEARNERS enrolled learners with complete
    profiles (rows written directly: the benchmark is about beats, not about sign-in)."""
    from core.accounts.tables import Account
    from core.courses.tables import Course, Enrollment, Lesson, Position
    from core.files.tables import StoredFile
    from core.kernel import build_platform, deploy
    from core.proctoring.consent import FACE_TEXT_VERSION
    from core.proctoring.tables import Consent, FaceVerification
    from core.roster.tables import LearnerProfile
    from core.settings import Settings
    from core.testing.ids import fake_id_number, fake_mobile

    platform = build_platform(Settings.from_env(env))
    await deploy(platform)
    await platform.start()
    tenant = platform.tenants.get("construction")
    now = dt.datetime.now(dt.UTC)
    pos = Position(tenant=tenant.id, name=f"施工员{secrets.token_hex(2)}", created_at=now)
    await pos.save()
    course = Course(tenant=tenant.id, position=pos.id, year=2026, title="bench", required_hours=1000.0, created_at=now)
    await course.save()
    f = StoredFile(tenant=tenant.id, kind="lesson_video", key=f"bench/{secrets.token_hex(8)}", media_type="video/webm",
                   size=0, sha256="")
    await f.save()
    lesson = Lesson(tenant=tenant.id, course=course.id, title="bench", kind="video", file=f.id,
                    duration_seconds=360000.0, created_at=now)
    await lesson.save()
    ids = []
    for _ in range(LEARNERS):
        a = Account(tenant=tenant.id, role="learner", real_name="压测学员", id_number=fake_id_number(),
                    mobile=fake_mobile(), password_hash="x", created_at=now)
        await a.save()
        await LearnerProfile(tenant=tenant.id, account=a.id, id_number=a.id_number, id_front=f.id, id_back=f.id,
                             portrait=f.id, created_at=now, updated_at=now).save()
        await Enrollment(tenant=tenant.id, account=a.id, course=course.id, created_at=now).save()
        # The face gate before the session (the check itself is not what this benchmark measures).
        await Consent(tenant=tenant.id, account=a.id, kind="face", text_version=FACE_TEXT_VERSION,
                      text_sha256="bench", granted_at=now).save()
        for _ in (1, 2):  # a check is claimed by one session: one for each server configuration
            await FaceVerification(tenant=tenant.id, account=a.id, purpose="study", nonce=secrets.token_hex(16),
                                   status="passed", created_at=now, finished_at=now).save()
        ids.append((a.id, await platform.sessions.create(a.id, "construction")))
    await platform.stop()
    print("PREPARED", lesson.id, ",".join(f"{i}:{sid}" for i, sid in ids))


def sessions_for(port: int, env: dict) -> list[tuple[str, str, str, str]]:
    """(study token, cookie header, csrf token, lesson) per learner, through the real server."""
    lesson = env["_BENCH_LESSON"]
    out = []
    cookie_name = "xs_session_construction"
    from core.accounts.sessions import Sessions

    cookie_name = Sessions.cookie_name("construction")
    for pair in env["_BENCH_SESSIONS"].split(","):
        _, sid = pair.split(":")
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", cookies={cookie_name: sid}) as c:
            c.get("/t/construction/study")
            csrf = c.cookies.get("csrftoken")
            r = c.post(f"/t/construction/study/lessons/{lesson}/session", headers={"x-csrftoken": csrf})
            r.raise_for_status()
            out.append((r.json()["token"], f"{cookie_name}={sid}; csrftoken={csrf}", csrf, lesson))
    return out


written: list[tuple] = []  # (database, procs, pending at the end, fast rows, slow rows, drain seconds)
costs: list[tuple] = []  # (database, procs, endpoint, CPU µs per request by part, Redis µs per script call)


def run_config(label: str, env: dict, seconds: int, connections: int, work: Path) -> list[tuple]:
    # Piccolo's engine is process-global: each database is prepared in its own process.
    out = subprocess.run([sys.executable, __file__, "--prepare"], env=env, cwd=ROOT, capture_output=True,
                         text=True, check=True).stdout
    _, lesson, sessions = re.search(r"PREPARED (\d+) (\S+)", out).group(0).split(" ")
    env = {**env, "_BENCH_LESSON": lesson, "_BENCH_SESSIONS": sessions}
    (work / "bare_app.py").write_text(BARE)
    rows = []
    if "REDIS_URL" in env:
        import redis

        redis_client = redis.Redis.from_url(env["REDIS_URL"])
    for workers in pick((1, 2), (1,)):
        port, bare_port = free_port(), free_port()
        app = serve("core.app:app_from_env", port, workers, env, ROOT, factory=True)
        bare = serve("bare_app:app", bare_port, workers, env, work)
        try:
            wait_port(port)
            wait_port(bare_port)
            time.sleep(1.0)
            learners = sessions_for(port, env)
            started = time.time()
            table = ",\n".join("{%r, %r, %r, %r}" % row for row in learners)
            for name, url, target in (("bare", f"http://127.0.0.1:{bare_port}/beat", "/beat"),
                                      ("heartbeat", f"http://127.0.0.1:{port}/t/construction/study/beat",
                                       "/t/construction/study/beat")):
                script = work / f"{name}.lua"
                for run, duration in enumerate((WARM_UP, seconds)):
                    # Each run's sequence numbers and positions go on from the last run's: every
                    # beat is new and plausible (the position follows the wall clock).
                    script.write_text(LUA % ("learners = {" + table + "}", 2, time.time() - started,
                                             10_000_000 * (run + 1), target))
                    before = cpu_seconds((bare if name == "bare" else app).pid)
                    if "REDIS_URL" in env:
                        redis_client.config_resetstat()
                    result = wrk(url, script, duration, connections)  # the warm-up builds each live state
                    spent = {k: v - before[k] for k, v in cpu_seconds((bare if name == "bare" else app).pid).items()}
                script_us = 0.0
                if "REDIS_URL" in env and name == "heartbeat":
                    script_us = redis_client.info("commandstats").get("cmdstat_evalsha", {}).get("usec_per_call", 0.0)
                costs.append((label, workers, name, {k: v / result[4] * 1e6 for k, v in spent.items()}, script_us,
                              "REDIS_URL" in env))
                rows.append((label, workers, name, *result))
            written.append((label, workers, *drain(env)))
        finally:
            stop(app)
            stop(bare)
    return rows


def drain(env: dict) -> tuple[int, int, int, float]:
    """After a heartbeat run, with the servers still up: beats still in Redis when wrk stopped,
    seconds until the flusher had written them all, and the ledger's rows written from Redis
    (live study) and by the database path. SQLite has no live study: (0, 0, rows, 0.0)."""
    if "REDIS_URL" not in env:
        import sqlite3

        db = sqlite3.connect(env["DATABASE_URL"].removeprefix("sqlite:///"))
        rows = db.execute("SELECT count(*) FROM hours_entry").fetchone()[0]
        db.close()
        return 0, 0, rows, 0.0
    import asyncpg
    import redis

    client = redis.Redis.from_url(env["REDIS_URL"])
    pattern = f"xueshi:live:{hashlib.sha256(env['DATABASE_URL'].encode()).hexdigest()[:12]}:p:*"

    def pending() -> int:
        return sum(client.llen(k) for k in client.scan_iter(pattern))

    left, t0 = pending(), time.time()
    while pending() and time.time() - t0 < 120:
        time.sleep(0.1)
    took = time.time() - t0

    async def counts():
        c = await asyncpg.connect(env["DATABASE_URL"])
        try:
            return await c.fetchrow("SELECT count(beat) AS fast, count(*) - count(beat) AS slow FROM hours_entry")
        finally:
            await c.close()

    row = asyncio.run(counts())
    return left, row["fast"], row["slow"], took


def pg_reachable(url: str) -> bool:
    try:
        import asyncpg

        async def probe():
            conn = await asyncpg.connect(url, timeout=3)
            await conn.close()

        asyncio.run(probe())
        return True
    except Exception:
        return False


def main() -> None:
    seconds = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    connections = int(sys.argv[2]) if len(sys.argv) > 2 else 32
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed")
    work = Path(tempfile.mkdtemp(prefix="xs-bench-beat-"))
    base = {**os.environ, "XUESHI_SECRET_KEY": "bench-secret", "PYTHONPATH": f"{ROOT}:{work}",
            "XUESHI_DB_POOL_SIZE": "10"}
    no_redis = {k: v for k, v in base.items() if k != "REDIS_URL"}  # SQLite is measured without Redis
    configs = [] if os.environ.get("BENCH_ONLY") == "pg" else [("SQLite", {**no_redis, "DATABASE_URL": f"sqlite:///{work / 'bench.sqlite3'}", "XUESHI_VAR_DIR": str(work / "var")})]
    pg = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432/test")
    redis = os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379/0")
    if pg_reachable(pg):
        name = f"xs_bench_{secrets.token_hex(3)}"
        import asyncpg

        async def create(sql):
            c = await asyncpg.connect(pg)
            await c.execute(sql)
            await c.close()

        asyncio.run(create(f'CREATE DATABASE "{name}"'))
        configs.append(("PostgreSQL+Redis", {**base, "DATABASE_URL": pg.rsplit("/", 1)[0] + f"/{name}",
                                             "REDIS_URL": redis, "XUESHI_VAR_DIR": str(work / "var-pg")}))
    rows = []
    try:
        for label, env in configs:
            rows += run_config(label, env, seconds, connections, work)
    finally:
        if any(label != "SQLite" for label, _ in configs):
            asyncio.run(create(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    print(f"{'database':<18} {'procs':>5} {'endpoint':<10} {'req/s':>9} {'p50 ms':>8} {'p95 ms':>8} {'non-2xx':>8} {'vs bare':>8}")
    bare = {}
    for label, workers, name, rps, p50, p95, errors, total in rows:
        if name == "bare":
            bare[(label, workers)] = rps
        ratio = rps / bare[(label, workers)] if name != "bare" else 1.0
        print(f"{label:<18} {workers:>5} {name:<10} {rps:9.0f} {p50:8.2f} {p95:8.2f} {errors:>8} {ratio:8.2f}")
    print(f"({seconds} s per run, wrk -t2 -c{connections}, {LEARNERS} learners, xueshi serve (core.serving), same machine)")
    print()
    print("ledger after each configuration's runs (cumulative per database): beats kept in Redis when wrk stopped,")
    print("seconds until the flusher had written them, rows written from Redis (live) and by the database path")
    for label, workers, left, fast, slow, took in written:
        print(f"{label:<18} {workers:>5}  pending {left:>6}  drained in {took:5.2f} s  live rows {fast:>7}  "
              f"database-path rows {slow:>6}")
    print()
    print("CPU time per request of each measured run, in µs: the server's processes and, where they serve,")
    print("Redis and PostgreSQL (with the flusher's share), and Redis's own time per script call (its command statistics)")
    for label, workers, name, us, script_us, served in costs:
        print(f"{label:<18} {workers:>5} {name:<10} server {us['server']:6.0f}" + (
            f"  redis {us['redis']:5.0f}  postgres {us['postgres']:5.0f}" if served else "")
            + (f"  script {script_us:5.1f}" if script_us else ""))


if __name__ == "__main__":
    if sys.argv[1:] == ["--prepare"]:
        asyncio.run(prepare(dict(os.environ)))
    else:
        main()
