"""One set of password rules for every way of setting a password, with messages that say
what is wrong."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from flask import Flask
from flask_babel import Babel

from carebiz.demo import DEMO_PASSWORD, DEMO_USERS
from carebiz.security.passwords import problem
from tests.conftest import PASSWORD, login, token_for


@pytest.fixture
def messages() -> Iterator[None]:
    """The rules are pure: a bare app with Babel is enough to translate their messages."""
    bare = Flask(__name__)
    Babel(bare)
    with bare.test_request_context():
        yield


@pytest.mark.parametrize(("password", "username", "reason"), [
    ("", "sales", "blank"),
    ("        ", "sales", "blank"),
    ("\t \n    \t ", "sales", "blank"),
    ("short1!", "sales", "at least 8 characters"),
    ("password", "sales", "most commonly used"),
    ("Password", "sales", "most commonly used"),
    ("P@ssw0rd", "sales", "most commonly used"),  # l33t spelling of a listed one
    ("iloveyou", "sales", "most commonly used"),
    ("password1", "sales", "most commonly used"),
    ("woaini1314", "sales", "most commonly used"),
    ("aaaaaaaa", "sales", "one character repeated"),
    ("88888888", "sales", "one character repeated"),
    ("abababab", "sales", "short pattern repeated"),
    ("12341234", "sales", "short pattern repeated"),
    ("12345678", "sales", "simple sequence"),
    ("87654321", "sales", "simple sequence"),
    ("abcdefgh", "sales", "simple sequence"),
    ("qwertyui", "sales", "simple sequence"),
    ("asdfghjkl", "sales", "simple sequence"),
    ("lizhangwei", "lizhangwei", "user name"),
    ("LiZhangWei", "lizhangwei", "user name"),
    ("lizhangwei-2024", "lizhangwei", "user name"),
    ("zhangwei", "lizhangwei88", "user name"),  # part of the user name
])
def test_weak_passwords_are_refused_with_the_reason(messages, password, username, reason):
    message = problem(password, username)
    assert message is not None and reason in message, message


@pytest.mark.parametrize(("password", "username"), [
    (PASSWORD, "sales"),
    (PASSWORD, "admin"),
    ("another-secret-1", "sales"),
    ("Tr0ub4dor&3-horse", "li"),  # a two-letter name is only compared whole
    ("a long passphrase of several words, " * 6, "sales"),  # long: no slow list lookup
    *[(DEMO_PASSWORD, username) for username, _name, _all in DEMO_USERS.values()],
])
def test_reasonable_passwords_pass(messages, password, username):
    assert problem(password, username) is None


def test_api_refuses_a_common_password(app, seeded):
    admin = {"Authorization": "Bearer " + token_for(app, "admin")}
    resp = app.test_client().post("/api/v1/users", headers=admin, json={
        "username": "newbie", "password": "12345678"})
    assert resp.status_code == 422
    body = resp.get_json()
    assert "simple sequence" in body["message"] and "password" in body["errors"]
    resp = app.test_client().post("/api/v1/users", headers=admin, json={
        "username": "newbie", "password": "newbie-rules"})
    assert resp.status_code == 422 and "user name" in resp.get_json()["errors"]["password"][0]


def _page_error(html: str) -> str:
    return re.sub(r"\s+", " ", html)


def test_admin_pages_refuse_weak_passwords(admin_client, seeded):
    resp = admin_client.post("/admin/users/new", data={
        "username": "newbie", "password": "        ", "display_name": "", "email": "",
        "locale": ""})
    assert resp.status_code == 422
    assert "The password must not be blank or only spaces." in _page_error(resp.get_data(
        as_text=True))
    resp = admin_client.post(f"/admin/users/{seeded['users']['sales']}", data={
        "display_name": "", "email": "", "active": "y", "roles": ["salesperson"],
        "branches": ["A"], "password": "password", "locale": ""})
    assert resp.status_code == 422
    assert "one of the most commonly used passwords" in resp.get_data(as_text=True)


def test_own_password_change_follows_the_rules(app, seeded):
    client = app.test_client()
    login(client, "sales")
    resp = client.post("/account/password", data={
        "current_password": PASSWORD, "password": "sales-person", "confirm": "sales-person"})
    assert resp.status_code == 422
    assert "must not contain the user name" in resp.get_data(as_text=True)
    resp = client.post("/account/password", data={
        "current_password": PASSWORD, "password": PASSWORD, "confirm": PASSWORD})
    assert resp.status_code == 422 and "must differ" in resp.get_data(as_text=True)


def test_cli_users_create_refuses_a_trivial_password(app, seeded):
    from carebiz.cli import main

    result = app.test_cli_runner().invoke(main, [
        "users", "create", "newbie", "--password", "abcdefgh"])
    assert result.exit_code != 0
    assert "simple sequence" in result.output
    result = app.test_cli_runner().invoke(main, [
        "users", "create", "newbie", "--password", "a-far-better-one-7"])
    assert result.exit_code == 0, result.output
