"""个人档案: the learner enters real name and ID number, then joins the company's roster entry for
that number (未加入 → 已加入, 所属企业 set) by proving control of the entry's mobile: the SMS code
sent to it, or the account's own verified mobile being the entry's. The learner completes the
profile either way."""

from __future__ import annotations

import datetime as dt

from litestar import Request, Response, get, post

from core import (
    PHOTO_FORM_MAX_BODY,
    CodeError,
    TOO_MANY_LOOKUPS,
    check_code,
    count_code_request,
    lookup_allowed,
    roster_entries_proven_by_mobile,
    send_code,
    face_consent_for_portrait,
    face_consent_text,
    has_face_consent,
    Enterprise,
    InvalidIdentity,
    LearnerProfile,
    PROFILE_IMAGES as IMAGES,
    audit,
    enrol_images,
    find_roster_matches,
    join_roster,
    normalize_id_number,
    Account,
    Platform,
    Tenant,
    redirect,
    render,
    roles,
    scoped,
)
from plugins.survey_association.learner.forms import text_fields, upload

# One answer for every profile that has not joined, whether or not a company listed the ID
# number (and under which name, and whether someone joined it): name + ID number are no secret,
# so nothing about the rosters is shown before the learner proves control of the entry's mobile.
JOIN_HINT = (
    "如单位已将您登记为企业学员，请点击“获取验证码”，验证码将发送到单位登记的手机号，输入后点击“确认”即可加入企业。"
    "请核对姓名、身份证号与单位登记的一致；单位尚未登记或未登记手机号的，请联系单位管理员，单位登记后即可加入。"
)
CODE_SENT = "如单位登记了您的手机号，验证码已发送至该手机号，{minutes} 分钟内有效"
BAD_CODE = "验证码不正确或已失效，请重新获取"


def _purpose(account) -> str:
    return f"roster:{account.id}"  # a code sent for one learner's join cannot serve another's


async def profile_of(tenant, account) -> LearnerProfile | None:
    return await scoped(LearnerProfile, tenant).objects(LearnerProfile.account == account.id).first()


async def _page(request: Request, platform: Platform, tenant: Tenant, account: Account, status_code: int = 200,
                errors: dict | None = None, form: dict | None = None, notice: str = "") -> Response:
    profile = await profile_of(tenant, account)
    matches = await find_roster_matches(platform.hooks(tenant), tenant, profile) if profile else None
    enterprise = None
    if profile and profile.enterprise:
        enterprise = await scoped(Enterprise, tenant).get(profile.enterprise)
    # Entries whose mobile is the account's own (verified at registration) are proven already:
    # only those are shown with the company's details before joining.
    proven = roster_entries_proven_by_mobile(matches.pending, account.mobile) if matches else []
    editing_identity = (profile is None or not profile.id_number or request.query_params.get("edit") == "identity"
                        or bool({"real_name", "id_number"} & set(errors or {})))
    if profile and profile.enterprise:
        editing_identity = False  # joined: the ID number is the company's record now
    return await render(
        request, "learner/profile.html",
        {"profile": profile, "matches": matches, "enterprise": enterprise, "editing_identity": editing_identity,
         "errors": errors or {}, "form": form or {}, "notice": notice, "join_hint": JOIN_HINT, "proven": proven,
         "images": IMAGES, "consent_text": face_consent_text(tenant),
         "consented": await has_face_consent(tenant, account.id),
         "welcome": bool(request.query_params.get("welcome")), "joined_now": bool(request.query_params.get("joined")),
         "saved": bool(request.query_params.get("saved"))}, status_code=status_code)


LEARNER = [roles("learner")]


@get("/me/profile", guards=LEARNER)
async def profile_page(request: Request, platform: Platform, tenant: Tenant, account: Account) -> Response:
    return await _page(request, platform, tenant, account)


@post("/me/profile/identity", guards=LEARNER)
async def profile_identity(request: Request, platform: Platform, tenant: Tenant, account: Account) -> Response:
    """Step 1: real name and ID number (changeable until a company roster is joined)."""
    form = await text_fields(request)
    errors: dict[str, str] = {}
    name = form.get("real_name", "")
    if not name:
        errors["real_name"] = "请输入真实姓名"
    elif len(name) > 50 or any(c.isdigit() or c in "<>/\\" for c in name):
        errors["real_name"] = "请输入与身份证一致的真实姓名"
    id_number = ""
    try:
        id_number = normalize_id_number(form.get("id_number", ""))
    except InvalidIdentity as exc:
        errors["id_number"] = str(exc)
    profile = await profile_of(tenant, account)
    if profile and profile.enterprise:
        return await _page(request, platform, tenant, account, 400,
                           notice="您已加入企业，姓名和身份证号不能修改；如有错误请联系单位管理员")
    # Each try is a look-up of a name and an ID number: limited per address. Whether another
    # account entered the same number is not told (joining needs the roster mobile's code).
    if not await lookup_allowed(request):
        return await _page(request, platform, tenant, account, 429, notice=TOO_MANY_LOOKUPS)
    if errors:
        return await _page(request, platform, tenant, account, 400, errors=errors, form={"real_name": name})
    now = dt.datetime.now(dt.UTC)
    # One profile per account even when the form is sent twice at once (a double tap).
    async with platform.locks.hold(f"profile:{tenant.id}:{account.id}"):
        profile = await profile_of(tenant, account) or scoped(LearnerProfile, tenant).new(
            account=account.id, created_at=now)
        profile.real_name, profile.id_number, profile.updated_at = name, id_number, now
        await profile.save()
    await audit("profile.identity", tenant_id=tenant.id, actor_id=account.id, object_type="learner_profile",
                object_id=profile.id)
    return redirect(request, "/me/profile")


@post("/me/profile/code", guards=LEARNER)
async def profile_code(request: Request, platform: Platform, tenant: Tenant, account: Account) -> Response:
    """htmx "获取验证码": a code to the mobile of each roster entry the profile matches. The
    answer is the same whether any entry (or mobile) exists."""
    minutes = tenant.rules.signin.sms_code_ttl_seconds // 60
    message, ok = CODE_SENT.format(minutes=minutes), True
    try:
        await count_code_request(request)  # per address, for every request alike
    except CodeError as exc:
        return await render(request, "_sms_status.html", {"message": str(exc), "ok": False})
    profile = await profile_of(tenant, account)
    matches = await find_roster_matches(platform.hooks(tenant), tenant, profile) if profile else None
    limit = tenant.rules.signin.sms_codes_per_mobile_per_hour
    for mobile in sorted({e.mobile for e in (matches.pending if matches else []) if e.mobile}):
        # Over the number's limit: silently nothing (saying so would tell the number exists).
        if await platform.counters["sms_mobile"].hit(tenant.slug, mobile) <= limit:
            await send_code(request, mobile, _purpose(account), counted=True)
    return await render(request, "_sms_status.html", {"message": message, "ok": ok})


@post("/me/profile/confirm", guards=LEARNER)
async def profile_confirm(request: Request, platform: Platform, tenant: Tenant, account: Account) -> Response:
    """"确认": join the roster entries whose mobile the learner proved to control — the code
    sent to the entry's mobile, or the account's own verified mobile being the entry's.
    所属企业 comes from the entry; the company's images come with a proven join only."""
    p = platform
    profile = await profile_of(tenant, account)
    if profile is None or not profile.id_number:
        return redirect(request, "/me/profile")
    matches = await find_roster_matches(p.hooks(tenant), tenant, profile)
    own = roster_entries_proven_by_mobile(matches.pending, account.mobile)
    if own:
        await join_roster(p.hooks(tenant), tenant, profile, own, proof="account_mobile")
        return redirect(request, "/me/profile?joined=1")
    code = (await text_fields(request)).get("code", "")
    for mobile in sorted({e.mobile for e in matches.pending if e.mobile}):
        try:
            await check_code(tenant=tenant, mobile=mobile, purpose=_purpose(account), code=code,
                             secret=p.settings.secret_key)
        except CodeError:
            continue
        await join_roster(p.hooks(tenant), tenant, profile, roster_entries_proven_by_mobile(matches.pending, mobile),
                          proof="sms_code")
        return redirect(request, "/me/profile?joined=1")
    # No entry, no mobile, no code requested, a wrong or used-up code: one answer for all.
    return await _page(request, platform, tenant, account, 400, errors={"code": BAD_CODE})


@post("/me/profile/details", guards=LEARNER, request_max_body_size=PHOTO_FORM_MAX_BODY)
async def profile_details(request: Request, platform: Platform, tenant: Tenant, account: Account) -> Response:
    """Complete the profile: ID-card front and back and a portrait (each optional on its own),
    through the core's portrait enrolment."""
    p = platform
    profile = await profile_of(tenant, account)
    if profile is None or not profile.id_number:
        return redirect(request, "/me/profile")
    form = await text_fields(request)
    consent = form.get("face_consent") == "1"
    uploads = {name: await upload(request, name) for name in IMAGES}
    allowed = await face_consent_for_portrait(tenant, account.id, ticked=consent,
                                              uploading_portrait=bool(uploads.get("portrait")))
    result = await enrol_images(p, tenant, account, profile, uploads, faces_allowed=allowed)
    if not result.ok:  # nothing is stored when any image is refused
        return await _page(request, platform, tenant, account, 400, errors=result.errors)
    if result.notice:
        return await _page(request, platform, tenant, account, notice=result.notice)
    return redirect(request, "/me/profile?saved=1")


ROUTES = [profile_page, profile_identity, profile_code, profile_confirm, profile_details]
