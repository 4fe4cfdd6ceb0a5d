"""Deleting personal data once the tenant's retention rule says it is no longer needed (PIPL).

``xueshi purge`` runs it; schedule it daily (cron or a systemd timer).
"""

from __future__ import annotations

import datetime as dt
import json

from core.audit.tables import AuditEntry
from core.db.scoped import scoped
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

    checks, files = scoped(FaceVerification, tenant), scoped(StoredFile, tenant)
    old_checks = await checks.objects(FaceVerification.created_at < _cutoff(rules.face_evidence_days, now))
    for check in old_checks:
        evidence = json.loads(check.evidence) if isinstance(check.evidence, str) else check.evidence
        for file_id in evidence or []:
            row = await files.get(file_id)
            if row is not None:
                await storage.delete(row)
                counts["evidence_files"] += 1
        await checks.delete().where(FaceVerification.id == check.id)
        counts["face_verifications"] += 1

    notif_cut = _cutoff(rules.notifications_days, now)
    notifications = scoped(Notification, tenant)
    counts["notifications"] = await notifications.count(Notification.created_at < notif_cut)
    await notifications.delete().where(Notification.created_at < notif_cut)

    audit_cut = _cutoff(rules.audit_days, now)
    entries = scoped(AuditEntry, tenant)
    counts["audit_entries"] = await entries.count(AuditEntry.created_at < audit_cut)
    await entries.delete().where(AuditEntry.created_at < audit_cut)
    return counts
