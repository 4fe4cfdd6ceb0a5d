"""Unique keys that include the tenant (Piccolo has no composite unique columns)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-22T10:25:30:000000"
VERSION = "1.38.0"
DESCRIPTION = "tenant-scoped unique keys"

STATEMENTS = [
    # An ID number or a mobile is unique within a tenant; a person may study with both tenants.
    "CREATE UNIQUE INDEX IF NOT EXISTS account_tenant_id_number ON account (tenant, id_number)",
    "CREATE UNIQUE INDEX IF NOT EXISTS account_tenant_mobile ON account (tenant, mobile)",
    "CREATE UNIQUE INDEX IF NOT EXISTS account_username ON account (username)",
    "CREATE UNIQUE INDEX IF NOT EXISTS enterprise_tenant_credit_code ON enterprise (tenant, credit_code)",
    "CREATE INDEX IF NOT EXISTS notification_account_unread ON notification (account, read_at)",
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="xueshi", description=DESCRIPTION)

    async def run():
        engine = engine_finder()
        for sql in STATEMENTS:
            await engine.run_ddl(sql)

    manager.add_raw(run)
    return manager
