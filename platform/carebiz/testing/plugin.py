"""pytest fixtures for CareBusiness apps, registered through the ``pytest11`` entry point.

Every test gets a fresh app and an empty database with the installed plugins' tables. Making
the tables is the slow part (≈0.1 s on SQLite, ≈0.4 s on PostgreSQL per test), so it happens
once per set of tables and test process: on SQLite the schema is built into a template file
that each test copies; on PostgreSQL the schema stays and each test starts by truncating it.
A test that asks for ``make_app(schema=False)`` gets a database with nothing in it at all.

With pytest-xdist each worker process uses its own PostgreSQL database (``<name>_<worker>``,
created when missing), so workers never wipe each other's data.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from carebiz.testing import (
    PASSWORD,
    app_tables,
    create_schema,
    login,
    reset_postgres,
    seed,
    token_for,
)
from carebiz.testing.browser import browser, live_server, page
from carebiz.testing.clients import isolate_requests
from carebiz.testing.dists import FakeDists

#: the browser-test fixtures, defined once for every test folder (see carebiz.testing.browser)
BROWSER_FIXTURES = (browser, live_server, page)

PG_URL_VARIABLE = "CAREBIZ_TEST_DATABASE_URL"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "postgres: needs CAREBIZ_TEST_DATABASE_URL pointing at "
                                       "PostgreSQL")
    config.addinivalue_line("markers", "redis: needs a Redis server")


def _worker_url(url: str) -> str:
    """Under pytest-xdist, a database of this worker's own beside the one named."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker:
        return url
    parsed = make_url(url)
    name = f"{parsed.database}_{worker}"
    admin = create_engine(parsed, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if not conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}):
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return parsed.set(database=name).render_as_string(hide_password=False)


class _Schemas:
    """Per test process: template SQLite files, and what the PostgreSQL database holds."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.templates: dict[tuple[str, ...], Path] = {}
        #: the table set the PostgreSQL schema was built for (None: unknown, rebuild)
        self.pg_tables: tuple[str, ...] | None = None

    def sqlite(self, app: Flask, path: Path) -> None:
        key = tuple(t.name for t in app_tables(app))
        template = self.templates.get(key)
        if template is None:
            template = self.folder / f"template-{len(self.templates)}.db"
            engine = create_engine(f"sqlite:///{template}")
            from carebiz.db import Base

            Base.metadata.create_all(engine, tables=app_tables(app))
            engine.dispose()
            self.templates[key] = template
        app.extensions["carebiz"].engine.dispose()
        for suffix in ("-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        shutil.copyfile(template, path)

    def postgres(self, app: Flask, url: str) -> None:
        tables = app_tables(app)
        key = tuple(t.name for t in tables)
        engine = app.extensions["carebiz"].engine
        if key == self.pg_tables:
            present = inspect(engine).get_table_names()
            if set(key) <= set(present):
                names = ", ".join(f'"{n}"' for n in present)
                with engine.begin() as conn:
                    conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
                return
        engine.dispose()
        reset_postgres(url)
        create_schema(app)
        self.pg_tables = key

    def forget_postgres(self) -> None:
        self.pg_tables = None


@pytest.fixture(scope="session")
def _carebiz_schemas(tmp_path_factory: pytest.TempPathFactory) -> _Schemas:
    return _Schemas(tmp_path_factory.mktemp("carebiz-templates"))


@pytest.fixture(scope="session")
def _carebiz_pg_url() -> str | None:
    url = os.environ.get(PG_URL_VARIABLE)
    return _worker_url(url) if url else None


@pytest.fixture(autouse=True, scope="session")
def cheap_password_hashes() -> Iterator[None]:
    """scrypt costs ~50 ms per hash by design; tests hash hundreds of passwords."""
    from carebiz.services import users

    users.PASSWORD_METHOD = "pbkdf2:sha256:1"
    users._dummy_hash.cache_clear()
    yield
    users.PASSWORD_METHOD = "scrypt"


@pytest.fixture
def fake_dists(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeDists]:
    """Installs plugins for this test through real entry-point discovery:
    ``fake_dists.dist("carebiz-wash", {"wash": "my_tests.wash.plugin"})`` (a package on the
    path), or ``fake_dists.module(...)`` to write one; then ``make_app(CAREBIZ_PLUGINS="wash")``.
    The modules it wrote are forgotten afterwards."""
    dists = FakeDists(tmp_path / "site", monkeypatch)
    yield dists
    dists.forget_modules()


@pytest.fixture
def database_url(tmp_path: Path, _carebiz_pg_url: str | None,
                 _carebiz_schemas: _Schemas) -> str:
    """SQLite file of this test, or the (worker's) PostgreSQL database."""
    if _carebiz_pg_url:
        return _carebiz_pg_url
    return f"sqlite:///{tmp_path / 'test.db'}"


@pytest.fixture
def make_app(tmp_path: Path, database_url: str,
             _carebiz_schemas: _Schemas) -> Iterator[Callable[..., Flask]]:
    """``make_app(schema=True, **config)`` builds an app for this test (all installed plugins
    unless ``CAREBIZ_PLUGINS`` says otherwise); ``schema=False`` leaves the database empty.
    Several apps of one test share its database, as several workers do."""
    apps: list[Flask] = []
    provisioned = False

    def factory(schema: bool = True, **config: Any) -> Flask:
        nonlocal provisioned
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
        from carebiz import create_app

        app: Flask = isolate_requests(create_app(settings))
        url = str(settings["CAREBIZ_DATABASE_URL"])
        postgres = url.startswith("postgresql")
        if not provisioned:
            provisioned = True
            if postgres and not schema:
                app.extensions["carebiz"].engine.dispose()
                reset_postgres(url)
                _carebiz_schemas.forget_postgres()
            elif postgres:
                _carebiz_schemas.postgres(app, url)
            elif schema and url.startswith("sqlite:///") and url != "sqlite:///:memory:":
                _carebiz_schemas.sqlite(app, Path(url.removeprefix("sqlite:///")))
            elif schema:
                create_schema(app)
        elif schema:
            create_schema(app)  # a second app of the test: add any tables it has more
        if postgres and not schema:
            _carebiz_schemas.forget_postgres()  # the test will build its own tables
        apps.append(app)
        return app

    yield factory
    for app in apps:
        app.extensions["carebiz"].engine.dispose()


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    """An app with every installed plugin and an empty schema."""
    return make_app()


@pytest.fixture
def session(app: Flask) -> Iterator[Any]:
    """A database session of ``app`` inside its app context."""
    with app.app_context():
        sess = app.extensions["carebiz"].session_factory()
        yield sess
        sess.close()


@pytest.fixture
def seeded(app: Flask) -> dict[str, Any]:
    """The standard business of :func:`carebiz.testing.seed` in ``app``'s database."""
    return seed(app)


@pytest.fixture
def client_for(app: Flask, seeded: dict[str, Any]) -> Callable[[str], Any]:
    """``client_for("sales")``: a test client logged in as that seeded user."""

    def factory(username: str, password: str = PASSWORD) -> Any:
        client = app.test_client()
        resp = login(client, username, password)
        assert resp.status_code == 302, f"login as {username} failed: {resp.status_code}"
        return client

    return factory


@pytest.fixture
def admin_client(client_for: Callable[[str], Any]) -> Any:
    """A test client logged in as the seeded ``admin``."""
    return client_for("admin")


class ApiClient:
    """A test client that sends ``Authorization: Bearer <token>`` on every call."""

    def __init__(self, app: Flask, token: str):
        self.client = app.test_client()
        self.token = token

    def open(self, method: str, path: str, **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.token}", **kwargs.pop("headers", {})}
        return self.client.open(path, method=method, headers=headers, **kwargs)

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.open("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Any:
        return self.open("POST", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> Any:
        return self.open("PATCH", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> Any:
        return self.open("PUT", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Any:
        return self.open("DELETE", path, **kwargs)


@pytest.fixture
def api_client(app: Flask, seeded: dict[str, Any]) -> Callable[[str], ApiClient]:
    """``api_client("admin")``: an API client with a fresh token of that seeded user."""

    def factory(username: str = "admin") -> ApiClient:
        return ApiClient(app, token_for(app, username))

    return factory
