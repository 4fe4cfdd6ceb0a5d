"""The whole-learner load test: simulated learners against web ×2 + worker on PostgreSQL + Redis +
object storage, each request a real one (load_client.py), with real face frames.

Run: uv run python benchmarks/load_learners.py [--levels 50,100,200,...] [--step-seconds 60]
     [--starts-per-second 10] [--whole 6] [--quick]
     BENCH_PG=postgres://postgres@127.0.0.1:5432/postgres BENCH_REDIS=redis://127.0.0.1:6379/12
     BENCH_S3_PORT=9012 (moto's S3 server, started here when the port is closed)

Processes: 2 serving processes as ``xueshi serve --workers 2`` runs them (``core.serving``)
with ``benchmarks/load_app.py`` (the app of ``xueshi serve``, with the face challenge's actions limited to what the clip shows),
and one ``xueshi worker --concurrency 4``; a throw-away database ``xs_load_<hex>``; a bucket on
moto. The load comes from this process (asyncio + httpx).

Two phases, each printed with what it measured:

1. **Whole learners** (``--whole`` at once): sign-in page, sign-in (Argon2), consent, the face
   check (challenge, frames of the clip paced like the page until ``done``, finish), session
   start, the video's redirect, 2 beats at the player's 15 s with any snapshot asked, then the
   exam: start, paper, 50 autosaved answers, submit.
2. **The ramp**: studying learners, signed in beforehand (rows and sessions written by
   load_seed.py; their face check is phase 1's cost, so their passed check is seeded and dated
   just before they start). Each level adds learners up to N, starting ``--starts-per-second``
   a second (a study-page view for the CSRF cookie, session start, video redirect), and
   then measures ``--step-seconds`` with all N beating every 15 s and uploading a snapshot when a
   beat's answer asks for one. Snapshots follow the plan's gaps, but each session's first planned
   time is moved to a uniform point before it (at least 15 s), as if the learner had been studying a
   while: over a level the captures fall at the rate of a steady stream of learners, not at the
   quiet start of a fresh one. Two knees are printed: the studying one (the requests of learners
   studying: beats and snapshot uploads sent in the measured window) and the one of any step
   (the level's session starts included). The ramp stops after the first level whose studying
   p95 passes 500 ms or that has an error; the knee is the last level before it.

CPU seconds per learner-hour: CPU spent in the measured window by the web processes, the worker
(its face jobs: snapshots; and its share of the live-study flusher, which runs in every process),
the PostgreSQL backends of this database and the Redis server, divided by N × window. Redis's
figure is the whole server's (other work on the same Redis counts too). This process's own CPU
is printed as ``client``, for scale, and left out of the platform's total.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from bench_heartbeat import free_port, serve, stop, wait_port  # the script's own folder is on sys.path
from load_client import COOKIE, T, Media, Recorder, keep_studying, start_study, whole_learner
from load_report import Cpu, level_verdict, now_iso, print_cpu, print_steps, prepare_database
from tiny import TINY

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent
LIMIT_MS = 500.0
STUDYING = ("beat", "snapshot upload")


def start_s3(port: int) -> subprocess.Popen | None:
    with socket.socket() as s:
        if s.connect_ex(("127.0.0.1", port)) == 0:
            return None
    moto = Path(sys.executable).parent / "moto_server"
    proc = subprocess.Popen([str(moto), "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    wait_port(port)
    return proc


async def studying_learner(rec: Recorder, cpu: Cpu, client: httpx.AsyncClient, delay: float, lesson: int, sid: str,
                           media: Media, until: list[float]) -> None:
    await asyncio.sleep(delay)
    r = await rec.timed("study page", client.get(f"{T}/study", headers={"Cookie": f"{COOKIE}={sid}"}))
    csrf = r.cookies.get("csrftoken") if r is not None else None
    if not csrf:
        return
    headers = {"Cookie": f"{COOKIE}={sid}; csrftoken={csrf}", "x-csrftoken": csrf}
    s = await start_study(rec, client, headers, lesson)
    if s is None:
        return
    await cpu.stretch_plan(s.token)
    await keep_studying(rec, client, headers, csrf, lesson, s, media, until)


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


async def whole_phase(args, cpu: Cpu, base: str, seeded: dict, media: Media) -> None:
    rec = Recorder()
    before, t0 = cpu.read(), time.time()
    await asyncio.gather(*(whole_learner(rec, base, media, seeded["lesson"], seeded["password"], id_number, exam, 2)
                           for _, id_number, exam in seeded["whole"]))
    await asyncio.sleep(5)  # the snapshots' jobs
    spent, took = cpu.since(before), time.time() - t0
    print(f"Phase 1: {len(seeded['whole'])} whole learners at once (sign-in, consent, face check with the clip's "
          f"frames, session start, 2 beats 15 s apart + any snapshot asked, exam of 50 answers + submit), "
          f"{took:.0f} s; load average at the end {loadavg()}")
    print_steps([("whole", rec.samples)])
    print(f"  notes: {dict(sorted(rec.notes.items()))}")
    print_cpu([("per whole learner", spent, max(1, len(seeded["whole"])), None)])
    print()


async def ramp_phase(args, cpu: Cpu, base: str, seeded: dict, media: Media) -> None:
    rec = Recorder()
    limits = httpx.Limits(max_connections=args.connections, max_keepalive_connections=args.connections)
    pending = list(seeded["studying"])
    levels, tasks, until = [], [], [float("inf")]
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as client:
        for n in args.levels:
            new, pending = pending[:n - len(tasks)], pending[n - len(tasks):]
            await cpu.fresh_gates([a for a, _ in new])
            start, ramp, noted = time.time(), len(new) / args.starts_per_second, dict(rec.notes)
            for k, (_, sid) in enumerate(new):
                tasks.append(asyncio.create_task(studying_learner(
                    rec, cpu, client, k / args.starts_per_second, seeded["lesson"], sid, media, until)))
            await asyncio.sleep(ramp + 2)
            load_start = loadavg()
            before, writes, w0 = cpu.read(), await cpu.writes(), time.time()
            await asyncio.sleep(args.step_seconds)
            spent, window = cpu.since(before), time.time() - w0
            after = await cpu.writes()
            wrote = {k: (after[k] - writes[k]) / window for k in after}
            memory = await asyncio.to_thread(cpu.redis_bytes)  # the learners go on meanwhile
            samples = [s for s in rec.samples if s[0] >= start]
            broken, why = level_verdict([s for s in samples if s[0] >= w0 and s[1] in STUDYING], LIMIT_MS)
            any_step = level_verdict(samples, LIMIT_MS)
            levels.append((n, samples, spent, window, load_start, loadavg(), wrote, memory, broken, why, any_step))
            refused = {k.split(": ", 1)[1]: v - noted.get(k, 0) for k, v in sorted(rec.notes.items())
                       if k.startswith("beat not credited") and v > noted.get(k, 0)}
            print(f"[{now_iso()}] N={n} done; studying: {why or 'ok'}; any step: {any_step[1] or 'ok'}; "
                  f"beats not credited by reason: {refused}; load average {loadavg()}", flush=True)
            if broken:
                break
        until[0] = 0.0
        await asyncio.gather(*tasks, return_exceptions=True)
    print()
    print(f"Phase 2: ramp of studying learners (each: study page, session start, video redirect; then a beat "
          f"every 15 s and a snapshot burst when asked); per level the new learners start at "
          f"{args.starts_per_second:g} a second, then {args.step_seconds:.0f} s measured with all N studying; "
          "latencies: every request of the level, its starts included")
    print_steps([(f"N={lv[0]}", lv[1]) for lv in levels])
    print(f"  notes: {dict(sorted(rec.notes.items()))}")
    print(f"  snapshot verdicts (face_verification rows by status): {await cpu.snapshot_outcomes()}")
    print_cpu([(f"N={lv[0]}", lv[2], lv[0], lv[3]) for lv in levels])
    rows, table, index = await cpu.ledger_size()
    print(f"  ledger (hours_entry) at the end: {rows} rows, table {table:,} bytes + indexes {index:,} bytes = "
          f"{(table + index) / max(1, rows):,.0f} bytes a row")
    print("  in the measured window: database rows inserted/s, updated/s, ledger rows/s; Redis keys and bytes "
          "(MEMORY USAGE, all keys of the test's database) at its end; load average at its start and end")
    for n, _, _, window, load_start, load_end, wrote, memory, *_ in levels:
        print(f"  N={n:<6} inserted/s {wrote['inserted']:8.1f}  updated/s {wrote['updated']:8.1f}  ledger/s "
              f"{wrote['ledger']:7.1f}  redis bytes {sum(b for _, b in memory.values()):>11,}  "
              f"load {load_start} / {load_end}")
        for kind, (keys, total) in sorted(memory.items(), key=lambda kv: -kv[1][1]):
            print(f"           {kind:<40} keys {keys:>7}  bytes {total:>11,}  per learner {total / n:9,.0f}")
    for label, flags in (("studying (beats and snapshot uploads sent in the measured window)",
                          [(lv[0], lv[8], lv[9]) for lv in levels]),
                         ("any step (the level's starts included)", [(lv[0], *lv[10]) for lv in levels])):
        broke = next((k for k, (_, broken, _) in enumerate(flags) if broken), None)
        knee = flags[(len(flags) if broke is None else broke) - 1][0] if broke != 0 else "below the first level"
        print(f"knee, {label}: {knee} learners"
              + (f" (N={flags[broke][0]}: {flags[broke][2]})" if broke is not None else " (no level broke)"))
    print(f"  2 web processes + 1 worker on {os.cpu_count()} cores shared with PostgreSQL, Redis, moto, this client "
          "and the machine's other work (load averages above)")


async def run(args, env: dict, base: str, seeded: dict, web: subprocess.Popen, worker: subprocess.Popen) -> None:
    media = Media()
    cpu = Cpu(web.pid, worker.pid, env["_DB_NAME"], env["DATABASE_URL"], env["REDIS_URL"])
    if seeded["whole"]:
        await whole_phase(args, cpu, base, seeded, media)
    await ramp_phase(args, cpu, base, seeded, media)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--levels", default="50,100,200,400,800,1600,3200,6400")
    p.add_argument("--step-seconds", type=float, default=60.0)
    p.add_argument("--starts-per-second", type=float, default=10.0)
    p.add_argument("--whole", type=int, default=6)
    p.add_argument("--connections", type=int, default=400)
    p.add_argument("--quick", action="store_true", help="2 levels of a few learners, short windows")
    args = p.parse_args()
    if args.quick or TINY:
        args.levels, args.step_seconds, args.starts_per_second, args.whole = "4,8", 16.0, 1.0, 1
    args.levels = [int(x) for x in str(args.levels).split(",")]
    work = Path(tempfile.mkdtemp(prefix="xs-load-"))
    s3_port = int(os.environ.get("BENCH_S3_PORT", "9012"))
    moto = start_s3(s3_port)
    bucket = f"xs-load-{secrets.token_hex(4)}"
    httpx.put(f"http://127.0.0.1:{s3_port}/{bucket}").raise_for_status()
    pg = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432/postgres")
    name = f"xs_load_{secrets.token_hex(3)}"
    env = {**os.environ, "XUESHI_SECRET_KEY": "load-secret", "PYTHONPATH": f"{ROOT}:{HERE}",
           "DATABASE_URL": pg.rsplit("/", 1)[0] + f"/{name}", "_DB_NAME": name,
           "REDIS_URL": os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379/12"),
           "XUESHI_JOB_QUEUE": name, "XUESHI_VAR_DIR": str(work / "var"),
           "XUESHI_STORAGE_URL": f"s3://{bucket}/files", "XUESHI_STORAGE_ENDPOINT": f"http://127.0.0.1:{s3_port}",
           "XUESHI_STORAGE_ACCESS_KEY": "test", "XUESHI_STORAGE_SECRET_KEY": "test"}
    procs = []
    try:
        prepare_database(pg, name, env)
        seeded_file = work / "seeded.json"
        subprocess.run([sys.executable, str(HERE / "load_seed.py"), str(seeded_file), str(max(args.levels)),
                        str(args.whole)], env=env, cwd=ROOT, check=True)
        seeded = json.loads(seeded_file.read_text())
        port = free_port()
        web = serve("load_app:app", port, 1 if TINY else 2, env, ROOT, factory=True)
        procs.append(web)
        log = open(work / "worker.log", "w")
        worker = subprocess.Popen([str(Path(sys.executable).parent / "xueshi"), "worker", "--concurrency", "4"],
                                  env=env, cwd=ROOT, stdout=log, stderr=log, start_new_session=True)
        procs.append(worker)
        wait_port(port)
        time.sleep(2)
        asyncio.run(run(args, env, f"http://127.0.0.1:{port}", seeded, web, worker))
    finally:
        for proc in procs + ([moto] if moto else []):
            stop(proc)
        prepare_database(pg, name, env, drop=True)


if __name__ == "__main__":
    main()
