"""Learner registration ("注册"): mobile + SMS code, real name and password, then signed in."""

from __future__ import annotations

from litestar import Request, Response, get, post

from core import (
    Account,
    CodeError,
    InvalidIdentity,
    audit,
    check_code,
    send_code,
    normalize_mobile,
    Platform,
    redirect,
    render,
    scoped,
    start_session,
    Tenant,
    upsert_account,
)
from plugins.survey_association.learner.forms import text_fields

PURPOSE = "register"
ALREADY = "该手机号已注册，请直接登录"
MAX_NAME = 50


async def _registered(tenant, mobile: str) -> bool:
    return await scoped(Account, tenant).exists(Account.mobile == mobile)


@get("/register")
async def register_page(request: Request, account: Account | None) -> Response:
    if account is not None:
        return redirect(request, "/me")
    return await render(request, "learner/register.html", {"form": {}, "errors": {}})


@post("/register/code")
async def register_code(request: Request, tenant: Tenant) -> Response:
    """htmx: send a registration code. The answer is the same for a registered number (whose
    owner learns after entering the code that it is registered), so it reveals nothing."""
    form = await text_fields(request)
    try:
        mobile = normalize_mobile(form.get("mobile", ""))
        await send_code(request, mobile, PURPOSE)
        minutes = tenant.rules.signin.sms_code_ttl_seconds // 60
        message, ok, status = f"验证码已发送，{minutes} 分钟内有效", True, 200
    except (InvalidIdentity, CodeError) as exc:
        message, ok, status = str(exc), False, 200  # htmx swaps 200 answers only
    return await render(request, "_sms_status.html", {"message": message, "ok": ok}, status_code=status)


@post("/register")
async def register_submit(request: Request, platform: Platform, tenant: Tenant) -> Response:
    p = platform
    form = await text_fields(request)
    errors: dict[str, str] = {}
    mobile = ""
    try:
        mobile = normalize_mobile(form.get("mobile", ""))
    except InvalidIdentity as exc:
        errors["mobile"] = str(exc)
    name = form.get("real_name", "")
    if not name:
        errors["real_name"] = "请输入真实姓名"
    elif len(name) > MAX_NAME or any(c.isdigit() or c in "<>/\\" for c in name):
        errors["real_name"] = "请输入与身份证一致的真实姓名"
    password, again = form.get("password", ""), form.get("again", "")
    problem = p.hooks(tenant).account_password_problem(tenant=tenant, password=password)
    if problem:
        errors["password"] = problem
    elif password != again:
        errors["again"] = "两次输入的密码不一致"
    if not errors:  # the code is checked last so a typo elsewhere does not use it up
        try:
            await check_code(tenant=tenant, mobile=mobile, purpose=PURPOSE, code=form.get("code", ""),
                             secret=p.settings.secret_key)
        except CodeError as exc:
            errors["code"] = str(exc)
    # Only whoever received the code learns that the number is registered.
    if not errors and await _registered(tenant, mobile):
        errors["mobile"] = ALREADY
    if errors:
        shown = {k: v for k, v in form.items() if k not in {"password", "again", "code"}}
        return await render(request, "learner/register.html", {"form": shown, "errors": errors}, status_code=400)
    account = await upsert_account(tenant, role="learner", password=password, real_name=name, mobile=mobile)
    await audit("account.registered", tenant_id=tenant.id, actor_id=account.id, object_type="account",
                object_id=account.id)
    return await start_session(request, account, "/me/profile?welcome=1")


ROUTES = [register_page, register_code, register_submit]
