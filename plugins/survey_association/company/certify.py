"""企业管理员入口 and 实名认证: a company applies; staff approve it (see staff.py)."""

from __future__ import annotations

import datetime as dt

from litestar import Request, Response, get, post

from core import (
    MAX_UPLOAD_BYTES,
    PHOTO_FORM_MAX_BODY,
    TOO_MANY_LOOKUPS,
    Account,
    CodeError,
    Enterprise,
    ImageRejected,
    InvalidIdentity,
    Platform,
    Refused,
    Tenant,
    WrongPassword,
    audit,
    check_code,
    check_password,
    clean_image_async,
    client_address,
    hash_password_async,
    lookup_allowed,
    normalize_credit_code,
    normalize_id_number,
    normalize_mobile,
    redirect,
    render,
    scoped,
    send_code,
)
from plugins.survey_association.company import certification
from plugins.survey_association.company.certification import STATUS_LABELS
from plugins.survey_association.company.common import read_form, upload_bytes
from plugins.survey_association.roles import COMPANY_ADMIN

MAX_LICENCE_BYTES = MAX_UPLOAD_BYTES
FIELDS = ("name", "credit_code", "address", "admin_name", "id_number", "mobile")


@get("/enterprise")
async def entry(request: Request) -> Response:
    return await render(request, "company/entry.html",
                        {"submitted": bool(request.query_params.get("submitted")), "errors": {}, "form": {},
                         "status": None})


@post("/enterprise/status")
async def status_check(request: Request, platform: Platform, tenant: Tenant) -> Response:
    """The applicant asks how their application stands (mobile + the password they chose)."""
    form = await read_form(request)
    errors: dict[str, str] = {}
    status_code = 400
    account = enterprise = applied = None
    try:
        mobile = normalize_mobile(form.get("mobile"))
        account = await scoped(Account, tenant).objects(
            (Account.mobile == mobile) & (Account.role == COMPANY_ADMIN)
        ).first()
    except InvalidIdentity as exc:
        errors["mobile"] = str(exc)
    if not errors:
        # A password check like sign-in's, so the same rate limit and lockout (shared with the
        # mobile + password sign-in of this tenant).
        try:
            await check_password(platform, scope=tenant.slug, who=mobile, client=client_address(request),
                                 password_hash=account.password_hash if account else None,
                                 password=form.get("password") or "", wrong="手机号或密码错误")
        except Refused as exc:
            errors["password"], status_code = exc.message, 429
        except WrongPassword as exc:
            errors["password"], status_code = exc.message, 429 if exc.left == 0 else 400
        else:
            enterprise = await scoped(Enterprise, tenant).get(account.enterprise)
            applied = await certification.of_company(tenant, account.enterprise)
    status = None
    if enterprise is not None and applied is not None:
        status = {"name": enterprise.name, "status": applied.status,
                  "label": STATUS_LABELS.get(applied.status, applied.status), "reason": applied.reject_reason}
    return await render(request, "company/entry.html",
                        {"submitted": False, "errors": errors, "form": {"mobile": form.get("mobile")},
                         "status": status}, status_code=status_code if errors else 200)


@get("/enterprise/certify")
async def certify_page(request: Request) -> Response:
    return await render(request, "company/certify.html", {"form": {}, "errors": {}})


@post("/enterprise/certify/code")
async def certify_code(request: Request, tenant: Tenant) -> Response:
    form = await read_form(request)
    try:
        mobile = normalize_mobile(form.get("mobile"))
        await send_code(request, mobile, "enterprise")
        message, ok = f"验证码已发送，{tenant.rules.signin.sms_code_ttl_seconds // 60} 分钟内有效", True
    except (InvalidIdentity, CodeError) as exc:
        message, ok = str(exc), False
    return await render(request, "_sms_status.html", {"message": message, "ok": ok})


def _check_fields(form) -> tuple[dict[str, str], dict[str, str]]:
    clean = {n: form.get(n) for n in FIELDS}
    errors: dict[str, str] = {}
    if not clean["name"]:
        errors["name"] = "请输入企业名称"
    elif len(clean["name"]) > 100:
        errors["name"] = "企业名称过长"
    for key, check in (("credit_code", normalize_credit_code), ("id_number", normalize_id_number),
                       ("mobile", normalize_mobile)):
        try:
            clean[key] = check(clean[key])
        except InvalidIdentity as exc:
            errors[key] = str(exc)
    if not clean["address"]:
        errors["address"] = "请输入企业地址"
    elif len(clean["address"]) > 200:
        errors["address"] = "企业地址过长"
    if not clean["admin_name"]:
        errors["admin_name"] = "请输入管理员真实姓名"
    elif len(clean["admin_name"]) > 50:
        errors["admin_name"] = "姓名过长"
    return clean, errors


def _shown(form) -> dict[str, str]:
    return {n: form.get(n) or "" for n in FIELDS}


async def _conflicts(tenant, clean) -> tuple[Enterprise | None, Account | None, dict[str, str]]:
    """A rejected application may be sent again (same rows reused); anything else is taken."""
    errors: dict[str, str] = {}
    enterprise = await scoped(Enterprise, tenant).objects(Enterprise.credit_code == clean["credit_code"]).first()
    account = await scoped(Account, tenant).objects(Account.mobile == clean["mobile"]).first()
    applied = await certification.of_company(tenant, enterprise.id) if enterprise is not None else None
    rejected = applied is not None and applied.status == "rejected"
    if enterprise is not None and not rejected:
        errors["credit_code"] = "该企业已提交认证或已通过认证，已注册的管理员请直接登录"
    if account is not None and not (
        rejected and account.enterprise == enterprise.id
        and account.role == COMPANY_ADMIN
    ):
        errors["mobile"] = "该手机号已注册，请直接登录或更换手机号"
    holder = await scoped(Account, tenant).objects(Account.id_number == clean["id_number"]).first()
    if holder is not None and (account is None or holder.id != account.id):
        errors["id_number"] = "该身份证号已注册账号，请核对"
    return enterprise, account, errors


@post("/enterprise/certify", request_max_body_size=PHOTO_FORM_MAX_BODY)
async def certify_submit(request: Request, platform: Platform, tenant: Tenant) -> Response:
    p = platform
    form = await read_form(request)
    if not await lookup_allowed(request):  # counted before anything is looked up or decoded
        return await render(request, "company/certify.html",
                            {"form": _shown(form), "errors": {"_": TOO_MANY_LOOKUPS}}, status_code=429)
    clean, errors = _check_fields(form)
    password = form.fields.get("password", "")
    problem = p.hooks(tenant).account_password_problem(tenant=tenant, password=password)
    if problem:
        errors["password"] = problem
    elif password != form.fields.get("password_again", ""):
        errors["password_again"] = "两次输入的密码不一致"
    licence = None
    try:
        raw = await upload_bytes(form.files.get("licence"), MAX_LICENCE_BYTES)
        if not raw:
            raise ImageRejected("请上传营业执照照片")
        licence = await clean_image_async(raw, max_bytes=MAX_LICENCE_BYTES)
    except ImageRejected as exc:
        errors["licence"] = str(exc)
    enterprise = account = None
    # The SMS code first: whether a credit code, mobile or ID number is already registered is
    # told only to someone who proved control of the mobile they entered, never to a prober.
    if not errors:
        try:
            await check_code(tenant=tenant, mobile=clean["mobile"], purpose="enterprise",
                             code=form.get("code"), secret=p.settings.secret_key)
        except CodeError as exc:
            errors["code"] = str(exc)
    if not errors:
        enterprise, account, taken = await _conflicts(tenant, clean)
        errors.update(taken)
    if errors:
        return await render(request, "company/certify.html", {"form": clean, "errors": errors}, status_code=400)

    now = dt.datetime.now(dt.UTC)
    stored = await p.storage.save(licence.data, tenant_id=tenant.id, kind="licence", media_type=licence.media_type)
    enterprise = enterprise or scoped(Enterprise, tenant).new(created_at=now)
    enterprise.name, enterprise.credit_code, enterprise.address = clean["name"], clean["credit_code"], clean["address"]
    await enterprise.save()
    await certification.submit(tenant, enterprise, stored.id)
    account = account or scoped(Account, tenant).new(role=COMPANY_ADMIN)
    account.real_name, account.id_number, account.mobile = clean["admin_name"], clean["id_number"], clean["mobile"]
    account.password_hash, account.enterprise, account.active = await hash_password_async(password), enterprise.id, False
    await account.save()
    await audit("enterprise.certify_submitted", tenant_id=tenant.id, actor_id=account.id,
                object_type="enterprise", object_id=enterprise.id)
    return redirect(request, "/enterprise?submitted=1")


ROUTES = [entry, status_check, certify_page, certify_code, certify_submit]
