"""Hook specs of the learning flow: company rosters, proctoring and faces, review of study hours, notifications."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from core.hookspecs.markers import hookspec

if TYPE_CHECKING:  # types for readers and checkers only: no import cost, no cycles
    from core.accounts.tables import Account, Enterprise
    from core.courses.tables import Enrollment
    from core.faces import FaceProvider, Verdict
    from core.notify.services import NotifyChannel
    from core.notify.tables import Notification
    from core.proctoring.tables import FaceVerification
    from core.review.tables import Appeal, ReviewDecision
    from core.roster.imports import RosterColumn, RowError
    from core.roster.tables import LearnerProfile, RosterEntry
    from core.tenancy import Tenant


# ---------------------------------------------------------------------------------------------
# Roster (company staff lists)
# ---------------------------------------------------------------------------------------------


@hookspec
def roster_columns(tenant: Tenant) -> list[RosterColumn] | None:
    """Extra ``RosterColumn`` definitions of the tenant's roster spreadsheet."""


@hookspec
def roster_validate_row(tenant: Tenant, row: dict[str, Any]) -> list[RowError] | None:
    """Extra ``RowError`` items for one parsed roster row (core checks run first)."""


@hookspec(firstresult=True)
def roster_link_profile(tenant: Tenant, profile: LearnerProfile, entry: RosterEntry) -> bool | None:
    """Decide whether a learner profile joins a roster entry ("未加入" → "已加入").
    The core default (trylast) links when the ID numbers are equal. Stops at the first
    non-None result."""


@hookspec
def roster_imported(tenant: Tenant, enterprise: Enterprise, summary: dict[str, Any]) -> None:
    """A roster import was committed."""


@hookspec
def roster_linked(tenant: Tenant, entry: RosterEntry, profile: LearnerProfile) -> None:
    """A learner profile joined a company's roster entry."""


# ---------------------------------------------------------------------------------------------
# Proctoring and faces
# ---------------------------------------------------------------------------------------------


@hookspec
def face_providers() -> list[FaceProvider] | None:
    """Face provider objects (see ``core.faces``); tenant rules select them by name."""


@hookspec(firstresult=True)
def proctor_challenge_actions(tenant: Tenant) -> list[str] | None:
    """The liveness actions the tenant allows in a challenge (core default: all the liveness
    provider supports). Stops at the first non-None result."""


@hookspec
def proctor_verified(tenant: Tenant, account: Account, verdict: Verdict) -> None:
    """A face verification ended (passed or failed); ``verdict`` holds scores and reasons."""


@hookspec
def proctor_snapshot_checked(tenant: Tenant, account: Account, verification: FaceVerification,
                             outcome: str) -> None:
    """A snapshot taken during study was judged. ``verification`` is its ``FaceVerification``
    (``purpose="snapshot"``: status, scores, evidence file ids); ``outcome`` is ``ok``,
    ``mismatch``, ``no_face``, ``faces`` or ``missing`` (never uploaded in time)."""


@hookspec
def proctor_flagged(tenant: Tenant, account: Account, enrollment: Enrollment, reason: str) -> None:
    """An enrolment was flagged for review by proctoring (once per enrolment). ``reason``:
    ``repeated_mismatch`` (snapshots of another person) or ``shared_face`` (the same face studies
    for another account of the tenant; both accounts' enrolments are flagged)."""


# ---------------------------------------------------------------------------------------------
# Review of study hours
# ---------------------------------------------------------------------------------------------


@hookspec
def review_decided(tenant: Tenant, enrollment: Enrollment, decision: ReviewDecision) -> None:
    """A reviewer decided on an enrolment (after the change is committed and the learner told).

    :param enrollment: the enrolment as it is now (``status`` approved, cleared or still review).
    :param decision: ``kind`` approve | clear | reverify | appeal_upheld | appeal_rejected;
        a clearing is announced twice: when proposed (``status`` pending) and when a second
        reviewer confirms it (``done``, ``reversed_seconds`` taken off the ledger) or declines it
        (``cancelled``).
    """


@hookspec
def review_appealed(tenant: Tenant, enrollment: Enrollment, appeal: Appeal) -> None:
    """A learner appealed a clearing (statement, optional cleaned photo); the learner's face
    evidence is on legal hold until a reviewer decides."""


# ---------------------------------------------------------------------------------------------
# Notifications
# ---------------------------------------------------------------------------------------------


@hookspec
def notify_channels() -> list[NotifyChannel] | None:
    """Delivery channel objects (``NotifyChannel``): SMS providers and the like."""


@hookspec
def notify_templates(tenant: Tenant) -> dict[str, str] | None:
    """Message templates by key; a tenant plugin's override the core defaults."""


@hookspec
def notify_sent(tenant: Tenant, notification: Notification) -> None:
    """A notification left the outbox through its channel."""
