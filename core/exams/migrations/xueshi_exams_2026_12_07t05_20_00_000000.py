"""A question's picture: the ``StoredFile`` (kind ``question_image``) shown with its stem."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Integer
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-07T05:20:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "question image"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="xueshi_exams", description=DESCRIPTION)
    manager.add_column(
        table_class_name="Question",
        tablename="exam_question",
        column_name="image",
        db_column_name="image",
        column_class_name="Integer",
        column_class=Integer,
        params={"default": None, "null": True, "primary_key": False, "unique": False, "index": False,
                "index_method": IndexMethod.btree, "choices": None, "db_column_name": None, "secret": False},
        schema=None,
    )
    return manager
