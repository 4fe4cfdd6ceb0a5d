"""Positions, courses, lessons and enrolments (tenant-owned: query them through ``scoped``)."""

from piccolo.columns import Boolean, DoublePrecision, ForeignKey, Integer, Text, Timestamptz, Varchar
from piccolo.table import Table

from core.accounts.tables import Account
from core.files.tables import StoredFile
from core.tenants.tables import TenantRow


class Position(Table, tablename="position"):
    """A job position (岗位: 施工员, 质量员 …); the name is unique within a tenant."""

    tenant = ForeignKey(references=TenantRow, null=False)
    name = Varchar(length=64)
    active = Boolean(default=True)
    created_at = Timestamptz()


class Course(Table, tablename="course"):
    """A course for one position and year, with the 学时 a learner must accrue."""

    tenant = ForeignKey(references=TenantRow, null=False)
    position = ForeignKey(references=Position, null=False)
    year = Integer()
    title = Varchar(length=200)
    required_hours = DoublePrecision(default=32.0)  # 学时 (minutes per 学时: rules.study.minutes_per_hour)
    created_at = Timestamptz()


class Lesson(Table, tablename="lesson"):
    """A lesson of a course: a video (``file`` + ``duration_seconds``), a text or a PDF.

    A video is uploaded as ``source_file``; the transcoding job (core.courses.video_jobs) writes the
    web-safe MP4 (``file``), its poster frame (``poster_file``) and the duration it probed, and sets
    ``video_status`` from processing to ready, or to failed with ``video_error`` (Chinese, for
    staff). Only a ready video is playable and creditable."""

    tenant = ForeignKey(references=TenantRow, null=False)
    course = ForeignKey(references=Course, null=False)
    title = Varchar(length=200)
    ordering = Integer(default=0)
    kind = Varchar(length=8, default="video")  # video | text | pdf
    file = ForeignKey(references=StoredFile, null=True)
    duration_seconds = DoublePrecision(default=0.0)
    body = Text(default="")
    created_at = Timestamptz()
    video_status = Varchar(length=12, default="ready")  # processing | ready | failed
    video_error = Varchar(length=200, default="")
    # Stored file ids without a foreign key: deleting a file never takes the lesson with it.
    source_file = Integer(null=True, default=None)
    poster_file = Integer(null=True, default=None)


class Enrollment(Table, tablename="enrollment"):
    """A learner on a course. ``credited_seconds`` only ever grows through the hours ledger
    (core.study); status: studying (学习中) → review (待审核) → approved (审核通过), or cleared
    (已清除: back to study). ``flagged``: proctoring found substitute or idle study (review first)."""

    tenant = ForeignKey(references=TenantRow, null=False)
    account = ForeignKey(references=Account, null=False)
    course = ForeignKey(references=Course, null=False)
    status = Varchar(length=16, default="studying")
    credited_seconds = DoublePrecision(default=0.0)
    created_at = Timestamptz()
    completed_at = Timestamptz(null=True, default=None)
    flagged = Boolean(default=False)
