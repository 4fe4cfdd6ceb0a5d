"""The local S3 server the storage tests run against (moto's server mode, started by ``.ci/run``
on XUESHI_TEST_S3_ENDPOINT, default http://127.0.0.1:9000): settings for a fresh bucket on it.
Without the server a test skips, saying why; under CI (CI=true) it fails instead."""

from __future__ import annotations

import dataclasses
import os
import secrets
import socket
from urllib.parse import urlsplit

import httpx
import pytest

from core.settings import Settings

ENDPOINT = os.environ.get("XUESHI_TEST_S3_ENDPOINT", "http://127.0.0.1:9000")


def _reachable() -> bool:
    url = urlsplit(ENDPOINT)
    try:
        socket.create_connection((url.hostname, url.port or 80), timeout=1).close()
    except OSError:
        return False
    return True


def require_s3() -> None:
    if _reachable():
        return
    reason = f"no S3 server at {ENDPOINT} (.ci/run starts moto_server there; or set XUESHI_TEST_S3_ENDPOINT)"
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


def new_bucket() -> str:
    """A fresh, empty bucket (moto keeps buckets in memory; every test gets its own)."""
    require_s3()
    name = f"xs-{secrets.token_hex(6)}"
    httpx.put(f"{ENDPOINT}/{name}").raise_for_status()
    return name


def s3_settings(settings: Settings, bucket: str, prefix: str = "files") -> Settings:
    return dataclasses.replace(settings, storage_url=f"s3://{bucket}/{prefix}", storage_endpoint=ENDPOINT,
                               storage_access_key="test", storage_secret_key="test")
