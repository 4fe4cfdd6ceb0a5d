"""Company rosters, learner profiles and import jobs."""

from piccolo.columns import JSON, ForeignKey, Integer, Timestamptz, Varchar
from piccolo.table import Table

from core.accounts.tables import Account, Enterprise
from core.files.tables import StoredFile
from core.tenants.tables import TenantRow


class RosterEntry(Table, tablename="roster_entry"):
    """A person a company has registered as its staff ("企业学员"). Status "pending" shows as
    未加入 until a learner profile with the same ID number joins it ("joined" = 已加入)."""

    tenant = ForeignKey(references=TenantRow, null=False)
    enterprise = ForeignKey(references=Enterprise, null=False)
    real_name = Varchar(length=100)
    id_number = Varchar(length=18)
    mobile = Varchar(length=11, null=True, default=None)
    position = Varchar(length=64, default="")
    status = Varchar(length=16, default="pending")  # pending (未加入) | joined (已加入)
    account = ForeignKey(references=Account, null=True)  # the learner who joined
    id_front = ForeignKey(references=StoredFile, null=True)
    id_back = ForeignKey(references=StoredFile, null=True)
    photo = ForeignKey(references=StoredFile, null=True)
    notified_at = Timestamptz(null=True, default=None)
    created_at = Timestamptz()
    updated_at = Timestamptz()


class LearnerProfile(Table, tablename="learner_profile"):
    """"个人档案": one per learner account. ``enterprise`` (所属企业) is set only by joining a
    company's roster entry, never by the learner."""

    tenant = ForeignKey(references=TenantRow, null=False)
    account = ForeignKey(references=Account, null=False, unique=True)
    real_name = Varchar(length=100, default="")
    id_number = Varchar(length=18, null=True, default=None)
    enterprise = ForeignKey(references=Enterprise, null=True)
    id_front = ForeignKey(references=StoredFile, null=True)
    id_back = ForeignKey(references=StoredFile, null=True)
    portrait = ForeignKey(references=StoredFile, null=True)
    position = Varchar(length=64, default="")  # 岗位 (staff import), for enrolment by position
    company = Varchar(length=200, default="")  # 所在单位 (staff import): where the learner works
    cert_number = Varchar(length=64, default="")  # 证书编号 of the existing certificate
    confirmed_at = Timestamptz(null=True, default=None)
    created_at = Timestamptz()
    updated_at = Timestamptz()


class ImportJob(Table, tablename="import_job"):
    """A spreadsheet import: previewed, then committed with progress."""

    tenant = ForeignKey(references=TenantRow, null=False)
    enterprise = ForeignKey(references=Enterprise, null=True)
    kind = Varchar(length=32)  # roster | certificates
    filename = Varchar(length=200, default="")
    file = ForeignKey(references=StoredFile, null=True)
    status = Varchar(length=16, default="previewed")  # previewed | running | done | failed
    total_rows = Integer(default=0)
    processed_rows = Integer(default=0)
    error_rows = Integer(default=0)
    summary = JSON(default={})
    created_by = Integer(null=True, default=None)
    created_at = Timestamptz()
    finished_at = Timestamptz(null=True, default=None)
