"""Cheater's suite (issue 19, item 5): the portrait is tied to the person. The construction group
compares the portrait with the ID card's photo (its rules); a portrait (with an ID photo to match
it) replaced once study has started holds the learner's hours for review, and the reviewer's case
page shows the change with every portrait and ID photo the learner had. Real photos, the real dlib
matcher, the learner's own archive page."""

from __future__ import annotations

import datetime as dt

import pytest

from core.courses.tables import Enrollment
from core.proctoring.study_tables import FaceEncoding
from core.roster.tables import LearnerProfile
from core.study.tables import StudyEvent
from core.testing.face_media import faces_dir
from tests.test_snapshots import (  # noqa: F401  (fixtures)
    T,
    beat,
    clock,
    course,
    enrol,
    lesson_video,
    passed_check,
    recorder,
    signin,
    start,
    xs_plugins,
)


@pytest.fixture(autouse=True)
async def forget_portrait_encodings():
    """The test database is shared by the whole run, and a kept portrait encoding of a face makes
    a later snapshot of that face by another account a shared face: the encodings of the photos
    this module, tests/test_portrait_encodings.py and tests/test_proctoring.py keep (uploads and
    face checks, of faces other tests study as) are forgotten afterwards."""
    since = dt.datetime.now(dt.UTC)
    yield
    await FaceEncoding.delete().where(FaceEncoding.created_at >= since)


def photo(name: str) -> bytes:
    return (faces_dir() / name).read_bytes()


async def archive(client, **images: bytes):
    return await client.post(f"{T}/me/archive", {"face_consent": "1"},
                             files={k: (f"{k}.jpg", v, "image/jpeg") for k, v in images.items()})


async def test_construction_compares_the_portrait_with_the_id_card_photo(client, platform, make_account):
    tenant = platform.tenants.get("construction")
    assert tenant.rules.face.compare_portrait_with_id_card  # plugins/construction_group/rules.toml
    account, password = await make_account("construction")
    await signin(client, account, password)
    r = await archive(client, id_front=photo("obama/obama_2.jpg"), id_back=photo("obama/obama_2.jpg"),
                      portrait=photo("biden/biden_1.jpg"))
    assert r.status_code == 400 and "个人证件照与身份证照片不一致" in r.text
    assert not await LearnerProfile.exists().where((LearnerProfile.account == account.id)
                                                   & LearnerProfile.portrait.is_not_null())
    r = await archive(client, id_front=photo("obama/obama_2.jpg"), id_back=photo("obama/obama_2.jpg"),
                      portrait=photo("obama/obama_1.jpg"))
    assert r.status_code in (200, 303), r.text[-500:]
    profile = await LearnerProfile.objects().where(LearnerProfile.account == account.id).first()
    assert profile.portrait is not None and profile.id_front is not None
    # Before any study, replacing them is no event.
    r = await archive(client, portrait=photo("obama/obama_3.jpg"))
    assert r.status_code in (200, 303), r.text[-500:]
    assert not await StudyEvent.exists().where(StudyEvent.account == account.id)


async def test_a_portrait_swapped_after_study_started_holds_the_hours_with_its_history(
        client, platform, make_account, course, clock, recorder):
    lesson = course[1].id
    me = await enrol(platform, make_account, client, course)
    account, tenant = me["account"], me["tenant"]
    before = await LearnerProfile.objects().where(LearnerProfile.account == account.id).first()
    await passed_check(tenant, account.id)
    token = (await start(client, lesson)).json()["token"]
    clock.advance(10)
    assert (await beat(client, token, 1, lesson, 10))["credited"] == 10
    # A stranger's face as the portrait, with an ID photo of the same stranger so the comparison
    # passes: accepted (the images are the learner's to change) but the hours are held.
    r = await archive(client, id_front=photo("biden/biden_2.jpg"), portrait=photo("biden/biden_1.jpg"))
    assert r.status_code in (200, 303), r.text[-500:]
    after = await LearnerProfile.objects().where(LearnerProfile.account == account.id).first()
    assert after.portrait != before.portrait
    enrolment = await Enrollment.objects().where(Enrollment.id == me["enrollment"].id).first()
    assert enrolment.flagged
    assert (tenant.slug, account.id, enrolment.id, "portrait_changed") in recorder.flagged
    change = await StudyEvent.objects().output(load_json=True).where(
        (StudyEvent.account == account.id) & (StudyEvent.kind == "portrait_changed")).first()
    assert change.detail["changed"] == ["id_front", "portrait"]
    assert change.detail["previous"]["portrait"] == before.portrait and change.detail["current"]["portrait"] == after.portrait
    # The reviewer's case page: the change at the top, with the portraits and ID photos before and after.
    await Enrollment.update({Enrollment.status: "review"}).where(Enrollment.id == enrolment.id)
    reviewer, password = await make_account("construction", role="reviewer")
    await client.signin("construction", "id", password, id_number=reviewer.id_number)
    queue = (await client.get(f"{T}/review")).text
    assert f"/review/{enrolment.id}" in queue
    page = (await client.get(f"{T}/review/{enrolment.id}")).text
    top = page[:page.index("本人照片")]
    assert "学习开始后更换了头像或身份证照片" in top
    for file_id in (before.portrait, after.portrait, before.id_front, after.id_front):
        assert f"/review/{enrolment.id}/identity/{file_id}" in top
        r = await client.get(f"{T}/review/{enrolment.id}/identity/{file_id}")
        assert r.status_code == 200 and r.content[:2] == b"\xff\xd8"
    # Only the learner's own portraits and ID photos: not another learner's, not another kind.
    other = await enrol(platform, make_account, client, course)
    other_profile = await LearnerProfile.objects().where(LearnerProfile.account == other["account"].id).first()
    await client.signin("construction", "id", password, id_number=reviewer.id_number)
    assert (await client.get(f"{T}/review/{enrolment.id}/identity/{other_profile.portrait}")).status_code == 404
    assert (await client.get(f"{T}/review/{enrolment.id}/identity/{after.id_back}")).status_code == 404
    await signin(client, account, me["password"])
    assert (await client.get(f"{T}/review/{enrolment.id}/identity/{after.portrait}")).status_code == 404
