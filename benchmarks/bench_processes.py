"""Several server processes on PostgreSQL + Redis, against a bare Litestar handler served the same way.

Run: uv run python benchmarks/bench_processes.py [--seconds 10] [--connections 32]
     [--database postgres://postgres@127.0.0.1:5432/test] [--redis redis://127.0.0.1:6379/0]

What is measured, over real sockets with wrk (Debian's ``wrk``), in one run:
- ``platform``: a signed-in POST that writes one row (an audit entry) and answers JSON, through
  the whole stack — host/prefix routing, the session in Redis, the account's row, CSRF, a role
  guard, DI, the PostgreSQL pool — served by ``uvicorn`` on uvloop + httptools with 1 and 2
  worker processes, as ``xueshi serve --workers N`` serves;
- ``bare``: a Litestar POST handler answering the same JSON, no database, served the same way.
It prints req/s, p50/p95 latency, the ratio platform/bare, and the peak number of PostgreSQL
connections to the benchmark database seen while wrk ran (sampled every 50 ms), beside the sum
of the workers' pool sizes it must stay within. A throw-away database is created and dropped.
It also prints ``select 1`` queries per second through a pool of 10 with asyncpg's default reset
on release against the project's (``core.db._keep_session``), in the same run.
First it serves the bare handler on three server stacks (uvicorn with uvloop + httptools, uvicorn
with the plain asyncio loop and h11, granian), 2 processes each, so the choice of stack is
measured in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
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

from core import Account, Tenant  # noqa: E402  (the handler's annotations are resolved at module level)
from benchmarks.tiny import pick  # noqa: E402  (its servers import this module with only the repository on sys.path)

WRK_SCRIPT = """
wrk.method = "POST"
wrk.body = "{}"
done = function(summary, latency, requests)
  io.write(string.format("XS %d %f %f %f\\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(95)))
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
    from litestar import Litestar, post

    @post("/bench/write")
    async def write() -> dict:
        return {"ok": True}

    return Litestar([write], openapi_config=None)


# --- the run --------------------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


SERVERS = {
    # what `xueshi serve` runs
    "uvicorn uvloop+httptools": ["-m", "uvicorn", "--loop", "uvloop", "--http", "httptools", "--no-access-log",
                                 "--log-level", "warning", "--factory"],
    # uvicorn without the standard extra (what `xueshi serve` ran before)
    "uvicorn asyncio+h11": ["-m", "uvicorn", "--loop", "asyncio", "--http", "h11", "--no-access-log",
                            "--log-level", "warning", "--factory"],
    "granian uvloop": ["-m", "granian", "--interface", "asgi", "--loop", "uvloop", "--no-log", "--factory"],
}
DEFAULT_SERVER = "uvicorn uvloop+httptools"


def _serve(factory: str, workers: int, env: dict[str, str], server: str = DEFAULT_SERVER
           ) -> tuple[subprocess.Popen, int]:
    port = _free_port()
    cmd = [sys.executable, *SERVERS[server], "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
           f"benchmarks.bench_processes:{factory}"]
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, start_new_session=True)
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


def _wrk(url: str, seconds: int, connections: int, headers: list[str]) -> tuple[float, float, float]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(WRK_SCRIPT)
    cmd = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "-s", f.name]
    for h in headers:
        cmd += ["-H", h]
    out = subprocess.run([*cmd, url], capture_output=True, text=True, timeout=seconds + 60).stdout
    m = re.search(r"^XS (\d+) ([\d.]+) ([\d.]+) ([\d.]+)$", out, re.M)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if m is None or non2xx:
        raise RuntimeError(f"wrk failed or got errors:\n{out}")
    requests, duration_us, p50_us, p95_us = (float(x) for x in m.groups())
    return requests / (duration_us / 1e6), p50_us / 1000, p95_us / 1000


class _PeakConnections:
    """Samples pg_stat_activity for the benchmark database every 50 ms in a thread."""

    def __init__(self, admin_url: str, dbname: str) -> None:
        self.admin_url, self.dbname, self.peak = admin_url, dbname, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)

    async def _run(self) -> None:
        import asyncpg

        conn = await asyncpg.connect(self.admin_url)
        try:
            while not self._stop.is_set():
                n = await conn.fetchval("select count(*) from pg_stat_activity where datname = $1", self.dbname)
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


async def _deploy_and_sign_in(env: dict[str, str], port: int | None = None) -> None:
    from core.accounts.services import upsert_account
    from core.kernel import build_platform, deploy
    from core.settings import Settings

    platform = build_platform(Settings.from_env(env), [_bench_plugin()])
    await deploy(platform)
    await platform.start()
    await upsert_account(platform.tenants.get("survey"), role="learner", password="Bench-pass-1",
                         mobile="13600000001", real_name="压测学员")
    await platform.stop()


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


def _session_headers(port: int) -> list[str]:
    import httpx

    with httpx.Client(base_url=f"http://127.0.0.1:{port}") as c:
        c.get("/t/survey/signin")
        token = c.cookies["csrftoken"]
        r = c.post("/t/survey/signin/mobile", data={"mobile": "13600000001", "password": "Bench-pass-1",
                                                     "_csrf_token": token})
        assert r.status_code == 303, r.text
        probe = c.post("/t/survey/bench/write", headers={"x-csrftoken": token})
        assert probe.status_code == 201, probe.text
        cookie = "; ".join(f"{k}={v}" for k, v in c.cookies.items())
    return [f"Cookie: {cookie}", f"x-csrftoken: {token}", "Content-Type: application/json"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--database", default=os.environ.get("XUESHI_BENCH_PG", "postgres://postgres@127.0.0.1:5432/test"))
    ap.add_argument("--redis", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    ap.add_argument("--pool", type=int, default=10, help="XUESHI_DB_POOL_SIZE per worker")
    args = ap.parse_args()

    dbname = f"xueshi_bench_{secrets.token_hex(4)}"
    parsed = urlparse(args.database)
    db_url = urlunparse(parsed._replace(path=f"/{dbname}"))
    asyncio.run(_pg(args.database, f'CREATE DATABASE "{dbname}"'))
    var = Path(tempfile.mkdtemp(prefix="xs-bench-proc-"))
    env = {**os.environ, "DATABASE_URL": db_url, "REDIS_URL": args.redis, "XUESHI_VAR_DIR": str(var),
           "XUESHI_SECRET_KEY": secrets.token_urlsafe(16), "XUESHI_DB_POOL_SIZE": str(args.pool),
           "PYTHONPATH": str(REPO)}
    rows, stacks = [], []
    try:
        asyncio.run(_deploy_and_sign_in(env))
        pool_rates = asyncio.run(_pool_rates(db_url, pick(300, 30)))
        for server in pick(list(SERVERS), list(SERVERS)[:1]):  # the bare handler on each server stack, 2 processes
            proc, port = _serve("bare_app", 2, env, server)
            try:
                stacks.append((server, *_wrk(f"http://127.0.0.1:{port}/bench/write", args.seconds, args.connections, [])))
            finally:
                _stop(proc)
        for workers in pick((1, 2), (1,)):
            bare, port = _serve("bare_app", workers, env)
            try:
                b_rps, b50, b95 = _wrk(f"http://127.0.0.1:{port}/bench/write", args.seconds, args.connections, [])
            finally:
                _stop(bare)
            app, port = _serve("platform_app", workers, env)
            try:
                headers = _session_headers(port)
                with _PeakConnections(args.database, dbname) as peak:
                    p_rps, p50, p95 = _wrk(f"http://127.0.0.1:{port}/t/survey/bench/write", args.seconds,
                                           args.connections, headers)
            finally:
                _stop(app)
            rows.append((workers, b_rps, b50, b95, p_rps, p50, p95, peak.peak, workers * args.pool))
    finally:
        asyncio.run(_pg(args.database, f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)'))

    print(f"bare Litestar handler, 2 processes, wrk -t2 -c{args.connections} -d{args.seconds}s:")
    for server, rps, p50, p95 in stacks:
        print(f"  {server:<26} {rps:>8.0f} req/s  p50 {p50:5.1f} ms  p95 {p95:5.1f} ms")
    print()
    print(f"wrk -t2 -c{args.connections} -d{args.seconds}s, uvicorn on uvloop + httptools, "
          f"PostgreSQL + Redis, pool {args.pool} per worker, {os.cpu_count()} cores")
    print(f"{'workers':>7} {'bare req/s':>11} {'p50/p95 ms':>12} {'platform req/s':>15} {'p50/p95 ms':>12} "
          f"{'ratio':>6} {'peak PG conns':>14} {'pool sum':>9}")
    for w, b_rps, b50, b95, p_rps, p50, p95, peak, pool in rows:
        print(f"{w:>7} {b_rps:>11.0f} {b50:>5.1f}/{b95:<6.1f} {p_rps:>15.0f} {p50:>5.1f}/{p95:<6.1f} "
              f"{b_rps / p_rps:>5.1f}x {peak:>14} {pool:>9}")
    print()
    base = pool_rates["asyncpg default reset"]
    for name, rate in pool_rates.items():
        print(f"pool of 10, select 1: {name:<24} {rate:>8.0f} queries/s  {rate / base:.2f}x")
    within = all(peak <= pool for *_, peak, pool in rows)
    print("peak PostgreSQL connections within the pool sizes:", "yes" if within else "NO")


if __name__ == "__main__":
    main()
