"""Deleting personal data once the tenant's retention rule says it is no longer needed (PIPL).

``xueshi purge`` runs it; schedule it daily (cron or a systemd timer).
"""

from __future__ import annotations

import datetime as dt
import json

from core.audit.tables import AuditEntry
from core.files.storage import LocalStorage
from core.files.tables import StoredFile
from core.notify.tables import Notification
from core.proctoring.tables import FaceVerification
from core.tenancy import Tenant


def _cutoff(days: int, now: dt.datetime) -> dt.datetime:
    return now - dt.timedelta(days=days)


async def purge(tenant: Tenant, storage: LocalStorage, now: dt.datetime | None = None) -> dict[str, int]:
    """Delete what is past the tenant's retention periods; returns counts per kind."""
    now = now or dt.datetime.now(dt.UTC)
    rules = tenant.rules.retention
    counts = {"evidence_files": 0, "face_verifications": 0, "notifications": 0, "audit_entries": 0}

    old_checks = await FaceVerification.objects().where(
        (FaceVerification.tenant == tenant.id)
        & (FaceVerification.created_at < _cutoff(rules.face_evidence_days, now))
    )
    for check in old_checks:
        evidence = json.loads(check.evidence) if isinstance(check.evidence, str) else check.evidence
        for file_id in evidence or []:
            row = await StoredFile.objects().where(
                (StoredFile.id == file_id) & (StoredFile.tenant == tenant.id)
            ).first()
            if row is not None:
                await storage.delete(row)
                counts["evidence_files"] += 1
        await FaceVerification.delete().where(FaceVerification.id == check.id)
        counts["face_verifications"] += 1

    notif_cut = _cutoff(rules.notifications_days, now)
    where = (Notification.tenant == tenant.id) & (Notification.created_at < notif_cut)
    counts["notifications"] = await Notification.count().where(where)
    await Notification.delete().where(where)

    audit_cut = _cutoff(rules.audit_days, now)
    where = (AuditEntry.tenant == tenant.id) & (AuditEntry.created_at < audit_cut)
    counts["audit_entries"] = await AuditEntry.count().where(where)
    await AuditEntry.delete().where(where)
    return counts
