"""Study state: one clock per learner, study sessions, per-lesson progress, the hours ledger."""

from piccolo.columns import JSON, Boolean, DoublePrecision, ForeignKey, Integer, Timestamptz, Varchar
from piccolo.table import Table

from core.accounts.tables import Account
from core.courses.tables import Enrollment, Lesson
from core.proctoring.tables import FaceVerification
from core.tenants.tables import TenantRow


class StudyClock(Table, tablename="study_clock"):
    """One row per learner: the server time of the learner's previous beat (per learner, not per
    video, so two tabs never earn double), the one active session, today's credited seconds.
    Updated only by compare-and-swap on ``version``."""

    tenant = ForeignKey(references=TenantRow, null=False)
    account = ForeignKey(references=Account, null=False, unique=True)
    active_token = Varchar(length=64, default="")
    last_beat_at = DoublePrecision(default=0.0)  # epoch seconds (server clock)
    day = Varchar(length=10, default="")  # China date of day_seconds
    day_seconds = DoublePrecision(default=0.0)
    version = Integer(default=0)


class StudySession(Table, tablename="study_session"):
    """One playing page of one lesson. A newer session of the same learner replaces it."""

    tenant = ForeignKey(references=TenantRow, null=False)
    account = ForeignKey(references=Account, null=False)
    lesson = ForeignKey(references=Lesson, null=False)
    enrollment = ForeignKey(references=Enrollment, null=False)
    token = Varchar(length=64, unique=True)
    last_seq = Integer(default=-1)
    duration_seconds = DoublePrecision(default=0.0)  # the lesson's, at start (saves reads per beat)
    required_seconds = DoublePrecision(default=0.0)  # the course's, at start
    started_at = Timestamptz()
    ended_at = Timestamptz(null=True, default=None)
    ended_reason = Varchar(length=16, default="")  # replaced | ended
    # The session's bound on the position (core.study.credit): server time at the start and the
    # furthest point then; the position never runs ahead of origin + (now - began).
    began = DoublePrecision(default=0.0)
    origin = DoublePrecision(default=0.0)
    hidden = Boolean(default=False)  # the last beat reported the page hidden: the next one earns nothing


class LessonProgress(Table, tablename="lesson_progress"):
    """Where a learner is in a lesson (resume on any device) and how far they have watched."""

    tenant = ForeignKey(references=TenantRow, null=False)
    account = ForeignKey(references=Account, null=False)
    lesson = ForeignKey(references=Lesson, null=False)
    position = DoublePrecision(default=0.0)
    furthest = DoublePrecision(default=0.0)
    credited_seconds = DoublePrecision(default=0.0)
    completed = Boolean(default=False)
    updated_at = Timestamptz()


class HoursEntry(Table, tablename="hours_entry"):
    """The append-only ledger: one row per beat that claimed time. ``seconds`` is what was
    credited; ``reason`` says why (part of) the claim was refused ("" = fully credited)."""

    tenant = ForeignKey(references=TenantRow, null=False)
    account = ForeignKey(references=Account, null=False)
    enrollment = ForeignKey(references=Enrollment, null=True)
    lesson = ForeignKey(references=Lesson, null=True)
    session = Varchar(length=64, default="")
    seq = Integer(default=0)
    position_from = DoublePrecision(default=0.0)
    position_to = DoublePrecision(default=0.0)
    claimed = DoublePrecision(default=0.0)
    seconds = DoublePrecision(default=0.0)
    reason = Varchar(length=32, default="")
    anomaly = Boolean(default=False)
    created_at = Timestamptz()
    # "<session>:<seq>" for a beat written from Redis (core.study.live), unique (index
    # hours_entry_beat, a migration: SQLite cannot add a unique column): writing it again is a no-op.
    beat = Varchar(length=100, null=True, default=None)


class StudyEvent(Table, tablename="study_event"):
    """The study timeline a reviewer reads: what proctoring and the player saw, in order.
    ``kind``: gate_passed, snapshot_ok, snapshot_mismatch, snapshot_no_face, snapshot_faces,
    snapshot_missing, paused, resumed, idle, hidden, devices, flagged (…, as flows add them);
    ``detail`` holds the figures (score, seconds idle, …), never an ID or phone number."""

    tenant = ForeignKey(references=TenantRow, null=False)
    account = ForeignKey(references=Account, null=False)
    enrollment = ForeignKey(references=Enrollment, null=True)
    session = Varchar(length=64, default="")
    kind = Varchar(length=24)
    detail = JSON(default={})
    verification = ForeignKey(references=FaceVerification, null=True)
    created_at = Timestamptz()
