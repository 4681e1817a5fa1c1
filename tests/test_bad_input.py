"""Bad input never answers 500 and is never stored when wrong (issue 8): text lengths and
control characters on every text field, bounded numbers, unknown referenced ids, deep or huge
JSON bodies, lone surrogates, long URLs, and error handlers that cannot fail themselves."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from sqlalchemy import text

from tests.conftest import login, token_for


def _api(app: Any, username: str = "admin") -> dict[str, str]:
    return {"Authorization": "Bearer " + token_for(app, username)}


def _post_json(client: Any, url: str, body: Any, headers: dict[str, str]) -> Any:
    data = body if isinstance(body, (str, bytes)) else json.dumps(body)
    return client.post(url, data=data, headers={**headers, "Content-Type": "application/json"})


def _error_shape(resp: Any) -> dict[str, Any]:
    body = resp.get_json()
    assert body is not None, resp.data[:300]
    assert set(body) >= {"code", "status", "message", "errors"}, body
    assert body["code"] == resp.status_code
    assert body["status"].isidentifier() and body["status"].islower(), body  # a machine word
    assert all(isinstance(v, list) for v in body["errors"].values()), body
    return body


def _customers(app: Any) -> list[str]:
    from carebiz.crm.models import Party

    ext = app.extensions["carebiz"]
    with app.app_context(), ext.session_factory() as sess:
        return [p.name for p in sess.query(Party).all()]


# --- 1. lengths and control characters -------------------------------------------------------


@pytest.mark.parametrize("length", [201, 5000])
def test_api_refuses_a_name_longer_than_its_column(app: Any, seeded: dict[str, Any],
                                                   length: int) -> None:
    resp = _post_json(app.test_client(), "/api/v1/customers", {"name": "x" * length,
                      "branch_id": seeded["branches"]["A"]}, _api(app))
    assert resp.status_code == 422, resp.data[:300]
    assert "name" in _error_shape(resp)["errors"]
    assert _customers(app) == []


@pytest.mark.parametrize("name", ["Wang\x01Wei", "Wang\x0bWei", "Wang\x7fWei", "Wang\x00Wei",
                                  "Wang\x85Wei"])
def test_api_refuses_control_characters(app: Any, seeded: dict[str, Any], name: str) -> None:
    resp = _post_json(app.test_client(), "/api/v1/customers",
                      {"name": name, "branch_id": seeded["branches"]["A"]}, _api(app))
    assert resp.status_code == 422, resp.data[:300]
    assert "name" in _error_shape(resp)["errors"]
    assert _customers(app) == []


def test_api_keeps_tabs_and_newlines_in_notes(app: Any, seeded: dict[str, Any]) -> None:
    resp = _post_json(app.test_client(), "/api/v1/customers",
                      {"name": "Li Lei", "notes": "line one\n\tline two",
                       "branch_id": seeded["branches"]["A"]}, _api(app))
    assert resp.status_code == 201, resp.data[:300]
    assert resp.get_json()["notes"] == "line one\n\tline two"


def test_api_refuses_a_lone_surrogate(app: Any, seeded: dict[str, Any]) -> None:
    client, headers, branch = app.test_client(), _api(app), seeded["branches"]["A"]
    resp = _post_json(client, "/api/v1/customers",
                      '{"name": "Wang \\ud800 Wei", "branch_id": ' + str(branch) + "}", headers)
    assert resp.status_code == 422, resp.data[:300]
    assert "name" in _error_shape(resp)["errors"]
    # a valid pair is a character like any other
    resp = _post_json(client, "/api/v1/customers",
                      '{"name": "Wang \\ud83d\\ude00", "branch_id": ' + str(branch) + "}", headers)
    assert resp.status_code == 201, resp.data[:300]
    resp = _post_json(client, "/api/v1/query/customers", '{"q": "\\udc00"}', headers)
    assert resp.status_code == 422, resp.data[:300]
    assert "q" in _error_shape(resp)["errors"]
    resp = client.get("/api/v1/customers?q=a%01b", headers=headers)
    assert resp.status_code == 422, resp.data[:300]
    assert "q" in _error_shape(resp)["errors"]


def test_forms_drop_control_characters(app: Any, seeded: dict[str, Any]) -> None:
    """A person cannot see (so cannot remove) what a paste brought along: forms drop it."""
    client = app.test_client()
    login(client, "admin")
    resp = client.post("/customers/new", data={"kind": "person", "name": "Wang\x0bWei\x01",
                                               "notes": "a\x02b\x0cc", "roles": ["customer"],
                                               "branch_id": str(seeded["branches"]["A"])})
    assert resp.status_code == 302, resp.data[:300]
    from carebiz.crm.models import Party

    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        party = sess.query(Party).one()
        assert (party.name, party.notes) == ("Wang Wei", "ab\nc")


def test_the_orm_refuses_what_no_form_checked(app: Any, seeded: dict[str, Any]) -> None:
    """The last line: every String(n)/Text column of every model, so plugins get it too."""
    from carebiz.crm.services.parties import create_party
    from carebiz.errors import ValidationFailed
    from carebiz.models import Branch

    ext = app.extensions["carebiz"]
    with app.app_context(), ext.session_factory() as sess:
        sess.add(Branch(code="C", name="x" * 201))
        with pytest.raises(ValidationFailed) as info:
            sess.flush()
        assert "name" in info.value.errors and info.value.status == 422
        sess.rollback()
        sess.add(Branch(code="C", name="Branch\x1bC"))
        with pytest.raises(ValidationFailed) as info:
            sess.flush()
        assert "name" in info.value.errors
        sess.rollback()
        branch = sess.get(Branch, seeded["branches"]["A"])
        branch.address = "street\x00"
        with pytest.raises(ValidationFailed) as info:
            sess.commit()
        assert "address" in info.value.errors
        sess.rollback()
        with pytest.raises(ValidationFailed) as info:
            create_party(sess, {"name": "n" * 10_000, "branch_id": seeded["branches"]["A"]})
        assert "name" in info.value.errors
        sess.rollback()
        assert sess.get(Branch, seeded["branches"]["A"]).address == ""


def test_exports_survive_control_characters_already_stored(app: Any,
                                                            seeded: dict[str, Any]) -> None:
    """Rows written before the checks (or by raw SQL) must not make an export fail."""
    from carebiz.crm.services.parties import create_party

    ext = app.extensions["carebiz"]
    with app.app_context(), ext.session_factory() as sess:
        party = create_party(sess, {"name": "Wang Wei", "branch_id": seeded["branches"]["A"]})
        sess.commit()
        party_id = party.id
    with ext.engine.begin() as conn:
        conn.execute(text("UPDATE party SET name = :n, city = :c WHERE id = :id"),
                      {"n": "Wang\x01\x0b\x1fWei", "c": "Shang\x7fhai", "id": party_id})
    client = app.test_client()
    login(client, "admin")
    for fmt in ("docx", "xlsx", "csv", "html", "txt", "pdf"):
        resp = client.get(f"/export/crm.customers?format={fmt}")
        assert resp.status_code == 200, (fmt, resp.data[:300])
    import docx

    document = docx.Document(io.BytesIO(client.get("/export/crm.customers?format=docx").data))
    cells = [c.text for row in document.tables[0].rows for c in row.cells]
    assert "Wang\nWei" in cells  # the vertical tab (a line break in Word) stays a break


# --- the error handlers never fail ------------------------------------------------------------


@pytest.fixture
def prod_app(make_app: Any) -> Any:
    """An app that answers errors as production does (tests propagate them otherwise)."""
    app = make_app(PROPAGATE_EXCEPTIONS=False)

    @app.route("/boom/<kind>")
    @app.route("/api/v1/boom/<kind>")
    def boom(kind: str) -> Any:
        from carebiz import db
        from carebiz.models import Branch

        sess = db.session()
        sess.add(Branch(code="A", name="one"))
        sess.add(Branch(code="A", name="two"))
        try:
            sess.flush()  # a unique violation leaves the session needing a rollback
        except Exception:
            if kind == "integrity":
                raise
        raise RuntimeError("unexpected")

    return app


def test_500_after_a_failed_flush_renders_html_and_json(prod_app: Any) -> None:
    from tests.conftest import seed

    seed(prod_app)
    client = prod_app.test_client()
    login(client, "admin")
    resp = client.get("/boom/runtime")
    assert resp.status_code == 500
    assert "text/html" in resp.content_type and b"<html" in resp.data.lower()
    resp = client.get("/api/v1/boom/runtime")
    assert resp.status_code == 500
    assert _error_shape(resp)["message"]
    # an integrity error that nobody caught is a conflict, not a crash
    resp = client.get("/api/v1/boom/integrity")
    assert resp.status_code == 409, resp.data[:300]
    assert _error_shape(resp)["message"]
    resp = client.get("/boom/integrity")
    assert resp.status_code == 409


def test_the_handler_falls_back_when_rendering_fails(prod_app: Any,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import flask

    from carebiz.web import layout

    def broken(*_a: Any, **_k: Any) -> Any:
        raise RuntimeError("template broken")

    from tests.conftest import seed

    seed(prod_app)  # an installed business (without users every page leads to /setup)
    monkeypatch.setattr(layout, "render_template", broken)
    monkeypatch.setattr(flask, "render_template", broken)
    client = prod_app.test_client()
    resp = client.get("/no-such-page")
    assert resp.status_code == 404
    assert b"404" in resp.data
    resp = client.get("/boom/runtime")
    assert resp.status_code == 500 and b"500" in resp.data


# --- 2. numbers, referenced ids, JSON shape, sizes -------------------------------------------


@pytest.mark.parametrize("query", ["page=9223372036854775808", "page=99999999999",
                                   "per_page=9223372036854775808", "page=-1"])
def test_audit_paging_is_bounded(app: Any, seeded: dict[str, Any], query: str) -> None:
    resp = app.test_client().get(f"/api/v1/audit?{query}", headers=_api(app))
    assert resp.status_code == 422, resp.data[:300]
    assert _error_shape(resp)["errors"]


def test_odometer_and_year_are_bounded(app: Any, seeded: dict[str, Any]) -> None:
    from tests.crm_helpers import valid_vin

    client, headers = app.test_client(), _api(app)
    resp = _post_json(client, "/api/v1/vehicles", {"vin": valid_vin(1), "year": 2**63,
                                                  "branch_id": seeded["branches"]["A"]},
                      headers)
    assert resp.status_code == 422, resp.data[:300]
    resp = _post_json(client, "/api/v1/vehicles", {"vin": valid_vin(1),
                      "branch_id": seeded["branches"]["A"]}, headers)
    assert resp.status_code == 201, resp.data[:300]
    vehicle = resp.get_json()["id"]
    resp = _post_json(client, f"/api/v1/vehicles/{vehicle}/odometer", {"value_km": 2**40},
                      headers)
    assert resp.status_code == 422, resp.data[:300]


def test_saved_query_with_an_unknown_role_or_branch(app: Any, seeded: dict[str, Any]) -> None:
    client, headers = app.test_client(), _api(app)
    body = {"source": "customers", "name": "Mine", "visibility": "role",
            "role_id": 2_000_000}
    resp = _post_json(client, "/api/v1/query/saved", body, headers)
    assert resp.status_code == 422, resp.data[:300]
    assert "role_id" in _error_shape(resp)["errors"]
    body = {"source": "customers", "name": "Mine", "visibility": "branch",
            "branch_id": 2_000_000}
    resp = _post_json(client, "/api/v1/query/saved", body, headers)
    assert resp.status_code == 422, resp.data[:300]
    assert "branch_id" in _error_shape(resp)["errors"]


@pytest.mark.parametrize("url", ["/api/v1/tokens", "/api/v1/customers",
                                 "/api/v1/query/customers", "/api/v1/units/packaging"])
def test_deeply_nested_json_is_400(app: Any, seeded: dict[str, Any], url: str) -> None:
    deep = "[" * 1000 + "]" * 1000
    resp = _post_json(app.test_client(), url, '{"name": ' + deep + "}", _api(app))
    assert resp.status_code == 400, resp.data[:300]
    assert "nested" in _error_shape(resp)["message"]


def test_nesting_up_to_the_limit_is_parsed(app: Any, seeded: dict[str, Any]) -> None:
    from carebiz.text import MAX_JSON_DEPTH

    inner = "[" * (MAX_JSON_DEPTH - 1) + "]" * (MAX_JSON_DEPTH - 1)
    resp = _post_json(app.test_client(), "/api/v1/customers", '{"name": ' + inner + "}",
                      _api(app))
    assert resp.status_code == 422  # parsed, then refused by the schema: name is not a list
    assert "name" in _error_shape(resp)["errors"]


def test_a_body_over_the_limit_is_413_json(make_app: Any) -> None:
    from tests.conftest import seed

    app = make_app(CAREBIZ_MAX_CONTENT_LENGTH="50000")
    seed(app)
    headers = _api(app)
    resp = _post_json(app.test_client(), "/api/v1/customers",
                      {"name": "x", "notes": "y" * 60_000, "branch_id": 1}, headers)
    assert resp.status_code == 413, resp.data[:300]
    assert _error_shape(resp)["message"]


def test_the_default_limit_refuses_a_50_mb_body(app: Any, seeded: dict[str, Any]) -> None:
    assert app.config["MAX_CONTENT_LENGTH"] == 10 * 1024 * 1024
    resp = _post_json(app.test_client(), "/api/v1/customers",
                      b'{"name": "' + b"x" * (11 * 1024 * 1024) + b'"}', _api(app))
    assert resp.status_code == 413


def test_imports_have_their_own_larger_limit(make_app: Any) -> None:
    from tests.conftest import seed

    app = make_app(CAREBIZ_MAX_CONTENT_LENGTH="20000", CAREBIZ_MAX_UPLOAD_LENGTH="200000")
    seed(app)
    csv = ("name,phone\n" + "".join(f"Person {i},1380013{i:04d}\n" for i in range(2000)))
    assert 20_000 < len(csv) < 200_000
    resp = app.test_client().post(
        "/api/v1/import/customers", headers=_api(app),
        data={"file": (io.BytesIO(csv.encode()), "people.csv")},
        content_type="multipart/form-data")
    assert resp.status_code != 413, resp.data[:300]
    assert resp.status_code < 500
    client = app.test_client()
    login(client, "admin")
    resp = client.post("/import", data={
        "file": (io.BytesIO(csv.encode()), "people.csv")}, content_type="multipart/form-data")
    assert resp.status_code != 413, resp.data[:300]
    assert resp.status_code < 500


def test_a_very_long_url_is_414_json(app: Any, seeded: dict[str, Any]) -> None:
    resp = app.test_client().get("/api/v1/customers?q=" + "x" * 10_000, headers=_api(app))
    assert resp.status_code == 414
    assert _error_shape(resp)["message"]


def test_an_import_row_with_a_control_character_is_a_row_error(app: Any,
                                                                seeded: dict[str, Any]) -> None:
    """Files are not cleaned silently: the row is reported with the reason, the others go in."""
    from carebiz.crm import importing as importer
    from carebiz.models import User

    csv = "name,phone,branch\nWang\x01Wei,13800138000,A\nLi Lei,13900139000,A\n"
    table = importer.read_table(csv.encode(), "people.csv")
    ext = app.extensions["carebiz"]
    with app.app_context(), ext.session_factory() as sess:
        user = sess.query(User).filter_by(username="manager").one()
        report = importer.import_table(sess, table, importer.Options(only_valid=True),
                                       user=user, dry_run=False)
        sess.commit()
    assert report.counts["invalid"] == 1, report.errors
    assert [(e["row"], e["column"]) for e in report.errors] == [(2, "name")], report.errors
    assert "U+0001" in report.errors[0]["reason"]
    assert _customers(app) == ["Li Lei"]


@pytest.mark.parametrize("url", ["/customers?q=a%00b", "/vehicles?q=%00", "/admin/audit?actor=%00",
                                 "/customers?page=9223372036854775808",
                                 "/customers/9223372036854775808"])
def test_pages_answer_bad_query_strings_without_500(app: Any, seeded: dict[str, Any],
                                                    url: str) -> None:
    client = app.test_client()
    login(client, "admin")
    assert client.get(url).status_code < 500
