"""Certificates and registry report rows (tenant-owned: query them through ``scoped``)."""

from piccolo.columns import Date, DoublePrecision, ForeignKey, Integer, Text, Timestamptz, Varchar
from piccolo.table import Table

from core.accounts.tables import Account
from core.courses.tables import Enrollment
from core.files.tables import StoredFile
from core.tenants.tables import TenantRow


class Certificate(Table, tablename="certificate"):
    """An issued hours certificate (学时证明) of one enrolment. ``revision`` counts the
    certificates of the enrolment (1, 2, …; unique per enrolment, so two concurrent issues or
    renewals cannot both insert); renewal voids the old one and points ``replaced_by`` at the new.
    What it shows is kept as issued (a snapshot), with the ID number masked: the full number is
    never stored here. ``code`` is the public verification code (80 random bits)."""

    tenant = ForeignKey(references=TenantRow, null=False)
    enrollment = ForeignKey(references=Enrollment, null=False)
    account = ForeignKey(references=Account, null=False)
    revision = Integer(default=1)
    number = Varchar(length=64)
    code = Varchar(length=32, unique=True)
    status = Varchar(length=8, default="valid")  # valid | void
    replaced_by = Integer(null=True, default=None)  # the renewal's Certificate id
    holder_name = Varchar(length=64)
    id_masked = Varchar(length=32)
    position = Varchar(length=64)
    year = Integer()
    hours = DoublePrecision()
    institution = Varchar(length=200)
    issued_at = Timestamptz()
    voided_at = Timestamptz(null=True, default=None)
    file = ForeignKey(references=StoredFile, null=True)
    sha256 = Varchar(length=64, default="")
    fields = Text(default="[]")  # the plugins' public text fields as issued, JSON (core.certificates.fields)


class RegistryBatch(Table, tablename="registry_batch"):
    """One report to the national registry: the export file an operator uploads, and the
    registry's result file imported to reconcile (status: exporting → exported → reconciled)."""

    tenant = ForeignKey(references=TenantRow, null=False)
    exporter = Varchar(length=32, default="xlsx")
    status = Varchar(length=16, default="exporting")
    rows = Integer(default=0)
    file = ForeignKey(references=StoredFile, null=True)
    filename = Varchar(length=120, default="")
    result_summary = Text(default="")
    created_by = Integer(null=True, default=None)
    created_at = Timestamptz()
    finished_at = Timestamptz(null=True, default=None)


class RegistryRow(Table, tablename="registry_row"):
    """One learner and position in a report: pending → uploaded, or rejected with the reason."""

    tenant = ForeignKey(references=TenantRow, null=False)
    batch = ForeignKey(references=RegistryBatch, null=False)
    enrollment = ForeignKey(references=Enrollment, null=False)
    account = ForeignKey(references=Account, null=False)
    row_ref = Varchar(length=32)  # what the registry's result file quotes back (行号)
    institution = Varchar(length=200)
    position = Varchar(length=64)
    uploaded_hours = DoublePrecision(default=0.0)
    total_hours = DoublePrecision(default=0.0)
    status = Varchar(length=12, default="pending")  # pending | uploaded | rejected
    reason = Varchar(length=200, default="")
    uploaded_on = Date(null=True, default=None)
    updated_at = Timestamptz()


class RegistryResend(Table, tablename="registry_resend"):
    """Staff ask to report an enrolment the registry already has again (its hours changed, the
    registry lost them): the reason is required and audited. The next report batch takes every
    open request (``batch`` set then); without one, an uploaded enrolment is never reported twice."""

    tenant = ForeignKey(references=TenantRow, null=False)
    enrollment = ForeignKey(references=Enrollment, null=False)
    reason = Varchar(length=200)
    requested_by = Integer(null=True, default=None)
    batch = ForeignKey(references=RegistryBatch, null=True)
    created_at = Timestamptz()
