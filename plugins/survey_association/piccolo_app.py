"""The survey association's Piccolo app: its own tables, migrated after the core's."""

from pathlib import Path

from piccolo.conf.apps import AppConfig

from plugins.survey_association.tables import CertificateHolder, CompanyCertification, RosterConfirmation

APP_CONFIG = AppConfig(
    app_name="survey_association",
    migrations_folder_path=str(Path(__file__).parent / "migrations"),
    table_classes=[CertificateHolder, RosterConfirmation, CompanyCertification],
    migration_dependencies=["core.piccolo_app"],
    commands=[],
)
