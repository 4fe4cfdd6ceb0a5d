from piccolo.columns import JSON, ForeignKey, Timestamptz, Varchar
from piccolo.table import Table

from core.accounts.tables import Account
from core.tenants.tables import TenantRow


class AuditEntry(Table, tablename="audit_entry"):
    """Who did what to which object; ``detail`` never holds unmasked ID or phone numbers."""

    tenant = ForeignKey(references=TenantRow, null=True)
    actor = ForeignKey(references=Account, null=True)
    action = Varchar(length=64)
    object_type = Varchar(length=64, default="")
    object_id = Varchar(length=64, default="")
    detail = JSON(default={})
    created_at = Timestamptz()
