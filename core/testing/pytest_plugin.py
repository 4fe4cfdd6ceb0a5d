"""pytest fixtures for xueshi and its plugins (loaded with ``-p core.testing.pytest_plugin``).

The database: ``XUESHI_TEST_DATABASE_URL`` (a PostgreSQL URL: a throw-away database is created
next to it and dropped afterwards), else a fresh SQLite file for the test session. Piccolo's
engine is process-global, so one database serves the whole session; tests create their own
uniquely numbered people instead of relying on an empty database.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import warnings
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import pytest
from litestar.testing import AsyncTestClient

warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)

from core import db
from core.accounts.passwords import use_cheap_parameters_for_tests
from core.accounts.services import upsert_account
from core.app import create_app
from core.kernel import build_platform
from core.settings import Settings
from core.tenants.services import sync_tenants
from core.testing.client import XsClient  # noqa: E402
from core.testing.ids import fake_id_number, fake_mobile  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[2]
# Browser fixtures (live_server, browser, page, new_page) for every test suite.
pytest_plugins = ["core.testing.browser"]


def pytest_configure(config) -> None:
    """Tests hash passwords with the cheapest Argon2id parameters (the shipped ones cost ~0.5 s
    and 64 MiB per hash; tests/test_passwords.py checks they stay the default)."""
    use_cheap_parameters_for_tests()


def shared_dir() -> Path:
    return Path(os.environ.get("XUESHI_SHARED_DIR") or REPO_ROOT.parent / "shared")


async def _pg_admin(url: str, sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def xs_database_url(tmp_path_factory) -> str:
    base = os.environ.get("XUESHI_TEST_DATABASE_URL", "")
    if not base.startswith("postgres"):
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"
        return
    name = f"xueshi_t_{secrets.token_hex(4)}"
    asyncio.run(_pg_admin(base, f'CREATE DATABASE "{name}"'))
    parsed = urlparse(base)
    yield urlunparse(parsed._replace(path=f"/{name}"))
    asyncio.run(_pg_admin(base, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def xs_engine(xs_database_url: str):
    return db.configure(xs_database_url)


@pytest.fixture(scope="session")
def xs_demo_var(tmp_path_factory) -> Path:
    """The one folder for the demo's files in a test session: the demo's rows are in the shared
    test database, so every app that creates or serves the demo (the live server, the crawl)
    keeps its files here."""
    return tmp_path_factory.mktemp("demo-var")


@pytest.fixture
def xs_settings(xs_engine, xs_database_url: str, tmp_path):
    return Settings(
        database_url=xs_database_url,
        secret_key="test-secret-key",
        var_dir=tmp_path / "var",
        load_entrypoints=True,
        signin_rate_per_minute=1000,
        # No pool: the CLI and live-server tests query from other event loops, and an asyncpg
        # pool belongs to one loop. tests/test_kernel.py covers the pool.
        db_pool_size=0,
    )


@pytest.fixture
def xs_plugins() -> list[object]:
    """Extra plugin objects for the app under test (override in a test module)."""
    return []


_migrated: set[str] = set()


async def deployed_platform(settings, plugins=()):
    """A platform on the test database after the deploy step: migrations once per database and
    test session, tenants synced for this platform's plugins (idempotent)."""
    platform = build_platform(settings, plugins)
    if settings.database_url not in _migrated:
        await db.migrate()
        _migrated.add(settings.database_url)
    await sync_tenants(platform.plugins, list(platform.tenants))
    return platform


_apps: dict[tuple, object] = {}


@pytest.fixture
async def xs_app(xs_settings, xs_plugins):
    """The app under test on a fresh platform (own var directory, store and plugin objects).

    Building the routes is most of an app's cost, and they depend only on which plugins are
    installed: apps are kept per plugin set (and the settings baked into the app), and each test
    gets its own platform in ``app.state.platform``, which every handler reads its state from."""
    platform = await deployed_platform(xs_settings, xs_plugins)
    key = (tuple(type(p) for p in xs_plugins), xs_settings.load_entrypoints, xs_settings.secret_key,
           xs_settings.cookie_secure, xs_settings.debug)
    app = _apps.get(key)
    if app is None:
        app = _apps[key] = create_app(platform=platform)
    app.state.platform = platform
    return app


@pytest.fixture
async def client(xs_app) -> AsyncIterator[XsClient]:
    async with AsyncTestClient(app=xs_app, base_url="http://testserver.local") as http:
        yield XsClient(http)


@pytest.fixture
def platform(xs_app, client):
    """The app's Platform object (after startup, so tenants have their ids)."""
    return xs_app.state.platform


@pytest.fixture
def tenant(platform):
    """``tenant("survey")`` → the running app's Tenant."""
    return lambda slug: platform.tenants.get(slug)


@pytest.fixture
def make_account(platform):
    """Create an account in a tenant: ``await make_account("construction", role="learner")``.
    Returns ``(account, password)``; ID number and mobile are unique and valid."""
    async def make(slug: str, role: str = "learner", password: str = "Passw0rd-1", **fields):
        fields.setdefault("id_number", fake_id_number())
        fields.setdefault("mobile", fake_mobile())
        fields.setdefault("real_name", "测试学员")
        account = await upsert_account(platform.tenants.get(slug), role=role, password=password, **fields)
        return account, password

    return make


__all__ = ["fake_id_number", "fake_mobile", "shared_dir", "XsClient"]
