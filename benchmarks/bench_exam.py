"""The exam's autosave endpoint (signed in, one answer written under the attempt's lock) against a
bare Litestar handler that parses the same form, both served the same way in the same run:
as ``xueshi serve`` serves (``core.serving``), real sockets, ``wrk`` as the client, 1 and 2 server processes, on
SQLite and (when reachable) PostgreSQL + Redis. Then, in-process, the time to draw a paper and to
score one (the pure functions, and the whole start / submit with their database writes).

Run: uv run python benchmarks/bench_exam.py [seconds] [connections]
     BENCH_PG=postgres://postgres@127.0.0.1:5432/test BENCH_REDIS=redis://127.0.0.1:6379/0 (defaults)

Each learner has one open attempt on the demo's 施工员 bank (71 questions, 50 drawn); every request
saves option A (valid for every question type) of a random question of the paper. Prints req/s,
p50/p95 and the ratio to the bare handler, then the draw and scoring times (median of many runs).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_heartbeat import free_port, pg_reachable, serve, stop, wait_port, wrk  # noqa: E402
from tiny import pick  # noqa: E402  (the script's folder is on sys.path)
from exam_learners import exam_learners  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
BANK = ROOT / "plugins" / "construction_group" / "demo" / "exam_bank_shigongyuan.csv"
LEARNERS = pick(64, 4)
LUA = textwrap.dedent("""
    local learners = {}
    %s
    local counter = 0
    function setup(thread)
      thread:set("id", counter)
      counter = counter + 1
    end
    function init(args)
      mine = {}
      for i, l in ipairs(learners) do
        if (i - 1) %% %d == id then table.insert(mine, l) end
      end
      n = 0
      math.randomseed(id + 7)
    end
    function request()
      n = n + 1
      local l = mine[(n %% #mine) + 1]
      local body = "seq=" .. math.random(1, 50) .. "&choice=A&_csrf_token=" .. l[2]
      return wrk.format("POST", l[3], {["Cookie"] = l[1], ["Content-Type"] = "application/x-www-form-urlencoded",
                                       ["x-csrftoken"] = l[2], ["HX-Request"] = "true"}, body)
    end
    function done(summary, latency, requests)
      io.write(string.format("RESULT %%f %%f %%f %%d %%d\\n", summary.requests / (summary.duration / 1e6),
               latency:percentile(50) / 1000, latency:percentile(95) / 1000, summary.errors.status,
               summary.requests))
    end
""")

BARE = textwrap.dedent("""
    from litestar import Litestar, Request, Response, post

    @post("/answer/{attempt_id:int}", status_code=200)
    async def answer(request: Request, attempt_id: int) -> Response:
        form = await request.form()
        choices = form.getall("choice") if "choice" in form else []
        return Response(content=f'<span class="ok" data-answered="1" data-total="50">已保存 {form.get("seq")} {"".join(choices)}</span>',
                        media_type="text/html")

    app = Litestar([answer])
""")


async def prepare(env: dict) -> None:
    """Deploy, seed the demo bank, then LEARNERS learners each with an open attempt (rows written
    directly: the benchmark is about autosave, not sign-in); print their sessions and attempts."""
    from core.exams.bank import seed_bank
    from core.kernel import build_platform, deploy
    from core.settings import Settings

    platform = build_platform(Settings.from_env(env))
    await deploy(platform)
    await platform.start(jobs=False)
    tenant = platform.tenants.get("construction")
    await seed_bank(tenant, "施工员", BANK)
    out = [f"{attempt}:{await platform.sessions.create(account, 'construction')}"
           for account, attempt in await exam_learners(platform, tenant, LEARNERS)]
    await platform.stop()
    print("PREPARED", ",".join(out))


async def timings(env: dict) -> None:
    """Draw and score times, in this process, on the prepared database."""
    from core.accounts.tables import Account
    from core.courses.tables import Course, Enrollment, Position
    from core.exams.attempts import start_attempt
    from core.exams.eligibility import rules_policy
    from core.exams.paper import draw
    from core.exams.scoring import score_answers, submit
    from core.exams.tables import Question, QuestionBank
    from core.exams.values import ScoredQuestion
    from core.kernel import build_platform
    from core.settings import Settings
    from core.testing.ids import fake_id_number, fake_mobile

    platform = build_platform(Settings.from_env(env))
    await platform.start(jobs=False)
    tenant = platform.tenants.get("construction")
    hooks = platform.hooks(tenant)
    pos = await Position.objects().where((Position.tenant == tenant.id) & (Position.name == "施工员")).first()
    bank = await QuestionBank.objects().where(QuestionBank.position == pos.id).first()
    questions = await Question.objects().where((Question.bank == bank.id) & (Question.active == True))  # noqa: E712
    policy = rules_policy(tenant, "施工员")

    def median_ms(fn, n: int) -> float:
        samples = []
        for _ in range(n):
            t = time.perf_counter()
            fn()
            samples.append((time.perf_counter() - t) * 1000)
        return statistics.median(samples)

    draw_ms = median_ms(lambda: draw(questions, policy), pick(2000, 5))
    paper = draw(questions, policy)
    items = [ScoredQuestion(p.question.kind, p.question.answer, p.question.answer, p.points_centi) for p in paper]
    score_ms = median_ms(lambda: score_answers(hooks, tenant, items), pick(2000, 5))
    course = await Course.objects().where((Course.tenant == tenant.id) & (Course.title == "bench")).first()
    now = dt.datetime.now(dt.UTC)
    start_ms, submit_ms = [], []
    for _ in range(pick(40, 2)):
        a = Account(tenant=tenant.id, role="learner", real_name="压测学员", id_number=fake_id_number(),
                    mobile=fake_mobile(), password_hash="x", created_at=now)
        await a.save()
        e = Enrollment(tenant=tenant.id, account=a.id, course=course.id, status="review", credited_seconds=2700.0,
                       created_at=now)
        await e.save()
        t = time.perf_counter()
        attempt = await start_attempt(hooks, tenant, a.id, e.id)
        start_ms.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        await submit(hooks, tenant, attempt)
        submit_ms.append((time.perf_counter() - t) * 1000)
    await platform.stop()
    print(f"TIMINGS {draw_ms:.3f} {score_ms:.3f} {statistics.median(start_ms):.1f} {statistics.median(submit_ms):.1f}")


def sessions_for(port: int, env: dict) -> list[tuple[str, str, str]]:
    """(cookie header, csrf token, autosave path) per learner, the CSRF cookie from the real server."""
    from core.accounts.sessions import Sessions

    cookie_name = Sessions.cookie_name("construction")
    out = []
    for pair in env["_BENCH_ATTEMPTS"].split(","):
        attempt, sid = pair.split(":")
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", cookies={cookie_name: sid}) as c:
            r = c.get(f"/t/construction/exams/attempts/{attempt}")
            r.raise_for_status()
            csrf = c.cookies.get("csrftoken")
            out.append((f"{cookie_name}={sid}; csrftoken={csrf}", csrf, f"/t/construction/exams/attempts/{attempt}/answer"))
    return out


def run_config(label: str, env: dict, seconds: int, connections: int, work: Path) -> tuple[list[tuple], str]:
    # Piccolo's engine is process-global: each database is prepared in its own process.
    out = subprocess.run([sys.executable, __file__, "--prepare"], env=env, cwd=ROOT, capture_output=True,
                         text=True, check=True).stdout
    env = {**env, "_BENCH_ATTEMPTS": re.search(r"PREPARED (\S+)", out).group(1)}
    (work / "bare_exam_app.py").write_text(BARE)
    rows = []
    for workers in pick((1, 2), (1,)):
        port, bare_port = free_port(), free_port()
        app = serve("core.app:app_from_env", port, workers, env, ROOT, factory=True)
        bare = serve("bare_exam_app:app", bare_port, workers, env, work)
        try:
            wait_port(port)
            wait_port(bare_port)
            time.sleep(1.0)
            learners = sessions_for(port, env)
            for name, base in (("bare", f"http://127.0.0.1:{bare_port}"), ("autosave", f"http://127.0.0.1:{port}")):
                paths = [(c, t, p if name == "autosave" else "/answer/" + p.split("/")[-2]) for c, t, p in learners]
                table = ",\n".join("{%r, %r, %r}" % row for row in paths)
                script = work / f"exam_{name}.lua"
                script.write_text(LUA % ("learners = {" + table + "}", 2))
                rows.append((label, workers, name, *wrk(base + paths[0][2], script, seconds, connections)))
        finally:
            stop(app)
            stop(bare)
    timed = subprocess.run([sys.executable, __file__, "--timings"], env=env, cwd=ROOT, capture_output=True,
                           text=True, check=True).stdout
    return rows, re.search(r"TIMINGS (.+)", timed).group(1)


def main() -> None:
    seconds = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    connections = int(sys.argv[2]) if len(sys.argv) > 2 else 32
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed")
    work = Path(tempfile.mkdtemp(prefix="xs-bench-exam-"))
    base = {**os.environ, "XUESHI_SECRET_KEY": "bench-secret", "PYTHONPATH": f"{ROOT}:{work}",
            "XUESHI_DB_POOL_SIZE": "10"}
    configs = [("SQLite", {**base, "DATABASE_URL": f"sqlite:///{work / 'bench.sqlite3'}", "XUESHI_VAR_DIR": str(work / "var")})]
    pg = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432/test")
    redis = os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379/0")
    name = f"xs_bench_{secrets.token_hex(3)}"

    async def admin(sql):
        import asyncpg

        c = await asyncpg.connect(pg)
        await c.execute(sql)
        await c.close()

    if pg_reachable(pg):
        asyncio.run(admin(f'CREATE DATABASE "{name}"'))
        configs.append(("PostgreSQL+Redis", {**base, "DATABASE_URL": pg.rsplit("/", 1)[0] + f"/{name}",
                                             "REDIS_URL": redis, "XUESHI_VAR_DIR": str(work / "var-pg")}))
    rows, times = [], []
    try:
        for label, env in configs:
            r, t = run_config(label, env, seconds, connections, work)
            rows += r
            times.append((label, *map(float, t.split())))
    finally:
        if len(configs) > 1:
            asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    print(f"{'database':<18} {'procs':>5} {'endpoint':<10} {'req/s':>9} {'p50 ms':>8} {'p95 ms':>8} {'non-2xx':>8} {'vs bare':>8}")
    bare = {}
    for label, workers, ep, rps, p50, p95, errors, total in rows:
        if ep == "bare":
            bare[(label, workers)] = rps
        ratio = rps / bare[(label, workers)] if ep != "bare" else 1.0
        print(f"{label:<18} {workers:>5} {ep:<10} {rps:9.0f} {p50:8.2f} {p95:8.2f} {errors:>8} {ratio:8.2f}")
    print(f"({seconds} s per run, wrk -t2 -c{connections}, {LEARNERS} learners with one open attempt each, "
          "xueshi serve (core.serving), same machine)")
    print()
    print(f"{'database':<18} {'draw ms':>8} {'score ms':>9} {'start ms':>9} {'submit ms':>10}")
    for label, draw_ms, score_ms, start_ms, submit_ms in times:
        print(f"{label:<18} {draw_ms:8.3f} {score_ms:9.3f} {start_ms:9.1f} {submit_ms:10.1f}")
    print("(draw: 50 of 71 questions, options shuffled, points allocated; score: 50 answers through the exam_score "
          "hook; medians of 2000 runs. start: eligibility + draw + attempt and 50 answer rows written; submit: "
          "scored and closed under the attempt's lock; medians of 40)")


if __name__ == "__main__":
    if sys.argv[1:] == ["--prepare"]:
        asyncio.run(prepare(dict(os.environ)))
    elif sys.argv[1:] == ["--timings"]:
        asyncio.run(timings(dict(os.environ)))
    else:
        main()
