"""A fresh install works without demo data: the first-run page and ``carebiz setup`` name the
business, its first branch and the first administrator; a business with one branch never has
to name it (API, forms); ``carebiz users create`` alone is enough to start recording
customers."""

from __future__ import annotations

import re
import threading
from typing import Any

import pytest
from sqlalchemy import func, select

from carebiz.cli import main
from carebiz.crm.models import Party, Vehicle
from carebiz.models import Branch, SettingValue, User
from carebiz.services import setup as setup_service
from carebiz.services.branches import _first_branch, default_branch_for, save_branch
from tests.conftest import PASSWORD, login, token_for
from tests.crm_helpers import valid_vin

VIN = valid_vin(1)


def count(app: Any, stmt: Any) -> Any:
    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        return sess.scalar(stmt)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# -- a fresh install: db upgrade, users create, a token ------------------------------------


def test_fresh_install_creates_customers_without_naming_a_branch(make_app):
    app = make_app(schema=False)
    cli = app.test_cli_runner()
    for args in (["db", "upgrade"],
                 ["users", "create", "boss", "--password", PASSWORD, "--role", "admin"]):
        result = cli.invoke(main, args)
        assert result.exit_code == 0, result.output
    headers = bearer(token_for(app, "boss"))
    client = app.test_client()

    resp = client.post("/api/v1/customers", json={"name": "Wang Wei"}, headers=headers)
    assert resp.status_code == 201, resp.get_json()  # was 422 "branch_id: Required."
    branch = count(app, select(Branch).where(Branch.code == "MAIN"))
    assert branch is not None and branch.name == "Main"
    assert resp.get_json()["branch_id"] == branch.id
    resp = client.post("/api/v1/vehicles", json={"vin": VIN}, headers=headers)
    assert resp.status_code == 201, resp.get_json()
    assert resp.get_json()["branch_id"] == branch.id
    resp = client.post("/api/v1/customers", json={"name": "Li Na"}, headers=headers)
    assert resp.get_json()["branch_id"] == branch.id
    assert count(app, select(func.count(Branch.id))) == 1


def test_a_user_with_one_branch_never_names_it(app, seeded):
    client = app.test_client()
    sales = bearer(token_for(app, "sales"))  # works in A only
    resp = client.post("/api/v1/customers", json={"name": "Zhao Lei"}, headers=sales)
    assert resp.status_code == 201 and resp.get_json()["branch_id"] == seeded["branches"]["A"]
    resp = client.post("/api/v1/vehicles", json={"vin": VIN}, headers=sales)
    assert resp.status_code == 201 and resp.get_json()["branch_id"] == seeded["branches"]["A"]

    # a company-wide user of a two-branch business without a default branch must choose
    manager = bearer(token_for(app, "manager"))
    resp = client.post("/api/v1/customers", json={"name": "Qian Fang"}, headers=manager)
    assert resp.status_code == 422 and "branch_id" in resp.get_json()["errors"]
    assert count(app, select(func.count(Branch.id))) == 2  # nothing guessed, nothing created


def test_company_wide_users_of_a_single_branch_business_never_name_it(make_app):
    app = make_app()
    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        from carebiz.services.roles import sync_roles
        from carebiz.services.users import create_user

        sync_roles(sess, app.extensions["carebiz"].host.collect("permissions"))
        only = save_branch(sess, None, code="HQ", name="Head office")
        create_user(sess, "mgr", PASSWORD, roles=["manager"], all_branches=True)
        sess.commit()
        only_id = only.id
    resp = app.test_client().post("/api/v1/customers", json={"name": "Sun Li"},
                                  headers=bearer(token_for(app, "mgr")))
    assert resp.status_code == 201 and resp.get_json()["branch_id"] == only_id


def test_default_branch_rule(app, seeded):
    ext = app.extensions["carebiz"]
    with app.app_context(), ext.session_factory() as sess:
        users = {u.username: u for u in sess.scalars(select(User))}
        a, b = seeded["branches"]["A"], seeded["branches"]["B"]
        assert default_branch_for(sess, users["sales"]).id == a
        assert default_branch_for(sess, users["manager"]) is None  # two branches, no default
        users["manager"].default_branch_id = b
        assert default_branch_for(sess, users["manager"]).id == b
        sess.get(Branch, b).active = False
        assert default_branch_for(sess, users["manager"]).id == a  # the only active one
        # without a user (CLI, jobs) the one active branch, and never a new one
        assert default_branch_for(sess, None).id == a
        sess.get(Branch, a).active = False
        assert default_branch_for(sess, None) is None
        assert sess.scalar(select(func.count(Branch.id))) == 2


def test_the_first_branch_made_at_the_same_moment_is_taken_not_doubled(app):
    ext = app.extensions["carebiz"]
    with app.app_context(), ext.session_factory() as sess:
        assert default_branch_for(sess, None, create=False) is None  # only asks
        assert sess.scalar(select(func.count(Branch.id))) == 0
        first = default_branch_for(sess, None)
        sess.commit()
        again = _first_branch(sess)  # what a request that lost the race does
        assert again.id == first.id
        assert sess.scalar(select(func.count(Branch.id))) == 1


def test_forms_hide_the_branch_when_there_is_nothing_to_choose(app, seeded):
    sales = app.test_client()
    login(sales, "sales")
    page = sales.get("/customers/new").get_data(as_text=True)
    assert 'id="branch_id"' not in page  # no select
    assert f'<input type="hidden" name="branch_id" value="{seeded["branches"]["A"]}">' in page
    resp = sales.post("/customers/new", data={"kind": "person", "name": "Zhou Yu",
                                              "roles": "customer"})
    assert resp.status_code == 302, resp.get_data(as_text=True)
    assert 'id="branch_id"' not in sales.get("/vehicles/new").get_data(as_text=True)
    resp = sales.post("/vehicles/new", data={"vin": VIN})
    assert resp.status_code == 302, resp.get_data(as_text=True)
    assert count(app, select(Vehicle.branch_id)) == seeded["branches"]["A"]

    admin = app.test_client()
    login(admin, "admin")  # two branches to choose from
    assert 'id="branch_id" name="branch_id"' in admin.get("/customers/new").get_data(as_text=True)


def test_forms_work_before_any_branch_exists(make_app):
    app = make_app()
    cli = app.test_cli_runner()
    result = cli.invoke(main, ["users", "create", "boss", "--password", PASSWORD, "--role",
                               "admin"])
    assert result.exit_code == 0, result.output
    client = app.test_client()
    login(client, "boss")
    assert 'type="hidden" name="branch_id" value=""' in client.get(
        "/customers/new").get_data(as_text=True)
    assert count(app, select(func.count(Branch.id))) == 0  # showing the form creates nothing
    resp = client.post("/customers/new", data={"kind": "person", "name": "Wu Di",
                                               "roles": "customer"})
    assert resp.status_code == 302, resp.get_data(as_text=True)
    assert count(app, select(Party.branch_id)) == count(
        app, select(Branch.id).where(Branch.code == "MAIN"))


# -- the first-run page --------------------------------------------------------------------

SETUP = {"business_name": "Sunrise Motors", "branch_name": "Downtown", "branch_code": "dt",
         "currency": "CNY", "username": "boss", "display_name": "Boss Wang",
         "email": "boss@example.com", "password": PASSWORD, "confirm": PASSWORD}


def test_first_run_page_sets_up_the_business(app):
    client = app.test_client()
    for url in ("/", "/login", "/customers"):
        resp = client.get(url)
        assert resp.status_code == 302 and resp.headers["Location"] == "/setup", url
    assert client.get("/healthz").status_code == 200
    assert client.get("/api/v1/me").status_code == 401  # the API is not redirected
    page = client.get("/setup")
    assert page.status_code == 200 and b'data-testid="setup-form"' in page.data

    resp = client.post("/setup", data={**SETUP, "confirm": "something-else"})
    assert resp.status_code == 422 and b"The passwords differ." in resp.data
    resp = client.post("/setup", data={**SETUP, "password": "short", "confirm": "short",
                                       "currency": "XXQ", "branch_code": "x" * 40})
    assert resp.status_code == 422
    assert count(app, select(func.count(User.id))) == 0
    assert count(app, select(func.count(Branch.id))) == 0

    resp = client.post("/setup", data=SETUP)
    assert resp.status_code == 302 and resp.headers["Location"] == "/"
    home = client.get("/")
    assert home.status_code == 200 and b"Sunrise Motors is set up" in home.data
    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        boss = sess.scalar(select(User))
        assert boss.username == "boss" and boss.is_superuser and boss.all_branches
        branch = sess.scalar(select(Branch))
        assert (branch.code, branch.name) == ("DT", "Downtown")
        assert boss.default_branch_id == branch.id
        assert sess.get(SettingValue, "core.company_name").value == "Sunrise Motors"
        assert sess.get(SettingValue, setup_service.SETUP_KEY).value["admin"] == "boss"
    # the new admin records a customer without naming the branch
    resp = client.post("/customers/new", data={"kind": "person", "name": "Wang Wei",
                                               "roles": "customer"})
    assert resp.status_code == 302
    # once set up, the page is gone, for everyone
    assert client.get("/setup").status_code == 404
    other = app.test_client()
    assert other.get("/setup").status_code == 404
    assert other.post("/setup", data={**SETUP, "username": "intruder"}).status_code == 404
    assert other.get("/").headers["Location"].startswith("/login")
    assert count(app, select(func.count(User.id))) == 1


def test_first_run_page_is_gone_when_users_exist(app, seeded):
    client = app.test_client()
    assert client.get("/setup").status_code == 404
    assert client.get("/").headers["Location"].startswith("/login")


def test_first_run_page_needs_the_csrf_token(make_app):
    app = make_app(WTF_CSRF_ENABLED=True)
    client = app.test_client()
    resp = client.post("/setup", data=SETUP)
    assert resp.status_code == 400
    assert count(app, select(func.count(User.id))) == 0
    page = client.get("/setup").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    resp = client.post("/setup", data={**SETUP, "csrf_token": token})
    assert resp.status_code == 302, resp.get_data(as_text=True)


def test_first_run_page_without_tables_says_what_to_run(make_app):
    app = make_app(schema=False)
    resp = app.test_client().get("/setup")
    assert resp.status_code == 503 and b"carebiz db upgrade" in resp.data


def test_two_simultaneous_set_ups_make_one_first_admin(app, monkeypatch):
    """The first set-up holds the marker row while it works; the second waits for it and
    then gets AlreadySetUp, whichever moment it arrives at."""
    ext = app.extensions["carebiz"]
    claimed, release = threading.Event(), threading.Event()
    real_sync = setup_service.sync_roles

    def slow_sync(session: Any, permissions: Any) -> Any:
        if threading.current_thread().name == "first":
            claimed.set()
            release.wait(10)
        return real_sync(session, permissions)

    monkeypatch.setattr(setup_service, "sync_roles", slow_sync)
    outcome: dict[str, Any] = {}

    def attempt(username: str) -> None:
        with app.app_context(), ext.session_factory() as sess:
            try:
                setup_service.set_up(sess, ext.host, **{
                    **{k: v for k, v in SETUP.items() if k not in ("confirm", "username")},
                    "username": username})
                sess.commit()
                outcome[username] = "admin"
            except setup_service.AlreadySetUp:
                outcome[username] = "refused"

    first = threading.Thread(target=attempt, args=("first",), name="first")
    second = threading.Thread(target=attempt, args=("second",), name="second")
    first.start()
    assert claimed.wait(10)
    second.start()
    second.join(0.5)  # usually now waiting for the first one's marker row
    release.set()
    first.join(30)
    second.join(30)
    assert outcome == {"first": "admin", "second": "refused"}
    assert count(app, select(func.count(User.id))) == 1
    assert count(app, select(func.count(Branch.id))) == 1


# -- carebiz setup ---------------------------------------------------------------------------


@pytest.fixture
def cli(app):
    runner = app.test_cli_runner()
    return lambda *args, **kw: runner.invoke(main, list(args), **kw)


def test_cli_setup_non_interactive_then_idempotent(app, cli):
    result = cli("setup", "--business-name", "Sunrise Motors", "--branch-name", "Downtown",
                 "--admin", "boss", "--password", PASSWORD, "--currency", "usd")
    assert result.exit_code == 0, result.output
    assert "branch MAIN, administrator boss" in result.output
    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        assert sess.get(SettingValue, "core.base_currency").value == "USD"
        assert sess.scalar(select(Branch.name)) == "Downtown"
    result = cli("setup", "--business-name", "Other", "--branch-name", "X", "--admin", "two",
                 "--password", PASSWORD)
    assert result.exit_code == 0 and "set up already" in result.output
    assert count(app, select(func.count(User.id))) == 1
    # the admin can log in and record customers at once
    client = app.test_client()
    assert login(client, "boss").status_code == 302
    resp = client.post("/api/v1/customers", json={"name": "Wang Wei"},
                       headers=bearer(token_for(app, "boss")))
    assert resp.status_code == 201


def test_cli_setup_reports_every_problem_and_changes_nothing(app, cli):
    result = cli("setup", "--business-name", "Sunrise", "--branch-name", "Downtown",
                 "--admin", "boss")
    assert result.exit_code == 2 and "missing --password" in result.output
    result = cli("setup", "--password", PASSWORD)
    assert result.exit_code == 2 and "missing --business-name" in result.output
    result = cli("setup", "--business-name", "Sunrise", "--branch-name", "Downtown",
                 "--admin", "bo ss", "--password", "short", "--currency", "XXQ")
    assert result.exit_code == 1
    for problem in ("username:", "password:", "currency:"):
        assert problem in result.output
    assert count(app, select(func.count(User.id))) == 0
    assert count(app, select(func.count(Branch.id))) == 0


def test_cli_setup_asks_at_a_terminal(app, cli, monkeypatch):
    import carebiz.cli

    monkeypatch.setattr(carebiz.cli, "_interactive", lambda: True)
    answers = "Sunrise Motors\nDowntown\n\nboss\n\n" + f"{PASSWORD}\n{PASSWORD}\n"
    result = cli("setup", input=answers)
    assert result.exit_code == 0, result.output
    assert "Branch code [MAIN]" in result.output and "Currency [CNY]" in result.output
    assert count(app, select(User.username)) == "boss"


def test_cli_setup_without_tables(make_app):
    app = make_app(schema=False)
    result = app.test_cli_runner().invoke(main, ["setup", "--password", PASSWORD])
    assert result.exit_code == 1 and "carebiz db upgrade" in result.output


def test_demo_data_counts_as_set_up(app, cli):
    assert cli("demo").exit_code == 0
    assert app.test_client().get("/setup").status_code == 404
