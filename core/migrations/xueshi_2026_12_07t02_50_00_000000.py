"""Hand the company certification workflow to the survey association's plugin: ``status``,
``reject_reason``, ``licence``, ``decided_at`` and ``decided_by`` leave ``enterprise``'s schema.

Faked on purpose (``fake=True``): Piccolo records the change in the core's schema history and
runs nothing, so the values stay where they are. The core's migrations all run before any
plugin's, so dropping here would lose them; the survey plugin's migration
``survey_association_2026_12_07t02_51_00_000000`` copies them into its own
``survey_company_certification`` and then drops the columns. Without that plugin they stay in
the database, unused.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-12-07T02:50:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "company certification handed to the survey plugin (schema history only)"

COLUMNS = ("status", "reject_reason", "licence", "decided_at", "decided_by")


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="xueshi", description=DESCRIPTION, fake=True)
    for column in COLUMNS:
        manager.drop_column(table_class_name="Enterprise", tablename="enterprise", column_name=column,
                            db_column_name=column, schema=None)
    return manager
