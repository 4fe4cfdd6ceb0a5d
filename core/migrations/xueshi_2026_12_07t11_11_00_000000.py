"""Indexes of the dashboards: one rollup row per tenant, course and day (the rollup job adds to it
with ``INSERT … ON CONFLICT``), and the enrolments flagged by proctoring (a few in a hundred,
counted on every dashboard)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-07T11:11:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "dashboard rollup and flagged enrolment indexes"

STATEMENTS = [
    "CREATE UNIQUE INDEX IF NOT EXISTS dashboard_hours_day_key ON dashboard_hours_day (tenant, course, day)",
    "CREATE INDEX IF NOT EXISTS enrollment_tenant_flagged ON enrollment (tenant, course) WHERE flagged",
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="xueshi", description=DESCRIPTION)

    async def run():
        engine = engine_finder()
        for sql in STATEMENTS:
            await engine.run_ddl(sql)

    manager.add_raw(run)
    return manager
