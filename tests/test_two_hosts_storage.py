"""Two hosts and a worker, each with its own local var folder, sharing one bucket (on the local S3
server, tests/s3_server.py) and one database: what is uploaded through one host is served by the
other, and the worker's job reads it. Nothing reaches another machine's folder. (Each host signs
the browser in on its own: sessions are shared through Redis, tests/test_two_instances.py.)"""

from __future__ import annotations

import dataclasses
import datetime as dt
import secrets

import httpx
import pytest
from litestar.testing import AsyncTestClient

from core.app import create_app
from core.accounts.tables import Enterprise
from core.courses.tables import Enrollment
from core.db.scoped import scoped
from core.files.tables import StoredFile
from core.roster.imports import run_roster_import
from core.roster.spreadsheets import write_csv
from core.roster.tables import ImportJob, RosterEntry
from core.testing.client import XsClient
from core.testing.ids import fake_id_number
from core.testing.pytest_plugin import deployed_platform
from s3_server import new_bucket, s3_settings
from test_study import T, _course, jpeg, lesson_video  # noqa: F401  (a fixture)

@pytest.fixture
async def hosts(xs_settings, tmp_path):
    bucket = new_bucket()
    settings = {name: s3_settings(dataclasses.replace(xs_settings, var_dir=tmp_path / name), bucket)
                for name in ("a", "b", "worker")}
    apps = [create_app(platform=await deployed_platform(settings[name])) for name in ("a", "b")]
    worker = await deployed_platform(settings["worker"])
    async with AsyncTestClient(app=apps[0], base_url="http://testserver.local") as a, \
            AsyncTestClient(app=apps[1], base_url="http://testserver.local") as b:
        yield XsClient(a), XsClient(b), apps[0].state.platform, worker, tmp_path


def _files_under(folder) -> list:
    return [p for p in folder.rglob("*") if p.is_file() and "files" in p.relative_to(folder).parts]


async def test_an_upload_through_one_host_is_served_by_the_other_and_read_by_the_worker(hosts, make_account,
                                                                                         lesson_video):
    a, b, host_a, worker, root = hosts
    t = host_a.tenants.get("construction")
    learner, password = await make_account("construction")
    for host in (a, b):
        assert (await host.signin("construction", "id", password, id_number=learner.id_number)).status_code == 303
    files = {"id_front": ("f.jpg", jpeg(), "image/jpeg"), "id_back": ("b.jpg", jpeg(), "image/jpeg"),
             "portrait": ("p.jpg", jpeg(color=(10, 200, 30)), "image/jpeg")}
    assert (await a.post(f"{T}/me/archive", {}, files=files)).status_code in (200, 303)
    from_a = await a.get(f"{T}/me/archive/image/portrait")
    from_b = await b.get(f"{T}/me/archive/image/portrait")
    # A portrait is sensitive: streamed through the app (no redirect to the bucket), same bytes.
    assert from_b.status_code == 200 and from_b.headers["content-type"] == "image/jpeg"
    assert from_b.content == from_a.content and len(from_b.content) > 100

    # A lesson video stored by host A plays on host B, from the bucket by a signed URL.
    course, lesson = await _course(host_a, t, lesson_video)
    await Enrollment(tenant=t.id, account=learner.id, course=course.id, created_at=dt.datetime.now(dt.UTC)).save()
    r = await b.get(f"{T}/study/lessons/{lesson.id}/media")
    assert r.status_code == 302
    async with httpx.AsyncClient() as http:
        part = await http.get(r.headers["location"], headers={"Range": "bytes=10-19"})
    mp4 = await host_a.storage.read(await StoredFile.objects().where(StoredFile.id == lesson.file).first())
    assert mp4[4:8] == b"ftyp"  # the transcoded MP4 host A's job stored, not the uploaded WebM
    assert part.status_code == 206 and part.content == mp4[10:20]

    # A roster file kept by host A: the worker's import job reads it from the bucket.
    survey = host_a.tenants.get("survey")
    firm = scoped(Enterprise, survey).new(name=f"两机企业{secrets.token_hex(3)}")
    await firm.save()
    number = fake_id_number()
    data = write_csv(["姓名", "身份证号", "手机号", "岗位"], [["两机一", number, "", "勘察员"]])
    stored = await host_a.storage.save(data, tenant_id=survey.id, kind="import", media_type="text/csv")
    job = scoped(ImportJob, survey).new(enterprise=firm.id, kind="roster", filename="名册.csv", file=stored.id,
                                        status="queued", total_rows=1)
    await job.save()
    counts = await run_roster_import({"platform": worker}, tenant="survey", import_id=job.id, skip_errors=False)
    assert counts.get("created") == 1, counts
    assert await RosterEntry.exists().where((RosterEntry.enterprise == firm.id) & (RosterEntry.id_number == number))

    assert _files_under(root) == []  # no host, nor the worker, wrote a file to its own folder
