from piccolo.columns import JSON, Boolean, Timestamptz, Varchar
from piccolo.table import Table


class TenantRow(Table, tablename="tenant"):
    """One onboarded tenant organisation; the declaration itself lives in its plugin."""

    slug = Varchar(length=64, unique=True)
    name = Varchar(length=200)
    name_en = Varchar(length=200)
    hosts = JSON(default=[])
    theme = Varchar(length=64, default="default")
    active = Boolean(default=True)
    created_at = Timestamptz()
