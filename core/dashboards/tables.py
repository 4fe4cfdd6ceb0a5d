"""The dashboards' rollup of the ledger: credited seconds per tenant, course and tenant day, for
the ledger rows up to a mark (``core.dashboards.rollup``). Only the rollup job writes them."""

from __future__ import annotations

from piccolo.columns import Date, DoublePrecision, ForeignKey, Integer
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
