from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Text
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-07T01:50:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "certificate fields from the certificate_fields hook"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="xueshi_certificates", description=DESCRIPTION)

    manager.add_column(
        table_class_name="Certificate",
        tablename="certificate",
        column_name="fields",
        db_column_name="fields",
        column_class_name="Text",
        column_class=Text,
        params={
            "default": "[]",
            "null": False,
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
