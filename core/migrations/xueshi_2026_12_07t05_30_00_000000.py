"""Lesson videos are transcoded by a job: the lesson's video state, its reason when it failed,
the uploaded original and the poster frame. Existing lessons were accepted as playable: ready."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Integer, Varchar
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-07T05:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "lesson video transcoding state"

COMMON = {"primary_key": False, "unique": False, "index": False, "index_method": IndexMethod.btree,
          "choices": None, "db_column_name": None, "secret": False}


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="xueshi", description=DESCRIPTION)
    for name, length, default in (("video_status", 12, "ready"), ("video_error", 200, "")):
        manager.add_column(
            table_class_name="Lesson", tablename="lesson", column_name=name, db_column_name=name,
            column_class_name="Varchar", column_class=Varchar,
            params={"length": length, "default": default, "null": False, **COMMON}, schema=None,
        )
    for name in ("source_file", "poster_file"):
        manager.add_column(
            table_class_name="Lesson", tablename="lesson", column_name=name, db_column_name=name,
            column_class_name="Integer", column_class=Integer,
            params={"default": None, "null": True, **COMMON}, schema=None,
        )
    return manager
