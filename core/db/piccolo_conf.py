"""Piccolo's configuration module: ``core.db.configure()`` registers it as ``piccolo_conf``
(Piccolo's default name) and replaces ``DB`` and ``APP_REGISTRY`` at run time: the engine from the
settings' ``DATABASE_URL``, the apps from the core plus every plugin's ``db_apps()``. Piccolo's own
command line finds it with ``PICCOLO_CONF=core.db.piccolo_conf`` (then ``DATABASE_URL`` is read
here).
"""

import os

from piccolo.conf.apps import AppRegistry

from core.db.engine import engine_from_url

DB_URL = os.environ.get("DATABASE_URL", "sqlite:///var/xueshi.sqlite3")
DB = engine_from_url(DB_URL)

APP_MODULES = ["core.piccolo_app"]
APP_REGISTRY = AppRegistry(apps=APP_MODULES)
