"""Review decisions and appeals (tenant-owned: query them through ``scoped``)."""

from piccolo.columns import ForeignKey, Text, Timestamptz, Varchar, DoublePrecision
from piccolo.table import Table

from core.accounts.tables import Account
from core.courses.tables import Enrollment
from core.files.tables import StoredFile
from core.tenants.tables import TenantRow


class ReviewDecision(Table, tablename="review_decision"):
    """One reviewer's decision on an enrolment. ``kind``: approve | clear | reverify |
    appeal_upheld | appeal_rejected. A clearing is ``pending`` until a second, different reviewer
    confirms it (``confirmed_by``); then it is ``done`` and ``reversed_seconds`` were taken off the
    ledger. Other kinds are ``done`` at once."""

    tenant = ForeignKey(references=TenantRow, null=False)
    enrollment = ForeignKey(references=Enrollment, null=False)
    learner = ForeignKey(references=Account, null=False)
    reviewer = ForeignKey(references=Account, null=False)
    kind = Varchar(length=16)
    reason = Varchar(length=16, default="")  # clearing: substitute | idle | no_snapshot | other
    note = Text(default="")
    status = Varchar(length=16, default="done")  # pending | done | cancelled | withdrawn (by its proposer)
    confirmed_by = ForeignKey(references=Account, null=True, default=None)
    confirmed_at = Timestamptz(null=True, default=None)
    reversed_seconds = DoublePrecision(default=0.0)
    created_at = Timestamptz()


class Appeal(Table, tablename="review_appeal"):
    """A learner's appeal against a clearing: a statement and an optional photo (cleaned by
    ``clean_image``). While ``open`` the learner's face evidence is on legal hold (the retention
    purge skips it). Decided by a reviewer other than the two who cleared."""

    tenant = ForeignKey(references=TenantRow, null=False)
    enrollment = ForeignKey(references=Enrollment, null=False)
    learner = ForeignKey(references=Account, null=False)
    clearing = ForeignKey(references=ReviewDecision, null=False, unique=True)  # one appeal per clearing
    statement = Text()
    photo = ForeignKey(references=StoredFile, null=True, default=None)
    status = Varchar(length=16, default="open")  # open | upheld | rejected
    decided_by = ForeignKey(references=Account, null=True, default=None)
    decided_at = Timestamptz(null=True, default=None)
    answer = Text(default="")
    created_at = Timestamptz()
