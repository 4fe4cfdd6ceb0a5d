"""学员管理: the company's roster — list with 未加入/已加入, 单个登记, 通知, 详情."""

from __future__ import annotations

import datetime as dt

from litestar import Request, Response, get, post
from litestar.exceptions import NotFoundException

from core import (
    MAX_UPLOAD_BYTES,
    PHOTO_FORM_MAX_BODY,
    Account,
    Enterprise,
    ImageRejected,
    Platform,
    RosterEntry,
    StoredFile,
    Tenant,
    audit,
    clean_image_async,
    portrait_gate,
    redirect,
    render,
    scoped,
    send_notification,
)
from core import (
    check_roster_row as check_core,
)
from core import (
    upsert_roster_rows as upsert_rows,
)
from plugins.survey_association import roster_checks
from plugins.survey_association.company.common import read_form, upload_bytes

IMAGE_KINDS = {"id_front": "身份证人像面", "id_back": "身份证国徽面", "photo": "证件照"}
MAX_IMAGE_BYTES = MAX_UPLOAD_BYTES


async def _entry(tenant: Tenant, entry_id: int, enterprise_id: int) -> RosterEntry:
    return await scoped(RosterEntry, tenant).get_or_404(entry_id, RosterEntry.enterprise == enterprise_id)


@get("/company/learners")
async def roster(request: Request, tenant: Tenant, enterprise: Enterprise) -> Response:
    rows = await scoped(RosterEntry, tenant).objects(RosterEntry.enterprise == enterprise.id).order_by(RosterEntry.id)
    return await render(request, "company/learners.html",
                        {"enterprise": enterprise, "rows": rows, "notified": request.query_params.get("notified"),
                         "added": request.query_params.get("added")})


@post("/company/learners/notify")
async def notify_selected(request: Request, platform: Platform, tenant: Tenant, account: Account,
                          enterprise: Enterprise) -> Response:
    """SMS to every selected entry with a mobile; an in-app message too when the person has an
    account. Entries without an account get the SMS through a transient (unsaved) account object."""
    p = platform
    form = await read_form(request)
    ids = [int(x) for x in form.lists.get("entry_id", []) if x.isdigit()]
    if not ids:
        return redirect(request, "/company/learners?notified=none")
    rows = await scoped(RosterEntry, tenant).objects((RosterEntry.enterprise == enterprise.id) & RosterEntry.id.is_in(ids))
    if len(rows) != len(set(ids)):
        raise NotFoundException()  # an id of another company or tenant
    repeat = [e for e in rows if e.notified_at]
    if repeat and form.get("confirm_repeat") != "1":
        # Already notified: say so and when, and send only after the administrator confirms.
        everyone = await scoped(RosterEntry, tenant).objects(RosterEntry.enterprise == enterprise.id).order_by(
            RosterEntry.id)
        return await render(request, "company/learners.html",
                            {"enterprise": enterprise, "rows": everyone, "notified": None, "added": None,
                             "repeat": repeat, "selected": rows})
    now = dt.datetime.now(dt.UTC)
    sent = 0
    for entry in rows:
        person = None
        if entry.account:
            person = await scoped(Account, tenant).get(entry.account)
        if person is None:
            if not entry.mobile:
                continue
            person = scoped(Account, tenant).new(mobile=entry.mobile, real_name=entry.real_name)
            channels: tuple[str, ...] = ("sms",)
        else:
            channels = ("inbox", "sms")
        await send_notification(p.hooks(tenant), tenant, person, "roster_added", channels=channels,
                                name=entry.real_name, enterprise=enterprise.name)
        await scoped(RosterEntry, tenant).update({RosterEntry.notified_at: now}).where(RosterEntry.id == entry.id)
        sent += 1
    await audit("roster.notified", tenant_id=tenant.id, actor_id=account.id, object_type="enterprise",
                object_id=enterprise.id, entries=[e.id for e in rows], sent=sent)
    return redirect(request, f"/company/learners?notified={sent}")


@get("/company/learners/new")
async def new_page(request: Request, tenant: Tenant, enterprise: Enterprise) -> Response:
    return await render(request, "company/learner_new.html",
                        {"enterprise": enterprise, "form": {}, "errors": {},
                         "positions": tenant.rules.roster.positions})


@post("/company/learners/new")
async def new_submit(request: Request, platform: Platform, tenant: Tenant, account: Account,
                     enterprise: Enterprise) -> Response:
    form = await read_form(request)
    values = {k: form.get(k) for k in ("real_name", "id_number", "mobile", "position")}
    positions = list(tenant.rules.roster.positions)
    errors = {e.column: e.message for e in reversed(check_core(values, positions, chosen=True))}
    if not values["mobile"]:
        errors.setdefault("mobile", "请输入手机号，用于通知学员")
    if "id_number" not in errors:
        other = await scoped(RosterEntry, tenant).objects(RosterEntry.id_number == values["id_number"]).first()
        if other is not None and other.enterprise == enterprise.id:
            errors["id_number"] = "该身份证号已在本企业学员名单中"
        elif other is not None:
            errors["id_number"] = "该身份证号已被其他企业登记为学员"
    if errors:
        return await render(request, "company/learner_new.html",
                            {"enterprise": enterprise, "form": values, "errors": errors, "positions": positions},
                            status_code=400)
    await upsert_rows(hooks=platform.hooks(tenant), tenant=tenant, enterprise_id=enterprise.id, rows=[values])
    entry = await scoped(RosterEntry, tenant).objects(
        (RosterEntry.enterprise == enterprise.id) & (RosterEntry.id_number == values["id_number"])).first()
    await audit("roster.added", tenant_id=tenant.id, actor_id=account.id, object_type="roster_entry",
                object_id=entry.id)
    return redirect(request, "/company/learners?added=1")


@get("/company/learners/{entry_id:int}")
async def detail(request: Request, tenant: Tenant, enterprise: Enterprise, entry_id: int) -> Response:
    entry = await _entry(tenant, entry_id, enterprise.id)
    return await render(request, "company/learner_detail.html",
                        {"enterprise": enterprise, "entry": entry, "errors": {},
                         "checks": await roster_checks.of_entry(tenant, entry.id), "kinds": IMAGE_KINDS,
                         "positions": tenant.rules.roster.positions, "saved": bool(request.query_params.get("saved"))})


@post("/company/learners/{entry_id:int}", request_max_body_size=PHOTO_FORM_MAX_BODY)
async def detail_submit(request: Request, platform: Platform, tenant: Tenant, account: Account,
                        enterprise: Enterprise, entry_id: int) -> Response:
    entry = await _entry(tenant, entry_id, enterprise.id)
    form = await read_form(request)
    # The page never shows the full mobile, so an empty field means "keep the current one".
    values = {"real_name": form.get("real_name"), "id_number": entry.id_number,
              "mobile": form.get("mobile") or entry.mobile, "position": form.get("position")}
    positions = list(tenant.rules.roster.positions)
    errors = {e.column: e.message for e in check_core(values, positions, chosen=True) if e.column != "id_number"}
    images = {}
    for kind, label in IMAGE_KINDS.items():
        upload = form.files.get(kind)
        if upload is None:
            continue
        try:
            images[kind] = await clean_image_async(await upload_bytes(upload, MAX_IMAGE_BYTES),
                                                  max_bytes=MAX_IMAGE_BYTES)
        except ImageRejected as exc:
            errors[kind] = f"{label}：{exc}"
    if "photo" in images:
        # The same portrait gate as the learner's own upload: one frontal, sharp face (a photo of
        # two people is no 证件照). Only the quality gate; nothing is compared or kept from the face.
        problem = await portrait_gate(platform, tenant, images["photo"].data)
        if problem:
            errors["photo"] = f"{IMAGE_KINDS['photo']}不合格：{problem}"
    if errors:
        return await render(request, "company/learner_detail.html",
                            {"enterprise": enterprise, "entry": entry,
                             "checks": await roster_checks.of_entry(tenant, entry.id), "errors": errors,
                             "kinds": IMAGE_KINDS, "positions": positions, "saved": False}, status_code=400)
    p = platform
    now = dt.datetime.now(dt.UTC)
    for kind, image in images.items():
        stored = await p.storage.save(image.data, tenant_id=tenant.id, kind=kind, media_type=image.media_type,
                                      owner_id=entry.account or None)
        setattr(entry, kind, stored.id)
    entry.real_name, entry.mobile, entry.position = values["real_name"], values["mobile"] or None, values["position"]
    entry.updated_at = now
    await entry.save()
    await roster_checks.company_filled(tenant, entry.id, now)  # the learner must confirm the change
    await audit("roster.company_filled", tenant_id=tenant.id, actor_id=account.id, object_type="roster_entry",
                object_id=entry.id, images=sorted(images))
    return redirect(request, f"/company/learners/{entry.id}?saved=1")


@get("/company/learners/{entry_id:int}/files/{kind:str}")
async def entry_file(platform: Platform, tenant: Tenant, enterprise: Enterprise, entry_id: int,
                     kind: str) -> Response:
    if kind not in IMAGE_KINDS:
        raise NotFoundException()
    entry = await _entry(tenant, entry_id, enterprise.id)
    stored = await scoped(StoredFile, tenant).get_or_404(getattr(entry, kind))
    return Response(content=await platform.storage.read(stored), media_type=stored.media_type,
                    headers={"Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"})


ROUTES = [roster, notify_selected, new_page, new_submit, detail, detail_submit, entry_file]
