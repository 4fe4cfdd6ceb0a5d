"""The ``check_snapshot`` job: judge one stored burst (``core.proctoring.burst``) against the
learner's portrait, ID-card photo and earlier snapshots with the tenant's matching provider, apply
the verdict (``core.proctoring.verdicts``), and compare good snapshots across the tenant's learners
(one face studying for several accounts flags them all)."""

from __future__ import annotations

import asyncio
import datetime as dt
import secrets
from collections import OrderedDict
from typing import Any

import numpy as np
from piccolo.columns import JSON
from piccolo.utils.encoding import dump_json, load_json

from core.courses.tables import Enrollment
from core.db import write_transaction
from core.db.scoped import scoped
from core.faces import Capability, FaceError, select_provider
from core.files.tables import StoredFile
from core.jobs.specs import platform_of
from core.offload import run_cpu
from core.proctoring import burst, verdicts
from core.proctoring.encodings import image_vector, keep, kept_encodings
from core.proctoring.signatures import BILINEAR
from core.proctoring.study_tables import FaceEncoding, ProctorSession
from core.proctoring.tables import FaceVerification
from core.roster.tables import LearnerProfile
from core.study import services as study
from core.study.tables import StudyClock

_PICTURES: OrderedDict[tuple[int, int, str], str | None] = OrderedDict()  # (tenant, file, provider) → signature


async def picture_signature(platform, tenant, file_id: int | None, matcher) -> str | None:
    """The face region of one of the account's stored photos as a burst signature (computed once
    per process; None without the file or a face in it)."""
    if file_id is None:
        return None
    key = (tenant.id, file_id, matcher.name)
    if key in _PICTURES:
        return keep(_PICTURES, key, _PICTURES[key])
    row = await scoped(StoredFile, tenant).get(file_id)
    try:
        signature = None if row is None else await run_cpu(
            "face", burst.picture_signature, matcher, await platform.storage.read(row))
    except (FaceError, OSError):
        signature = None
    return keep(_PICTURES, key, signature)


# (tenant, verification id, nonce) → (face box, signatures, their kind) or None. The nonce (the capture
# ticket, random and unique) tells a row from a later one that reuses a deleted row's id (SQLite).
_EARLIER: OrderedDict[tuple[int, int, str], tuple[list[float], list[str], str] | None] = OrderedDict()


def _earlier_of(scores: dict | None) -> tuple[list[float], list[str], str] | None:
    """A judged snapshot's face box, frame signatures and their kind (None without them: no face,
    or one not judged on its frames). Verdicts kept before signatures had kinds made bilinear ones."""
    scores = scores or {}
    if not (scores.get("signatures") and scores.get("box")):
        return None
    return scores["box"], scores["signatures"], scores.get("signature_kind", BILINEAR)


# The ids (and nonces) of the account's other judged snapshots: on every job's path, written by
# hand (building it through Piccolo cost more than the database's answer).
JUDGED_SNAPSHOTS = ("SELECT id, nonce FROM face_verification WHERE tenant = {tenant} AND account = {}"
                    " AND purpose = 'snapshot' AND id <> {} AND status <> 'open'")


async def earlier_snapshots(tenant, account_id: int, verification_id: int) -> list[tuple[list[float], list[str], str]]:
    """The face box, frame signatures and their kind of every other judged snapshot of the account. A
    verdict's scores are written once, so each judged snapshot's are read (and decoded) once per
    process and kept; then only the ids of the account's snapshots are read."""
    rows = await scoped(FaceVerification, tenant).run(JUDGED_SNAPSHOTS, account_id, verification_id)
    keys = {r["id"]: (tenant.id, r["id"], r["nonce"]) for r in rows}
    known = {i: keep(_EARLIER, key, _EARLIER[key]) for i, key in keys.items() if key in _EARLIER}
    missing = [i for i in keys if i not in known]
    if missing:
        for r in await scoped(FaceVerification, tenant).select(FaceVerification.id, FaceVerification.scores).where(
                FaceVerification.id.is_in(missing)).output(load_json=True):
            known[r["id"]] = keep(_EARLIER, keys[r["id"]], _earlier_of(r["scores"]))
    return [found for found in known.values() if found is not None]


async def references(platform, tenant, account_id: int, matcher, portrait, photos: dict[str, int | None],
                     earlier: list[tuple[list[float], list[str], str]]) -> burst.References:
    """What the account's snapshot must not repeat: the portrait and the ID-card photo (their
    encodings and their pictures; ``photos``: their stored files' ids) and every earlier
    snapshot's frames (``earlier_snapshots``)."""
    id_photo = await image_vector(platform, tenant, account_id, photos["id_front"], "id_front", matcher)
    refs = burst.References(encodings={"portrait": [portrait], "id_card": [id_photo] if id_photo is not None else []},
                            earlier=earlier)
    for label, file_id in (("portrait", photos["portrait"]), ("id_card", photos["id_front"])):
        signature = await picture_signature(platform, tenant, file_id, matcher)
        refs.pictures[label] = [signature] if signature else []
    return refs


# The learner's photos and the burst's files: on every job's path, written by hand like
# JUDGED_SNAPSHOTS (Piccolo's objects also built a row object per row).
PHOTOS = "SELECT portrait, id_front FROM learner_profile WHERE tenant = {tenant} AND account = {} LIMIT 1"
FILE_KEYS = 'SELECT id, "key" FROM stored_file WHERE tenant = {{tenant}} AND id IN ({})'


async def burst_keys(tenant, ids: list[int]) -> dict[int, str]:
    """The storage keys of the tenant's stored files among ``ids`` (file id → key)."""
    if not ids:
        return {}
    sql = FILE_KEYS.format(", ".join(["{}"] * len(ids)))
    return {r["id"]: r["key"] for r in await scoped(StoredFile, tenant).run(sql, *ids)}


# The verdict, written on the open row only (a job run twice writes it once): on every job's path,
# written by hand like JUDGED_SNAPSHOTS.
VERDICT = ("UPDATE face_verification SET status = {}, reasons = {}, scores = {}, match_provider = {},"
           " finished_at = {} WHERE id = {} AND tenant = {tenant} AND status = 'open' RETURNING id")
JSON_COLUMNS = [c._meta.name for c in FaceVerification._meta.columns if isinstance(c, JSON)]


def _loaded(value: Any) -> Any:
    """A JSON column's value as Python (its text decoded; a decoded value as it is)."""
    return load_json(value) if isinstance(value, str | bytes) else value


async def check_snapshot(ctx: dict[str, Any], *, tenant: str, verification: int, proctor_session: int) -> str:
    """Job: judge one stored snapshot burst and apply the verdict. Reads that do not depend on
    each other run at once; the verdict's writes are one transaction (``verdicts.apply``)."""
    platform = platform_of(ctx)
    t = platform.tenants.get(tenant)
    row, ps, providers = await asyncio.gather(
        scoped(FaceVerification, t).get(verification), scoped(ProctorSession, t).get(proctor_session),
        platform.face_providers())
    if row is None or ps is None or row.status != "open":
        return "gone"
    for column in JSON_COLUMNS:  # the row by id comes with its JSON columns as text
        setattr(row, column, _loaded(getattr(row, column)))
    rules = t.rules.face
    matcher = select_provider(providers, rules.match_provider, Capability.ENCODE)
    tolerance = rules.match_tolerance or matcher.default_tolerance
    ids = [int(i) for i in row.evidence or []]
    profile, found, earlier = await asyncio.gather(scoped(LearnerProfile, t).run(PHOTOS, row.account),
                                                   burst_keys(t, ids), earlier_snapshots(t, row.account, row.id))
    photos = profile[0] if profile else {"portrait": None, "id_front": None}
    portrait = await image_vector(platform, t, row.account, photos["portrait"], "portrait", matcher)
    files = [found.get(i) for i in ids]
    if portrait is None or not files or None in files:
        outcome, vector, scores = "mismatch", None, {"portrait": portrait is not None}
    else:
        refs, jpegs = await asyncio.gather(references(platform, t, row.account, matcher, portrait, photos, earlier),
                                           platform.storage.get_many(files))
        duplicate = tolerance * rules.snapshot_duplicate_fraction
        outcome, vector, scores = await run_cpu(
            "face", burst.judge, matcher, list(jpegs), secrets.randbelow(len(files)), portrait, tolerance, refs,
            duplicate, rules.snapshot_burst_min_change)
    finished = dt.datetime.now(dt.UTC)
    status = "passed" if outcome == "ok" else "failed"
    reasons = [verdicts.OUTCOMES[outcome][1]] if outcome in verdicts.BAD else []
    notices: list[verdicts.Notice] = []
    async with write_transaction(StudyClock):
        await study.lock_clock(t, ps.account)
        merged = {**(row.scores or {}), **scores}
        if not await scoped(FaceVerification, t).run(VERDICT, status, dump_json(reasons), dump_json(merged),
                                                     matcher.name, finished, row.id):
            return "gone"
        row.status, row.scores, row.reasons = status, merged, reasons
        row.match_provider, row.finished_at = matcher.name, finished
        await verdicts.apply(t, ps, row, outcome, notices)
    keep(_EARLIER, (t.id, row.id, row.nonce), _earlier_of(row.scores))  # committed: the next snapshot's reads it here
    await verdicts.deliver(platform, t, notices)
    if vector is not None and outcome == "ok":
        await _index(platform, t, ps, row, matcher, vector, tolerance)
    return outcome


# --- one face, several accounts ------------------------------------------------------------------


async def same_face_accounts(tenant, account_id: int, provider: str, vector, tolerance: float) -> dict[int, float]:
    """Other accounts of the tenant with a kept portrait or snapshot encoding (same provider)
    within ``tolerance`` of ``vector``: account id → smallest distance."""
    kept = await kept_encodings(tenant, provider)
    if kept.matrix is None:
        return {}
    distances = np.linalg.norm(kept.matrix - np.asarray(vector, dtype=np.float64), axis=1)
    found: dict[int, float] = {}
    for i in np.flatnonzero((distances <= tolerance) & (kept.accounts != account_id)):
        account = int(kept.accounts[i])
        found[account] = min(float(distances[i]), found.get(account, 9.9))
    return found


# A good snapshot's encoding, kept: on every good snapshot's path, written by hand like VERDICT.
KEEP = ("INSERT INTO face_encoding (tenant, account, kind, source, provider, vector, created_at)"
        " VALUES ({tenant}, {}, 'snapshot', {}, {}, {}, {})")


async def _index(platform, tenant, ps: ProctorSession, row: FaceVerification, matcher, vector, tolerance: float) -> None:
    """Keep a good snapshot's encoding and flag every account (both sides) whose face it is."""
    others = await same_face_accounts(tenant, ps.account, matcher.name, vector, tolerance)
    await scoped(FaceEncoding, tenant).run(KEEP, ps.account, row.id, matcher.name,
                                           dump_json([float(x) for x in vector]), dt.datetime.now(dt.UTC))
    if not others:
        return
    # The enrolments still to flag, in one query: those already flagged are left alone (a face
    # shared by many accounts would otherwise cost a query per account and enrolment per snapshot).
    open_ = {}
    for e in await scoped(Enrollment, tenant).select(Enrollment.id, Enrollment.account).where(
            Enrollment.account.is_in([ps.account, *others]) & Enrollment.status.is_in(["studying", "review"])
            & (Enrollment.flagged == False)):  # noqa: E712
        open_.setdefault(e["account"], []).append(e["id"])
    for other, distance in others.items():
        for account_id, peer in ((ps.account, other), (other, ps.account)):
            for enrollment_id in open_.pop(account_id, []):
                await verdicts.flag(platform, tenant, account_id, enrollment_id, "shared_face", verification=row.id,
                                    other_account=peer, distance=round(distance, 4))
