"""Composite keys of rosters and profiles (Piccolo has no composite unique columns)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-22T10:30:30:000000"
VERSION = "1.38.0"
DESCRIPTION = "unique keys of rosters and profiles"

STATEMENTS = [
    # A company lists a person once; a learner profile's ID number is unique within a tenant.
    "CREATE UNIQUE INDEX IF NOT EXISTS roster_entry_enterprise_id_number ON roster_entry (enterprise, id_number)",
    "CREATE INDEX IF NOT EXISTS roster_entry_tenant_id_number ON roster_entry (tenant, id_number)",
    "CREATE UNIQUE INDEX IF NOT EXISTS learner_profile_tenant_id_number ON learner_profile (tenant, id_number)",
    "CREATE INDEX IF NOT EXISTS certificate_holder_tenant_credit_code ON certificate_holder (tenant, credit_code)",
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="xueshi", description=DESCRIPTION)

    async def run():
        engine = engine_finder()
        for sql in STATEMENTS:
            await engine.run_ddl(sql)

    manager.add_raw(run)
    return manager

