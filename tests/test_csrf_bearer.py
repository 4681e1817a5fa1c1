"""CSRF is skipped only for requests that a bearer token actually authenticated; an invalid
token is never replaced by the session cookie; API requests are authenticated first."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask

from tests.conftest import PASSWORD, seed, token_for

BAD = {"Authorization": "Bearer not-a-token"}


@pytest.fixture
def csrf_app(make_app: Any) -> Flask:
    app = make_app(WTF_CSRF_ENABLED=True)
    seed(app)
    return app


def _logged_in(app: Flask, username: str = "admin") -> tuple[Any, str]:
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    resp = client.post("/login", data={"username": username, "password": PASSWORD,
                                       "csrf_token": csrf})
    assert resp.status_code == 302
    return client, csrf


def test_invalid_bearer_beside_a_cookie_does_not_skip_csrf_on_pages(csrf_app):
    client, _csrf = _logged_in(csrf_app)
    resp = client.post("/logout", headers=BAD)  # a form post without its CSRF token
    assert resp.status_code == 400
    assert client.get("/").status_code == 200  # the logout did not happen


def test_invalid_bearer_beside_a_cookie_is_refused_on_the_api(csrf_app):
    client, csrf = _logged_in(csrf_app)
    resp = client.post("/api/v1/tokens", json={"name": "x"}, headers=BAD)
    assert resp.status_code == 401 and resp.get_json()["code"] == 401
    # a wrong token is not "no token": the cookie does not speak for the request instead,
    # not even with the CSRF token or for reading
    resp = client.post("/api/v1/tokens", json={"name": "x"},
                       headers={**BAD, "X-CSRFToken": csrf})
    assert resp.status_code == 401
    assert client.get("/api/v1/me", headers=BAD).status_code == 401
    assert client.get("/api/v1/me").get_json()["username"] == "admin"  # cookie alone: fine


def test_valid_bearer_needs_no_csrf_and_outranks_the_cookie(csrf_app):
    client, _csrf = _logged_in(csrf_app, "admin")
    sales = {"Authorization": "Bearer " + token_for(csrf_app, "sales")}
    assert client.get("/api/v1/me", headers=sales).get_json()["username"] == "sales"
    resp = client.post("/api/v1/tokens", json={"name": "x"}, headers=sales)
    assert resp.status_code == 201
    assert client.get("/api/v1/me").get_json()["username"] == "admin"


def test_unauthenticated_api_write_answers_401_not_csrf(csrf_app):
    client = csrf_app.test_client()
    resp = client.post("/api/v1/tokens", json={"name": "x"})
    assert resp.status_code == 401
    body = resp.get_json()
    assert body["code"] == 401 and "form has expired" not in body["message"]
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")
    assert client.delete("/api/v1/tokens/1").status_code == 401


def test_cookie_authenticated_api_write_still_needs_the_csrf_token(csrf_app):
    client, csrf = _logged_in(csrf_app)
    assert client.post("/api/v1/tokens", json={"name": "x"}).status_code == 400
    assert client.post("/api/v1/tokens", json={"name": "x"},
                       headers={"X-CSRFToken": csrf}).status_code == 201


def test_pages_keep_csrf_for_anonymous_posts(csrf_app):
    """The login form itself stays protected (login CSRF)."""
    resp = csrf_app.test_client().post("/login", data={"username": "admin",
                                                       "password": PASSWORD})
    assert resp.status_code == 400
