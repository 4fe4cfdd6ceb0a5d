"""Personal data is deleted once the tenant's retention period has passed."""

import datetime as dt

from core.files.tables import StoredFile
from core.notify.tables import Notification
from core.proctoring.tables import FaceVerification
from core.retention import purge


async def test_purge_deletes_old_face_evidence_and_keeps_recent(platform, tenant, make_account):
    t = tenant("construction")
    account, _ = await make_account("construction")
    # Years ahead, like the tests below: the app's startup purge (real clock, running alongside
    # the test) must not be what deletes the old rows first.
    now = dt.datetime.now(dt.UTC) + dt.timedelta(days=10 * 365)
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
    assert not await platform.storage.exists(old_file)
    assert await FaceVerification.exists().where(FaceVerification.id == recent.id) is True
    assert await platform.storage.read(recent_file) == b"jpeg-bytes"


async def test_purge_leaves_other_tenants_alone(platform, tenant, make_account):
    survey, construction = tenant("survey"), tenant("construction")
    account, _ = await make_account("survey")
    # Years ahead: the app's startup purge (real clock, alongside the test) must not be what
    # deletes the row.
    now = dt.datetime.now(dt.UTC) + dt.timedelta(days=20_000)
    v = FaceVerification(tenant=survey.id, account=account.id, nonce=f"other-{account.id}",
                         created_at=now - dt.timedelta(days=10_000))
    await v.save()
    await purge(construction, platform.storage, now=now)
    assert await FaceVerification.exists().where(FaceVerification.id == v.id) is True


# -- issue 8 #8: replaced images, import files, ID images of inactive accounts -----------------

import datetime as _dt  # noqa: E402
import json  # noqa: E402

from core.accounts.tables import Account, Enterprise  # noqa: E402
from core.roster.tables import ImportJob, LearnerProfile, RosterEntry  # noqa: E402
from plugins.survey_association.tables import CompanyCertification  # noqa: E402


def _later() -> _dt.datetime:
    """The tests' "now", years ahead: the app's startup purge (cron jobs run once at start, with
    the real clock, alongside the test) then finds nothing of the test's data old enough."""
    return _dt.datetime.now(_dt.UTC) + _dt.timedelta(days=10 * 365)


async def _file(platform, t, kind, age_days, owner=None, now=None) -> StoredFile:
    """A stored file (bytes on disk) whose row is ``age_days`` old."""
    row = await platform.storage.save(f"{kind}-bytes".encode(), tenant_id=t.id, kind=kind,
                                      media_type="image/jpeg", owner_id=owner)
    created = (now or _later()) - _dt.timedelta(days=age_days)
    await StoredFile.update({StoredFile.created_at: created}).where(StoredFile.id == row.id)
    row.created_at = created
    return row


async def _on_disk(platform, row) -> bool:
    return await platform.storage.exists(row)


async def _gone(platform, row) -> bool:
    return not await _on_disk(platform, row) and not await StoredFile.exists().where(StoredFile.id == row.id)


async def _kept(platform, row) -> bool:
    return await _on_disk(platform, row) and await StoredFile.exists().where(StoredFile.id == row.id)


async def test_purge_deletes_replaced_images_and_keeps_referenced_and_fresh_ones(platform, tenant, make_account):
    t = tenant("survey")
    account, _ = await make_account("survey")
    account.last_signin_at = _later()  # active: its current ID images stay
    await account.save([Account.last_signin_at])
    now = _later()
    old_front, old_portrait = await _file(platform, t, "id_front", 5, account.id), await _file(platform, t, "portrait", 5)
    old_photo, old_licence = await _file(platform, t, "photo", 5), await _file(platform, t, "licence", 5)
    front, back, portrait = [await _file(platform, t, k, 5, account.id) for k in ("id_front", "id_back", "portrait")]
    photo, licence = await _file(platform, t, "photo", 5), await _file(platform, t, "licence", 5)
    just_saved = await _file(platform, t, "id_back", 0)  # its row is not written yet: never collected
    firm = Enterprise(tenant=t.id, name="留存测试有限公司")
    await firm.save()
    await CompanyCertification(tenant=t.id, enterprise=firm.id, status="approved", licence=licence.id).save()
    await LearnerProfile(tenant=t.id, account=account.id, real_name="留存", id_front=front.id, id_back=back.id,
                         portrait=portrait.id, created_at=now, updated_at=now).save()
    await RosterEntry(tenant=t.id, enterprise=firm.id, real_name="留存", id_number=account.id_number, photo=photo.id,
                      created_at=now, updated_at=now).save()

    counts = await purge(t, platform.storage, now=now)

    for replaced in (old_front, old_portrait, old_photo, old_licence):
        assert await _gone(platform, replaced), replaced.kind
    for current in (front, back, portrait, photo, licence, just_saved):
        assert await _kept(platform, current), current.kind
    assert counts["replaced_files"] >= 4  # the shared test database may hold older leftovers too


async def test_purge_deletes_import_files_past_the_rule_and_keeps_the_jobs_counts(platform, tenant):
    t = tenant("survey")
    now = _later()
    days = t.rules.retention.import_files_days
    assert days <= 90  # a short rule: the files hold full ID numbers

    async def job(age_days, status="done"):
        f = await _file(platform, t, "import", age_days, now=now)
        j = ImportJob(tenant=t.id, kind="roster", filename="名单.xlsx", file=f.id, status=status,
                      summary={"created": 3}, created_at=now - _dt.timedelta(days=age_days))
        await j.save()
        return j, f

    (old_job, old_file), (new_job, new_file) = await job(days + 1), await job(days - 1)
    running_job, running_file = await job(days + 1, status="running")
    stray = await _file(platform, t, "import", days + 1, now=now)  # a file whose job row is gone

    counts = await purge(t, platform.storage, now=now)

    assert await _gone(platform, old_file) and await _gone(platform, stray)
    assert await _kept(platform, new_file) and await _kept(platform, running_file)
    old_job = await ImportJob.objects().where(ImportJob.id == old_job.id).first()
    summary = json.loads(old_job.summary) if isinstance(old_job.summary, str) else old_job.summary
    assert old_job.file is None and summary == {"created": 3}
    assert (await ImportJob.objects().where(ImportJob.id == new_job.id).first()).file == new_file.id
    assert counts["import_files"] >= 2


async def test_purge_deletes_id_images_of_accounts_inactive_past_the_rule(platform, tenant, make_account):
    t = tenant("survey")
    now = _later()
    days = t.rules.retention.id_images_days
    firm = Enterprise(tenant=t.id, name="留存企业有限公司")
    await firm.save()

    async def learner(last_signin_days):
        account, _ = await make_account("survey")
        account.last_signin_at = now - _dt.timedelta(days=last_signin_days)
        await account.save([Account.last_signin_at])
        front, back, portrait = [await _file(platform, t, k, last_signin_days, account.id, now)
                                 for k in ("id_front", "id_back", "portrait")]
        entry_front = await _file(platform, t, "id_front", last_signin_days, account.id, now)
        await LearnerProfile(tenant=t.id, account=account.id, real_name="甲", id_front=front.id, id_back=back.id,
                             portrait=portrait.id, created_at=now, updated_at=now).save()
        entry = RosterEntry(tenant=t.id, enterprise=firm.id, real_name="甲", id_number=account.id_number,
                            status="joined", account=account.id, id_front=entry_front.id, created_at=now,
                            updated_at=now)
        await entry.save()
        return account, (front, back, entry_front), portrait

    gone_account, gone_images, gone_portrait = await learner(days + 1)
    active_account, active_images, _ = await learner(days - 1)

    counts = await purge(t, platform.storage, now=now)

    for row in gone_images:
        assert await _gone(platform, row), row.kind
    for row in active_images:
        assert await _kept(platform, row), row.kind
    assert await _kept(platform, gone_portrait)  # id_images_days covers ID-card images only
    profile = await LearnerProfile.objects().where(LearnerProfile.account == gone_account.id).first()
    assert profile.id_front is None and profile.id_back is None and profile.portrait == gone_portrait.id
    entry = await RosterEntry.objects().where(RosterEntry.account == gone_account.id).first()
    assert entry.id_front is None
    kept = await LearnerProfile.objects().where(LearnerProfile.account == active_account.id).first()
    assert kept.id_front == active_images[0].id
    assert counts["id_images"] >= 3


async def test_purge_deletes_old_notifications_and_audit_entries_and_keeps_recent_and_other_tenants(
        platform, tenant, make_account):
    """Issue 8 #17: the rows themselves (not counts): old ones of this tenant gone, recent ones and
    another tenant's equally old ones kept."""
    from core.audit.tables import AuditEntry

    t, other = tenant("construction"), tenant("survey")
    account, _ = await make_account("construction")
    now = _later()
    rules = t.rules.retention

    async def notification(tenant_id, age_days):
        row = Notification(tenant=tenant_id, account=account.id if tenant_id == t.id else None, channel="inbox",
                           template="welcome", body="x", created_at=now - _dt.timedelta(days=age_days))
        await row.save()
        return row.id

    async def entry(tenant_id, age_days):
        row = AuditEntry(tenant=tenant_id, action="test.retention", created_at=now - _dt.timedelta(days=age_days))
        await row.save()
        return row.id

    old_n, recent_n = await notification(t.id, rules.notifications_days + 1), await notification(t.id, 1)
    other_n = await notification(other.id, rules.notifications_days + 1)
    old_a, recent_a = await entry(t.id, rules.audit_days + 1), await entry(t.id, 1)
    other_a = await entry(other.id, rules.audit_days + 1)

    await purge(t, platform.storage, now=now)

    assert await Notification.exists().where(Notification.id == old_n) is False
    assert await Notification.exists().where(Notification.id.is_in([recent_n, other_n])) is True
    assert await Notification.count().where(Notification.id.is_in([recent_n, other_n])) == 2
    assert await AuditEntry.exists().where(AuditEntry.id == old_a) is False
    assert await AuditEntry.count().where(AuditEntry.id.is_in([recent_a, other_a])) == 2
