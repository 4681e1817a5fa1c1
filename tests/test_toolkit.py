"""The public toolkit of plugin code (``carebiz.toolkit``): business time, safe ``next``
targets, "is a manager" as a permission, JSON bodies, permission checks, records loaded
through the row filters, and the one way to save on pages and in the API."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from flask import Flask
from marshmallow import fields
from sqlalchemy import delete, select

from carebiz import toolkit
from carebiz.crm.models import Party
from carebiz.errors import ValidationFailed
from carebiz.models import Role, RolePermission
from carebiz.testing import login, make_customer, token_for


@pytest.mark.parametrize("target", ["/customers/12?tab=vehicles", "/", "/my-day#today"])
def test_safe_next_keeps_local_paths(target: str) -> None:
    assert toolkit.safe_next(target) == target


@pytest.mark.parametrize("target", [None, "", "https://evil.example/", "//evil.example",
                                    "/\\evil.example", "\\\\evil.example", "customers",
                                    "/ok\r\nSet-Cookie: x=1", "javascript:alert(1)"])
def test_safe_next_refuses_other_sites(target: str | None) -> None:
    assert toolkit.safe_next(target) is None
    assert toolkit.safe_next(target, "/home") == "/home"


def test_login_never_redirects_to_a_backslash_host(app: Flask, seeded: dict[str, Any]) -> None:
    client = app.test_client()
    login(client, "admin")
    resp = client.get("/login?next=/\\evil.example")  # browsers read /\ as //
    assert resp.status_code == 302
    assert "evil.example" not in resp.headers["Location"]
    assert client.get("/login?next=/my-day").headers["Location"].endswith("/my-day")


def test_business_time_follows_the_configured_zone(make_app: Any) -> None:
    app = make_app(schema=False, CAREBIZ_TIMEZONE="Asia/Shanghai")
    with app.app_context():
        assert str(toolkit.business_tz()) == "Asia/Shanghai"
        shanghai_now = dt.datetime.now(dt.UTC).astimezone(toolkit.business_tz())
        assert toolkit.today() == shanghai_now.date()
        assert abs(toolkit.local_now() - shanghai_now.replace(tzinfo=None)) < \
            dt.timedelta(minutes=2)
        assert toolkit.local_now().second == 0 and toolkit.local_now().tzinfo is None
        typed = dt.datetime(2026, 3, 1, 9, 30)
        assert toolkit.aware(typed).utcoffset() == dt.timedelta(hours=8)
        assert toolkit.aware(None) is None
        end = toolkit.end_of_today()
        assert end.date() == toolkit.today() and end.time() == dt.time.max
    assert str(toolkit.business_tz()) == "UTC"  # outside an app


def _grant(app: Flask, role: str, permission: str, granted: bool) -> None:
    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        row = sess.scalar(select(Role).where(Role.name == role))
        sess.execute(delete(RolePermission).where(RolePermission.role_id == row.id,
                                                  RolePermission.permission == permission))
        if granted:
            sess.add(RolePermission(role_id=row.id, permission=permission))
        sess.commit()


def _scope(app: Flask, username: str) -> str:
    resp = app.test_client().get("/api/v1/my-day?scope=branch", headers={
        "Authorization": "Bearer " + token_for(app, username)})
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()["scope"]


def test_a_manager_is_whoever_holds_the_permission(app: Flask, seeded: dict[str, Any]) -> None:
    assert toolkit.MANAGE_TEAM in _permissions_of(app, "manager")
    assert _scope(app, "manager") == "branch"
    assert _scope(app, "sales") == "own"
    _grant(app, "salesperson", toolkit.MANAGE_TEAM, True)  # the role's name does not matter
    assert _scope(app, "sales") == "branch"
    _grant(app, "manager", toolkit.MANAGE_TEAM, False)
    assert _scope(app, "manager") == "own"


def _permissions_of(app: Flask, username: str) -> list[str]:
    resp = app.test_client().get("/api/v1/me", headers={
        "Authorization": "Bearer " + token_for(app, username)})
    return resp.get_json()["permissions"]


@pytest.fixture
def toolkit_app(make_app: Any) -> Flask:
    """An app with a few plain views written with the toolkit, as a plugin writes them."""
    app = make_app()

    def greet() -> Any:
        data = toolkit.json_body({"name": fields.String(required=True),
                                  "times": fields.Integer(required=True)})
        return {"greeting": " ".join([f"hello {data['name']}"] * data["times"])}

    def guarded() -> Any:
        toolkit.check_permission("crm.customers.merge")
        return {"ok": True}

    def customer(party_id: int) -> Any:
        party = toolkit.visible_or_404(Party, party_id, "No customer with this id.")
        return {"name": party.name}

    @toolkit.require("crm.customers.edit")
    def refuse() -> Any:
        with toolkit.saving() as done:
            make_customer(_session(), "Never saved", 1)
            raise ValidationFailed("Refused.", {"name": "Not this one.", "tags": ["a", "b"]})
        return {"ok": done.ok}

    app.add_url_rule("/api/v1/test-greet", "test_greet", greet, methods=["POST"])
    app.add_url_rule("/api/v1/test-guarded", "test_guarded", guarded)
    app.add_url_rule("/test-guarded", "test_guarded_page", guarded)
    app.add_url_rule("/api/v1/test-customers/<party_id>", "test_customer", customer)
    app.add_url_rule("/api/v1/test-refuse", "test_refuse", refuse, methods=["POST"])
    return app


def _session() -> Any:
    from carebiz import db

    return db.session()


def _bearer(app: Flask, username: str) -> dict[str, str]:
    return {"Authorization": "Bearer " + token_for(app, username)}


def test_json_body_answers_the_standard_errors(toolkit_app: Flask) -> None:
    from tests.test_error_shape import shaped

    toolkit_app_seeded(toolkit_app)
    client, auth = toolkit_app.test_client(), _bearer(toolkit_app, "sales")
    ok = client.post("/api/v1/test-greet", json={"name": "Li", "times": 2}, headers=auth)
    assert ok.get_json() == {"greeting": "hello Li hello Li"}
    bad = client.post("/api/v1/test-greet", json={"times": "x", "extra": 1}, headers=auth)
    assert set(shaped(bad, 422, "validation_failed")["errors"]) == {"name", "times", "extra"}
    shaped(client.post("/api/v1/test-greet", data="{", content_type="application/json",
                       headers=auth), 400, "bad_request")


def toolkit_app_seeded(app: Flask) -> dict[str, Any]:
    from carebiz.testing import seed

    return seed(app)


def test_check_permission_refuses_by_permission(toolkit_app: Flask) -> None:
    from tests.test_error_shape import shaped

    toolkit_app_seeded(toolkit_app)
    client = toolkit_app.test_client()
    shaped(client.get("/api/v1/test-guarded"), 401, "unauthorized")
    shaped(client.get("/api/v1/test-guarded", headers=_bearer(toolkit_app, "sales")), 403)
    assert client.get("/api/v1/test-guarded",
                      headers=_bearer(toolkit_app, "manager")).get_json() == {"ok": True}
    page = client.get("/test-guarded")
    assert page.status_code == 302 and "/login" in page.headers["Location"]


def test_visible_or_404_hides_other_branches(toolkit_app: Flask) -> None:
    from tests.test_error_shape import shaped

    world = toolkit_app_seeded(toolkit_app)
    with toolkit_app.app_context(), toolkit_app.extensions["carebiz"].session_factory() as s:
        other = make_customer(s, "Of branch B", world["branches"]["B"]).id
        s.commit()
    client = toolkit_app.test_client()
    seen = client.get(f"/api/v1/test-customers/{other}", headers=_bearer(toolkit_app, "admin"))
    assert seen.get_json() == {"name": "Of branch B"}
    for user, ident in (("sales", other), ("admin", 999999), ("admin", "x"), ("admin", 2**40)):
        hidden = client.get(f"/api/v1/test-customers/{ident}", headers=_bearer(toolkit_app,
                                                                               user))
        assert shaped(hidden, 404, "not_found")["message"] == "No customer with this id."


def test_saving_in_the_api_rolls_back_and_answers_the_error_body(toolkit_app: Flask) -> None:
    from tests.test_error_shape import shaped

    toolkit_app_seeded(toolkit_app)
    resp = toolkit_app.test_client().post("/api/v1/test-refuse",
                                          headers=_bearer(toolkit_app, "admin"))
    body = shaped(resp, 422, "validation_failed")
    assert body["errors"] == {"name": ["Not this one."], "tags": ["a", "b"]}
    with toolkit_app.app_context(), toolkit_app.extensions["carebiz"].session_factory() as s:
        assert s.scalar(select(Party).where(Party.name == "Never saved")) is None


def test_form_status_of_a_page() -> None:
    class Form:
        def __init__(self, submitted: bool) -> None:
            self.submitted = submitted

        def is_submitted(self) -> bool:
            return self.submitted

    assert toolkit.form_status(Form(False)) == 200  # type: ignore[arg-type]
    assert toolkit.form_status(Form(True)) == 422  # type: ignore[arg-type]
    refused = Form(True)
    refused._carebiz_save_status = 409  # type: ignore[attr-defined]
    assert toolkit.form_status(refused) == 409  # type: ignore[arg-type]


def test_one_visible_reads_with_the_session_it_is_given(app: Flask,
                                                        seeded: dict[str, Any]) -> None:
    """A service or ``demo_data`` finds the rows its own session has not committed yet, under
    the row filters of the user it acts for."""
    from carebiz.services.users import get_user

    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        mine = make_customer(sess, "Not committed yet", seeded["branches"]["A"])
        theirs = make_customer(sess, "Of branch B, not committed", seeded["branches"]["B"])
        sales = get_user(sess, "sales")
        assert toolkit.one_visible(Party, mine.id, sales, session=sess) is mine
        assert toolkit.one_visible(Party, theirs.id, sales, session=sess) is None
        sess.rollback()
