"""Tests of the example plugin, written as a third-party author writes them: with the
``carebiz.testing`` fixtures (``app``, ``session``, ``seeded``, ``client_for``,
``api_client``) and factories, and the two fixtures of ``conftest.py`` beside this file
(``hello``: the plugin installed; ``app``: the core with hello only)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import flask_babel
import pytest
from flask import Flask
from sqlalchemy import func, inspect, select, text
from sqlalchemy.orm import Session

from carebiz import db, migrate
from carebiz.crm.services.merge import merge_parties
from carebiz.demo import load_demo
from carebiz.errors import ValidationFailed
from carebiz.models import AuditEntry
from carebiz.plugins.discovery import discover
from carebiz.security import can
from carebiz.services import subsystems
from carebiz.services.settings import get as get_setting
from carebiz.services.users import get_user
from carebiz.testing import login, make_customer, seed

DIST = "carebiz-hello"
GREETINGS = "/api/v1/hello/greetings"

Clients = Callable[..., Any]


# -- helpers -------------------------------------------------------------------------------
def add_greeting(app: Flask, hello: SimpleNamespace, branch_id: int, message: str,
                 customer_id: int | None = None, author: str = "admin") -> int:
    """Write a greeting through the service, as any caller outside HTTP would."""
    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        greeting = hello.services.create_greeting(
            sess, message=message, author=get_user(sess, author), branch_id=branch_id,
            customer_id=customer_id)
        sess.commit()
        return int(greeting.id)


def count_rows(app: Flask, hello: SimpleNamespace) -> int:
    with app.app_context():
        return int(db.session().scalar(select(func.count())
                                       .select_from(hello.models.Greeting)) or 0)


# -- the plugin is found, listed and on -------------------------------------------------------
def test_plugin_is_discovered_listed_and_enabled(app: Flask, api_client: Clients) -> None:
    found, problems = discover()[:2]
    assert found["hello"].distribution == DIST
    assert not [p for p in problems if "hello" in p]

    ext = app.extensions["carebiz"]
    assert ext.host.names == ["hello"]
    assert ext.host.manifests["hello"].package == "carebiz_hello"
    assert ext.blueprint_owner["hello"] == ext.blueprint_owner["hello_api"] == "hello"
    assert ext.table_owner["hello_greeting"] == "hello"

    resp = api_client("admin").get("/api/v1/plugins")
    assert resp.status_code == 200
    row = next(p for p in resp.get_json() if p["name"] == "hello")
    assert row["enabled"] is True
    assert row["version"] == "0.1.0"
    assert row["label"] == "Greetings"

    spec = app.test_client().get("/api/v1/openapi.json").get_json()
    assert GREETINGS in spec["paths"]


def test_plugin_works_beside_every_installed_plugin(make_app: Callable[..., Flask],
                                                    hello: SimpleNamespace) -> None:
    """With everything installed: migrations of all histories, then the page and home."""
    app = make_app(schema=False)
    assert "hello" in app.extensions["carebiz"].host.names
    assert "hello" in migrate.upgrade(app)
    seed(app)
    client = app.test_client()
    assert login(client, "sales").status_code == 302
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
def test_service_reports_every_broken_rule_by_field(session: Session, seeded: dict[str, Any],
                                                    hello: SimpleNamespace) -> None:
    sales = get_user(session, "sales")
    with pytest.raises(ValidationFailed) as info:
        hello.services.create_greeting(session, message="   ", author=sales,
                                       branch_id=seeded["branches"]["B"], customer_id=0)
    assert set(info.value.errors) == {"message", "branch_id", "customer_id"}
    with pytest.raises(ValidationFailed) as info:
        hello.services.create_greeting(session, message="x" * 201, author=sales)
    assert set(info.value.errors) == {"message"}
    greeting = hello.services.create_greeting(session, message="x" * 200, author=sales)
    assert greeting.branch_id == seeded["branches"]["A"]  # the only branch of sales
    assert greeting.author_id == sales.id


def test_event_is_audited_and_sent_after_commit_only(app: Flask, session: Session,
                                                    seeded: dict[str, Any],
                                                    hello: SimpleNamespace,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="carebiz_hello")
    branch_a = seeded["branches"]["A"]
    hello.services.create_greeting(session, message="rolled back", branch_id=branch_a)
    session.rollback()
    assert not [r for r in caplog.records if r.name == "carebiz_hello"]

    greeting_id = add_greeting(app, hello, branch_a, "kept")
    assert [r.getMessage() for r in caplog.records if r.name == "carebiz_hello"] == [
        f"greeting {greeting_id} written in branch {branch_a}"]
    entry = session.scalar(select(AuditEntry).where(AuditEntry.event == "hello.greeting.created"))
    assert entry is not None
    assert entry.entity_id == str(greeting_id)
    assert entry.branch_id == branch_a
    assert entry.actor_name == "system"


# -- the API ---------------------------------------------------------------------------------
def test_api_creates_and_lists_greetings(seeded: dict[str, Any], api_client: Clients) -> None:
    api = api_client("sales")
    resp = api.post(GREETINGS, json={"message": "  Hello  ", "customer_id": 7})
    assert resp.status_code == 201, resp.get_json()
    created = resp.get_json()
    assert created["message"] == "Hello"
    assert created["branch_id"] == seeded["branches"]["A"]
    assert created["author_id"] == seeded["users"]["sales"]
    assert created["customer_id"] == 7
    api.post(GREETINGS, json={"message": "Second"})

    body = api.get(GREETINGS).get_json()
    assert body["total"] == 2
    assert [g["message"] for g in body["items"]] == ["Second", "Hello"]
    only_7 = api.get(GREETINGS, query_string={"customer_id": 7}).get_json()
    assert [g["id"] for g in only_7["items"]] == [created["id"]]
    page = api.get(GREETINGS, query_string={"per_page": 1, "page": 2}).get_json()
    assert page["total"] == 2 and [g["message"] for g in page["items"]] == ["Hello"]


def test_api_names_the_field_of_an_invalid_greeting(seeded: dict[str, Any],
                                                    api_client: Clients) -> None:
    api = api_client("sales")
    resp = api.post(GREETINGS, json={"message": ""})
    assert resp.status_code == 422
    assert set(resp.get_json()["errors"]) == {"message"}
    resp = api.post(GREETINGS, json={})
    assert resp.status_code == 422
    assert "message" in resp.get_json()["errors"]
    resp = api.post(GREETINGS, json={"message": "Hi", "branch_id": seeded["branches"]["B"]})
    assert resp.status_code == 422
    assert set(resp.get_json()["errors"]) == {"branch_id"}


def test_api_needs_the_permissions(app: Flask, nobody: int, api_client: Clients) -> None:
    viewer = api_client("viewer")
    assert viewer.post(GREETINGS, json={"message": "Hi"}).status_code == 403
    assert viewer.get(GREETINGS).status_code == 200
    assert api_client("nobody").get(GREETINGS).status_code == 403
    assert app.test_client().get(GREETINGS).status_code == 401


def test_branch_row_filter(app: Flask, seeded: dict[str, Any], hello: SimpleNamespace,
                           api_client: Clients, client_for: Clients) -> None:
    in_b = add_greeting(app, hello, seeded["branches"]["B"], "Greetings from B")
    in_a = add_greeting(app, hello, seeded["branches"]["A"], "Greetings from A")

    def ids(username: str) -> list[int]:
        body = api_client(username).get(GREETINGS).get_json()
        assert body["total"] == len(body["items"])
        return [g["id"] for g in body["items"]]

    assert ids("sales") == [in_a]
    assert ids("admin") == [in_a, in_b]
    assert ids("manager") == [in_a, in_b]
    sales = client_for("sales")
    page = sales.get("/hello/").get_data(as_text=True)
    assert "Greetings from A" in page and "Greetings from B" not in page
    assert sales.get(f"/hello/{in_a}").status_code == 200
    assert sales.get(f"/hello/{in_b}").status_code == 404  # not in a branch sales sees


# -- the page, its menu item and the permission ------------------------------------------------
def test_page_lists_and_adds_greetings(seeded: dict[str, Any], client_for: Clients) -> None:
    client = client_for("sales")
    assert b'data-menu="hello"' in client.get("/").data
    page = client.get("/hello/")
    assert page.status_code == 200
    assert b"No greetings yet." in page.data
    assert b"Your CareBusiness team" in page.data  # the hello.signature setting's default

    resp = client.post("/hello/", data={"message": "From the page",
                                        "branch_id": seeded["branches"]["A"]})
    assert resp.status_code == 302
    page = client.get("/hello/")
    assert b"From the page" in page.data and b"Greeting saved." in page.data

    resp = client.post("/hello/", data={"message": "", "branch_id": seeded["branches"]["A"]})
    assert resp.status_code == 422
    assert b"Write a message." in resp.data


def test_menu_page_and_form_follow_the_permissions(app: Flask, nobody: int,
                                                   client_for: Clients) -> None:
    without_role = client_for("nobody")
    assert b'data-menu="hello"' not in without_role.get("/").data
    assert without_role.get("/hello/").status_code == 403

    viewer = client_for("viewer")
    assert b'data-menu="hello"' in viewer.get("/").data
    page = viewer.get("/hello/")
    assert page.status_code == 200 and b"Write a greeting" not in page.data
    assert viewer.post("/hello/", data={"message": "No"}).status_code == 403

    anonymous = app.test_client().get("/hello/")
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]


def test_permissions_are_registered_and_granted(app: Flask, nobody: int) -> None:
    with app.test_request_context("/"):
        host = app.extensions["carebiz"].host
        perms = {p.name: p for p in host.collect("permissions")}
        assert {"hello.view", "hello.greet"} <= set(perms)
        assert str(perms["hello.greet"].label) == "Write greetings"
        sess = db.session()
        expected = {"admin": (True, True), "manager": (True, True), "sales": (True, True),
                    "viewer": (True, False), "nobody": (False, False)}
        for username, rights in expected.items():
            user = get_user(sess, username)
            assert (can(user, "hello.view"), can(user, "hello.greet")) == rights, username


# -- the record page -------------------------------------------------------------------------
def test_audit_entries_link_to_the_greeting_by_its_label(app: Flask, seeded: dict[str, Any],
                                                         hello: SimpleNamespace,
                                                         client_for: Clients) -> None:
    greeting_id = add_greeting(app, hello, seeded["branches"]["A"], "Linked")
    page = client_for("admin").get("/admin/audit").get_data(as_text=True)
    assert f'href="/hello/{greeting_id}"' in page
    assert f"Greeting {greeting_id}" in page and f"hello_greeting {greeting_id}" not in page
    greeting = client_for("sales").get(f"/hello/{greeting_id}").get_data(as_text=True)
    assert "Linked" in greeting and f"Greeting {greeting_id}" in greeting


# -- the customer panel and merging customers --------------------------------------------------
def test_customer_panel_shows_the_visible_greetings(app: Flask, seeded: dict[str, Any],
                                                    nobody: int,
                                                    hello: SimpleNamespace) -> None:
    add_greeting(app, hello, seeded["branches"]["A"], "Hi seven from A", customer_id=7)
    add_greeting(app, hello, seeded["branches"]["B"], "Hi seven from B", customer_id=7)
    add_greeting(app, hello, seeded["branches"]["A"], "Hi eight", customer_id=8)
    host = app.extensions["carebiz"].host

    def hello_panels(username: str, customer_id: int = 7) -> list[Any]:
        sess = db.session()
        panels = host.collect("customer_panels", session=sess,
                              customer=SimpleNamespace(id=customer_id),
                              user=get_user(sess, username))
        return [p for p in panels if p.name == "hello"]

    with app.test_request_context("/"):
        [panel] = hello_panels("sales")
        assert str(panel.title) == "Greetings"
        assert panel.summary == {"greetings": 1}
        assert "Hi seven from A" in panel.html
        assert "Hi seven from B" not in panel.html and "Hi eight" not in panel.html

        [panel] = hello_panels("admin")
        assert panel.summary == {"greetings": 2}
        assert "Hi seven from B" in panel.html

        assert hello_panels("nobody") == []

        [panel] = hello_panels("sales", customer_id=99)
        assert panel.summary == {"greetings": 0}
        assert "No greetings for this customer." in panel.html


def test_merging_customers_moves_their_greetings(app: Flask, session: Session,
                                                 seeded: dict[str, Any],
                                                 hello: SimpleNamespace) -> None:
    branch_a = seeded["branches"]["A"]
    keep = make_customer(session, "Wang Wei", branch_a)
    remove = make_customer(session, "Wang Wei", branch_a)
    session.commit()
    moved = add_greeting(app, hello, branch_a, "To the duplicate", customer_id=remove.id)
    merge_parties(session, keep, remove)
    session.commit()
    greeting = session.get(hello.models.Greeting, moved)
    assert greeting is not None and greeting.customer_id == keep.id


# -- translation -----------------------------------------------------------------------------
def test_chinese_translation_of_the_plugin(app: Flask, seeded: dict[str, Any],
                                           hello: SimpleNamespace, client_for: Clients,
                                           api_client: Clients) -> None:
    by_header = client_for("sales")
    by_header.environ_base["HTTP_ACCEPT_LANGUAGE"] = "zh-CN"
    page = by_header.get("/hello/").get_data(as_text=True)
    assert "问候语" in page and "写问候语" in page
    assert 'data-menu="hello">问候语<' in by_header.get("/").get_data(as_text=True)

    with app.app_context():
        sess = db.session()
        get_user(sess, "manager").locale = "zh_CN"
        sess.commit()
    assert "问候语" in client_for("manager").get("/hello/").get_data(as_text=True)

    resp = api_client("sales").post(GREETINGS, json={"message": ""},
                                    headers={"Accept-Language": "zh-CN"})
    assert resp.get_json()["errors"]["message"] == ["请填写内容。"]

    label = hello.plugin.manifest.label
    with app.test_request_context("/", headers={"Accept-Language": "zh-CN"}):
        assert flask_babel.gettext("Greetings") == "问候语"
        assert str(label) == "问候语"
    with app.test_request_context("/", headers={"Accept-Language": "en"}):
        assert str(label) == "Greetings"


# -- settings and demo data ------------------------------------------------------------------
def test_setting_and_demo_data(app: Flask, hello: SimpleNamespace) -> None:
    with app.app_context():
        host = app.extensions["carebiz"].host
        assert get_setting(db.session(), host, "hello.signature") == "Your CareBusiness team"
    load_demo(app)
    load_demo(app)  # safe to run twice
    with app.app_context():
        rows = db.session().scalars(select(hello.models.Greeting)).all()
        assert len(rows) == 2
        assert len({g.branch_id for g in rows}) == 1
        assert all(g.author_id is not None for g in rows)


# -- switching the plugin off and on -----------------------------------------------------------
def test_switching_off_hides_everything_and_keeps_the_data(app: Flask, seeded: dict[str, Any],
                                                           hello: SimpleNamespace,
                                                           client_for: Clients,
                                                           api_client: Clients) -> None:
    add_greeting(app, hello, seeded["branches"]["A"], "Still here", customer_id=7)
    host = app.extensions["carebiz"].host
    client = client_for("sales")
    api = api_client("sales")

    def switch(enabled: bool) -> list[str]:
        with app.app_context():
            sess = db.session()
            changed = subsystems.switch(sess, host, "hello", enabled, "test")
            sess.commit()
            return changed

    def panel_names() -> list[str]:
        with app.test_request_context("/"):
            user = get_user(db.session(), "sales")
            return [p.name for p in host.collect("customer_panels", session=db.session(),
                                                 customer=SimpleNamespace(id=7), user=user)]

    assert switch(False) == ["hello"]
    assert client.get("/hello/").status_code == 404
    assert client.post("/hello/", data={"message": "No"}).status_code == 404
    assert api.get(GREETINGS).status_code == 404
    assert api.post(GREETINGS, json={"message": "No"}).status_code == 404
    assert b'data-menu="hello"' not in client.get("/").data
    assert "hello" not in panel_names()
    with app.test_request_context("/"):
        assert not can(get_user(db.session(), "sales"), "hello.view")
    assert count_rows(app, hello) == 1  # the data stays

    assert switch(True) == ["hello"]
    body = api.get(GREETINGS).get_json()
    assert [g["message"] for g in body["items"]] == ["Still here"]
    assert b"Still here" in client.get("/hello/").data
    assert b'data-menu="hello"' in client.get("/").data
    assert "hello" in panel_names()
