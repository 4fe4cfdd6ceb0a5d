"""``db.configure`` selects the engine without touching the environment: Piccolo's migrations and
every table use the settings' database, and a child process inherits no DATABASE_URL or
PICCOLO_CONF from it."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from core import db

REPO = Path(__file__).resolve().parents[1]

CHILD = """
import asyncio, os, subprocess, sys
from piccolo.apps.migrations.tables import Migration
from piccolo.engine import engine_finder
from core import db
from core.accounts.tables import Account
from core.kernel import build_platform
from core.settings import Settings

settings = Settings(database_url=sys.argv[1], secret_key="k", var_dir=__import__("pathlib").Path(sys.argv[2]))
build_platform(settings)  # configures the database with every plugin's Piccolo apps
asyncio.run(db.migrate())
assert engine_finder() is db.engine(), "Piccolo's finder (used by migrations) sees another engine"
assert Account._meta.db is db.engine() and Migration._meta.db is db.engine()
ran = asyncio.run(Migration.count().run())
child = subprocess.run([sys.executable, "-c", "import os; print(os.environ.get('DATABASE_URL'), os.environ.get('PICCOLO_CONF'))"],
                       capture_output=True, text=True, check=True).stdout.split()
print(ran, os.environ.get("DATABASE_URL"), os.environ.get("PICCOLO_CONF"), *child)
"""


def test_configure_and_migrate_leave_the_environment_alone(tmp_path):
    url = f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "PICCOLO_CONF")}
    done = subprocess.run([sys.executable, "-c", CHILD, url, str(tmp_path)], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    ran, *environment = done.stdout.split()
    assert int(ran) > 10  # the core's and the plugins' migrations ran, on the file named by the settings
    assert environment == ["None"] * 4  # neither this process's environment nor a child's has either
    tables = {row[0] for row in sqlite3.connect(tmp_path / "fresh.sqlite3").execute(
        "select name from sqlite_master where type='table'")}
    assert {"tenant", "account", "migration"} <= tables


def test_a_foreign_piccolo_conf_in_the_environment_is_refused(monkeypatch, xs_database_url):
    apps = list(db.conf.APP_MODULES)
    monkeypatch.setenv("PICCOLO_CONF", "somewhere_else.piccolo_conf")
    with pytest.raises(RuntimeError, match="PICCOLO_CONF=somewhere_else.piccolo_conf"):
        db.configure(xs_database_url, apps)
    monkeypatch.setenv("PICCOLO_CONF", db.PICCOLO_CONF)  # Piccolo's own command line names ours: fine
    assert db.configure(xs_database_url, apps) is db.engine()
