"""One remembered mapping per tenant and headers (Piccolo has no composite unique columns)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-07T01:40:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "bank mapping unique key"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="xueshi_exams", description=DESCRIPTION)

    async def run():
        await engine_finder().run_ddl("CREATE UNIQUE INDEX IF NOT EXISTS exam_bank_mapping_tenant_signature "
                                      "ON exam_bank_mapping (tenant, signature)")

    manager.add_raw(run)
    return manager
