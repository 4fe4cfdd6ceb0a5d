"""Proctoring's Piccolo app: proctored study sessions and face encodings (its migrations depend
on the core's, whose tables it refers to)."""

from pathlib import Path

from piccolo.conf.apps import AppConfig

from core.proctoring.study_tables import FaceAlternative, FaceEncoding, ProctorSession

APP_CONFIG = AppConfig(
    app_name="xueshi_proctoring",
    migrations_folder_path=str(Path(__file__).parent / "migrations"),
    table_classes=[ProctorSession, FaceEncoding, FaceAlternative],
    migration_dependencies=["core.piccolo_app"],
    commands=[],
)
