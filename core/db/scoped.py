"""Scoped queries: the one way to read and write tenant-owned rows.

``scoped(Table, tenant)`` returns queries that already carry ``Table.tenant == tenant.id``; more
conditions are added with ``.where(...)`` as usual and can only narrow the result. New rows made
with ``.new(...)`` belong to the tenant. ``tests/test_scoped_queries.py`` fails when code outside
this module compares a ``tenant`` column by hand.

    learners = scoped(Account, tenant)
    row = await learners.get(account_id)                  # None for another tenant's id
    rows = await learners.objects().where(Account.role == "learner").order_by(Account.id)
    await learners.update({Account.active: False}).where(Account.id == account_id)
"""

from __future__ import annotations

import re
from typing import Any, Generic, TypeVar

from litestar.exceptions import NotFoundException
from piccolo.table import Table

T = TypeVar("T", bound=Table)


def _tenant_id(tenant: Any) -> int:
    tenant_id = tenant if isinstance(tenant, int) else getattr(tenant, "id", None)
    if not isinstance(tenant_id, int):
        raise ValueError("a scoped query needs an onboarded tenant (with an id)")
    return tenant_id


class Scoped(Generic[T]):
    """Queries on ``table`` restricted to one tenant's rows."""

    def __init__(self, table: type[T], tenant: Any) -> None:
        if "tenant" not in {c._meta.name for c in table._meta.columns}:
            raise TypeError(f"{table.__name__} has no tenant column: it is not tenant-owned")
        self.table = table
        self.tenant_id = _tenant_id(tenant)
        self._own = table.tenant == self.tenant_id  # type: ignore[attr-defined]

    def objects(self, *where: Any):
        query = self.table.objects().where(self._own)
        return query.where(*where) if where else query

    def select(self, *columns: Any):
        return self.table.select(*columns).where(self._own)

    def count(self, *where: Any):
        query = self.table.count().where(self._own)
        return query.where(*where) if where else query

    def exists(self, *where: Any):
        query = self.table.exists().where(self._own)
        return query.where(*where) if where else query

    def update(self, values: dict[Any, Any] | None = None, **kwargs: Any):
        return self.table.update(values or {}, **kwargs).where(self._own)

    def delete(self):
        return self.table.delete().where(self._own)

    async def get(self, row_id: int | None, *where: Any) -> T | None:
        if row_id is None:
            return None
        return await self.objects(self.table._meta.primary_key == row_id, *where).first()

    async def get_or_404(self, row_id: int | None, *where: Any) -> T:
        row = await self.get(row_id, *where)
        if row is None:
            raise NotFoundException()
        return row

    async def update_each(self, rows: list[tuple], types: list[str], assignments: dict[str, str]) -> None:
        """One ``UPDATE … FROM (VALUES …)`` for many rows of this tenant (PostgreSQL and SQLite
        ≥ 3.33): ``rows`` are tuples whose first value is the row's id; ``types`` the SQL type of
        each value; ``assignments`` map a column to an expression over ``v.column2`` … (the row's
        other values, in order) and the table's own columns. Rows of another tenant are untouched."""
        if not rows:
            return
        name = self.table._meta.tablename
        if self.table._meta.db.engine_type == "sqlite":  # CAST to a date type would keep only the year
            types = ["TEXT" if t == "TIMESTAMPTZ" else t for t in types]
        one = "(" + ", ".join(f"CAST({{}} AS {t})" for t in types) + ")"
        sets = ", ".join(f"{column} = {expression}" for column, expression in assignments.items())
        sql = (f"UPDATE {name} SET {sets} FROM (VALUES {', '.join([one] * len(rows))}) AS v "
               f"WHERE {name}.id = v.column1 AND {name}.tenant = {{}}")
        await self._bulk(sql, [*[value for row in rows for value in row], self.tenant_id])

    async def insert_many(self, columns: list[str], rows: list[tuple]) -> None:
        """One multi-row ``INSERT`` of this tenant's rows (``columns``: names, ``tenant`` added),
        without building a row object per row (the beat buffer's flush writes thousands)."""
        if not rows:
            return
        one = "(" + ", ".join(["{}"] * (len(columns) + 1)) + ")"
        sql = (f"INSERT INTO {self.table._meta.tablename} (tenant, {', '.join(columns)}) "
               f"VALUES {', '.join([one] * len(rows))}")
        await self._bulk(sql, [value for row in rows for value in (self.tenant_id, *row)])

    async def _bulk(self, sql: str, args: list[Any]) -> None:
        """Run a statement with thousands of ``{}`` parameters. Inside a transaction, straight on
        its connection with the driver's placeholders (Piccolo's query-string compiler costs
        ~0.1 ms per parameter, more than the database); otherwise through ``Table.raw``."""
        db = self.table._meta.db
        transaction = db.current_transaction.get()
        while transaction is not None and getattr(transaction, "_parent", None) is not None:
            transaction = transaction._parent
        connection = getattr(transaction, "connection", None)
        if connection is None:
            await self.table.raw(sql, *args)
            return
        if db.engine_type == "sqlite":
            await connection.execute(sql.replace("{}", "?"), args)
            return
        numbers = iter(range(1, len(args) + 1))
        await connection.execute(re.sub(r"\{\}", lambda _: f"${next(numbers)}", sql), *args)

    def new(self, **values: Any) -> T:
        """A new row of this tenant (not saved yet)."""
        values.pop("tenant", None)
        return self.table(tenant=self.tenant_id, **values)


def scoped(table: type[T], tenant: Any) -> Scoped[T]:
    """Queries on ``table`` that cannot leave ``tenant`` (a Tenant or its id)."""
    return Scoped(table, tenant)
