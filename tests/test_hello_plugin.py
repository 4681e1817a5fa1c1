"""The example third-party plugin ``examples/hello_plugin`` (distribution ``carebiz-hello``),
loaded the way any third party's plugin is: through its distribution's entry point.

If ``carebiz-hello`` is installed (``pip install -e examples/hello_plugin``) that installation
is used. Otherwise the package is imported once per session from ``examples/hello_plugin``
and each test declares the distribution with a fake ``dist-info`` folder, so only these tests
see the plugin. Importing once matters: SQLAlchemy must not declare ``Greeting`` twice in the
shared ``Base``. The model staying declared afterwards is harmless: only the plugins an app
loads own tables in it (``table_owner``), and only owned tables are created or migrated.
"""

from __future__ import annotations

import importlib
import logging
import sys
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import flask_babel
import pytest
from flask import Flask
from sqlalchemy import func, inspect, select, text

from carebiz import db, migrate
from carebiz.demo import load_demo
from carebiz.errors import ValidationFailed
from carebiz.models import AuditEntry
from carebiz.plugins.discovery import discover
from carebiz.security import can
from carebiz.services import subsystems
from carebiz.services.settings import get as get_setting
from carebiz.services.users import create_user, get_user
from tests.conftest import PASSWORD, login, seed, token_for
from tests.support.dists import FakeDists

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "hello_plugin"
DIST = "carebiz-hello"
GREETINGS = "/api/v1/hello/greetings"


def _installed() -> bool:
    """Whether the real distribution is installed (checked before any fake one exists)."""
    try:
        distribution(DIST)
    except PackageNotFoundError:
        return False
    return True


INSTALLED = _installed()


# -- loading the plugin --------------------------------------------------------------------
@pytest.fixture(scope="session")
def hello_package() -> SimpleNamespace:
    """The plugin's modules, imported once for the whole session.

    The source folder is on ``sys.path`` only while importing, so nothing else in the session
    finds the package (or an ``.egg-info`` left there by an editable install) by accident;
    ``plugin`` imports every other module of the package, and templates, translations and
    migrations are found from the imported package's location."""
    if not INSTALLED:
        sys.path.insert(0, str(EXAMPLE))
        importlib.invalidate_caches()
    try:
        plugin = importlib.import_module("carebiz_hello.plugin")
    finally:
        if not INSTALLED:
            sys.path.remove(str(EXAMPLE))
    return SimpleNamespace(
        plugin=plugin,
        models=importlib.import_module("carebiz_hello.models"),
        services=importlib.import_module("carebiz_hello.services"),
        signals=importlib.import_module("carebiz_hello.signals"),
    )


@pytest.fixture
def hello(hello_package: SimpleNamespace, fake_dists: FakeDists) -> SimpleNamespace:
    """Make ``carebiz-hello`` an installed distribution for this test only."""
    if not INSTALLED:
        fake_dists.dist(DIST, {"hello": "carebiz_hello.plugin"}, version="0.1.0")
    return hello_package


@pytest.fixture
def hello_app(make_app: Callable[..., Flask], hello: SimpleNamespace) -> Flask:
    """The core with the hello plugin only: the plugin must work without any other."""
    return make_app(CAREBIZ_PLUGINS="hello")


@pytest.fixture
def world(hello_app: Flask) -> dict[str, Any]:
    """Branches A and B; admin, manager, sales (A), viewer (read-only, A), nobody (no role, A)."""
    data = seed(hello_app)
    with hello_app.app_context():
        sess = db.session()
        data["users"]["nobody"] = create_user(sess, "nobody", PASSWORD, branches=["A"]).id
        sess.commit()
    return data


# -- helpers -------------------------------------------------------------------------------
def bearer(app: Flask, username: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token_for(app, username)}"}


def add_greeting(app: Flask, hello: SimpleNamespace, branch_id: int, message: str,
                 customer_id: int | None = None, author: str = "admin") -> int:
    """Write a greeting through the service, as any caller outside HTTP would."""
    with app.app_context():
        sess = db.session()
        greeting = hello.services.create_greeting(
            sess, message=message, author=get_user(sess, author), branch_id=branch_id,
            customer_id=customer_id)
        sess.commit()
        return greeting.id


def logged_in(app: Flask, username: str, **headers: str) -> Any:
    client = app.test_client()
    if headers:
        client.environ_base.update({f"HTTP_{k.upper().replace('-', '_')}": v
                                    for k, v in headers.items()})
    assert login(client, username).status_code == 302
    return client


def count_rows(app: Flask, hello: SimpleNamespace) -> int:
    with app.app_context():
        return db.session().scalar(select(func.count()).select_from(hello.models.Greeting))


# -- the plugin is found, listed and on -------------------------------------------------------
def test_plugin_is_discovered_listed_and_enabled(hello_app: Flask, world: dict[str, Any]) -> None:
    found, problems = discover()[:2]
    assert found["hello"].distribution == DIST
    assert not [p for p in problems if "hello" in p]

    ext = hello_app.extensions["carebiz"]
    assert ext.host.names == ["hello"]
    assert ext.host.manifests["hello"].package == "carebiz_hello"
    assert ext.blueprint_owner["hello"] == ext.blueprint_owner["hello_api"] == "hello"
    assert ext.table_owner["hello_greeting"] == "hello"

    resp = hello_app.test_client().get("/api/v1/plugins", headers=bearer(hello_app, "admin"))
    assert resp.status_code == 200
    row = next(p for p in resp.get_json() if p["name"] == "hello")
    assert row["enabled"] is True
    assert row["version"] == "0.1.0"
    assert row["label"] == "Greetings"

    spec = hello_app.test_client().get("/api/v1/openapi.json").get_json()
    assert GREETINGS in spec["paths"]


def test_plugin_works_beside_every_installed_plugin(make_app: Callable[..., Flask],
                                                    hello: SimpleNamespace) -> None:
    """With everything installed: migrations of all histories, then the page and home."""
    app = make_app(schema=False)
    assert "hello" in app.extensions["carebiz"].host.names
    assert "hello" in migrate.upgrade(app)
    seed(app)
    client = logged_in(app, "sales")
    assert client.get("/hello/").status_code == 200
    assert b'data-menu="hello"' in client.get("/").data


# -- migrations ------------------------------------------------------------------------------
def test_migrations_create_the_table_and_match_the_models(make_app: Callable[..., Flask],
                                                          hello: SimpleNamespace) -> None:
    app = make_app(schema=False, CAREBIZ_PLUGINS="hello")
    assert migrate.upgrade(app) == ["core", "hello"]
    engine = app.extensions["carebiz"].engine
    tables = set(inspect(engine).get_table_names())
    assert {"hello_greeting", "alembic_version_hello"} <= tables
    assert migrate.current(app)["hello"] == ("hello_0001",)

    assert set(migrate.plugin_metadata(app, "hello").tables) == {"hello_greeting"}
    assert migrate.differences(app, "hello") == []
    # ... and the comparison does see hello's schema: drop an index, it is missed
    with engine.begin() as conn:
        conn.execute(text("DROP INDEX ix_hello_greeting_customer_id"))
    assert [d[0] for d in migrate.differences(app, "hello")] == ["add_index"]


# -- services --------------------------------------------------------------------------------
def test_service_reports_every_broken_rule_by_field(hello_app: Flask, world: dict[str, Any],
                                                    hello: SimpleNamespace) -> None:
    branch_b = world["branches"]["B"]
    with hello_app.app_context():
        sess = db.session()
        sales = get_user(sess, "sales")
        with pytest.raises(ValidationFailed) as info:
            hello.services.create_greeting(sess, message="   ", author=sales,
                                           branch_id=branch_b, customer_id=0)
        assert set(info.value.errors) == {"message", "branch_id", "customer_id"}
        with pytest.raises(ValidationFailed) as info:
            hello.services.create_greeting(sess, message="x" * 201, author=sales)
        assert set(info.value.errors) == {"message"}
        greeting = hello.services.create_greeting(sess, message="x" * 200, author=sales)
        assert greeting.branch_id == world["branches"]["A"]  # the only branch of sales
        assert greeting.author_id == sales.id


def test_event_is_audited_and_sent_after_commit_only(hello_app: Flask, world: dict[str, Any],
                                                    hello: SimpleNamespace,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="carebiz_hello")
    branch_a = world["branches"]["A"]
    with hello_app.app_context():
        sess = db.session()
        hello.services.create_greeting(sess, message="rolled back", branch_id=branch_a)
        sess.rollback()
    assert not [r for r in caplog.records if r.name == "carebiz_hello"]

    greeting_id = add_greeting(hello_app, hello, branch_a, "kept")
    assert [r.getMessage() for r in caplog.records if r.name == "carebiz_hello"] == [
        f"greeting {greeting_id} written in branch {branch_a}"]
    with hello_app.app_context():
        entry = db.session().scalar(select(AuditEntry).where(
            AuditEntry.event == "hello.greeting.created"))
        assert entry.entity_id == str(greeting_id)
        assert entry.branch_id == branch_a
        assert entry.actor_name == "system"


# -- the API ---------------------------------------------------------------------------------
def test_api_creates_and_lists_greetings(hello_app: Flask, world: dict[str, Any]) -> None:
    client = hello_app.test_client()
    headers = bearer(hello_app, "sales")
    resp = client.post(GREETINGS, json={"message": "  Hello  ", "customer_id": 7},
                       headers=headers)
    assert resp.status_code == 201, resp.get_json()
    created = resp.get_json()
    assert created["message"] == "Hello"
    assert created["branch_id"] == world["branches"]["A"]
    assert created["author_id"] == world["users"]["sales"]
    assert created["customer_id"] == 7
    client.post(GREETINGS, json={"message": "Second"}, headers=headers)

    body = client.get(GREETINGS, headers=headers).get_json()
    assert body["total"] == 2
    assert [g["message"] for g in body["items"]] == ["Second", "Hello"]
    only_7 = client.get(GREETINGS, query_string={"customer_id": 7}, headers=headers).get_json()
    assert [g["id"] for g in only_7["items"]] == [created["id"]]
    page = client.get(GREETINGS, query_string={"per_page": 1, "page": 2},
                      headers=headers).get_json()
    assert page["total"] == 2 and [g["message"] for g in page["items"]] == ["Hello"]


def test_api_names_the_field_of_an_invalid_greeting(hello_app: Flask,
                                                    world: dict[str, Any]) -> None:
    client = hello_app.test_client()
    headers = bearer(hello_app, "sales")
    resp = client.post(GREETINGS, json={"message": ""}, headers=headers)
    assert resp.status_code == 422
    assert set(resp.get_json()["errors"]) == {"message"}
    resp = client.post(GREETINGS, json={}, headers=headers)
    assert resp.status_code == 422
    assert "message" in resp.get_json()["errors"]
    resp = client.post(GREETINGS, json={"message": "Hi", "branch_id": world["branches"]["B"]},
                       headers=headers)
    assert resp.status_code == 422
    assert set(resp.get_json()["errors"]) == {"branch_id"}


def test_api_needs_the_permissions(hello_app: Flask, world: dict[str, Any]) -> None:
    client = hello_app.test_client()
    viewer = bearer(hello_app, "viewer")
    assert client.post(GREETINGS, json={"message": "Hi"}, headers=viewer).status_code == 403
    assert client.get(GREETINGS, headers=viewer).status_code == 200
    nobody = bearer(hello_app, "nobody")
    assert client.get(GREETINGS, headers=nobody).status_code == 403
    assert client.get(GREETINGS).status_code == 401


def test_branch_row_filter(hello_app: Flask, world: dict[str, Any],
                           hello: SimpleNamespace) -> None:
    in_b = add_greeting(hello_app, hello, world["branches"]["B"], "Greetings from B")
    in_a = add_greeting(hello_app, hello, world["branches"]["A"], "Greetings from A")
    client = hello_app.test_client()

    def ids(username: str) -> list[int]:
        body = client.get(GREETINGS, headers=bearer(hello_app, username)).get_json()
        assert body["total"] == len(body["items"])
        return [g["id"] for g in body["items"]]

    assert ids("sales") == [in_a]
    assert ids("admin") == [in_a, in_b]
    assert ids("manager") == [in_a, in_b]
    page = logged_in(hello_app, "sales").get("/hello/").get_data(as_text=True)
    assert "Greetings from A" in page and "Greetings from B" not in page


# -- the page, its menu item and the permission ------------------------------------------------
def test_page_lists_and_adds_greetings(hello_app: Flask, world: dict[str, Any]) -> None:
    client = logged_in(hello_app, "sales")
    assert b'data-menu="hello"' in client.get("/").data
    page = client.get("/hello/")
    assert page.status_code == 200
    assert b"No greetings yet." in page.data
    assert b"Your CareBusiness team" in page.data  # the hello.signature setting's default

    resp = client.post("/hello/", data={"message": "From the page",
                                        "branch_id": world["branches"]["A"]})
    assert resp.status_code == 302
    page = client.get("/hello/")
    assert b"From the page" in page.data and b"Greeting saved." in page.data

    resp = client.post("/hello/", data={"message": "", "branch_id": world["branches"]["A"]})
    assert resp.status_code == 422
    assert b"Write a message." in resp.data


def test_menu_page_and_form_follow_the_permissions(hello_app: Flask,
                                                   world: dict[str, Any]) -> None:
    nobody = logged_in(hello_app, "nobody")
    assert b'data-menu="hello"' not in nobody.get("/").data
    assert nobody.get("/hello/").status_code == 403

    viewer = logged_in(hello_app, "viewer")
    assert b'data-menu="hello"' in viewer.get("/").data
    page = viewer.get("/hello/")
    assert page.status_code == 200 and b"Write a greeting" not in page.data
    assert viewer.post("/hello/", data={"message": "No"}).status_code == 403

    anonymous = hello_app.test_client().get("/hello/")
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]


def test_permissions_are_registered_and_granted(hello_app: Flask,
                                                world: dict[str, Any]) -> None:
    with hello_app.test_request_context("/"):
        host = hello_app.extensions["carebiz"].host
        perms = {p.name: p for p in host.collect("permissions")}
        assert {"hello.view", "hello.greet"} <= set(perms)
        assert str(perms["hello.greet"].label) == "Write greetings"
        sess = db.session()
        expected = {"admin": (True, True), "manager": (True, True), "sales": (True, True),
                    "viewer": (True, False), "nobody": (False, False)}
        for username, rights in expected.items():
            user = get_user(sess, username)
            assert (can(user, "hello.view"), can(user, "hello.greet")) == rights, username


# -- the customer panel ----------------------------------------------------------------------
def test_customer_panel_shows_the_visible_greetings(hello_app: Flask, world: dict[str, Any],
                                                    hello: SimpleNamespace) -> None:
    add_greeting(hello_app, hello, world["branches"]["A"], "Hi seven from A", customer_id=7)
    add_greeting(hello_app, hello, world["branches"]["B"], "Hi seven from B", customer_id=7)
    add_greeting(hello_app, hello, world["branches"]["A"], "Hi eight", customer_id=8)
    host = hello_app.extensions["carebiz"].host
    customer = SimpleNamespace(id=7)

    def hello_panels(username: str) -> list[Any]:
        user = get_user(db.session(), username)
        panels = host.collect("customer_panels", session=db.session(), customer=customer,
                              user=user)
        return [p for p in panels if p.name == "hello"]

    with hello_app.test_request_context("/"):
        [panel] = hello_panels("sales")
        assert str(panel.title) == "Greetings"
        assert panel.summary == {"greetings": 1}
        assert "Hi seven from A" in panel.html
        assert "Hi seven from B" not in panel.html and "Hi eight" not in panel.html

        [panel] = hello_panels("admin")
        assert panel.summary == {"greetings": 2}
        assert "Hi seven from B" in panel.html

        assert hello_panels("nobody") == []

    with hello_app.test_request_context("/"):
        empty = host.collect("customer_panels", session=db.session(),
                             customer=SimpleNamespace(id=99),
                             user=get_user(db.session(), "sales"))
        [panel] = [p for p in empty if p.name == "hello"]
        assert panel.summary == {"greetings": 0}
        assert "No greetings for this customer." in panel.html


# -- translation -----------------------------------------------------------------------------
def test_chinese_translation_of_the_plugin(hello_app: Flask, world: dict[str, Any],
                                           hello: SimpleNamespace) -> None:
    by_header = logged_in(hello_app, "sales", **{"Accept-Language": "zh-CN"})
    page = by_header.get("/hello/").get_data(as_text=True)
    assert "问候语" in page and "写问候语" in page
    assert 'data-menu="hello">问候语<' in by_header.get("/").get_data(as_text=True)

    with hello_app.app_context():
        sess = db.session()
        get_user(sess, "manager").locale = "zh_CN"
        sess.commit()
    by_profile = logged_in(hello_app, "manager")
    assert "问候语" in by_profile.get("/hello/").get_data(as_text=True)

    resp = hello_app.test_client().post(
        GREETINGS, json={"message": ""},
        headers={**bearer(hello_app, "sales"), "Accept-Language": "zh-CN"})
    assert resp.get_json()["errors"]["message"] == ["请填写内容。"]

    label = hello.plugin.manifest.label
    with hello_app.test_request_context("/", headers={"Accept-Language": "zh-CN"}):
        assert flask_babel.gettext("Greetings") == "问候语"
        assert str(label) == "问候语"
    with hello_app.test_request_context("/", headers={"Accept-Language": "en"}):
        assert str(label) == "Greetings"


# -- settings and demo data ------------------------------------------------------------------
def test_setting_and_demo_data(hello_app: Flask, hello: SimpleNamespace) -> None:
    with hello_app.app_context():
        host = hello_app.extensions["carebiz"].host
        assert get_setting(db.session(), host, "hello.signature") == "Your CareBusiness team"
    load_demo(hello_app)
    load_demo(hello_app)  # safe to run twice
    with hello_app.app_context():
        rows = db.session().scalars(select(hello.models.Greeting)).all()
        assert len(rows) == 2
        assert len({g.branch_id for g in rows}) == 1
        assert all(g.author_id is not None for g in rows)


# -- switching the plugin off and on -----------------------------------------------------------
def test_switching_off_hides_everything_and_keeps_the_data(hello_app: Flask,
                                                           world: dict[str, Any],
                                                           hello: SimpleNamespace) -> None:
    add_greeting(hello_app, hello, world["branches"]["A"], "Still here", customer_id=7)
    host = hello_app.extensions["carebiz"].host
    headers = bearer(hello_app, "sales")
    client = logged_in(hello_app, "sales")
    api = hello_app.test_client()

    def switch(enabled: bool) -> list[str]:
        with hello_app.app_context():
            sess = db.session()
            changed = subsystems.switch(sess, host, "hello", enabled, "test")
            sess.commit()
            return changed

    def panel_names() -> list[str]:
        with hello_app.test_request_context("/"):
            user = get_user(db.session(), "sales")
            return [p.name for p in host.collect("customer_panels", session=db.session(),
                                                 customer=SimpleNamespace(id=7), user=user)]

    assert switch(False) == ["hello"]
    assert client.get("/hello/").status_code == 404
    assert client.post("/hello/", data={"message": "No"}).status_code == 404
    assert api.get(GREETINGS, headers=headers).status_code == 404
    assert api.post(GREETINGS, json={"message": "No"}, headers=headers).status_code == 404
    assert b'data-menu="hello"' not in client.get("/").data
    assert "hello" not in panel_names()
    with hello_app.test_request_context("/"):
        assert not can(get_user(db.session(), "sales"), "hello.view")
    assert count_rows(hello_app, hello) == 1  # the data stays

    assert switch(True) == ["hello"]
    body = api.get(GREETINGS, headers=headers).get_json()
    assert [g["message"] for g in body["items"]] == ["Still here"]
    assert b"Still here" in client.get("/hello/").data
    assert b'data-menu="hello"' in client.get("/").data
    assert "hello" in panel_names()
