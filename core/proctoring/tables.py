from piccolo.columns import JSON, ForeignKey, Integer, Text, Timestamptz, Varchar
from piccolo.table import Table

from core.accounts.tables import Account
from core.tenants.tables import TenantRow


class Consent(Table, tablename="consent"):
    """A person's separate consent to biometric processing (PIPL art. 29), with the exact text
    version they agreed to."""

    tenant = ForeignKey(references=TenantRow, null=False)
    account = ForeignKey(references=Account, null=False)
    kind = Varchar(length=32)  # face
    text_version = Varchar(length=32)
    text_sha256 = Varchar(length=64)
    granted_at = Timestamptz()
    withdrawn_at = Timestamptz(null=True, default=None)


class FaceVerification(Table, tablename="face_verification"):
    """One webcam liveness + identity attempt: challenge, outcome, scores, evidence frames."""

    tenant = ForeignKey(references=TenantRow, null=False)
    account = ForeignKey(references=Account, null=False)
    purpose = Varchar(length=32, default="study")  # study | snapshot | demo
    nonce = Varchar(length=64, unique=True)
    actions = JSON(default=[])
    liveness_provider = Varchar(length=32, default="")
    match_provider = Varchar(length=32, default="")
    status = Varchar(length=16, default="open")  # open | passed | failed
    reasons = JSON(default=[])
    scores = JSON(default={})
    evidence = JSON(default=[])  # StoredFile ids
    frames = Integer(default=0)
    created_at = Timestamptz()
    finished_at = Timestamptz(null=True, default=None)
    note = Text(default="")
