"""The administration pages: access rules, lists, create/edit with audit, validation that keeps
what was typed, API tokens shown once, the subsystem switch, settings and the audit log."""

from __future__ import annotations

import datetime as dt
import html as html_lib
import re
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask, render_template_string
from sqlalchemy import select

from carebiz.models import ApiToken, AuditEntry, Branch, Role, SettingValue, User
from carebiz.testing.dists import manifest_module
from tests.conftest import PASSWORD, login, seed

LIST_PAGES = ["/admin/users", "/admin/users/new", "/admin/roles", "/admin/roles/new",
              "/admin/branches", "/admin/branches/new", "/admin/plugins", "/admin/settings",
              "/admin/audit"]


def db(app: Flask) -> Any:
    return app.extensions["carebiz"].session_factory()


def audit_rows(app: Flask, entity_type: str, entity_id: Any) -> list[AuditEntry]:
    with db(app) as sess:
        return list(sess.scalars(select(AuditEntry).where(
            AuditEntry.entity_type == entity_type, AuditEntry.entity_id == str(entity_id))
            .order_by(AuditEntry.id)))


def client_for(app: Flask, username: str) -> Any:
    client = app.test_client()
    assert login(client, username).status_code == 302
    return client


def text(resp: Any) -> str:
    """The page with HTML entities decoded, so assertions read like the screen."""
    return html_lib.unescape(resp.get_data(as_text=True))


# -- access -----------------------------------------------------------------------------


def test_admin_opens_every_page(admin_client: Any) -> None:
    for url in [*LIST_PAGES, "/admin/tokens", "/admin/users/1", "/admin/roles/1",
                "/admin/branches/1"]:
        resp = admin_client.get(url)
        assert resp.status_code == 200, url
        assert 'lang="en"' in text(resp)
    admin_client.post("/language/zh_CN")  # dates and numbers in the other locale render too
    for url in [*LIST_PAGES, "/admin/tokens", "/admin/users/1"]:
        resp = admin_client.get(url)
        assert resp.status_code == 200, url
        assert 'lang="zh-CN"' in text(resp)


def test_without_the_permission_403(app: Flask, seeded: dict[str, Any]) -> None:
    sales = client_for(app, "sales")
    for url in LIST_PAGES:
        assert sales.get(url).status_code == 403, url
    assert sales.get("/admin/tokens").status_code == 200  # everyone manages their own


def test_anonymous_goes_to_login(app: Flask, seeded: dict[str, Any]) -> None:
    client = app.test_client()  # users exist: a fresh install leads to /setup instead
    for url in [*LIST_PAGES, "/admin/tokens", "/admin/users/1", "/admin/roles/1",
                "/admin/branches/1"]:
        resp = client.get(url)
        assert resp.status_code == 302, url
        assert "/login" in resp.headers["Location"], url
    assert client.post("/admin/tokens", data={"name": "x"}).status_code == 302


def test_post_routes_are_guarded(app: Flask, seeded: dict[str, Any]) -> None:
    sales = client_for(app, "sales")
    assert sales.post("/admin/users/new", data={"username": "x"}).status_code == 403
    assert sales.post("/admin/plugins/anything/disable").status_code == 403
    assert sales.post("/admin/settings", data={}).status_code == 403
    assert sales.get("/admin/plugins/anything/disable").status_code == 405


def test_manager_reads_audit_but_not_users(app: Flask, seeded: dict[str, Any]) -> None:
    manager = client_for(app, "manager")
    assert manager.get("/admin/audit").status_code == 200
    assert manager.get("/admin/users").status_code == 403


def test_admin_menu_links_to_pages(admin_client: Any) -> None:
    html = text(admin_client.get("/"))
    for url in ("/admin/users", "/admin/roles", "/admin/branches", "/admin/tokens",
                "/admin/plugins", "/admin/settings", "/admin/audit"):
        assert f'href="{url}"' in html


def test_forms_carry_csrf_and_refuse_posts_without_it(make_app: Any) -> None:
    app = make_app(WTF_CSRF_ENABLED=True)
    seed(app)
    client = app.test_client()
    page = text(client.get("/login"))
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    client.post("/login", data={"username": "admin", "password": PASSWORD,
                                "csrf_token": token})
    html = text(client.get("/admin/users/new"))
    assert 'name="csrf_token"' in html
    assert client.post("/admin/users/new", data={"username": "eve"}).status_code == 400


# -- users ------------------------------------------------------------------------------


def add_plain_users(app: Flask, count: int, prefix: str = "u") -> None:
    """Rows straight into the table: hashing passwords would make list tests slow."""
    with db(app) as sess:
        sess.add_all(User(username=f"{prefix}{i:03d}", display_name=f"Person {i}")
                     for i in range(count))
        sess.commit()


def test_user_list_search_filter_and_pages(app: Flask, admin_client: Any) -> None:
    add_plain_users(app, 60)
    page1 = text(admin_client.get("/admin/users"))
    assert "1–50 of 64" in page1
    assert 'href="/admin/users?page=2"' in page1
    page2 = text(admin_client.get("/admin/users?page=2"))
    assert "51–64 of 64" in page2 and "u059" in page2 and "u000" not in page2

    found = text(admin_client.get("/admin/users?q=person+4"))
    assert "of 11" in found  # Person 4, 40..49
    assert "u004" in found and "u005" not in found
    by_role = text(admin_client.get("/admin/users?role=salesperson"))
    assert "1–1 of 1" in by_role and ">sales<" in by_role
    # filters stay in the pagination and sort links
    sorted_page = text(admin_client.get("/admin/users?q=u0&sort=-username"))
    assert sorted_page.index("u059") < sorted_page.index("u050") and "u000" not in sorted_page
    assert "q=u0" in sorted_page and "sort=-username" in sorted_page


def test_create_user_is_audited(app: Flask, admin_client: Any) -> None:
    resp = admin_client.post("/admin/users/new", data={
        "username": "zoe", "display_name": "Zoe Li", "email": "zoe@example.com",
        "password": "long-enough-1", "roles": ["salesperson", "technician"],
        "branches": ["B"], "locale": "zh_CN"})
    assert resp.status_code == 302
    with db(app) as sess:
        user = sess.scalar(select(User).where(User.username == "zoe"))
        assert {r.name for r in user.roles} == {"salesperson", "technician"}
        assert [b.code for b in user.branches] == ["B"]
        assert user.locale == "zh_CN" and not user.all_branches
    assert resp.headers["Location"].endswith(f"/admin/users/{user.id}")
    [entry] = audit_rows(app, "user", user.id)
    assert entry.actor_name == "admin" and entry.event == "user.created"
    page = text(admin_client.get(f"/admin/users/{user.id}"))
    assert "Zoe Li" in page and "User zoe created" in page  # audit trail at the bottom
    assert login(app.test_client(), "zoe", "long-enough-1").status_code == 302


def test_create_user_errors_keep_typed_values(app: Flask, admin_client: Any) -> None:
    resp = admin_client.post("/admin/users/new", data={
        "username": "sales", "display_name": "Typed Name", "email": "t@example.com",
        "password": "long-enough-1", "roles": ["manager"]})
    assert resp.status_code == 422
    html = text(resp)
    assert "Already taken." in html and 'value="Typed Name"' in html
    assert 'value="t@example.com"' in html
    assert re.search(r'<option selected value="manager">|<option value="manager" selected',
                     html)
    short = admin_client.post("/admin/users/new", data={
        "username": "newbie", "display_name": "New Bie", "password": "short"})
    assert short.status_code == 422
    assert 'value="newbie"' in text(short) and "is-invalid" in text(short)
    with db(app) as sess:
        assert sess.scalar(select(User).where(User.username == "newbie")) is None


def test_edit_user_keeps_password_and_audits(app: Flask, seeded: dict[str, Any],
                                             admin_client: Any) -> None:
    uid = seeded["users"]["viewer"]
    with db(app) as sess:
        old_hash = sess.get(User, uid).password_hash
    resp = admin_client.post(f"/admin/users/{uid}", data={
        "display_name": "Vera Viewer", "email": "", "roles": ["read_only"],
        "branches": ["A", "B"], "locale": "", "password": ""})  # active unchecked
    assert resp.status_code == 302
    with db(app) as sess:
        user = sess.get(User, uid)
        assert user.display_name == "Vera Viewer" and not user.active
        assert sorted(b.code for b in user.branches) == ["A", "B"]
        assert user.password_hash == old_hash
    entry = audit_rows(app, "user", uid)[-1]
    assert entry.before["active"] is True and entry.after["active"] is False
    assert "password" not in entry.after
    html = text(admin_client.get(f"/admin/users/{uid}"))
    assert "Inactive" in html and "data-audit-trail" in html and "Vera Viewer" in html
    assert login(app.test_client(), "viewer").status_code == 422  # can no longer log in

    resp = admin_client.post(f"/admin/users/{uid}", data={
        "display_name": "Vera Viewer", "roles": ["read_only"], "active": "y",
        "password": "brand-new-pass"})
    assert resp.status_code == 302
    assert audit_rows(app, "user", uid)[-1].after["password"] == "***"
    assert login(app.test_client(), "viewer", "brand-new-pass").status_code == 302


def test_edit_user_invalid_keeps_input(app: Flask, seeded: dict[str, Any],
                                       admin_client: Any) -> None:
    uid = seeded["users"]["sales"]
    resp = admin_client.post(f"/admin/users/{uid}", data={
        "display_name": "Half Typed", "email": "not-an-email", "password": "x"})
    assert resp.status_code == 422
    assert 'value="Half Typed"' in text(resp) and 'value="not-an-email"' in text(resp)
    assert admin_client.get("/admin/users/9999").status_code == 404


# -- roles ------------------------------------------------------------------------------


def test_roles_list_and_superuser_page(app: Flask, seeded: dict[str, Any],
                                       admin_client: Any) -> None:
    html = text(admin_client.get("/admin/roles"))
    assert "Administrator" in html and "Service adviser" in html
    with db(app) as sess:
        admin_role = sess.scalar(select(Role).where(Role.name == "admin"))
        grants = admin_role.permission_names
    page = text(admin_client.get(f"/admin/roles/{admin_role.id}"))
    assert "holds every permission" in page and 'type="checkbox"' not in page
    resp = admin_client.post(f"/admin/roles/{admin_role.id}", data={"permissions": []})
    assert resp.status_code == 302
    with db(app) as sess:
        assert sess.get(Role, admin_role.id).permission_names == grants


def test_role_page_groups_permissions(app: Flask, seeded: dict[str, Any],
                                      admin_client: Any) -> None:
    html = text(admin_client.get("/admin/roles/new"))
    assert 'data-permission-group="admin"' in html and 'data-permission-group="audit"' in html
    assert "Manage users" in html and 'value="admin.users"' in html


def test_create_and_edit_role(app: Flask, admin_client: Any) -> None:
    resp = admin_client.post("/admin/roles/new", data={
        "name": "auditor", "label": "Auditor",
        "permissions": ["audit.view", "crm.customers.merge"]})
    assert resp.status_code == 302
    with db(app) as sess:
        role = sess.scalar(select(Role).where(Role.name == "auditor"))
        assert role.permission_names == {"audit.view", "crm.customers.merge"}
    assert audit_rows(app, "role", role.id)[-1].after == {
        "permissions": ["audit.view", "crm.customers.merge"]}
    resp = admin_client.post(f"/admin/roles/{role.id}", data={"permissions": ["admin.users"]})
    assert resp.status_code == 302
    with db(app) as sess:
        assert sess.get(Role, role.id).permission_names == {"admin.users"}
    entry = audit_rows(app, "role", role.id)[-1]
    assert entry.before == {"permissions": ["audit.view", "crm.customers.merge"]}
    html = text(admin_client.get(f"/admin/roles/{role.id}"))
    assert re.search(r'value="admin.users" id="perm-admin.users" checked', html)
    assert "Permissions of role auditor changed" in html


def test_role_errors_keep_input(app: Flask, admin_client: Any) -> None:
    resp = admin_client.post("/admin/roles/new", data={
        "name": "Bad Name!", "label": "Typed label", "permissions": ["audit.view"]})
    assert resp.status_code == 422
    html = text(resp)
    assert "Use letters, digits and _ only." in html and 'value="Typed label"' in html
    assert re.search(r'value="audit.view" id="perm-audit.view" checked', html)
    dup = admin_client.post("/admin/roles/new", data={"name": "manager", "label": "X"})
    assert dup.status_code == 422 and "Already taken." in text(dup)
    unknown = admin_client.post("/admin/roles/new", data={"name": "ok_name",
                                                          "permissions": ["no.such"]})
    assert unknown.status_code == 422 and "Unknown: no.such" in text(unknown)
    with db(app) as sess:
        assert sess.scalar(select(Role).where(Role.name == "ok_name")) is None


# -- branches ---------------------------------------------------------------------------


def test_branch_create_edit_and_errors(app: Flask, admin_client: Any) -> None:
    listing = text(admin_client.get("/admin/branches?q=branch+b"))
    assert "1–1 of 1" in listing and "Branch B" in listing
    resp = admin_client.post("/admin/branches/new", data={
        "code": "sh01", "name": "Shanghai", "phone": "021-1234", "active": "y"})
    assert resp.status_code == 302
    with db(app) as sess:
        branch = sess.scalar(select(Branch).where(Branch.code == "SH01"))
    assert audit_rows(app, "branch", branch.id)[-1].after["name"] == "Shanghai"

    resp = admin_client.post(f"/admin/branches/{branch.id}", data={
        "code": "SH01", "name": "Shanghai Pudong", "phone": "021-1234"})
    assert resp.status_code == 302
    entry = audit_rows(app, "branch", branch.id)[-1]
    assert entry.before == {"name": "Shanghai", "active": True}
    assert entry.after == {"name": "Shanghai Pudong", "active": False}
    page = text(admin_client.get(f"/admin/branches/{branch.id}"))
    assert "Shanghai Pudong" in page and "Inactive" in page and "data-audit-trail" in page

    dup = admin_client.post("/admin/branches/new", data={"code": "a", "name": "Typed"})
    assert dup.status_code == 422
    assert "Already taken." in text(dup) and 'value="Typed"' in text(dup)
    empty = admin_client.post("/admin/branches/new", data={"code": "ZZ", "name": ""})
    assert empty.status_code == 422 and 'value="ZZ"' in text(empty)


# -- API tokens -------------------------------------------------------------------------


def test_token_secret_shown_once_and_revoke(app: Flask, seeded: dict[str, Any]) -> None:
    client = client_for(app, "sales")
    resp = client.post("/admin/tokens", data={"name": "dms bridge"})
    assert resp.status_code == 200
    html = text(resp)
    secret = re.search(r'value="(cbz_[^"]+)" data-token-secret', html).group(1)
    assert "shown only this once" in html and resp.headers["Cache-Control"] == "no-store"
    listing = text(client.get("/admin/tokens"))
    assert secret not in listing and "dms bridge" in listing and secret[:10] in listing

    api = app.test_client()
    bearer = {"Authorization": f"Bearer {secret}"}
    assert api.get("/api/v1/me", headers=bearer).get_json()["username"] == "sales"
    with db(app) as sess:
        token = sess.scalar(select(ApiToken).where(ApiToken.name == "dms bridge"))
    assert audit_rows(app, "api_token", token.id)[0].event == "token.created"

    assert client.post(f"/admin/tokens/{token.id}/revoke").status_code == 302
    assert api.get("/api/v1/me", headers=bearer).status_code == 401
    assert [e.event for e in audit_rows(app, "api_token", token.id)] == [
        "token.created", "token.revoked"]
    again = client.post(f"/admin/tokens/{token.id}/revoke", follow_redirects=True)
    assert "revoked already" in text(again)


def test_tokens_are_private_unless_admin_tokens(app: Flask, seeded: dict[str, Any]) -> None:
    from tests.conftest import token_for

    token_for(app, "admin")
    with db(app) as sess:
        admin_token = sess.scalar(select(ApiToken))
    sales = client_for(app, "sales")
    assert admin_token.prefix not in text(sales.get("/admin/tokens"))
    assert sales.post(f"/admin/tokens/{admin_token.id}/revoke").status_code == 404
    admin = client_for(app, "admin")
    sales.post("/admin/tokens", data={"name": "mine"})
    html = text(admin.get("/admin/tokens"))
    assert admin_token.prefix in html and ">sales<" in html  # user column
    assert "1–1 of 1" in text(admin.get("/admin/tokens?user=sales"))
    assert admin.post(f"/admin/tokens/{admin_token.id}/revoke").status_code == 302


def test_token_form_errors_and_expiry(app: Flask, seeded: dict[str, Any]) -> None:
    client = client_for(app, "sales")
    resp = client.post("/admin/tokens", data={"name": "old", "expires": "2000-01-01"})
    assert resp.status_code == 422 and 'value="old"' in text(resp)
    assert client.post("/admin/tokens", data={"name": ""}).status_code == 422
    resp = client.post("/admin/tokens", data={"name": "dated", "expires": "2999-12-31"})
    assert resp.status_code == 200
    with db(app) as sess:
        token = sess.scalar(select(ApiToken).where(ApiToken.name == "dated"))
    # valid through the whole last day where the business is
    zone = ZoneInfo(app.config["BABEL_DEFAULT_TIMEZONE"])
    assert token.expires_at == dt.datetime(3000, 1, 1, tzinfo=zone)


# -- subsystems -------------------------------------------------------------------------


@pytest.fixture
def plugin_app(fake_dists: Any, make_app: Any) -> Flask:
    """fakea, fakeb (requires fakea) and fakec (installed, not selected)."""
    fake_dists.module("fakeplug_a.plugin", manifest_module("fakea"))
    fake_dists.module("fakeplug_b.plugin", manifest_module("fakeb", ("fakea",)))
    fake_dists.module("fakeplug_c.plugin", manifest_module("fakec"))
    fake_dists.dist("fake-plugins", {"fakea": "fakeplug_a.plugin", "fakeb": "fakeplug_b.plugin",
                                     "fakec": "fakeplug_c.plugin"})
    app = make_app(CAREBIZ_PLUGINS="fakea,fakeb")
    seed(app)
    return app


def plugin_row(html: str, name: str) -> str:
    return re.search(rf'<tr data-plugin="{name}">(.*?)</tr>', html, re.S).group(1)


def test_plugins_page_switches_with_dependents(plugin_app: Flask) -> None:
    admin = client_for(plugin_app, "admin")
    html = text(admin.get("/admin/plugins"))
    assert ">on<" in plugin_row(html, "fakea") and ">on<" in plugin_row(html, "fakeb")
    assert "not loaded" in plugin_row(html, "fakec") and "Switch" not in plugin_row(html, "fakec")
    assert "These go off with it: Fakeb." in plugin_row(html, "fakea")
    assert 'data-confirm="Switch off Fakeb?"' in plugin_row(html, "fakeb")

    resp = admin.post("/admin/plugins/fakea/disable", follow_redirects=True)
    assert "Switched off: Fakea, Fakeb." in text(resp)
    html = text(resp)
    assert ">off<" in plugin_row(html, "fakea") and ">off<" in plugin_row(html, "fakeb")
    assert "These come on with it: Fakea." in plugin_row(html, "fakeb")
    [entry] = audit_rows(plugin_app, "plugin", "fakea")
    assert entry.after == {"enabled": False, "names": ["fakea", "fakeb"]}

    resp = admin.post("/admin/plugins/fakeb/enable", follow_redirects=True)
    assert "Switched on: Fakea, Fakeb." in text(resp)
    again = admin.post("/admin/plugins/fakeb/enable", follow_redirects=True)
    assert "Nothing changed." in text(again)
    unknown = admin.post("/admin/plugins/fakec/enable", follow_redirects=True)
    assert "No installed plugin named 'fakec'" in text(unknown)
    core = admin.post("/admin/plugins/core/disable", follow_redirects=True)
    assert "cannot be switched off" in text(core)


# -- settings ---------------------------------------------------------------------------

SETTINGS_PLUGIN = """
from carebiz.contributions import SettingSpec

@hookimpl
def settings():
    return [
        SettingSpec("fakeset.notify", False, "Send reminders", type="bool"),
        SettingSpec("fakeset.rate", "0.13", "Tax rate", type="decimal"),
        SettingSpec("fakeset.mode", "fast", "Mode", type="choice",
                    choices=(("fast", "Fast"), ("safe", "Safe"))),
    ]
"""


def test_settings_save_and_invalid_int(app: Flask, admin_client: Any) -> None:
    html = text(admin_client.get("/admin/settings"))
    assert 'value="CareBusiness"' in html and "Platform core" in html
    # the page posts every field; numbers of other settings (the plugins') go back as shown
    from carebiz.services import settings as settings_service

    shown = {spec.key.replace(".", "__"): str(spec.default)
             for spec in settings_service.specs(app.extensions["carebiz"].host).values()
             if spec.type in ("int", "decimal") and not spec.key.startswith("core.")}
    resp = admin_client.post("/admin/settings", data={
        **shown, "core__company_name": "Sunrise Motors", "core__jobs_keep_days": "30",
        "core__notifications_keep_days": "90"})
    assert resp.status_code == 302
    with db(app) as sess:
        assert sess.get(SettingValue, "core.company_name").value == "Sunrise Motors"
        # unchanged settings are not pinned: they keep following their default
        assert sess.get(SettingValue, "core.jobs_keep_days") is None
    [entry] = audit_rows(app, "setting", "core.company_name")
    assert entry.after == {"value": "Sunrise Motors"}

    bad = admin_client.post("/admin/settings", data={
        **shown, "core__company_name": "Typed Co", "core__jobs_keep_days": "many"})
    assert bad.status_code == 422
    assert 'value="many"' in text(bad) and 'value="Typed Co"' in text(bad)
    assert "is-invalid" in text(bad)
    with db(app) as sess:
        assert sess.get(SettingValue, "core.company_name").value == "Sunrise Motors"


def test_settings_of_every_type(fake_dists: Any, make_app: Any) -> None:
    fake_dists.module("fakeset_pkg.plugin", manifest_module("fakeset", body=SETTINGS_PLUGIN))
    fake_dists.dist("fakeset", {"fakeset": "fakeset_pkg.plugin"})
    app = make_app(CAREBIZ_PLUGINS="fakeset")
    seed(app)
    admin = client_for(app, "admin")
    html = text(admin.get("/admin/settings"))
    assert "Fakeset" in html and 'type="checkbox"' in html and "<select" in html
    base = {"core__company_name": "CareBusiness", "core__jobs_keep_days": "30",
            "core__notifications_keep_days": "90"}
    resp = admin.post("/admin/settings", data={**base, "fakeset__notify": "y",
                                               "fakeset__rate": "0.09",
                                               "fakeset__mode": "safe"})
    assert resp.status_code == 302
    with db(app) as sess:
        assert sess.get(SettingValue, "fakeset.notify").value is True
        assert sess.get(SettingValue, "fakeset.rate").value == "0.09"
        assert sess.get(SettingValue, "fakeset.mode").value == "safe"
    bad = admin.post("/admin/settings", data={**base, "fakeset__rate": "lots",
                                              "fakeset__mode": "nope"})
    assert bad.status_code == 422 and 'value="lots"' in text(bad)


# -- audit log --------------------------------------------------------------------------


def test_audit_log_filters_and_diff(app: Flask, seeded: dict[str, Any],
                                    admin_client: Any) -> None:
    admin_client.post(f"/admin/branches/{seeded['branches']['A']}",
                      data={"code": "A", "name": "Branch Alpha", "active": "y"})
    html = text(admin_client.get("/admin/audit"))
    assert html.index("Branch A saved") < html.index("User admin created")  # newest first
    assert "<del" in html and "Branch Alpha" in html  # before → after
    filtered = text(admin_client.get("/admin/audit?entity_type=user&actor=system"))
    assert "1–4 of 4" in filtered and "Branch A saved" not in filtered
    one = text(admin_client.get(
        f"/admin/audit?entity_type=branch&entity_id={seeded['branches']['B']}"))
    assert "1–1 of 1" in one and "Branch B saved" in one
    assert f'href="/admin/branches/{seeded["branches"]["B"]}"' in one  # link to the record


def test_audit_log_pages(app: Flask, seeded: dict[str, Any], admin_client: Any) -> None:
    with db(app) as sess:
        sess.add_all(AuditEntry(actor_name="bot", event="x.y", entity_type="thing",
                                entity_id=str(i), summary=f"thing {i}") for i in range(70))
        sess.commit()
    html = text(admin_client.get("/admin/audit?actor=bot&page=2"))
    assert "51–70 of 70" in html and "actor=bot" in html


def test_audit_rows_are_branch_filtered(app: Flask, seeded: dict[str, Any]) -> None:
    from carebiz.services.roles import create_role
    from carebiz.services.users import create_user

    with app.app_context(), db(app) as sess:
        create_role(sess, "branch_auditor", "Branch auditor", ["audit.view"], ["audit.view"])
        create_user(sess, "aud", PASSWORD, roles=["branch_auditor"], branches=["A"])
        sess.commit()
    client = client_for(app, "aud")
    html = text(client.get("/admin/audit?entity_type=branch"))
    assert "Branch A saved" in html and "Branch B saved" not in html
    assert 'href="/admin/branches/' not in html  # no link to pages it cannot open


def test_record_audit_global_for_plugin_templates(app: Flask, seeded: dict[str, Any]) -> None:
    from flask_login import login_user

    from carebiz import db as carebiz_db

    source = ('{% from "admin/_audit.html" import audit_trail %}'
              '{{ audit_trail(record_audit("branch", bid)) }}')
    with app.test_request_context():
        login_user(carebiz_db.session().get(User, seeded["users"]["sales"]))
        html = render_template_string(source, bid=seeded["branches"]["A"])
        assert "Branch A saved" in html and "Full audit log" not in html  # no audit.view
        hidden = render_template_string(source, bid=seeded["branches"]["B"])
        assert "No changes recorded yet." in hidden
