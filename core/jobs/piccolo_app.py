"""The jobs' Piccolo app: the ``job_run`` table (its migrations depend on the core's)."""

from pathlib import Path

from piccolo.conf.apps import AppConfig

from core.jobs.tables import JobRun

APP_CONFIG = AppConfig(
    app_name="xueshi_jobs",
    migrations_folder_path=str(Path(__file__).parent / "migrations"),
    table_classes=[JobRun],
    migration_dependencies=["core.piccolo_app"],
    commands=[],
)
