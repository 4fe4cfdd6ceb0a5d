"""Indexes for an attempt's answers and a learner's attempts: Piccolo indexes no foreign key, so
every autosave (the answer by attempt and seq, the answered ones counted) and every read of a
paper scanned every answer of every attempt of every tenant."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-07T15:15:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "exam answer and attempt indexes"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="xueshi_exams", description=DESCRIPTION)

    async def run():
        await engine_finder().run_ddl("CREATE INDEX IF NOT EXISTS exam_answer_attempt_seq ON exam_answer (attempt, seq)")
        await engine_finder().run_ddl("CREATE INDEX IF NOT EXISTS exam_attempt_account ON exam_attempt (account)")

    manager.add_raw(run)
    return manager
