"""Engine from a DATABASE_URL (a leaf module: Piccolo only)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

from piccolo.engine import Engine, PostgresEngine, SQLiteEngine

SQLITE_LOCK_WAIT_SECONDS = 30.0


def engine_from_url(url: str) -> Engine:
    parsed = urlparse(url)
    if parsed.scheme == "sqlite":
        # sqlite:///relative/path or sqlite:////absolute/path
        path = url.split("sqlite:///", 1)[1] if "sqlite:///" in url else parsed.path
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        # sqlite3's default wait for the write lock is 5 s; simultaneous writers queue behind it,
        # and under load (hundreds of requests on two cores) 5 s ran out: "database is locked".
        # Piccolo's docs recommend raising it for concurrent writes.
        return SQLiteEngine(path=path, timeout=SQLITE_LOCK_WAIT_SECONDS)
    if parsed.scheme in {"postgres", "postgresql"}:
        return PostgresEngine(config={"dsn": url})
    raise ValueError(f"DATABASE_URL must start with sqlite:/// or postgres://, got {parsed.scheme!r}")
