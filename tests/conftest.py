"""Fixtures: a fresh app and database per test, on SQLite by default and on PostgreSQL when
``CAREBIZ_TEST_DATABASE_URL`` is set."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import create_engine, text

from carebiz import create_app
from carebiz.db import Base
from tests.support.dists import FakeDists

PG_URL = os.environ.get("CAREBIZ_TEST_DATABASE_URL")
PASSWORD = "correct-horse-1"


def reset_postgres(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(autouse=True, scope="session")
def cheap_password_hashes() -> Iterator[None]:
    """scrypt costs ~50 ms per hash by design; tests hash hundreds of passwords."""
    from carebiz.services import users

    users.PASSWORD_METHOD = "pbkdf2:sha256:1"
    users._dummy_hash.cache_clear()
    yield
    users.PASSWORD_METHOD = "scrypt"


@pytest.fixture
def database_url(tmp_path: Any) -> str:
    if PG_URL:
        reset_postgres(PG_URL)
        return PG_URL
    return f"sqlite:///{tmp_path / 'test.db'}"


def create_schema(app: Flask) -> None:
    """Create the installed plugins' tables (migrations are tested on their own)."""
    ext = app.extensions["carebiz"]
    tables = [t for t in Base.metadata.sorted_tables if t.name in ext.table_owner]
    Base.metadata.create_all(ext.engine, tables=tables)


@pytest.fixture
def make_app(tmp_path: Any, database_url: str) -> Iterator[Callable[..., Flask]]:
    """Build apps for this test; ``schema=False`` leaves the database empty."""
    apps: list[Flask] = []

    def factory(schema: bool = True, **config: Any) -> Flask:
        settings = {
            "TESTING": True,
            "WTF_CSRF_ENABLED": False,
            "CAREBIZ_INSTANCE_PATH": str(tmp_path / "instance"),
            "CAREBIZ_DATABASE_URL": database_url,
            "CAREBIZ_JOB_QUEUE": "inline",
            "CAREBIZ_PLUGINS": "all",
            "SECRET_KEY": "test-secret",
        }
        settings.update(config)
        app = create_app(settings)
        if schema:
            create_schema(app)
        apps.append(app)
        return app

    yield factory
    for app in apps:
        app.extensions["carebiz"].engine.dispose()


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    return make_app()


@pytest.fixture
def session(app: Flask) -> Iterator[Any]:
    with app.app_context():
        sess = app.extensions["carebiz"].session_factory()
        yield sess
        sess.close()


@pytest.fixture
def fake_dists(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeDists]:
    dists = FakeDists(tmp_path / "site", monkeypatch)
    yield dists
    dists.forget_modules()


def seed(app: Flask) -> dict[str, Any]:
    """Roles, two branches and users: admin, manager (all branches), and a salesperson and
    a read-only user in branch A."""
    from carebiz.services.branches import save_branch
    from carebiz.services.roles import sync_roles
    from carebiz.services.users import create_user

    ext = app.extensions["carebiz"]
    with app.app_context(), ext.session_factory() as sess:
        sync_roles(sess, ext.host.collect("permissions"))
        a = save_branch(sess, None, code="A", name="Branch A")
        b = save_branch(sess, None, code="B", name="Branch B")
        users = {
            "admin": create_user(sess, "admin", PASSWORD, roles=["admin"], all_branches=True),
            "manager": create_user(sess, "manager", PASSWORD, roles=["manager"],
                                   all_branches=True),
            "sales": create_user(sess, "sales", PASSWORD, roles=["salesperson"],
                                 branches=["A"]),
            "viewer": create_user(sess, "viewer", PASSWORD, roles=["read_only"],
                                  branches=["A"]),
        }
        sess.commit()
        return {"branches": {"A": a.id, "B": b.id},
                "users": {k: u.id for k, u in users.items()}}


@pytest.fixture
def seeded(app: Flask) -> dict[str, Any]:
    return seed(app)


def login(client: Any, username: str, password: str = PASSWORD) -> Any:
    return client.post("/login", data={"username": username, "password": password})


@pytest.fixture
def admin_client(app: Flask, seeded: dict[str, Any]) -> Any:
    client = app.test_client()
    resp = login(client, "admin")
    assert resp.status_code == 302, resp.data
    return client


def token_for(app: Flask, username: str) -> str:
    from carebiz.services.tokens import create_token
    from carebiz.services.users import get_user

    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        _token, secret = create_token(sess, get_user(sess, username), "test")
        sess.commit()
        return secret



@pytest.fixture
def sample_app(fake_dists: FakeDists, make_app: Callable[..., Flask]) -> Flask:
    """An app with the sample plugin (it implements every hook) installed through a fake
    distribution, i.e. through real entry-point discovery."""
    fake_dists.dist("carebiz-sample", {"sample": "tests.sample_plugin.plugin"})
    # selected by name: plugins installed in the environment must not change what tests see
    return make_app(CAREBIZ_PLUGINS="sample")


@pytest.fixture
def sample_seeded(sample_app: Flask) -> dict[str, Any]:
    return seed(sample_app)
