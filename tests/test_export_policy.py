"""Policy of issue 10: the read-only role reads lists but does not take them away. Exporting
is its own permission (``data.export``), checked on every export path; creating one's own API
tokens is too (``api.tokens``). Both are granted to every other built-in role."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from carebiz.errors import Forbidden
from carebiz.models import User
from carebiz.security.permissions import EXPORT_PERMISSION, TOKENS_PERMISSION, can
from carebiz.services.roles import BUILTIN_ROLES, get_role

EXPORT_PATHS = [
    "/export/crm.customers?format=csv",
    "/export/crm.vehicles?format=csv",
    "/export/query.results?format=csv&source=customers",
    "/customers?format=csv",
    "/vehicles?format=csv",
    "/query/customers/analysis.csv?g1=city",
]


# -- services, without HTTP --------------------------------------------------------------------


def test_default_grants_leave_out_the_read_only_role(app: Flask, seeded: dict[str, Any],
                                                     session: Any) -> None:
    for name in BUILTIN_ROLES:
        held = get_role(session, name).permission_names
        expected = name != "read_only"
        if name == "admin":  # a superuser: holds them without grants, and remembers them
            expected = True
        assert (EXPORT_PERMISSION in held) is expected, name
        assert (TOKENS_PERMISSION in held) is expected, name
    viewer = session.get(User, seeded["users"]["viewer"])
    sales = session.get(User, seeded["users"]["sales"])
    assert not can(viewer, EXPORT_PERMISSION) and not can(viewer, TOKENS_PERMISSION)
    assert can(sales, EXPORT_PERMISSION) and can(sales, TOKENS_PERMISSION)


def test_the_export_service_refuses_a_reader(app: Flask, seeded: dict[str, Any],
                                             session: Any) -> None:
    from carebiz.export.service import get_table

    host = app.extensions["carebiz"].host
    viewer = session.get(User, seeded["users"]["viewer"])
    with app.test_request_context(), pytest.raises(Forbidden, match="not export"):
        get_table(host, "crm.customers", viewer)
    assert get_table(host, "crm.customers", session.get(User, seeded["users"]["sales"]))


def test_the_background_export_job_refuses_a_reader(app: Flask, seeded: dict[str, Any],
                                                    session: Any) -> None:
    """A job queued before the grant was taken away (or forged) writes no file."""
    from types import SimpleNamespace

    from carebiz.export.service import run_export

    ctx = SimpleNamespace(app=app, session=session, user_id=seeded["users"]["viewer"])
    with pytest.raises(Forbidden):
        run_export(ctx, "crm.customers", "csv", {})


def test_a_reader_creates_no_token_but_the_operator_may(app: Flask, seeded: dict[str, Any],
                                                        session: Any) -> None:
    from carebiz.services.tokens import create_token

    viewer = session.get(User, seeded["users"]["viewer"])
    with app.test_request_context(), pytest.raises(Forbidden, match="API tokens"):
        create_token(session, viewer, "mine")
    with app.test_request_context():
        token, secret = create_token(session, viewer, "cli", by_operator=True)
        assert token.user_id == viewer.id and secret


# -- pages ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", EXPORT_PATHS)
def test_every_export_path_refuses_a_reader(client_for: Any, path: str) -> None:
    assert client_for("viewer").get(path).status_code == 403
    assert client_for("manager").get(path).status_code == 200


def test_old_export_link_ends_refused(client_for: Any) -> None:
    resp = client_for("viewer").get("/customers/export.csv", follow_redirects=True)
    assert resp.status_code == 403


def test_export_control_hidden_from_a_reader(client_for: Any) -> None:
    for path in ("/customers", "/vehicles", "/query/customers?g1=city"):
        assert 'data-testid="export-control"' not in client_for("viewer").get(path).text, path
        assert 'data-testid="export-control"' in client_for("manager").get(path).text, path
    segments = client_for("manager").get("/segments").text
    assert "/customers/export.csv" in segments


def test_tokens_page_offers_no_form_to_a_reader(client_for: Any) -> None:
    viewer = client_for("viewer")
    page = viewer.get("/admin/tokens")
    assert page.status_code == 200
    assert 'data-testid="tokens-not-allowed"' in page.text and 'name="name"' not in page.text
    assert viewer.post("/admin/tokens", data={"name": "sneaky"}).status_code == 403
    sales = client_for("sales").get("/admin/tokens").text
    assert 'data-testid="tokens-not-allowed"' not in sales


# -- API -----------------------------------------------------------------------------------------


def test_api_refuses_a_reader_csv_and_tokens(api_client: Any) -> None:
    viewer = api_client("viewer")
    assert viewer.get("/api/v1/customers").status_code == 200  # still reads
    resp = viewer.get("/api/v1/customers?format=csv")
    assert resp.status_code == 403
    assert "export" in resp.get_json()["message"]
    assert viewer.get("/api/v1/vehicles", headers={"Accept": "text/csv"}).status_code == 403
    resp = viewer.post("/api/v1/tokens", json={"name": "bulk"})
    assert resp.status_code == 403 and "API tokens" in resp.get_json()["message"]
    sales = api_client("sales")
    assert sales.get("/api/v1/customers?format=csv").status_code == 200
    assert sales.post("/api/v1/tokens", json={"name": "mine"}).status_code == 201


def test_a_granted_reader_exports(app: Flask, seeded: dict[str, Any], client_for: Any) -> None:
    """Roles are data: ticking the permission on the roles page gives it back."""
    from carebiz.security.permissions import registered_permissions
    from carebiz.services.roles import set_permissions

    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        role = get_role(sess, "read_only")
        set_permissions(sess, role, role.permission_names | {EXPORT_PERMISSION},
                        registered_permissions())
        sess.commit()
    assert client_for("viewer").get("/export/crm.customers?format=csv").status_code == 200
