"""Unique keys of certificates that include the tenant (Piccolo has no composite unique columns).

(tenant, enrollment, revision) is what makes issuing and renewing atomic: of two concurrent
inserts of the same next revision, the database lets one through."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-26T11:11:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "certificate unique keys"

STATEMENTS = [
    "CREATE UNIQUE INDEX IF NOT EXISTS certificate_enrollment_revision ON certificate (tenant, enrollment, revision)",
    "CREATE UNIQUE INDEX IF NOT EXISTS certificate_tenant_number ON certificate (tenant, number)",
    "CREATE INDEX IF NOT EXISTS registry_row_batch ON registry_row (batch, row_ref)",
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="xueshi_certificates", description=DESCRIPTION)

    async def run():
        engine = engine_finder()
        for sql in STATEMENTS:
            await engine.run_ddl(sql)

    manager.add_raw(run)
    return manager
