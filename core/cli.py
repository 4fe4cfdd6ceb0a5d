"""The ``xueshi`` command: migrate, tenants sync, create-admin, demo, serve."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys

from core.settings import Settings


def _host_and_tenants(settings: Settings):
    from core import db
    from core.plugins import make_plugin_host
    from core.tenants.services import load_tenants

    db.configure(settings.database_url)
    host = make_plugin_host(load_entrypoints=settings.load_entrypoints)
    return host, load_tenants(host)


async def _migrate(settings: Settings) -> None:
    from core import db

    db.configure(settings.database_url)
    await db.migrate(verbose=True)


async def _sync(settings: Settings) -> list[str]:
    from core import db
    from core.tenants.services import sync_tenants

    host, tenants = _host_and_tenants(settings)
    await db.migrate()
    return await sync_tenants(host, tenants)


async def _create_admin(settings: Settings, args: argparse.Namespace, password: str) -> str:
    """A tenant admin signs in like the tenant's other users (mobile or ID number, checked and
    normalised); a platform operator by username. Returns what was created, for the message."""
    from core import db
    from core.accounts.services import upsert_account
    from core.identity import InvalidIdentity, normalize_id_number, normalize_mobile
    from core.tenants.services import sync_tenants

    host, tenants = _host_and_tenants(settings)
    tenant = next((t for t in tenants if t.slug == args.tenant), None)
    if args.tenant and tenant is None:
        raise SystemExit(f"no tenant {args.tenant!r}; known: {', '.join(t.slug for t in tenants)}")
    if tenant is None and not args.username:
        raise SystemExit("a platform operator needs --username")
    if tenant is not None and not (args.mobile or args.id_number):
        raise SystemExit("a tenant admin signs in with --mobile or --id-number (as the tenant's users do)")
    try:
        mobile = normalize_mobile(args.mobile) if args.mobile else None
        id_number = normalize_id_number(args.id_number) if args.id_number else None
    except InvalidIdentity as exc:
        raise SystemExit(str(exc)) from None
    problem = host.hooks_for(tenant.slug).account_password_problem(tenant=tenant, password=password) if tenant \
        else host.hooks.account_password_problem(tenant=None, password=password)
    if problem:
        raise SystemExit(problem)
    await db.migrate()
    await sync_tenants(host, tenants)
    role = "tenant_admin" if tenant else "operator"
    await upsert_account(tenant, role=role, password=password, real_name=args.name, mobile=mobile,
                         id_number=id_number, username=None if tenant else args.username)
    return f"{role} ready in {tenant.slug if tenant else 'the platform'}"


async def _purge(settings: Settings) -> dict[str, dict[str, int]]:
    from core.files.storage import LocalStorage
    from core.retention import purge
    from core.tenants.services import sync_tenants

    host, tenants = _host_and_tenants(settings)
    await sync_tenants(host, tenants)
    storage = LocalStorage(settings.storage_dir)
    return {t.slug: await purge(t, storage) for t in tenants}


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
    serve = sub.add_parser("serve", help="serve the app")
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
            _, tenants = _host_and_tenants(settings)
            for t in tenants:
                print(f"{t.slug}\t{t.name}\t/t/{t.slug}/\t{', '.join(t.spec.hosts)}")
    elif args.command == "purge":
        for slug, counts in asyncio.run(_purge(settings)).items():
            print(slug, " ".join(f"{k}={v}" for k, v in counts.items()))
    elif args.command == "create-admin":
        password = args.password or getpass.getpass("密码 / password: ")
        print(asyncio.run(_create_admin(settings, args, password)))
    elif args.command in {"serve", "demo"}:
        if args.command == "demo":
            from core.demo import create_demo

            lines = asyncio.run(create_demo(settings, f"http://{args.host}:{args.port}"))
            print("\n".join(lines), flush=True)
            if args.no_serve:
                return 0
        import uvicorn

        from core.app import create_app

        uvicorn.run(create_app(settings), host=args.host, port=args.port, log_level="info")
    return 0


if __name__ == "__main__":
    sys.exit(main())
