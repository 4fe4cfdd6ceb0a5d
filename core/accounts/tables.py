"""The account tables. Every ``UPDATE`` or ``DELETE`` of ``account`` rows made through Piccolo
(``Account.update``, ``save()`` of a stored row, ``remove()``, ``Account.delete``) reports the
changed rows' ids to the ``WATCHERS`` (the sessions of every started platform of the process,
which keep accounts per process: ``core.accounts.sessions``), after the transaction it ran in
ends, if any."""

from __future__ import annotations

import asyncio
import weakref
from typing import Any

from piccolo.columns import Boolean, ForeignKey, Integer, Timestamptz, Varchar
from piccolo.query.methods.delete import Delete
from piccolo.query.methods.update import Update
from piccolo.table import Table

from core.tenants.tables import TenantRow


class Enterprise(Table, tablename="enterprise"):
    """A company of a tenant (unique credit code within the tenant): the employer a roster entry,
    a learner profile, an import or an account belongs to. Whether and how a company is vetted is
    a plugin's concern (the survey association's ``CompanyCertification``)."""

    tenant = ForeignKey(references=TenantRow, null=False)
    name = Varchar(length=200)
    credit_code = Varchar(length=18, null=True, default=None)
    address = Varchar(length=300, default="")
    created_at = Timestamptz()


# Objects with ``forget(ids)`` (drop what the process keeps of these rows), ``async
# accounts_changed(ids)`` (also tell the other processes, through the watcher's store) and
# ``loop`` (the event loop its store's client belongs to).
WATCHERS: weakref.WeakSet = weakref.WeakSet()
OTHER_LOOP_SECONDS = 5.0


async def _report(ids: list[int]) -> None:
    """Every watcher of the process is told, each on its own event loop (a store's client serves
    the loop it was made on; a process serving on one loop has its watcher there, while tests and
    the CLI may change rows from another loop); a watcher whose loop no longer runs only forgets."""
    loop = asyncio.get_running_loop()
    for watcher in list(WATCHERS):
        if watcher.loop is loop:
            await watcher.accounts_changed(ids)
        elif watcher.loop is not None and watcher.loop.is_running():
            told = asyncio.run_coroutine_threadsafe(watcher.accounts_changed(ids), watcher.loop)
            try:
                await asyncio.wait_for(asyncio.wrap_future(told), OTHER_LOOP_SECONDS)
            except TimeoutError:  # that loop is blocked: its copies go, its store is not written
                watcher.forget(ids)
        else:
            watcher.forget(ids)


class _Reported:
    """``run`` of an account ``UPDATE``/``DELETE``: the statement returns the rows' ids too."""

    __slots__ = ()

    async def run(self, node: str | None = None, in_pool: bool = True) -> Any:
        returning = self.returning_delegate._returning  # type: ignore[attr-defined]
        columns = list(returning.columns) if returning else []
        pk = self.table._meta.primary_key  # type: ignore[attr-defined]
        if not any(c._meta.name == pk._meta.name for c in columns):
            self.returning_delegate.returning([*columns, pk])  # type: ignore[attr-defined]
        rows = await super().run(node=node, in_pool=in_pool)  # type: ignore[misc]
        ids = [row[pk._meta.name] for row in rows]
        if ids and WATCHERS:
            transaction = self.table._meta.db.current_transaction.get()  # type: ignore[attr-defined]
            if transaction is None:
                await _report(ids)
            else:  # core.db.engine's transactions: once the rows are visible to other connections
                transaction.after(lambda: _report(ids))
        return rows if returning else []


class _ReportedUpdate(_Reported, Update):
    __slots__ = ()


class _ReportedDelete(_Reported, Delete):
    __slots__ = ()


class Account(Table, tablename="account"):
    """A person who signs in. ID number and mobile are unique within a tenant (migration index).

    ``tenant`` is NULL only for platform operators.
    """

    tenant = ForeignKey(references=TenantRow, null=True)
    role = Varchar(length=32)  # operator, a role of core.values.TENANT_ROLES or one a plugin declares (account_roles)
    real_name = Varchar(length=100, default="")
    id_number = Varchar(length=18, null=True, default=None)
    mobile = Varchar(length=11, null=True, default=None)
    username = Varchar(length=64, null=True, default=None)
    password_hash = Varchar(length=200, default="")
    must_change_password = Boolean(default=False)
    last_signin_at = Timestamptz(null=True, default=None)
    enterprise = ForeignKey(references=Enterprise, null=True)
    active = Boolean(default=True)
    created_at = Timestamptz()

    @classmethod
    def update(cls, *args: Any, **kwargs: Any) -> Update:
        query = super().update(*args, **kwargs)
        query.__class__ = _ReportedUpdate
        return query

    @classmethod
    def delete(cls, *args: Any, **kwargs: Any) -> Delete:
        query = super().delete(*args, **kwargs)
        query.__class__ = _ReportedDelete
        return query


class SmsCode(Table, tablename="sms_code"):
    """A one-time SMS code: stored hashed, expires, single use, attempts counted."""

    tenant = ForeignKey(references=TenantRow, null=False)
    mobile = Varchar(length=11, index=True)
    purpose = Varchar(length=32)  # signin | register | enterprise
    code_hash = Varchar(length=200)
    client = Varchar(length=64, default="")  # the requesting address, for rate limits
    attempts = Integer(default=0)
    expires_at = Timestamptz()
    used_at = Timestamptz(null=True, default=None)
    created_at = Timestamptz()
