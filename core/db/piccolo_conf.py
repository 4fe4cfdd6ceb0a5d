"""Piccolo's configuration module (``PICCOLO_CONF=core.db.piccolo_conf``).

``core.db.configure()`` replaces ``DB`` and ``APP_REGISTRY`` at run time: the engine from the
settings' ``DATABASE_URL``, the apps from the core plus every plugin's ``db_apps()``.
"""

import os

from piccolo.conf.apps import AppRegistry

from core.db.engine import engine_from_url

DB_URL = os.environ.get("DATABASE_URL", "sqlite:///var/xueshi.sqlite3")
DB = engine_from_url(DB_URL)

APP_MODULES = ["core.piccolo_app"]
APP_REGISTRY = AppRegistry(apps=APP_MODULES)
