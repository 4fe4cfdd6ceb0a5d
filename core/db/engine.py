"""Engine from a DATABASE_URL (a leaf module: Piccolo only)."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import sqlite3
import weakref
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import aiosqlite
import asyncpg
from piccolo.engine import Engine, PostgresEngine, SQLiteEngine
from piccolo.engine.postgres import PostgresTransaction
from piccolo.engine.sqlite import SQLiteTransaction, TransactionType, dict_factory

SQLITE_LOCK_WAIT_SECONDS = 30.0
SQLITE_IDLE_CONNECTIONS = 4
POSTGRES_IDLE_CONNECTIONS = 4


class _AfterCommit:
    """A transaction with ``after(callback)``: awaited once the outermost transaction has ended
    (a cache of rows it wrote is invalidated when other connections can see the new rows)."""

    def after(self, callback: Callable[[], Awaitable[None]]) -> None:
        self.__dict__.setdefault("callbacks", []).append(callback)

    async def __aexit__(self, exception_type, exception, traceback) -> bool:
        result = await super().__aexit__(exception_type, exception, traceback)  # type: ignore[misc]
        if not self._parent:  # type: ignore[attr-defined]
            for callback in self.__dict__.get("callbacks", ()):
                await callback()
        return result


class _EndsCleanly:
    """A Piccolo transaction that hands its connection back in every case (``_hand_back``).

    Piccolo's own transactions skip that when BEGIN, COMMIT or ROLLBACK raises or is cancelled (a
    job cancelled at stop, a connection the server ended, a SQLite writer waiting for the lock),
    so the connection stays out with its transaction possibly open: PostgreSQL's pool then waits
    for it forever when it closes, and on SQLite a cancelled BEGIN IMMEDIATE, still running in the
    connection's thread, takes the write lock later and holds it for good."""

    async def __aenter__(self):
        if self._parent is not None:
            return self._parent
        self.connection = await self.get_connection()
        try:
            await self.begin()
        except BaseException:
            await self._hand_back(clean=False)
            raise
        self.context = self.engine.current_transaction.set(self)
        return self

    async def __aexit__(self, exception_type, exception, traceback) -> bool:
        if self._parent:
            return exception is None
        clean = False
        try:
            if exception:
                if not self._rolled_back:
                    await self.rollback()
            elif not self._committed and not self._rolled_back:
                await self.commit()
            clean = True
        finally:
            self.engine.current_transaction.reset(self.context)
            await self._hand_back(clean=clean)
        return exception is None


class _ReleasingPostgresTransaction(_EndsCleanly, PostgresTransaction):
    """A connection whose transaction did not end cleanly is terminated (its transaction dies
    with it); either way it goes back to the pool."""

    async def begin(self) -> None:
        self.transaction = self.connection.transaction()
        await super().begin()

    async def _hand_back(self, clean: bool) -> None:
        if not clean:
            self.connection.terminate()
        if self.engine.pool:
            await self.engine.pool.release(self.connection)
        elif clean:
            await self.connection.close()


class XsPostgresTransaction(_AfterCommit, _ReleasingPostgresTransaction):
    pass


class _ClosingSQLiteTransaction(_EndsCleanly, SQLiteTransaction):
    """The connection is closed either way (closing rolls back an open transaction). After a
    failure the close runs in the connection's thread once its statement returns, without the
    failed or cancelled caller waiting for it."""

    async def _hand_back(self, clean: bool) -> None:
        closing = _close_soon(self.connection)
        if clean:
            await closing


_CLOSING: set[asyncio.Task] = set()  # closes under way, referenced until done


def _close_soon(connection: aiosqlite.Connection) -> asyncio.Task:
    """Start closing ``connection``; it goes on whether or not anyone waits for it."""
    task = asyncio.ensure_future(connection.close())
    _CLOSING.add(task)
    task.add_done_callback(_closed)
    return task


def _closed(task: asyncio.Task) -> None:
    _CLOSING.discard(task)
    if not task.cancelled():
        task.exception()  # a failed close of a connection being dropped is not an error to report


class XsSQLiteTransaction(_AfterCommit, _ClosingSQLiteTransaction):
    pass


class XsPostgresEngine(PostgresEngine):
    def transaction(self, allow_nested: bool = True) -> PostgresTransaction:
        return XsPostgresTransaction(engine=self, allow_nested=allow_nested)


class CachingSQLiteEngine(SQLiteEngine):
    """Piccolo's SQLite engine, keeping up to ``idle`` connections open between statements.

    Piccolo opens a new aiosqlite connection (a new thread, a file open and a PRAGMA) for every
    statement outside a transaction and closes it after: most of a page's database time. Here a
    statement takes an idle connection, or opens one, and hands it back afterwards; each
    connection serves one statement at a time. Transactions keep Piccolo's own connection.
    The idle list is a deque (atomic append/pop): no lock bound to one event loop, since the
    test client and the app may run on different loops of one process.

    Transactions begin IMMEDIATE (taking the write lock at BEGIN) unless asked otherwise: a
    deferred one that reads first and then writes fails at once with "database is locked" when
    another connection writes meanwhile (SQLite refuses to wait there, to avoid a deadlock).

    The database is put in WAL mode (kept in the file) by the first connection: readers and the
    writer no longer block each other, and a commit costs one fsync of the log instead of the
    rollback journal's several (``synchronous`` stays FULL: a commit survives a power cut).
    """

    def __init__(self, path: str, idle: int = SQLITE_IDLE_CONNECTIONS, **connection_kwargs: Any) -> None:
        super().__init__(path=path, **connection_kwargs)
        self.idle_max = idle
        self._idle: collections.deque = collections.deque()
        self._wal = False

    async def _open(self) -> aiosqlite.Connection:
        connection = aiosqlite.connect(**self.connection_kwargs)
        # aiosqlite's worker thread is not a daemon: an idle connection left open would keep the
        # interpreter from exiting. Idle connections hold no transaction, so nothing is lost.
        connection._thread.daemon = True
        await connection
        connection.row_factory = dict_factory
        await connection.execute("PRAGMA foreign_keys = 1")
        if not self._wal:
            try:
                async with connection.execute("PRAGMA journal_mode = WAL") as cursor:
                    self._wal = (await cursor.fetchall())[0]["journal_mode"] == "wal"
            except sqlite3.OperationalError:  # another connection holds a lock: the next open retries
                pass
        return connection

    async def _run_in_new_connection(self, query: str, args: list[Any] | None = None, query_type: str = "generic",
                                     table: Any = None):
        if query_type == "insert" and self.get_version_sync() < 3.35:  # no RETURNING: Piccolo's way
            return await super()._run_in_new_connection(query, args, query_type, table)
        try:
            connection = self._idle.pop()
        except IndexError:
            connection = await self._open()
        reusable = False
        try:
            async with connection.execute(query, args or []) as cursor:
                rows = await cursor.fetchall()
            if connection.in_transaction:  # a statement that opened one (as Piccolo, commit it)
                await connection.commit()
            reusable = True
            return rows
        finally:
            if reusable and len(self._idle) < self.idle_max:
                self._idle.append(connection)
            else:
                await connection.close()

    def transaction(self, transaction_type: TransactionType = TransactionType.immediate,
                    allow_nested: bool = True) -> SQLiteTransaction:
        return XsSQLiteTransaction(engine=self, transaction_type=transaction_type, allow_nested=allow_nested)

    async def close_idle(self) -> None:
        """Close the idle connections (a stopping process; the next statement opens anew)."""
        while self._idle:
            await self._idle.pop().close()


class CachingPostgresEngine(XsPostgresEngine):
    """Piccolo's PostgreSQL engine, keeping up to ``idle`` connections per event loop open
    between statements run outside a pool.

    A serving process runs its statements through its pool (``core.db.start_pool``). Without
    one (the CLI, and the tests, whose clients and servers run on several event loops of one
    process) Piccolo connects anew for every statement and closes after: a TCP connection and a
    backend start, tens of milliseconds, for a sub-millisecond query. An asyncpg connection
    belongs to the loop that opened it, so idle ones are kept per loop (forgotten with their
    loop). No session state is kept between statements (``core.db`` sets none: see
    ``tests/test_code_health.py``); a connection that failed is closed, never reused.
    """

    def __init__(self, config: dict[str, Any], idle: int = POSTGRES_IDLE_CONNECTIONS, **kwargs: Any) -> None:
        # Piccolo's constructor already runs a statement (the server's version), on an event loop
        # of its own that ends with it: that connection is closed, not kept idle for a loop that
        # never runs again (it stayed open beside the pool for the process's life).
        self.idle_max = 0
        self._idle: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, collections.deque] = (
            weakref.WeakKeyDictionary())
        super().__init__(config=config, **kwargs)
        self.idle_max = idle

    async def _run_in_new_connection(self, query: str, args: Any = None):
        idle = self._idle.setdefault(asyncio.get_running_loop(), collections.deque())
        connection = None
        while idle and connection is None:
            connection = idle.pop()
            if connection.is_closed():  # the server ended it while idle
                connection = None
        if connection is None:
            connection = await self.get_new_connection()
        reusable = False
        try:
            rows = await connection.fetch(query, *(args or []))
            reusable = not connection.is_in_transaction()
            return rows
        finally:
            if reusable and len(idle) < self.idle_max:
                idle.append(connection)
            else:
                await connection.close()

    async def close_idle(self) -> None:
        """Close this loop's idle connections (a stopping process; the next statement opens anew)."""
        idle = self._idle.pop(asyncio.get_running_loop(), collections.deque())
        while idle:
            connection = idle.pop()
            with contextlib.suppress(asyncpg.PostgresError, OSError):
                await connection.close()


def engine_from_url(url: str) -> Engine:
    parsed = urlparse(url)
    if parsed.scheme == "sqlite":
        # sqlite:///relative/path or sqlite:////absolute/path
        path = url.split("sqlite:///", 1)[1] if "sqlite:///" in url else parsed.path
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        # sqlite3's default wait for the write lock is 5 s; simultaneous writers queue behind it,
        # and under load (hundreds of requests on two cores) 5 s ran out: "database is locked".
        # Piccolo's docs recommend raising it for concurrent writes.
        return CachingSQLiteEngine(path=path, timeout=SQLITE_LOCK_WAIT_SECONDS)
    if parsed.scheme in {"postgres", "postgresql"}:
        return CachingPostgresEngine(config={"dsn": url})
    raise ValueError(f"DATABASE_URL must start with sqlite:/// or postgres://, got {parsed.scheme!r}")
