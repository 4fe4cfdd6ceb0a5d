"""A stand-in HTTP service for tests (a provider's API), served by uvicorn on a free loopback port."""

from __future__ import annotations

import socket
import threading
import time

import uvicorn


def serve_on_loopback(app) -> tuple[uvicorn.Server, str]:
    """Start ``app`` in a thread; returns the server (set ``should_exit`` to stop it) and its URL."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    threading.Thread(target=server.run, daemon=True).start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    return server, f"http://127.0.0.1:{port}/"
