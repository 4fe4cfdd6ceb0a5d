"""Composite keys of positions, enrolments and lesson progress; the ledger's lookup index."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-26T08:30:30:000000"
VERSION = "1.38.0"
DESCRIPTION = "unique keys of study tables"

STATEMENTS = [
    "CREATE UNIQUE INDEX IF NOT EXISTS position_tenant_name ON position (tenant, name)",
    "CREATE UNIQUE INDEX IF NOT EXISTS enrollment_account_course ON enrollment (account, course)",
    "CREATE UNIQUE INDEX IF NOT EXISTS lesson_progress_account_lesson ON lesson_progress (account, lesson)",
    "CREATE INDEX IF NOT EXISTS hours_entry_account_created ON hours_entry (account, created_at)",
    "CREATE INDEX IF NOT EXISTS study_session_account ON study_session (account)",
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="xueshi", description=DESCRIPTION)

    async def run():
        engine = engine_finder()
        for sql in STATEMENTS:
            await engine.run_ddl(sql)

    manager.add_raw(run)
    return manager
