"""History and audit read custom fields by the admin's label, and a user's roles and branches
by their names in the reader's language (stored as role names and branch codes)."""

from __future__ import annotations

from typing import Any

from flask_babel import force_locale

from carebiz.testing import login, make_customer, make_vehicle


def _labelled(app: Any, reader: str, entity_type: str, entity_id: int,
              locale: str = "en") -> list[str]:
    from carebiz import db
    from carebiz.models import AuditEntry, User
    from carebiz.models.audit import for_reader
    from carebiz.services import audit_labels

    with app.test_request_context(), force_locale(locale):
        sess = db.session()
        user = sess.scalar(__import__("sqlalchemy").select(User).where(User.username == reader))
        entries = sess.query(AuditEntry).filter_by(entity_type=entity_type,
                                                   entity_id=str(entity_id)).all()
        labelled = audit_labels.label_entries(sess, for_reader(sess, entries, user), user)
        return [audit_labels.changes_line(e) for e in labelled]


def test_custom_fields_read_the_admins_label(app, seeded):
    from carebiz.crm.services import custom_fields, parties, vehicles

    ext = app.extensions["carebiz"]
    with app.app_context(), ext.session_factory() as sess:
        custom_fields.define(sess, "party", "wechat_id", "WeChat ID", "text")
        custom_fields.define(sess, "vehicle", "parking_bay", "车位", "text")
        party = make_customer(sess, "Ava Thomas", seeded["branches"]["A"])
        parties.update_party(sess, party, {"custom": {"wechat_id": "ava_t"}})
        car = make_vehicle(sess, 3, seeded["branches"]["A"], owner_id=party.id)
        vehicles.update_vehicle(sess, car, {"custom": {"parking_bay": "B2-17"}})
        sess.commit()
        party_id, car_id = party.id, car.id
    lines = _labelled(app, "admin", "party", party_id)
    assert any("WeChat ID: — → ava_t" in line for line in lines), lines
    assert not any("wechat_id" in line for line in lines)
    lines = _labelled(app, "admin", "vehicle", car_id)
    assert any("车位: — → B2-17" in line for line in lines), lines
    # the history panel of the customer page shows it too
    client = app.test_client()
    login(client, "sales")
    html = client.get(f"/customers/{party_id}").get_data(as_text=True)
    history = html[html.find('data-audit-trail'):]
    assert "WeChat ID" in history and "Custom fields · wechat_id" not in history


def test_a_users_roles_and_branches_read_as_names_in_the_readers_language(app, seeded):
    from carebiz.models import User
    from carebiz.services.users import update_user

    ext = app.extensions["carebiz"]
    with app.app_context(), ext.session_factory() as sess:
        sales = sess.get(User, seeded["users"]["sales"])
        update_user(sess, sales, roles=["salesperson", "service_adviser"], branches=["A", "B"])
        sess.commit()
    lines = _labelled(app, "admin", "user", seeded["users"]["sales"])
    changed = next(line for line in lines if "→" in line)
    assert "Branch A" in changed and "Branch B" in changed, changed
    assert "Salesperson" in changed and "Service adviser" in changed, changed
    assert "salesperson" not in changed and "service_adviser" not in changed
    with app.test_request_context(), force_locale("zh_CN"):
        from flask_babel import gettext

        zh_sales = gettext("Salesperson")
    lines = _labelled(app, "admin", "user", seeded["users"]["sales"], locale="zh_CN")
    changed = next(line for line in lines if "→" in line)
    assert zh_sales in changed and "Branch B" in changed, changed


def test_the_users_page_history_shows_role_labels(app, seeded):
    from carebiz.models import User
    from carebiz.services.users import update_user

    ext = app.extensions["carebiz"]
    with app.app_context(), ext.session_factory() as sess:
        update_user(sess, sess.get(User, seeded["users"]["viewer"]), branches=["A", "B"])
        sess.commit()
    client = app.test_client()
    login(client, "admin")
    page = client.get(f"/admin/audit?entity_type=user&entity_id={seeded['users']['viewer']}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Branch A, Branch B" in html, html[html.find("Branches"):][:400]


def test_translated_labels_are_kept_per_language(app, seeded):
    """Field and value labels are translated once per language and kept: the same process
    reads a customer's history in English, then in Chinese, then in English again."""
    from flask_babel import gettext

    ext = app.extensions["carebiz"]
    with app.app_context(), ext.session_factory() as sess:
        party = make_customer(sess, "Lin Fang", seeded["branches"]["A"])
        sess.commit()
        party_id = party.id
    with app.test_request_context(), force_locale("zh_CN"):
        zh_name = gettext("Name")
    assert zh_name != "Name"
    for locale, word in (("en", "Name"), ("zh_CN", zh_name), ("en", "Name")):
        lines = _labelled(app, "admin", "party", party_id, locale=locale)
        assert any(f"{word}: " in line for line in lines), (locale, lines)
        if locale == "en":
            assert not any(f"{zh_name}: " in line for line in lines), lines
