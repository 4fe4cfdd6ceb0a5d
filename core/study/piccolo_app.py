"""The study buffer's Piccolo app: the ``study_flush`` watermark (migrations depend on the core's)."""

from pathlib import Path

from piccolo.conf.apps import AppConfig

from core.study.flush_tables import StudyFlush

APP_CONFIG = AppConfig(
    app_name="xueshi_study",
    migrations_folder_path=str(Path(__file__).parent / "migrations"),
    table_classes=[StudyFlush],
    migration_dependencies=["core.piccolo_app"],
    commands=[],
)
