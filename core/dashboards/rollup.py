"""Credited 学时 per tenant day from a rollup of the ledger, kept exact by reading the rows above
its mark live.

The ledger (``HoursEntry``) only grows: the study flusher appends rows, a clearing appends
negative ones. The ``roll_up_ledger`` job (every minute) adds the positive and the negative
seconds of each tenant's rows with ids above ``HoursRollup.last_id`` to ``HoursDay`` (per course
and tenant day), with ``INSERT … ON CONFLICT DO UPDATE``, and moves the mark, in one transaction. Writers of
the ledger take no lock of the rollup: only the job writes it.

``hours_by_day`` (the tenant dashboard) and ``net_seconds_since`` (the operator's) read, in one
statement (one snapshot), the rollup's days plus the ledger rows above the mark, so its figures equal a count of the ledger whether the job ran a second or an hour
ago. With a company filter the ledger is read directly (the rollup has no company); rows deleted
from the ledger (an account or enrolment deleted, with its rows) stay in the rollup.

Only on PostgreSQL: its ids come from a sequence and are never given twice. SQLite gives the next
row the id after the highest one left, so once the highest rows are deleted (an account purged,
with its ledger rows) new rows would get ids at or below the mark and be counted nowhere. On
SQLite (the demo's database) the job rolls nothing up and the pages read the whole ledger."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from piccolo.columns.combination import WhereRaw
from piccolo.query.functions.aggregate import Sum
from piccolo.querystring import QueryString

from core import tenant_time
from core.dashboards import sql
from core.dashboards.tables import HoursDay, HoursRollup
from core.dashboards.values import DashboardFilters
from core.db.scoped import scoped
from core.jobs.specs import JobSpec, platform_of
from core.study.tables import HoursEntry
from core.tenancy import Tenant

log = logging.getLogger("xueshi.dashboards")
LOCK_TIMEOUT_MS = 200
LOCK_NOT_AVAILABLE = "55P03"  # PostgreSQL's SQLSTATE when lock_timeout ran out


async def safe_mark() -> int | None:
    """The highest ledger id at or below which every row is committed (None: not known now).

    PostgreSQL gives a row its id when it is inserted, not when it commits, so an open
    transaction may hold a lower id than a committed one. A SHARE lock on the ledger waits for the
    inserting transactions to end (at most ``LOCK_TIMEOUT_MS``; else None and the next run tries
    again) and is released right after the highest id is read: later inserts get higher ids."""
    db = HoursEntry._meta.db
    highest = QueryString("SELECT MAX(id) AS mark FROM hours_entry")
    try:
        async with db.transaction():
            await db.run_querystring(QueryString(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT_MS}ms'"))
            await db.run_querystring(QueryString("LOCK TABLE hours_entry IN SHARE MODE"))
            rows = await db.run_querystring(highest)
    except Exception as error:
        if getattr(error, "sqlstate", None) == LOCK_NOT_AVAILABLE:
            return None
        raise
    return int(rows[0]["mark"] or 0)


def _signed(sign: str) -> QueryString:
    """The sum of the positive (``>``) or negative (``<``) seconds of the grouped ledger rows."""
    return QueryString(f"SUM(CASE WHEN {{}} {sign} 0 THEN {{}} ELSE 0 END)", HoursEntry.seconds, HoursEntry.seconds,
                       alias="seconds" if sign == ">" else "reversed")


async def roll_up(tenant: Tenant, mark: int) -> int:
    """Adds the tenant's ledger rows with ids in (``last_id``, ``mark``] to ``HoursDay`` and
    moves ``last_id`` to ``mark``; returns the tenant's mark afterwards. Two runs at once: the
    second one's conditional update of the mark finds it moved and writes nothing."""
    db = HoursDay._meta.db
    await db.run_querystring(QueryString(
        "INSERT INTO dashboard_hours_rollup (tenant, last_id) VALUES ({}, 0) ON CONFLICT (tenant) DO NOTHING",
        tenant.id))
    tz = tenant_time.zone(tenant)
    day = sql.local_date(HoursEntry.created_at, tz)
    course = QueryString("COALESCE({}, 0)", HoursEntry.enrollment.course, alias="course")
    async with db.transaction():
        row = await scoped(HoursRollup, tenant).select(HoursRollup.last_id).first()
        last = int(row["last_id"])
        if mark <= last:
            return last
        moved = await scoped(HoursRollup, tenant).update({HoursRollup.last_id: mark}).where(
            HoursRollup.last_id == last).returning(HoursRollup.id)
        if not moved:  # another run moved it meanwhile (and rolled those rows up)
            row = await scoped(HoursRollup, tenant).select(HoursRollup.last_id).first()
            return int(row["last_id"])
        delta = scoped(HoursEntry, tenant).select(course, day, _signed(">"), _signed("<")).where(
            HoursEntry.id > last, HoursEntry.id <= mark).group_by(course, day)
        await db.run_querystring(QueryString(
            "INSERT INTO dashboard_hours_day (tenant, course, day, seconds, reversed) "
            "SELECT {}, d.course, d.day, d.seconds, d.reversed FROM ({}) AS d WHERE true "
            "ON CONFLICT (tenant, course, day) DO UPDATE SET seconds = dashboard_hours_day.seconds + excluded.seconds, "
            "reversed = dashboard_hours_day.reversed + excluded.reversed",
            tenant.id, delta.querystrings[0]))
    return mark


async def roll_up_ledger(ctx: dict[str, Any]) -> dict[str, int]:
    """Cron job: ``roll_up`` for every tenant, to the same safe mark (PostgreSQL only)."""
    if not sql.postgres(HoursEntry):
        return {}
    mark = await safe_mark()
    if mark is None:
        log.info("ledger rollup skipped: inserts still open after %s ms", LOCK_TIMEOUT_MS)
        return {}
    return {t.slug: await roll_up(t, mark) for t in platform_of(ctx).tenants if t.id is not None}


def _above_mark(tenant: Tenant) -> WhereRaw:
    """The ledger rows the rollup does not hold yet (read in the same statement as the rollup)."""
    return WhereRaw('"hours_entry"."id" > COALESCE((SELECT last_id FROM dashboard_hours_rollup '
                    "WHERE dashboard_hours_rollup.tenant = {}), 0)", tenant.id)


async def net_seconds_since(tenant: Tenant, start: dt.date) -> float:
    """The seconds of all the tenant's ledger rows from ``start`` (its date) on, credited minus
    reversed (the operator's 本年计入学时)."""
    since = dt.datetime.combine(start, dt.time(), tenant_time.zone(tenant))
    rolled = scoped(HoursDay, tenant).select(QueryString("{} + {}", HoursDay.seconds, HoursDay.reversed,
                                                         alias="seconds")).where(
        HoursDay.day >= start, sql.on_course(tenant, DashboardFilters(), HoursDay.course))
    tail = scoped(HoursEntry, tenant).select(HoursEntry.seconds).where(HoursEntry.created_at >= since,
                                                                       _above_mark(tenant))
    rows = await HoursDay._meta.db.run_querystring(QueryString(
        "SELECT SUM(u.seconds) AS seconds FROM ({} UNION ALL {}) AS u", rolled.querystrings[0], tail.querystrings[0]))
    return float(rows[0]["seconds"] or 0) if rows else 0.0


async def rows_above_mark(tenant: Tenant) -> int:
    """How many of the tenant's ledger rows the rollup does not hold yet."""
    return await scoped(HoursEntry, tenant).count(_above_mark(tenant))


async def hours_by_day(tenant: Tenant, f: DashboardFilters, start: dt.date, end: dt.date) -> dict[dt.date, float]:
    """Credited seconds (positive ledger rows) per tenant day from ``start`` to ``end``."""
    tz = tenant_time.zone(tenant)
    since = dt.datetime.combine(start, dt.time(), tz)
    until = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), tz)
    day = sql.local_date(HoursEntry.created_at, tz)
    ledger = [HoursEntry.created_at >= since, HoursEntry.created_at < until, HoursEntry.seconds > 0,
              *sql.where(tenant, f, HoursEntry.enrollment)]
    if f.company:
        rows = await scoped(HoursEntry, tenant).select(day, Sum(HoursEntry.seconds, alias="seconds")).where(
            *ledger).group_by(day)
    else:
        tail = scoped(HoursEntry, tenant).select(day, HoursEntry.seconds.as_alias("seconds")).where(
            *ledger, _above_mark(tenant))
        rolled = scoped(HoursDay, tenant).select(HoursDay.day.as_alias("day"), HoursDay.seconds.as_alias("seconds")).where(
            HoursDay.day >= start, HoursDay.day <= end, sql.on_course(tenant, f, HoursDay.course))
        rows = await HoursDay._meta.db.run_querystring(QueryString(
            "SELECT u.day AS day, SUM(u.seconds) AS seconds FROM ({} UNION ALL {}) AS u GROUP BY u.day",
            rolled.querystrings[0], tail.querystrings[0]))
    return {sql.as_date(r["day"]): float(r["seconds"] or 0) for r in rows}


JOBS = [JobSpec(roll_up_ledger, timeout=5 * 60, retries=0, cron="* * * * *", label="汇总每日计入学时", record=False)]
