"""Deleting personal data once the tenant's retention rule says it is no longer needed (PIPL).

``xueshi purge`` runs it, and the ``purge_retention`` job every night. Per tenant it deletes —
rows and the files on disk, through the storage:

- face-check evidence frames and their checks past ``face_evidence_days`` (study snapshots
  included), and the face encodings kept to compare learners (``FaceEncoding``), except a
  learner's while an appeal of theirs is open (legal hold, ``core.review``: counted as
  ``held_face_verifications``) and those of an enrolment on hold (``evidence_on_hold``: under
  review); the study timeline keeps its entries;
- stored images no row refers to any more (an ID-card image, portrait, roster photo or licence
  replaced by a new upload), once a day old (a file is saved before the row that points to it);
- raw import spreadsheets (full ID numbers) past ``import_files_days``: the job keeps its
  counts, the file goes; unreferenced import files likewise; registry report exports (full ID
  numbers, core.certificates) past the same rule: the report keeps its rows and statuses;
- ID-card images (front and back) of accounts inactive past ``id_images_days`` (no sign-in, or
  none since being created, for that long), in their profile and in the roster entries they
  joined, and those of roster entries nobody joined and nobody updated for that long;
- notifications and audit entries past ``notifications_days`` and ``audit_days``;
- requests to study without the camera (``FaceAlternative``: their reasons may tell of health)
  decided longer ago than ``face_evidence_days``: refused ones deleted, approved ones keep their
  approval and lose the reason's text.

A file still referenced by any row (``StoredFile``'s foreign keys, face-check evidence) is kept.
"""

from __future__ import annotations

import datetime as dt
import json

from core.accounts.tables import Account
from core.audit.tables import AuditEntry
from core.certificates.tables import RegistryBatch
from core.db.scoped import scoped
from core.files.storage import Storage
from core.files.tables import StoredFile
from core.notify.tables import Notification
from core.courses.tables import Enrollment
from core.proctoring.study_tables import FaceAlternative, FaceEncoding, ProctorSession
from core.proctoring.tables import FaceVerification
from core.review.services import held_accounts
from core.study.tables import StudyEvent
from core.roster.tables import ImportJob, LearnerProfile, RosterEntry
from core.tenancy import Tenant

# Kinds of file that are replaced by a new upload and then referenced by no row.
REPLACEABLE = ("id_front", "id_back", "portrait", "photo", "licence")
# A file is saved before the row that refers to it: never collect one younger than this.
GRACE = dt.timedelta(days=1)


async def evidence_on_hold(enrollment: Enrollment) -> bool:
    """Is the enrolment's face evidence kept past its retention period? While it is under review
    (待审核). The review flow extends this (appeals)."""
    return enrollment.status == "review"


async def _held(tenant: Tenant) -> tuple[set[int], set[int]]:
    """(face check ids, account ids) whose evidence an enrolment on hold still needs: the
    snapshots and gates on its timeline, and its learner's face encodings."""
    held_enrolments = [e for e in await scoped(Enrollment, tenant).objects() if await evidence_on_hold(e)]
    if not held_enrolments:
        return set(), set()
    ids = [e.id for e in held_enrolments]
    checks = {r["verification"] for r in await scoped(StudyEvent, tenant).select(StudyEvent.verification).where(
        StudyEvent.enrollment.is_in(ids) & StudyEvent.verification.is_not_null())}
    checks |= {r["gate"] for r in await scoped(ProctorSession, tenant).select(ProctorSession.gate).where(
        ProctorSession.enrollment.is_in(ids) & ProctorSession.gate.is_not_null())}
    return checks, {e.account for e in held_enrolments}


def _cutoff(days: int, now: dt.datetime) -> dt.datetime:
    return now - dt.timedelta(days=days)


def _file_references() -> list:
    """Every foreign key to ``StoredFile`` of the app's tables (core's and the plugins'), once.
    Piccolo also registers the throw-away table classes migrations build (module
    ``piccolo.*``), possibly bound to another engine: those are left out."""
    seen: dict[tuple[str, str], object] = {}
    for column in StoredFile._meta.foreign_key_references:
        table = column._meta.table
        if table.__module__.startswith("piccolo"):
            continue
        seen.setdefault((table._meta.tablename, column._meta.name), column)
    return list(seen.values())


async def _referenced(tenant: Tenant) -> set[int]:
    """Ids of the tenant's stored files some row still refers to."""
    ids: set[int] = set()
    for column in _file_references():
        rows = await scoped(column._meta.table, tenant).select(column).where(column.is_not_null())
        ids.update(r[column._meta.name] for r in rows)
    for row in await scoped(FaceVerification, tenant).select(FaceVerification.evidence):
        evidence = json.loads(row["evidence"]) if isinstance(row["evidence"], str) else row["evidence"]
        ids.update(int(i) for i in evidence or [])
    return ids


async def _delete_files(tenant: Tenant, storage: Storage, ids: set[int]) -> int:
    """Delete these files (rows and bytes) unless a row still refers to them."""
    if not ids:
        return 0
    keep = await _referenced(tenant)
    deleted = 0
    for row in await scoped(StoredFile, tenant).objects(StoredFile.id.is_in(sorted(ids))):
        if row.id not in keep:
            await storage.delete(row)
            deleted += 1
    return deleted


async def _held_accounts(tenant: Tenant) -> set[int]:
    return await held_accounts(tenant)


async def purge(tenant: Tenant, storage: Storage, now: dt.datetime | None = None) -> dict[str, int]:
    """Delete what is past the tenant's retention periods; returns counts per kind."""
    now = now or dt.datetime.now(dt.UTC)
    rules = tenant.rules.retention
    counts = {"evidence_files": 0, "face_verifications": 0, "face_encodings": 0, "replaced_files": 0, "import_files": 0,
              "id_images": 0, "notifications": 0, "audit_entries": 0}

    checks, files = scoped(FaceVerification, tenant), scoped(StoredFile, tenant)
    face_cut = _cutoff(rules.face_evidence_days, now)
    held_checks, held_enrolment_accounts = await _held(tenant)
    held = await _held_accounts(tenant)  # legal hold: learners with an open appeal (core.review)
    old_checks = await checks.objects(FaceVerification.created_at < face_cut)
    counts["held_face_verifications"] = sum(1 for c in old_checks if c.account in held)
    old_checks = [c for c in old_checks if c.account not in held and c.id not in held_checks]
    gone = [c.id for c in old_checks]
    if gone:  # the timeline and the sessions keep their rows, without the purged check
        await scoped(StudyEvent, tenant).update({StudyEvent.verification: None}).where(
            StudyEvent.verification.is_in(gone))
        await scoped(ProctorSession, tenant).update({ProctorSession.gate: None}).where(
            ProctorSession.gate.is_in(gone))
    encodings = scoped(FaceEncoding, tenant)
    old_encodings = FaceEncoding.created_at < face_cut
    if held | held_enrolment_accounts:
        old_encodings = old_encodings & FaceEncoding.account.not_in(sorted(held | held_enrolment_accounts))
    counts["face_encodings"] = await encodings.count(old_encodings)
    await encodings.delete().where(old_encodings)
    for check in old_checks:
        evidence = json.loads(check.evidence) if isinstance(check.evidence, str) else check.evidence
        for file_id in evidence or []:
            row = await files.get(file_id)
            if row is not None:
                await storage.delete(row)
                counts["evidence_files"] += 1
        await checks.delete().where(FaceVerification.id == check.id)
        counts["face_verifications"] += 1

    # Import spreadsheets past their short rule: the job keeps its counts, loses the file.
    import_cut = _cutoff(rules.import_files_days, now)
    jobs = scoped(ImportJob, tenant)
    old_jobs = await jobs.objects((ImportJob.created_at < import_cut) & ImportJob.file.is_not_null()
                                  & (ImportJob.status != "running"))
    import_ids = {job.file for job in old_jobs}
    if old_jobs:
        await jobs.update({ImportJob.file: None}).where(ImportJob.id.is_in([job.id for job in old_jobs]))
    unreferenced_imports = await files.select(StoredFile.id).where(
        (StoredFile.kind == "import") & (StoredFile.created_at < import_cut))
    import_ids |= {r["id"] for r in unreferenced_imports}
    counts["import_files"] = await _delete_files(tenant, storage, import_ids)
    counts["registry_exports"] = await _purge_registry_exports(tenant, storage, import_cut)

    # ID-card images of accounts inactive past the rule, and of roster entries left unjoined.
    id_cut = _cutoff(rules.id_images_days, now)
    accounts = scoped(Account, tenant)
    inactive = [r["id"] for r in await accounts.select(Account.id).where(
        (Account.last_signin_at < id_cut)
        | (Account.last_signin_at.is_null() & (Account.created_at < id_cut)))]
    id_image_ids: set[int] = set()
    clear = {LearnerProfile.id_front: None, LearnerProfile.id_back: None}
    if inactive:
        profiles = scoped(LearnerProfile, tenant)
        for p in await profiles.select(LearnerProfile.id_front, LearnerProfile.id_back).where(
                LearnerProfile.account.is_in(inactive)):
            id_image_ids |= {p["id_front"], p["id_back"]} - {None}
        await profiles.update(clear).where(LearnerProfile.account.is_in(inactive))
    roster = scoped(RosterEntry, tenant)
    stale = RosterEntry.account.is_null() & (RosterEntry.updated_at < id_cut)
    if inactive:
        stale = stale | RosterEntry.account.is_in(inactive)
    for e in await roster.select(RosterEntry.id_front, RosterEntry.id_back).where(stale):
        id_image_ids |= {e["id_front"], e["id_back"]} - {None}
    await roster.update({RosterEntry.id_front: None, RosterEntry.id_back: None}).where(stale)
    counts["id_images"] = await _delete_files(tenant, storage, id_image_ids)

    # Replaced images: referenced by no row, and older than the upload grace period.
    candidates = await files.select(StoredFile.id).where(
        StoredFile.kind.is_in(list(REPLACEABLE)) & (StoredFile.created_at < now - GRACE))
    counts["replaced_files"] = await _delete_files(tenant, storage, {r["id"] for r in candidates})

    notif_cut = _cutoff(rules.notifications_days, now)
    notifications = scoped(Notification, tenant)
    counts["notifications"] = await notifications.count(Notification.created_at < notif_cut)
    await notifications.delete().where(Notification.created_at < notif_cut)

    audit_cut = _cutoff(rules.audit_days, now)
    entries = scoped(AuditEntry, tenant)
    counts["audit_entries"] = await entries.count(AuditEntry.created_at < audit_cut)
    await entries.delete().where(AuditEntry.created_at < audit_cut)

    requests = scoped(FaceAlternative, tenant)
    decided_long_ago = FaceAlternative.decided_at.is_not_null() & (FaceAlternative.decided_at < face_cut)
    counts["camera_alternatives"] = await requests.count(decided_long_ago & (
        (FaceAlternative.status == "refused") | (FaceAlternative.reason != "")))
    await requests.delete().where(decided_long_ago & (FaceAlternative.status == "refused"))
    await requests.update({FaceAlternative.reason: ""}).where(decided_long_ago)
    return counts


async def _purge_registry_exports(tenant, storage: Storage, cut: dt.datetime) -> int:
    """Registry report files (full ID numbers) past the import files' rule: the batch keeps its
    rows and statuses, the file goes."""
    batches = scoped(RegistryBatch, tenant)
    old = await batches.objects((RegistryBatch.created_at < cut) & RegistryBatch.file.is_not_null()
                                & (RegistryBatch.status != "exporting"))
    if old:
        await batches.update({RegistryBatch.file: None}).where(RegistryBatch.id.is_in([b.id for b in old]))
    stale = await scoped(StoredFile, tenant).select(StoredFile.id).where(
        (StoredFile.kind == "registry_export") & (StoredFile.created_at < cut))
    return await _delete_files(tenant, storage, {b.file for b in old} | {r["id"] for r in stale})
