"""Migrations produce exactly the models' schema, per plugin history, on SQLite and (when
CAREBIZ_TEST_DATABASE_URL is set) on PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect, text

from carebiz import migrate


def test_core_migrations_match_models(make_app):
    app = make_app(schema=False, CAREBIZ_PLUGINS="none")
    assert migrate.upgrade(app) == ["core"]
    assert migrate.differences(app, "core") == []
    tables = set(inspect(app.extensions["carebiz"].engine).get_table_names())
    assert {"alembic_version", "user_account", "branch", "audit_entry", "job"} <= tables
    assert migrate.current(app) == {"core": ("core_0010_search",)}
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
    assert "core: core_0010_search" in result.output


def test_db_check_notices_a_schema_drift(make_app):
    from carebiz.cli import main

    app = make_app(schema=False, CAREBIZ_PLUGINS="none")
    migrate.upgrade(app)
    result = app.test_cli_runner().invoke(main, ["db", "check"])
    assert result.exit_code == 0 and "core: matches its models" in result.output
    with app.extensions["carebiz"].engine.begin() as conn:
        conn.execute(text("DROP INDEX ix_job_task"))
    result = app.test_cli_runner().invoke(main, ["db", "check"])
    assert result.exit_code == 1 and "1 differences" in result.output
    assert "ix_job_task" in result.output
