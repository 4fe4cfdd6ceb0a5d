"""Sign-in, sign-out, password change and the account home."""

from __future__ import annotations

import datetime as dt
import logging

from litestar import Request, Response, get, post
from litestar.exceptions import NotFoundException

from core.accounts import lockout
from core.accounts.passwords import hash_password_async
from core.accounts.session_start import start_session
from core.accounts.signin import SigninFailed, SigninMethod
from core.accounts.smscodes import CodeError, count_code_request, send_code
from core.accounts.tables import Account
from core.audit.services import record
from core.db.scoped import scoped
from core.identity import InvalidIdentity, normalize_mobile
from core.plugins import collect, notify
from core.kernel import Platform
from core.study.services import profile_complete
from core.tenancy import Tenant
from core.web import client_address, menu_for, redirect, render, signed_in

log = logging.getLogger("xueshi.accounts")


async def methods_for(platform: Platform, tenant: Tenant) -> list[SigninMethod]:
    return await collect(platform.hooks(tenant).signin_methods, tenant=tenant)


async def _form(request: Request) -> dict[str, str]:
    form = await request.form()
    return {k: v for k, v in form.items() if isinstance(v, str)}


async def _signin_page(request: Request, methods: list[SigninMethod], method: SigninMethod | None = None,
                       **ctx) -> Response:
    if not methods:
        raise NotFoundException()
    method = method or methods[0]
    template = "signin_partial.html" if request.headers.get("hx-target") == "signin-form" else "signin.html"
    return await render(request, template, {"methods": methods, "method": method, "form": {}, "errors": {}, **ctx})


@get("/signin", name="signin")
async def signin_page(request: Request, platform: Platform, tenant: Tenant, m: str | None = None) -> Response:
    methods = await methods_for(platform, tenant)
    method = next((x for x in methods if x.key == m), None)
    notice = ""
    if request.query_params.get("expired"):
        notice = "登录已过期，请重新登录"
    return await _signin_page(request, methods, method, notice=notice)


@post("/signin/{method_key:str}")
async def signin_submit(request: Request, platform: Platform, tenant: Tenant, method_key: str) -> Response:
    p = platform
    methods = await methods_for(p, tenant)
    method = next((x for x in methods if x.key == method_key), None)
    if method is None:
        raise NotFoundException()
    form = await _form(request)
    client = client_address(request)
    ctx = dict(methods=methods, method=method, form={k: v for k, v in form.items() if k != "password"})

    who = method.identifier(form)
    try:
        # Counted before it is evaluated: concurrent attempts cannot all slip under the limits.
        await lockout.throttle(p, tenant.slug, client)
        attempt = await lockout.begin(p, tenant.slug, who)
    except lockout.Refused as exc:
        return await render(request, "signin.html", {"errors": {"_": exc.message}, **ctx}, status_code=429)
    try:
        account = await method.authenticate(tenant, form, p.settings.secret_key)
    except SigninFailed as exc:
        errors = {exc.field or "_": exc.message}
        status = 400
        if not (exc.counts and who):
            await attempt.not_counted()
        elif (left := await attempt.failed()) == 0:
            errors, status = {"_": lockout.locked_message(p)}, 429
            await record("signin.locked", tenant_id=tenant.id, method=method.key)
        else:
            errors[exc.field or "_"] = lockout.attempts_left(exc.message, left)
        return await render(request, "signin.html", {"errors": errors, **ctx}, status_code=status)

    await attempt.succeeded()
    account.last_signin_at = dt.datetime.now(dt.UTC)
    await account.save([Account.last_signin_at])
    await record("signin", tenant_id=tenant.id, actor_id=account.id, method=method.key)
    await notify(p.hooks(tenant).account_signed_in, tenant=tenant, account=account)
    # A fresh session id at every sign-in; the old one (if any) is destroyed.
    target = "/password?first=1" if account.must_change_password else await work_page(p, tenant, account)
    return await start_session(request, account, target)


async def work_page(platform: Platform, tenant: Tenant, account: Account) -> str:
    """Where sign-in lands: the landing page of the account's role (``AccountRole.landing``: 我的
    for a learner), else the first menu link of its own role (a reviewer on the review queue, a
    tenant admin on the first page of their admin menu, as the tenant's plugins order it), else 我的."""
    role = tenant.roles.get(account.role)
    if role is not None and role.landing:
        return role.landing
    own = [m for m in await menu_for(platform.hooks(tenant), tenant, account) if account.role in m.roles]
    return own[0].href if own else "/me"


@post("/sms/code")
async def send_signin_code(request: Request, tenant: Tenant) -> Response:
    """htmx: send a sign-in code to a registered mobile. The answer never reveals whether the
    number is registered."""
    form = await _form(request)
    try:
        mobile = normalize_mobile(form.get("mobile", ""))
        # Every request is counted against the address and the number before the number is
        # looked up, so the limits answer alike for registered and unregistered numbers.
        await count_code_request(request, mobile)
        account = await scoped(Account, tenant).objects(Account.mobile == mobile).first()
        if account is not None:
            await send_code(request, mobile, "signin", account, counted=True)
        minutes = tenant.rules.signin.sms_code_ttl_seconds // 60
        message, ok = f"如该手机号已注册，验证码已发送，{minutes} 分钟内有效", True
    except (InvalidIdentity, CodeError) as exc:
        message, ok = str(exc), False
    return await render(request, "_sms_status.html", {"message": message, "ok": ok})


@post("/signout")
async def signout(request: Request, platform: Platform, tenant: Tenant) -> Response:
    p = platform
    sid = request.cookies.get(p.sessions.cookie_name(tenant.slug))
    if sid:
        await p.sessions.destroy(sid)
    response = redirect(request, "/signin")
    response.delete_cookie(p.sessions.cookie_name(tenant.slug), path="/")
    return response


@get("/password", guards=[signed_in])
async def password_page(request: Request, account: Account) -> Response:
    return await render(request, "password.html", {"first": account.must_change_password, "errors": {}})


@post("/password", guards=[signed_in])
async def password_submit(request: Request, platform: Platform, tenant: Tenant, account: Account) -> Response:
    p = platform
    form = await _form(request)
    errors: dict[str, str] = {}
    current, new, again = form.get("current", ""), form.get("new", ""), form.get("again", "")
    try:
        # The current password is a typed secret like a sign-in: the same limits and lockout.
        await lockout.check_password(p, scope=tenant.slug, who=f"account:{account.id}",
                                     client=client_address(request), password_hash=account.password_hash,
                                     password=current, wrong="当前密码不正确")
    except (lockout.Refused, lockout.WrongPassword) as exc:
        errors["current"] = exc.message
    problem = p.hooks(tenant).account_password_problem(tenant=tenant, password=new)
    if problem:
        errors["new"] = problem
    elif new == current:
        errors["new"] = "新密码不能与当前密码相同"
    if not errors and new != again:
        errors["again"] = "两次输入的新密码不一致"
    if errors:
        return await render(request, "password.html",
                            {"first": account.must_change_password, "errors": errors}, status_code=400)
    first = account.must_change_password
    account.password_hash = await hash_password_async(new)
    account.must_change_password = False
    await account.save([Account.password_hash, Account.must_change_password])
    await record("password.changed", tenant_id=tenant.id, actor_id=account.id)
    # A changed password ends the account's other sessions (another device, a thief's), and
    # this one is rotated. After the first change a learner lands on 我的档案 (ID card, portrait,
    # mobile check) unless it is already complete.
    await p.sessions.end_all(account.id)
    target = "/me?changed=1"
    if first and account.role == "learner":
        if not await profile_complete(tenant, account.id):
            target = "/me/archive?changed=1"
    return await start_session(request, account, target)


@get("/me", guards=[signed_in])
async def account_home(request: Request, account: Account) -> Response:
    return await render(request, "me.html", {"changed": bool(request.query_params.get("changed")), "me": account})


@get("/", name="home")
async def home(request: Request, account: Account | None) -> Response:
    return await render(request, "home.html", {"me": account})


ROUTES = [signin_page, signin_submit, send_signin_code, signout, password_page, password_submit, account_home, home]
