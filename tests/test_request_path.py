"""The ordinary signed-in request: how many SQL statements and store commands it makes (counts,
not time, so a regression fails here), and that keeping the account per process refuses a
disabled account on its very next request, from any process.

Each test runs on the file store and, when REDIS_URL is set (CI's PostgreSQL run), on Redis,
where the session, the account's epoch and its stamp come back from one script call.
"""

from __future__ import annotations

import contextvars
import gc
import dataclasses
import os

import pytest
from litestar import post
from litestar.testing import AsyncTestClient
from redis.asyncio import Redis

from core import Account, Tenant, audit, hookimpl, roles
from core.accounts.services import upsert_account
from core.accounts.sessions import LOAD_SCRIPT
from core.exams.attempts import COUNT_ANSWERED, LOCK_WITH_QUESTION
from core.app import XueshiApp, create_app
from core.db import engine, is_postgres, write_transaction
from core.db.scoped import scoped
from core.kernel import build_platform
from core.testing.browser import in_ci
from core.testing.client import XsClient
from core.testing.pytest_plugin import deployed_platform
from exam_helpers import exam_learner, paper, save, shown, start

REDIS_URL = os.environ.get("REDIS_URL", "")
IN_REQUEST = contextvars.ContextVar("in_request", default=False)  # the jobs running beside are not counted
STORES = ["file", pytest.param("redis", marks=pytest.mark.skipif(not REDIS_URL, reason="REDIS_URL not set"))]


@post("/path-probe/write", guards=[roles("learner")])
async def probe_write(tenant: Tenant, account: Account) -> dict:
    await audit("path.probe", tenant_id=tenant.id, actor_id=account.id)
    return {"ok": True}


class ProbePlugin:
    @hookimpl
    def register_routes(self):
        return [probe_write]


class Counts:
    """SQL statements run through the engine, transactions opened, and store commands: Redis
    commands on Redis (a script call is one), the store's get/set/delete on the file store."""

    def __init__(self, monkeypatch, platform) -> None:
        app_call = XueshiApp.__call__

        async def in_request(app, scope, receive, send):
            token = IN_REQUEST.set(True)
            try:
                await app_call(app, scope, receive, send)
            finally:
                IN_REQUEST.reset(token)

        monkeypatch.setattr(XueshiApp, "__call__", in_request)
        self.sql: list[str] = []
        self.transactions = 0
        self.store: list[str] = []
        db = engine()
        run, transaction = db.run_querystring, db.transaction

        async def counted_run(querystring, *args, **kwargs):
            if IN_REQUEST.get():
                self.sql.append(str(querystring)[:60])
            return await run(querystring, *args, **kwargs)

        def counted_transaction(*args, **kwargs):
            self.transactions += IN_REQUEST.get()
            return transaction(*args, **kwargs)

        monkeypatch.setattr(db, "run_querystring", counted_run)
        monkeypatch.setattr(db, "transaction", counted_transaction)
        redis = getattr(platform.store, "_redis", None)
        if redis is not None:
            command = redis.execute_command

            async def counted_command(*args, **kwargs):
                if IN_REQUEST.get():
                    self.store.append(str(args[0]))
                return await command(*args, **kwargs)

            monkeypatch.setattr(redis, "execute_command", counted_command)
        else:
            store_class = type(platform.store)  # (slotted: its methods are replaced on the class)
            for name in ("get", "set", "delete"):
                method = getattr(store_class, name)

                def counted(store, *args, _method=method, _name=name, **kwargs):
                    if store is platform.store and IN_REQUEST.get():
                        self.store.append(_name)
                    return _method(store, *args, **kwargs)

                monkeypatch.setattr(store_class, name, counted)

    def reset(self) -> None:
        self.sql.clear()
        self.store.clear()
        self.transactions = 0


@pytest.fixture(params=STORES)
async def path_app(request, xs_settings):
    settings = xs_settings
    if request.param == "redis":
        settings = dataclasses.replace(xs_settings, redis_url=REDIS_URL)
    platform = await deployed_platform(settings, [ProbePlugin()])
    if request.param == "redis":
        probe = Redis.from_url(REDIS_URL)  # (the app's own client belongs to the app's event loop)
        try:
            await probe.ping()
            # Loaded now: a test run before may have flushed Redis's scripts (the live-study tests
            # do), and the counts below are of the ordinary request, not of a script's first use.
            await probe.script_load(LOAD_SCRIPT)
        except Exception as exc:  # noqa: BLE001 - any connection problem means "no Redis here"
            if in_ci():
                pytest.fail(f"Redis at {REDIS_URL} is unreachable in CI: {exc}")
            pytest.skip(f"Redis at {REDIS_URL} is unreachable: {exc}")
        finally:
            await probe.aclose()
    app = create_app(platform=platform)
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as http:
        yield request.param, XsClient(http), platform


async def _signed_in(client: XsClient, make_account):
    account, password = await make_account("survey")
    r = await client.signin("survey", "mobile", password, mobile=account.mobile)
    assert r.status_code == 303
    return account


async def test_a_signed_in_page_view_and_post_make_a_fixed_number_of_queries(path_app, make_account, monkeypatch):
    kind, client, platform = path_app
    account = await _signed_in(client, make_account)
    counts = Counts(monkeypatch, platform)
    # Redis: one script call. File store: the session (renewed: rewritten), its epoch, its stamp.
    session_read = ["EVALSHA"] if kind == "redis" else ["get", "set", "get", "get"]

    # The first request after sign-in (which wrote the account's last sign-in) loads the row.
    r = await client.get("/t/survey/me")
    assert r.status_code == 200 and account.real_name in r.text
    assert len(counts.sql) == 1 and counts.sql[0].startswith('SELECT "account"')
    assert counts.store == session_read

    counts.reset()
    r = await client.get("/t/survey/me")
    assert r.status_code == 200 and account.real_name in r.text
    assert counts.sql == [] and counts.transactions == 0
    assert counts.store == session_read

    counts.reset()
    r = await client.hx_post("/t/survey/path-probe/write")
    assert r.status_code == 201, r.text
    assert len(counts.sql) == 1 and counts.sql[0].startswith('INSERT INTO "audit_entry"')
    assert counts.transactions == 0
    assert counts.store == session_read


@pytest.mark.parametrize("path_app", ["file"], indirect=True)
async def test_a_disabled_or_demoted_account_is_refused_on_its_next_request(path_app, make_account):
    """The account is changed by a plain update that ends no session: only the stamp tells the
    process that keeps the row. (File store: this test's writes run on its own event loop.)"""
    _, client, platform = path_app
    account = await _signed_in(client, make_account)
    for _ in range(2):  # the row is now kept by this process
        assert (await client.get("/t/survey/me")).status_code == 200
    tenant = platform.tenants.get("survey")
    await scoped(Account, tenant).update({Account.active: False}).where(Account.id == account.id)
    r = await client.get("/t/survey/me")
    assert r.status_code == 303 and r.headers["location"].startswith("/t/survey/signin")
    r = await client.hx_post("/t/survey/path-probe/write")  # htmx: sent to the sign-in page, nothing written
    assert r.status_code == 200 and r.headers["hx-redirect"].startswith("/t/survey/signin")
    assert await platform.store.get(f"account-stamp:{account.id}") is not None

    # Another learner, kept by the process, demoted to reviewer: the learner's page is gone at once.
    learner = await _signed_in(client, make_account)
    assert (await client.hx_post("/t/survey/path-probe/write")).status_code == 201
    assert (await client.hx_post("/t/survey/path-probe/write")).status_code == 201
    await scoped(Account, tenant).update({Account.role: "reviewer"}).where(Account.id == learner.id)
    assert (await client.hx_post("/t/survey/path-probe/write")).status_code == 404


@pytest.mark.parametrize("path_app", ["file"], indirect=True)
async def test_a_change_in_a_transaction_is_reported_once_it_is_committed(path_app, make_account):
    _, client, platform = path_app
    account = await _signed_in(client, make_account)
    assert (await client.get("/t/survey/me")).status_code == 200
    before = await platform.store.get(f"account-stamp:{account.id}")
    async with write_transaction(Account):
        await scoped(Account, platform.tenants.get("survey")).update(
            {Account.real_name: "改名学员"}).where(Account.id == account.id)
        # Not yet: another connection still sees the old row, and would keep it under a new stamp.
        assert await platform.store.get(f"account-stamp:{account.id}") == before
    assert await platform.store.get(f"account-stamp:{account.id}") not in (None, before)
    r = await client.get("/t/survey/me")
    assert r.status_code == 200 and "改名学员" in r.text


async def test_another_process_refuses_the_account_it_keeps_once_the_stamp_moves(path_app, make_account):
    """The change is made by another process (here: a second platform on the same store, whose
    sessions alone hear of it); this app's copy of the row is dropped by the stamp alone."""
    kind, client, platform = path_app
    account = await _signed_in(client, make_account)
    assert (await client.get("/t/survey/me")).status_code == 200
    assert account.id in platform.sessions._accounts
    other = build_platform(dataclasses.replace(platform.settings))
    assert other.store is not platform.store
    # The row changes without this process's sessions being told (as in another process).
    await Account.raw("UPDATE account SET active = false WHERE id = {}", account.id)
    assert (await client.get("/t/survey/me")).status_code == 200  # not told: the kept row is used
    await other.sessions.accounts_changed([account.id])
    r = await client.get("/t/survey/me")
    assert r.status_code == 303 and r.headers["location"].startswith("/t/survey/signin")


@pytest.mark.parametrize("path_app", ["file"], indirect=True)
async def test_each_request_gets_its_own_copy_of_the_kept_account(path_app, make_account):
    _, client, platform = path_app
    await _signed_in(client, make_account)
    assert (await client.get("/t/survey/me")).status_code == 200
    session = await platform.sessions.load(client.cookies.get("xs_survey"), "survey")
    tenant = platform.tenants.get("survey")
    first = await platform.sessions.account(session, tenant)
    first.role = "tenant_admin"  # a handler setting an attribute of its account
    second = await platform.sessions.account(session, tenant)
    assert second is not first and second.role == "learner"


async def test_an_exam_autosave_makes_three_statements_in_one_transaction(path_app, make_account, monkeypatch):
    """The attempt read with its row lock and the question asked for (one statement), the choice
    written, the answered questions counted; no read of the attempt before its lock."""
    kind, client, platform = path_app
    learner = await exam_learner(client, platform, make_account)
    attempt_id = await start(client, learner["enrollment"].id)
    (first, question), (second, _) = (await paper(attempt_id))[:2]
    assert (await save(client, attempt_id, second.seq, ["A"])).status_code == 200  # the account is now kept
    counts = Counts(monkeypatch, platform)
    r = await save(client, attempt_id, first.seq, shown(first, question.answer[0]))
    assert r.status_code == 200 and 'data-answered="2"' in r.text, r.text
    assert [sql.split(" ", 1)[0] for sql in counts.sql] == ["SELECT", "UPDATE", "SELECT"], counts.sql
    assert counts.sql[0].startswith('SELECT t."status"') and counts.transactions == 1
    assert counts.store == (["EVALSHA"] if kind == "redis" else ["get", "set", "get", "get"])


@pytest.mark.parametrize("path_app", ["file"], indirect=True)
async def test_the_autosave_finds_the_answers_of_its_attempt_through_an_index(path_app):
    """Not by reading every answer of every attempt: the plan of its statements on this database
    (PostgreSQL with sequential scans priced out, so an index is used wherever there is one)."""
    sql = {"lock": LOCK_WITH_QUESTION, "count": COUNT_ANSWERED}
    values = {"lock": (1, 1, 1), "count": (1,)}
    for name, statement in sql.items():
        text = statement.replace("{tenant}", "1").format(*values[name])
        if is_postgres():
            async with write_transaction(Account):
                await engine().run_ddl("SET LOCAL enable_seqscan = off")
                plan = " ".join(r["QUERY PLAN"] for r in await engine().run_ddl(f"EXPLAIN {text}"))
            assert "Seq Scan on exam_answer" not in plan, (name, plan)
        else:
            plan = " ".join(r["detail"] for r in await engine().run_ddl(f"EXPLAIN QUERY PLAN {text}"))
            assert "SCAN" not in plan.split(), (name, plan)  # every table searched by a key


async def test_the_operators_pages_keep_the_account_per_process_and_refuse_a_disabled_one(path_app, monkeypatch):
    """The platform operator's account (of no tenant) is kept like a tenant account: no account
    query on the next page view, and refused on the request after it is disabled."""
    _, client, platform = path_app
    await upsert_account(None, role="operator", password="Operator-2026x", username="path-operator", real_name="运营")
    r = await client.post("/platform/signin", {"username": "path-operator", "password": "Operator-2026x"})
    assert r.status_code == 303
    assert (await client.get("/platform/jobs")).status_code == 200
    counts = Counts(monkeypatch, platform)
    assert (await client.get("/platform/jobs")).status_code == 200
    assert counts.sql and not [s for s in counts.sql if '"account".' in s], counts.sql
    await Account.update({Account.active: False}).where(Account.username == "path-operator")
    r = await client.get("/platform/jobs", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/platform/signin"


async def test_a_started_platform_stops_the_collector_walking_what_it_started_with(platform):
    """Full collections walk only what was made after the start (``core.kernel.settle_heap``)."""
    assert platform.started and gc.get_freeze_count() > 0
