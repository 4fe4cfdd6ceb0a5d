"""Hand the survey association's data to its plugin: ``certificate_holder`` and the roster's
``company_filled_at`` / ``learner_confirmed_at`` leave the core's schema.

Faked on purpose (``fake=True``): Piccolo records the change in the core's schema history and
runs nothing, so the rows stay where they are. The core's migrations all run before any
plugin's, so dropping here would lose them; the survey plugin's migration
``survey_association_2026_11_26t07_47_30_000000`` copies them into its own tables and then drops
the old table and columns. Without that plugin they stay in the database, unused.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-26T07:46:56:174880"
VERSION = "1.38.0"
DESCRIPTION = "survey association tables handed to its plugin (schema history only)"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="xueshi", description=DESCRIPTION, fake=True)

    manager.drop_table(class_name="CertificateHolder", tablename="certificate_holder", schema=None)
    for column in ("company_filled_at", "learner_confirmed_at"):
        manager.drop_column(table_class_name="RosterEntry", tablename="roster_entry", column_name=column,
                            db_column_name=column, schema=None)
    return manager
