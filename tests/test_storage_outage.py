"""The object store down while learners upload: the upload answers 503 系统繁忙 with Retry-After
(no cookie touched, nobody signed out) and records nothing; once the store answers again, the
same upload is stored and served. The store is a moto S3 server of the test's own, stopped and
started again. (moto keeps its objects in memory, so its restart is an empty bucket: that a real
store keeps its objects across a restart is the store's own promise, not tested here.)"""

from __future__ import annotations

import dataclasses
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from core.files.tables import StoredFile
from core.testing.browser import free_port, in_ci
from test_study import T, jpeg


class PrivateS3:
    def __init__(self) -> None:
        self.binary = shutil.which("moto_server", path=str(Path(sys.executable).parent))
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def start(self, bucket: str) -> None:
        self.proc = subprocess.Popen([self.binary, "-H", "127.0.0.1", "-p", str(self.port)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(400):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.1).close()
                break
            except OSError:
                time.sleep(0.05)
        else:
            raise RuntimeError("moto_server did not start")
        httpx.put(f"{self.endpoint}/{bucket}").raise_for_status()

    def stop(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(10)
        self.proc = None


BUCKET = "xs-outage"


@pytest.fixture
def private_s3():
    s3 = PrivateS3()
    if s3.binary is None:
        if in_ci():
            pytest.fail("moto_server is not installed (the dev dependencies have it)")
        pytest.skip("moto_server is not installed")
    s3.start(BUCKET)
    yield s3
    if s3.proc is not None:
        s3.stop()


@pytest.fixture
def xs_settings(xs_settings, private_s3):
    return dataclasses.replace(xs_settings, storage_url=f"s3://{BUCKET}/files", storage_endpoint=private_s3.endpoint,
                               storage_access_key="test", storage_secret_key="test")


async def test_an_upload_while_the_store_is_down_is_refused_as_busy_and_stored_once_it_is_back(
        client, make_account, private_s3):
    learner, password = await make_account("construction")
    assert (await client.signin("construction", "id", password, id_number=learner.id_number)).status_code == 303
    files = {"id_front": ("f.jpg", jpeg(), "image/jpeg"), "id_back": ("b.jpg", jpeg(), "image/jpeg"),
             "portrait": ("p.jpg", jpeg(color=(10, 200, 30)), "image/jpeg")}

    private_s3.stop()
    down = await client.post(f"{T}/me/archive", {}, files=files)
    assert down.status_code == 503 and down.headers["retry-after"]
    assert "系统繁忙" in down.text and "set-cookie" not in down.headers
    assert not await StoredFile.exists().where(StoredFile.owner == learner.id)  # nothing recorded

    private_s3.start(BUCKET)
    up = await client.post(f"{T}/me/archive", {}, files=files)  # the learner sends it again
    assert up.status_code in (200, 303)
    portrait = await client.get(f"{T}/me/archive/image/portrait")
    assert portrait.status_code == 200 and portrait.content[:3] == b"\xff\xd8\xff"
    assert await StoredFile.count().where(StoredFile.owner == learner.id) == 3
