"""The ledger's rollup for the dashboards (core.dashboards.rollup): credited hours per day stay
equal to a count made here from the ledger's rows before the rollup job runs, after it, after new
rows, per tenant, and when two runs overlap. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import datetime as dt
import os

import pytest

from core import tenant_time
from core.dashboards import rollup
from core.dashboards.tables import HoursDay, HoursRollup
from core.dashboards.values import DashboardFilters
from core.study.tables import HoursEntry
from dashboard_helpers import build

ALL = DashboardFilters(year=None)
ON_POSTGRES = pytest.mark.skipif(not os.environ.get("XUESHI_TEST_DATABASE_URL"),
                                 reason="the rollup is PostgreSQL's (SQLite reuses a deleted top row's id)")


def same(expected):
    """Seconds summed in another order (the rollup, the database, Python) differ in the last bit."""
    return pytest.approx(expected, rel=1e-12, abs=1e-9)
DAYS = 30


def window(tenant):
    end = tenant_time.today(tenant)
    return end - dt.timedelta(days=DAYS - 1), end


async def counted(tenant, course: int | None = None, up_to: int | None = None) -> dict[dt.date, float]:
    """Positive seconds per tenant day of the window, from the tenant's ledger rows themselves."""
    tz = tenant_time.zone(tenant)
    start, end = window(tenant)
    out: dict[dt.date, float] = {}
    rows = await HoursEntry.objects(HoursEntry.enrollment).where(HoursEntry.tenant == tenant.id)
    for r in rows:
        day = tenant_time.local(r.created_at, tz).date()
        if r.seconds > 0 and start <= day <= end and (course is None or (r.enrollment and r.enrollment.course ==
                                                                             course)) and (up_to is None or r.id <= up_to):
            out[day] = out.get(day, 0.0) + r.seconds
    return out


async def figures(tenant, f=ALL) -> dict[dt.date, float]:
    return {d: s for d, s in (await rollup.hours_by_day(tenant, f, *window(tenant))).items() if s}


async def rolled(tenant) -> float:
    return sum(r["seconds"] for r in await HoursDay.select(HoursDay.seconds).where(HoursDay.tenant == tenant.id))


async def add_hours(w, seconds: float, days_ago: int = 0) -> None:
    e = w.enrolments["studying"]
    await HoursEntry(tenant=w.tenant.id, account=e.account, enrollment=e.id, seconds=seconds, claimed=60.0,
                     created_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=days_ago)).save()


@ON_POSTGRES
async def test_hours_per_day_equal_the_ledger_before_and_after_the_job_and_after_new_rows(platform, make_account):
    other = await build(platform, make_account, slug="survey")
    w = await build(platform, make_account)
    tenant = w.tenant
    await add_hours(w, 600.0, days_ago=3)
    assert await figures(tenant) == same(await counted(tenant))  # before any run: the ledger above the mark
    result = await rollup.roll_up_ledger({"platform": platform})
    mark = result["construction"]
    assert mark >= (await HoursEntry.select(HoursEntry.id).order_by(HoursEntry.id, ascending=False).first())["id"]
    # The rollup holds the rows up to the mark; the figures are the same as before.
    start, end = window(tenant)
    days = await HoursDay.select(HoursDay.day, HoursDay.seconds).where(HoursDay.tenant == tenant.id)
    in_window = {}
    for r in days:
        day = r["day"] if isinstance(r["day"], dt.date) else dt.date.fromisoformat(str(r["day"]))
        if start <= day <= end:
            in_window[day] = in_window.get(day, 0.0) + r["seconds"]
    assert in_window == same(await counted(tenant, up_to=mark)) and in_window
    assert await figures(tenant) == same(await counted(tenant))
    # New rows after the run are read from the ledger until the next run, then from the rollup.
    await add_hours(w, 900.0)
    await add_hours(w, -300.0)  # a clearing's negative row is not credited time
    assert await figures(tenant) == same(await counted(tenant))
    before = await rolled(tenant)
    await rollup.roll_up_ledger({"platform": platform})
    assert await rolled(tenant) == same(before + 900.0)
    assert await figures(tenant) == same(await counted(tenant))
    # By course: the rollup's rows of another course or tenant are not counted.
    f = DashboardFilters(year=None, course=w.course.id)
    assert await figures(tenant, f) == same(await counted(tenant, course=w.course.id))
    assert await figures(other.tenant) == same(await counted(other.tenant))
    assert await figures(tenant, DashboardFilters(year=None, course=other.course.id)) == {}


@ON_POSTGRES
async def test_two_runs_at_once_roll_each_row_up_once(platform, make_account):
    w = await build(platform, make_account)
    tenant = w.tenant
    await rollup.roll_up_ledger({"platform": platform})
    before = await rolled(tenant)
    await add_hours(w, 1200.0)
    mark = await rollup.safe_mark()
    marks = await asyncio.gather(rollup.roll_up(tenant, mark), rollup.roll_up(tenant, mark))
    assert marks == [mark, mark]
    assert await rolled(tenant) == same(before + 1200.0)
    assert (await HoursRollup.select(HoursRollup.last_id).where(HoursRollup.tenant == tenant.id))[0]["last_id"] == mark
    assert await figures(tenant) == same(await counted(tenant))


async def test_the_operators_hours_of_the_year_are_credited_minus_reversed_seconds(platform, make_account):
    w = await build(platform, make_account)
    tenant = w.tenant
    start = dt.date(tenant_time.today(tenant).year, 1, 1)
    tz = tenant_time.zone(tenant)

    async def net() -> float:
        rows = await HoursEntry.select(HoursEntry.seconds, HoursEntry.created_at).where(HoursEntry.tenant == tenant.id)
        return sum(r["seconds"] for r in rows if tenant_time.local(r["created_at"], tz).date() >= start)

    await add_hours(w, -400.0)
    assert await rollup.net_seconds_since(tenant, start) == same(await net())
    await rollup.roll_up_ledger({"platform": platform})
    await add_hours(w, 700.0)
    await add_hours(w, -100.0)
    assert await rollup.net_seconds_since(tenant, start) == same(await net())
    await rollup.roll_up_ledger({"platform": platform})
    assert await rollup.net_seconds_since(tenant, start) == same(await net())


@ON_POSTGRES
async def test_a_run_leaves_no_ledger_row_above_the_mark(platform, make_account):
    w = await build(platform, make_account)
    await add_hours(w, 60.0)
    assert await rollup.rows_above_mark(w.tenant) >= 1
    await rollup.roll_up_ledger({"platform": platform})
    assert await rollup.rows_above_mark(w.tenant) == 0


async def test_a_row_added_after_the_top_rows_were_deleted_is_counted(platform, make_account):
    """SQLite gives a new row the id after the highest one left: once the top rows are deleted,
    new rows get ids at or below the rollup's mark. They must still be counted (on SQLite the
    ledger is read whole; PostgreSQL's sequence never gives an id twice)."""
    w = await build(platform, make_account)
    await add_hours(w, 60.0)
    await add_hours(w, 120.0)
    await rollup.roll_up_ledger({"platform": platform})
    top = await HoursEntry.select(HoursEntry.id).order_by(HoursEntry.id, ascending=False).first()
    await HoursEntry.delete().where(HoursEntry.id == top["id"])
    before = (await figures(w.tenant)).get(tenant_time.today(w.tenant), 0.0)
    await add_hours(w, 45.0)
    assert (await figures(w.tenant))[tenant_time.today(w.tenant)] == same(before + 45.0)
