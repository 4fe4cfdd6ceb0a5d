"""企业填写 / 学员确认: when the company last filled in a roster entry and when the learner
confirmed it (the plugin's ``RosterConfirmation`` rows, one per entry, made on first use)."""

from __future__ import annotations

import datetime as dt

from core import Tenant, scoped
from plugins.survey_association.tables import RosterConfirmation


async def of_entry(tenant: Tenant, entry_id: int) -> RosterConfirmation | None:
    return await scoped(RosterConfirmation, tenant).objects(RosterConfirmation.entry == entry_id).first()


async def _set(tenant: Tenant, entry_id: int, **times: dt.datetime | None) -> None:
    row = await of_entry(tenant, entry_id) or scoped(RosterConfirmation, tenant).new(entry=entry_id)
    for name, value in times.items():
        setattr(row, name, value)
    await row.save()


async def company_filled(tenant: Tenant, entry_id: int, now: dt.datetime) -> None:
    """The company changed the entry: the learner must confirm it again."""
    await _set(tenant, entry_id, company_filled_at=now, learner_confirmed_at=None)


async def learner_confirmed(tenant: Tenant, entry_id: int, now: dt.datetime) -> None:
    await _set(tenant, entry_id, learner_confirmed_at=now)
