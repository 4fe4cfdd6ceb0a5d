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


async def main(n: int) -> None:
    from core.app import create_app
    from core.demo import create_demo
    from core.settings import Settings

    var = Path(tempfile.mkdtemp(prefix="xs-bench-"))
    settings = Settings(database_url=f"sqlite:///{var / 'bench.sqlite3'}", var_dir=var, secret_key="bench")
    await create_demo(settings, "http://127.0.0.1:8000")
    app = create_app(settings)
    rows = []
    async with AsyncTestClient(app=app) as client:
        html = (await client.get("/t/survey/signin")).text
        page = await _time(client, "/t/survey/signin", n)
        home = await _time(client, "/t/construction/", n)

    @get("/plain", media_type=MediaType.HTML)
    async def plain() -> str:
        return html

    async with AsyncTestClient(app=Litestar([plain])) as bare_client:
        bare = await _time(bare_client, "/plain", n)

    b50, b95 = _stats(bare)
    print(f"{'request':<40} {'p50 ms':>8} {'p95 ms':>8} {'x bare p50':>11}")
    for label, ms in [("plain Litestar handler, same HTML", bare), ("survey sign-in page", page),
                      ("construction home page", home)]:
        p50, p95 = _stats(ms)
        rows.append((label, p50, p95))
        print(f"{label:<40} {p50:8.2f} {p95:8.2f} {p50 / b50:11.1f}")
    print(f"({n} requests each, in-process ASGI, SQLite)")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 200))
