"""Snapshots during study: the server asks, the page captures, a job matches.

* Each heartbeat that credits time moves the session's study seconds on; when they reach the next
  time of the session's plan (``core.proctoring.schedule``), the answer carries a capture *ticket*
  (``{"capture": {"ticket": …, "within": seconds}}``). The page uploads one small JPEG with that
  ticket to ``/study/snapshot``; an upload without the outstanding ticket is refused, so the page
  cannot choose the times.
* The upload is cleaned (``clean_image``: type by content, pixel cap, re-encoded JPEG), stored
  privately (kind ``snapshot``), recorded as a ``FaceVerification`` with ``purpose="snapshot"``
  and matched against the portrait by the ``check_snapshot`` job (off the request path) with the
  tenant's matching provider, whose models each process loads once.
* A good snapshot confirms the seconds credited since the previous good one. No face, several
  faces, another person, or a ticket not answered within ``study.snapshot_grace_seconds``: the
  session pauses (its next beat says so, and credits nothing), the provisional seconds are
  withdrawn with a reversing ledger row, and the learner must pass the face check again to go
  on. ``face.snapshot_mismatches_to_flag`` mismatches on one enrolment flag it for review.
* Good snapshots' encodings are kept per tenant (``FaceEncoding``) and compared with the other
  learners' portraits and snapshots: one face studying for several accounts flags them all.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from collections import OrderedDict
from typing import Any

from core.accounts.tables import Account
from core.courses.tables import Enrollment
from core.db.scoped import scoped
from core.files.tables import StoredFile
from core.hookcalls import notify
from core.proctoring.gate import event, of_session
from core.proctoring.study_tables import FaceEncoding, ProctorSession
from core.proctoring.tables import FaceVerification
from core.db import write_transaction
from core.study.tables import StudyClock, StudyEvent, StudySession
from core.offload import run_cpu

log = logging.getLogger("xueshi.proctoring")

SNAPSHOT_MAX_BYTES = 512 * 1024
OUTCOMES = {  # job outcome → (StudyEvent kind, Chinese reason)
    "ok": ("snapshot_ok", ""),
    "mismatch": ("snapshot_mismatch", "抓拍照片与本人头像不一致"),
    "no_face": ("snapshot_no_face", "抓拍照片中未检测到人脸"),
    "faces": ("snapshot_faces", "抓拍照片中出现多张人脸"),
    "missing": ("snapshot_missing", "未按要求上传学习抓拍照片"),
}
BAD = frozenset({"mismatch", "no_face", "faces", "missing"})


def paused_message(reason_kind: str) -> str:
    reason = next((text for kind, text in OUTCOMES.values() if kind == reason_kind and text), "人脸核验未通过")
    return f"学习已暂停：{reason}。请重新进行人脸核验后继续学习"


def _now() -> float:
    from core.study import services

    return services.server_time()


async def _load(tenant, token: str) -> ProctorSession | None:
    return await scoped(ProctorSession, tenant).objects(ProctorSession.session == token).output(
        load_json=True).first()


# --- the heartbeat's side ------------------------------------------------------------------------


async def after_credit(tenant, session: StudySession, seconds: float, now: float) -> dict[str, Any]:
    """Under the learner's clock lock, after a beat was credited ``seconds``: count them as study
    (and as provisional) and issue the next capture ticket when the plan says so."""
    ps = await _load(tenant, session.token)
    if ps is None or ps.alternative or ps.paused:
        return {}
    studied = ps.studied + seconds
    values: dict[Any, Any] = {ProctorSession.studied: studied, ProctorSession.provisional: ps.provisional + seconds}
    ticket, due = ps.ticket, ps.ticket_due
    if not ticket and ps.next_index < len(ps.plan) and studied >= ps.plan[ps.next_index]:
        ticket, due = secrets.token_urlsafe(24), now + tenant.rules.study.snapshot_grace_seconds
        values.update({ProctorSession.ticket: ticket, ProctorSession.ticket_due: due,
                       ProctorSession.next_index: ps.next_index + 1})
    await scoped(ProctorSession, tenant).update(values).where(ProctorSession.id == ps.id)
    return {"capture": {"ticket": ticket, "within": round(max(0.0, due - now), 1)}} if ticket else {}


async def before_beat(platform, tenant, session: StudySession, now: float) -> str:
    """Before a beat is credited: a capture ticket past its deadline counts as a bad snapshot.
    Returns the pause reason ("" when the session may go on)."""
    ps = await _load(tenant, session.token)
    if ps is None:
        return ""
    if ps.ticket and now > ps.ticket_due and not ps.paused:
        taken = await scoped(ProctorSession, tenant).update({ProctorSession.ticket: ""}).where(
            (ProctorSession.id == ps.id) & (ProctorSession.ticket == ps.ticket)).returning(ProctorSession.id)
        if taken:
            row = scoped(FaceVerification, tenant).new(
                account=ps.account, purpose="snapshot", nonce=ps.ticket, status="failed",
                reasons=[OUTCOMES["missing"][1]], scores={"overdue_seconds": round(now - ps.ticket_due, 1)},
                created_at=dt.datetime.now(dt.UTC), finished_at=dt.datetime.now(dt.UTC))
            await row.save()
            await _checked(platform, tenant, ps, row, "missing")
            ps = await _load(tenant, session.token)
    return ps.pause_reason if ps.paused else ""


# --- the upload ----------------------------------------------------------------------------------


class SnapshotRefused(Exception):
    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


async def accept(platform, tenant, account, ticket: str, raw: bytes) -> FaceVerification:
    """Take one requested snapshot: check the ticket, clean and store the image, record it and
    queue its match. Raises SnapshotRefused (Chinese message, HTTP status)."""
    from core.files.images import FACE_FRAME_MAX_PIXELS, ImageRejected, clean_image_async
    from core.proctoring import consent as consents
    from core.study.services import hold

    if not ticket:
        raise SnapshotRefused("未请求抓拍", 404)
    ps = await scoped(ProctorSession, tenant).objects(
        (ProctorSession.ticket == ticket[:64]) & (ProctorSession.account == account.id)).first()
    if ps is None:
        raise SnapshotRefused("未请求抓拍", 404)  # not this account's outstanding ticket: not asked for
    if _now() > ps.ticket_due:
        raise SnapshotRefused("抓拍已超时", 409)
    if await consents.active_consent(tenant, account.id) is None:
        raise SnapshotRefused("请先阅读并同意人脸信息处理告知", 403)
    try:
        image = await clean_image_async(raw, max_bytes=SNAPSHOT_MAX_BYTES, max_pixels=FACE_FRAME_MAX_PIXELS)
    except ImageRejected as exc:
        raise SnapshotRefused(str(exc), 400) from None
    taken = await scoped(ProctorSession, tenant).update({ProctorSession.ticket: ""}).where(
        (ProctorSession.id == ps.id) & (ProctorSession.ticket == ps.ticket)).returning(ProctorSession.id)
    if not taken:
        raise SnapshotRefused("该抓拍已上传", 409)
    await hold(tenant, account.id)  # live study's state still holds the ticket
    stored = await platform.storage.save(image.data, tenant_id=tenant.id, kind="snapshot",
                                         media_type=image.media_type, owner_id=account.id)
    row = scoped(FaceVerification, tenant).new(
        account=account.id, purpose="snapshot", nonce=ticket[:64], status="open",
        match_provider=tenant.rules.face.match_provider, evidence=[stored.id], frames=1,
        scores={"width": image.width, "height": image.height}, created_at=dt.datetime.now(dt.UTC))
    await row.save()
    await platform.jobs.enqueue(check_snapshot, tenant=tenant, key=f"snapshot:{row.id}",
                                verification=row.id, proctor_session=ps.id)
    return row


# --- the match job -------------------------------------------------------------------------------

_PORTRAITS: OrderedDict[tuple[int, int, str], Any] = OrderedDict()  # (tenant, file, provider) → encoding
_PORTRAITS_MAX = 2048


async def portrait_vector(platform, tenant, account_id: int, matcher):
    """The encoding of the account's portrait by ``matcher``: from this process's cache, the
    tenant's ``FaceEncoding`` rows, or computed once (and kept there). None without a usable one."""
    import numpy as np

    from core.faces import FaceError, portrait_encoding
    from core.roster.tables import LearnerProfile

    profile = await scoped(LearnerProfile, tenant).objects(LearnerProfile.account == account_id).first()
    if profile is None or profile.portrait is None:
        return None
    key = (tenant.id, profile.portrait, matcher.name)
    if key in _PORTRAITS:
        _PORTRAITS.move_to_end(key)
        return _PORTRAITS[key]
    kept = await scoped(FaceEncoding, tenant).objects(
        (FaceEncoding.account == account_id) & (FaceEncoding.kind == "portrait")
        & (FaceEncoding.source == profile.portrait) & (FaceEncoding.provider == matcher.name)).output(
        load_json=True).first()
    if kept is not None:
        vector = np.asarray(kept.vector, dtype=np.float64)
    else:
        row = await scoped(StoredFile, tenant).get(profile.portrait)
        if row is None:
            return None
        try:
            vector = await run_cpu("face", portrait_encoding, matcher, platform.storage.read(row))
        except (FaceError, OSError):
            return None
        await scoped(FaceEncoding, tenant).new(
            account=account_id, kind="portrait", source=profile.portrait, provider=matcher.name,
            vector=[float(x) for x in vector], created_at=dt.datetime.now(dt.UTC)).save()
    _PORTRAITS[key] = vector
    while len(_PORTRAITS) > _PORTRAITS_MAX:
        _PORTRAITS.popitem(last=False)
    return vector


def match_frame(matcher, jpeg: bytes, portrait, tolerance: float) -> tuple[str, Any, dict[str, Any]]:
    """CPU work of one snapshot (a worker thread): (outcome, encoding or None, scores)."""
    from core.faces import decode_image, ensure_rgb
    from core.files.images import FACE_FRAME_MAX_PIXELS

    image = ensure_rgb(decode_image(jpeg, max_pixels=FACE_FRAME_MAX_PIXELS))
    boxes = matcher.detect(image)
    if not boxes:
        return "no_face", None, {"faces": 0}
    if len(boxes) > 1:
        return "faces", None, {"faces": len(boxes)}
    vector = matcher.encode(image, boxes[0])
    distance = float(matcher.distance(vector, portrait))
    outcome = "ok" if distance <= tolerance else "mismatch"
    return outcome, vector, {"faces": 1, "distance": round(distance, 4), "tolerance": tolerance}


async def check_snapshot(ctx: dict[str, Any], *, tenant: str, verification: int, proctor_session: int) -> str:
    """Job: match one stored snapshot against the portrait and apply the verdict."""
    from core.faces import Capability, select_provider
    from core.jobs.specs import platform_of

    platform = platform_of(ctx)
    t = platform.tenants.get(tenant)
    row = await scoped(FaceVerification, t).objects(FaceVerification.id == verification).output(
        load_json=True).first()
    ps = await scoped(ProctorSession, t).get(proctor_session)
    if row is None or ps is None or row.status != "open":
        return "gone"
    matcher = select_provider(await platform.face_providers(), t.rules.face.match_provider, Capability.ENCODE)
    tolerance = t.rules.face.match_tolerance or matcher.default_tolerance
    portrait = await portrait_vector(platform, t, row.account, matcher)
    file = await scoped(StoredFile, t).get(row.evidence[0]) if row.evidence else None
    if portrait is None or file is None:
        outcome, vector, scores = "mismatch", None, {"portrait": portrait is not None}
    else:
        outcome, vector, scores = await run_cpu(
            "face", match_frame, matcher, platform.storage.read(file), portrait, tolerance)
    finished = dt.datetime.now(dt.UTC)
    done = await scoped(FaceVerification, t).update({
        FaceVerification.status: "passed" if outcome == "ok" else "failed",
        FaceVerification.reasons: [OUTCOMES[outcome][1]] if outcome in BAD else [],
        FaceVerification.scores: {**(row.scores or {}), **scores},
        FaceVerification.match_provider: matcher.name,
        FaceVerification.finished_at: finished,
    }).where((FaceVerification.id == row.id) & (FaceVerification.status == "open")).returning(FaceVerification.id)
    if not done:
        return "gone"
    row.status, row.scores = ("passed" if outcome == "ok" else "failed"), {**(row.scores or {}), **scores}
    row.reasons = [OUTCOMES[outcome][1]] if outcome in BAD else []
    row.match_provider, row.finished_at = matcher.name, finished
    await _checked(platform, t, ps, row, outcome)
    if vector is not None and outcome == "ok":
        await _index(platform, t, ps, row, matcher, vector, tolerance)
    return outcome


async def _checked(platform, tenant, ps: ProctorSession, row: FaceVerification, outcome: str) -> None:
    """Apply one snapshot verdict to the session, the timeline and the enrolment."""
    from core.study.services import locked_clock, withdraw_provisional

    kind = OUTCOMES[outcome][0]
    detail = {k: v for k, v in (row.scores or {}).items() if k in ("distance", "faces", "overdue_seconds")}
    if outcome == "ok":
        # Under the learner's clock lock: no beat adds seconds meanwhile, and live study's
        # pending beats are written first (core.study.live).
        async with write_transaction(StudyClock):
            await locked_clock(tenant, ps.account)
            confirmed = (await scoped(ProctorSession, tenant).get(ps.id)).provisional
            await scoped(ProctorSession, tenant).update({
                ProctorSession.provisional: 0.0, ProctorSession.last_good_at: _now(),
            }).where(ProctorSession.id == ps.id)
        await event(tenant, ps.account, kind, enrollment=ps.enrollment, session=ps.session, verification=row.id,
                    confirmed_seconds=round(confirmed, 3), **detail)
    else:
        await event(tenant, ps.account, kind, enrollment=ps.enrollment, session=ps.session, verification=row.id,
                    **detail)
        paused = await scoped(ProctorSession, tenant).update({
            ProctorSession.paused: True, ProctorSession.pause_reason: kind, ProctorSession.ticket: "",
        }).where((ProctorSession.id == ps.id) & (ProctorSession.paused == False)).returning(  # noqa: E712
            ProctorSession.id)
        withdrawn = await withdraw_provisional(tenant, ps.account, ps.session)
        if paused:
            await event(tenant, ps.account, "paused", enrollment=ps.enrollment, session=ps.session,
                        verification=row.id, reason=kind, withdrawn_seconds=round(withdrawn, 3))
        if outcome == "mismatch":
            mismatches = await scoped(StudyEvent, tenant).count(
                (StudyEvent.enrollment == ps.enrollment) & (StudyEvent.kind == "snapshot_mismatch"))
            if mismatches >= tenant.rules.face.snapshot_mismatches_to_flag:
                await flag(platform, tenant, ps.account, ps.enrollment, "repeated_mismatch",
                           verification=row.id, mismatches=mismatches)
    if platform is not None:
        account = await scoped(Account, tenant).get(ps.account)
        await notify(platform.hooks(tenant).proctor_snapshot_checked, tenant=tenant, account=account,
                     verification=row, outcome=outcome)


async def flag(platform, tenant, account_id: int, enrollment_id: int, reason: str, *,
               verification: int | None = None, **detail: Any) -> bool:
    """Flag the enrolment for review (once): a ``flagged`` event and the ``proctor_flagged`` hook.
    Returns whether it was newly flagged."""
    done = await scoped(Enrollment, tenant).update({Enrollment.flagged: True}).where(
        (Enrollment.id == enrollment_id) & (Enrollment.account == account_id) & (Enrollment.flagged == False)  # noqa: E712
    ).returning(Enrollment.id)
    if not done:
        return False
    await event(tenant, account_id, "flagged", enrollment=enrollment_id, verification=verification,
                reason=reason, **detail)
    log.info("enrolment %s flagged: %s (tenant %s)", enrollment_id, reason, tenant.slug)
    if platform is None:
        return True
    account = await scoped(Account, tenant).get(account_id)
    enrollment = await scoped(Enrollment, tenant).get(enrollment_id)
    await notify(platform.hooks(tenant).proctor_flagged, tenant=tenant, account=account, enrollment=enrollment,
                 reason=reason)
    return True


# --- one face, several accounts ------------------------------------------------------------------


async def same_face_accounts(tenant, account_id: int, provider: str, vector, tolerance: float) -> dict[int, float]:
    """Other accounts of the tenant with a kept encoding (portrait or snapshot, same provider)
    within ``tolerance`` of ``vector``: account id → smallest distance."""
    import numpy as np

    rows = await scoped(FaceEncoding, tenant).select(FaceEncoding.account, FaceEncoding.vector).where(
        (FaceEncoding.account != account_id) & (FaceEncoding.provider == provider)).output(load_json=True)
    if not rows:
        return {}
    matrix = np.asarray([r["vector"] for r in rows], dtype=np.float64)
    distances = np.linalg.norm(matrix - np.asarray(vector, dtype=np.float64), axis=1)
    found: dict[int, float] = {}
    for r, d in zip(rows, distances, strict=True):
        if d <= tolerance:
            found[r["account"]] = min(float(d), found.get(r["account"], 9.9))
    return found


async def _index(platform, tenant, ps: ProctorSession, row: FaceVerification, matcher, vector, tolerance: float) -> None:
    """Keep a good snapshot's encoding and flag every account (both sides) whose face it is."""
    others = await same_face_accounts(tenant, ps.account, matcher.name, vector, tolerance)
    await scoped(FaceEncoding, tenant).new(
        account=ps.account, kind="snapshot", source=row.id, provider=matcher.name,
        vector=[float(x) for x in vector], created_at=dt.datetime.now(dt.UTC)).save()
    for other, distance in others.items():
        for account_id, peer in ((ps.account, other), (other, ps.account)):
            for e in await scoped(Enrollment, tenant).objects(
                    (Enrollment.account == account_id) & Enrollment.status.is_in(["studying", "review"])):
                await flag(platform, tenant, account_id, e.id, "shared_face", verification=row.id,
                           other_account=peer, distance=round(distance, 4))


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
