"""Piccolo's configuration module (``PICCOLO_CONF=core.piccolo_conf``)."""

import os

from piccolo.conf.apps import AppRegistry

from core.db import engine_from_url

DB_URL = os.environ.get("DATABASE_URL", "sqlite:///var/xueshi.sqlite3")
DB = engine_from_url(DB_URL)

APP_REGISTRY = AppRegistry(apps=["core.piccolo_app"])
