"""A study session's bound on the position (its start and the furthest point then) and whether
its page was last reported hidden (core.study.credit)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Boolean, DoublePrecision
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-06T21:50:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "study session: position bound and hidden page"


def _params(default):
    return {"default": default, "null": False, "primary_key": False, "unique": False, "index": False,
            "index_method": IndexMethod.btree, "choices": None, "db_column_name": None, "secret": False}


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="xueshi", description=DESCRIPTION)
    for name, column_class, default in (("began", DoublePrecision, 0.0), ("origin", DoublePrecision, 0.0),
                                        ("hidden", Boolean, False)):
        manager.add_column(
            table_class_name="StudySession", tablename="study_session", column_name=name, db_column_name=name,
            column_class_name=column_class.__name__, column_class=column_class, params=_params(default), schema=None,
        )
    return manager
