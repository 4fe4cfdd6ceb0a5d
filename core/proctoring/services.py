"""Webcam face verification: live challenges in the shared store, and what is stored about them.

A challenge lives in the platform's store (``core.proctoring.live``: Redis when configured), so a
challenge started through one server process can be finished through another. The outcome
(status, Chinese reasons, scores, evidence frames in private storage) is stored in
``FaceVerification``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from typing import Any

from core import tenant_time
from core.audit.services import record
from core.faces import (
    Action,
    Capability,
    ChallengeError,
    IdentityCheck,
    HistoryNeeded,
    LivenessSession,
    PosesNeeded,
    Verdict,
    draw_challenge,
    select_provider,
)
from core.db.scoped import scoped
from core.faces.bursts import check_times, ends_burst
from core.hookcalls import notify
from core.proctoring.encodings import portrait_vector
from core.proctoring.live import TTL_SECONDS, ChallengeTimeError, LiveCheck, LiveChecks
from core.proctoring.tables import FaceVerification
from core.roster.tables import LearnerProfile
from core.files.tables import StoredFile
from core.locks import LockTimeout
from core.offload import run_cpu

MAX_FRAME_BYTES = 512 * 1024
EVIDENCE_KEEP = 6  # evidence frames stored per attempt

NO_PORTRAIT = "请先在个人档案中上传本人近期头像"
ABANDONED = "核验未完成（页面已关闭或超时）"
BUSY = "核验请求过于频繁，请稍后再试"


class VerificationRefused(Exception):
    """The learner may not start a challenge now; ``message`` says why (Chinese)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def live_checks(platform) -> LiveChecks:
    return LiveChecks(platform)


def day_start(tenant, now: dt.datetime | None = None) -> dt.datetime:
    """Start of the tenant's day holding ``now`` (attempt limits are per calendar day)."""
    return tenant_time.day_start(now or dt.datetime.now(dt.UTC), tenant_time.zone(tenant))


async def counted_today(tenant, account_id: int) -> int:
    """Face checks of today that count against the limit in the database: failed ones, and open
    ones (an unfinished check is a failed attempt once it is replaced or expires)."""
    return await scoped(FaceVerification, tenant).count(
        (FaceVerification.account == account_id)
        & FaceVerification.status.is_in(["failed", "open"])
        & (FaceVerification.purpose != "snapshot")  # snapshots during study are not attempts
        & (FaceVerification.created_at >= day_start(tenant))
    )


def attempt_key(tenant, account_id: int, created: dt.datetime | None = None) -> tuple[str, str, str]:
    """The attempt counter's key: the learner and the tenant's day the check was issued on."""
    return str(tenant.id), str(account_id), day_start(tenant, created).date().isoformat()


async def attempts_used(platform, tenant, account_id: int) -> int:
    """Attempts used today: the store's counter (issued checks less passed ones, counted
    atomically when issued), and never less than the database shows (a store that lost its
    keys, rows written by other means)."""
    counted = await platform.counters["face_attempts"].count(*attempt_key(tenant, account_id))
    return max(counted, await counted_today(tenant, account_id))


async def attempts_left(platform, tenant, account_id: int) -> int:
    return max(0, tenant.rules.face.max_attempts - await attempts_used(platform, tenant, account_id))


def limit_message(tenant) -> str:
    return f"今日人脸核验未通过次数已达上限（{tenant.rules.face.max_attempts} 次），请明天再试"


async def portrait_bytes(storage, tenant_id: int, account_id: int) -> bytes | None:
    profile = await scoped(LearnerProfile, tenant_id).objects(LearnerProfile.account == account_id).first()
    if profile is None or profile.portrait is None:
        return None
    row = await scoped(StoredFile, tenant_id).get(profile.portrait)
    if row is None:
        return None
    try:
        return await storage.read(row)
    except OSError:
        return None


async def providers_for(platform, tenant):
    found = await platform.face_providers()
    rules = tenant.rules.face
    liveness = select_provider(found, rules.liveness_provider, Capability.LIVENESS)
    matcher = select_provider(found, rules.match_provider, Capability.ENCODE)
    return liveness, matcher


async def allowed_actions(hooks, tenant, liveness) -> list[Action]:
    result = hooks.proctor_challenge_actions(tenant=tenant)
    if asyncio.iscoroutine(result):
        result = await result
    wanted = [Action(a) for a in (result or [])]
    return [a for a in wanted if a in liveness.liveness_actions]


async def abandon_open(tenant_id: int, account_id: int, checks: LiveChecks) -> None:
    """A new challenge ends the account's unfinished ones: they count as failed attempts."""
    await checks.drop_account(tenant_id, account_id)
    await _fail_open(tenant_id, (FaceVerification.account == account_id) & (FaceVerification.status == "open"))


async def close_expired(tenant_id: int, account_id: int) -> None:
    """Open checks older than a live challenge can be are failed (the page was closed)."""
    cutoff = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=TTL_SECONDS)
    await _fail_open(tenant_id, (FaceVerification.account == account_id) & (FaceVerification.status == "open")
                     & (FaceVerification.created_at < cutoff))


async def _fail_open(tenant_id: int, where) -> None:
    await scoped(FaceVerification, tenant_id).update(
        {
            FaceVerification.status: "failed",
            FaceVerification.reasons: [ABANDONED],
            FaceVerification.finished_at: dt.datetime.now(dt.UTC),
        }
    ).where(where)


async def start(platform, checks: LiveChecks, tenant, account, *, purpose: str = "study") -> tuple[LiveCheck, int]:
    """Draw a challenge and open a FaceVerification row. Returns (live check, attempts left
    including this one).

    Issuing the challenge is the attempt: it is counted in the store's atomic counter before
    anything else (given back only if no challenge is issued, or when it passes), so simultaneous
    requests cannot issue more than the day's limit. The learner's starts are serialised, so at
    most one challenge is open: a new one ends the previous one, which stays counted as failed."""
    try:
        async with platform.locks.hold(f"face-start:{tenant.id}:{account.id}", wait=30):
            return await _count_and_issue(platform, checks, tenant, account, purpose)
    except LockTimeout:
        raise VerificationRefused(BUSY, 429) from None


async def _count_and_issue(platform, checks: LiveChecks, tenant, account, purpose: str) -> tuple[LiveCheck, int]:
    counter = platform.counters["face_attempts"]
    key = attempt_key(tenant, account.id)
    used = await counter.hit(*key)
    try:
        used = max(used, await counted_today(tenant, account.id) + 1)
        if used > tenant.rules.face.max_attempts:
            raise VerificationRefused(limit_message(tenant), 429)
        check = await _issue(platform, checks, tenant, account, purpose)
    except BaseException:
        await counter.release(*key)
        raise
    return check, tenant.rules.face.max_attempts - used + 1


async def _issue(platform, checks: LiveChecks, tenant, account, purpose: str) -> LiveCheck:
    profile = await scoped(LearnerProfile, tenant).objects(LearnerProfile.account == account.id).first()
    if profile is None or profile.portrait is None:
        raise VerificationRefused(NO_PORTRAIT, 409)
    hooks = platform.hooks(tenant)
    liveness, matcher = await providers_for(platform, tenant)
    pool = await allowed_actions(hooks, tenant, liveness)
    try:  # a pool without a blink or an open mouth cannot make a challenge a photo fails
        challenge = draw_challenge(pool, min_actions=min(2, len(pool)))
    except ChallengeError:
        raise VerificationRefused("人脸核验暂不可用，请联系培训机构", 503) from None
    encoding = await portrait_vector(platform, tenant, account.id, matcher, profile)  # kept since the upload
    if encoding is None:
        raise VerificationRefused("个人档案中的头像无法识别人脸，请重新上传本人近期正面头像", 409)
    identity = IdentityCheck(matcher, encoding, tenant.rules.face.match_tolerance)
    session = LivenessSession(liveness, challenge, identity=identity)
    await abandon_open(tenant.id, account.id, checks)
    row = scoped(FaceVerification, tenant).new(
        account=account.id,
        purpose=purpose,
        nonce=challenge.nonce,
        actions=[str(a) for a in challenge.actions],
        liveness_provider=liveness.name,
        match_provider=matcher.name,
        status="open",
        created_at=dt.datetime.now(dt.UTC),
    )
    await row.save()
    check = LiveCheck(session, row.id, tenant.id, account.id, started=time.time())
    await checks.save(check)
    return check


async def add_frame(checks: LiveChecks, nonce: str, tenant_id: int, account_id: int, jpeg: bytes, t_ms: int):
    """One frame → FrameGuidance, or None (``add_frames`` with a single frame)."""
    found = await add_frames(checks, nonce, tenant_id, account_id, [(jpeg, t_ms)])
    return None if found is None else found[0]


async def add_frames(checks: LiveChecks, nonce: str, tenant_id: int, account_id: int,
                     frames: list[tuple[bytes, int]]) -> tuple[Any, int] | None:
    """The frames of one request (one, or a burst: core.faces.bursts) → (the FrameGuidance of the
    last frame judged, with the prompt to show now on the server's schedule; how many frames were
    judged), or None when the challenge is unknown, expired or not the caller's. Every frame's
    time is checked before any is judged; then each frame is one step as a lone frame's: the
    challenge loaded, the frame measured and judged, the state saved back (so consecutive
    requests may reach different processes), all under the challenge's lock. A frame that issues
    a prompt or ends the session ends the burst (``ends_burst``)."""
    async with checks.locked(nonce):
        guidance, judged = None, 0
        for jpeg, t_ms in frames:
            found = await checks.get_with_state(nonce, tenant_id, account_id)
            if found is None:
                return None
            check, state = found
            if not judged:
                _check_times(check, [t for _, t in frames])
            check, guidance = await advance(checks, check, state, jpeg, t_ms)
            check.last_t = t_ms
            await checks.save(check)
            judged += 1
            if ends_burst(guidance):
                break
        return guidance, judged


def _check_times(check: LiveCheck, times: list[int]) -> None:
    check_times(times, None if check.last_t < 0 else check.last_t)
    try:
        for t_ms in times:
            check.check_time(t_ms)
    except ChallengeTimeError as exc:
        raise ChallengeError(str(exc)) from None


def _take_frame(session: LivenessSession, frame, t_ms: int, sig) -> tuple[Any, Any, Any, Exception | None]:
    """Measure (unless ``sig`` is given) and judge a frame in one call to the face pool; the
    judge's request for state kept apart comes back with the measured frame, to judge it again."""
    if sig is None:
        frame, sig = session.measure(frame, t_ms)
    try:
        return frame, sig, session.advance(frame, sig), None
    except (PosesNeeded, HistoryNeeded) as need:
        return frame, sig, None, need


async def advance(checks: LiveChecks, check: LiveCheck, state: bytes, frame, t_ms: int, sig=None) -> tuple[LiveCheck, Any]:
    """Measure and judge a frame (JPEG bytes or an image; ``sig``: its signals, measured
    already). What the judge keeps apart from the state (landmark poses, the history of its
    medians) it asks for: that is read and the frame judged again from the saved state; each
    retry brings more of it, so they are bounded by the frames."""
    nonce = check.session.nonce
    poses: dict[int, Any] = {}
    history: list[bytes] | None = None
    image, sig, guidance, need = await run_cpu("face", _take_frame, check.session, frame, t_ms, sig)
    while need is not None:
        if isinstance(need, PosesNeeded):
            if set(need.times) <= set(poses):
                raise need
            poses.update(await checks.poses(nonce, need.times))
        else:
            if history is not None:
                raise need
            history = await checks.history(nonce, need.chunks)
            if history is None:
                raise ChallengeError("the challenge's history is gone") from None
        check = checks.load(state)
        check.session.judge.poses.update(poses)
        if history is not None:
            check.session.judge.attach_history(history)
        image, sig, guidance, need = await run_cpu("face", _take_frame, check.session, image, t_ms, sig)
    return check, guidance


async def verdict_of(checks: LiveChecks, check: LiveCheck) -> Verdict | None:
    """The session's verdict (its kept frames attached), reading the poses that closing an
    unfinished turn or nod asks for and the history a median asks for (None when it is gone)."""
    judge = check.session.judge
    while True:
        try:
            return await run_cpu("face", check.session.finish)
        except PosesNeeded as need:
            if set(need.times) <= set(judge.poses):
                raise
            judge.poses.update(await checks.poses(check.session.nonce, need.times))
        except HistoryNeeded as need:
            history = await checks.history(check.session.nonce, need.chunks)
            if history is None:  # expired or tampered with: the verdict cannot be reached
                return None
            judge.attach_history(history)


def _pick_evidence(verdict: Verdict) -> list:
    """A few frames: baseline and action frames first, then samples spread over the attempt."""
    key = [e for e in verdict.evidence if e.label != "sample"]
    samples = [e for e in verdict.evidence if e.label == "sample"]
    room = max(0, EVIDENCE_KEEP - len(key))
    if room and samples:
        step = max(1, len(samples) // room)
        key += samples[::step][:room]
    return sorted(key[:EVIDENCE_KEEP], key=lambda e: e.t_ms)


async def finish(platform, checks: LiveChecks, tenant, account, nonce: str) -> tuple[FaceVerification, Verdict] | None:
    async with checks.locked(nonce):
        check = await checks.get(nonce, tenant.id, account.id)
        if check is None:
            return None
        if not await checks.attach(check):
            await checks.pop(nonce)
            return None
        verdict = await verdict_of(checks, check)
        await checks.pop(nonce)
        if verdict is None:
            return None
    row = await scoped(FaceVerification, tenant).get(check.verification_id)
    evidence_ids: list[int] = []
    for e in _pick_evidence(verdict):
        stored = await platform.storage.save(
            e.jpeg, tenant_id=tenant.id, kind="evidence", media_type="image/jpeg", owner_id=account.id
        )
        evidence_ids.append(stored.id)
    scores: dict[str, Any] = dict(verdict.scores)
    scores["actions"] = [
        {"action": str(a.action), "passed": a.passed, "score": round(a.score, 4),
         "reason": None if a.reason is None else str(a.reason)}
        for a in verdict.actions
    ]
    scores["evidence"] = [
        {"t_ms": e.t_ms, "label": e.label, "distance": e.distance} for e in _pick_evidence(verdict)
    ]
    row.status = "passed" if verdict.passed else "failed"
    row.reasons = verdict.reasons
    row.scores = scores
    row.evidence = evidence_ids
    row.frames = verdict.frames
    row.finished_at = dt.datetime.now(dt.UTC)
    await row.save()
    if verdict.passed:  # only failed (and unfinished) checks use up the day's attempts
        await platform.counters["face_attempts"].release(*attempt_key(tenant, account.id, row.created_at))
    await record(
        f"face.{row.status}",
        tenant_id=tenant.id,
        actor_id=account.id,
        object_type="face_verification",
        object_id=row.id,
        codes=[str(c) for c in verdict.codes],
        frames=verdict.frames,
    )
    await notify(platform.hooks(tenant).proctor_verified, tenant=tenant, account=account, verdict=verdict)
    return row, verdict


async def latest(tenant_id: int, account_id: int, limit: int = 5) -> list[FaceVerification]:
    return (
        await scoped(FaceVerification, tenant_id).objects(FaceVerification.account == account_id)
        .output(load_json=True)
        .order_by(FaceVerification.id, ascending=False)
        .limit(limit)
    )


__all__ = [
    "VerificationRefused",
    "add_frame",
    "add_frames",
    "advance",
    "attempts_left",
    "finish",
    "verdict_of",
    "live_checks",
    "start",
]
