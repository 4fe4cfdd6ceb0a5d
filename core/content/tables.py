from piccolo.columns import Date, ForeignKey, Integer, Text, Timestamptz, Varchar
from piccolo.table import Table

from core.files.tables import StoredFile
from core.tenants.tables import TenantRow


class Article(Table, tablename="article"):
    """Home-page content: 新闻动态 (news), 通知公告 (notice), 政策法规 (policy), enrollment notices."""

    tenant = ForeignKey(references=TenantRow, null=False)
    category = Varchar(length=16)  # news | notice | policy | enrollment
    title = Varchar(length=200)
    body = Text(default="")
    published_on = Date()
    attachment = ForeignKey(references=StoredFile, null=True)
    position = Varchar(length=64, default="")  # for enrollment notices
    created_by = Integer(null=True, default=None)
    created_at = Timestamptz()
