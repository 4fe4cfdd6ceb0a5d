"""Migrations run forwards on the test engine (SQLite, and PostgreSQL in CI) and match the tables:
the core's app and every plugin's (``db_apps``)."""

from __future__ import annotations

import datetime as dt
import secrets
from urllib.parse import urlparse, urlunparse

import pytest
from piccolo.conf.apps import Finder

from core import db
from core.testing.pytest_plugin import _pg_admin

SURVEY_APP = "plugins.survey_association.piccolo_app"
BEFORE_HANDOVER = "2026-11-22T10:30:30:000000"  # the core's last migration with the survey tables
BEFORE_CERTIFICATION = "2026-12-07T02:20:00:000000"  # the core's last migration with the company workflow
SURVEY_BEFORE_CERTIFICATION = "2026-11-26T07:47:30:000000"  # the survey app's last one before it


def _app_configs():
    return list(Finder().get_app_registry().app_configs.values())


async def test_every_table_is_created_with_every_column(xs_app, client):
    # The deploy step ran every app's migrations on the session's database.
    apps = {config.app_name: config for config in _app_configs()}
    assert {"xueshi", "survey_association"} <= set(apps)
    checked = 0
    for config in apps.values():
        for table in config.table_classes:
            in_database = await db.table_columns(table._meta.tablename)
            declared = {c._meta.db_column_name for c in table._meta.columns}
            assert in_database == declared, f"{config.app_name}.{table.__name__}: {in_database ^ declared}"
            checked += 1
    assert checked >= 15


async def test_the_survey_tables_left_the_core(xs_app, client):
    assert await db.table_columns("certificate_holder") == set()
    assert not {"company_filled_at", "learner_confirmed_at"} & await db.table_columns("roster_entry")
    assert not {"status", "reject_reason", "licence", "decided_at", "decided_by"} & await db.table_columns("enterprise")


@pytest.mark.parametrize("app_name", ["xueshi", "survey_association", "xueshi_review", "xueshi_certificates",
                                      "xueshi_exams", "xueshi_proctoring"])
async def test_migrations_describe_the_current_tables(xs_app, app_name):
    """A table change without its migration fails here (the auto-differ finds no changes)."""
    from piccolo.apps.migrations.commands.new import AutoMigrationManager

    config = Finder().get_app_registry().get_app_config(app_name)
    statements = await AutoMigrationManager().get_alter_statements(app_config=config)
    pending = [s for group in statements for s in group.statements]
    assert pending == [], f"tables changed without a migration: run `piccolo migrations new {app_name} --auto`"


async def test_migrating_twice_changes_nothing(xs_app):
    before = {t._meta.tablename: await db.table_columns(t._meta.tablename)
              for config in _app_configs() for t in config.table_classes}
    await db.migrate()
    await db.migrate()
    after = {name: await db.table_columns(name) for name in before}
    assert after == before


# --- moving the survey association's rows into its own app keeps every row ---------------------


@pytest.fixture
async def empty_database(xs_database_url, tmp_path):
    """A second, empty database of the session's engine; the process's engine is switched to it
    for the test and back afterwards."""
    import core.db.piccolo_conf as conf

    if xs_database_url.startswith("postgres"):
        name = f"xueshi_m_{secrets.token_hex(4)}"
        parsed = urlparse(xs_database_url)
        await _pg_admin(xs_database_url, f'CREATE DATABASE "{name}"')
        url = urlunparse(parsed._replace(path=f"/{name}"))
    else:
        name, url = None, f"sqlite:///{tmp_path / 'old_shape.sqlite3'}"
    saved_engine, saved_url, saved_apps = conf.DB, conf.DB_URL, list(conf.APP_MODULES)
    try:
        yield url
    finally:
        conf.DB, conf.DB_URL = saved_engine, saved_url  # the session's engine object itself
        db.configure(saved_url, saved_apps)
        if name:
            await _pg_admin(xs_database_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def test_survey_rows_move_from_the_core_tables_into_the_plugins(empty_database):
    from piccolo.apps.migrations.commands.forwards import run_forwards

    from plugins.survey_association.tables import CertificateHolder, RosterConfirmation

    db.configure(empty_database, [SURVEY_APP])
    engine = db.engine()
    # The database as the core left it before the hand-over, with survey data in it.
    result = await run_forwards(app_name="xueshi", migration_id=BEFORE_HANDOVER)
    assert result.success, result.message
    assert {"company_filled_at", "learner_confirmed_at"} <= await db.table_columns("roster_entry")
    filled = dt.datetime(2026, 3, 1, 8, 30, tzinfo=dt.UTC)
    confirmed = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
    now = dt.datetime(2026, 3, 3, tzinfo=dt.UTC)
    statements = [
        ("INSERT INTO tenant (id, slug, name, name_en, hosts, theme, active, created_at) "
         "VALUES (7, 'old', '旧租户', 'Old', '[]', 'default', TRUE, {now})"),
        ("INSERT INTO enterprise (id, tenant, name, credit_code, address, status, reject_reason, created_at) "
         "VALUES (3, 7, '旧企业', '91110000MA00000001', '', 'approved', '', {now})"),
        ("INSERT INTO roster_entry (id, tenant, enterprise, real_name, id_number, position, status, "
         "company_filled_at, learner_confirmed_at, created_at, updated_at) VALUES "
         "(11, 7, 3, '甲', '110105199001011234', '', 'joined', {filled}, {confirmed}, {now}, {now}), "
         "(12, 7, 3, '乙', '110105199001011235', '', 'pending', {filled}, NULL, {now}, {now}), "
         "(13, 7, 3, '丙', '110105199001011236', '', 'pending', NULL, NULL, {now}, {now})"),
        ("INSERT INTO certificate_holder (id, tenant, enterprise, credit_code, real_name, id_number, cert_number, "
         "position, issued_on, expires_on, status, problems, confirmed_at, confirmed_by, created_at) VALUES "
         "(41, 7, 3, '91110000MA00000001', '甲', '110105199001011234', 'C-41', '测量员', {issued}, NULL, "
         "'confirmed', '[]', {confirmed}, 5, {now}), "
         "(42, 7, NULL, '', '丁', 'X', 'C-42', '', NULL, NULL, 'imported', "
         "'[{{\"field\": \"id_number\", \"message\": \"身份证号格式不正确\"}}]', NULL, NULL, {now})"),
    ]
    pg = db.is_postgres()

    def literal(value) -> str:
        return f"'{value.isoformat()}'" if not pg else f"'{value.isoformat()}'::timestamptz"

    for sql in statements:
        await engine.run_ddl(sql.format(now=literal(now), filled=literal(filled), confirmed=literal(confirmed),
                                        issued="'2024-03-01'"))
    if pg:
        await engine.run_ddl("SELECT setval(pg_get_serial_sequence('certificate_holder', 'id'), 42)")

    await db.migrate()

    assert await db.table_columns("certificate_holder") == set()
    assert not {"company_filled_at", "learner_confirmed_at"} & await db.table_columns("roster_entry")
    holders = {h.id: h for h in await CertificateHolder.objects().where(CertificateHolder.tenant == 7)}
    assert sorted(holders) == [41, 42]
    assert holders[41].cert_number == "C-41" and holders[41].status == "confirmed" and holders[41].confirmed_by == 5
    assert holders[41].issued_on == dt.date(2024, 3, 1) and holders[41].confirmed_at == confirmed
    assert holders[41].enterprise == 3 and holders[42].enterprise is None
    assert "身份证号格式不正确" in str(holders[42].problems)
    fills = {r.entry: r for r in await RosterConfirmation.objects().where(RosterConfirmation.tenant == 7)}
    assert sorted(fills) == [11, 12]  # an entry with neither time needs no row
    assert fills[11].company_filled_at == filled and fills[11].learner_confirmed_at == confirmed
    assert fills[12].company_filled_at == filled and fills[12].learner_confirmed_at is None
    # New holders get fresh ids after the copied ones.
    new = CertificateHolder(tenant=7, real_name="戊", id_number="Y", cert_number="C-new", created_at=now)
    await new.save()
    assert new.id > 42
    await db.migrate()  # nothing left to move: a second run changes nothing
    assert await CertificateHolder.count() == 3


async def test_company_certifications_move_from_enterprise_into_the_plugins_table(empty_database):
    """A database deployed before the hand-over, with a pending, a rejected and an approved company:
    upgrading keeps each one's status, reason, licence and decision, and the companies themselves."""
    from piccolo.apps.migrations.commands.forwards import run_forwards

    from core.accounts.tables import Enterprise
    from core.files.tables import StoredFile
    from plugins.survey_association.tables import CompanyCertification

    db.configure(empty_database, [SURVEY_APP])
    engine = db.engine()
    for app_name, migration_id in (("xueshi", BEFORE_CERTIFICATION),
                                   ("survey_association", SURVEY_BEFORE_CERTIFICATION)):
        result = await run_forwards(app_name=app_name, migration_id=migration_id)
        assert result.success, result.message
    assert {"status", "reject_reason", "licence", "decided_at", "decided_by"} <= await db.table_columns("enterprise")
    assert await db.table_columns("survey_company_certification") == set()
    pg = db.is_postgres()

    def literal(value: dt.datetime) -> str:
        return f"'{value.isoformat()}'::timestamptz" if pg else f"'{value.isoformat()}'"

    now = dt.datetime(2026, 3, 3, tzinfo=dt.UTC)
    decided = dt.datetime(2026, 3, 4, 10, 15, tzinfo=dt.UTC)
    await engine.run_ddl("INSERT INTO tenant (id, slug, name, name_en, hosts, theme, active, created_at) "
                         f"VALUES (8, 'older', '旧协会', 'Older', '[]', 'default', TRUE, {literal(now)})")
    await engine.run_ddl("INSERT INTO stored_file (id, tenant, owner, kind, key, media_type, size, sha256, created_at) "
                         f"VALUES (21, 8, NULL, 'licence', 'k/21', 'image/jpeg', 10, 'x', {literal(now)}), "
                         f"(22, 8, NULL, 'licence', 'k/22', 'image/jpeg', 10, 'y', {literal(now)})")
    await engine.run_ddl(
        "INSERT INTO enterprise (id, tenant, name, credit_code, address, status, reject_reason, licence, "
        "decided_at, decided_by, created_at) VALUES "
        f"(31, 8, '待审企业', '91110000MA00000031', '甲路 1 号', 'pending', '', 21, NULL, NULL, {literal(now)}), "
        f"(32, 8, '驳回企业', '91110000MA00000032', '乙路 2 号', 'rejected', '营业执照照片不清晰', 22, "
        f"{literal(decided)}, 5, {literal(now)}), "
        f"(33, 8, '已过企业', NULL, '', 'approved', '', NULL, {literal(decided)}, 6, {literal(now)})")

    await db.migrate()

    assert not {"status", "reject_reason", "licence", "decided_at", "decided_by"} & await db.table_columns("enterprise")
    companies = {e.id: e for e in await Enterprise.objects().where(Enterprise.tenant == 8)}
    assert sorted(companies) == [31, 32, 33]
    assert companies[32].name == "驳回企业" and companies[32].credit_code == "91110000MA00000032"
    assert companies[31].address == "甲路 1 号" and companies[31].created_at == now
    rows = {c.enterprise: c for c in await CompanyCertification.objects().where(CompanyCertification.tenant == 8)}
    assert sorted(rows) == [31, 32, 33]
    assert (rows[31].status, rows[31].reject_reason, rows[31].licence) == ("pending", "", 21)
    assert rows[31].decided_at is None and rows[31].decided_by is None
    assert (rows[32].status, rows[32].reject_reason, rows[32].licence) == ("rejected", "营业执照照片不清晰", 22)
    assert rows[32].decided_at == decided and rows[32].decided_by == 5
    assert (rows[33].status, rows[33].licence, rows[33].decided_by) == ("approved", None, 6)
    assert await StoredFile.count().where(StoredFile.tenant == 8) == 2  # the licences are still there
    # A company applies only once: the copied rows hold the unique company key.
    with pytest.raises(Exception):
        await CompanyCertification(tenant=8, enterprise=31, status="pending").save()
    await db.migrate()  # nothing left to move: a second run changes nothing
    assert await CompanyCertification.count().where(CompanyCertification.tenant == 8) == 3
