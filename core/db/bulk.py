"""Many rows in one driver call, inside the caller's transaction.

Piccolo builds an insert or update statement value by value through its query strings (a
Table object per row, a conversion per value): for the thousands of rows of a bulk import that
cost several times the database's own work. These helpers hand the rows to the driver's
``executemany`` (aiosqlite, asyncpg) on the transaction's connection, with the column names
taken from the table's own columns (no name comes from input).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from piccolo.engine import PostgresEngine
from piccolo.table import Table


def _columns(table: type[Table], names: Sequence[str]) -> list[str]:
    known = {c._meta.db_column_name for c in table._meta.columns}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"{table._meta.tablename} has no column {unknown}")
    return [f'"{n}"' for n in names]


def _marks(table: type[Table], count: int, first: int = 1) -> list[str]:
    if isinstance(table._meta.db, PostgresEngine):
        return [f"${i}" for i in range(first, first + count)]
    return ["?"] * count


async def _executemany(table: type[Table], sql: str, rows: list[tuple]) -> None:
    transaction = table._meta.db.current_transaction.get()
    if transaction is None:
        raise RuntimeError("bulk writes run inside a transaction")
    await transaction.connection.executemany(sql, rows)


async def insert_many(table: type[Table], names: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
    """INSERT ``rows`` (values in the order of ``names``) in the current transaction."""
    if not rows:
        return
    sql = (f'INSERT INTO "{table._meta.tablename}" ({", ".join(_columns(table, names))}) '
           f'VALUES ({", ".join(_marks(table, len(names)))})')
    await _executemany(table, sql, rows)


async def update_many(table: type[Table], names: Sequence[str], rows: list[tuple[Any, ...]], key: str = "id") -> None:
    """UPDATE the rows whose ``key`` is each tuple's last value, setting ``names`` to its first ones."""
    if not rows:
        return
    columns = _columns(table, [*names, key])
    marks = _marks(table, len(names) + 1)
    sets = ", ".join(f"{c} = {m}" for c, m in zip(columns[:-1], marks[:-1]))
    sql = f'UPDATE "{table._meta.tablename}" SET {sets} WHERE {columns[-1]} = {marks[-1]}'
    await _executemany(table, sql, rows)
