from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Varchar
from piccolo.columns.indexes import IndexMethod

ID = "2026-11-26T17:36:58:000697"
VERSION = "1.38.0"
DESCRIPTION = "hours ledger beat key"


async def forwards():
    manager = MigrationManager(
        migration_id=ID, app_name="xueshi", description=DESCRIPTION
    )

    manager.add_column(
        table_class_name="HoursEntry",
        tablename="hours_entry",
        column_name="beat",
        db_column_name="beat",
        column_class_name="Varchar",
        column_class=Varchar,
        params={
            "length": 100,
            "default": None,
            "null": True,
            "primary_key": False,
            "unique": False,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )

    return manager
