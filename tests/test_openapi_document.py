"""What the OpenAPI document says matches what the API does — the failures schemathesis found
first, each as a quick test (the whole-document run is tests/test_openapi_fuzz.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask

from tests.conftest import seed, token_for
from tests.crm_helpers import valid_vin


@pytest.fixture
def prod_app(make_app: Callable[..., Flask]) -> Flask:
    """CSRF on and errors handled, as in production."""
    app = make_app(TESTING=False, WTF_CSRF_ENABLED=True)
    seed(app)
    return app


@pytest.fixture
def doc(app: Flask) -> dict[str, Any]:
    return app.test_client().get("/api/v1/openapi.json").get_json()


def _schema(doc: dict[str, Any], ref: dict[str, Any]) -> dict[str, Any]:
    return doc["components"]["schemas"][ref["$ref"].rsplit("/", 1)[-1]]


def _body_schema(doc: dict[str, Any], path: str, method: str, status: str) -> dict[str, Any]:
    response = doc["paths"][path][method]["responses"][status]
    return _schema(doc, response["content"]["application/json"]["schema"])


@pytest.mark.parametrize(("method", "path"), [
    ("post", "/api/v1/tokens"), ("post", "/api/v1/customers"),
    ("patch", "/api/v1/customers/1"), ("delete", "/api/v1/tokens/1"),
    ("put", "/api/v1/query/saved/1"), ("patch", "/api/v1/plugins/export")])
def test_unauthenticated_writes_answer_401_not_form_expired(prod_app: Flask, method: str,
                                                           path: str) -> None:
    resp = getattr(prod_app.test_client(), method)(path, json={})
    assert resp.status_code == 401, resp.get_json()
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")
    assert set(resp.get_json()) == {"code", "status", "message", "errors"}


def test_session_writes_still_need_the_csrf_token(prod_app: Flask) -> None:
    client = prod_app.test_client()
    page = client.get("/login").get_data(as_text=True)
    csrf = page.split('name="csrf_token" type="hidden" value="', 1)[1].split('"', 1)[0]
    client.post("/login", data={"username": "admin", "password": "correct-horse-1",
                                "csrf_token": csrf})
    resp = client.post("/api/v1/tokens", json={"name": "x"})
    assert resp.status_code == 400  # a cookie-authenticated call without the token


def test_undeclared_method_answers_405_with_allow_before_csrf(prod_app: Flask) -> None:
    resp = prod_app.test_client().put("/api/v1/me")
    assert resp.status_code == 405
    assert set(resp.headers["Allow"].replace(" ", "").split(",")) >= {"GET", "HEAD",
                                                                       "OPTIONS"}
    assert resp.get_json()["code"] == 405


def test_token_dates_that_can_be_empty_are_nullable(doc: dict[str, Any]) -> None:
    token = doc["components"]["schemas"]["Token"]["properties"]
    for name in ("last_used_at", "revoked_at", "expires_at"):
        assert token[name].get("nullable") is True, name
    job = doc["components"]["schemas"]["Job"]["properties"]
    for name in ("started_at", "finished_at", "result", "error"):
        assert job[name].get("nullable") is True, name


def test_decimals_are_documented_as_strings(doc: dict[str, Any]) -> None:
    schemas = doc["components"]["schemas"]
    for schema, field in (("Rate", "rate"), ("PackagingUnit", "factor"),
                          ("Value", "lifetime_value"), ("Value", "satisfaction")):
        prop = schemas[schema]["properties"][field]
        assert (prop["type"], prop["format"]) == ("string", "decimal"), (schema, field)
    assert schemas["Rate"]["properties"]["rate"]["pattern"]


def test_decimals_travel_as_strings(app: Flask, seeded: dict[str, Any]) -> None:
    client = app.test_client()
    auth = {"Authorization": f"Bearer {token_for(app, 'admin')}"}
    body = {"base": "USD", "quote": "CNY", "valid_from": "2026-01-01"}
    for bad in (7.1, 7, "7.1e0", " 7.1", "7.1\n"):
        resp = client.post("/api/v1/currency/rates", json={**body, "rate": bad}, headers=auth)
        assert resp.status_code == 422 and "rate" in resp.get_json()["errors"], bad
    resp = client.post("/api/v1/currency/rates", json={**body, "rate": "7.10"}, headers=auth)
    assert resp.status_code == 201 and resp.get_json()["rate"] == "7.1"


def test_every_error_body_is_documented(doc: dict[str, Any]) -> None:
    error = doc["components"]["schemas"]["Error"]
    assert set(error["required"]) == {"code", "status", "message", "errors"}
    duplicate = _body_schema(doc, "/api/v1/customers", "post", "409")
    assert "duplicates" in duplicate["properties"]
    assert "duplicates" in _body_schema(doc, "/api/v1/customers/{party_id}", "patch",
                                        "409")["properties"]
    assert "existing" in _body_schema(doc, "/api/v1/vehicles", "post", "409")["properties"]
    assert "known_units" in _body_schema(doc, "/api/v1/units/convert", "get",
                                         "422")["properties"]
    assert {"base", "quote", "date"} <= set(_body_schema(
        doc, "/api/v1/currency/convert", "get", "422")["properties"])


def test_extra_error_fields_are_those_documented(app: Flask, seeded: dict[str, Any]) -> None:
    client = app.test_client()
    auth = {"Authorization": f"Bearer {token_for(app, 'admin')}"}
    vehicle = {"vin": valid_vin(7), "branch_id": seeded["branches"]["A"]}
    assert client.post("/api/v1/vehicles", json=vehicle, headers=auth).status_code == 201
    resp = client.post("/api/v1/vehicles", json=vehicle, headers=auth)
    assert resp.status_code == 409
    assert set(resp.get_json()) == {"code", "status", "message", "errors", "existing"}
    resp = client.get("/api/v1/units/convert?value=1&from=zorkmid&to=m", headers=auth)
    assert resp.status_code == 422
    assert set(resp.get_json()) == {"code", "status", "message", "errors", "known_units"}


@pytest.mark.parametrize(("method", "path"), [
    ("post", "/api/v1/tokens"), ("patch", "/api/v1/customers/{party}"),
    ("patch", "/api/v1/vehicles/{vehicle}"), ("put", "/api/v1/query/saved/{saved}")])
def test_required_bodies_are_refused_when_empty(app: Flask, seeded: dict[str, Any],
                                                method: str, path: str) -> None:
    client = app.test_client()
    auth = {"Authorization": f"Bearer {token_for(app, 'admin')}"}
    branch = seeded["branches"]["A"]
    ids = {
        "party": client.post("/api/v1/customers", headers=auth, json={
            "kind": "person", "name": "Li", "branch_id": branch}).get_json()["id"],
        "vehicle": client.post("/api/v1/vehicles", headers=auth, json={
            "vin": valid_vin(3), "branch_id": branch}).get_json()["id"],
        "saved": client.post("/api/v1/query/saved", headers=auth, json={
            "source": "customers", "name": "All"}).get_json()["id"],
    }
    url = path.format(**ids)
    resp = getattr(client, method)(url, headers=auth)
    assert resp.status_code == 400, resp.get_json()
    assert resp.get_json()["errors"] == {"body": ["Missing."]}
    resp = getattr(client, method)(url, headers=auth, data="name=x",
                                   content_type="application/x-www-form-urlencoded")
    assert resp.status_code == 415


def test_json_booleans_are_strict(app: Flask, seeded: dict[str, Any]) -> None:
    client = app.test_client()
    auth = {"Authorization": f"Bearer {token_for(app, 'admin')}"}
    resp = client.patch("/api/v1/plugins/export", json={"enabled": 0}, headers=auth)
    assert resp.status_code == 422 and "enabled" in resp.get_json()["errors"]


def test_uploads_are_one_multipart_body(doc: dict[str, Any]) -> None:
    for path in ("/api/v1/import/customers", "/api/v1/currency/rates/import"):
        operation = doc["paths"][path]["post"]
        assert "parameters" not in operation  # no OpenAPI 2 "formData" left over
        content = operation["requestBody"]["content"]
        assert list(content) == ["multipart/form-data"]
        schema = _schema(doc, content["multipart/form-data"]["schema"])
        assert schema["properties"]["file"]["format"] == "binary"
        assert "dry_run" in schema["properties"]


def test_a_server_error_on_an_api_path_is_json(prod_app: Flask) -> None:
    def boom() -> None:
        raise RuntimeError("boom")

    prod_app.add_url_rule("/api/v1/_boom", "boom", boom)
    resp = prod_app.test_client().get("/api/v1/_boom")
    assert resp.status_code == 500 and resp.is_json
    assert resp.get_json()["code"] == 500
