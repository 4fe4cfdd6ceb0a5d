"""``xueshi create-admin``: the admins it creates can sign in the way their tenant signs in."""

import asyncio

import pytest

from core import cli
from core.testing.ids import fake_id_number, fake_mobile


@pytest.fixture
def run_cli(xs_settings, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", xs_settings.database_url)
    monkeypatch.setenv("XUESHI_VAR_DIR", str(xs_settings.var_dir))
    # The CLI's loop is another thread's: a pool it opened on the process-wide engine would be
    # used by the test's own loop meanwhile (the pool belongs to one loop).
    monkeypatch.setenv("XUESHI_DB_POOL_SIZE", "0")

    async def run(*argv: str) -> int:
        # The CLI runs its own event loop: give it a thread of its own.
        return await asyncio.to_thread(cli.main, list(argv))

    return run


async def test_create_admin_for_each_tenant_and_the_platform_signs_in(run_cli, client, capsys):
    mobile, id_number, password = fake_mobile(), fake_id_number(), "Admin-pass-1"
    assert await run_cli("create-admin", "--tenant", "survey", "--mobile", mobile, "--password", password) == 0
    assert "tenant_admin ready in survey" in capsys.readouterr().out
    r = await client.signin("survey", "mobile", password, mobile=mobile)
    assert r.status_code == 303 and r.headers["location"] == "/t/survey/admin/dashboard"  # their work page (数据看板)

    assert await run_cli("create-admin", "--tenant", "construction", "--id-number", id_number.lower(),
                         "--password", password) == 0
    r = await client.signin("construction", "id", password, id_number=id_number)
    assert r.status_code == 303 and r.headers["location"] == "/t/construction/admin/dashboard"

    assert await run_cli("create-admin", "--username", f"op-{mobile}", "--password", password) == 0
    await client.get("/platform/signin")
    r = await client.post("/platform/signin", {"username": f"op-{mobile}", "password": password})
    assert r.status_code == 303


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--tenant", "survey", "--username", "admin"], "--mobile or --id-number"),
        (["--tenant", "survey", "--mobile", "12345"], "手机号格式不正确"),
        (["--tenant", "construction", "--id-number", "110105199001011231"], "身份证号校验位不正确"),
        (["--tenant", "nowhere", "--mobile", "13912345678"], "no tenant 'nowhere'"),
        ([], "needs --username"),
    ],
)
async def test_create_admin_refuses_what_could_never_sign_in(run_cli, argv, message):
    with pytest.raises(SystemExit, match=message):
        await run_cli("create-admin", *argv, "--password", "Admin-pass-1")


async def test_create_admin_applies_the_password_policy(run_cli):
    with pytest.raises(SystemExit, match="密码至少 8 位"):
        await run_cli("create-admin", "--tenant", "survey", "--mobile", fake_mobile(), "--password", "short1")
