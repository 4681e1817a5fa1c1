"""Migrations produce exactly the models' schema, per plugin history, on SQLite and (when
CAREBIZ_TEST_DATABASE_URL is set) on PostgreSQL."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from carebiz import migrate


def schema_diff(app, plugin):
    engine = app.extensions["carebiz"].engine
    table = app.extensions["carebiz"].host.manifests[plugin].version_table
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={
            "compare_type": True, "version_table": table,
            "include_object": lambda obj, name, type_, reflected, compare_to: (
                type_ != "table" or name in app.extensions["carebiz"].table_owner
                and app.extensions["carebiz"].table_owner[name] == plugin)})
        return compare_metadata(ctx, migrate.plugin_metadata(app, plugin))


def test_core_migrations_match_models(make_app):
    app = make_app(schema=False, CAREBIZ_PLUGINS="none")
    assert migrate.upgrade(app) == ["core"]
    assert schema_diff(app, "core") == []
    tables = set(inspect(app.extensions["carebiz"].engine).get_table_names())
    assert {"alembic_version", "user_account", "branch", "audit_entry", "job"} <= tables
    assert migrate.current(app) == {"core": ("core_0001",)}
    assert migrate.upgrade(app) == ["core"]  # idempotent


def test_constraint_names_follow_the_convention(make_app):
    app = make_app(schema=False, CAREBIZ_PLUGINS="none")
    migrate.upgrade(app)
    insp = inspect(app.extensions["carebiz"].engine)
    fks = {fk["name"] for fk in insp.get_foreign_keys("api_token")}
    assert "fk_api_token_user_id_user_account" in fks
    uniques = {u["name"] for u in insp.get_unique_constraints("branch")}
    assert "uq_branch_code" in uniques


def test_upgrade_refuses_plugin_models_without_history(sample_app):
    with pytest.raises(migrate.MissingMigrations, match="sample"):
        migrate.upgrade(sample_app)


def test_cli_db_upgrade(make_app):
    from carebiz.cli import main

    app = make_app(schema=False, CAREBIZ_PLUGINS="none")
    result = app.test_cli_runner().invoke(main, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert "upgraded core" in result.output
    result = app.test_cli_runner().invoke(main, ["db", "current"])
    assert "core: core_0001" in result.output
