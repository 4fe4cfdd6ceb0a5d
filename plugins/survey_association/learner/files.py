"""Profile and roster images, served by row id only to people entitled to see them:
the learner whose profile uses the file, the administrator of a company whose roster entry (or
whose joined learner's profile) uses it, and the association's staff. Everyone else: 404."""

from __future__ import annotations

from litestar import Request, Response, get
from litestar.exceptions import NotFoundException

from core import LearnerProfile, RosterEntry, StoredFile, platform_of, require, tenant_of


def _uses(table, column_names: tuple[str, ...], file_id: int):
    cond = None
    for name in column_names:
        c = getattr(table, name) == file_id
        cond = c if cond is None else cond | c
    return cond


async def may_view(tenant, account, file_id: int) -> bool:
    in_profile = (LearnerProfile.tenant == tenant.id) & _uses(LearnerProfile, ("id_front", "id_back", "portrait"), file_id)
    in_roster = (RosterEntry.tenant == tenant.id) & _uses(RosterEntry, ("id_front", "id_back", "photo"), file_id)
    if account.role == "learner":
        return await LearnerProfile.exists().where(in_profile & (LearnerProfile.account == account.id))
    if account.role == "enterprise_admin" and account.enterprise:
        return (await RosterEntry.exists().where(in_roster & (RosterEntry.enterprise == account.enterprise))
                or await LearnerProfile.exists().where(in_profile & (LearnerProfile.enterprise == account.enterprise)))
    if account.role == "tenant_admin":
        return await LearnerProfile.exists().where(in_profile) or await RosterEntry.exists().where(in_roster)
    return False


@get("/profile/files/{file_id:int}")
async def profile_file(request: Request, file_id: int) -> Response:
    tenant = tenant_of(request)
    account = require(request)
    row = await StoredFile.objects().where((StoredFile.id == file_id) & (StoredFile.tenant == tenant.id)).first()
    if row is None or not await may_view(tenant, account, file_id):
        raise NotFoundException()
    return Response(
        content=platform_of(request).storage.read(row), media_type=row.media_type,
        headers={"Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"},
    )


ROUTES = [profile_file]
