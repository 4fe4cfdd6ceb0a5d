"""Face verification pages: the consent screen, the webcam page and its JSON endpoints.

The page (core/static/js/facecheck.js) asks for a challenge, sends ~10 JPEG frames a second to
``/face/frame`` with its own timestamps (while a prompt is showing, each request carries the
frames it captured at camera rate since the previous one: core.faces.bursts), shows each prompt
when the answer to a frame carries it (the server chooses when), and asks for the verdict at
``/face/finish``. Only the server decides.
"""

from __future__ import annotations

import logging
from urllib.parse import quote

from litestar import Request, Response, get, post
from litestar.exceptions import NotFoundException

from core.accounts.tables import Account
from core.audit.services import record
from core.faces import ChallengeError, FaceError, face_messages
from core.faces.bursts import MAX_BURST, BurstError
from core.kernel import Platform
from core.proctoring import consent as consents
from core.proctoring import services
from core.study.services import profile_complete
from core.tenancy import Tenant
from core.web import redirect, render, roles

log = logging.getLogger("xueshi.proctoring")

LEARNER = roles("learner")
BAD_REQUEST = "核验请求无效，请重新开始核验"


def _json(data: dict, status: int = 200) -> Response:
    return Response(content=data, status_code=status, media_type="application/json")


def _int(value: str | None) -> int:
    if value is None or value == "":
        raise ChallengeError("missing number")
    try:
        return int(value)
    except ValueError:
        raise ChallengeError("not a number") from None


@get("/face/consent", guards=[LEARNER])
async def consent_page(request: Request, tenant: Tenant, account: Account) -> Response:
    text = consents.face_consent_text(tenant)
    active = await consents.active_consent(tenant.id, account.id)
    return await render(
        request, "proctoring/consent.html",
        {"text": text, "text_sha256": consents.text_sha256(text), "version": consents.FACE_TEXT_VERSION,
         "active": active, "errors": {}, "next_url": _study_next(request)})


def _study_next(request: Request) -> str:
    """Where 开始学习 continues after the face page: a study page of this tenant, or nothing."""
    target = request.query_params.get("next") or ""
    return target if target.startswith("/study/") and "//" not in target else ""


@post("/face/consent", guards=[LEARNER])
async def consent_submit(request: Request, tenant: Tenant, account: Account) -> Response:
    form = await request.form()
    text = consents.face_consent_text(tenant)
    digest = consents.text_sha256(text)
    errors: dict[str, str] = {}
    if form.get("agree") != "yes":
        errors["agree"] = "请阅读并勾选“我已阅读并同意”后再继续"
    elif form.get("text_sha256") != digest:
        errors["agree"] = "告知内容已更新，请重新阅读后再确认"
    if errors:
        return await render(
            request, "proctoring/consent.html",
            {"text": text, "text_sha256": digest, "version": consents.FACE_TEXT_VERSION, "active": None,
             "errors": errors, "next_url": _study_next(request)}, status_code=400)
    row = await consents.grant(tenant.id, account.id, digest)
    await record(
        "face.consent_granted", tenant_id=tenant.id, actor_id=account.id, object_type="consent",
        object_id=row.id, text_version=consents.FACE_TEXT_VERSION,
    )
    next_url = _study_next(request)
    return redirect(request, "/face/check" + (f"?next={quote(next_url)}" if next_url else ""))


@post("/face/consent/withdraw", guards=[LEARNER])
async def consent_withdraw(request: Request, platform: Platform, tenant: Tenant, account: Account) -> Response:
    await consents.withdraw(tenant.id, account.id)
    await services.live_checks(platform).drop_account(tenant.id, account.id)
    await record("face.consent_withdrawn", tenant_id=tenant.id, actor_id=account.id,
                 object_type="consent", object_id="")
    return redirect(request, "/face/consent?withdrawn=1")


@get("/face/check", guards=[LEARNER])
async def check_page(request: Request, platform: Platform, tenant: Tenant, account: Account) -> Response:
    next_url = _study_next(request)  # only within the tenant's study pages
    profile_ready = await profile_complete(tenant, account.id)
    if next_url and not profile_ready:  # 开始学习 with an incomplete profile: 我的档案 first
        return redirect(request, f"/me/archive?next={quote(next_url)}")
    if await consents.active_consent(tenant.id, account.id) is None:
        return redirect(request, "/face/consent" + (f"?next={quote(next_url)}" if next_url else ""))
    has_portrait = await services.portrait_bytes(platform.storage, tenant.id, account.id) is not None
    await services.close_expired(tenant.id, account.id)
    left = await services.attempts_left(platform, tenant, account.id)
    return await render(
        request, "proctoring/check.html",
        {"has_portrait": has_portrait, "attempts_left": left, "next_url": next_url, "profile_ready": profile_ready,
         "no_portrait": services.NO_PORTRAIT, "limit_message": services.limit_message(tenant),
         "history": await services.latest(tenant.id, account.id)})


@post("/face/challenge", guards=[LEARNER])
async def challenge(platform: Platform, tenant: Tenant, account: Account) -> Response:
    if await consents.active_consent(tenant.id, account.id) is None:
        return _json({"error": "请先阅读并同意人脸信息处理告知", "consent": True}, 403)
    try:
        check, left = await services.start(platform, services.live_checks(platform), tenant, account)
    except services.VerificationRefused as exc:
        return _json({"error": exc.message}, exc.status)
    return _json({**check.session.challenge.as_dict(), "attempts_left": left}, 201)


def _frames(body: bytes, times: str | None, sizes: str | None) -> list[tuple[bytes, int]]:
    """The request's frames (JPEG, time): one frame (the body, at ``t``), or a burst (``t`` and
    ``sizes`` as comma-separated lists, the body the frames one after the other)."""
    t_ms = [_int(t) for t in (times or "").split(",")]
    if len(t_ms) > MAX_BURST:
        raise BurstError(f"{len(t_ms)} frames in one request", face_messages.B_TOO_MANY)
    lengths = [len(body)] if sizes is None and len(t_ms) == 1 else [_int(n) for n in (sizes or "").split(",")]
    if len(lengths) != len(t_ms) or min(lengths) <= 0 or sum(lengths) != len(body):
        raise ChallengeError("the frames' sizes do not match the body")
    starts = [sum(lengths[:k]) for k in range(len(lengths))]
    return [(body[a:a + n], t) for a, n, t in zip(starts, lengths, t_ms, strict=True)]


@post("/face/frame", guards=[LEARNER], request_max_body_size=MAX_BURST * services.MAX_FRAME_BYTES)
async def frame(request: Request, platform: Platform, tenant: Tenant, account: Account) -> Response:
    """One frame, or a burst of up to MAX_BURST (core.faces.bursts), judged in order."""
    body = await request.body()
    q = request.query_params
    try:
        frames = _frames(body, q.get("t"), q.get("sizes"))
        if any(len(jpeg) > services.MAX_FRAME_BYTES for jpeg, _ in frames):
            return _json({"error": "画面过大"}, 413)
        found = await services.add_frames(services.live_checks(platform), q.get("nonce") or "", tenant.id,
                                          account.id, frames)
    except (FaceError, BurstError) as exc:
        log.info("face frame refused: %s", exc)
        return _json({"error": exc.message}, 400)
    except ChallengeError as exc:
        log.info("face frame refused: %s", exc)
        return _json({"error": BAD_REQUEST}, 400)
    if found is None:
        raise NotFoundException()  # unknown, expired, or another account's / tenant's nonce
    g, judged = found
    return _json({
        "message": g.message, "code": str(g.code), "done": g.done, "step": g.action_index,
        "next_prompt": g.next_prompt, "frames": judged,
    })


@post("/face/finish", guards=[LEARNER])
async def finish(request: Request, platform: Platform, tenant: Tenant, account: Account) -> Response:
    result = await services.finish(platform, services.live_checks(platform), tenant, account,
                                   request.query_params.get("nonce") or "")
    if result is None:
        raise NotFoundException()
    row, verdict = result
    left = await services.attempts_left(platform, tenant, account.id)
    if verdict.passed:
        message = "人脸核验通过"
    else:
        message = "人脸核验未通过：" + "；".join(verdict.reasons)
    return _json({
        "status": row.status, "passed": verdict.passed, "message": message, "reasons": verdict.reasons,
        "attempts_left": left, "can_retry": (not verdict.passed) and left > 0,
        "limit_message": "" if left > 0 or verdict.passed else services.limit_message(tenant),
    })


ROUTES = [consent_page, consent_submit, consent_withdraw, check_page, challenge, frame, finish]

from core.proctoring import snapshot_pages  # noqa: E402  (the snapshot routes join this area's)

ROUTES += snapshot_pages.ROUTES

from core.proctoring import alternative_pages  # noqa: E402  (studying without the camera)

ROUTES += alternative_pages.ROUTES
