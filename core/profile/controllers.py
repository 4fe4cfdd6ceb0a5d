"""我的档案: the learner uploads both sides of the ID card and a recent portrait (the core's
portrait enrolment) and checks the mobile number, which only staff may change.

Study cannot start before the profile is complete (``core.study.services.profile_complete``).
"""

from __future__ import annotations

import datetime as dt

from litestar import Request, Response, get, post
from litestar.exceptions import NotFoundException

from core.accounts.tables import Account
from core.db.scoped import scoped
from core.files.limits import PHOTO_FORM_MAX_BODY
from core.files.tables import StoredFile
from core.kernel import Platform
from core.proctoring import consent as consents
from core.proctoring.portrait import IMAGES, enrol_images
from core.roster.tables import LearnerProfile
from core.study.services import profile_complete
from core.tenancy import Tenant
from core.web import redirect, render, roles

LEARNER = roles("learner")
MOBILE_WARNING = ("请先核实手机号码是否正确，不正确的手机号码无法收到系统的提示信息，会影响审核。"
                  "个人无法更正手机号码")


async def profile_for(tenant: Tenant, account: Account, *, create: bool = False) -> LearnerProfile | None:
    """The learner's profile; an ID-number tenant's learner gets one made from the account."""
    profiles = scoped(LearnerProfile, tenant)
    profile = await profiles.objects(LearnerProfile.account == account.id).first()
    if profile is None and create:
        now = dt.datetime.now(dt.UTC)
        profile = profiles.new(account=account.id, real_name=account.real_name, id_number=account.id_number,
                               created_at=now, updated_at=now)
        await profile.save()
    return profile


async def _page(request: Request, tenant: Tenant, account: Account, status_code: int = 200,
                errors: dict | None = None, notice: str = "") -> Response:
    profile = await profile_for(tenant, account)
    done = {name: bool(profile and getattr(profile, name)) for name in IMAGES}
    return await render(
        request, "profile/archive.html",
        {"me": account, "profile": profile, "images": IMAGES, "done": done, "complete": all(done.values()),
         "errors": errors or {}, "notice": notice, "service_phones": tenant.rules.profile.service_phones,
         "mobile_warning": MOBILE_WARNING,
         "consented": await consents.active_consent(tenant.id, account.id) is not None,
         "consent_text": consents.face_consent_text(tenant), "changed": bool(request.query_params.get("changed")),
         "saved": bool(request.query_params.get("saved")), "next_url": _next(request)}, status_code=status_code)


def _next(request: Request) -> str:
    target = request.query_params.get("next") or ""
    return target if target.startswith("/study/") else ""


@get("/me/archive", guards=[LEARNER])
async def archive_page(request: Request, tenant: Tenant, account: Account) -> Response:
    return await _page(request, tenant, account)


@post("/me/archive", guards=[LEARNER], request_max_body_size=PHOTO_FORM_MAX_BODY)
async def archive_submit(request: Request, platform: Platform, tenant: Tenant, account: Account) -> Response:
    form = await request.form()
    uploads: dict[str, bytes | None] = {}
    for name in IMAGES:
        item = form.get(name)
        uploads[name] = (await item.read()) or None if item is not None and not isinstance(item, str) else None
    allowed = await consents.for_portrait(tenant, account.id, ticked=form.get("face_consent") == "1",
                                          uploading_portrait=bool(uploads.get("portrait")))
    profile = await profile_for(tenant, account, create=True)
    result = await enrol_images(platform, tenant, account, profile, uploads, faces_allowed=allowed)
    if not result.ok:
        return await _page(request, tenant, account, 400, errors=result.errors)
    if result.notice:
        return await _page(request, tenant, account, notice=result.notice)
    target = _next(request)
    return redirect(request, target if target and await _complete(tenant, account) else "/me/archive?saved=1")


async def _complete(tenant: Tenant, account: Account) -> bool:
    return await profile_complete(tenant, account.id)


@get("/me/archive/image/{kind:str}", guards=[LEARNER])
async def archive_image(platform: Platform, tenant: Tenant, account: Account, kind: str) -> Response:
    """The learner's own image, by kind (never by id: nobody else's file can be named here)."""
    profile = await profile_for(tenant, account)
    if kind not in IMAGES or profile is None or not getattr(profile, kind):
        raise NotFoundException()
    row = await scoped(StoredFile, tenant).get(getattr(profile, kind))
    if row is None:
        raise NotFoundException()
    return Response(content=await platform.storage.read(row), media_type=row.media_type,
                    headers={"Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"})


ROUTES = [archive_page, archive_submit, archive_image]
