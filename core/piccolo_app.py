"""The core's Piccolo app: the platform's own tables, in dependency order (plugins' tables live in
their own apps, see the ``db_apps`` hook)."""

from pathlib import Path

from piccolo.conf.apps import AppConfig

from core.accounts.tables import Account, Enterprise, SmsCode
from core.audit.tables import AuditEntry
from core.content.tables import Article
from core.courses.tables import Course, Enrollment, Lesson, Position
from core.dashboards.tables import CountRun, GroupCount, HoursDay, HoursRollup, ProgressCount
from core.files.tables import StoredFile
from core.notify.tables import Notification
from core.proctoring.tables import Consent, FaceVerification
from core.roster.tables import ImportJob, LearnerProfile, RosterEntry
from core.study.tables import HoursEntry, LessonProgress, StudyClock, StudyEvent, StudySession
from core.tenants.tables import TenantRow

APP_CONFIG = AppConfig(
    app_name="xueshi",
    migrations_folder_path=str(Path(__file__).parent / "migrations"),
    table_classes=[
        TenantRow, Enterprise, Account, SmsCode, StoredFile, Notification, AuditEntry,
        RosterEntry, LearnerProfile, ImportJob, Article, Consent, FaceVerification,
        Position, Course, Lesson, Enrollment, StudyClock, StudySession, LessonProgress, HoursEntry,
        StudyEvent, HoursDay, HoursRollup, ProgressCount, GroupCount, CountRun,
    ],
    migration_dependencies=[],
    commands=[],
)
