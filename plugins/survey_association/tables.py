"""The survey association's own tables (its Piccolo app ``survey_association``).

They were the core's until the plugin could own tables; the plugin's migrations moved the rows
here (``migrations/survey_association_2026_11_26t07_47_30_000000.py``; the certification
workflow's columns of ``enterprise``: ``migrations/survey_association_2026_12_07t02_51_00_000000.py``).
"""

from piccolo.columns import JSON, Date, ForeignKey, Integer, Text, Timestamptz, Varchar
from piccolo.columns.base import OnDelete
from piccolo.table import Table

from core import Enterprise, RosterEntry, StoredFile, TenantRow


class CertificateHolder(Table, tablename="survey_certificate_holder"):
    """An existing certificate loaded by association staff ("证书管理 → 人员确认")."""

    tenant = ForeignKey(references=TenantRow, null=False)
    enterprise = ForeignKey(references=Enterprise, null=True)
    credit_code = Varchar(length=18, default="")
    real_name = Varchar(length=100)
    id_number = Varchar(length=18)
    cert_number = Varchar(length=64)
    position = Varchar(length=64, default="")
    issued_on = Date(null=True, default=None)
    expires_on = Date(null=True, default=None)
    status = Varchar(length=16, default="imported")  # imported | confirmed
    problems = JSON(default=[])  # rules broken, shown in red until corrected
    confirmed_at = Timestamptz(null=True, default=None)
    confirmed_by = Integer(null=True, default=None)
    created_at = Timestamptz()


class RosterConfirmation(Table, tablename="survey_roster_confirmation"):
    """The association's two-sided check of a roster entry: when the company last filled in the
    person's details (企业填写) and when the learner confirmed them (学员确认); a company's change
    asks the learner to confirm again. One row per roster entry, made on the first of either."""

    tenant = ForeignKey(references=TenantRow, null=False)
    entry = ForeignKey(references=RosterEntry, null=False, unique=True, on_delete=OnDelete.cascade)
    company_filled_at = Timestamptz(null=True, default=None)
    learner_confirmed_at = Timestamptz(null=True, default=None)


class CompanyCertification(Table, tablename="survey_company_certification"):
    """A company's 实名认证 with the association: applied with its 营业执照, then approved or
    rejected (with a reason) by association staff. One row per company; a company without one
    never applied, and its administrator cannot use the company pages."""

    tenant = ForeignKey(references=TenantRow, null=False)
    enterprise = ForeignKey(references=Enterprise, null=False, unique=True, on_delete=OnDelete.cascade)
    status = Varchar(length=16, default="pending")  # pending | approved | rejected
    reject_reason = Text(default="")
    licence = ForeignKey(references=StoredFile, null=True)  # 营业执照
    decided_at = Timestamptz(null=True, default=None)
    decided_by = Integer(null=True, default=None)
