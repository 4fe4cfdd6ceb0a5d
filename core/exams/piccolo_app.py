"""The exams' Piccolo app: banks, questions, attempts, answers (migrations depend on the core's)."""

from pathlib import Path

from piccolo.conf.apps import AppConfig

from core.exams.tables import BankMapping, ExamAnswer, ExamAttempt, Question, QuestionBank

APP_CONFIG = AppConfig(
    app_name="xueshi_exams",
    migrations_folder_path=str(Path(__file__).parent / "migrations"),
    table_classes=[QuestionBank, Question, ExamAttempt, ExamAnswer, BankMapping],
    migration_dependencies=["core.piccolo_app"],
    commands=[],
)
