"""CPU-bound work off the event loop, in small bounded pools (DESIGN §9).

Argon2 and image decoding release the GIL for most of their work: they run in threads. Spreadsheet
parsing (openpyxl, the csv module, building the rows) is Python code that holds the GIL: in a
thread it still stalls the event loop, which gets the GIL back only every switch interval (5 ms)
at each of the many points a request gives it up, so a static page took 100–300 ms while a
hostile spreadsheet was read (benchmarks/bench_hostile_uploads.py). Such kinds run in worker
processes instead, started by the ``forkserver`` method (a clean interpreter, never a fork of the
threaded server), each with an address-space limit so a file that gets past the input checks
fails with ``MemoryError`` in the worker instead of taking the server's memory.

One pool per kind of work, each with few workers, so a burst of hostile uploads queues instead of
taking every core and all the memory (a pool's peak memory is its worker count times one job's
bound).

Worker processes never outlive the process that started them: each watches its parent
(``follow_parent``) and exits when it is gone, however the server or worker ended (SIGTERM,
SIGKILL, a crash); a pool's worker otherwise waits on its queue forever once its parent is killed.
"""

from __future__ import annotations

import asyncio
import functools
import multiprocessing
import os
import resource
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TypeVar

T = TypeVar("T")

# Workers per kind of work; one job's memory bound times this is the pool's peak.
POOL_SIZES = {"password": 2, "image": 2, "spreadsheet": 1, "pdf": 2, "face": 2}
# Kinds whose work holds the GIL: run in processes. The address-space limit of each such worker.
PROCESS_KINDS = {"spreadsheet"}
PROCESS_MEMORY_LIMIT = 1024 * 1024 * 1024  # bytes of address space (RLIMIT_AS) per worker process
_pools: dict[str, Executor] = {}


PARENT_CHECK_SECONDS = 0.5


def _gone(pid: int) -> bool:
    """Whether process ``pid`` has exited (a zombie has: only its reaping is left)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] == b"Z"
    except FileNotFoundError:
        return True


def follow_parent(owner: int | None = None) -> None:
    """In a pool's worker process: exit as soon as ``owner`` (the process that made the pool;
    by default the worker's parent) is gone. A forkserver's workers are the forkserver's
    children, and the forkserver does not always exit with the process it serves."""
    owner = owner or os.getppid()

    def watch() -> None:
        while not _gone(owner):
            time.sleep(PARENT_CHECK_SECONDS)
        os._exit(0)

    threading.Thread(target=watch, name="xs-follow-parent", daemon=True).start()


def _limit_memory(limit: int, owner: int) -> None:
    """Process-pool initializer: cap the worker's address space; exit with ``owner``."""
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    follow_parent(owner)


def _pool(kind: str) -> Executor:
    pool = _pools.get(kind)
    if pool is None:
        size = min(POOL_SIZES.get(kind, 1), os.cpu_count() or 1) or 1
        if kind in PROCESS_KINDS:
            pool = ProcessPoolExecutor(max_workers=size, mp_context=multiprocessing.get_context("forkserver"),
                                       initializer=_limit_memory, initargs=(PROCESS_MEMORY_LIMIT, os.getpid()))
        else:
            pool = ThreadPoolExecutor(max_workers=size, thread_name_prefix=f"xs-{kind}")
        _pools[kind] = pool
    return pool


async def run_cpu(kind: str, fn: Callable[..., T], /, *args, **kwargs) -> T:
    """Run ``fn(*args, **kwargs)`` in the ``kind`` pool and await its result. For a process kind,
    ``fn`` is a module-level function and its arguments and result are picklable."""
    loop = asyncio.get_running_loop()
    pool = _pool(kind)
    try:
        return await loop.run_in_executor(pool, functools.partial(fn, *args, **kwargs))
    except BrokenProcessPool:
        # A worker died (killed, or out of memory outside Python): the next call gets a new pool.
        if _pools.get(kind) is pool:
            del _pools[kind]
        raise

