"""What the whole-learner load test (benchmarks/load_learners.py) reads besides its own requests:
CPU of each part from /proc, the database's writes and the ledger, Redis memory of the live keys,
and the tables it prints."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import random
import statistics
from pathlib import Path

import asyncpg
import redis
from bench_heartbeat import process_cpu  # the script's own folder is on sys.path


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:  # the process ended meanwhile
        return ""


PARTS = ("web", "worker", "postgres", "redis", "client")


def prepare_database(url: str, name: str, env: dict, drop: bool = False) -> None:
    async def admin():
        c = await asyncpg.connect(url)
        try:
            await c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)' if drop else f'CREATE DATABASE "{name}"')
        finally:
            await c.close()

    asyncio.run(admin())
    if not drop:
        redis.Redis.from_url(env["REDIS_URL"]).flushdb()  # the load test's own Redis database number


class Cpu:
    """CPU seconds so far of the web server's and the worker's process groups, the PostgreSQL
    backends serving ``db``, the Redis server and this process (the load's client, for scale: it
    is not part of the platform's cost); plus the database's own counters."""

    def __init__(self, web_pgid: int, worker_pgid: int, db: str, db_url: str, redis_url: str) -> None:
        self.web, self.worker, self.db, self.db_url = web_pgid, worker_pgid, db, db_url
        self.redis = redis.Redis.from_url(redis_url)
        self.pool: asyncpg.Pool | None = None

    def read(self) -> dict[str, float]:
        out = dict.fromkeys(PARTS, 0.0)
        for pid, comm, pgrp, seconds in process_cpu():
            if pid == os.getpid():
                out["client"] += seconds
            elif pgrp == self.web:
                out["web"] += seconds
            elif pgrp == self.worker:
                out["worker"] += seconds
            elif comm == "redis-server":
                out["redis"] += seconds
            elif comm == "postgres" and f" {self.db} " in _cmdline(pid):  # "postgres: user db address state"
                out["postgres"] += seconds
        return out

    def since(self, before: dict[str, float]) -> dict[str, float]:
        return {k: v - before[k] for k, v in self.read().items()}

    async def query(self, sql: str, *args):
        if self.pool is None:
            self.pool = await asyncpg.create_pool(self.db_url, min_size=1, max_size=4)
        return await self.pool.fetch(sql, *args)

    async def fresh_gates(self, accounts: list[int]) -> None:
        """The seeded passed face checks of these learners, dated now (the gate wants a recent one)."""
        await self.query("UPDATE face_verification SET created_at = now(), finished_at = now() "
                         "WHERE account = ANY($1::int[]) AND purpose = 'study'", accounts)

    async def stretch_plan(self, token: str) -> None:
        """The session's first planned capture moved to a uniform point before it (≥ 15 s): a steady
        stream of learners is asked for snapshots at the plan's average rate (module docstring)."""
        rows = await self.query("SELECT plan::text AS plan FROM proctor_session WHERE session = $1", token)
        if not rows:
            return
        plan = json.loads(rows[0]["plan"])
        if plan:
            first = random.uniform(min(15.0, plan[0]), plan[0])
            await self.query("UPDATE proctor_session SET plan = $1::json WHERE session = $2",
                             json.dumps([first] + plan[1:]), token)

    async def writes(self) -> dict[str, int]:
        """Rows inserted and updated in the database so far, and the ledger's rows."""
        row = (await self.query("SELECT tup_inserted, tup_updated FROM pg_stat_database WHERE datname = $1",
                                self.db))[0]
        ledger = (await self.query("SELECT count(*) AS n FROM hours_entry"))[0]["n"]
        return {"inserted": row["tup_inserted"], "updated": row["tup_updated"], "ledger": ledger}

    async def ledger_size(self) -> tuple[int, int, int]:
        """(rows, table bytes, index bytes) of the ledger, after a VACUUM ANALYZE."""
        c = await asyncpg.connect(self.db_url)
        try:
            await c.execute("VACUUM ANALYZE hours_entry")
            row = await c.fetchrow("SELECT count(*) AS n, pg_table_size('hours_entry') AS t, "
                                   "pg_indexes_size('hours_entry') AS i FROM hours_entry")
        finally:
            await c.close()
        return row["n"], row["t"], row["i"]

    async def snapshot_outcomes(self) -> dict[str, int]:
        rows = await self.query("SELECT status, count(*) AS n FROM face_verification WHERE purpose = 'snapshot' "
                                "GROUP BY status ORDER BY status")
        return {r["status"]: r["n"] for r in rows}

    def redis_bytes(self) -> dict[str, tuple[int, int]]:
        """Keys and bytes (MEMORY USAGE) of the load test's Redis database, by kind of key: the key
        up to its first part that varies (``xueshi:live:<deployment>:s`` for live study states, …)."""
        out: dict[str, tuple[int, int]] = {}
        for key in self.redis.scan_iter(count=1000):
            kind = kind_of(key.decode(errors="replace"))
            keys, total = out.get(kind, (0, 0))
            out[kind] = (keys + 1, total + (self.redis.memory_usage(key, samples=0) or 0))
        return out


def kind_of(key: str) -> str:
    parts = key.split(":")
    kept = []
    for part in parts[:-1] if len(parts) > 1 else parts:
        if any(ch.isdigit() for ch in part) and kept[-1:] != ["live"]:
            break
        kept.append(part)
    return ":".join(kept) + (":*" if len(kept) < len(parts) else "")


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def steps_of(samples) -> dict[str, tuple[int, int, float, float]]:
    """step -> (requests, errors, p50 ms, p95 ms)."""
    by: dict[str, list] = {}
    for _, step, ms, ok in samples:
        by.setdefault(step, []).append((ms, ok))
    return {step: (len(v), sum(1 for _, ok in v if not ok), pct([m for m, _ in v], 50), pct([m for m, _ in v], 95))
            for step, v in by.items()}


def level_verdict(samples, limit_ms: float) -> tuple[bool, str]:
    for step, (n, errors, _, p95) in steps_of(samples).items():
        if errors:
            return True, f"{errors} errors in {step}"
        if p95 > limit_ms and n >= 5:
            return True, f"p95 of {step} {p95:.0f} ms"
    return False, ""


def print_steps(groups) -> None:
    print(f"  {'group':<8} {'step':<18} {'requests':>8} {'errors':>6} {'p50 ms':>8} {'p95 ms':>8}")
    for label, samples in groups:
        for step, (n, errors, p50, p95) in steps_of(samples).items():
            print(f"  {label:<8} {step:<18} {n:>8} {errors:>6} {p50:8.1f} {p95:8.1f}")


def print_cpu(rows) -> None:
    """rows: (label, CPU seconds by part, learners, window seconds or None for per-learner totals)."""
    per = "CPU s per learner-hour" if rows and rows[0][3] else "CPU s per learner (whole flow)"
    print(f"  {per}: " + "  ".join(f"{p:>8}" for p in PARTS) + f"  {'platform':>8}")
    for label, spent, n, window in rows:
        scale = 3600 / (n * window) if window else 1 / n
        print(f"  {label:<{len(per) + 1}} " + "  ".join(f"{spent[p] * scale:8.2f}" for p in PARTS)
              + f"  {sum(v for k, v in spent.items() if k != 'client') * scale:8.2f}")


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).strftime("%H:%M:%S")
