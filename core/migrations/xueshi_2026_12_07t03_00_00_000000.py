"""SMS provider receipts: the provider's id of a sent message and when it was delivered."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Timestamptz, Varchar
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-07T03:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "notification provider receipts"

COMMON = {"primary_key": False, "unique": False, "index": False, "index_method": IndexMethod.btree,
          "choices": None, "db_column_name": None, "secret": False}


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="xueshi", description=DESCRIPTION)
    manager.add_column(
        table_class_name="Notification", tablename="notification", column_name="provider_ref",
        db_column_name="provider_ref", column_class_name="Varchar", column_class=Varchar,
        params={"length": 64, "default": "", "null": False, **COMMON}, schema=None,
    )
    manager.add_column(
        table_class_name="Notification", tablename="notification", column_name="delivered_at",
        db_column_name="delivered_at", column_class_name="Timestamptz", column_class=Timestamptz,
        params={"default": None, "null": True, **COMMON}, schema=None,
    )
    return manager
