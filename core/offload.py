"""CPU-bound work off the event loop, in small bounded thread pools (DESIGN §9).

Argon2, image decoding and spreadsheet parsing release the GIL for most of their work or are
bounded by input limits checked beforehand; running them in a thread keeps the event loop
answering other requests meanwhile. One pool per kind of work, each with few threads, so a burst
of hostile uploads queues instead of taking every core and all the memory (a pool's peak memory
is its thread count times one job's bound).
"""

from __future__ import annotations

import asyncio
import functools
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")

# Threads per kind of work; one job's memory bound times this is the pool's peak.
POOL_SIZES = {"password": 2, "image": 2, "spreadsheet": 1, "pdf": 2}
_pools: dict[str, ThreadPoolExecutor] = {}


def _pool(kind: str) -> ThreadPoolExecutor:
    pool = _pools.get(kind)
    if pool is None:
        size = min(POOL_SIZES.get(kind, 1), os.cpu_count() or 1) or 1
        pool = _pools[kind] = ThreadPoolExecutor(max_workers=size, thread_name_prefix=f"xs-{kind}")
    return pool


async def run_cpu(kind: str, fn: Callable[..., T], /, *args, **kwargs) -> T:
    """Run ``fn(*args, **kwargs)`` in the ``kind`` pool and await its result."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_pool(kind), functools.partial(fn, *args, **kwargs))
