"""`xueshi serve --workers N` (core.serving): each process listens on its own socket, bound to
the port with SO_REUSEPORT, so the kernel spreads connections over the processes; with uvicorn's
own --workers one shared socket let a burst of keep-alive connections land 22 to 10 on one
process (docs/operations.md, "Balanced processes"). A process that dies is replaced on its socket;
stopping the supervisor stops every process."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from litestar import Litestar, get

REPO = Path(__file__).resolve().parents[1]
WORKERS = 2


@get("/pid")
async def pid() -> dict:
    return {"pid": os.getpid()}


def pid_app() -> Litestar:
    """The app each serving process builds: it answers with its process id."""
    return Litestar([pid], openapi_config=None)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _listening_inodes(port: int) -> set[str]:
    """The inodes of the TCP sockets listening on ``port`` (state 0A in /proc/net/tcp)."""
    found = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[1].split(":")[1], 16) == port and fields[3] == "0A":
            found.add(fields[9])
    return found


def _socket_inodes(process_id: int) -> set[str]:
    out = set()
    for fd in Path(f"/proc/{process_id}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            out.add(target[8:-1])
    return out


def _children(process_id: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(process_id)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def _servers(supervisor: int, port: int) -> dict[int, set[str]]:
    """Each serving process (a child holding a listening socket of the port) and those sockets."""
    listening = _listening_inodes(port)
    return {c: held for c in _children(supervisor) if (held := _socket_inodes(c) & listening)}


def _answer_pids(port: int, connections: int) -> list[int]:
    """Open ``connections`` connections at once, then ask each which process serves it."""
    opened = [http.client.HTTPConnection("127.0.0.1", port, timeout=30) for _ in range(connections)]
    try:
        for c in opened:
            c.connect()
        pids = []
        for c in opened:
            c.request("GET", "/pid")
            pids.append(json.loads(c.getresponse().read())["pid"])
        return pids
    finally:
        for c in opened:
            c.close()


def _alive(process_id: int) -> bool:
    try:
        return "\nState:\tZ" not in Path(f"/proc/{process_id}/status").read_text()
    except FileNotFoundError:
        return False


def _wait(check, what: str, seconds: float = 60):
    deadline = time.monotonic() + seconds  # a bound for a loaded machine
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"not seen within {seconds} s: {what}")


def test_each_process_serves_its_own_socket_and_connections_are_spread():
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "core.serving", "tests.test_serving:pid_app", "--factory", "--workers",
                             str(WORKERS), "--port", str(port)], cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        servers = _wait(lambda: (s := _servers(proc.pid, port)) and len(s) == WORKERS and s, "both processes")
        # One listening socket per process, none shared between them.
        assert all(len(held) == 1 for held in servers.values()), servers
        assert len(set.union(*servers.values())) == WORKERS
        assert _listening_inodes(port) == set.union(*servers.values())

        # 32 connections opened at once: the kernel spreads them by a hash of their addresses.
        # Each process gets at least 4 unless the hash is very unlucky (below 1 in 100,000).
        served = Counter(_answer_pids(port, 32))
        assert set(served) == set(servers), served
        assert min(served.values()) >= 4, served

        # A process killed outright is replaced on the same socket, and every connection is served.
        victim, held = next(iter(servers.items()))
        os.kill(victim, signal.SIGKILL)
        replaced = _wait(lambda: (s := _servers(proc.pid, port)) and len(s) == WORKERS and victim not in s and s,
                         "the replacement process")
        assert held in replaced.values(), (held, replaced)
        assert set(Counter(_answer_pids(port, 32))) == set(replaced)
    finally:
        children = _children(proc.pid)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    # Stopping the supervisor stops every serving process.
    _wait(lambda: not [c for c in children if _alive(c)], "the processes' exit")
