"""The database: engine selection, Piccolo apps, migrations and the connection pool.

Piccolo's engine is process-global (``core.db.piccolo_conf``); ``configure()`` points it at the
settings' ``DATABASE_URL`` and registers the core's and the plugins' Piccolo apps before anything
touches a table, so a process serves one database. Every table is bound to that engine directly;
Piccolo's own finder (which its migrations use) reaches the same module under Piccolo's default
name, ``piccolo_conf``, so nothing is written to the environment, which child processes inherit. On PostgreSQL each process opens one pool
(``start_pool``) at start and closes it at stop; without a pool (SQLite, or
PostgreSQL in the CLI and the tests) the engine keeps a few idle connections between statements
(``CachingSQLiteEngine``, ``CachingPostgresEngine``), closed at stop.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import os
import re
import sys
from collections.abc import Iterable

from piccolo.apps.migrations.commands.forwards import run_forwards
from piccolo.apps.migrations.tables import Migration
from piccolo.conf.apps import DEFAULT_MODULE_NAME, ENVIRONMENT_VARIABLE, AppRegistry, Finder
from piccolo.engine import Engine, PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine

from core.db import piccolo_conf as conf
from core.db.engine import CachingPostgresEngine, CachingSQLiteEngine, engine_from_url

PICCOLO_CONF = "core.db.piccolo_conf"
CORE_APP = "core.piccolo_app"
POOL_CLOSE_SECONDS = 10.0  # a stopping process waits this long for its connections to come back
log = logging.getLogger("xueshi.db")

__all__ = ["configure", "engine", "engine_from_url", "migrate", "start_pool", "stop_pool", "is_postgres",
           "table_columns", "write_transaction", "for_update"]

_pool_users = 0


def configure(database_url: str, apps: Iterable[str] = ()) -> Engine:
    """Select the engine for this process, register the Piccolo apps (the core's first, then
    ``apps``: plugins' ``piccolo_app`` modules) and bind every table to the engine. The
    environment is left alone: Piccolo finds ``core.db.piccolo_conf`` as ``piccolo_conf``."""
    named = os.environ.get(ENVIRONMENT_VARIABLE)
    if named and named != PICCOLO_CONF:
        raise RuntimeError(f"{ENVIRONMENT_VARIABLE}={named} names another Piccolo configuration, whose engine "
                           "Piccolo's migrations would use: unset it (DATABASE_URL selects the database)")
    sys.modules[DEFAULT_MODULE_NAME] = conf
    if conf.DB_URL != database_url:
        conf.DB = engine_from_url(database_url)
        conf.DB_URL = database_url
    wanted = [CORE_APP, *[a for a in apps if a != CORE_APP]]
    if conf.APP_MODULES != wanted:
        conf.APP_REGISTRY = AppRegistry(apps=wanted)
        conf.APP_MODULES = wanted
    for table in [*Finder().get_table_classes(), Migration]:  # Migration: Piccolo's own, which ran
        table._meta.db = conf.DB
    return conf.DB


def engine() -> Engine:
    return conf.DB


def is_postgres() -> bool:
    return isinstance(engine(), PostgresEngine)


def write_transaction(table: type):
    """A transaction for read-then-write on ``table``'s database. On SQLite every transaction
    takes the write lock up front (``CachingSQLiteEngine``), so concurrent writers queue; on
    PostgreSQL a plain one, whose rows are locked with ``for_update``."""
    return table._meta.db.transaction()


def for_update(query):
    """``SELECT … FOR UPDATE`` on PostgreSQL; on SQLite the write transaction already holds the
    only write lock."""
    return query if isinstance(query.table._meta.db, SQLiteEngine) else query.lock_rows()


async def table_columns(tablename: str) -> set[str]:
    """The columns the database has for ``tablename``, empty when there is no such table: for a
    migration that moves data and must run on a database in the old or the new shape."""
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", tablename):
        raise ValueError(f"not a table name: {tablename!r}")
    db = engine()
    if isinstance(db, PostgresEngine):
        rows = await db.run_ddl("SELECT column_name AS name FROM information_schema.columns "
                                f"WHERE table_schema = current_schema() AND table_name = '{tablename}'")
    else:
        rows = await db.run_ddl(f"PRAGMA table_info('{tablename}')")
    return {dict(row)["name"] for row in rows}


async def _keep_session(connection) -> None:
    """The pool's reset of a released connection: nothing beyond asyncpg's own (it rolls back an
    open transaction and drops listeners first). asyncpg's default also runs
    ``pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL`` on every release, one more
    round trip per query (Piccolo takes a connection per query): ``benchmarks/bench_processes.py``
    prints both rates (docs/operations.md). The code holds no session state for it to
    clear (no session-level SET, advisory lock, cursor or LISTEN: ``tests/test_code_health.py``)."""


async def start_pool(size: int) -> None:
    """Open this process's PostgreSQL pool (shared by every app of the process; counted, so the
    last ``stop_pool`` closes it). No pool for SQLite or ``size <= 0``."""
    global _pool_users
    db = engine()
    if not isinstance(db, PostgresEngine) or size <= 0:
        return
    if _pool_users == 0 or db.pool is None:
        if isinstance(db, CachingPostgresEngine):  # statements go through the pool from now on
            await db.close_idle()
        await db.start_connection_pool(min_size=1, max_size=size, reset=_keep_session)
    _pool_users += 1


async def stop_pool() -> None:
    """Close this process's PostgreSQL pool (when its last user stops), or SQLite's idle
    connections."""
    global _pool_users
    db = engine()
    if isinstance(db, CachingSQLiteEngine | CachingPostgresEngine):
        await db.close_idle()
    if not isinstance(db, PostgresEngine) or _pool_users == 0:
        return
    _pool_users -= 1
    if _pool_users == 0 and db.pool is not None:
        try:  # close() waits for every connection to come back; past the bound, asyncpg terminates them
            await asyncio.wait_for(db.pool.close(), POOL_CLOSE_SECONDS)
        except TimeoutError:
            log.warning("database pool: connections still in use after %s s were terminated", POOL_CLOSE_SECONDS)
        db.pool = None


async def migrate(verbose: bool = False) -> None:
    """Run every pending migration of every registered app forwards (Piccolo's progress output
    only when verbose). The deploy step (``xueshi migrate``); serving processes never call it."""
    with contextlib.nullcontext() if verbose else contextlib.redirect_stdout(io.StringIO()):
        result = await run_forwards(app_name="all")
    if not result.success:
        raise RuntimeError(f"migration failed: {result.message}")
