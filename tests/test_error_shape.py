"""One error shape on every error path of the API (issue 9): ``{"code", "status", "message",
"errors"}`` with ``status`` a machine word (never an HTTP reason phrase) and every value of
``errors`` a list of messages, schema and service errors alike, all reported at once."""

from __future__ import annotations

import re
from typing import Any

from flask import Flask, abort
from werkzeug.http import HTTP_STATUS_CODES

from carebiz.api.errors import flatten_errors, status_word
from carebiz.testing import seed

MACHINE_WORD = re.compile(r"[a-z][a-z0-9_]*")
REASON_PHRASES = set(HTTP_STATUS_CODES.values())


def shaped(resp: Any, code: int, status: str | None = None) -> dict[str, Any]:
    """The error body, after checking it has the one shape."""
    assert resp.status_code == code, resp.get_data(as_text=True)[:400]
    body = resp.get_json()
    assert body is not None, resp.get_data(as_text=True)[:300]
    assert {"code", "status", "message", "errors"} <= set(body), body
    assert body["code"] == code
    assert MACHINE_WORD.fullmatch(body["status"]), body["status"]
    assert body["status"] not in REASON_PHRASES
    assert isinstance(body["message"], str) and body["message"]
    assert isinstance(body["errors"], dict)
    for key, messages in body["errors"].items():
        assert isinstance(key, str)
        assert isinstance(messages, list) and messages, (key, messages)
        assert all(isinstance(m, str) and m for m in messages), (key, messages)
    if status is not None:
        assert body["status"] == status, body
    return body


def test_400_a_body_that_is_not_json(api_client: Any) -> None:
    resp = api_client("admin").post("/api/v1/tokens", data="{not json",
                                    content_type="application/json")
    assert shaped(resp, 400, "bad_request")["errors"] == {"body": ["Not valid JSON."]}


def test_401_without_credentials(app: Flask, seeded: dict[str, Any]) -> None:
    resp = app.test_client().get("/api/v1/me")
    shaped(resp, 401, "unauthorized")
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")


def test_403_without_the_permission(api_client: Any) -> None:
    shaped(api_client("sales").get("/api/v1/users"), 403, "forbidden")


def test_404_of_a_record_and_of_a_path(api_client: Any) -> None:
    api = api_client("admin")
    shaped(api.get("/api/v1/customers/999999"), 404, "not_found")
    shaped(api.get("/api/v1/no-such-thing"), 404, "not_found")


def test_405_names_the_allowed_methods(api_client: Any) -> None:
    resp = api_client("admin").delete("/api/v1/me")
    shaped(resp, 405, "method_not_allowed")
    assert "GET" in resp.headers["Allow"]


def test_409_version_conflict_lists_each_changed_field(api_client: Any,
                                                       seeded: dict[str, Any]) -> None:
    api = api_client("admin")
    party = api.post("/api/v1/customers", json={"name": "Zhou", "city": "Beijing",
                                                "branch_id": seeded["branches"]["A"]}).json
    api.patch(f"/api/v1/customers/{party['id']}", json={"city": "Shanghai"})
    stale = api.patch(f"/api/v1/customers/{party['id']}",
                      json={"city": "Tianjin", "version": party["version"]})
    body = shaped(stale, 409, "version_conflict")
    assert set(body["errors"]) == {"city"}
    assert "Shanghai" in body["errors"]["city"][0]


def test_413_a_body_over_the_limit(make_app: Any) -> None:
    app = make_app(CAREBIZ_MAX_CONTENT_LENGTH="2000")
    seed(app)
    from carebiz.testing import token_for

    resp = app.test_client().post("/api/v1/customers", json={"name": "x", "notes": "y" * 5000},
                                  headers={"Authorization": "Bearer " + token_for(app, "admin")})
    shaped(resp, 413, "payload_too_large")


def test_414_a_url_too_long(api_client: Any) -> None:
    shaped(api_client("admin").get("/api/v1/customers?q=" + "x" * 10_000), 414,
           "uri_too_long")


def test_415_a_body_that_is_not_sent_as_json(api_client: Any) -> None:
    resp = api_client("admin").post("/api/v1/tokens", data="name=x",
                                    content_type="application/x-www-form-urlencoded")
    shaped(resp, 415, "unsupported_media_type")


def test_422_schema_errors_all_at_once_as_lists(api_client: Any) -> None:
    resp = api_client("admin").post("/api/v1/customers", json={
        "name": 5, "do_not_contact": "yes", "branch_id": "A",
        "phones": [123, "13800138000", 456]})
    body = shaped(resp, 422, "validation_failed")
    assert set(body["errors"]) == {"name", "do_not_contact", "branch_id", "phones[0]",
                                   "phones[2]"}, body["errors"]


def test_422_service_errors_all_at_once_as_lists(api_client: Any) -> None:
    resp = api_client("sales").post("/api/v1/customers", json={
        "name": "Zhang San", "id_kind": "cn_resident", "id_number": "110105194912310021",
        "emails": ["zhang@@example.com"], "phones": ["12345"]})
    body = shaped(resp, 422, "validation_failed")
    assert set(body["errors"]) == {"id_number", "emails", "phones"}


def test_422_a_duplicate_keeps_its_own_word_and_facts(api_client: Any,
                                                     seeded: dict[str, Any]) -> None:
    api = api_client("admin")
    data = {"name": "Li Na", "phones": ["13800138000"], "branch_id": seeded["branches"]["A"]}
    assert api.post("/api/v1/customers", json=data).status_code == 201
    body = shaped(api.post("/api/v1/customers", json={**data, "name": "Li Na 2"}), 409,
                  "possible_duplicate")
    assert body["duplicates"] and body["errors"]["phones"]


def test_429_and_500_under_the_api(make_app: Any) -> None:
    app = make_app(PROPAGATE_EXCEPTIONS=False)

    def throttled() -> Any:
        abort(429)

    def broken() -> Any:
        raise RuntimeError("a bug")

    app.add_url_rule("/api/v1/test-throttled", "test_throttled", throttled)
    app.add_url_rule("/api/v1/test-broken", "test_broken", broken)
    client = app.test_client()
    shaped(client.get("/api/v1/test-throttled"), 429, "rate_limited")
    shaped(client.get("/api/v1/test-broken"), 500, "internal_error")


def test_503_busy(app: Flask, seeded: dict[str, Any], api_client: Any) -> None:
    from tests.test_concurrency import _hold_lock, _short_lock_waits

    api = api_client("admin")
    party = api.post("/api/v1/customers", json={"name": "Locked",
                                                "branch_id": seeded["branches"]["A"]}).json
    _short_lock_waits(app)
    engine, conn = _hold_lock(app, party["id"])
    try:
        resp = api.patch(f"/api/v1/customers/{party['id']}", json={"city": "Busy"})
        shaped(resp, 503, "busy")
    finally:
        conn.rollback()
        conn.close()
        engine.dispose()


def test_the_document_states_the_shape(app: Flask) -> None:
    doc = app.test_client().get("/api/v1/openapi.json").get_json()
    error = doc["components"]["schemas"]["Error"]
    assert error["properties"]["errors"]["additionalProperties"] == {
        "type": "array", "items": {"type": "string"}}
    assert error["properties"]["status"]["pattern"] == MACHINE_WORD.pattern.join("^$")


def test_flatten_errors_writes_nested_fields_as_paths() -> None:
    assert flatten_errors({"phones": {0: ["Not a valid string."]},
                           "owner": {"address": {"city": ["Too long."]}},
                           "name": "Write a name.",
                           "tags": ["One.", "Two."]}) == {
        "phones[0]": ["Not a valid string."], "owner.address.city": ["Too long."],
        "name": ["Write a name."], "tags": ["One.", "Two."]}
    assert flatten_errors(["Not an object."]) == {"_schema": ["Not an object."]}
    assert flatten_errors(None) == {} and flatten_errors({}) == {}


def test_status_words_are_stable() -> None:
    assert [status_word(c) for c in (400, 401, 403, 404, 409, 413, 422, 429, 503)] == [
        "bad_request", "unauthorized", "forbidden", "not_found", "conflict",
        "payload_too_large", "validation_failed", "rate_limited", "unavailable"]
    assert status_word(418) == "client_error" and status_word(599) == "server_error"
