"""Dashboards at national scale: one tenant with 100,000 learners, 1,000,000 ledger rows, 50,000
exam attempts and 20,000 review cases on PostgreSQL, then each dashboard request's p50/p95
against the bare queries of the same aggregates.

Run: uv run python benchmarks/bench_dashboards.py [requests]
     BENCH_PG=postgres://postgres@127.0.0.1:5432/postgres (default; a throw-away database
     xs_bench_dash_<pid> is created next to it and dropped at the end)
     BENCH_SCALE=0.1 (optional: a tenth of every size)
     BENCH_DB=xs_dash_bench (optional: keep the database under this name and reuse its tenant's
     rows on the next run, so iterations skip the generation)
     BENCH_REDIS=redis://127.0.0.1:6379/N (optional: the sessions in Redis, as in production: one
     script call per signed-in request; without it the file store, four store calls)

The data is made by the database itself (INSERT … SELECT generate_series), so 1.4 million rows
take seconds. ``generate(conn, tenant_id, …)`` is also what ``fill`` uses for any tenant.
Requests go in-process through the app (ASGI, no network), signed in as the tenant's admin,
reviewer and the platform operator, alternating with "bare" calls (one request, one bare call,
each first every other time, so both see the same load); "bare" runs the same aggregate queries
without the page
(``core.dashboards.pages.tenant_panels`` for the tenant dashboard, ``pages.reviewer_figures`` for
the reviewer's, ``platform.panels`` for the operator's). The process starts no jobs: it rolls the
ledger up and recounts once itself before timing, as the minutely jobs would have.
"""

from __future__ import annotations

import asyncio
import gc
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.tiny import TINY, pick  # noqa: E402

SCALE = float(os.environ.get("BENCH_SCALE", "1"))
REDIS = os.environ.get("BENCH_REDIS") or None  # the sessions' store: Redis as in production, else the file store
SIZES = {k: max(1, int(v * SCALE)) for k, v in pick(
    {"learners": 100_000, "ledger": 1_000_000, "attempts": 50_000, "review": 20_000, "companies": 2_000},
    {"learners": 1_000, "ledger": 10_000, "attempts": 500, "review": 200, "companies": 20}).items()}
POSITIONS = 20
PASSWORD = "Bench-2026"

GENERATE = [
    # positions and courses: POSITIONS positions, a course of each for this year and the last
    """INSERT INTO position (tenant, name, active, created_at)
       SELECT $1, '基准岗位' || g, true, now() FROM generate_series(1, {positions}) g""",
    """INSERT INTO course (tenant, position, year, title, required_hours, created_at)
       SELECT $1, p.id, y, '基准课程' || p.name || y, 32, now()
       FROM position p, (VALUES ({year}), ({year} - 1)) AS years(y) WHERE p.tenant = $1 AND p.name LIKE '基准岗位%'""",
    """INSERT INTO enterprise (tenant, name, credit_code, address, created_at)
       SELECT $1, '基准单位' || g, NULL, '', now() FROM generate_series(1, {companies}) g""",
    """INSERT INTO account (tenant, role, real_name, id_number, mobile, username, password_hash,
                            must_change_password, active, created_at)
       SELECT $1, 'learner', '学员' || g, 'B' || lpad(g::text, 17, '0'), NULL, NULL, '', false, true, now()
       FROM generate_series(1, {learners}) g""",
    # one profile per learner, in one of the companies
    """INSERT INTO learner_profile (tenant, account, real_name, id_number, enterprise, position, company,
                                    cert_number, created_at, updated_at)
       SELECT $1, a.id, a.real_name, a.id_number, e.id, '', '', '', now(), now()
       FROM account a JOIN (SELECT id, row_number() OVER (ORDER BY id) - 1 AS k FROM enterprise WHERE tenant = $1) e
         ON e.k = a.id % {companies}
       WHERE a.tenant = $1 AND a.id_number LIKE 'B%'""",
    # one enrolment per learner: 1 in 5 awaiting review (completed 0–19 days ago), 1 in 5 approved,
    # 1 in 10 cleared, the rest studying; mostly this year's courses
    """INSERT INTO enrollment (tenant, account, course, status, credited_seconds, created_at, completed_at, flagged)
       SELECT $1, a.id, c.id,
              CASE WHEN r < {review} THEN 'review' WHEN a.id % 5 = 2 THEN 'approved'
                   WHEN a.id % 10 = 3 THEN 'cleared' ELSE 'studying' END,
              3600, now(),
              CASE WHEN r < {review} OR a.id % 5 = 2 THEN now() - ((a.id % 20) || ' days')::interval END,
              a.id % 50 = 0
       FROM (SELECT id, row_number() OVER (ORDER BY id) - 1 AS r FROM account
             WHERE tenant = $1 AND id_number LIKE 'B%') a
       JOIN course c ON c.tenant = $1 AND c.title = '基准课程基准岗位' || (1 + a.id % {positions})
                        || CASE WHEN a.id % 7 = 0 THEN {year} - 1 ELSE {year} END""",
    # the ledger: LEDGER rows over the last 360 days, spread over the enrolments
    """INSERT INTO hours_entry (tenant, account, enrollment, lesson, session, seq, position_from, position_to,
                                claimed, seconds, reason, anomaly, created_at, beat)
       SELECT $1, e.account, e.id, NULL, '', g, 0, 30, 30, CASE WHEN g % 20 = 0 THEN 0 ELSE 30 END,
              CASE WHEN g % 20 = 0 THEN 'hidden' ELSE '' END, false,
              now() - ((g % 360) || ' days')::interval - ((g % 86400) || ' seconds')::interval, NULL
       FROM generate_series(0, {ledger} - 1) g
       JOIN (SELECT id, account, row_number() OVER (ORDER BY id) - 1 AS r FROM enrollment WHERE tenant = $1) e
         ON e.r = g % {learners}""",
    # exam attempts: the first ATTEMPTS / 2 approved-or-reviewed enrolments sit twice (fail, then pass)
    """INSERT INTO exam_attempt (tenant, account, enrollment, course, position, year, number, status, open_key,
                                 started_at, deadline, submitted_at, submitted_by, total_centi, pass_centi,
                                 score_centi, passed, hidden_count)
       SELECT $1, e.account, e.id, c.id, c.position, c.year, n.n, CASE WHEN n.n = 1 AND e.id % 9 = 0 THEN 'expired'
              ELSE 'submitted' END, NULL, now(), now(), now(), 'learner', 10000, 6000,
              CASE WHEN n.n = 1 THEN (e.id * 37) % 6000 ELSE 6000 + (e.id * 53) % 4001 END, n.n = 2, 0
       FROM (SELECT * FROM enrollment WHERE tenant = $1 AND status IN ('approved', 'review') ORDER BY id
             LIMIT {attempts} / 2) e
       JOIN course c ON c.id = e.course CROSS JOIN (VALUES (1), (2)) AS n(n)""",
    # decisions: an approval for each approved enrolment by one of ten reviewers; a clearing for each cleared
    """INSERT INTO review_decision (tenant, enrollment, learner, reviewer, kind, reason, note, status,
                                    confirmed_by, confirmed_at, reversed_seconds, created_at)
       SELECT $1, e.id, e.account, r.id, CASE WHEN e.status = 'approved' THEN 'approve' ELSE 'clear' END, '', '',
              'done', NULL, NULL, 0, now() - ((e.id % 20) || ' days')::interval
       FROM enrollment e JOIN (SELECT id, row_number() OVER (ORDER BY id) - 1 AS k FROM account
                                WHERE tenant = $1 AND role = 'reviewer') r ON r.k = e.id % 10
       WHERE e.tenant = $1 AND e.status IN ('approved', 'cleared')""",
    """INSERT INTO certificate (tenant, enrollment, account, revision, number, code, status, replaced_by,
                                holder_name, id_masked, position, year, hours, institution, issued_at,
                                voided_at, file, sha256)
       SELECT $1, e.id, e.account, 1, 'BENCH' || e.id, 'BENCH' || e.id, 'valid', NULL, '学员', '1****1', '',
              {year}, 32, '', now(), NULL, NULL, ''
       FROM enrollment e WHERE e.tenant = $1 AND e.status = 'approved'""",
    """INSERT INTO face_verification (tenant, account, purpose, nonce, actions, liveness_provider, match_provider,
                                      status, reasons, scores, evidence, frames, created_at, finished_at, note)
       SELECT $1, e.account, CASE WHEN e.id % 3 = 0 THEN 'snapshot' ELSE 'study' END, 'bench' || e.id, '[]', '', '',
              CASE WHEN e.id % 11 = 0 THEN 'failed' ELSE 'passed' END, '[]', '{{}}', '[]', 0, now(), now(), ''
       FROM enrollment e WHERE e.tenant = $1""",
    """INSERT INTO study_event (tenant, account, enrollment, session, kind, detail, verification, created_at)
       SELECT $1, e.account, e.id, '', CASE WHEN e.id % 13 = 0 THEN 'snapshot_mismatch' ELSE 'snapshot_ok' END,
              '{{}}', NULL, now()
       FROM enrollment e WHERE e.tenant = $1 AND e.id % 2 = 0""",
    """INSERT INTO study_clock (tenant, account, active_token, last_beat_at, day, day_seconds, version)
       SELECT $1, e.account, '', extract(epoch from now()) - (e.id % 3600), '', 0, 0
       FROM enrollment e WHERE e.tenant = $1""",
]


async def generate(conn, tenant_id: int, year: int, sizes: dict[str, int]) -> None:
    """Fill tenant ``tenant_id`` (which needs ten reviewer accounts first) with ``sizes`` rows."""
    for statement in GENERATE:
        await conn.execute(statement.format(positions=POSITIONS, year=year, **sizes), tenant_id)
        await conn.execute("ANALYZE")  # the next statement's joins are planned on real row counts


def _stats(ms: list[float]) -> tuple[float, float]:
    ms = sorted(ms)
    return statistics.median(ms), ms[max(0, int(len(ms) * 0.95 + 0.5) - 1)]


async def _paired(page, bare, n: int) -> tuple[list[float], list[float]]:
    """``n`` timings (ms) of ``page`` and of ``bare``, alternating one call of each, each going
    first every other time, so both see the same machine load; one warm-up of each first."""
    await page()
    await bare()
    times: dict[object, list[float]] = {page: [], bare: []}
    for i in range(n):
        for fn in (page, bare) if i % 2 == 0 else (bare, page):
            t0 = time.perf_counter()
            await fn()
            times[fn].append((time.perf_counter() - t0) * 1000)
    return times[page], times[bare]


async def run(url: str, n: int) -> None:
    import asyncpg
    import httpx

    from core import db, tenant_time
    from core.accounts.services import upsert_account
    from core.app import create_app
    from core.dashboards import counts as recounts, pages, platform as operator, rollup
    from core.dashboards.values import DashboardFilters
    from core.kernel import build_platform
    from core.settings import Settings
    from core.tenants.services import sync_tenants
    from core.testing.ids import fake_id_number

    start_load = _load()
    var = Path(tempfile.mkdtemp(prefix="xs-bench-dash-"))
    settings = Settings(database_url=url, var_dir=var, secret_key="bench", redis_url=REDIS)
    platform = build_platform(settings)
    await db.migrate()
    await sync_tenants(platform.plugins, list(platform.tenants))
    app = create_app(settings)
    p = app.state.platform
    # The app's startup, in this loop: the pool serves the pages and the bare queries alike. No jobs:
    # the minutely recount (1–2 s of grouped scans) landing on a few samples of one side would
    # decide that side's p95; the benchmark runs the recount and the roll-up itself before timing.
    await p.start(jobs=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1") as client:
        tenant = p.tenants.get("construction")
        admin = await upsert_account(tenant, role="tenant_admin", password=PASSWORD, id_number=fake_id_number(),
                                     real_name="基准管理员")
        reviewers = [await upsert_account(tenant, role="reviewer", password=PASSWORD, real_name=f"审核员{i}",
                                          id_number=fake_id_number()) for i in range(10)]
        await upsert_account(None, role="operator", password=PASSWORD, username="bench")
        year = tenant_time.today(tenant).year
        t0 = time.perf_counter()
        conn = await asyncpg.connect(url)
        try:
            reused = bool(await conn.fetchval("SELECT count(*) FROM hours_entry WHERE tenant = $1", tenant.id))
            if not reused:
                await generate(conn, tenant.id, year, SIZES)
            counts = {t: await conn.fetchval(f"SELECT count(*) FROM {t} WHERE tenant = $1", tenant.id) for t in
                      ("account", "enrollment", "hours_entry", "exam_attempt", "review_decision", "certificate")}
            counts["review cases"] = await conn.fetchval(
                "SELECT count(*) FROM enrollment WHERE tenant = $1 AND status = 'review'", tenant.id)
        finally:
            await conn.close()
        made = time.perf_counter() - t0
        print("{} in {:.1f} s: {}".format("reused (BENCH_DB)" if reused else "generated", made,
                                         ", ".join(f"{k} {v:,}" for k, v in counts.items())))
        t0 = time.perf_counter()
        await rollup.roll_up_ledger({"platform": p})  # what the minutely job does; new rows since are read live
        above = await rollup.rows_above_mark(tenant)
        print(f"ledger rolled up in {time.perf_counter() - t0:.1f} s ({above:,} ledger rows above the mark, read live)")
        t0 = time.perf_counter()
        await recounts.recount(tenant)  # what the other minutely job does: enrolments, events, decisions, attempts
        print(f"enrolments, face checks and snapshot events counted in {time.perf_counter() - t0:.1f} s")

        async def signin(path: str, form: dict[str, str]) -> None:
            client.cookies.clear()
            await client.get(path.removesuffix("/id"))  # the form's page sets the CSRF cookie
            r = await client.post(path, data={**form, "_csrf_token": client.cookies.get("csrftoken", "")})
            assert r.status_code in (302, 303), (path, r.status_code, r.text[:300])

        hooks = p.hooks(tenant)
        position = (await p_first_position(tenant))
        f = DashboardFilters(year=year)
        rows: list[tuple[str, list[float], list[float]]] = []

        async def page(url: str) -> None:
            r = await client.get(url)
            assert r.status_code == 200, (url, r.status_code)

        await signin("/t/construction/signin/id", {"id_number": admin.id_number, "password": PASSWORD})
        gc.callbacks.append(full_collections)
        for label, path, filters in (
                ("tenant dashboard", "/t/construction/admin/dashboard", f),
                ("… one position", f"/t/construction/admin/dashboard?position={position}",
                 DashboardFilters(year=year, position=position)),
                ("… every year", "/t/construction/admin/dashboard?year=all", DashboardFilters(year=None)),
                ("… XLSX export", "/t/construction/admin/dashboard.xlsx", f)):
            rows.append((label, *await _paired(lambda: page(path), lambda: pages.tenant_panels(p, tenant, hooks, filters),
                                               n)))
        await signin("/t/construction/signin/id", {"id_number": reviewers[0].id_number, "password": PASSWORD})
        rows.append(("reviewer dashboard", *await _paired(lambda: page("/t/construction/review/dashboard"),
                                                          lambda: pages.reviewer_figures(tenant, reviewers[0]), n)))
        await signin("/platform/signin", {"username": "bench", "password": PASSWORD})
        tenants = [t for t in p.tenants if t.id is not None]
        rows.append(("operator dashboard", *await _paired(lambda: page("/platform/dashboard"),
                                                          lambda: operator.panels(tenants), n)))
    gc.callbacks.remove(full_collections)
    await p.stop()
    print(f"{'request':<22} {'p50 ms':>8} {'p95 ms':>8} {'bare p50':>9} {'bare p95':>9} {'vs bare p95':>12}")
    for label, ms, bare in rows:
        p50, p95 = _stats(ms)
        b50, b95 = _stats(bare)
        print(f"{label:<22} {p50:8.1f} {p95:8.1f} {b50:9.1f} {b95:9.1f} {p95 / b95:11.2f}x")
    print(f"({n} requests each after one warm-up, in-process ASGI, PostgreSQL; bare = the same aggregate queries "
          f"without the page, alternating with the requests; sessions in {'Redis' if REDIS else 'the file store'})"
          f"{' [tiny]' if TINY else ''}")
    print(f"load average at the start: {start_load}, at the end: {_load()}")
    paused = full_collections.pauses
    print(f"full garbage collections while timing: {len(paused)}, {sum(paused):.0f} ms in all, longest "
          f"{max(paused, default=0):.0f} ms ({gc.get_freeze_count():,} objects frozen at the start)")


class _FullCollections:
    """A ``gc.callbacks`` entry keeping how long each full (generation 2) collection took, in ms."""

    def __init__(self) -> None:
        self.pauses: list[float] = []
        self._began = 0.0

    def __call__(self, phase: str, info: dict) -> None:
        if info["generation"] != 2:
            return
        if phase == "start":
            self._began = time.perf_counter()
        else:
            self.pauses.append((time.perf_counter() - self._began) * 1000)


full_collections = _FullCollections()


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


async def p_first_position(tenant) -> int:
    from core.courses.tables import Position
    from core.db.scoped import scoped

    row = await scoped(Position, tenant).select(Position.id).where(Position.name == "基准岗位1").first()
    return row["id"]


async def _admin(server: str, sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(server)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def _exists(server: str, name: str) -> bool:
    import asyncpg

    conn = await asyncpg.connect(server)
    try:
        return bool(await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name))
    finally:
        await conn.close()


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else pick(40, 2)
    server = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432/postgres")
    keep = os.environ.get("BENCH_DB", "")
    name = keep or f"xs_bench_dash_{os.getpid()}"
    if not keep or not asyncio.run(_exists(server, name)):
        asyncio.run(_admin(server, f'CREATE DATABASE "{name}"'))
    try:
        asyncio.run(run(server.rsplit("/", 1)[0] + f"/{name}", n))
    finally:
        if not keep:
            asyncio.run(_admin(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


if __name__ == "__main__":
    main()
