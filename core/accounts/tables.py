from piccolo.columns import Boolean, ForeignKey, Integer, Timestamptz, Varchar
from piccolo.table import Table

from core.tenants.tables import TenantRow


class Enterprise(Table, tablename="enterprise"):
    """A company of a tenant (unique credit code within the tenant): the employer a roster entry,
    a learner profile, an import or an account belongs to. Whether and how a company is vetted is
    a plugin's concern (the survey association's ``CompanyCertification``)."""

    tenant = ForeignKey(references=TenantRow, null=False)
    name = Varchar(length=200)
    credit_code = Varchar(length=18, null=True, default=None)
    address = Varchar(length=300, default="")
    created_at = Timestamptz()


class Account(Table, tablename="account"):
    """A person who signs in. ID number and mobile are unique within a tenant (migration index).

    ``tenant`` is NULL only for platform operators.
    """

    tenant = ForeignKey(references=TenantRow, null=True)
    role = Varchar(length=32)  # operator, a role of core.values.TENANT_ROLES or one a plugin declares (account_roles)
    real_name = Varchar(length=100, default="")
    id_number = Varchar(length=18, null=True, default=None)
    mobile = Varchar(length=11, null=True, default=None)
    username = Varchar(length=64, null=True, default=None)
    password_hash = Varchar(length=200, default="")
    must_change_password = Boolean(default=False)
    last_signin_at = Timestamptz(null=True, default=None)
    enterprise = ForeignKey(references=Enterprise, null=True)
    active = Boolean(default=True)
    created_at = Timestamptz()


class SmsCode(Table, tablename="sms_code"):
    """A one-time SMS code: stored hashed, expires, single use, attempts counted."""

    tenant = ForeignKey(references=TenantRow, null=False)
    mobile = Varchar(length=11, index=True)
    purpose = Varchar(length=32)  # signin | register | enterprise
    code_hash = Varchar(length=200)
    client = Varchar(length=64, default="")  # the requesting address, for rate limits
    attempts = Integer(default=0)
    expires_at = Timestamptz()
    used_at = Timestamptz(null=True, default=None)
    created_at = Timestamptz()
