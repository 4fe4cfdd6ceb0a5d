"""Database engine selection and migrations.

Piccolo's engine is process-global (``piccolo_conf``); ``configure()`` points it at the
settings' ``DATABASE_URL`` before anything touches a table, so a process serves one database.
"""

from __future__ import annotations

import contextlib
import io
import os
from pathlib import Path
from urllib.parse import urlparse

from piccolo.engine import Engine, PostgresEngine, SQLiteEngine

PICCOLO_CONF = "core.piccolo_conf"


def engine_from_url(url: str) -> Engine:
    parsed = urlparse(url)
    if parsed.scheme == "sqlite":
        # sqlite:///relative/path or sqlite:////absolute/path
        path = url.split("sqlite:///", 1)[1] if "sqlite:///" in url else parsed.path
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        return SQLiteEngine(path=path)
    if parsed.scheme in {"postgres", "postgresql"}:
        return PostgresEngine(config={"dsn": url})
    raise ValueError(f"DATABASE_URL must start with sqlite:/// or postgres://, got {parsed.scheme!r}")


def configure(database_url: str) -> Engine:
    """Select the engine for this process and bind every table to it."""
    from piccolo.conf.apps import Finder

    os.environ["PICCOLO_CONF"] = PICCOLO_CONF
    os.environ["DATABASE_URL"] = database_url
    import core.piccolo_conf as conf

    if conf.DB_URL != database_url:
        conf.DB = engine_from_url(database_url)
        conf.DB_URL = database_url
    for table in Finder().get_table_classes():
        table._meta.db = conf.DB
    return conf.DB


async def migrate(verbose: bool = False) -> None:
    """Run every pending migration forwards (Piccolo's progress output only when verbose)."""
    from piccolo.apps.migrations.commands.forwards import run_forwards

    with contextlib.nullcontext() if verbose else contextlib.redirect_stdout(io.StringIO()):
        result = await run_forwards(app_name="all")
    if not result.success:
        raise RuntimeError(f"migration failed: {result.message}")
