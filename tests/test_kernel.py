"""The kernel: one platform for every entry point; serving never migrates; the pool; routes of
tenants that use the same paths; plugins' Piccolo apps."""

from __future__ import annotations

import asyncio
import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest
from litestar import Request, Response, get
from litestar.testing import AsyncTestClient

from core import TenantSpec, hookimpl
from core.app import create_app
from core.kernel import NotDeployed, build_platform
from core.settings import Settings
from core.testing.pytest_plugin import deployed_platform

REPO = Path(__file__).resolve().parents[1]


async def test_the_app_never_migrates_and_says_what_to_run(tmp_path, xs_settings):
    import sqlite3

    from core import db

    settings = Settings(database_url=f"sqlite:///{tmp_path / 'fresh.sqlite3'}", secret_key="k", var_dir=tmp_path)
    try:
        app = create_app(settings)
        with pytest.raises(BaseException) as info:  # the test client wraps it in an exception group
            async with AsyncTestClient(app=app):
                pass
        assert "run `xueshi migrate`" in repr(info.value) or "xueshi migrate" in str(
            getattr(info.value, "exceptions", [info.value])[0])
        with pytest.raises(NotDeployed, match="xueshi migrate"):
            await app.state.platform.start()
        # Nothing was created: the deploy step alone changes the schema.
        tables = sqlite3.connect(tmp_path / "fresh.sqlite3").execute(
            "select name from sqlite_master where type='table'").fetchall()
        assert tables == []
    finally:
        db.configure(xs_settings.database_url)


async def test_a_tenant_missing_from_the_database_stops_startup(xs_settings, xs_app, client):
    class Unsynced:
        @hookimpl
        def tenant_declare(self):
            return TenantSpec(slug="unsynced", name="未同步机构", name_en="Unsynced")

    platform = build_platform(xs_settings, [Unsynced()])
    with pytest.raises(NotDeployed, match="unsynced.*xueshi tenants sync"):
        await platform.start()


def test_importing_the_kernel_and_building_a_platform_loads_no_face_library(tmp_path):
    code = (
        "import sys; from pathlib import Path; from core.kernel import build_platform; "
        "from core.settings import Settings; "
        f"build_platform(Settings(database_url='sqlite:///{tmp_path}/x.db', secret_key='k', var_dir=Path('{tmp_path}'))); "
        "heavy = sorted(m for m in ('cv2', 'mediapipe', 'dlib', 'face_recognition') if m in sys.modules); "
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "", f"loaded at build time: {out.stdout.strip()}"


@get("/courses")
async def survey_courses(request: Request) -> Response:
    return Response("A 的课程", media_type="text/plain")


@get("/courses")
async def other_courses(request: Request) -> Response:
    return Response("B 的课程", media_type="text/plain")


class SamePathA:
    @hookimpl
    def tenant_declare(self):
        return TenantSpec(slug="samea", name="甲机构", name_en="A", hosts=("a.example.test",))

    @hookimpl
    def register_routes(self):
        return [survey_courses]


class SamePathB:
    @hookimpl
    def tenant_declare(self):
        return TenantSpec(slug="sameb", name="乙机构", name_en="B", hosts=("b.example.test",))

    @hookimpl
    def register_routes(self):
        return [other_courses]


async def test_two_tenants_may_register_the_same_path(xs_settings):
    app = create_app(platform=await deployed_platform(xs_settings, [SamePathA(), SamePathB()]))
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as http:
        assert (await http.get("/t/samea/courses")).text == "A 的课程"
        assert (await http.get("/t/sameb/courses")).text == "B 的课程"
        assert (await http.get("/courses", headers={"host": "a.example.test"})).text == "A 的课程"
        assert (await http.get("/courses", headers={"host": "b.example.test"})).text == "B 的课程"
        # Never under a third tenant, nor under a prefix its host name disagrees with.
        assert (await http.get("/t/survey/courses")).status_code == 404
        assert (await http.get("/t/sameb/courses", headers={"host": "a.example.test"})).status_code == 404


async def test_host_and_prefix_that_disagree_are_not_found(client):
    assert (await client.get("/t/survey/signin")).status_code == 200
    assert (await client.get("/t/survey/signin", headers={"host": "survey.localhost"})).status_code == 200
    assert (await client.get("/t/survey/signin", headers={"host": "construction.localhost"})).status_code == 404
    assert (await client.get("/t/nowhere/signin")).status_code == 404


async def test_the_core_dependencies_resolve_one_after_another(client, make_account, monkeypatch):
    """platform, tenant, account and hooks are resolved in a chain: Litestar resolves two at the
    same depth in an anyio task group, ~80 µs a request (core.web.dependencies)."""
    import litestar._kwargs.kwargs_model as kwargs_model

    learner, password = await make_account("construction", role="learner")
    assert (await client.signin("construction", "id", password, id_number=learner.id_number)).status_code == 303

    def no_task_group():
        raise AssertionError("dependencies resolved in a task group")

    monkeypatch.setattr(kwargs_model, "create_task_group", no_task_group)
    assert (await client.get("/t/survey/signin")).status_code == 200  # platform, tenant
    assert (await client.get("/t/construction/study")).status_code == 200  # hooks, tenant, account


class PluginApp:
    @hookimpl
    def db_apps(self):
        return ["fixtures.plugin_app.piccolo_app"]


def test_db_apps_are_registered_with_piccolo_and_bound_to_the_engine(xs_settings):
    from piccolo.conf.apps import Finder

    build_platform(xs_settings, [PluginApp()])
    registry = Finder().get_app_registry()
    assert "plugin_fixture" in registry.app_configs
    [table] = [t for t in Finder().get_table_classes() if t.__name__ == "PluginNote"]
    from core import db

    assert table._meta.db is db.engine()
    build_platform(xs_settings)  # a platform without the plugin: its app is gone again
    assert "plugin_fixture" not in Finder().get_app_registry().app_configs


@pytest.fixture
def pg_url(xs_database_url):
    if not xs_database_url.startswith("postgres"):
        pytest.skip("the connection pool is PostgreSQL's (set XUESHI_TEST_DATABASE_URL)")
    return xs_database_url


async def _connections(url: str) -> int:
    import asyncpg

    name = url.rsplit("/", 1)[1]
    conn = await asyncpg.connect(url.rsplit("/", 1)[0] + "/postgres")
    try:
        return await conn.fetchval("select count(*) from pg_stat_activity where datname = $1", name)
    finally:
        await conn.close()


async def test_the_pool_is_opened_at_start_bounded_and_closed_at_stop(pg_url, xs_settings):
    # No ``client``: its app's cron jobs run on the test client's own event loop, and an asyncpg
    # pool belongs to the loop that opened it (a serving process has one loop; a test has two).
    from core import db
    from core.accounts.tables import Account

    settings = dataclasses.replace(xs_settings, db_pool_size=3)
    platform = await deployed_platform(settings)
    before = await _connections(pg_url)  # this session's other connections (other loops' idle ones)
    await platform.start()
    try:
        assert db.engine().pool is not None and db.engine().pool.get_max_size() == 3
        peak = 0

        async def query() -> None:
            nonlocal peak
            await Account.count()
            peak = max(peak, db.engine().pool.get_size())

        await asyncio.gather(*(query() for _ in range(60)))
        assert 1 <= peak <= 3
        assert await _connections(pg_url) <= before + 3  # the pool's, and no other new connection
    finally:
        await platform.stop()
    assert db.engine().pool is None


async def test_a_transaction_whose_connection_died_gives_it_back_and_the_pool_closes(pg_url, xs_settings):
    """The server ends a transaction's connection before COMMIT (a restart, a job cancelled at
    stop): the commit fails, and the connection still goes back to the pool. Piccolo's own
    transaction kept it checked out, so a pool of one waited forever for its next statement,
    and for its close at stop."""
    import asyncpg

    from core import db
    from core.accounts.tables import Account

    platform = await deployed_platform(dataclasses.replace(xs_settings, db_pool_size=1))
    await platform.start(jobs=False)
    try:
        with pytest.raises((asyncpg.PostgresError, asyncpg.InterfaceError, OSError)):
            async with db.engine().transaction() as transaction:
                pid = await transaction.connection.fetchval("select pg_backend_pid()")
                killer = await asyncpg.connect(pg_url)
                await killer.execute("select pg_terminate_backend($1, 30000)", pid)  # returns once it is gone
                await killer.close()
        # wait_for only turns a hang into a failure: the pool's one connection is free again
        assert await asyncio.wait_for(Account.count(), 30) >= 0
    finally:
        await asyncio.wait_for(platform.stop(), 60)
    assert db.engine().pool is None


async def test_a_connection_never_given_back_does_not_hold_up_the_stop(pg_url, xs_settings, monkeypatch):
    from core import db

    monkeypatch.setattr(db, "POOL_CLOSE_SECONDS", 0.5)  # the bound's length is not what is tested
    platform = await deployed_platform(dataclasses.replace(xs_settings, db_pool_size=2))
    await platform.start(jobs=False)
    held = await db.engine().pool.acquire()  # never released, as a leaked connection is not
    await asyncio.wait_for(platform.stop(), 60)
    assert db.engine().pool is None


async def test_a_one_off_command_starts_no_cron_jobs(xs_settings):
    """``xueshi create-admin`` and ``purge`` start the platform without jobs: the serving
    processes and workers run the cron schedule, not every command."""
    settings = dataclasses.replace(xs_settings, redis_url=None)
    command, server = await deployed_platform(settings), await deployed_platform(settings)
    await command.start(jobs=False)
    await server.start()
    try:
        assert not command.jobs_running and server.jobs_running
        assert not command.jobs._crons and server.jobs._crons  # the server's schedule, the command's none
    finally:
        await command.stop()
        await server.stop()


async def test_a_sqlite_writer_waits_past_five_seconds_for_the_write_lock(tmp_path):
    """Simultaneous writers queue for SQLite's one write lock; sqlite3's default 5 s wait ran out
    under load ("database is locked"). Another connection holds the lock for 6 s here."""
    import sqlite3

    from core.db.engine import engine_from_url

    path = tmp_path / "locks.sqlite3"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE t (n INTEGER)")
    holder.execute("BEGIN IMMEDIATE")
    holder.execute("INSERT INTO t VALUES (1)")
    db = engine_from_url(f"sqlite:///{path}")

    async def release_later():
        await asyncio.sleep(6)
        holder.execute("COMMIT")

    release = asyncio.create_task(release_later())
    await db.run_ddl("INSERT INTO t VALUES (2)")
    await release
    assert [r[0] for r in holder.execute("SELECT n FROM t ORDER BY n")] == [1, 2]
    holder.close()


async def test_sqlite_statements_reuse_idle_connections_and_never_share_one(tmp_path):
    """Piccolo opens a connection (and its thread) per statement on SQLite; the engine keeps a
    few open. Sequential statements use one; simultaneous ones each have their own, and at most
    ``idle_max`` stay open; a failed statement's connection is not kept."""
    from core.db.engine import engine_from_url

    db = engine_from_url(f"sqlite:///{tmp_path / 'idle.sqlite3'}")
    await db.run_ddl("CREATE TABLE t (n INTEGER)")
    first = db._idle[-1]
    for i in range(20):
        await db.run_ddl(f"INSERT INTO t VALUES ({i})")
    assert list(db._idle) == [first]

    used = []
    original = type(db)._open

    async def counted(self):
        connection = await original(self)
        used.append(connection)
        return connection

    type(db)._open = counted
    try:
        rows = await asyncio.gather(*(db.run_ddl("SELECT count(*) AS c FROM t") for _ in range(30)))
    finally:
        type(db)._open = original
    assert {r[0]["c"] for r in rows} == {20}
    assert len(used) >= 2 and len(db._idle) == db.idle_max  # more opened than kept
    before = list(db._idle)
    with pytest.raises(Exception, match="no such table"):
        await db.run_ddl("SELECT * FROM missing")
    assert len(db._idle) == len(before) - 1  # the failing statement's connection was closed
    # A transaction is Piccolo's own connection: its writes are not seen until it commits.
    async with db.transaction():
        await db.run_ddl("INSERT INTO t VALUES (99)")
        other = db._idle[-1]
        async with other.execute("SELECT count(*) AS c FROM t") as cursor:
            assert (await cursor.fetchall())[0]["c"] == 20
    assert (await db.run_ddl("SELECT count(*) AS c FROM t"))[0]["c"] == 21
    await db.close_idle()
    assert not db._idle


def test_a_process_with_idle_sqlite_connections_exits(tmp_path):
    """Idle connections' threads never keep the interpreter alive (aiosqlite's are not daemons)."""
    code = ("import asyncio; from core.db.engine import engine_from_url\n"
            f"db = engine_from_url('sqlite:///{tmp_path / 'exit.sqlite3'}')\n"
            "asyncio.run(db.run_ddl('SELECT 1'))\n"
            "assert len(db._idle) == 1\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, timeout=60, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


async def test_a_sqlite_transaction_that_reads_then_writes_waits_for_another_writer(tmp_path):
    """Transactions begin IMMEDIATE: a deferred one that has read fails at once ("database is
    locked", no waiting) when it then writes while another connection holds the write lock."""
    import sqlite3

    from core.db.engine import engine_from_url

    path = tmp_path / "tx.sqlite3"
    db = engine_from_url(f"sqlite:///{path}")
    await db.run_ddl("CREATE TABLE t (n INTEGER)")
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)

    async def hold_then_release():
        holder.execute("BEGIN IMMEDIATE")
        holder.execute("INSERT INTO t VALUES (1)")
        await asyncio.sleep(0.5)
        holder.execute("COMMIT")

    async def read_then_write():
        await asyncio.sleep(0.1)  # the holder has the write lock by now
        async with db.transaction():
            seen = (await db.run_ddl("SELECT count(*) AS c FROM t"))[0]["c"]
            await db.run_ddl(f"INSERT INTO t VALUES ({10 + seen})")

    await asyncio.gather(hold_then_release(), read_then_write())
    assert [r[0] for r in holder.execute("SELECT n FROM t ORDER BY n")] == [1, 11]
    holder.close()
    await db.close_idle()


async def test_the_sqlite_database_is_in_wal_mode_so_a_reader_never_waits_for_the_writer(tmp_path):
    import sqlite3

    from core.db.engine import engine_from_url

    path = tmp_path / "wal.sqlite3"
    db = engine_from_url(f"sqlite:///{path}")
    await db.run_ddl("CREATE TABLE t (n INTEGER)")
    await db.run_ddl("INSERT INTO t VALUES (1)")
    writer = sqlite3.connect(path, isolation_level=None, timeout=0)
    assert writer.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("INSERT INTO t VALUES (2)")
    writer.execute("UPDATE t SET n = n + 100")
    # Mid-write, a reader sees the last commit at once (a rollback journal's reader would wait
    # for the writer's commit once it spills to the file).
    assert (await db.run_ddl("SELECT sum(n) AS s FROM t"))[0]["s"] == 1
    writer.execute("COMMIT")
    assert (await db.run_ddl("SELECT sum(n) AS s FROM t"))[0]["s"] == 203
    writer.close()
    await db.close_idle()


async def test_a_released_connection_is_rolled_back_but_not_reset_query_by_query(pg_url, xs_settings):
    """The pool skips asyncpg's RESET ALL round trip on every release (core.db._keep_session):
    a session setting survives a release; an open transaction is still rolled back."""
    from core import db

    platform = await deployed_platform(dataclasses.replace(xs_settings, db_pool_size=1))
    await platform.start()
    try:
        pool = db.engine().pool
        async with pool.acquire() as conn:
            await conn.execute("SET application_name = 'xs-kept'")
            await conn.execute("BEGIN; CREATE TEMP TABLE xs_left_open (x int)")
            assert conn.is_in_transaction()
        async with pool.acquire() as conn:  # the pool's only connection, released above
            assert await conn.fetchval("SELECT current_setting('application_name')") == "xs-kept"
            assert not conn.is_in_transaction()
            assert await conn.fetchval("SELECT to_regclass('xs_left_open')") is None
            await conn.execute("RESET application_name")
    finally:
        await platform.stop()


async def test_the_engine_keeps_no_connection_of_its_own_construction(pg_url):
    """Piccolo's constructor asks for the server's version on an event loop of its own: that
    connection is closed with it (a serving process kept it open beside its pool, for good)."""
    import asyncpg

    from core.db.engine import engine_from_url

    probe = await asyncpg.connect(pg_url)
    sql = "select pid from pg_stat_activity where datname = current_database() and backend_type = 'client backend'"
    try:
        before = {r["pid"] for r in await probe.fetch(sql)}
        engine = await asyncio.to_thread(engine_from_url, pg_url)
        assert {r["pid"] for r in await probe.fetch(sql)} - before == set()
        assert not any(engine._idle.values())
    finally:
        await probe.close()


async def test_statements_without_a_pool_reuse_a_connection_of_their_loop(pg_url, xs_settings):
    """Without a pool (the CLI, the tests) statements share a few idle connections instead of
    connecting for each; one the server ended while idle is not reused; each loop has its own."""
    import asyncpg

    from core import db

    await deployed_platform(xs_settings)
    engine = db.engine()
    assert engine.pool is None
    pids = {(await engine._run_in_new_connection("select pg_backend_pid() as pid"))[0]["pid"] for _ in range(20)}
    assert len(pids) == 1
    (pid,) = pids
    probe = await asyncpg.connect(pg_url)
    try:
        assert await probe.fetchval("select pg_terminate_backend($1)", pid)
    finally:
        await probe.close()
    for _ in range(50):  # the client learns of the closed socket on its next turn of the loop
        await asyncio.sleep(0.01)
    again = (await engine._run_in_new_connection("select pg_backend_pid() as pid"))[0]["pid"]
    assert again != pid

    def other_loop() -> int:
        return asyncio.run(engine._run_in_new_connection("select pg_backend_pid() as pid"))[0]["pid"]

    assert await asyncio.to_thread(other_loop) != again  # an asyncpg connection belongs to its loop
    await db.stop_pool()  # a stopping process closes its idle connections
    assert not engine._idle.get(asyncio.get_running_loop())
