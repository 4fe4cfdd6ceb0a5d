"""Snapshots during study: the server asks, the page captures, a job matches.

* Each heartbeat that credits time moves the session's study seconds on; when they reach the next
  time of the session's plan (``core.proctoring.schedule``, its first capture inside what the
  session can credit: ``core.proctoring.coverage``), or when the session ends or completes with
  seconds not yet covered (a *closing* capture), the answer carries a capture *ticket*
  (``{"capture": {"ticket": …, "within": seconds, "frames": n}}``). The page uploads a burst of
  ``face.snapshot_burst_frames`` small JPEGs taken over about a second with that ticket to
  ``/study/snapshot``; an upload without the outstanding ticket is refused, so the page cannot
  choose the times.
* Each frame is cleaned (``clean_image``: type by content, pixel cap, re-encoded JPEG), stored
  privately (kind ``snapshot``), the burst recorded as one ``FaceVerification`` with
  ``purpose="snapshot"`` and judged by the ``check_snapshot`` job (``core.proctoring.snapshot_match``,
  off the request path): live evidence (``core.proctoring.burst``) of the portrait's person.
* A good snapshot confirms the seconds credited since the previous good one. No face, several
  faces, another person, a still or re-used picture, or a ticket not answered within
  ``study.snapshot_grace_seconds``: the session pauses, the provisional seconds are withdrawn with a
  reversing ledger row, and the learner must pass the face check again to go on
  (``core.proctoring.verdicts``).
"""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

from core.db.scoped import scoped
from core.files.images import FACE_FRAME_MAX_PIXELS, ImageRejected, clean_image_async
from core.proctoring import consent as consents
from core.proctoring import verdicts
from core.proctoring.coverage import covered
from core.proctoring.gate import event
from core.proctoring.snapshot_match import check_snapshot
from core.proctoring.study_tables import ProctorSession
from core.proctoring.tables import FaceVerification
from core.proctoring.verdicts import BAD, OUTCOMES, flag, paused_message
from core.study import services as study
from core.study.tables import StudyEvent, StudySession

__all__ = ["BAD", "OUTCOMES", "check_snapshot", "covered", "flag", "paused_message"]


SNAPSHOT_MAX_BYTES = 512 * 1024
async def _load(tenant, token: str) -> ProctorSession | None:
    return await scoped(ProctorSession, tenant).objects(ProctorSession.session == token).output(
        load_json=True).first()


# --- the heartbeat's side ------------------------------------------------------------------------


async def after_credit(tenant, session: StudySession, seconds: float, now: float, closing: bool = False
                       ) -> dict[str, Any]:
    """Under the learner's clock lock, after a beat was credited ``seconds``: count them as study
    (and as provisional) and issue the next capture ticket when the plan says so, or at once when
    the session ends or completes (``closing``) with seconds no snapshot covers yet."""
    ps = await _load(tenant, session.token)
    if ps is None or ps.alternative:
        return {}
    if ps.paused:  # a verdict paused it while the beat waited for the lock: nothing is credited
        raise SessionPaused(ps.pause_reason)
    studied, provisional = ps.studied + seconds, ps.provisional + seconds
    values: dict[Any, Any] = {ProctorSession.studied: studied, ProctorSession.provisional: provisional}
    ticket, due = ps.ticket, ps.ticket_due
    planned = ps.next_index < len(ps.plan) and studied >= ps.plan[ps.next_index]
    if not ticket and (planned or (closing and provisional > 1e-6)):
        ticket, due = secrets.token_urlsafe(24), now + tenant.rules.study.snapshot_grace_seconds
        values.update({ProctorSession.ticket: ticket, ProctorSession.ticket_due: due})
        if planned:
            values[ProctorSession.next_index] = ps.next_index + 1
    await scoped(ProctorSession, tenant).update(values).where(ProctorSession.id == ps.id)
    return {"capture": capture(tenant, ticket, due - now)} if ticket else {}


class SessionPaused(Exception):
    """Raised under the learner's lock: the beat's transaction rolls back and it is refused."""


def capture(tenant, ticket: str, within: float) -> dict[str, Any]:
    """The capture request of a beat's answer (both paths: ``core.study.live_http`` too)."""
    return {"ticket": ticket, "within": round(max(0.0, within), 1), "frames": tenant.rules.face.snapshot_burst_frames}


async def before_beat(platform, tenant, session: StudySession, now: float) -> str:
    """Before a beat is credited: a capture ticket past its deadline counts as a bad snapshot.
    Returns the pause reason ("" when the session may go on)."""
    ps = await _load(tenant, session.token)
    if ps is None:
        return ""
    if ps.ticket and now > ps.ticket_due and not ps.paused and await verdicts.overdue(platform, tenant, ps, now):
        ps = await _load(tenant, session.token)
    return ps.pause_reason if ps.paused else ""


# --- the upload ----------------------------------------------------------------------------------


class SnapshotRefused(Exception):
    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def burst_refused(tenant) -> str:
    return f"抓拍需要连续拍摄的 {tenant.rules.face.snapshot_burst_frames} 张画面，请保持摄像头开启后重试"


async def accept(platform, tenant, account, ticket: str, frames: list[bytes]) -> FaceVerification:
    """Take one requested snapshot (a burst of frames): check the ticket, clean and store the
    frames, record them and queue their judgement. Raises SnapshotRefused (Chinese message, HTTP
    status)."""
    if not ticket:
        raise SnapshotRefused("未请求抓拍", 404)
    ps = await scoped(ProctorSession, tenant).objects(
        (ProctorSession.ticket == ticket[:64]) & (ProctorSession.account == account.id)).first()
    if ps is None:
        raise SnapshotRefused("未请求抓拍", 404)  # not this account's outstanding ticket: not asked for
    if study.server_time() > ps.ticket_due:
        raise SnapshotRefused("抓拍已超时", 409)
    if await consents.active_consent(tenant, account.id) is None:
        raise SnapshotRefused("请先阅读并同意人脸信息处理告知", 403)
    if len(frames) != tenant.rules.face.snapshot_burst_frames:
        raise SnapshotRefused(burst_refused(tenant), 400)
    images = []
    for raw in frames:
        try:
            images.append(await clean_image_async(raw, max_bytes=SNAPSHOT_MAX_BYTES, max_pixels=FACE_FRAME_MAX_PIXELS))
        except ImageRejected as exc:
            raise SnapshotRefused(str(exc), 400) from None
    taken = await scoped(ProctorSession, tenant).update({ProctorSession.ticket: ""}).where(
        (ProctorSession.id == ps.id) & (ProctorSession.ticket == ps.ticket)).returning(ProctorSession.id)
    if not taken:
        raise SnapshotRefused("该抓拍已上传", 409)
    await study.hold(tenant, account.id)  # live study's state still holds the ticket
    stored = [await platform.storage.save(image.data, tenant_id=tenant.id, kind="snapshot",
                                          media_type=image.media_type, owner_id=account.id) for image in images]
    row = scoped(FaceVerification, tenant).new(
        account=account.id, purpose="snapshot", nonce=ticket[:64], status="open",
        match_provider=tenant.rules.face.match_provider, evidence=[f.id for f in stored], frames=len(stored),
        scores={"width": images[0].width, "height": images[0].height}, created_at=dt.datetime.now(dt.UTC))
    await row.save()
    await platform.jobs.enqueue(check_snapshot, tenant=tenant, key=f"snapshot:{row.id}",
                                verification=row.id, proctor_session=ps.id)
    return row


# --- what the player reports ---------------------------------------------------------------------


async def player_evidence(tenant, account_id: int, beat, answer: dict[str, Any], now: float) -> bool:
    """Idle windows, hidden tabs and a second device, on the study timeline for the reviewer:
    ``idle`` once per window of ``study.idle_seconds`` without interaction while playing (the
    player reports the seconds since the last touch), ``hidden`` for every beat sent as the page
    was hidden, ``devices`` once when a page learns that another tab or device took over. Returns
    whether the session's idle flag changed."""
    token = beat.token[:64]
    ps = await scoped(ProctorSession, tenant).objects(
        (ProctorSession.session == token) & (ProctorSession.account == account_id)).first()
    if ps is None:
        return False
    kw = {"enrollment": ps.enrollment, "session": token}
    if answer.get("reason") == "session_replaced":
        if not await scoped(StudyEvent, tenant).exists((StudyEvent.session == token) & (StudyEvent.kind == "devices")):
            await event(tenant, account_id, "devices", **kw)
        return False
    if answer.get("reason") in ("foreign_session", "replayed", "lesson_mismatch", "session_ended"):
        return False
    if beat.event == "hide":
        await event(tenant, account_id, "hidden", position=round(beat.position, 1)
                    if isinstance(beat.position, float) and beat.position == beat.position else 0.0, **kw)
    idle = beat.idle if isinstance(beat.idle, float) and 0 <= beat.idle < 1e7 else 0.0
    if idle >= tenant.rules.study.idle_seconds and beat.playing and not ps.idle_reported:
        await scoped(ProctorSession, tenant).update({ProctorSession.idle_reported: True}).where(
            ProctorSession.id == ps.id)
        await event(tenant, account_id, "idle", seconds=round(idle), **kw)
        return True
    if idle < tenant.rules.study.idle_seconds and ps.idle_reported:
        await scoped(ProctorSession, tenant).update({ProctorSession.idle_reported: False}).where(
            ProctorSession.id == ps.id)
        return True
    return False
