from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Varchar
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-06T22:42:51:365161"
VERSION = "1.38.0"
DESCRIPTION = "learner profile company"


async def forwards():
    manager = MigrationManager(
        migration_id=ID, app_name="xueshi", description=DESCRIPTION
    )

    manager.add_column(
        table_class_name="LearnerProfile",
        tablename="learner_profile",
        column_name="company",
        db_column_name="company",
        column_class_name="Varchar",
        column_class=Varchar,
        params={
            "length": 200,
            "default": "",
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
