"""The ``xueshi`` command: migrate, tenants sync, create-admin, staff, bank, storage migrate, demo,
serve, worker."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import logging
import sys

from core import db, serving
from core.accounts import staff
from core.accounts.services import upsert_account
from core.accounts.staff_pages import signin_identifiers
from core.accounts.tables import Account
from core.app import create_app
from core.db.scoped import scoped
from core.demo import create_demo
from core.exams import bank_cli
from core.files.migrate import migrate
from core.files.storage import LocalStorage, object_storage
from core.identity import InvalidIdentity, normalize_id_number, normalize_mobile
from core.jobs.worker import run_worker
from core.kernel import build_platform
from core.notify.services import DemoConsoleSms
from core.retention import purge
from core.settings import Settings
from core.tenants.services import sync_tenants


@contextlib.asynccontextmanager
async def _started(settings: Settings):
    """A started platform (pool open, tenant ids read) for one command: no cron jobs, which are
    the serving processes' and workers' to run."""
    platform = build_platform(settings)
    await platform.start(jobs=False)
    try:
        yield platform
    finally:
        await platform.stop()


async def _migrate(settings: Settings) -> None:
    build_platform(settings)  # registers the plugins' Piccolo apps
    await db.migrate(verbose=True)


async def _sync(settings: Settings) -> list[str]:
    platform = build_platform(settings)
    return await sync_tenants(platform.plugins, list(platform.tenants))


async def _create_admin(settings: Settings, args: argparse.Namespace, password: str) -> str:
    """A tenant admin signs in like the tenant's other users (mobile or ID number, checked and
    normalised); a platform operator by username. Returns what was created, for the message."""
    platform = build_platform(settings)
    platform.sessions.watch()  # an existing account rewritten here is reloaded by the servers
    tenant = platform.tenants.get(args.tenant)
    if args.tenant and tenant is None:
        raise SystemExit(f"no tenant {args.tenant!r}; known: {', '.join(t.slug for t in platform.tenants)}")
    if tenant is None and not args.username:
        raise SystemExit("a platform operator needs --username")
    if tenant is not None and not (args.mobile or args.id_number):
        raise SystemExit("a tenant admin signs in with --mobile or --id-number (as the tenant's users do)")
    try:
        mobile = normalize_mobile(args.mobile) if args.mobile else None
        id_number = normalize_id_number(args.id_number) if args.id_number else None
    except InvalidIdentity as exc:
        raise SystemExit(str(exc)) from None
    hooks = platform.hooks(tenant) if tenant else platform.plugins.hooks
    problem = hooks.account_password_problem(tenant=tenant, password=password)
    if problem:
        raise SystemExit(problem)
    async with _started(settings) as platform:
        tenant = platform.tenants.get(args.tenant)
        role = "tenant_admin" if tenant else "operator"
        await upsert_account(tenant, role=role, password=password, real_name=args.name, mobile=mobile,
                             sessions=platform.sessions,
                             id_number=id_number, username=None if tenant else args.username)
    return f"{role} ready in {tenant.slug if tenant else 'the platform'}"


async def _staff(settings: Settings, args: argparse.Namespace) -> list[str]:
    """``xueshi staff``: what 账号管理 does (core.accounts.staff), from the command line."""
    async with _started(settings) as platform:
        tenant = platform.tenants.get(args.tenant)
        if tenant is None:
            raise SystemExit(f"no tenant {args.tenant!r}; known: {', '.join(t.slug for t in platform.tenants)}")
        try:
            if args.action == "list":
                return [f"{a.id}\t{a.role}\t{a.real_name}\t{'active' if a.active else 'inactive'}"
                        for a in await staff.list_staff(tenant)]
            if args.action == "add":
                account = await staff.create_staff(platform.hooks(tenant), tenant, None, staff.StaffForm(
                    real_name=args.name or "", role=args.role or "", id_number=args.id_number or "",
                    mobile=args.mobile or "", password=args.password or ""), await signin_identifiers(platform, tenant))
                return [f"{account.role} {account.id} created in {tenant.slug} (must change the password)"]
            if args.id_number:
                where = Account.id_number == normalize_id_number(args.id_number)
            elif args.mobile:
                where = Account.mobile == normalize_mobile(args.mobile)
            else:
                raise SystemExit("name the account with --id-number or --mobile")
            account = await scoped(Account, tenant).objects(where).first()
            if args.action == "reset-password":
                if account is None or account.role != "learner":
                    raise SystemExit(f"no learner with that identifier in {tenant.slug}")
                await staff.reset_learner_password(tenant, platform.sessions, None, account)
                return [f"learner {account.id}: password reset to the initial password (must change it)"]
            if account is None or account.role not in staff.staff_roles(tenant):
                raise SystemExit(f"no staff account with that identifier in {tenant.slug}")
            await staff.set_active(tenant, platform.sessions, None, account, args.action == "activate")
            return [f"{account.role} {account.id}: {'active' if account.active else 'deactivated, signed out'}"]
        except staff.StaffError as exc:
            raise SystemExit(f"{exc.field}: {exc.message}") from None
        except InvalidIdentity as exc:
            raise SystemExit(str(exc)) from None


async def _bank(settings: Settings, args: argparse.Namespace) -> int:
    async with _started(settings) as platform:
        status, lines = await bank_cli.run(platform, args)
    print("\n".join(lines))
    return status


async def _storage_migrate(settings: Settings) -> bool:
    target = object_storage(settings)  # XUESHI_STORAGE_URL and friends: the bucket to fill
    async with _started(settings):
        done = await migrate(LocalStorage(settings.storage_dir), target)
    print(f"copied={done.copied} already={done.already} missing={len(done.missing)} corrupt={len(done.corrupt)} "
          f"failed={len(done.failed)}")
    return done.ok


async def _purge(settings: Settings) -> dict[str, dict[str, int]]:
    async with _started(settings) as platform:
        return {t.slug: await purge(t, platform.storage) for t in platform.tenants}


def _serve(settings: Settings, host: str, port: int, workers: int, plugins: list[object] = ()) -> None:
    """uvicorn on uvloop + httptools (docs/operations.md says why). Several workers are separate
    processes, each building its own app from the environment; none of them migrates."""
    import uvicorn

    if workers > 1:
        serving.serve("core.app:app_from_env", host=host, port=port, workers=workers)
    else:
        uvicorn.run(create_app(settings, list(plugins)), host=host, port=port, loop="uvloop", http="httptools",
                    log_level="info")


def _worker(settings: Settings, concurrency: int) -> None:
    """SAQ workers on Redis (``REDIS_URL``); each builds its own platform, never the web app."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    asyncio.run(run_worker(settings, concurrency=concurrency))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="xueshi", description="学时 training platform")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate", help="run database migrations forwards")
    tenants = sub.add_parser("tenants", help="tenant commands")
    tenants.add_argument("action", choices=["sync", "list"])
    admin = sub.add_parser("create-admin", help="create or reset a tenant admin (or platform operator)")
    admin.add_argument("--tenant", help="tenant slug; omit for a platform operator")
    admin.add_argument("--mobile", help="tenant admin: the mobile they sign in with")
    admin.add_argument("--id-number", dest="id_number", help="tenant admin: the ID number they sign in with")
    admin.add_argument("--username", help="platform operator: the username they sign in with")
    admin.add_argument("--name", default="管理员")
    admin.add_argument("--password", help="read from the terminal when omitted")
    sub.add_parser("purge", help="delete personal data past each tenant's retention rules")
    storage = sub.add_parser("storage", help="files: copy the local folder into the bucket (XUESHI_STORAGE_URL)")
    storage.add_argument("action", choices=["migrate"])
    staff = sub.add_parser("staff", help="a tenant's staff accounts, a learner's password reset (as 账号管理 does)")
    staff.add_argument("action", choices=["list", "add", "deactivate", "activate", "reset-password"])
    staff.add_argument("--tenant", required=True, help="tenant slug")
    staff.add_argument("--role", help="add: one of the tenant's staff.roles (tenant_admin, reviewer)")
    staff.add_argument("--name", help="add: the person's name")
    staff.add_argument("--mobile", help="the mobile the account signs in with / is found by")
    staff.add_argument("--id-number", dest="id_number", help="the ID number the account signs in with / is found by")
    staff.add_argument("--password", help="add: the initial password (changed at first sign-in)")
    bank_cli.add_arguments(sub.add_parser("bank", help="import or export a position's question bank (any size)"))
    serve = sub.add_parser("serve", help="serve the app (the database must be migrated and tenants synced)")
    serve.add_argument("--workers", type=int, default=1, help="server processes (default 1)")
    worker = sub.add_parser("worker", help="run background jobs from Redis (needs REDIS_URL)")
    worker.add_argument("--concurrency", type=int, default=4, help="jobs run at once (default 4)")
    demo = sub.add_parser("demo", help="create demo data and accounts, print them, and serve")
    for p in (serve, demo):
        p.add_argument("--host", default="127.0.0.1")
        p.add_argument("--port", type=int, default=8000)
    demo.add_argument("--no-serve", action="store_true", help="only create the demo data")
    args = parser.parse_args(argv)
    settings = Settings.from_env()

    if args.command == "migrate":
        asyncio.run(_migrate(settings))
        print("migrations applied")
    elif args.command == "tenants":
        if args.action == "sync":
            for line in asyncio.run(_sync(settings)):
                print(line)
        else:
            for t in build_platform(settings).tenants:
                print(f"{t.slug}\t{t.name}\t/t/{t.slug}/\t{', '.join(t.spec.hosts)}")
    elif args.command == "purge":
        for slug, counts in asyncio.run(_purge(settings)).items():
            print(slug, " ".join(f"{k}={v}" for k, v in counts.items()))
    elif args.command == "storage":
        return 0 if asyncio.run(_storage_migrate(settings)) else 1
    elif args.command == "staff":
        if args.action == "add" and not args.password:
            args.password = getpass.getpass("初始密码 / initial password: ")
        for line in asyncio.run(_staff(settings, args)):
            print(line)
    elif args.command == "bank":
        return asyncio.run(_bank(settings, args))
    elif args.command == "create-admin":
        password = args.password or getpass.getpass("密码 / password: ")
        print(asyncio.run(_create_admin(settings, args, password)))
    elif args.command == "demo":
        lines = asyncio.run(create_demo(settings, f"http://{args.host}:{args.port}"))
        print("\n".join(lines), flush=True)
        if not args.no_serve:
            print("演示环境：短信不会发送，验证码等短信内容显示在本窗口。", flush=True)
            _serve(settings, args.host, args.port, 1, [DemoConsoleSms()])
    elif args.command == "serve":
        _serve(settings, args.host, args.port, args.workers)
    elif args.command == "worker":
        _worker(settings, args.concurrency)
    return 0


if __name__ == "__main__":
    sys.exit(main())
