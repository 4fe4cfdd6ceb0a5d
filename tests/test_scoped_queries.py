"""scoped(Table, tenant): queries that cannot leave the tenant."""

from __future__ import annotations

import pytest

from core.accounts.tables import Account
from core.db.scoped import scoped
from core.tenants.tables import TenantRow
from core.testing.ids import fake_mobile


async def test_scoped_reads_counts_updates_and_deletes_stay_in_the_tenant(platform):
    survey, construction = platform.tenants.get("survey"), platform.tenants.get("construction")
    mine = scoped(Account, survey).new(role="learner", real_name="甲", mobile=fake_mobile(), password_hash="x")
    await mine.save()
    assert mine.tenant == survey.id
    theirs = scoped(Account, construction)
    assert await theirs.get(mine.id) is None
    assert await theirs.count(Account.id == mine.id) == 0
    assert not await theirs.exists(Account.id == mine.id)
    await theirs.update({Account.real_name: "乙"}).where(Account.id == mine.id)
    await theirs.delete().where(Account.id == mine.id)
    again = await scoped(Account, survey).get(mine.id)
    assert again is not None and again.real_name == "甲"
    assert await scoped(Account, survey).objects().where(Account.id == mine.id).first() is not None
    assert await scoped(Account, survey).select(Account.id).where(Account.id == mine.id) == [{"id": mine.id}]


async def test_scoped_refuses_a_table_without_tenant_and_a_tenant_without_id(platform):
    with pytest.raises(TypeError, match="no tenant column"):
        scoped(TenantRow, platform.tenants.get("survey"))
    with pytest.raises(ValueError, match="onboarded"):
        scoped(Account, None)


async def test_get_or_404_raises_not_found_for_another_tenants_row(platform):
    from litestar.exceptions import NotFoundException

    row = scoped(Account, platform.tenants.get("survey")).new(role="learner", real_name="丙", mobile=fake_mobile(),
                                                             password_hash="x")
    await row.save()
    with pytest.raises(NotFoundException):
        await scoped(Account, platform.tenants.get("construction")).get_or_404(row.id)


async def test_a_hand_written_statement_is_bounded_by_its_tenant_or_refused(platform):
    survey, construction = platform.tenants.get("survey"), platform.tenants.get("construction")
    row = scoped(Account, survey).new(role="learner", real_name="丁", mobile=fake_mobile(), password_hash="x")
    await row.save()
    sql = 'SELECT "real_name" FROM "account" WHERE "id" = {} AND "tenant" = {tenant}'
    assert await scoped(Account, survey).run(sql, row.id) == [{"real_name": "丁"}]
    assert await scoped(Account, construction).run(sql, row.id) == []
    with pytest.raises(ValueError, match="tenant"):
        await scoped(Account, survey).run('SELECT "real_name" FROM "account" WHERE "id" = {}', row.id)


# --- nothing outside core/db/scoped.py queries a tenant-owned table by hand -----------------------

import ast  # noqa: E402
from pathlib import Path  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
QUERY_METHODS = {"objects", "select", "update", "delete", "count", "exists", "raw"}

# Code that must reach several tenants (or none) at once; keyed by file and function, with why.
ALLOWED: dict[tuple[str, str], str] = {
    ("core/accounts/services.py", "upsert_account"):
        "platform operators are accounts without a tenant (tenant=None for the CLI and the demo)",
    ("core/platform_admin/controllers.py", "_operator"):
        "the platform operator's pages belong to no tenant: operator accounts have tenant NULL",
    ("core/platform_admin/controllers.py", "signin_submit"):
        "the platform operator's sign-in: operator accounts have tenant NULL",
    ("core/platform_admin/controllers.py", "tenants_page"):
        "the operator's list of tenants counts every tenant's accounts",
    ("core/files/migrate.py", "migrate"):
        "xueshi storage migrate copies every tenant's files into the bucket, by row id",
    ("core/study/live.py", "write"):
        "the flusher writes every tenant's pending beats in one batch, by row id; each id comes from the "
        "learner's live state, which live_state.hydrate built with scoped queries",
}
# Whole files: another engineer owns them in this round; they are converted when that work merges.
ALLOWED_FILES: dict[str, str] = {}


def tenant_owned_tables() -> set[str]:
    """Names of the tables with a ``tenant`` column, in the core's and every plugin's app."""
    import importlib

    from core.plugins import collected, make_plugin_host
    from core.piccolo_app import APP_CONFIG

    host = make_plugin_host()
    configs = [APP_CONFIG, *[importlib.import_module(m).APP_CONFIG for m in collected(host.pm, "db_apps")]]
    return {t.__name__ for c in configs for t in c.table_classes
            if "tenant" in {col._meta.name for col in t._meta.columns}}


def violations(source: str, tables: set[str]) -> list[tuple[int, str, str]]:
    """``(line, function, what)`` for every hand-made tenant filter and every direct query on a
    tenant-owned table in ``source`` (names imported under another name count too)."""
    tree = ast.parse(source)
    names = set(tables)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            names |= {a.asname for a in node.names if a.name in tables and a.asname}
    found: list[tuple[int, str, str]] = []

    def visit(node: ast.AST, function: str) -> None:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            function = node.name
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in names:
            if node.attr == "tenant":
                found.append((node.lineno, function, f"{node.value.id}.tenant by hand"))
            elif node.attr in QUERY_METHODS:
                found.append((node.lineno, function, f"{node.value.id}.{node.attr}() without scoped()"))
        for child in ast.iter_child_nodes(node):
            visit(child, function)

    visit(tree, "<module>")
    return found


def _sources() -> list[Path]:
    files = [*REPO.glob("core/**/*.py"), *REPO.glob("plugins/**/*.py")]
    return [f for f in files if "tests" not in f.relative_to(REPO).parts and "migrations" not in f.parts
            and f.relative_to(REPO).as_posix() != "core/db/scoped.py" and not f.name.startswith("test_")]


def test_no_code_queries_a_tenant_owned_table_by_hand():
    tables = tenant_owned_tables()
    assert {"Account", "RosterEntry", "CertificateHolder", "RosterConfirmation"} <= tables
    problems, used = [], set()
    for path in _sources():
        rel = path.relative_to(REPO).as_posix()
        if rel in ALLOWED_FILES:
            continue
        for line, function, what in violations(path.read_text(encoding="utf-8"), tables):
            if (rel, function) in ALLOWED:
                used.add((rel, function))
            else:
                problems.append(f"{rel}:{line} in {function}(): {what}")
    assert problems == [], "use scoped(Table, tenant) (core.db.scoped):\n" + "\n".join(problems)
    assert used == set(ALLOWED), f"allow-list entries no longer needed: {set(ALLOWED) - used}"


def test_the_scan_finds_hand_filters_direct_queries_and_aliases():
    injected = '''
from core import RosterEntry as Entry

async def leaky(tenant, entry_id):
    rows = await Entry.objects().where(Entry.tenant == tenant.id)
    await Entry.update({Entry.status: "x"}).where(Entry.id == entry_id)
    return await scoped(Entry, tenant).get(entry_id), rows
'''
    found = violations(injected, {"RosterEntry"})
    assert [(line, fn) for line, fn, _ in found] == [(5, "leaky"), (5, "leaky"), (6, "leaky")]
    assert {what for _, _, what in found} == {"Entry.objects() without scoped()", "Entry.tenant by hand",
                                              "Entry.update() without scoped()"}
