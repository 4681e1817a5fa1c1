"""The reports API: ``GET /api/v1/reports`` lists what the user may run, with parameters;
``GET /api/v1/reports/<name>?<params>`` runs one as JSON with row filters and permissions
applied; bad parameters are a 422 in the standard error shape, an unknown report a 404."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from carebiz.testing import token_for
from carebiz.testing.plugin import ApiClient
from tests.sample_plugin.models import SampleRecord

ERROR_KEYS = {"code", "status", "message", "errors"}


@pytest.fixture
def world(sample_app: Flask, sample_seeded: dict[str, Any]) -> dict[str, Any]:
    """Sample records in both branches: sales (branch A) sees one, admin both."""
    ext = sample_app.extensions["carebiz"]
    with sample_app.app_context(), ext.session_factory() as sess:
        sess.add_all([SampleRecord(title="wash A", branch_id=sample_seeded["branches"]["A"]),
                      SampleRecord(title="wash B", branch_id=sample_seeded["branches"]["B"]),
                      SampleRecord(title="other", branch_id=sample_seeded["branches"]["A"])])
        sess.commit()
    return sample_seeded


def client(app: Flask, username: str) -> ApiClient:
    return ApiClient(app, token_for(app, username))


def test_the_list_has_the_reports_the_user_may_run_with_their_parameters(
        sample_app: Flask, world: dict[str, Any]) -> None:
    resp = client(sample_app, "sales").get("/api/v1/reports",
                                           headers={"Accept-Language": "en"})
    assert resp.status_code == 200, resp.get_json()
    items = {r["name"]: r for r in resp.get_json()["items"]}
    assert items["sample.titles"] == {
        "name": "sample.titles", "label": "Records by title", "description": "",
        "source": "sample_records", "chart": "pie",
        "params": [{"name": "word", "label": "Title contains", "type": "text",
                    "default": "demo", "choices": []}]}
    assert items["crm.new_customers_by_month"]["params"][0]["default"] == 365
    viewer = client(sample_app, "viewer").get("/api/v1/reports").get_json()
    assert "sample.titles" not in {r["name"] for r in viewer["items"]}  # no sample.view


def test_running_a_report_applies_row_filters(sample_app: Flask, world: dict[str, Any]) -> None:
    url = "/api/v1/reports/sample.titles?word=wash"
    sales = client(sample_app, "sales").get(url)
    assert sales.status_code == 200, sales.get_json()
    body = sales.get_json()
    assert body["params"] == {"word": "wash"}
    assert body["report"]["name"] == "sample.titles"
    assert body["group_by"] == ["title"] and len(body["measures"]) == 1
    assert [row["title"] for row in body["rows"]] == ["wash A"]
    everyone = client(sample_app, "admin").get(url).get_json()
    assert [row["title"] for row in everyone["rows"]] == ["wash A", "wash B"]
    measure = body["measures"][0]
    assert everyone["rows"][0][measure] == 1


def test_a_left_out_parameter_takes_its_default(sample_app: Flask,
                                                world: dict[str, Any]) -> None:
    body = client(sample_app, "admin").get("/api/v1/reports/sample.titles").get_json()
    assert body["params"] == {"word": "demo"} and body["rows"] == []


def test_the_report_and_source_permissions_apply(sample_app: Flask,
                                                 world: dict[str, Any]) -> None:
    resp = client(sample_app, "viewer").get("/api/v1/reports/sample.titles")
    assert resp.status_code == 403
    assert set(resp.get_json()) == ERROR_KEYS


def test_bad_parameters_are_all_reported_in_the_standard_shape(
        sample_app: Flask, world: dict[str, Any]) -> None:
    resp = client(sample_app, "admin").get(
        "/api/v1/reports/crm.new_customers_by_month?days=many&colour=red")
    assert resp.status_code == 422
    body = resp.get_json()
    assert set(body) == ERROR_KEYS and body["status"] == "validation_failed"
    assert set(body["errors"]) == {"days", "colour"}
    assert all(isinstance(v, list) and v for v in body["errors"].values())
    twice = client(sample_app, "admin").get("/api/v1/reports/sample.titles?word=a&word=b")
    assert twice.status_code == 422 and set(twice.get_json()["errors"]) == {"word"}
    for bad in ("nan", "inf"):
        resp = client(sample_app, "admin").get(
            f"/api/v1/reports/crm.new_customers_by_month?days={bad}")
        assert resp.status_code == 422, bad


def test_a_number_parameter_runs_the_report(sample_app: Flask, world: dict[str, Any]) -> None:
    resp = client(sample_app, "admin").get("/api/v1/reports/crm.new_customers_by_month?days=30")
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["params"] == {"days": 30}


def test_an_unknown_report_is_404_and_anonymous_is_401(sample_app: Flask,
                                                       world: dict[str, Any]) -> None:
    resp = client(sample_app, "admin").get("/api/v1/reports/no.such.report")
    assert resp.status_code == 404 and set(resp.get_json()) == ERROR_KEYS
    anonymous = sample_app.test_client()
    assert anonymous.get("/api/v1/reports").status_code == 401
    assert anonymous.get("/api/v1/reports/sample.titles").status_code == 401


def test_the_openapi_document_describes_the_reports_api(app: Flask) -> None:
    doc = app.test_client().get("/api/v1/openapi.json").get_json()
    listing = doc["paths"]["/api/v1/reports"]["get"]["responses"]["200"]
    assert listing["content"]["application/json"]["schema"]["$ref"].endswith("/ReportList")
    run = doc["paths"]["/api/v1/reports/{name}"]["get"]["responses"]
    assert run["200"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/ReportResult")
    for status in ("403", "404", "422"):
        assert run[status]["content"]["application/json"]["schema"]["$ref"].endswith("/Error")
    schemas = doc["components"]["schemas"]
    assert set(schemas["ReportResult"]["properties"]) == {"report", "params", "group_by",
                                                          "measures", "rows"}
    assert set(schemas["ReportParameter"]["properties"]) == {"name", "label", "type",
                                                             "default", "choices"}


def test_a_value_the_query_refuses_names_the_parameter(sample_app: Flask,
                                                       world: dict[str, Any]) -> None:
    resp = client(sample_app, "admin").get(
        "/api/v1/reports/crm.new_customers_by_month?days=0")  # last_days takes 1 to 3660
    assert resp.status_code == 422
    errors = resp.get_json()["errors"]
    assert list(errors) == ["days"] and errors["days"][0]
