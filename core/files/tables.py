from piccolo.columns import ForeignKey, Integer, Timestamptz, Varchar
from piccolo.table import Table

from core.accounts.tables import Account
from core.tenants.tables import TenantRow


class StoredFile(Table, tablename="stored_file"):
    """A private file (ID-card image, portrait, licence, evidence frame). Never a public URL:
    pages reach it through an authorised handler by its row id."""

    tenant = ForeignKey(references=TenantRow, null=False)
    owner = ForeignKey(references=Account, null=True)  # whose personal data it is
    kind = Varchar(length=32)  # id_front | id_back | portrait | licence | evidence | …
    key = Varchar(length=200, unique=True)  # path inside the storage root
    media_type = Varchar(length=64)
    size = Integer()
    sha256 = Varchar(length=64)
    created_at = Timestamptz()
