"""Move the company certification workflow out of the core's ``enterprise`` table into the
plugin's ``survey_company_certification``, keeping every company's status, reason, licence and
decision.

The core's migration ``xueshi_2026_12_07t02_50_00_000000`` removed the columns from the core's
schema history without touching the data (the core's migrations all run before any plugin's);
this one copies one row per company (pending, approved and rejected alike) and then drops the
columns. On a database that never had them (or already moved them) it does nothing. Runs
forwards on SQLite (3.35 or later: ``DROP COLUMN``) and PostgreSQL.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

from core import table_columns

ID = "2026-12-07T02:51:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "company certification moved out of the core's enterprise table"

COLUMNS = ("status", "reject_reason", "licence", "decided_at", "decided_by")


async def move_rows() -> None:
    if not set(COLUMNS) <= await table_columns("enterprise"):
        return
    engine = engine_finder()
    listed = ", ".join(COLUMNS)
    await engine.run_ddl(f"INSERT INTO survey_company_certification (tenant, enterprise, {listed}) "
                         f"SELECT tenant, id, {listed} FROM enterprise")
    for column in COLUMNS:
        await engine.run_ddl(f"ALTER TABLE enterprise DROP COLUMN {column}")


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="survey_association", description=DESCRIPTION)
    manager.add_raw(move_rows)
    return manager
