"""Face encodings of a learner's stored photos (the portrait and the ID-card photo), kept in
``FaceEncoding`` per tenant, file and matching provider.

A photo is encoded when it is stored (``encode_uploaded``, from the profile step's upload, or a
replacement), so the face check and the snapshot job find the encoding ready; they compute and keep
it themselves when it is missing (``image_vector``: an upload without consent, a provider changed
since, or rows purged). Encodings are keyed by the stored file, so a replaced photo is never matched
through its predecessor's encoding; a replacement also drops the predecessor's rows, which would
otherwise go on matching other accounts' snapshots (``same_face_accounts``).
"""

from __future__ import annotations

import datetime as dt
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from core.db.scoped import scoped
from core.faces import Capability, CapabilityError, FaceError, portrait_encoding, select_provider
from core.files.tables import StoredFile
from core.offload import run_cpu
from core.proctoring.study_tables import FaceEncoding
from core.roster.tables import LearnerProfile

ENCODED = ("portrait", "id_front")  # the photos a learner's face is compared with
_VECTORS: OrderedDict[tuple[int, int, str], Any] = OrderedDict()  # (tenant, file, provider) → encoding or None
CACHE_MAX = 4096  # entries per process cache of these photos


def keep(cache: OrderedDict, key: Any, value: Any) -> Any:
    """``value`` as the newest entry of the least-recently-used ``cache``; returns it."""
    cache[key] = value
    cache.move_to_end(key)
    while len(cache) > CACHE_MAX:
        cache.popitem(last=False)
    return value


async def _encode(matcher, data: bytes):
    """The encoding of the photo's face, None when it shows no usable face."""
    try:
        return await run_cpu("face", portrait_encoding, matcher, data)
    except FaceError:
        return None


async def _store(tenant, account_id: int, kind: str, file_id: int, matcher, vector) -> None:
    await scoped(FaceEncoding, tenant).new(
        account=account_id, kind=kind, source=file_id, provider=matcher.name,
        vector=[float(x) for x in vector] if vector is not None else [], created_at=dt.datetime.now(dt.UTC)).save()


async def image_vector(platform, tenant, account_id: int, file_id: int | None, kind: str, matcher):
    """The encoding of one of the account's stored photos (``kind``: portrait | id_front) by
    ``matcher``: from this process's cache, the tenant's ``FaceEncoding`` rows, or computed once
    and kept there (a photo without a usable face is kept as an empty vector). None without one,
    or when the photo cannot be read now (nothing is kept then)."""
    if file_id is None:
        return None
    key = (tenant.id, file_id, matcher.name)
    if key in _VECTORS:
        _VECTORS.move_to_end(key)
        return _VECTORS[key]
    kept = await scoped(FaceEncoding, tenant).objects(
        (FaceEncoding.account == account_id) & (FaceEncoding.kind == kind)
        & (FaceEncoding.source == file_id) & (FaceEncoding.provider == matcher.name)).output(load_json=True).first()
    if kept is not None:
        return keep(_VECTORS, key, np.asarray(kept.vector, dtype=np.float64) if kept.vector else None)
    row = await scoped(StoredFile, tenant).get(file_id)
    if row is None:
        return None
    try:
        data = await platform.storage.read(row)
    except OSError:
        return None
    vector = await _encode(matcher, data)
    await _store(tenant, account_id, kind, file_id, matcher, vector)
    return keep(_VECTORS, key, vector)


async def portrait_vector(platform, tenant, account_id: int, matcher, profile: LearnerProfile | None = None):
    """The encoding of the account's current portrait by ``matcher`` (None without a usable one)."""
    if profile is None:
        profile = await scoped(LearnerProfile, tenant).objects(LearnerProfile.account == account_id).first()
    return await image_vector(platform, tenant, account_id, profile.portrait if profile else None, "portrait", matcher)


async def encode_uploaded(platform, tenant, account_id: int, stored: dict[str, tuple[int, bytes]]) -> None:
    """The profile step stored ``stored`` (kind → (file id, cleaned JPEG)): encode the portrait and
    the ID-card photo among them with the tenant's matching provider, keep the encodings, and drop
    those of the photos they replace. Nothing without a matching provider (no face plugin)."""
    try:
        matcher = select_provider(await platform.face_providers(), tenant.rules.face.match_provider, Capability.ENCODE)
    except CapabilityError:
        return
    for kind in ENCODED:
        if kind not in stored:
            continue
        file_id, data = stored[kind]
        await scoped(FaceEncoding, tenant).delete().where(
            (FaceEncoding.account == account_id) & (FaceEncoding.kind == kind) & (FaceEncoding.source != file_id))
        key = (tenant.id, file_id, matcher.name)
        vector = _VECTORS[key] if key in _VECTORS else await _encode(matcher, data)
        await _store(tenant, account_id, kind, file_id, matcher, vector)
        keep(_VECTORS, key, vector)


# --- the tenant's kept encodings, to find one face studying for several accounts ------------------

COMPARED = ("portrait", "snapshot")  # the kinds a good snapshot is compared with, across accounts


@dataclass
class Kept:
    """This process's copy of a tenant's compared encodings by one provider: row → (account,
    vector), and the same stacked for the distance computation (rebuilt when rows come or go)."""

    rows: dict[tuple, tuple[int, np.ndarray]] = field(default_factory=dict)  # (id, account, created) → …
    accounts: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    matrix: np.ndarray | None = None


_KEPT: dict[tuple[int, str], Kept] = {}
# The rows listed on every good snapshot's path, written by hand (building the query through
# Piccolo cost more than the database's answer).
_LISTED = ("SELECT id, account, created_at FROM face_encoding WHERE tenant = {tenant} AND provider = {}"
           " AND kind IN (" + ", ".join(f"'{kind}'" for kind in COMPARED) + ")")


def vector_of(raw: list[float]) -> np.ndarray:
    return np.asarray(raw, dtype=np.float64)


async def kept_encodings(tenant, provider: str) -> Kept:
    """The tenant's kept portrait and snapshot encodings by ``provider``. Every call lists the rows
    (id, account, creation time: a row id alone may be reused by SQLite after a delete); only the
    vectors of rows this process has not seen are read and decoded, and rows deleted since (a
    replaced photo, the retention purge) are dropped."""
    kept = _KEPT.setdefault((tenant.id, provider), Kept())
    listed = await scoped(FaceEncoding, tenant).run(_LISTED, provider)
    current = {(r["id"], r["account"], r["created_at"]) for r in listed}
    gone = kept.rows.keys() - current
    new = {r[0]: r for r in current - kept.rows.keys()}
    for row in gone:
        del kept.rows[row]
    ids = sorted(new)
    for k in range(0, len(ids), 1000):
        for r in await scoped(FaceEncoding, tenant).select(FaceEncoding.id, FaceEncoding.vector).where(
                FaceEncoding.id.is_in(ids[k:k + 1000])).output(load_json=True):
            kept.rows[new[r["id"]]] = (new[r["id"]][1], vector_of(r["vector"] or []))
    if gone or new or kept.matrix is None:
        usable = [(account, v) for account, v in kept.rows.values() if v.size]
        kept.accounts = np.asarray([a for a, _ in usable], dtype=np.int64)
        kept.matrix = np.stack([v for _, v in usable]) if usable else None
    return kept
