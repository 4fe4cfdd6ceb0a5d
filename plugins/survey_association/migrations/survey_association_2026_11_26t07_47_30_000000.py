"""Move the survey association's rows out of the core's tables into its own, keeping every row.

Until the plugin could own tables, certificate holders lived in the core's
``certificate_holder`` and the roster's fill/confirm times in ``roster_entry``. The core's
migration ``xueshi_2026_11_26t07_46_56_174880`` removed them from the core's schema history
without touching the data; this one copies them (certificate holders keep their ids, which the
audit trail names) and then drops the old table and columns. On a database that never had them
(or already moved them) it only adds the indexes. Runs forwards on SQLite and PostgreSQL.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import PostgresEngine, engine_finder

from core import table_columns

ID = "2026-11-26T07:47:30:000000"
VERSION = "1.38.0"
DESCRIPTION = "survey association rows moved out of the core's tables"

HOLDER_COLUMNS = ("id, tenant, enterprise, credit_code, real_name, id_number, cert_number, position, issued_on, "
                  "expires_on, status, problems, confirmed_at, confirmed_by, created_at")
FILL_COLUMNS = ("company_filled_at", "learner_confirmed_at")

INDEXES = [
    "CREATE INDEX IF NOT EXISTS survey_certificate_holder_tenant_credit_code "
    "ON survey_certificate_holder (tenant, credit_code)",
    "CREATE INDEX IF NOT EXISTS survey_certificate_holder_tenant_cert_number "
    "ON survey_certificate_holder (tenant, cert_number)",
]


async def move_rows() -> None:
    engine = engine_finder()
    if await table_columns("certificate_holder"):
        await engine.run_ddl(f"INSERT INTO survey_certificate_holder ({HOLDER_COLUMNS}) "
                             f"SELECT {HOLDER_COLUMNS} FROM certificate_holder")
        if isinstance(engine, PostgresEngine):  # the copied ids are taken: the sequence goes past them
            await engine.run_ddl("SELECT setval(pg_get_serial_sequence('survey_certificate_holder', 'id'), "
                                 "COALESCE(MAX(id), 1), MAX(id) IS NOT NULL) FROM survey_certificate_holder")
        await engine.run_ddl("DROP TABLE certificate_holder")
    if set(FILL_COLUMNS) <= await table_columns("roster_entry"):
        await engine.run_ddl(
            "INSERT INTO survey_roster_confirmation (tenant, entry, company_filled_at, learner_confirmed_at) "
            "SELECT tenant, id, company_filled_at, learner_confirmed_at FROM roster_entry "
            "WHERE company_filled_at IS NOT NULL OR learner_confirmed_at IS NOT NULL")
        for column in FILL_COLUMNS:
            await engine.run_ddl(f"ALTER TABLE roster_entry DROP COLUMN {column}")
    for sql in INDEXES:
        await engine.run_ddl(sql)


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="survey_association", description=DESCRIPTION)
    manager.add_raw(move_rows)
    return manager
