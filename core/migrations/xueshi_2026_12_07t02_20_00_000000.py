"""Indexes for the dashboards' grouped queries (core.dashboards): the ledger by tenant and time
(credited hours per day), enrolments by tenant and status (the review backlog, progress), study
clocks by tenant and last beat (learners studying now)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-07T02:20:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "dashboard indexes"

STATEMENTS = [
    "CREATE INDEX IF NOT EXISTS hours_entry_tenant_created ON hours_entry (tenant, created_at)",
    "CREATE INDEX IF NOT EXISTS enrollment_tenant_status ON enrollment (tenant, status, completed_at)",
    "CREATE INDEX IF NOT EXISTS study_clock_tenant_beat ON study_clock (tenant, last_beat_at)",
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="xueshi", description=DESCRIPTION)

    async def run():
        engine = engine_finder()
        for sql in STATEMENTS:
            await engine.run_ddl(sql)

    manager.add_raw(run)
    return manager
