"""A SQLite transaction cancelled or failing at its edges never leaves the write lock held."""

from __future__ import annotations

import asyncio
import sqlite3

from core.db.engine import engine_from_url


def _can_write(path, timeout: float) -> bool:
    probe = sqlite3.connect(path, isolation_level=None, timeout=timeout)
    try:
        probe.execute("BEGIN IMMEDIATE")
        probe.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError:
        return False
    finally:
        probe.close()


async def test_a_transaction_cancelled_while_waiting_to_begin_never_takes_the_lock_for_good(tmp_path):
    """The cancelled BEGIN IMMEDIATE still runs in its connection's thread and takes the write
    lock once the other writer commits; with Piccolo's own transaction it then holds it forever
    (the database stays locked for every other writer). Here its connection is closed."""
    path = tmp_path / "cancel.sqlite3"
    db = engine_from_url(f"sqlite:///{path}")
    await db.run_ddl("CREATE TABLE t (n INTEGER)")
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")

    async def write():
        async with db.transaction():
            await db.run_ddl("INSERT INTO t VALUES (1)")

    task = asyncio.create_task(write())
    await asyncio.sleep(0.3)  # waiting in BEGIN IMMEDIATE behind the holder
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    holder.execute("COMMIT")
    holder.close()
    await asyncio.sleep(1.0)  # the cancelled BEGIN's busy wait retries and takes the lock meanwhile
    assert await asyncio.to_thread(_can_write, path, 5.0)
    assert (await db.run_ddl("SELECT count(*) AS c FROM t"))[0]["c"] == 0
    await db.close_idle()


async def test_a_transaction_cancelled_inside_rolls_back_and_frees_the_lock(tmp_path):
    path = tmp_path / "inside.sqlite3"
    db = engine_from_url(f"sqlite:///{path}")
    await db.run_ddl("CREATE TABLE t (n INTEGER)")
    started = asyncio.Event()

    async def write():
        async with db.transaction():
            await db.run_ddl("INSERT INTO t VALUES (1)")
            started.set()
            await asyncio.sleep(30)

    task = asyncio.create_task(write())
    await started.wait()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert await asyncio.to_thread(_can_write, path, 5.0)
    assert (await db.run_ddl("SELECT count(*) AS c FROM t"))[0]["c"] == 0
    await db.close_idle()
