"""Proctoring during study: one row per proctored study session (the gate it was opened with,
the server's snapshot schedule, the capture it is waiting for, whether it is paused), and the face
encodings kept per tenant to find one face studying for several accounts."""

from piccolo.columns import JSON, Boolean, DoublePrecision, ForeignKey, Integer, Timestamptz, Varchar
from piccolo.table import Table

from core.accounts.tables import Account
from core.courses.tables import Enrollment
from core.proctoring.tables import FaceVerification
from core.tenants.tables import TenantRow


class ProctorSession(Table, tablename="proctor_session"):
    """A study session's proctoring state. ``gate`` is unique: one passed face check opens one
    session. ``plan`` holds the capture times in seconds of study credited in this session
    (``core.proctoring.schedule.plan``); ``ticket`` is the one capture the page may upload now,
    until ``ticket_due`` (epoch seconds). ``provisional`` counts the seconds credited since the
    last good snapshot: a good snapshot confirms them (back to 0), a bad or missing one withdraws
    them from the ledger."""

    tenant = ForeignKey(references=TenantRow, null=False)
    account = ForeignKey(references=Account, null=False)
    enrollment = ForeignKey(references=Enrollment, null=False)
    session = Varchar(length=64, unique=True)  # StudySession.token
    gate = ForeignKey(references=FaceVerification, null=True, unique=True)
    alternative = Boolean(default=False)  # opened without the camera (staff approved)
    plan = JSON(default=[])
    next_index = Integer(default=0)
    studied = DoublePrecision(default=0.0)
    provisional = DoublePrecision(default=0.0)
    ticket = Varchar(length=64, default="")
    ticket_due = DoublePrecision(default=0.0)
    paused = Boolean(default=False)
    pause_reason = Varchar(length=24, default="")
    last_good_at = DoublePrecision(default=0.0)
    idle_reported = Boolean(default=False)
    hidden_reported = Boolean(default=False)
    created_at = Timestamptz()


class FaceEncoding(Table, tablename="face_encoding"):
    """A face encoding of a learner (``kind``: portrait | snapshot), kept per tenant to compare
    new snapshots across the tenant's learners. Face data: purged with the face evidence."""

    tenant = ForeignKey(references=TenantRow, null=False)
    account = ForeignKey(references=Account, null=False)
    kind = Varchar(length=16, default="snapshot")
    source = Integer(default=0)  # StoredFile id of the portrait, or the FaceVerification id
    provider = Varchar(length=32, default="")
    vector = JSON(default=[])
    created_at = Timestamptz()


class FaceAlternative(Table, tablename="face_alternative"):
    """A learner's request to study without the camera, where the tenant's rules allow it
    (``face.allow_alternative``). ``status``: pending | approved | refused. ``open_key`` is set
    (``"<tenant>:<account>"``, unique) while the request is pending or approved and cleared when it
    is refused, so a learner has at most one open request even when several are sent at once."""

    tenant = ForeignKey(references=TenantRow, null=False)
    account = ForeignKey(references=Account, null=False)
    reason = Varchar(length=500, default="")
    status = Varchar(length=16, default="pending")
    open_key = Varchar(length=64, null=True, default=None, unique=True)
    decided_by = ForeignKey(references=Account, null=True)
    created_at = Timestamptz()
    decided_at = Timestamptz(null=True, default=None)
