"""The certificates' Piccolo app: certificates and registry reports (migrations after the core's)."""

from pathlib import Path

from piccolo.conf.apps import AppConfig

from core.certificates.tables import Certificate, RegistryBatch, RegistryResend, RegistryRow

APP_CONFIG = AppConfig(
    app_name="xueshi_certificates",
    migrations_folder_path=str(Path(__file__).parent / "migrations"),
    table_classes=[Certificate, RegistryBatch, RegistryRow, RegistryResend],
    migration_dependencies=["core.piccolo_app"],
    commands=[],
)
