"""scoped(Table, tenant): queries that cannot leave the tenant."""

from __future__ import annotations

import pytest

from core.accounts.tables import Account
from core.db.scoped import scoped
from core.tenants.tables import TenantRow
from core.testing.ids import fake_mobile


async def test_scoped_reads_counts_updates_and_deletes_stay_in_the_tenant(platform):
    survey, construction = platform.tenants.get("survey"), platform.tenants.get("construction")
    mine = scoped(Account, survey).new(role="learner", real_name="甲", mobile=fake_mobile(), password_hash="x")
    await mine.save()
    assert mine.tenant == survey.id
    theirs = scoped(Account, construction)
    assert await theirs.get(mine.id) is None
    assert await theirs.count(Account.id == mine.id) == 0
    assert not await theirs.exists(Account.id == mine.id)
    await theirs.update({Account.real_name: "乙"}).where(Account.id == mine.id)
    await theirs.delete().where(Account.id == mine.id)
    again = await scoped(Account, survey).get(mine.id)
    assert again is not None and again.real_name == "甲"
    assert await scoped(Account, survey).objects().where(Account.id == mine.id).first() is not None
    assert await scoped(Account, survey).select(Account.id).where(Account.id == mine.id) == [{"id": mine.id}]


async def test_scoped_refuses_a_table_without_tenant_and_a_tenant_without_id(platform):
    with pytest.raises(TypeError, match="no tenant column"):
        scoped(TenantRow, platform.tenants.get("survey"))
    with pytest.raises(ValueError, match="onboarded"):
        scoped(Account, None)


async def test_get_or_404_raises_not_found_for_another_tenants_row(platform):
    from litestar.exceptions import NotFoundException

    row = scoped(Account, platform.tenants.get("survey")).new(role="learner", real_name="丙", mobile=fake_mobile(),
                                                             password_hash="x")
    await row.save()
    with pytest.raises(NotFoundException):
        await scoped(Account, platform.tenants.get("construction")).get_or_404(row.id)
