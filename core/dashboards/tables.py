"""The dashboards' rollups: credited seconds per tenant, course and tenant day, for the ledger
rows up to a mark (``core.dashboards.rollup``), and the counts of rows that change in place
(enrolments, snapshot events) recomputed per tenant (``core.dashboards.counts``). Only their
jobs write them."""

from __future__ import annotations

from piccolo.columns import Date, DoublePrecision, ForeignKey, Integer, Timestamptz, Varchar
from piccolo.table import Table

from core.tenants.tables import TenantRow


class HoursDay(Table, tablename="dashboard_hours_day"):
    """The tenant's ledger rows with ids up to ``HoursRollup.last_id`` of ``day`` (the tenant's
    date) on ``course`` (0: rows without an enrolment): ``seconds``, the sum of the positive ones
    (time credited), and ``reversed``, of the negative ones (clearings). One row per (tenant,
    course, day): a unique index, added to by ``INSERT … ON CONFLICT DO UPDATE``."""

    tenant = ForeignKey(TenantRow, null=False)
    course = Integer(default=0)
    day = Date()
    seconds = DoublePrecision(default=0.0)
    reversed = DoublePrecision(default=0.0)


class HoursRollup(Table, tablename="dashboard_hours_rollup"):
    """How far the tenant's ledger is rolled up: every row with ``id <= last_id`` is in
    ``HoursDay``, none above it."""

    tenant = ForeignKey(TenantRow, null=False, unique=True)
    last_id = Integer(default=0)


class ProgressCount(Table, tablename="dashboard_progress"):
    """The tenant's enrolments on ``course`` of learners of ``company`` (the label
    ``sql.company_of_enrolment`` gives) in ``status``, as the last ``counts.recount`` found them:
    how many (``enrolled``), and of those how many have a passed exam attempt, a valid certificate
    and an uploaded registry row. Replaced as a whole per tenant by each run."""

    tenant = ForeignKey(TenantRow, null=False)
    course = Integer(default=0)
    company = Varchar(length=255, null=True, default=None)
    status = Varchar(length=16, default="")
    enrolled = Integer(default=0)
    passed = Integer(default=0)
    certified = Integer(default=0)
    reported = Integer(default=0)


class GroupCount(Table, tablename="dashboard_counts"):
    """The tenant's rows of one ``figure`` that point at an enrolment, counted (``n``) per course
    and company of that enrolment (course 0 and company NULL: rows without an enrolment) and per
    the figure's own keys, as the last ``counts.recount`` found them:

    - ``event``: snapshot events, ``label`` their kind;
    - ``decision``: review decisions, ``label`` the kind, ``state`` the status, ``number`` the reviewer;
    - ``appeal``: appeals, ``label`` the status;
    - ``exam``: finished exam attempts, ``label`` the position's name, ``state`` "passed" or "",
      ``number`` the attempt's number, ``bucket`` the score's tenth of the total (-1: none);
    - ``face``: finished face checks (they point at a learner, not an enrolment: course 0, company
      the learner's), ``label`` the purpose, ``state`` the status, ``bucket`` the tenant year of the
      check, ``number`` the learner's set of courses, whose courses are the ``face_set`` rows
      (``course``, ``number``; ``n`` 0)."""

    tenant = ForeignKey(TenantRow, null=False)
    figure = Varchar(length=16, default="")
    course = Integer(default=0)
    company = Varchar(length=255, null=True, default=None)
    label = Varchar(length=255, default="")
    state = Varchar(length=24, default="")
    number = Integer(default=0)
    bucket = Integer(default=0)
    n = Integer(default=0)


class CountRun(Table, tablename="dashboard_count_run"):
    """When the tenant's ``ProgressCount`` and ``GroupCount`` rows were computed (no row: never,
    the dashboard counts live)."""

    tenant = ForeignKey(TenantRow, null=False, unique=True)
    computed_at = Timestamptz()
