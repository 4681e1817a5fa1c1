"""The plugin's skeleton: it loads alone, its migrations build exactly its models, and
its permissions are what the roles need."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask

from carebiz import migrate


def test_migrations_equal_models(make_app: Callable[..., Flask]) -> None:
    app = make_app(schema=False, CAREBIZ_PLUGINS="gps")
    with app.app_context():
        migrate.upgrade(app)
        assert migrate.differences(app, "gps") == []


def test_permissions_cut_off_granted_to_nobody(app: Flask) -> None:
    host = app.extensions["carebiz"].host
    perms = {p.name: p for p in host.collect("permissions")}
    assert {"gps.view", "gps.manage", "gps.commands"} <= set(perms)
    assert perms["gps.commands"].default_roles == ()
