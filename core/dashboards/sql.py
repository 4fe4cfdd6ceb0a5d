"""SQL pieces the dashboards' grouped queries share: the filters as conditions on an enrolment
(the table itself or a foreign key to it), a learner's company, and a timestamp's tenant date.

Every query that uses them starts from ``scoped(Table, tenant)``, so the tenant is in each one;
subqueries reach rows only through the scoped row's own learner or enrolment."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any
from zoneinfo import ZoneInfo

from piccolo.columns import Column
from piccolo.querystring import QueryString

from core.courses.tables import Course, Enrollment
from core.dashboards.values import DashboardFilters
from core.db.scoped import scoped
from core.roster.tables import LearnerProfile

ZONE_NAME = re.compile(r"^[A-Za-z0-9_+\-/]{1,64}$")
NO_COMPANY = "未填写单位"


def company_of_enrolment(alias: str = "company") -> QueryString:
    """The company label of an enrolment's learner: 所属企业 (the roster's enterprise) when joined,
    else 所在单位 (the staff import's text), else NO_COMPANY. Joins learner_profile on the learner
    (its account is unique) and the enterprise by key: hash joins, whatever the number of rows."""
    profile = Enrollment.account.join_on(LearnerProfile.account)
    return QueryString("COALESCE({}, NULLIF({}, ''), '" + NO_COMPANY + "')", profile.enterprise.name, profile.company,
                       alias=alias)


def postgres(table: Any) -> bool:
    return table._meta.db.engine_type in ("postgres", "cockroach")


def where(tenant: Any, f: DashboardFilters, e: Any = Enrollment) -> list[Any]:
    """Conditions for ``f`` on the enrolment ``e``: ``Enrollment`` itself, or a foreign key to it
    (``ExamAttempt.enrollment``), whose company condition is a subquery of the tenant's enrolments."""
    out: list[Any] = []
    if f.year:
        out.append(e.course.year == f.year)
    if f.position:
        out.append(e.course.position == f.position)
    if f.course:
        out.append(e.course == f.course)
    if f.company:
        same = QueryString("{} = {}", company_of_enrolment(), f.company)
        out.append(same if e is Enrollment else e.is_in(scoped(Enrollment, tenant).select(Enrollment.id).where(same)))
    return out


def on_course(tenant: Any, f: DashboardFilters, column: Column) -> Any:
    """Rollup rows keyed by a course id ``column`` (0: rows without an enrolment) matching the
    year, position and course filters, as ``where`` on their enrolment: without such filters, rows
    without an enrolment count too."""
    conditions = [c for c in ((Course.year == f.year) if f.year else None,
                              (Course.position == f.position) if f.position else None,
                              (Course.id == f.course) if f.course else None) if c is not None]
    courses = scoped(Course, tenant).select(Course.id)
    if conditions:
        return column.is_in(courses.where(*conditions))
    return (column == 0) | column.is_in(courses)


def learners_in(tenant: Any, f: DashboardFilters) -> Any:
    """A subquery of the accounts enrolled on a course matching ``f`` (for tables that point at a
    learner, not an enrolment: face checks, study clocks)."""
    return scoped(Enrollment, tenant).select(Enrollment.account).where(*where(tenant, f) or [Enrollment.id > 0])


def _local(column: Column, tz: ZoneInfo, postgres_sql: str, sqlite_sql: str, alias: str) -> QueryString:
    """``postgres_sql`` or ``sqlite_sql`` around the timestamp ``column`` in ``tz`` (their ``{}``):
    PostgreSQL converts with the zone's rules; SQLite, which has no time zones, adds the zone's
    offset of today (exact for zones without daylight saving, such as Asia/Shanghai). The zone
    name is checked and written into the SQL (not a parameter), so the same expression can be
    grouped by."""
    if postgres(column._meta.table):
        if not ZONE_NAME.match(tz.key):
            raise ValueError(f"unexpected time zone name {tz.key!r}")
        return QueryString(postgres_sql.format(f"({{}} AT TIME ZONE '{tz.key}')"), column, alias=alias)
    minutes = int(dt.datetime.now(tz).utcoffset().total_seconds() // 60)
    return QueryString(sqlite_sql.format(f"{{}}, '{minutes:+d} minutes'"), column, alias=alias)


def local_date(column: Column, tz: ZoneInfo, alias: str = "day") -> QueryString:
    """The date of the timestamp ``column`` in ``tz`` (see ``_local``)."""
    return _local(column, tz, "CAST({} AS DATE)", "date({})", alias)


def local_year(column: Column, tz: ZoneInfo, alias: str = "year") -> QueryString:
    """The year of the timestamp ``column`` in ``tz``, an integer (see ``_local``)."""
    return _local(column, tz, "CAST(EXTRACT(YEAR FROM {}) AS INTEGER)", "CAST(strftime('%Y', {}) AS INTEGER)", alias)


def as_date(value: Any) -> dt.date:
    """A grouped date as returned by either database (a date, or ISO text from SQLite)."""
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])


def year_range(f: DashboardFilters, tz: ZoneInfo) -> tuple[dt.datetime, dt.datetime] | None:
    """The filter's year as [start, end) instants in ``tz`` (None: every year)."""
    if not f.year:
        return None
    return (dt.datetime(f.year, 1, 1, tzinfo=tz), dt.datetime(f.year + 1, 1, 1, tzinfo=tz))
