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
    assert migrate.current(app) == {"core": ("core_0013_notice_about",)}
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
    assert "core: core_0013_notice_about" in result.output


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


def test_0011_plate_only_vehicles_and_the_new_permissions(make_app):
    """Existing roles but the read-only one keep exporting and creating tokens (they could
    before the permissions existed); the VIN becomes optional, and going back refuses while a
    vehicle has none."""
    from alembic import command

    from carebiz.crm.models import Vehicle
    from carebiz.models import Branch

    app = make_app(schema=False, CAREBIZ_PLUGINS="none")
    migrate.upgrade(app, "core_0010_search")
    engine = app.extensions["carebiz"].engine
    with engine.begin() as conn:
        for name in ("admin", "salesperson", "read_only", "cashier"):  # cashier: a custom role
            conn.execute(text("INSERT INTO role (name, label, superuser, builtin, created_at, "
                              "updated_at) VALUES (:n, :n, :s, :b, :t, :t)"),
                         {"n": name, "s": name == "admin", "b": name != "cashier",
                          "t": "2026-01-01 00:00:00+00:00"})
        conn.execute(text("INSERT INTO role_permission (role_id, permission) SELECT id, "
                          "'data.export' FROM role WHERE name = 'cashier'"))  # granted already
    migrate.upgrade(app)
    assert migrate.current(app) == {"core": ("core_0013_notice_about",)}
    with engine.connect() as conn:
        grants = set(conn.execute(text(
            "SELECT r.name, g.permission FROM role_permission g JOIN role r ON r.id = g.role_id")))
    new = {"data.export", "api.tokens"}
    assert grants == {(role, p) for role in ("admin", "salesperson", "cashier") for p in new}
    columns = {c["name"]: c for c in inspect(engine).get_columns("vehicle")}
    assert columns["vin"]["nullable"] is True
    uniques = {u["name"] for u in inspect(engine).get_unique_constraints("vehicle")}
    assert "uq_vehicle_vin" in uniques
    assert migrate.differences(app, "core") == []

    with engine.begin() as conn:
        added = conn.execute(Branch.__table__.insert().values(code="A", name="A"))
        branch = added.inserted_primary_key[0]
        for plate in ("京A12345", "京A12346"):  # two NULL VINs do not collide
            conn.execute(Vehicle.__table__.insert().values(plate=plate, branch_id=branch))

    with engine.begin() as conn:  # the later revisions first, in a transaction of their own
        command.downgrade(migrate.alembic_config(app, "core", conn),
                          "core_0011_plate_only_vehicles")

    def downgrade() -> None:
        with engine.begin() as conn:
            command.downgrade(migrate.alembic_config(app, "core", conn),
                              "core_0010_search")

    with pytest.raises(RuntimeError, match="2 vehicles have no VIN"):
        downgrade()
    with engine.begin() as conn:
        conn.execute(text("UPDATE vehicle SET vin = 'V' || id"))
    downgrade()
    assert migrate.current(app) == {"core": ("core_0010_search",)}
    columns = {c["name"]: c for c in inspect(engine).get_columns("vehicle")}
    assert columns["vin"]["nullable"] is False
    with engine.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM role_permission")).scalar() == 0
