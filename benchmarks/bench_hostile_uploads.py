"""A static page's latency on an idle server, and while hostile uploads are being processed.

Run: uv run python benchmarks/bench_hostile_uploads.py [requests] [attackers]

Starts the real app (demo data, SQLite, file store) with uvicorn on a free loopback port in a
separate process, then measures ``GET /static/core/css/app.css`` sequentially:
  1. on the idle server;
  2. while ``attackers`` clients upload, in a loop and at the same time, the hostile files of
     ``core.testing.hostile``: a 6300 × 6300 PNG on the anonymous certification form
     (``/enterprise/certify``) and XLSX files declaring 30,000 rows, having a far row and no
     dimension, and carrying a 60 MB sharedStrings part (``/company/learners/import``, as the
     demo company's administrator).
Prints p50/p95/max of both side by side, the uploads done and the answers they got.
"""

from __future__ import annotations

import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
STATIC = "/static/core/css/app.css"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(var: str, port: int) -> None:
    """The server process: the app as ``xueshi serve`` runs it."""
    import uvicorn

    from core.app import create_app
    from core.settings import Settings

    settings = Settings(database_url=f"sqlite:///{Path(var) / 'bench.sqlite3'}", var_dir=Path(var),
                        secret_key="bench", signin_rate_per_minute=100_000)
    uvicorn.run(create_app(settings), host="127.0.0.1", port=port, log_level="warning")


async def _prepare(var: Path) -> None:
    from core.demo import create_demo
    from core.settings import Settings

    await create_demo(Settings(database_url=f"sqlite:///{var / 'bench.sqlite3'}", var_dir=var,
                               secret_key="bench"), "http://127.0.0.1:8000")


def _stats(ms: list[float]) -> tuple[float, float, float]:
    ms = sorted(ms)
    return statistics.median(ms), ms[max(0, int(len(ms) * 0.95) - 1)], ms[-1]


async def _latencies(base: str, n: int) -> list[float]:
    out = []
    async with httpx.AsyncClient(base_url=base, timeout=120) as client:
        await client.get(STATIC)
        for _ in range(n):
            t0 = time.perf_counter()
            r = await client.get(STATIC)
            out.append((time.perf_counter() - t0) * 1000)
            assert r.status_code == 200, r.status_code
            await asyncio.sleep(0.01)
    return out


async def _csrf(client: httpx.AsyncClient, url: str) -> str:
    await client.get(url)
    return client.cookies.get("csrftoken") or ""


async def _attack_png(base: str, png: bytes, stop: asyncio.Event, answers: Counter) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=120) as client:
        token = await _csrf(client, "/t/survey/enterprise/certify")
        while not stop.is_set():
            r = await client.post("/t/survey/enterprise/certify", data={"_csrf_token": token, "name": "某公司"},
                                  files={"licence": ("licence.png", png, "image/png")})
            answers[("png", r.status_code, "图片像素过大" in r.text)] += 1


async def _attack_xlsx(base: str, files: list[tuple[str, bytes]], stop: asyncio.Event, answers: Counter) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=120) as client:
        token = await _csrf(client, "/t/survey/signin")
        r = await client.post("/t/survey/signin/mobile",
                              data={"_csrf_token": token, "mobile": "13700137000", "password": "Company-2026"})
        assert r.status_code == 303, ("demo company admin sign-in", r.status_code)
        i = 0
        while not stop.is_set():
            name, data = files[i % len(files)]
            i += 1
            r = await client.post("/t/survey/company/learners/import", data={"_csrf_token": token},
                                  files={"file": (f"{name}.xlsx", data, "application/octet-stream")})
            answers[(name, r.status_code, "拒绝导入" in r.text or "上限" in r.text or "范围过大" in r.text)] += 1


async def main(n: int, attackers: int) -> None:
    from core.testing import hostile

    var = Path(tempfile.mkdtemp(prefix="xs-bench-hostile-"))
    await _prepare(var)
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([sys.executable, __file__, "--serve", str(var), str(port)], cwd=ROOT,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        for _ in range(200):
            try:
                httpx.get(base + STATIC, timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        png = hostile.png_declaring(6300, 6300)
        xlsx = [("xlsx_declaring_30000_rows", hostile.xlsx_declaring_rows(30_000)),
                ("xlsx_far_row_no_dimension", hostile.xlsx_far_row_without_dimension(30_000)),
                ("xlsx_60MB_shared_strings", hostile.xlsx_with_huge_shared_strings(60))]
        idle = await _latencies(base, n)
        stop, answers = asyncio.Event(), Counter()
        tasks = [asyncio.create_task(_attack_png(base, png, stop, answers)) for _ in range(attackers)]
        tasks += [asyncio.create_task(_attack_xlsx(base, xlsx, stop, answers)) for _ in range(attackers)]
        await asyncio.sleep(1.0)  # let the uploads get going
        busy = await _latencies(base, n)
        stop.set()
        # An upload still being processed when the run ends is cut off, not waited for.
        _, unfinished = await asyncio.wait(tasks, timeout=30)
        for task in unfinished:
            task.cancel()
        answers[("cut off when the run ended", 0, False)] += len(unfinished)
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:  # uvicorn waits for requests in flight: don't hang on them
            server.kill()
            server.wait()

    print(f"GET {STATIC}: {n} sequential requests each, uvicorn on loopback, SQLite, file store")
    print(f"{'':<44} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
    for label, ms in [("idle server", idle),
                      (f"during hostile uploads ({attackers} PNG + {attackers} XLSX clients)", busy)]:
        p50, p95, mx = _stats(ms)
        print(f"{label:<44} {p50:8.1f} {p95:8.1f} {mx:8.1f}")
    print(f"hostile files: PNG 6300x6300 {len(png) // 1024} KB; "
          + ", ".join(f"{name} {len(data) // 1024} KB" for name, data in xlsx))
    print("uploads answered (file, status, refused with the Chinese limit message): count")
    for key, count in sorted(answers.items()):
        print(f"  {key}: {count}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--serve":
        serve(sys.argv[2], int(sys.argv[3]))
    else:
        asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 200,
                         int(sys.argv[2]) if len(sys.argv) > 2 else 2))
