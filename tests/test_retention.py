"""Personal data is deleted once the tenant's retention period has passed."""

import datetime as dt

from core.files.tables import StoredFile
from core.notify.tables import Notification
from core.proctoring.tables import FaceVerification
from core.retention import purge


async def test_purge_deletes_old_face_evidence_and_keeps_recent(platform, tenant, make_account):
    t = tenant("construction")
    account, _ = await make_account("construction")
    now = dt.datetime.now(dt.UTC)
    days = t.rules.retention.face_evidence_days

    async def check(age_days: int) -> tuple[FaceVerification, StoredFile]:
        f = await platform.storage.save(b"jpeg-bytes", tenant_id=t.id, kind="evidence", media_type="image/jpeg",
                                        owner_id=account.id)
        v = FaceVerification(tenant=t.id, account=account.id, nonce=f"n-{f.id}", evidence=[f.id],
                             created_at=now - dt.timedelta(days=age_days))
        await v.save()
        return v, f

    old, old_file = await check(days + 1)
    recent, recent_file = await check(days - 1)
    await Notification(tenant=t.id, account=account.id, channel="inbox", template="welcome", body="x",
                       created_at=now - dt.timedelta(days=t.rules.retention.notifications_days + 1)).save()

    counts = await purge(t, platform.storage, now=now)

    assert counts["face_verifications"] >= 1 and counts["evidence_files"] >= 1
    assert counts["notifications"] >= 1
    assert await FaceVerification.exists().where(FaceVerification.id == old.id) is False
    assert await StoredFile.exists().where(StoredFile.id == old_file.id) is False
    assert not (platform.storage.root / old_file.key).exists()
    assert await FaceVerification.exists().where(FaceVerification.id == recent.id) is True
    assert platform.storage.read(recent_file) == b"jpeg-bytes"


async def test_purge_leaves_other_tenants_alone(platform, tenant, make_account):
    survey, construction = tenant("survey"), tenant("construction")
    account, _ = await make_account("survey")
    now = dt.datetime.now(dt.UTC)
    v = FaceVerification(tenant=survey.id, account=account.id, nonce=f"other-{account.id}",
                         created_at=now - dt.timedelta(days=10_000))
    await v.save()
    await purge(construction, platform.storage, now=now)
    assert await FaceVerification.exists().where(FaceVerification.id == v.id) is True
