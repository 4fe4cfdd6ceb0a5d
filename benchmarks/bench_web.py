"""Page latency of the platform against a plain Litestar handler serving the same HTML.

Run: uv run python benchmarks/bench_web.py [requests]
Prints p50/p95 per request in-process (ASGI, no network) and the ratio to the bare handler, so
the cost of tenancy, sessions, CSRF, hooks and template overlays is visible.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

from litestar import Litestar, MediaType, get
from litestar.testing import AsyncTestClient


async def _time(client: AsyncTestClient, url: str, n: int) -> list[float]:
    await client.get(url)  # warm-up
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        r = await client.get(url)
        out.append((time.perf_counter() - t0) * 1000)
        assert r.status_code == 200, (url, r.status_code)
    return out


def _stats(ms: list[float]) -> tuple[float, float]:
    ms = sorted(ms)
    return statistics.median(ms), ms[int(len(ms) * 0.95) - 1]


PAGES = [("survey sign-in page", "/t/survey/signin"), ("survey home page", "/t/survey/"),
         ("survey news list", "/t/survey/news"), ("construction home page", "/t/construction/")]


async def main(n: int) -> None:
    from core.app import create_app
    from core.demo import create_demo
    from core.settings import Settings

    var = Path(tempfile.mkdtemp(prefix="xs-bench-"))
    settings = Settings(database_url=f"sqlite:///{var / 'bench.sqlite3'}", var_dir=var, secret_key="bench")
    await create_demo(settings, "http://127.0.0.1:8000")
    app = create_app(settings)
    html: list[str] = []
    timed: list[list[float]] = []
    async with AsyncTestClient(app=app) as client:
        for _, url in PAGES:
            html.append((await client.get(url)).text)
            timed.append(await _time(client, url, n))

    @get("/plain/{i:int}", media_type=MediaType.HTML)
    async def plain(i: int) -> str:
        return html[i]

    bare: list[list[float]] = []
    async with AsyncTestClient(app=Litestar([plain])) as bare_client:
        for i in range(len(PAGES)):
            bare.append(await _time(bare_client, f"/plain/{i}", n))

    print(f"{'request':<28} {'p50 ms':>8} {'p95 ms':>8} {'bare p50':>9} {'x bare p50':>11}")
    for (label, _), ms, bare_ms in zip(PAGES, timed, bare):
        p50, p95 = _stats(ms)
        b50, _ = _stats(bare_ms)
        print(f"{label:<28} {p50:8.2f} {p95:8.2f} {b50:9.2f} {p50 / b50:11.1f}")
    print(f"({n} requests each, in-process ASGI, SQLite; bare = a plain Litestar handler serving the same HTML)")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 200))
