"""Serving several processes: uvicorn's supervisor with one listening socket per process.

uvicorn's own ``--workers`` shares one listening socket, and whichever process wakes first takes
every connection waiting in it: a burst of long-lived (keep-alive) connections, such as a proxy's
or a load generator's, can land two to one on one process and stay there, so that process's core
limits the whole server while the other idles (docs/operations.md, "Balanced processes"). Here
each process has its own socket, all bound to the port with ``SO_REUSEPORT``, and the kernel
spreads new connections across the sockets by a hash of their addresses. The supervisor holds
every socket open, so a process that dies leaves its socket listening: the connections the kernel
gives it wait in its queue until the replacement serves them.
"""

from __future__ import annotations

import argparse
import logging
import socket

from uvicorn import Config, Server
from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors.multiprocess import Multiprocess, Process

log = logging.getLogger("uvicorn.error")


def reuse_port_socket(host: str, port: int, backlog: int) -> socket.socket:
    """A listening TCP socket that other sockets may bind to the same address as well."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(backlog)
    sock.set_inheritable(True)
    return sock


class BalancedMultiprocess(Multiprocess):
    """uvicorn's supervisor (signals, health checks, SIGHUP restarts) with process ``i`` always
    serving socket ``i``."""

    def __init__(self, config: Config) -> None:
        super().__init__(config, sockets=[])
        self.slots = [reuse_port_socket(config.host, config.port, config.backlog) for _ in range(config.workers)]

    def spawn(self, slot: int) -> Process:
        process = Process(self.config, [self.slots[slot]])
        process.start()
        return process

    def init_processes(self) -> None:
        self.processes = [self.spawn(i) for i in range(self.processes_num)]

    def restart_all(self) -> None:
        """Each process replaced by a new one on the same socket, once the new one is ready."""
        for i, old in enumerate(self.processes):
            if self.should_exit.is_set():
                return
            new = self.spawn(i)
            if not new.wait_until_ready(self.config.timeout_worker_healthcheck, self.should_exit):
                new.kill()
                new.join()
                return
            old.terminate()
            old.join()
            self.processes[i] = new

    def keep_subprocess_alive(self) -> None:
        """A process that died or stopped answering is replaced on its socket; one that failed
        before it started serving stops the supervisor (every restart would fail alike)."""
        for i, process in enumerate(self.processes):
            if self.should_exit.is_set() or process.is_alive(timeout=self.config.timeout_worker_healthcheck):
                continue
            process.kill()
            process.join()
            if process.exitcode == STARTUP_FAILURE:
                log.error("Child process [%s] failed to start, stopping the parent process.", process.pid)
                self.should_exit.set()
                return
            log.info("Child process [%s] died", process.pid)
            self.processes[i] = self.spawn(i)


def serve(app: str, *, host: str, port: int, workers: int, factory: bool = True, log_level: str = "info",
          access_log: bool = True) -> None:
    """Serve the ASGI app at import path ``app`` (made by calling it when ``factory``) on uvloop
    and httptools with ``workers`` processes, balanced as above when there are several."""
    config = Config(app, factory=factory, host=host, port=port, workers=workers, loop="uvloop", http="httptools",
                    log_level=log_level, access_log=access_log)
    if workers > 1:
        BalancedMultiprocess(config).run()
    else:
        Server(config).run()


def main(argv: list[str] | None = None) -> None:
    """``python -m core.serving module:app [--factory] --workers N``: what ``xueshi serve`` runs,
    for any app, without access logs (the benchmarks serve theirs this way)."""
    ap = argparse.ArgumentParser(prog="python -m core.serving")
    ap.add_argument("app", help="import path of the app, module:attribute")
    ap.add_argument("--factory", action="store_true", help="the attribute is a function that makes the app")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8000)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--log-level", default="warning")
    args = ap.parse_args(argv)
    serve(args.app, host=args.host, port=args.port, workers=args.workers, factory=args.factory,
          log_level=args.log_level, access_log=False)


if __name__ == "__main__":
    main()
