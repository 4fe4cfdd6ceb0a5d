"""A learner profile's ID number is no longer unique within a tenant.

Typing a name and an ID number proves nothing: the unique key let whoever typed a number first
keep its owner out, and its "already used" answer told anyone which numbers were registered.
Joining a company's roster entry is what binds a number to an account now, and that needs
proof of the entry's mobile (core.roster.linking); an entry is joined by one account at most.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-26T09:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "learner profile ID numbers not unique"

STATEMENTS = [
    "DROP INDEX IF EXISTS learner_profile_tenant_id_number",
    "CREATE INDEX IF NOT EXISTS learner_profile_tenant_id_number_lookup ON learner_profile (tenant, id_number)",
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="xueshi", description=DESCRIPTION)

    async def run():
        engine = engine_finder()
        for sql in STATEMENTS:
            await engine.run_ddl(sql)

    manager.add_raw(run)
    return manager
