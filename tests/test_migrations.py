"""Migrations run forwards on the test engine (SQLite, and PostgreSQL in CI) and match the tables."""


from core.piccolo_app import APP_CONFIG


async def test_every_table_is_created_with_every_column(xs_app, client):
    # The app's startup ran the migrations on the session's database.
    for table in APP_CONFIG.table_classes:
        rows = await table.select(*table._meta.columns).limit(1)  # fails on a missing column
        assert isinstance(rows, list), table


async def test_migrations_describe_the_current_tables():
    """A table change without its migration fails here (the auto-differ finds no changes)."""
    from piccolo.apps.migrations.commands.new import AutoMigrationManager

    statements = await AutoMigrationManager().get_alter_statements(app_config=APP_CONFIG)
    pending = [s for group in statements for s in group.statements]
    assert pending == [], "tables changed without a migration: run `piccolo migrations new xueshi --auto`"


async def test_migrating_twice_changes_nothing(xs_engine):
    from core import db

    await db.migrate()
    await db.migrate()
