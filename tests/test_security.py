"""Login, cookies, CSRF, API tokens, permissions and branch row filters."""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import select

from carebiz.models import ApiToken, User
from tests.conftest import PASSWORD, login, token_for


def test_password_is_hashed_with_scrypt(app, seeded, session, monkeypatch):
    from carebiz.services import users

    monkeypatch.setattr(users, "PASSWORD_METHOD", "scrypt")  # the production default
    user = session.get(User, seeded["users"]["sales"])
    users.update_user(session, user, password="another-secret-1")
    assert user.password_hash.startswith("scrypt:")
    assert "another-secret-1" not in user.password_hash
    assert users.authenticate(session, "sales", "another-secret-1") is user


def test_login_logout_and_wrong_password(app, seeded):
    client = app.test_client()
    resp = login(client, "sales", "wrong-password")
    assert resp.status_code == 422
    assert b"Wrong user name or password." in resp.data
    assert login(client, "nobody").status_code == 422
    resp = login(client, "sales")
    assert resp.status_code == 302
    assert client.get("/").status_code == 200
    client.post("/logout")
    assert client.get("/").status_code == 302


def test_inactive_user_cannot_log_in(app, seeded, session):
    session.get(User, seeded["users"]["sales"]).active = False
    session.commit()
    assert login(app.test_client(), "sales").status_code == 422


def test_login_redirect_stays_on_site(app, seeded):
    client = app.test_client()
    resp = client.post("/login?next=https://evil.example/", data={
        "username": "sales", "password": PASSWORD})
    assert resp.headers["Location"] == "/"
    client = app.test_client()
    resp = client.post("/login?next=/jobs/x", data={"username": "sales", "password": PASSWORD})
    assert resp.headers["Location"] == "/jobs/x"


def test_session_cookie_flags(make_app, tmp_path):
    app = make_app(CAREBIZ_SECURE_COOKIES="true")
    from tests.conftest import seed

    seed(app)
    resp = login(app.test_client(), "sales")
    cookie = resp.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" in cookie


def test_csrf_required_on_forms_but_not_for_bearer_tokens(make_app):
    app = make_app(WTF_CSRF_ENABLED=True)
    from tests.conftest import seed

    seed(app)
    client = app.test_client()
    resp = login(client, "admin")
    assert resp.status_code == 400  # no token in the form
    page = client.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    resp = client.post("/login", data={"username": "admin", "password": PASSWORD,
                                       "csrf_token": csrf})
    assert resp.status_code == 302
    # a cookie-authenticated API write without the token is refused
    resp = client.post("/api/v1/tokens", json={"name": "x"})
    assert resp.status_code == 400 and resp.get_json()["code"] == 400
    resp = client.post("/api/v1/tokens", json={"name": "x"}, headers={"X-CSRFToken": csrf})
    assert resp.status_code == 201
    # a bearer token is not sent by browsers on their own: no CSRF token needed
    bearer = {"Authorization": "Bearer " + resp.get_json()["token"]}
    assert app.test_client().post("/api/v1/tokens", json={}, headers=bearer).status_code == 201


def test_token_lifecycle(app, seeded):
    # no app context is held around the client calls: Flask would reuse it (and its `g`)
    secret = token_for(app, "sales")
    client = app.test_client()
    headers = {"Authorization": f"Bearer {secret}"}
    me = client.get("/api/v1/me", headers=headers).get_json()
    assert me["username"] == "sales" and me["branches"] == ["A"]
    assert "admin.users" not in me["permissions"]
    with app.app_context(), app.extensions["carebiz"].session_factory() as session:
        token = session.scalars(select(ApiToken)).one()
        assert token.token_hash != secret and secret.startswith(token.prefix)
        assert token.last_used_at is not None
    resp = client.delete(f"/api/v1/tokens/{token.id}", headers=headers)
    assert resp.status_code == 200
    resp = client.get("/api/v1/me", headers=headers)
    assert resp.status_code == 401
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")
    assert resp.get_json()["message"]


def test_expired_and_garbage_tokens(app, seeded, session):
    import pytest

    from carebiz.errors import ValidationFailed
    from carebiz.services.tokens import create_token

    user = session.get(User, seeded["users"]["sales"])
    yesterday = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    with pytest.raises(ValidationFailed, match="future"):
        create_token(session, user, "old", yesterday)
    token, secret = create_token(session, user, "old", yesterday + dt.timedelta(days=2))
    token.expires_at = yesterday  # time passes
    session.commit()
    client = app.test_client()
    for value in (secret, "cbz_nonsense", "", "not-even-prefixed"):
        assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {value}"}
                          ).status_code == 401


def test_other_users_token_cannot_be_revoked(app, seeded):
    sales = {"Authorization": "Bearer " + token_for(app, "sales")}
    viewer = {"Authorization": "Bearer " + token_for(app, "viewer")}
    client = app.test_client()
    tokens = client.get("/api/v1/tokens", headers=sales).get_json()
    assert tokens["total"] == 1
    assert client.delete(f"/api/v1/tokens/{tokens['items'][0]['id']}",
                         headers=viewer).status_code == 404


def test_api_permissions_default_deny(app, seeded):
    client = app.test_client()
    assert client.get("/api/v1/users").status_code == 401
    sales = {"Authorization": "Bearer " + token_for(app, "sales")}
    resp = client.get("/api/v1/users", headers=sales)
    assert resp.status_code == 403 and set(resp.get_json()) == {"code", "status", "message",
                                                                "errors"}
    admin = {"Authorization": "Bearer " + token_for(app, "admin")}
    assert client.get("/api/v1/users", headers=admin).get_json()["total"] == 4


def test_pages_require_login_and_permission(app, seeded):
    client = app.test_client()
    resp = client.get("/")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]


def test_branch_filter_on_branch_list(app, seeded):
    sales = {"Authorization": "Bearer " + token_for(app, "sales")}
    manager = {"Authorization": "Bearer " + token_for(app, "manager")}
    client = app.test_client()
    assert [b["code"] for b in client.get("/api/v1/branches", headers=sales
                                          ).get_json()["items"]] == ["A"]
    assert [b["code"] for b in client.get("/api/v1/branches", headers=manager
                                          ).get_json()["items"]] == ["A", "B"]


def test_audit_api_is_row_filtered(app, seeded):
    from carebiz.services.roles import get_role, set_permissions

    ext = app.extensions["carebiz"]
    with app.app_context(), ext.session_factory() as sess:
        role = get_role(sess, "salesperson")
        set_permissions(sess, role, ["audit.view"], ["audit.view"])
        sess.commit()
    sales = {"Authorization": "Bearer " + token_for(app, "sales")}
    entries = app.test_client().get("/api/v1/audit?entity_type=branch",
                                    headers=sales).get_json()
    assert [e["branch_id"] for e in entries["items"]] == [seeded["branches"]["A"]]
    admin = {"Authorization": "Bearer " + token_for(app, "admin")}
    entries = app.test_client().get("/api/v1/audit?entity_type=branch",
                                    headers=admin).get_json()
    assert entries["total"] == 2


def test_roles_are_data_and_unknown_permissions_rejected(app, seeded, session):
    import pytest

    from carebiz.errors import ValidationFailed
    from carebiz.services.roles import create_role

    with pytest.raises(ValidationFailed, match="Unknown permissions: made.up"):
        create_role(session, "cashier", "Cashier", ["made.up"], ["audit.view"])
    role = create_role(session, "cashier", "Cashier", ["audit.view"], ["audit.view"])
    assert role.permission_names == {"audit.view"}


def test_last_active_administrator_is_kept(app, seeded, session):
    import pytest

    from carebiz.errors import Conflict
    from carebiz.services.users import update_user

    admin = session.get(User, seeded["users"]["admin"])
    with pytest.raises(Conflict, match="no active administrator"):
        update_user(session, admin, active=False)
    session.rollback()
    admin = session.get(User, seeded["users"]["admin"])
    with pytest.raises(Conflict):
        update_user(session, admin, roles=["manager"])
    session.rollback()
    manager = session.get(User, seeded["users"]["manager"])
    update_user(session, manager, roles=["manager", "admin"])
    admin = session.get(User, seeded["users"]["admin"])
    update_user(session, admin, active=False)  # another administrator remains
    session.commit()


def test_role_keeps_grants_of_switched_off_plugins(sample_app, sample_seeded):
    from carebiz.services import subsystems
    from carebiz.services.roles import get_role, set_permissions

    ext = sample_app.extensions["carebiz"]
    with sample_app.app_context(), ext.session_factory() as sess:
        subsystems.switch(sess, ext.host, "sample", False)
        sess.commit()
        known = {p.name for p in ext.host.collect("permissions")}
        assert "sample.view" not in known
        role = get_role(sess, "salesperson")
        set_permissions(sess, role, ["audit.view"], known)
        sess.commit()
        assert role.permission_names == {"audit.view", "sample.view"}
