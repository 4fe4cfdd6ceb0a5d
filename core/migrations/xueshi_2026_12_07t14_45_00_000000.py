"""Indexes of the dashboards' counts: each tenant's rows by course (the page reads one tenant's,
the recount replaces one tenant's)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-07T14:45:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "dashboard count indexes"

STATEMENTS = [
    "CREATE INDEX IF NOT EXISTS dashboard_progress_tenant ON dashboard_progress (tenant, course)",
    "CREATE INDEX IF NOT EXISTS dashboard_counts_tenant ON dashboard_counts (tenant, figure, course)",
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="xueshi", description=DESCRIPTION)

    async def run():
        engine = engine_finder()
        for sql in STATEMENTS:
            await engine.run_ddl(sql)

    manager.add_raw(run)
    return manager
