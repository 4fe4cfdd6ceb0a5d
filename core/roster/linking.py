"""Joining a learner's profile ("个人档案") to the roster entries companies made for them.

Generic: which entries a profile may join is decided by the ``roster_link_profile`` resolver
(core default: equal ID numbers). A name and an ID number are no secret, so matching them is not
enough: a join must be *proven* — the learner controls the entry's mobile (an SMS code sent to
it was entered, or the account's own verified mobile is the entry's), or the company confirmed
it. ``join`` takes the proof and records it; the company's images reach the learner's profile
only through a proven join. Joining sets the entry to "joined" (已加入), records the learner
account on it, and makes the entry's company the profile's "所属企业" — the only way that field
is ever set. Every join is audited and announced with the ``roster_linked`` notification.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from core.audit.services import record
from core.db.scoped import scoped
from core.plugins import Hooks, notify
from core.roster.tables import LearnerProfile, RosterEntry
from core.tenancy import Tenant


@dataclass
class Matches:
    """What a profile finds on the tenant's rosters."""

    entries: list[RosterEntry] = field(default_factory=list)  # may be joined by this profile
    joined: list[RosterEntry] = field(default_factory=list)  # already joined by this profile
    name_mismatch: bool = False  # an entry has this ID number under another name
    taken: bool = False  # an entry with this ID number is joined by another account

    @property
    def pending(self) -> list[RosterEntry]:
        return [e for e in self.entries if e.status != "joined"]


async def find_matches(hooks: Hooks, tenant: Tenant, profile: LearnerProfile) -> Matches:
    """Roster entries in ``tenant`` that ``profile`` may join (company name prefetched)."""
    found = Matches()
    if not profile.id_number:
        return found
    candidates = await (
        scoped(RosterEntry, tenant).objects(RosterEntry.id_number == profile.id_number)
        .prefetch(RosterEntry.enterprise)
        .order_by(RosterEntry.id)
    )
    for entry in candidates:
        if not hooks.roster_link_profile(tenant=tenant, profile=profile, entry=entry):
            continue
        if entry.account is not None and entry.account != profile.account:
            found.taken = True
        elif (entry.real_name or "").strip() != (profile.real_name or "").strip():
            found.name_mismatch = True  # details stay hidden: someone may be trying an ID number
        elif entry.status == "joined":
            found.joined.append(entry)
        else:
            found.entries.append(entry)
    return found


PROOFS = ("sms_code", "account_mobile", "company")


def proven_by_mobile(entries: list[RosterEntry], mobile: str | None) -> list[RosterEntry]:
    """The entries whose mobile is ``mobile`` (a number the learner has proven to control)."""
    return [e for e in entries if mobile and e.mobile and e.mobile == mobile]


async def join(hooks: Hooks, tenant: Tenant, profile: LearnerProfile, entries: list[RosterEntry], *,
               proof: str) -> int:
    """Join ``entries`` (from ``find_matches``), each proven by ``proof`` (one of ``PROOFS``:
    the caller checked it). Returns how many."""
    if proof not in PROOFS:
        raise ValueError(f"a roster join needs a proof, one of {PROOFS}")
    now = dt.datetime.now(dt.UTC)
    joined = 0
    for entry in entries:
        if entry.tenant != tenant.id or entry.id_number != profile.id_number:
            raise ValueError("roster entry does not belong to this profile")
        enterprise_id = entry.enterprise.id if hasattr(entry.enterprise, "id") else entry.enterprise
        await scoped(RosterEntry, tenant).update(
            {RosterEntry.status: "joined", RosterEntry.account: profile.account, RosterEntry.updated_at: now}
        ).where(RosterEntry.id == entry.id)
        entry.status, entry.account = "joined", profile.account
        profile.enterprise = enterprise_id
        # Images the company provided complete the learner's own profile where it has none.
        profile.id_front = profile.id_front or entry.id_front
        profile.id_back = profile.id_back or entry.id_back
        profile.portrait = profile.portrait or entry.photo
        joined += 1
        await record("roster.linked", tenant_id=tenant.id, actor_id=profile.account,
                     object_type="roster_entry", object_id=entry.id, enterprise_id=enterprise_id, proof=proof)
        await notify(hooks.roster_linked, tenant=tenant, entry=entry, profile=profile)
    if joined:
        profile.confirmed_at, profile.updated_at = now, now
        await profile.save([LearnerProfile.enterprise, LearnerProfile.id_front, LearnerProfile.id_back,
                            LearnerProfile.portrait, LearnerProfile.confirmed_at, LearnerProfile.updated_at])
    return joined
