"""Server-side session revocation: logout, password change and deactivation end the user's
sessions everywhere, including copies of the cookies taken earlier."""

from __future__ import annotations

from typing import Any

from flask import Flask

from carebiz.models import User
from tests.conftest import PASSWORD, login

NEW_PASSWORD = "new-secret-42"


def _with_cookie(app: Flask, name: str, value: str) -> Any:
    client = app.test_client()
    client.set_cookie(name, value)
    return client


def _logged_out(client: Any) -> bool:
    resp = client.get("/")
    return resp.status_code == 302 and "/login" in resp.headers["Location"]


def test_session_cookie_copied_before_logout_is_dead_afterwards(app, seeded):
    client = app.test_client()
    assert login(client, "sales").status_code == 302
    copied = client.get_cookie("session").value
    assert _with_cookie(app, "session", copied).get("/").status_code == 200  # a working copy
    client.post("/logout")
    thief = _with_cookie(app, "session", copied)
    assert _logged_out(thief)
    assert thief.get("/api/v1/me").status_code == 401


def test_remember_me_cookie_copied_before_logout_is_dead_afterwards(app, seeded):
    client = app.test_client()
    resp = client.post("/login", data={"username": "sales", "password": PASSWORD,
                                       "remember": "y"})
    assert resp.status_code == 302
    remember = client.get_cookie("remember_token").value
    assert _with_cookie(app, "remember_token", remember).get("/").status_code == 200
    client.post("/logout")
    assert _logged_out(_with_cookie(app, "remember_token", remember))


def test_own_password_change_ends_the_other_sessions_not_this_one(app, seeded):
    """Chosen behaviour: the browser that changed the password stays logged in (its session
    is renewed with the new epoch); every other session of the user ends."""
    here, elsewhere = app.test_client(), app.test_client()
    login(here, "sales")
    login(elsewhere, "sales")
    assert here.get("/account/password").status_code == 200
    resp = here.post("/account/password", data={
        "current_password": PASSWORD, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert resp.status_code == 302, resp.data
    assert here.get("/").status_code == 200
    assert _logged_out(elsewhere)
    assert login(app.test_client(), "sales", NEW_PASSWORD).status_code == 302


def test_own_password_change_needs_the_current_password(app, seeded):
    client = app.test_client()
    login(client, "sales")
    resp = client.post("/account/password", data={
        "current_password": "not-it-at-all", "password": NEW_PASSWORD,
        "confirm": NEW_PASSWORD})
    assert resp.status_code == 422 and b"Wrong password." in resp.data
    resp = client.post("/account/password", data={
        "current_password": PASSWORD, "password": NEW_PASSWORD, "confirm": "something-else"})
    assert resp.status_code == 422 and b"The two entries differ." in resp.data
    assert login(app.test_client(), "sales").status_code == 302  # unchanged


def test_remembered_browser_that_changed_its_password_stays_remembered(app, seeded):
    client = app.test_client()
    client.post("/login", data={"username": "sales", "password": PASSWORD, "remember": "y"})
    client.post("/account/password", data={
        "current_password": PASSWORD, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    remember = client.get_cookie("remember_token").value
    assert _with_cookie(app, "remember_token", remember).get("/").status_code == 200


def test_password_set_by_an_administrator_ends_the_users_sessions(admin_client, app, seeded):
    sales = app.test_client()
    login(sales, "sales")
    resp = admin_client.post(f"/admin/users/{seeded['users']['sales']}", data={
        "display_name": "", "email": "", "active": "y", "roles": ["salesperson"],
        "branches": ["A"], "password": NEW_PASSWORD, "locale": ""})
    assert resp.status_code == 302, resp.data
    assert _logged_out(sales)
    assert admin_client.get("/").status_code == 200


def test_administrator_changing_own_password_stays_logged_in(admin_client, app, seeded):
    other = app.test_client()
    login(other, "admin")
    resp = admin_client.post(f"/admin/users/{seeded['users']['admin']}", data={
        "display_name": "", "email": "", "active": "y", "roles": ["admin"],
        "all_branches": "y", "password": NEW_PASSWORD, "locale": ""})
    assert resp.status_code == 302, resp.data
    assert admin_client.get("/").status_code == 200
    assert _logged_out(other)


def _set_active(app: Flask, user_id: int, active: bool) -> None:
    # no app context may stay open around client calls: Flask would reuse it and its `g`
    from carebiz.services.users import update_user

    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        update_user(sess, sess.get(User, user_id), active=active)
        sess.commit()


def test_deactivation_ends_sessions_and_reactivation_does_not_revive_them(app, seeded):
    client = app.test_client()
    login(client, "sales")
    copied = client.get_cookie("session").value
    _set_active(app, seeded["users"]["sales"], False)
    assert _logged_out(client)
    _set_active(app, seeded["users"]["sales"], True)
    assert _logged_out(_with_cookie(app, "session", copied))
    assert login(app.test_client(), "sales").status_code == 302


def test_cookie_without_an_epoch_is_refused(app, seeded):
    """Sessions issued before epochs existed name the user by id alone."""
    client = app.test_client()
    login(client, "sales")
    with client.session_transaction() as sess:
        assert sess["_user_id"] == f"{seeded['users']['sales']}:0"
        sess["_user_id"] = str(seeded["users"]["sales"])
    assert _logged_out(client)
