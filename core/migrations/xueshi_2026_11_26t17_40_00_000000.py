"""The ledger's beat key is unique: a heartbeat written from Redis (core.study.live) twice, as a
flusher killed between its commit and its acknowledgement does, is written once."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-26T17:40:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "unique beat key of the hours ledger"

STATEMENTS = ["CREATE UNIQUE INDEX IF NOT EXISTS hours_entry_beat ON hours_entry (beat)"]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="xueshi", description=DESCRIPTION)

    async def run():
        engine = engine_finder()
        for sql in STATEMENTS:
            await engine.run_ddl(sql)

    manager.add_raw(run)
    return manager
