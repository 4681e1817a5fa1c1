"""Records and navigation (issue 10): every document of a record one click from its page,
history and audit as people read them, and the home page as a dashboard of the user's work —
with the branch privacy of each and the isolation of the new hooks."""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

import pytest
from flask_babel import force_locale
from flask_babel import gettext as _

from carebiz.testing import login, make_customer, make_user, make_vehicle, seed
from carebiz.testing.dists import manifest_module

DESK = """
    from carebiz.contributions import DocumentType, Panel

    BROKEN = set()

    def build_card(session, record_id, *, user, locale):
        return {"title": "Vehicle card", "parties": [("Vehicle", str(record_id))]}

    @hookimpl
    def document_types():
        return [DocumentType("desk.vehicle_card", "Vehicle card", "documents/base.html",
                             build_card, record_type="vehicle")]

    @hookimpl
    def home_widgets(session, user):
        if "home_widgets" in BROKEN:
            raise RuntimeError("desk widget is broken")
        return [Panel("desk.widget", "Desk work", "<p>desk works</p>", weight=50)]
"""


@pytest.fixture
def desk(fake_dists: Any, make_app: Any) -> Any:
    """An app with a plugin offering a vehicle document and a home widget."""
    fake_dists.module("desk.plugin", manifest_module("desk", body=DESK))
    fake_dists.dist("desk", {"desk": "desk.plugin"})
    app = make_app(CAREBIZ_PLUGINS="desk")
    app.config["seeded"] = seed(app)
    return app


def _world(app: Any) -> dict[str, Any]:
    """A customer and an electric car in branch A, a customer in branch B."""
    ext = app.extensions["carebiz"]
    seeded = app.config.get("seeded") or seed(app)
    with app.app_context(), ext.session_factory() as sess:
        a, b = seeded["branches"]["A"], seeded["branches"]["B"]
        mine = make_customer(sess, "Ava Thomas", a)
        other = make_customer(sess, "Secret Bee", b)
        car = make_vehicle(sess, 7, a, owner_id=mine.id, fuel_type="bev")
        sess.commit()
        return {**seeded, "mine": mine.id, "other": other.id, "car": car.id}


# -- documents on their record's page ---------------------------------------------------------
def test_customer_page_offers_the_statement_and_the_preview_links_back(app: Any) -> None:
    world = _world(app)
    client = app.test_client()
    login(client, "sales")
    html = client.get(f"/customers/{world['mine']}").get_data(as_text=True)
    assert 'data-testid="panel-documents"' in html
    assert 'data-document="customer_statement"' in html
    assert f"/documents/customer_statement/{world['mine']}?print=1" in html
    pdf_url = f"/api/v1/documents/customer_statement/{world['mine']}?format=pdf"
    docx_url = f"/api/v1/documents/customer_statement/{world['mine']}?format=docx"
    assert pdf_url in html and docx_url in html
    resp = client.get(pdf_url)
    assert resp.status_code == 200 and resp.data.startswith(b"%PDF")

    preview = client.get(f"/documents/customer_statement/{world['mine']}?print=1")
    body = preview.get_data(as_text=True)
    assert preview.status_code == 200
    assert f'href="/customers/{world["mine"]}" data-testid="document-record"' in body
    assert "<iframe id=\"doc-frame\" data-auto-print" in body
    assert "<iframe id=\"doc-frame\" data-auto-print" not in client.get(
        f"/documents/customer_statement/{world['mine']}").get_data(as_text=True)


def test_a_plugins_vehicle_document_appears_on_the_vehicle_page(desk: Any) -> None:
    world = _world(desk)
    client = desk.test_client()
    login(client, "sales")
    html = client.get(f"/vehicles/{world['car']}").get_data(as_text=True)
    assert 'data-document="desk.vehicle_card"' in html
    customer = client.get(f"/customers/{world['mine']}").get_data(as_text=True)
    assert 'data-document="desk.vehicle_card"' not in customer  # not a customer's document
    preview = client.get(f"/documents/desk.vehicle_card/{world['car']}").get_data(as_text=True)
    assert f'href="/vehicles/{world["car"]}"' in preview


def test_documents_need_their_permission_to_be_offered(app: Any) -> None:
    from carebiz.documents import service

    world = _world(app)
    with app.test_request_context():
        from carebiz import db
        from carebiz.models import User

        sess = db.session()
        sales = sess.get(User, world["users"]["sales"])
        nobody = make_user(sess, "nobody", roles=[], branches=["A"])
        assert [t.name for t in service.offered("party", sales)] == ["customer_statement"]
        assert service.offered("party", nobody) == []
        assert service.offered("nothing", sales) == []


# -- history and audit as people read them ----------------------------------------------------
def _owner_change(app: Any, world: dict[str, Any]) -> None:
    """The car passed from the branch-B customer to the branch-A one."""
    from carebiz.models import AuditEntry

    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        sess.add(AuditEntry(actor_name="manager", event="vehicle.owner_changed",
                            entity_type="vehicle", entity_id=str(world["car"]),
                            branch_id=world["branches"]["A"], summary="Vehicle changed hands",
                            before={"owner_id": world["other"]},
                            after={"owner_id": world["mine"], "since": "2026-03-01"}))
        sess.commit()


def test_vehicle_history_reads_labels_names_and_sentences(app: Any) -> None:
    world = _world(app)
    _owner_change(app, world)
    client = app.test_client()
    login(client, "manager")
    html = client.get(f"/vehicles/{world['car']}").get_data(as_text=True)
    assert "Fuel:" in html and "Battery electric" in html and "fuel_type" not in html
    assert "Branch:" in html and "Branch A" in html and "branch_id" not in html
    assert "vehicle.created" not in html and "vehicle.owner_changed" not in html
    assert "Secret Bee" in html and "Ava Thomas" in html  # the manager sees both branches


def test_a_branch_limited_reader_never_reads_another_branchs_customer(app: Any) -> None:
    world = _world(app)
    _owner_change(app, world)
    client = app.test_client()
    login(client, "sales")  # branch A only
    html = client.get(f"/vehicles/{world['car']}").get_data(as_text=True)
    assert "Owner:" in html and "Ava Thomas" in html
    assert "Secret Bee" not in html
    assert "a customer of another branch" in html


def test_audit_page_and_export_read_labels(app: Any) -> None:
    world = _world(app)
    _owner_change(app, world)
    client = app.test_client()
    login(client, "admin")
    page = client.get(f"/admin/audit?entity_type=vehicle&entity_id={world['car']}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Battery electric" in html and "Vehicle changed hands" in html
    assert "Vehicle registered" in html and ">vehicle.created<" not in html
    resp = client.get(f"/export/admin.audit?format=csv&entity_type=vehicle"
                      f"&entity_id={world['car']}")
    assert resp.status_code == 200
    rows = list(csv.reader(io.StringIO(resp.get_data(as_text=True).lstrip("\ufeff"))))
    text = "\n".join(";".join(r) for r in rows)
    assert "Fuel: Battery electric" in text and "fuel_type" not in text
    assert "Owner: Secret Bee → Ava Thomas" in text
    assert "Vehicle registered" in text


def test_audit_export_of_a_branch_limited_reader_masks_other_branches(app: Any) -> None:
    world = _world(app)
    _owner_change(app, world)
    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        make_user(sess, "mgr_a", roles=["manager"], branches=["A"])  # reads the log of A
        sess.commit()
    client = app.test_client()
    login(client, "mgr_a")
    resp = client.get(f"/export/admin.audit?format=csv&entity_type=vehicle"
                      f"&entity_id={world['car']}")
    assert resp.status_code == 200, resp.data[:300]
    text = resp.get_data(as_text=True)
    assert "Secret Bee" not in text and "a customer of another branch" in text
    assert "Ava Thomas" in text


def test_labels_follow_the_readers_language(app: Any) -> None:
    """The labels are messages: in Chinese they read as the catalog says (English here where
    the catalog has no entry yet)."""
    from carebiz.services import audit_labels

    world = _world(app)
    for locale in ("en", "zh_CN"):
        with app.test_request_context(), force_locale(locale):
            from carebiz import db
            from carebiz.models import AuditEntry, User
            from carebiz.models.audit import for_reader

            sess = db.session()
            user = sess.get(User, world["users"]["manager"])
            entries = sess.query(AuditEntry).filter_by(entity_type="vehicle").all()
            labelled = audit_labels.label_entries(sess, for_reader(sess, entries, user), user)
            line = audit_labels.changes_line(labelled[0])
            assert f"{_('Fuel')}: {_('Battery electric')}" in line
            assert audit_labels.event_text(labelled[0]) == _("Vehicle registered")


def test_labelling_a_page_costs_one_query_per_kind_of_record(app: Any) -> None:
    from sqlalchemy import event

    from carebiz.services import audit_labels

    world = _world(app)
    for _i in range(5):
        _owner_change(app, world)
    with app.test_request_context():
        from carebiz import db
        from carebiz.models import AuditEntry, User
        from carebiz.models.audit import for_reader

        sess = db.session()
        user = sess.get(User, world["users"]["manager"])
        entries = for_reader(sess, sess.query(AuditEntry).all(), user)
        statements: list[str] = []
        engine = sess.get_bind()
        listener = lambda *args: statements.append(args[2])  # noqa: E731
        event.listen(engine, "before_cursor_execute", listener)
        try:
            audit_labels.label_entries(sess, entries, user)
        finally:
            event.remove(engine, "before_cursor_execute", listener)
        # parties, branches (by id, and by code in users' entries) and roles, whatever the count
        assert len(statements) <= 5, statements


# -- the home page: a dashboard of the user's work --------------------------------------------
def _followups(app: Any, world: dict[str, Any]) -> None:
    """Overdue follow-ups nobody of branch A was given, and one of branch B."""
    from carebiz.crm.models import TimelineEntry

    past = dt.datetime.now(dt.UTC) - dt.timedelta(days=2)
    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        for i in range(3):
            sess.add(TimelineEntry(party_id=world["mine"], branch_id=world["branches"]["A"],
                                   kind="task", subject=f"Call back {i}", due_at=past,
                                   status="open"))
        sess.add(TimelineEntry(party_id=world["other"], branch_id=world["branches"]["B"],
                               kind="task", subject="Branch B task", due_at=past,
                               status="open"))
        make_user(sess, "mgr_a", roles=["manager"], branches=["A"])
        sess.commit()


def test_home_dashboard_counts_a_managers_branches_only(app: Any) -> None:
    world = _world(app)
    _followups(app, world)
    client = app.test_client()
    login(client, "mgr_a")
    html = client.get("/").get_data(as_text=True)
    assert 'data-widget="crm.followups"' in html
    assert 'data-testid="all-overdue">3<' in html  # branch A's three, not B's
    assert 'data-testid="mine-overdue">0<' in html
    assert "Call back" in html and "Branch B task" not in html and "Secret Bee" not in html
    assert "Nothing due. Well done." not in html
    assert 'data-testid="home-links"' in html  # the links stay, below

    client = app.test_client()
    login(client, "manager")  # every branch
    assert 'data-testid="all-overdue">4<' in client.get("/").get_data(as_text=True)


def test_home_shows_recently_opened_records(app: Any) -> None:
    world = _world(app)
    client = app.test_client()
    login(client, "sales")
    client.get(f"/customers/{world['mine']}")
    html = client.get("/").get_data(as_text=True)
    assert 'data-widget="crm.recent"' in html
    assert f'href="/customers/{world["mine"]}">Ava Thomas<' in html


def test_home_shows_the_records_the_user_changed_last(app: Any) -> None:
    """Where the user left off: the records they changed (from the audit log), newest
    first; a record they changed but may no longer see reads without its name or a link."""
    from carebiz.crm.services import parties
    from carebiz.models.audit import AuditEntry
    from carebiz.models.user import User

    world = _world(app)
    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        sales = sess.query(User).filter_by(username="sales").one()
        sess.info["actor"] = sales
        party = parties.get_party(sess, world["mine"])
        parties.update_party(sess, party, {"city": "Suzhou"}, user=sales)
        # a change made when the customer was still theirs (now in branch B)
        sess.add(AuditEntry(actor_id=sales.id, actor_name="sales", event="party.updated",
                            entity_type="party", entity_id=str(world["other"]),
                            branch_id=world["branches"]["B"],
                            at=dt.datetime.now(dt.UTC) - dt.timedelta(days=1)))
        sess.commit()
    client = app.test_client()
    login(client, "sales")
    html = client.get("/").get_data(as_text=True)
    assert 'data-widget="crm.changed"' in html
    changed = html.split('data-testid="home-changed"', 1)[1].split("</ul>", 1)[0]
    assert f'href="/customers/{world["mine"]}">Ava Thomas<' in changed
    assert "Secret Bee" not in html and f'/customers/{world["other"]}"' not in changed
    assert changed.index("Ava Thomas") < changed.index(str(world["other"]))

    client = app.test_client()
    login(client, "manager")  # changed nothing: no widget
    assert 'data-widget="crm.changed"' not in client.get("/").get_data(as_text=True)


def test_my_day_does_not_congratulate_a_manager_over_overdue_branch_items(app: Any) -> None:
    world = _world(app)
    _followups(app, world)
    client = app.test_client()
    login(client, "mgr_a")
    html = client.get("/my-day").get_data(as_text=True)
    assert "Nothing due. Well done." not in html
    assert 'data-testid="branch-due-note"' in html
    assert "3 follow-ups are due in your branches, 3 of them overdue" in html
    client = app.test_client()
    login(client, "sales")  # nothing of theirs, not a manager: nothing to say about others
    assert "Nothing due. Well done." in client.get("/my-day").get_data(as_text=True)


def test_a_failing_home_widget_shows_unavailable_and_the_page_stands(desk: Any) -> None:
    import desk.plugin as desk_plugin

    _world(desk)
    client = desk.test_client()
    login(client, "sales")
    assert "desk works" in client.get("/").get_data(as_text=True)
    desk_plugin.BROKEN.add("home_widgets")
    try:
        resp = client.get("/")
    finally:
        desk_plugin.BROKEN.clear()
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert "desk works" not in html and "This panel is unavailable." in html
    assert 'data-widget="crm.followups"' in html  # the others stand
