"""The review's Piccolo app: decisions and appeals (its migrations depend on the core's)."""

from pathlib import Path

from piccolo.conf.apps import AppConfig

from core.review.tables import Appeal, ReviewDecision

APP_CONFIG = AppConfig(
    app_name="xueshi_review",
    migrations_folder_path=str(Path(__file__).parent / "migrations"),
    table_classes=[ReviewDecision, Appeal],
    migration_dependencies=["core.piccolo_app"],
    commands=[],
)
