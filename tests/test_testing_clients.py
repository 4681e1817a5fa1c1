"""The test fixtures' app context does not leak one request's login into the next.

The ``session`` fixture keeps an app context pushed for the whole test. Flask reuses a pushed
context of the same app for a request, so without care ``g`` (Flask-Login's user, the
request's DB session) would be shared by every request of the test: the first client's user
would stay logged in for a second client. These tests hold the fixtures to one clean ``g``
per request.
"""

from __future__ import annotations

from typing import Any

from flask import g


def _who(client: Any) -> str:
    resp = client.get("/api/v1/me")
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return resp.get_json()["username"]


def test_two_clients_in_one_test_see_their_own_user(session, client_for):
    sales = client_for("sales")
    admin = client_for("admin")
    assert _who(sales) == "sales"
    assert _who(admin) == "admin"
    assert _who(sales) == "sales"


def test_a_client_without_login_stays_anonymous_after_another_logged_in(session, app,
                                                                        client_for):
    admin = client_for("admin")
    assert _who(admin) == "admin"
    anonymous = app.test_client()
    assert anonymous.get("/api/v1/me").status_code == 401


def test_api_clients_with_different_tokens(session, api_client):
    assert _who(api_client("viewer")) == "viewer"
    assert _who(api_client("manager")) == "manager"


def test_the_tests_own_context_and_session_still_work(session, seeded, client_for):
    from carebiz.models import User

    g.marker = "the test's"
    assert _who(client_for("sales")) == "sales"
    assert g.marker == "the test's"
    assert session.get(User, seeded["users"]["sales"]).username == "sales"
