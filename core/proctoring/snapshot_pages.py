"""Snapshots over HTTP: the player's upload (a requested capture only) and the reviewer's view of
one snapshot image (private storage; reviewers and the tenant's admins only)."""

from __future__ import annotations

import json
import logging

from litestar import Request, Response, get, post
from litestar.exceptions import NotFoundException

from core.accounts.tables import Account
from core.db.scoped import scoped
from core.files.tables import StoredFile
from core.kernel import Platform
from core.proctoring import snapshots
from core.proctoring.tables import FaceVerification
from core.tenancy import Tenant
from core.web import roles

log = logging.getLogger("xueshi.proctoring")
LEARNER = roles("learner")
REVIEWERS = roles("reviewer", "tenant_admin")
MAX_FRAMES = 6  # the most a tenant's rules may ask for (face.snapshot_burst_frames)
BURST_MAX_BODY = MAX_FRAMES * snapshots.SNAPSHOT_MAX_BYTES + 64 * 1024


def _json(data: dict, status: int = 200) -> Response:
    return Response(content=data, status_code=status, media_type="application/json",
                    headers={"Cache-Control": "no-store"})


@post("/study/snapshot", guards=[LEARNER], request_max_body_size=BURST_MAX_BODY)
async def snapshot_upload(request: Request, platform: Platform, tenant: Tenant, account: Account) -> Response:
    """A burst of JPEGs (multipart form, one ``frame`` field each, in the order taken) for the
    capture ticket the last heartbeat answer carried."""
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        return _json({"error": snapshots.burst_refused(tenant)}, 400)
    form = await request.form()
    frames = [item for item in form.getall("frame") if not isinstance(item, str)] if "frame" in form else []
    data = [await item.read() for item in frames[:MAX_FRAMES + 1]]
    if any(len(d) > snapshots.SNAPSHOT_MAX_BYTES for d in data):
        return _json({"error": "画面过大"}, 413)
    try:
        row = await snapshots.accept(platform, tenant, account, request.query_params.get("ticket") or "", data)
    except snapshots.SnapshotRefused as exc:
        return _json({"error": exc.message}, exc.status)
    return _json({"status": "queued", "id": row.id}, 202)


@get("/review/snapshots/{verification_id:int}/image", guards=[REVIEWERS])
async def snapshot_image(platform: Platform, tenant: Tenant, verification_id: int) -> Response:
    """The stored image of a study snapshot, for the reviewer (never cached, never public)."""
    row = await scoped(FaceVerification, tenant).get_or_404(verification_id, FaceVerification.purpose == "snapshot")
    evidence = row.evidence if isinstance(row.evidence, list) else json.loads(row.evidence or "[]")
    file = await scoped(StoredFile, tenant).get(evidence[0]) if evidence else None
    if file is None:
        raise NotFoundException()
    try:
        data = await platform.storage.read(file)
    except OSError:
        raise NotFoundException() from None
    return Response(content=data, media_type="image/jpeg",
                    headers={"Cache-Control": "no-store, private", "X-Content-Type-Options": "nosniff"})


ROUTES = [snapshot_upload, snapshot_image]
