"""Pool worker processes die with the process that started them (issue 25, faults): a server or
worker killed outright left its spreadsheet and PDF pool workers behind (ten orphans, 477 MB)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

SCRIPT = """
import asyncio, sys
from core import offload
from core.certificates import render

async def main():
    assert await offload.run_cpu("spreadsheet", pow, 7, 2) == 49
    pdf = await render.render_pdf("<p>学时</p>")
    assert pdf[:4] == b"%PDF"
    from multiprocessing import forkserver
    pids = [*offload._pools["spreadsheet"]._processes, *render._processes._processes]
    pids.append(forkserver._forkserver._forkserver_pid)
    print(" ".join(map(str, pids)), flush=True)
    await asyncio.sleep(600)

asyncio.run(main())
"""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "\nState:\tZ" not in state  # a zombie has exited; only its parent's reaping is left


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM])
def test_pool_workers_exit_when_their_process_is_killed(how):
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT], cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        pids = [int(p) for p in line.split()]
        assert len(pids) >= 3 and all(_alive(p) for p in pids), line
    finally:
        proc.send_signal(how)
        proc.wait(timeout=30)
    deadline = time.monotonic() + 30  # a bound for a loaded machine; they go within a second
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not [p for p in pids[:-1] if _alive(p)], "pool workers outlived their process"
    # The forkserver goes with the last of its workers.
    while _alive(pids[-1]) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _alive(pids[-1]), "the forkserver outlived its process"
