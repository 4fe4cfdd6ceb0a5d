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
from piccolo.querystring import QueryString
from piccolo.table import Table

T = TypeVar("T", bound=Table)


def _tenant_id(tenant: Any) -> int:
    tenant_id = tenant if isinstance(tenant, int) else getattr(tenant, "id", None)
    if not isinstance(tenant_id, int):
        raise ValueError("a scoped query needs an onboarded tenant (with an id)")
    return tenant_id


_OWNED: set[type] = set()  # tables known to have a tenant column


class Scoped(Generic[T]):
    """Queries on ``table`` restricted to one tenant's rows."""

    def __init__(self, table: type[T], tenant: Any) -> None:
        if table not in _OWNED:  # checked once per table: a job builds several scoped queries a row
            if "tenant" not in {c._meta.name for c in table._meta.columns}:
                raise TypeError(f"{table.__name__} has no tenant column: it is not tenant-owned")
            _OWNED.add(table)
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
        if not where:  # the common case, on most requests' path: one prepared statement
            return await self.first_by(self.table._meta.primary_key, row_id)
        return await self.objects(self.table._meta.primary_key == row_id, *where).first()

    async def first_by(self, column: Any, value: Any) -> T | None:
        """A row whose ``column`` equals ``value`` (as ``objects(column == value).first()``), by a
        statement written once per table and column."""
        rows = await self.table._meta.db.run_querystring(QueryString(_by_column_sql(self.table, column), value,
                                                                     self.tenant_id))
        if not rows:
            return None
        return self.table(**self.table._meta.db.transform_response_to_dicts(rows)[0], _exists_in_db=True)

    async def get_or_404(self, row_id: int | None, *where: Any) -> T:
        row = await self.get(row_id, *where)
        if row is None:
            raise NotFoundException()
        return row

    async def run(self, sql: str, *args: Any) -> list[dict[str, Any]]:
        """The rows of a statement written by hand, for a hot path where building it through
        Piccolo's query objects costs more than the database's answer: each ``{}`` in ``sql``
        takes the next of ``args``, each ``{tenant}`` this tenant's id, which must bound every
        tenant-owned table the statement reads or writes (a statement without one is refused)."""
        template, tenant_at = _hand_written(sql)
        values, given = [], iter(args)
        for is_tenant in tenant_at:
            values.append(self.tenant_id if is_tenant else next(given))
        db = self.table._meta.db
        return db.transform_response_to_dicts(await db.run_querystring(QueryString(template, *values)))

    def new(self, **values: Any) -> T:
        """A new row of this tenant (not saved yet)."""
        values.pop("tenant", None)
        return self.table(tenant=self.tenant_id, **values)


_BY_COLUMN: dict[tuple[type, str], str] = {}


def _by_column_sql(table: type[Table], column: Any) -> str:
    """``SELECT`` every column of one row by one column's value and the tenant, as
    ``objects().first()`` would (same columns and names), written once per table and column:
    building it through Piccolo's query objects took more time than the database's answer."""
    key = (table, column._meta.db_column_name)
    sql = _BY_COLUMN.get(key)
    if sql is None:
        name = table._meta.get_formatted_tablename()
        columns = ", ".join(f'{name}."{c._meta.db_column_name}" AS "{c._meta.name}"' for c in table._meta.columns)
        sql = _BY_COLUMN[key] = (f'SELECT {columns} FROM {name} WHERE {name}."{key[1]}"'
                                 ' = {} AND ' f'{name}."tenant" = {{}} LIMIT 1')
    return sql


_HAND_WRITTEN: dict[str, tuple[str, tuple[bool, ...]]] = {}


def _hand_written(sql: str) -> tuple[str, tuple[bool, ...]]:
    """``sql`` with Piccolo's ``{}`` for each placeholder, and which of them is the tenant's id."""
    found = _HAND_WRITTEN.get(sql)
    if found is None:
        slots = tuple(m == "{tenant}" for m in re.findall(r"\{tenant\}|\{\}", sql))
        if not any(slots):
            raise ValueError("a hand-written statement on tenant-owned rows must bound them with {tenant}")
        found = _HAND_WRITTEN[sql] = (sql.replace("{tenant}", "{}"), slots)
    return found


def scoped(table: type[T], tenant: Any) -> Scoped[T]:
    """Queries on ``table`` that cannot leave ``tenant`` (a Tenant or its id)."""
    return Scoped(table, tenant)
