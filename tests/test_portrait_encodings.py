"""The portrait and the ID-card photo are encoded when they are stored (core.proctoring.encodings):
the face check and the snapshot job find the encodings ready instead of computing them on a
learner's first check or snapshot; a replaced photo's encoding is dropped, and the next snapshot is
matched against the new portrait, never the old one. Real photos, the tenant's real matcher."""

from __future__ import annotations

import datetime as dt

import numpy as np

from core.faces import Capability, select_provider
from core.proctoring import encodings, snapshot_match
from core.proctoring.study_tables import FaceEncoding
from core.roster.tables import LearnerProfile
from tests.test_integrity_portrait_swap import archive, forget_portrait_encodings, photo  # noqa: F401
from tests.test_snapshots import (  # noqa: F401  (fixtures)
    T,
    clock,
    course,
    enrol,
    frame,
    lesson_video,
    passed_check,
    recorder,
    settled,
    signin,
    start,
    study_until_capture,
    upload,
    xs_plugins,
)


async def kept(account_id: int) -> dict[tuple[str, int], list[float]]:
    rows = await FaceEncoding.objects().output(load_json=True).where(
        (FaceEncoding.account == account_id) & FaceEncoding.kind.is_in(["portrait", "id_front"]))
    return {(r.kind, r.source): r.vector for r in rows}


def counting(monkeypatch) -> list[int]:
    """Counts the encodings of stored photos computed from here on (by any path)."""
    calls: list[int] = []
    real = encodings.portrait_encoding

    def encode(matcher, data):
        calls.append(1)
        return real(matcher, data)

    monkeypatch.setattr(encodings, "portrait_encoding", encode)
    return calls


async def test_the_profile_upload_encodes_the_photos_and_the_first_snapshot_computes_none(
        client, platform, make_account, course, clock, monkeypatch):
    me = await enrol(platform, make_account, client, course, portrait="biden/biden_1.jpg")  # replaced below
    account, tenant = me["account"], me["tenant"]
    r = await archive(client, id_front=photo("obama/obama_2.jpg"), portrait=photo("obama/obama_1.jpg"))
    assert r.status_code in (200, 303), r.text[-500:]
    profile = await LearnerProfile.objects().where(LearnerProfile.account == account.id).first()
    found = await kept(account.id)
    assert set(found) == {("portrait", profile.portrait), ("id_front", profile.id_front)}
    assert all(len(v) > 0 for v in found.values())  # faces found and encoded
    rows = await FaceEncoding.objects().where(FaceEncoding.account == account.id)
    assert {r.provider for r in rows} == {tenant.rules.face.match_provider}
    encodings._VECTORS.clear()  # another process: only the kept rows
    calls = counting(monkeypatch)
    await passed_check(tenant, account.id)
    token = (await start(client, course[1].id)).json()["token"]
    ticket, _seq, _position = await study_until_capture(client, clock, token, course[1].id)
    r = await upload(client, ticket, frame("obama/obama_3.jpg"))
    assert r.status_code == 202
    row = await settled(r.json()["id"])
    assert row.status == "passed", (row.reasons, row.scores)
    assert calls == []  # neither the portrait nor the ID-card photo was encoded again
    # The face check's challenge: the kept portrait encoding, no call to the matcher at all.
    encodings._VECTORS.clear()
    matcher = select_provider(await platform.face_providers(), tenant.rules.face.match_provider, Capability.ENCODE)
    encoded = []
    real_encode = matcher.encode
    monkeypatch.setattr(matcher, "encode", lambda *a, **k: encoded.append(1) or real_encode(*a, **k))
    r = await client.post(f"{T}/face/challenge", {})
    assert r.status_code in (200, 201), r.text[-300:]
    assert encoded == []


async def test_a_replaced_portrait_is_matched_never_through_the_old_encoding(
        client, platform, make_account, course, clock):
    me = await enrol(platform, make_account, client, course)  # obama's portrait
    account, tenant = me["account"], me["tenant"]
    before = await LearnerProfile.objects().where(LearnerProfile.account == account.id).first()
    await passed_check(tenant, account.id)
    token = (await start(client, course[1].id)).json()["token"]
    ticket, _seq, _position = await study_until_capture(client, clock, token, course[1].id)
    row = await settled((await upload(client, ticket, frame("obama/obama_2.jpg"))).json()["id"])
    assert row.status == "passed"
    assert ("portrait", before.portrait) in await kept(account.id)  # computed by the job, kept
    # Another man's portrait (with his ID photo, so the tenant's comparison passes).
    r = await archive(client, id_front=photo("biden/biden_2.jpg"), portrait=photo("biden/biden_1.jpg"))
    assert r.status_code in (200, 303), r.text[-500:]
    after = await LearnerProfile.objects().where(LearnerProfile.account == account.id).first()
    found = await kept(account.id)
    assert set(found) == {("portrait", after.portrait), ("id_front", after.id_front)}  # the old ones dropped
    # The same face as before is now someone else's: the next snapshot is a mismatch.
    await passed_check(tenant, account.id)
    token = (await start(client, course[1].id)).json()["token"]
    ticket, _seq, _position = await study_until_capture(client, clock, token, course[1].id)
    row = await settled((await upload(client, ticket, frame("obama/obama_3.jpg"))).json()["id"])
    assert row.status == "failed" and row.reasons == ["抓拍照片与本人头像不一致"], (row.reasons, row.scores)
    new = np.asarray(found[("portrait", after.portrait)])
    assert row.scores["distance"] > row.scores["tolerance"] and new.size > 0


async def test_the_tenants_kept_encodings_are_decoded_once_per_process_and_deleted_rows_drop_out(
        platform, make_account, monkeypatch):
    """The shared-face comparison of every good snapshot reads the tenant's kept encodings: only
    the rows this process has not seen are decoded, and a deleted row (a replaced photo, the
    purge) no longer matches."""
    tenant = platform.tenants.get("construction")
    accounts = [(await make_account("construction"))[0].id for _ in range(4)]
    rng = np.random.default_rng(7)
    face = rng.normal(size=128)
    face /= np.linalg.norm(face)
    other = -face
    provider = "kept-test"  # rows of this test only

    async def add(account_id: int, kind: str, vector) -> FaceEncoding:
        row = FaceEncoding(tenant=tenant.id, account=account_id, kind=kind, source=0, provider=provider,
                           vector=[float(x) for x in vector], created_at=dt.datetime.now(dt.UTC))
        await row.save()
        return row

    decoded = []
    real = encodings.vector_of
    monkeypatch.setattr(encodings, "vector_of", lambda raw: decoded.append(1) or real(raw))
    first = await add(accounts[0], "portrait", face)
    await add(accounts[1], "snapshot", face + 0.001)
    await add(accounts[1], "id_front", face)  # not compared across accounts
    assert set(await snapshot_match.same_face_accounts(tenant, accounts[3], provider, face, 0.1)) == set(accounts[:2])
    assert len(decoded) == 2
    assert set(await snapshot_match.same_face_accounts(tenant, accounts[3], provider, face, 0.1)) == set(accounts[:2])
    assert len(decoded) == 2  # nothing decoded again
    await FaceEncoding.delete().where(FaceEncoding.id == first.id)
    await add(accounts[2], "portrait", other)  # another face
    await add(accounts[3], "snapshot", face)  # the asking account's own
    assert set(await snapshot_match.same_face_accounts(tenant, accounts[3], provider, face, 0.1)) == {accounts[1]}
    assert len(decoded) == 4
    # The newest row deleted and another written (SQLite may give it the same id): the new one counts.
    last = await add(accounts[2], "snapshot", other)
    assert set(await snapshot_match.same_face_accounts(tenant, accounts[3], provider, face, 0.1)) == {accounts[1]}
    await FaceEncoding.delete().where(FaceEncoding.id == last.id)
    await add(accounts[0], "snapshot", face)
    assert set(await snapshot_match.same_face_accounts(tenant, accounts[3], provider, face, 0.1)) == {
        accounts[0], accounts[1]}
