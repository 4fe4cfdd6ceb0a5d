"""Review deadlines in China's working days (public holidays and adjusted working days included).

The calendar is the ``chinesecalendar`` package (import name ``chinese_calendar``), which holds
the State Council's published holiday arrangements; version 1.11.0 covers 2004-01-01 to
2026-12-31. A day outside that range has no official data: it is counted as a working day when it
is Monday to Friday, and the deadline says it is an estimate (``Deadline.estimated``).

Counting: the day the hours were completed (China time) is day 0; the deadline's ``due`` is the
``low``-th working day after it and ``overdue_after`` the ``high``-th (tenant rule
``study.review_workdays = [low, high]``, e.g. [3, 5]). A case is 按期 up to the end of ``due``,
临期 between ``due`` and ``overdue_after``, and 已超期 from the day after ``overdue_after``.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import chinese_calendar
from chinese_calendar import constants

from core import tenant_time



def calendar_range() -> tuple[dt.date, dt.date]:
    """First and last day the package has official data for."""
    years = sorted({d.year for d in [*constants.holidays, *constants.workdays]})
    return dt.date(years[0], 1, 1), dt.date(years[-1], 12, 31)


FIRST_DAY, LAST_DAY = calendar_range()


@functools.lru_cache(maxsize=4096)
def is_workday(day: dt.date) -> tuple[bool, bool]:
    """(is a working day, known from official data). Outside the data: Monday–Friday, estimated.
    Kept per day: the package checks each date against its whole table (a few tens of
    microseconds), and every review backlog asks about the same few weeks of days."""
    if FIRST_DAY <= day <= LAST_DAY:
        return chinese_calendar.is_workday(day), True
    return day.weekday() < 5, False


def add_workdays(start: dt.date, count: int) -> tuple[dt.date, bool]:
    """The ``count``-th working day after ``start`` (``start`` itself not counted) and whether
    every day counted came from official data."""
    day, found, known = start, 0, True
    while found < max(count, 0):
        day += dt.timedelta(days=1)
        work, official = is_workday(day)
        known = known and official
        found += work
    return day, known


def workdays_between(start: dt.date, end: dt.date) -> int:
    """Working days after ``start`` up to and including ``end`` (0 when ``end`` <= ``start``)."""
    days, day = 0, start
    while day < end:
        day += dt.timedelta(days=1)
        days += is_workday(day)[0]
    return days


@dataclass(frozen=True)
class Deadline:
    started: dt.date  # China date the hours were completed
    due: dt.date  # the low-th working day after
    overdue_after: dt.date  # the high-th working day after
    elapsed: int  # working days since started, up to today
    state: str  # on_time | due | overdue
    estimated: bool  # some day counted lies outside the calendar's data

    @property
    def label(self) -> str:
        return {"on_time": "按期", "due": "临期", "overdue": "已超期"}[self.state]


def deadline(completed_at: dt.datetime, workdays: list[int], tz: ZoneInfo, today: dt.date | None = None) -> Deadline:
    """Where a case stands against the tenant's promise, in working days of its zone ``tz``."""
    low, high = (list(workdays) + [3, 5])[:2]
    started = tenant_time.local(completed_at, tz).date()
    today = today or dt.datetime.now(tz).date()
    due, known_due = add_workdays(started, low)
    late, known_late = add_workdays(started, max(high, low))
    state = "on_time" if today <= due else "due" if today <= late else "overdue"
    elapsed = workdays_between(started, today)
    return Deadline(started, due, late, elapsed, state, not (known_due and known_late))
