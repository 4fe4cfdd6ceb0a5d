"""Profile and roster images, served by row id only to people entitled to see them:
the learner whose profile uses the file, the administrator of a company whose roster entry (or
whose joined learner's profile) uses it, and the association's staff. Everyone else: 404."""

from __future__ import annotations

from litestar import Response, get
from litestar.exceptions import NotFoundException

from core import Account, LearnerProfile, Platform, RosterEntry, StoredFile, Tenant, scoped, signed_in
from plugins.survey_association.roles import COMPANY_ADMIN


def _uses(table, column_names: tuple[str, ...], file_id: int):
    cond = None
    for name in column_names:
        c = getattr(table, name) == file_id
        cond = c if cond is None else cond | c
    return cond


async def may_view(tenant, account, file_id: int) -> bool:
    profiles, roster = scoped(LearnerProfile, tenant), scoped(RosterEntry, tenant)
    in_profile = _uses(LearnerProfile, ("id_front", "id_back", "portrait"), file_id)
    in_roster = _uses(RosterEntry, ("id_front", "id_back", "photo"), file_id)
    if account.role == "learner":
        return await profiles.exists(in_profile & (LearnerProfile.account == account.id))
    if account.role == COMPANY_ADMIN and account.enterprise:
        return (await roster.exists(in_roster & (RosterEntry.enterprise == account.enterprise))
                or await profiles.exists(in_profile & (LearnerProfile.enterprise == account.enterprise)))
    if account.role == "tenant_admin":
        return await profiles.exists(in_profile) or await roster.exists(in_roster)
    return False


@get("/profile/files/{file_id:int}", guards=[signed_in])
async def profile_file(platform: Platform, tenant: Tenant, account: Account, file_id: int) -> Response:
    row = await scoped(StoredFile, tenant).get(file_id)
    if row is None or not await may_view(tenant, account, file_id):
        raise NotFoundException()
    return Response(
        content=await platform.storage.read(row), media_type=row.media_type,
        headers={"Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"},
    )


ROUTES = [profile_file]
