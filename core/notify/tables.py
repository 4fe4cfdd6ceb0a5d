from piccolo.columns import ForeignKey, Text, Timestamptz, Varchar
from piccolo.table import Table

from core.accounts.tables import Account
from core.tenants.tables import TenantRow


class Notification(Table, tablename="notification"):
    """The outbox and the in-app inbox in one: every message is a row, sent by its channel."""

    tenant = ForeignKey(references=TenantRow, null=False)
    account = ForeignKey(references=Account, null=True)
    channel = Varchar(length=32)  # inbox | sms | …
    recipient = Varchar(length=64, default="")  # the mobile for SMS; never logged
    template = Varchar(length=64)
    subject = Varchar(length=200, default="")
    body = Text()
    # pending | recorded | queued (a provider's job will send it) | sent (the provider accepted it)
    # | delivered (the provider's receipt says so) | failed (error: why, the provider's code)
    status = Varchar(length=16, default="pending")
    error = Text(default="")
    created_at = Timestamptz()
    sent_at = Timestamptz(null=True, default=None)
    read_at = Timestamptz(null=True, default=None)
    provider_ref = Varchar(length=64, default="")  # the SMS provider's id of the message (its receipts' key)
    delivered_at = Timestamptz(null=True, default=None)
