"""The ordinary signed-in request on PostgreSQL + Redis, against a bare Litestar handler doing the
same write, both served the same way in one run.

Run: uv run python benchmarks/bench_processes.py [--seconds 10] [--connections 32] [--stacks]
     [--database postgres://postgres@127.0.0.1:5432/test] [--redis redis://127.0.0.1:6379/0]

Over real sockets with wrk (Debian's ``wrk``), served as ``xueshi serve --workers N`` serves
(``core.serving``: uvicorn on uvloop + httptools, each process with its own listening socket) with
1 and 2 processes, LEARNERS learners of the construction tenant, each
with its own session (bound to its own CSRF cookie, as a sign-in binds it) and an open exam
attempt; wrk's requests go round the learners:
- ``bare``: a Litestar POST handler inserting the same audit row through Piccolo (the learner's
  account id from a header, the tenant's id fixed), on the same pool size; no session, no CSRF;
- ``write``: the platform's signed-in POST writing that audit row and answering JSON, through the
  whole path (host/prefix routing, the session in Redis, the account, CSRF, a role guard, DI);
- ``autosave``: the exam's autosave (``POST …/exams/attempts/<id>/answer``, one answer written);
- ``page``: a signed-in page view (``GET /me``, rendered).
It prints req/s, p50/p95 latency, each one's rate as a share of the bare rate, the CPU time per
request of the server's processes, of PostgreSQL's and of Redis's (read from /proc by
``bench_heartbeat.cpu_seconds``; on a shared machine other work on the same PostgreSQL or Redis
counts too), the peak number of PostgreSQL client connections seen during the runs (sampled every
50 ms) beside the workers' pool sum,
and ``select 1`` per second through a pool of 10 with asyncpg's default reset on release against
the project's (``core.db._keep_session``). ``--stacks`` first serves a bare handler without a
database on four server stacks (``core.serving``, uvicorn's own ``--workers`` on uvloop +
httptools, the same on asyncio + h11, granian), 2 processes each. A throw-away database is created and dropped.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlparse, urlunparse

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(1, str(REPO / "benchmarks"))  # bench_heartbeat imports its siblings by their own names

from bench_heartbeat import cpu_seconds, serve  # noqa: E402

from core import Account, Tenant  # noqa: E402  (the handler's annotations are resolved at module level)
from benchmarks.tiny import pick  # noqa: E402  (its servers import this module with only the repository on sys.path)
from benchmarks.exam_learners import exam_learners  # noqa: E402

SLUG = "construction"
LEARNERS = pick(64, 4)
LUA = """
local learners = {%s}
local mode = "%s"
local counter = 0
function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end
function init(args)
  mine = {}
  for i, l in ipairs(learners) do
    if (i - 1) %% 2 == id then table.insert(mine, l) end
  end
  n = 0
  math.randomseed(id + 7)
end
function request()
  n = n + 1
  local l = mine[(n %% #mine) + 1]
  if mode == "bare" then
    return wrk.format("POST", "/bench/write", {["x-actor"] = l[3], ["Content-Type"] = "application/json"}, "{}")
  elseif mode == "echo" then
    return wrk.format("POST", "/bench/echo", {["Content-Type"] = "application/json"}, "{}")
  end
  local headers = {["Cookie"] = l[1], ["x-csrftoken"] = l[2]}
  if mode == "page" then
    return wrk.format("GET", "/t/%s/me", headers)
  elseif mode == "write" then
    headers["Content-Type"] = "application/json"
    return wrk.format("POST", "/t/%s/bench/write", headers, "{}")
  end
  headers["Content-Type"] = "application/x-www-form-urlencoded"
  headers["HX-Request"] = "true"
  return wrk.format("POST", "/t/%s/exams/attempts/" .. l[4] .. "/answer", headers,
                    "seq=" .. math.random(1, 50) .. "&choice=A")
end
function done(summary, latency, requests)
  io.write(string.format("XS %%d %%f %%f %%f %%d\\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(95), summary.errors.status))
end
"""


# --- the apps (imported by uvicorn in each worker process through the factories below) ----------

def _bench_plugin():
    from litestar import post

    from core import audit, hookimpl, roles

    @post("/bench/write", guards=[roles("learner")])
    async def write(tenant: Tenant, account: Account) -> dict:
        await audit("bench.write", tenant_id=tenant.id, actor_id=account.id)
        return {"ok": True}

    class BenchPlugin:
        @hookimpl
        def register_routes(self):
            return [write]

    return BenchPlugin()


def platform_app():
    from core.app import create_app
    from core.settings import Settings

    return create_app(Settings.from_env(), [_bench_plugin()])


def bare_app():
    """Litestar and Piccolo alone: the same audit row inserted as ``core.audit`` inserts it."""
    from litestar import Litestar, Request, post

    from core import db
    from core.audit.tables import AuditEntry

    tenant_id = int(os.environ["XUESHI_BENCH_TENANT_ID"])

    @post("/bench/write")
    async def write(request: Request) -> dict:
        await AuditEntry.insert(AuditEntry(tenant=tenant_id, actor=int(request.headers["x-actor"]),
                                           action="bench.write", object_type="", object_id="", detail={}))
        return {"ok": True}

    @post("/bench/echo")
    async def echo() -> dict:
        return {"ok": True}

    async def start() -> None:
        db.configure(os.environ["DATABASE_URL"])
        await db.start_pool(int(os.environ["XUESHI_DB_POOL_SIZE"]))

    return Litestar([write, echo], on_startup=[start], on_shutdown=[db.stop_pool], openapi_config=None)


# --- the run --------------------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


SERVERS = {
    # what `xueshi serve --workers N` runs: uvicorn on uvloop + httptools, a listening socket per process
    "xueshi serve (core.serving)": [],  # bench_heartbeat.serve
    # uvicorn's own --workers: one listening socket shared by the processes
    "uvicorn uvloop+httptools": ["-m", "uvicorn", "--loop", "uvloop", "--http", "httptools", "--no-access-log",
                                 "--log-level", "warning", "--factory"],
    # uvicorn without the standard extra (what `xueshi serve` ran before)
    "uvicorn asyncio+h11": ["-m", "uvicorn", "--loop", "asyncio", "--http", "h11", "--no-access-log",
                            "--log-level", "warning", "--factory"],
    "granian uvloop": ["-m", "granian", "--interface", "asgi", "--loop", "uvloop", "--no-log", "--factory"],
}
DEFAULT_SERVER = "xueshi serve (core.serving)"


def _serve(factory: str, workers: int, env: dict[str, str], server: str = DEFAULT_SERVER
           ) -> tuple[subprocess.Popen, int]:
    """Start ``server`` with ``workers`` processes; return once each has started (for the other
    stacks: a second after their port opens)."""
    port = _free_port()
    target = f"benchmarks.bench_processes:{factory}"
    if server == DEFAULT_SERVER:
        return serve(target, port, workers, env, REPO, factory=True), port
    cmd = [sys.executable, *SERVERS[server], "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
           target]
    log = open(Path(tempfile.gettempdir()) / f"xs-bench-processes-{port}.log", "w")  # a full pipe would stall it
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, start_new_session=True, stdout=log, stderr=log)
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                time.sleep(1.0 if workers > 1 else 0.3)  # let every worker finish its startup
                return proc, port
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError(f"{factory} exited with {proc.returncode}")
            time.sleep(0.1)
    raise RuntimeError(f"{factory} did not start")


def _stop(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)


def _connections_by_process(port: int) -> str:
    """How wrk's open connections are spread over the serving processes, most first ("17+15")."""
    out = subprocess.run(["ss", "-tnpH", "state", "established", f"( sport = :{port} )"],
                         capture_output=True, text=True).stdout
    counts = sorted(collections.Counter(re.findall(r"pid=(\d+)", out)).values(), reverse=True)
    return "+".join(map(str, counts)) or "?"


def _wrk(port: int, mode: str, learners: list[tuple], seconds: int, connections: int, server_pgid: int = 0
         ) -> tuple[float, float, float, dict[str, float], str]:
    """req/s, p50 and p95 ms, CPU ms per request of the server (its process group), PostgreSQL
    and Redis (all their processes: other work on the machine counts too), and the connections
    per serving process a second into the run."""
    rows = ", ".join("{%r, %r, %r, %r}" % (f"xs_{SLUG}={sid}; csrftoken={csrf}", csrf, str(actor), str(attempt))
                     for actor, sid, csrf, attempt in learners)
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(LUA % (rows, mode, SLUG, SLUG, SLUG))
    cmd = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "-s", f.name, f"http://127.0.0.1:{port}/"]
    split: list[str] = []
    look = threading.Timer(1.0, lambda: split.append(_connections_by_process(port)))
    before = cpu_seconds(server_pgid)
    look.start()
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60).stdout
    after = cpu_seconds(server_pgid)
    look.join()
    os.unlink(f.name)
    m = re.search(r"^XS (\d+) ([\d.]+) ([\d.]+) ([\d.]+) (\d+)$", out, re.M)
    if m is None or int(m[5]) or "Non-2xx" in out:
        raise RuntimeError(f"wrk ({mode}) failed or got errors:\n{out}")
    requests, duration_us, p50_us, p95_us = (float(x) for x in m.groups()[:4])
    cpu = {part: (after[part] - before[part]) * 1000 / requests for part in after}
    return requests / (duration_us / 1e6), p50_us / 1000, p95_us / 1000, cpu, (split or ["?"])[0]


class _PeakConnections:
    """Samples pg_stat_activity for the benchmark database every 50 ms in a thread: the client
    connections (not PostgreSQL's own workers, such as autovacuum's)."""

    def __init__(self, admin_url: str, dbname: str) -> None:
        self.admin_url, self.dbname, self.peak = admin_url, dbname, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)

    async def _run(self) -> None:
        import asyncpg

        conn = await asyncpg.connect(self.admin_url)
        try:
            while not self._stop.is_set():
                n = await conn.fetchval("select count(*) from pg_stat_activity where datname = $1 "
                                        "and backend_type = 'client backend'", self.dbname)
                self.peak = max(self.peak, n)
                await asyncio.sleep(0.05)
        finally:
            await conn.close()

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(5)


async def _pg(url: str, sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def _prepare(env: dict[str, str]) -> tuple[int, list[tuple[int, str, str, int]]]:
    """Deploy; LEARNERS learners, each enrolled with its hours done, an open attempt on the demo's
    施工员 bank and a session bound to its own CSRF cookie (rows written directly: the benchmark
    is about the signed-in request, not sign-in). The tenant's id and (account, sid, CSRF token,
    attempt) per learner."""

    from litestar.middleware.csrf import CSRF_SECRET_BYTES, generate_csrf_hash

    from core.exams.bank import seed_bank
    from core.kernel import build_platform, deploy
    from core.settings import Settings

    settings = Settings.from_env(env)
    platform = build_platform(settings, [_bench_plugin()])
    await deploy(platform)
    await platform.start(jobs=False)
    tenant = platform.tenants.get(SLUG)
    await seed_bank(tenant, "施工员", REPO / "plugins" / "construction_group" / "demo" / "exam_bank_shigongyuan.csv")
    learners = []
    for account_id, attempt_id in await exam_learners(platform, tenant, LEARNERS):
        secret = secrets.token_hex(CSRF_SECRET_BYTES)
        csrf = secret + generate_csrf_hash(secret, settings.secret_key)
        learners.append((account_id, await platform.sessions.create(account_id, SLUG, csrf), csrf, attempt_id))
    await platform.stop()
    return tenant.id, learners


async def _pool_rates(url: str, rounds: int = 300) -> dict[str, float]:
    """``select 1`` per second, 10 tasks on a pool of 10, with asyncpg's reset and with ours."""
    import asyncpg

    from core.db import _keep_session

    rates = {}
    for name, kw in (("asyncpg default reset", {}), ("core.db._keep_session", {"reset": _keep_session})):
        pool = await asyncpg.create_pool(url, min_size=10, max_size=10, **kw)
        try:
            async def task() -> None:
                for _ in range(rounds):
                    await pool.fetchval("select 1")

            t = time.perf_counter()
            await asyncio.gather(*(task() for _ in range(10)))
            rates[name] = 10 * rounds / (time.perf_counter() - t)
        finally:
            await pool.close()
    return rates


def _print(args, stacks: list, rows: list, peaks: dict, pool_rates: dict) -> None:
    if stacks:
        print(f"bare Litestar handler without a database, 2 processes, wrk -t2 -c{args.connections} -d{args.seconds}s:")
        for server, rps, p50, p95 in stacks:
            print(f"  {server:<26} {rps:>8.0f} req/s  p50 {p50:5.1f} ms  p95 {p95:5.1f} ms")
        print()
    print(f"wrk -t2 -c{args.connections} -d{args.seconds}s, {DEFAULT_SERVER}, PostgreSQL + Redis, "
          f"pool {args.pool} per worker, {LEARNERS} learners with their own sessions, {os.cpu_count()} cores")
    print(f"{'workers':>7} {'request':<34} {'req/s':>8} {'p50/p95 ms':>13} {'ratio to bare':>14}"
          f"  CPU ms/request: server  PostgreSQL  Redis  connections per process")
    for workers, name, rps, p50, p95, cpu, split, bare in rows:
        print(f"{workers:>7} {name:<34} {rps:>8.0f} {p50:>6.1f}/{p95:<6.1f} {rps / bare:>13.2f}"
              f"  {cpu['server']:>21.3f} {cpu['postgres']:>11.3f} {cpu['redis']:>6.3f}  {split:>23}")
    for workers, (peak, pool) in peaks.items():
        print(f"{workers} process(es): peak PostgreSQL connections {peak} (pool sum {pool}):",
              "within" if peak <= pool else "NOT WITHIN")
    print()
    base = pool_rates["asyncpg default reset"]
    for name, rate in pool_rates.items():
        print(f"pool of 10, select 1: {name:<24} {rate:>8.0f} queries/s  {rate / base:.2f}x")


REQUESTS = (("write", "signed-in POST writing one audit row"), ("autosave", "exam autosave (one answer)"),
            ("page", "signed-in page view (GET /me)"))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--database", default=os.environ.get("XUESHI_BENCH_PG", "postgres://postgres@127.0.0.1:5432/test"))
    ap.add_argument("--redis", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    ap.add_argument("--pool", type=int, default=10, help="XUESHI_DB_POOL_SIZE per worker")
    ap.add_argument("--processes", type=int, nargs="+", default=pick([1, 2], [1]), help="server processes to run")
    ap.add_argument("--stacks", action="store_true", help="also the bare handler on three server stacks")
    args = ap.parse_args()

    dbname = f"xueshi_bench_{secrets.token_hex(4)}"
    db_url = urlunparse(urlparse(args.database)._replace(path=f"/{dbname}"))
    asyncio.run(_pg(args.database, f'CREATE DATABASE "{dbname}"'))
    var = Path(tempfile.mkdtemp(prefix="xs-bench-proc-"))
    env = {**os.environ, "DATABASE_URL": db_url, "REDIS_URL": args.redis, "XUESHI_VAR_DIR": str(var),
           "XUESHI_SECRET_KEY": secrets.token_urlsafe(16), "XUESHI_DB_POOL_SIZE": str(args.pool),
           "PYTHONPATH": str(REPO)}
    rows, stacks, peaks = [], [], {}
    try:
        tenant_id, learners = asyncio.run(_prepare(env))
        env["XUESHI_BENCH_TENANT_ID"] = str(tenant_id)
        pool_rates = asyncio.run(_pool_rates(db_url, pick(300, 30)))
        for server in (list(SERVERS) if args.stacks else []):
            proc, port = _serve("bare_app", 2, env, server)
            try:
                stacks.append((server, *_wrk(port, "echo", learners, args.seconds, args.connections)[:3]))
            finally:
                _stop(proc)
        for workers in args.processes:
            bare, port = _serve("bare_app", workers, env)
            try:
                with _PeakConnections(args.database, dbname) as peak:
                    b_rps, b50, b95, b_cpu, b_split = _wrk(port, "bare", learners, args.seconds, args.connections,
                                                           bare.pid)
                bare_peak = peak.peak
            finally:
                _stop(bare)
            rows.append((workers, "bare handler, same insert", b_rps, b50, b95, b_cpu, b_split, b_rps))
            app, port = _serve("platform_app", workers, env)
            try:
                with _PeakConnections(args.database, dbname) as peak:
                    for mode, label in REQUESTS:
                        rows.append((workers, label, *_wrk(port, mode, learners, args.seconds, args.connections,
                                                           app.pid), b_rps))
            finally:
                _stop(app)
            peaks[workers] = (max(bare_peak, peak.peak), workers * args.pool)
    finally:
        asyncio.run(_pg(args.database, f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)'))
    _print(args, stacks, rows, peaks, pool_rates)


if __name__ == "__main__":
    main()
