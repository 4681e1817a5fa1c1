"""What a request costs, and that the per-process caches behind it are never stale.

Every cache of identities (token -> user, roles, grants, branches) and of the switched-on
plugins is checked on each request against the cache generations; a revoked token, a changed
role, grant or branch grant, a switched-off user or plugin takes effect on the very next
request — also in a second app on the same database (as in another worker process)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event, select, text, update

from carebiz.models import ApiToken, CacheGeneration, Role, User
from tests.conftest import login, seed, token_for


@pytest.fixture
def workers(make_app: Any) -> tuple[Any, Any, dict[str, Any]]:
    """Two apps on one database: two worker processes of one deployment."""
    first, second = make_app(), make_app()
    return first, second, seed(first)


@contextmanager
def statements(app: Any) -> Iterator[list[str]]:
    seen: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    engine = app.extensions["carebiz"].engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


def generations(app: Any) -> dict[str, int]:
    with app.extensions["carebiz"].session_factory() as sess:
        return dict(sess.execute(select(CacheGeneration.name, CacheGeneration.value)).all())


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def change(app: Any, fn: Any) -> None:
    """Run ``fn(session)`` through the services of ``app`` and commit."""
    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        fn(sess)
        sess.commit()


def add_customer(app: Any, branch_id: int, name: str = "Wang Wei") -> int:
    from carebiz.crm.models import Party, PartyPhone, PartyRole
    from carebiz.crm.services.parties import name_key

    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        party = Party(name=name, name_key=name_key(name), branch_id=branch_id)
        party.phones.append(PartyPhone(e164="+8613800138000", position=0))
        party.role_rows.append(PartyRole(role="customer"))
        sess.add(party)
        sess.commit()
        return party.id


# -- tokens ------------------------------------------------------------------------------------


def test_revoked_token_fails_on_the_next_request_in_every_worker(workers):
    first, second, _ = workers
    secret = token_for(first, "sales")
    a, b = first.test_client(), second.test_client()
    assert a.get("/api/v1/me", headers=bearer(secret)).status_code == 200
    assert b.get("/api/v1/me", headers=bearer(secret)).status_code == 200
    with statements(second) as seen:  # served from the worker's cache: the counters alone
        assert b.get("/api/v1/me", headers=bearer(secret)).status_code == 200
    assert len(seen) == 1, seen
    token_id = a.get("/api/v1/tokens", headers=bearer(secret)).get_json()["items"][0]["id"]
    assert a.delete(f"/api/v1/tokens/{token_id}", headers=bearer(secret)).status_code == 200
    assert a.get("/api/v1/me", headers=bearer(secret)).status_code == 401
    assert b.get("/api/v1/me", headers=bearer(secret)).status_code == 401


def test_token_of_a_switched_off_user_fails_everywhere(workers):
    from carebiz.services.users import get_user, update_user

    first, second, _ = workers
    secret = token_for(first, "sales")
    b = second.test_client()
    assert b.get("/api/v1/me", headers=bearer(secret)).status_code == 200
    change(first, lambda s: update_user(s, get_user(s, "sales"), active=False))
    assert b.get("/api/v1/me", headers=bearer(secret)).status_code == 401


def test_expiry_is_checked_against_the_clock_on_every_request(app, seeded, monkeypatch):
    from carebiz.security import identity_cache
    from carebiz.services.tokens import create_token
    from carebiz.services.users import get_user

    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        _t, secret = create_token(sess, get_user(sess, "sales"), "soon",
                                  dt.datetime.now(dt.UTC) + dt.timedelta(hours=1))
        sess.commit()
    client = app.test_client()
    assert client.get("/api/v1/me", headers=bearer(secret)).status_code == 200
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=2)
    monkeypatch.setattr(identity_cache, "utcnow", lambda: later)  # nothing in the database
    assert client.get("/api/v1/me", headers=bearer(secret)).status_code == 401


def test_token_use_is_recorded_without_invalidating_anything(app, seeded):
    secret = token_for(app, "sales")
    before = generations(app)
    client = app.test_client()
    assert client.get("/api/v1/me", headers=bearer(secret)).status_code == 200
    with app.extensions["carebiz"].session_factory() as sess:
        assert sess.scalar(select(ApiToken.last_used_at)) is not None
    with statements(app) as seen:  # recorded once, not on every call
        assert client.get("/api/v1/me", headers=bearer(secret)).status_code == 200
    assert not [s for s in seen if s.lstrip().upper().startswith("UPDATE")]
    assert generations(app) == before
    assert login(app.test_client(), "sales").status_code == 302  # last_login_at: bookkeeping
    assert generations(app) == before


# -- roles, grants, branches ------------------------------------------------------------------


def test_changed_grant_takes_effect_on_the_next_request_in_every_worker(workers):
    from carebiz.security.permissions import registered_permissions
    from carebiz.services.roles import get_role, set_permissions

    first, second, _ = workers
    secret = token_for(first, "sales")
    b = second.test_client()
    assert b.get("/api/v1/customers", headers=bearer(secret)).status_code == 200
    with first.test_request_context():
        known = set(registered_permissions())

    def revoke(sess: Any) -> None:
        role = get_role(sess, "salesperson")
        set_permissions(sess, role, role.permission_names - {"crm.customers.view"}, known)

    change(first, revoke)
    assert b.get("/api/v1/customers", headers=bearer(secret)).status_code == 403

    def grant(sess: Any) -> None:
        role = get_role(sess, "salesperson")
        set_permissions(sess, role, role.permission_names | {"crm.customers.view"}, known)

    change(first, grant)
    assert b.get("/api/v1/customers", headers=bearer(secret)).status_code == 200


def test_changed_role_of_a_user_takes_effect_in_every_worker(workers):
    from carebiz.services.users import get_user, update_user

    first, second, _ = workers
    b = second.test_client()
    login(b, "viewer")
    assert b.get("/admin/users").status_code == 403
    change(first, lambda s: update_user(s, get_user(s, "viewer"), roles=["admin"]))
    assert b.get("/admin/users").status_code == 200
    change(first, lambda s: update_user(s, get_user(s, "viewer"), roles=["read_only"]))
    assert b.get("/admin/users").status_code == 403


def test_changed_branch_grant_takes_effect_in_every_worker(workers):
    from carebiz.services.users import get_user, update_user

    first, second, ids = workers
    in_b = add_customer(first, ids["branches"]["B"])
    secret = token_for(first, "sales")  # works in branch A only
    b = second.test_client()
    assert b.get(f"/api/v1/customers/{in_b}", headers=bearer(secret)).status_code == 404
    change(first, lambda s: update_user(s, get_user(s, "sales"), branches=["A", "B"]))
    assert b.get(f"/api/v1/customers/{in_b}", headers=bearer(secret)).status_code == 200
    change(first, lambda s: update_user(s, get_user(s, "sales"), branches=["A"]))
    assert b.get(f"/api/v1/customers/{in_b}", headers=bearer(secret)).status_code == 404


def test_bulk_statements_on_security_tables_invalidate_too(workers):
    first, second, ids = workers
    secret = token_for(first, "sales")
    b = second.test_client()
    assert b.get("/api/v1/me", headers=bearer(secret)).status_code == 200

    def switch_off(sess: Any) -> None:
        sess.execute(update(User).where(User.username == "sales").values(active=False))

    change(first, switch_off)
    assert b.get("/api/v1/me", headers=bearer(secret)).status_code == 401


def test_session_user_sees_a_deleted_role_at_once(workers):
    first, second, _ = workers
    b = second.test_client()
    login(b, "manager")
    assert b.get("/customers").status_code == 200

    def drop_role(sess: Any) -> None:
        sess.delete(sess.scalar(select(Role).where(Role.name == "manager")))

    change(first, drop_role)
    assert b.get("/customers").status_code == 403


def test_writes_through_the_current_user_are_saved(app, seeded):
    client = app.test_client()
    login(client, "sales")
    client.post("/language/zh_CN", data={"next": "/"})
    with app.extensions["carebiz"].session_factory() as sess:
        assert sess.scalar(select(User.locale).where(User.username == "sales")) == "zh_CN"
    assert "zh" in client.get("/").data.decode().split("<html", 1)[1][:40]


def test_without_the_counters_nothing_is_cached(app, seeded):
    """Before ``carebiz db upgrade`` creates the table, every request loads afresh."""
    with app.extensions["carebiz"].engine.begin() as conn:
        conn.execute(text("DROP TABLE cache_generation"))
    secret = token_for(app, "sales")
    client = app.test_client()
    assert client.get("/api/v1/me", headers=bearer(secret)).status_code == 200
    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        sess.execute(update(ApiToken).values(revoked_at=dt.datetime.now(dt.UTC)))
        sess.commit()
    assert client.get("/api/v1/me", headers=bearer(secret)).status_code == 401


# -- plugins ------------------------------------------------------------------------------------


def test_switched_off_plugin_vanishes_on_the_next_request_in_every_worker(fake_dists, make_app):
    from carebiz.services import subsystems

    fake_dists.dist("carebiz-sample", {"sample": "tests.sample_plugin.plugin"})
    first = make_app(CAREBIZ_PLUGINS="sample")
    second = make_app(CAREBIZ_PLUGINS="sample")
    seed(first)
    b = second.test_client()
    login(b, "sales")
    assert b.get("/api/v1/sample/ping").status_code == 200
    assert b.get("/sample/").status_code == 200
    host = second.extensions["carebiz"].host

    change(first, lambda s: subsystems.switch(s, first.extensions["carebiz"].host, "sample",
                                               False, "test"))
    assert b.get("/api/v1/sample/ping").status_code == 404
    assert b.get("/sample/").status_code == 404
    with second.test_request_context():
        assert "sample.view" not in {p.name for p in host.collect("permissions")}
    change(first, lambda s: subsystems.switch(s, first.extensions["carebiz"].host, "sample",
                                               True, "test"))
    assert b.get("/sample/").status_code == 200
    with second.test_request_context():
        assert "sample.view" in {p.name for p in host.collect("permissions")}


def test_registrations_and_hook_callers_are_built_once(app, seeded):
    host = app.extensions["carebiz"].host
    with app.test_request_context():
        first = host.collect("permissions")
        assert host.collect("permissions") == first
        assert all(a is b for a, b in zip(host.collect("permissions"), first, strict=True))
        assert host.hook("menu_items") is host.hook("menu_items")
        first.clear()  # a caller's list is its own
        assert host.collect("permissions")


# -- what requests cost -----------------------------------------------------------------------


def test_authenticated_api_request_needs_one_statement_besides_its_own(app, seeded):
    party = add_customer(app, seeded["branches"]["A"])
    secret = token_for(app, "sales")
    client = app.test_client()
    for _ in range(2):
        assert client.get(f"/api/v1/customers/{party}", headers=bearer(secret)).status_code == 200
    with statements(app) as seen:
        resp = client.get(f"/api/v1/customers/{party}", headers=bearer(secret))
    assert resp.get_json()["phones"] == ["+8613800138000"]
    assert resp.get_json()["roles"] == ["customer"]
    # the cache generations, and the customer with phones, e-mails, roles and tags
    assert len(seen) == 2, seen
    with statements(app) as seen:
        assert client.get("/api/v1/me", headers=bearer(secret)).status_code == 200
    assert len(seen) == 1, seen


def test_list_page_collects_no_export_tables(app, seeded, monkeypatch):
    client = app.test_client()
    login(client, "sales")
    client.get("/customers")
    host = app.extensions["carebiz"].host
    calls: list[str] = []
    original = host._collect
    monkeypatch.setattr(host, "_collect", lambda name, **kw: calls.append(name)
                        or original(name, **kw))
    assert client.get("/customers").status_code == 200
    assert "export_tables" not in calls and "settings" not in calls
    assert "permissions" not in calls


def test_opening_a_record_again_writes_nothing(app, seeded):
    from carebiz.crm.models import RecentView

    first = add_customer(app, seeded["branches"]["A"], "Li Na")
    other = add_customer(app, seeded["branches"]["A"], "Zhang Min")
    client = app.test_client()
    login(client, "sales")
    assert client.get(f"/customers/{first}").status_code == 200
    with statements(app) as seen:
        assert client.get(f"/customers/{first}").status_code == 200
    writes = [s for s in seen if s.lstrip().split()[0].upper() in ("INSERT", "UPDATE",
                                                                     "DELETE")]
    assert writes == []
    assert client.get(f"/customers/{other}").status_code == 200
    assert client.get(f"/customers/{first}").status_code == 200  # seen a moment ago
    with app.extensions["carebiz"].session_factory() as sess:
        trail = sess.scalars(select(RecentView.entity_id)
                             .order_by(RecentView.viewed_at.desc())).all()
    assert trail == [str(other), str(first)]
    page = client.get(f"/customers/{other}").data.decode()
    assert "Li Na" in page and "Zhang Min" in page  # both on the trail in the navbar


def test_workers_freeze_what_they_built_while_warming_up(monkeypatch):
    import gc

    from carebiz import cli

    frozen: list[bool] = []
    monkeypatch.setattr(gc, "freeze", lambda: frozen.append(True))
    monkeypatch.setattr(gc, "collect", lambda *a: 0)
    worker = type("Worker", (), {})()
    for _ in range(cli.WARM_UP_REQUESTS * 2):
        cli._freeze_after_warm_up(worker, None)
    assert frozen == [True]  # once, after the warm-up


def test_list_page_shows_each_customers_phones_roles_and_tags(app, seeded):
    from carebiz.crm.models import PartyTag

    party = add_customer(app, seeded["branches"]["A"], "Chen Jie")
    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        sess.add(PartyTag(party_id=party, tag="vip"))
        sess.commit()
    client = app.test_client()
    login(client, "sales")
    with statements(app) as seen:
        page = client.get("/customers").data.decode()
    row = page.split(f'data-party-id="{party}"', 1)[1].split("</tr>", 1)[0]
    assert "138 0013 8000" in row and "Customer" in row and ">vip<" in row
    assert not [s for s in seen if "party_email" in s]  # the list shows no e-mails


def test_recording_a_token_use_never_commits_the_requests_own_work(app, seeded):
    """The identity is loaded when a view first asks for the user: work the view has pending
    by then is the view's to commit or drop, never the token bookkeeping's."""
    from flask_login import current_user

    from carebiz import db
    from carebiz.models import Branch

    secret = token_for(app, "sales")
    with app.test_request_context("/api/v1/me", headers=bearer(secret)):
        sess = db.session()
        sess.add(Branch(code="LEAK", name="Pending work"))
        sess.flush()
        assert current_user.is_authenticated  # loads the identity, records the token's use
        sess.rollback()
    with app.extensions["carebiz"].session_factory() as sess:
        assert sess.scalar(select(Branch.id).where(Branch.code == "LEAK")) is None
        assert sess.scalar(select(ApiToken.last_used_at)) is not None


# -- navigation ---------------------------------------------------------------------------------


def menu_names(page: bytes) -> set[str]:
    return set(re.findall(r'data-menu="([^"]+)"', page.decode()))


def active_menu(page: bytes) -> list[str]:
    return re.findall(r'class="nav-link active"[^>]*data-menu="([^"]+)"', page.decode())


def test_menu_follows_a_changed_grant_on_the_next_request_in_every_worker(workers):
    """The menu is built once per user, grants, plugins and language, and a revoked grant
    drops its item from the very next page in another worker."""
    from carebiz.security.permissions import registered_permissions
    from carebiz.services.roles import get_role, set_permissions

    first, second, _ = workers
    b = second.test_client()
    login(b, "sales")
    assert "crm.vehicles" in menu_names(b.get("/customers").data)
    with first.test_request_context():
        known = set(registered_permissions())

    def revoke(sess: Any) -> None:
        role = get_role(sess, "salesperson")
        set_permissions(sess, role, role.permission_names - {"crm.vehicles.view"}, known)

    change(first, revoke)
    names = menu_names(b.get("/customers").data)
    assert "crm.vehicles" not in names and "crm.customers" in names

    def grant(sess: Any) -> None:
        role = get_role(sess, "salesperson")
        set_permissions(sess, role, role.permission_names | {"crm.vehicles.view"}, known)

    change(first, grant)
    assert "crm.vehicles" in menu_names(b.get("/customers").data)


def test_menu_is_each_users_own(app, seeded):
    """Two users served by one process one after the other get their own menus."""
    admin, viewer = app.test_client(), app.test_client()
    login(admin, "admin")
    login(viewer, "viewer")
    for _ in range(2):
        assert "admin.users" in menu_names(admin.get("/customers").data)
        assert "admin.users" not in menu_names(viewer.get("/customers").data)


def test_menu_marks_the_page_of_each_request_and_speaks_its_language(app, seeded):
    client = app.test_client()
    login(client, "sales")
    assert active_menu(client.get("/customers").data) == ["crm.customers"]
    assert active_menu(client.get("/vehicles").data) == ["crm.vehicles"]
    client.post("/language/zh_CN", data={"next": "/"})
    page = client.get("/customers").data.decode()
    assert re.search(r'data-menu="crm.customers"[^>]*>客户</a>', page)


def test_menu_of_a_switched_off_plugin_vanishes_in_every_worker(fake_dists, make_app):
    from carebiz.services import subsystems

    fake_dists.dist("carebiz-sample", {"sample": "tests.sample_plugin.plugin"})
    first = make_app(CAREBIZ_PLUGINS="sample")
    second = make_app(CAREBIZ_PLUGINS="sample")
    seed(first)
    b = second.test_client()
    login(b, "sales")
    assert "sample.first" in menu_names(b.get("/customers").data)
    change(first, lambda s: subsystems.switch(s, first.extensions["carebiz"].host, "sample",
                                               False, "test"))
    assert "sample.first" not in menu_names(b.get("/customers").data)
    change(first, lambda s: subsystems.switch(s, first.extensions["carebiz"].host, "sample",
                                               True, "test"))
    assert "sample.first" in menu_names(b.get("/customers").data)


def test_menu_html_is_kept_per_menu_and_active_item(app, seeded):
    """The menu's HTML is rendered once per menu and set of active items: a second page
    marking the same item reuses it, a page marking another one gets its own."""
    from carebiz.web.layout import MENU_HTML_CACHE

    client = app.test_client()
    login(client, "sales")
    first = client.get("/customers").data
    kept = dict(app.extensions[MENU_HTML_CACHE])
    assert active_menu(client.get("/customers?page=2").data) == ["crm.customers"]
    assert app.extensions[MENU_HTML_CACHE] == kept and len(kept) == 1
    assert active_menu(client.get("/vehicles").data) == ["crm.vehicles"]
    assert len(app.extensions[MENU_HTML_CACHE]) == 2
    assert menu_names(client.get("/customers").data) == menu_names(first)


def test_without_the_counters_the_menu_html_is_not_kept(app, seeded, monkeypatch):
    """Counters that cannot be read (the table missing, the database away): nothing kept."""
    from carebiz.web.layout import MENU_HTML_CACHE

    client = app.test_client()
    login(client, "sales")
    monkeypatch.setattr(app.extensions["carebiz"].host.generations, "current", lambda: None)
    for _ in range(2):
        assert active_menu(client.get("/customers").data) == ["crm.customers"]
    assert not app.extensions.get(MENU_HTML_CACHE)


# -- settings ---------------------------------------------------------------------------------


def set_setting(app: Any, key: str, value: Any) -> None:
    from carebiz.services import settings as settings_service

    change(app, lambda s: settings_service.set_value(
        s, app.extensions["carebiz"].host, key, value, "test"))


def test_changed_setting_shows_on_the_next_request_in_every_worker(workers):
    """Worker processes keep the stored settings under the settings generation: a setting
    changed in one worker is what every other worker uses on its very next request."""
    first, second, seeded = workers
    party = add_customer(first, seeded["branches"]["A"], "Chen Jie")
    b = second.test_client()
    login(b, "sales")

    def phone_shown() -> str:
        page = b.get("/customers").data.decode()
        row = page.split(f'data-party-id="{party}"', 1)[1].split("</tr>", 1)[0]
        return row

    assert "138 0013 8000" in phone_shown()
    with statements(second) as seen:  # kept by the worker: no read of setting_value
        assert "138 0013 8000" in phone_shown()
    assert not [s for s in seen if "setting_value" in s], seen
    before = generations(first).get("settings", 0)
    set_setting(first, "crm.phone_region", "US")
    assert generations(first)["settings"] == before + 1
    assert ">+86 138 0013 8000<" in phone_shown()
    set_setting(first, "crm.phone_region", "CN")  # back to the default: the row goes away
    assert ">138 0013 8000<" in phone_shown()


def test_uncommitted_setting_is_not_kept_for_other_requests(app, seeded):
    """A session that changed a setting and rolled back leaves nothing behind in the
    process: the next reader gets the stored value."""
    from carebiz.models import SettingValue
    from carebiz.services import settings as settings_service

    host = app.extensions["carebiz"].host
    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        sess.add(SettingValue(key="crm.phone_region", value="US", updated_by="test"))
        sess.flush()
        assert settings_service.get(sess, host, "crm.phone_region") == "US"
        sess.rollback()
    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        assert settings_service.get(sess, host, "crm.phone_region") == "CN"


def test_without_the_counters_settings_are_read_every_time(app, seeded):
    from carebiz.models import SettingValue
    from carebiz.services import settings as settings_service

    with app.extensions["carebiz"].engine.begin() as conn:
        conn.execute(text("DROP TABLE cache_generation"))
    host = app.extensions["carebiz"].host
    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        assert settings_service.get(sess, host, "crm.phone_region") == "CN"
    with app.extensions["carebiz"].engine.begin() as conn:  # around the platform
        conn.execute(SettingValue.__table__.insert().values(
            key="crm.phone_region", value="US", updated_by="sql"))
    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        assert settings_service.get(sess, host, "crm.phone_region") == "US"


def test_renamed_branch_code_shows_on_the_next_list_page_in_every_worker(workers):
    """The customers page reads the branches from the worker's memo; a branch changed in
    another worker shows on the very next request."""
    from carebiz.models import Branch

    first, second, seeded = workers
    party = add_customer(first, seeded["branches"]["A"], "Chen Jie")
    b = second.test_client()
    login(b, "admin")

    def branch_cell() -> str:
        page = b.get("/customers").data.decode()
        row = page.split(f'data-party-id="{party}"', 1)[1].split("</tr>", 1)[0]
        return row

    assert "<td>A</td>" in branch_cell()
    with statements(second) as seen:
        assert "<td>A</td>" in branch_cell()
    assert not [s for s in seen if "FROM branch" in s], seen

    def rename(sess: Any) -> None:
        sess.get(Branch, seeded["branches"]["A"]).code = "A-NEW"

    change(first, rename)
    assert "<td>A-NEW</td>" in branch_cell()


# -- custom field definitions -----------------------------------------------------------------


def test_changed_custom_field_shows_on_the_next_request_in_every_worker(workers):
    """The custom field definitions are kept per process under the custom_fields
    generation: a field added or relabelled in one worker is what every other worker shows
    on its very next customer page, and no definition is read while the memo holds."""
    from carebiz.crm.models import CustomField, Party
    from carebiz.crm.services import custom_fields

    first, second, seeded = workers
    party = add_customer(first, seeded["branches"]["A"], "Chen Jie")

    def fill(sess: Any) -> None:
        sess.get(Party, party).custom = {"fleet": "12 cars"}

    change(first, fill)
    b = second.test_client()
    login(b, "admin")

    def details() -> str:
        page = b.get(f"/customers/{party}").data.decode()
        return page.split('data-testid="panel-details"', 1)[1].split("</section>", 1)[0]

    assert "12 cars" not in details()  # no such field yet: the value is not shown
    with statements(second) as seen:
        details()
    assert not [s for s in seen if "FROM custom_field" in s], seen
    before = generations(first).get("custom_fields", 0)
    change(first, lambda s: custom_fields.define(s, "party", "fleet", "Fleet size", "text"))
    assert generations(first)["custom_fields"] == before + 1
    shown = details()
    assert "Fleet size" in shown and 'data-custom-field="fleet">12 cars<' in shown

    def relabel(sess: Any) -> None:
        sess.scalars(select(CustomField).where(CustomField.name == "fleet")).one().label = "Cars"

    change(first, relabel)
    shown = details()
    assert ">Cars<" in shown and "Fleet size" not in shown

    def retire(sess: Any) -> None:
        sess.scalars(select(CustomField).where(CustomField.name == "fleet")).one().active = False

    change(first, retire)
    assert "12 cars" not in details()


def test_custom_field_in_flight_is_not_kept_for_other_requests(app, seeded):
    """A definition added in a session that then rolls back never reaches the memo."""
    from carebiz.crm.services import custom_fields

    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        custom_fields.define(sess, "party", "fleet", "Fleet size", "text")
        assert [d.name for d in custom_fields.definitions(sess, "party")] == ["fleet"]
        sess.rollback()
    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        assert custom_fields.definitions(sess, "party") == []


def test_renamed_author_shows_on_the_next_360_page_in_every_worker(workers):
    """The names of the timeline's authors are kept per process under the security
    generation: opening the page again reads no user names, and a user renamed in another
    worker is named anew on the very next request."""
    from carebiz.crm.models import TimelineEntry

    first, second, seeded = workers
    party = add_customer(first, seeded["branches"]["A"], "Chen Jie")
    author = seeded["users"]["sales"]

    def note(sess: Any) -> None:
        sess.add(TimelineEntry(party_id=party, kind="note", subject="Asked about tyres",
                               created_by=author, branch_id=seeded["branches"]["A"]))

    change(first, note)
    b = second.test_client()
    login(b, "admin")

    def page() -> str:
        return b.get(f"/customers/{party}").data.decode()

    page()  # the memo holds the author now
    with statements(second) as seen:
        assert "Asked about tyres" in page()
    assert not [s for s in seen if "FROM user_account" in s and " IN " in s], seen

    def rename(sess: Any) -> None:
        sess.get(User, author).display_name = "Zhou Renamed"

    change(first, rename)
    assert "Zhou Renamed" in page()


def test_new_notice_rings_the_bell_on_the_next_page_in_every_worker(workers):
    """The bell's unread count is kept per process and user under the notices generation:
    the next page counts nothing again, a notice written in another worker shows at once,
    and so does one read there."""
    from carebiz.notify.models import Notification
    from carebiz.notify.notice import Notice, Recipient
    from carebiz.notify.service import mark_all_read, send

    first, second, seeded = workers
    user = seeded["users"]["sales"]
    b = second.test_client()
    login(b, "sales")

    def bell() -> str:
        page = b.get("/customers").data.decode()
        return page.split('data-unread="', 1)[1].split('"', 1)[0]

    assert bell() == "0"
    with statements(second) as seen:
        assert bell() == "0"
    assert not [s for s in seen if "FROM notification" in s], seen
    change(first, lambda sess: send(sess, Notice(Recipient.user(user), "Car ready",
                                                 channels=("inapp",))))
    assert bell() == "1"
    change(first, lambda sess: send(sess, Notice(Recipient.user(user), "Invoice",
                                                 channels=("inapp",))))
    assert bell() == "2"
    change(first, lambda sess: mark_all_read(sess, user))
    assert bell() == "0"
    with first.app_context(), first.extensions["carebiz"].session_factory() as sess:
        assert sess.query(Notification).count() == 2
