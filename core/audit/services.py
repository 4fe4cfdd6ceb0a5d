"""Recording audit entries."""

from __future__ import annotations

from typing import Any

from core.audit.tables import AuditEntry


async def record(
    action: str,
    *,
    tenant_id: int | None,
    actor_id: int | None = None,
    object_type: str = "",
    object_id: Any = "",
    **detail: Any,
) -> None:
    await AuditEntry.insert(
        AuditEntry(
            tenant=tenant_id,
            actor=actor_id,
            action=action,
            object_type=object_type,
            object_id=str(object_id),
            detail=detail,
        )
    )
