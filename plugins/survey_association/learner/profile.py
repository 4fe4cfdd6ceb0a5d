"""个人档案: the learner enters real name and ID number; a company's roster entry for that number
is shown to confirm (→ 已加入, 所属企业 set); otherwise the learner completes the profile."""

from __future__ import annotations

import datetime as dt

from litestar import Request, Response, get, post

from core import (
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

NO_MATCH = (
    "暂未有企业将此身份证号登记为企业学员。请核对身份证号是否与单位登记的一致；"
    "如单位尚未登记，可先完善个人档案，单位登记后将自动关联。"
)
NAME_MISMATCH = "单位登记的姓名与您填写的姓名不一致，请核对姓名；如单位登记有误，请联系单位管理员修改。"
TAKEN = "该身份证号已被其他账号关联，如有疑问请联系单位管理员。"


async def profile_of(tenant, account) -> LearnerProfile | None:
    return await scoped(LearnerProfile, tenant).objects(LearnerProfile.account == account.id).first()


async def _page(request: Request, platform: Platform, tenant: Tenant, account: Account, status_code: int = 200,
                errors: dict | None = None, form: dict | None = None, notice: str = "") -> Response:
    profile = await profile_of(tenant, account)
    matches = await find_roster_matches(platform.hooks(tenant), tenant, profile) if profile else None
    enterprise = None
    if profile and profile.enterprise:
        enterprise = await scoped(Enterprise, tenant).get(profile.enterprise)
    editing_identity = (profile is None or not profile.id_number or request.query_params.get("edit") == "identity"
                        or bool({"real_name", "id_number"} & set(errors or {})))
    if profile and profile.enterprise:
        editing_identity = False  # joined: the ID number is the company's record now
    return await render(
        request, "learner/profile.html", status_code=status_code, profile=profile, matches=matches,
        enterprise=enterprise, editing_identity=editing_identity, errors=errors or {}, form=form or {},
        notice=notice, no_match=NO_MATCH, name_mismatch=NAME_MISMATCH, taken=TAKEN, images=IMAGES,
        consent_text=face_consent_text(tenant), consented=await has_face_consent(tenant, account.id),
        welcome=bool(request.query_params.get("welcome")), joined_now=bool(request.query_params.get("joined")),
        saved=bool(request.query_params.get("saved")),
    )


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
    if id_number and "id_number" not in errors:
        used = await scoped(LearnerProfile, tenant).exists(
            (LearnerProfile.id_number == id_number) & (LearnerProfile.account != account.id)
        )
        if used:
            errors["id_number"] = "该身份证号已被其他账号使用，如有疑问请联系单位管理员"
    if errors:
        return await _page(request, platform, tenant, account, 400, errors=errors, form={"real_name": name})
    now = dt.datetime.now(dt.UTC)
    profile = profile or scoped(LearnerProfile, tenant).new(account=account.id, created_at=now)
    profile.real_name, profile.id_number, profile.updated_at = name, id_number, now
    await profile.save()
    await audit("profile.identity", tenant_id=tenant.id, actor_id=account.id, object_type="learner_profile",
                object_id=profile.id)
    return redirect(request, "/me/profile")


@post("/me/profile/confirm", guards=LEARNER)
async def profile_confirm(request: Request, platform: Platform, tenant: Tenant, account: Account) -> Response:
    """"确认": join every roster entry the profile matches; 所属企业 comes from the entry."""
    p = platform
    profile = await profile_of(tenant, account)
    if profile is None or not profile.id_number:
        return redirect(request, "/me/profile")
    matches = await find_roster_matches(p.hooks(tenant), tenant, profile)
    if not matches.pending:
        return await _page(request, platform, tenant, account, 400, notice="没有需要确认的企业登记信息")
    await join_roster(p.hooks(tenant), tenant, profile, matches.pending)
    return redirect(request, "/me/profile?joined=1")


@post("/me/profile/details", guards=LEARNER)
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


ROUTES = [profile_page, profile_identity, profile_confirm, profile_details]
