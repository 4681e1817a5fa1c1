"""Views marked :func:`carebiz.db.read_only`: on PostgreSQL they run without a transaction
(no ``BEGIN``/``ROLLBACK`` round trips), everywhere they may not write, and every other
request keeps its transaction."""

from __future__ import annotations

from typing import Any

import pytest
from flask import jsonify
from flask.views import MethodView

from carebiz import db
from carebiz.models import Branch
from carebiz.testing import login, seed


def _state() -> Any:
    sess = db.session()
    raw = sess.connection().connection.dbapi_connection
    return jsonify(read_only=bool(sess.info.get("carebiz.read_only")),
                   autocommit=bool(getattr(raw, "autocommit", False)))


@pytest.fixture
def probe_app(make_app: Any) -> Any:
    app = make_app()

    @db.read_only
    def marked() -> Any:
        return _state()

    def plain() -> Any:
        return _state()

    class Item(MethodView):
        @db.read_only
        def get(self) -> Any:
            return _state()

        def post(self) -> Any:
            return _state()

    @db.read_only
    def writes() -> Any:
        db.session().add(Branch(code="ZZ", name="Nope"))
        db.session().flush()
        return "written"

    app.add_url_rule("/_probe/marked", view_func=marked)
    app.add_url_rule("/_probe/plain", view_func=plain)
    app.add_url_rule("/_probe/item", view_func=Item.as_view("probe_item"))
    app.add_url_rule("/_probe/writes", view_func=writes)
    seed(app)
    return app


def _client(app: Any) -> Any:
    client = app.test_client()
    assert login(client, "admin").status_code == 302
    return client


def test_marked_views_read_outside_a_transaction_on_postgresql(probe_app: Any) -> None:
    client = _client(probe_app)
    postgres = probe_app.extensions["carebiz"].engine.dialect.name == "postgresql"
    for path in ("/_probe/marked", "/_probe/item"):
        got = client.get(path).get_json()
        assert got == {"read_only": True, "autocommit": postgres}, path
        assert client.head(path).status_code == 200
    # the pooled connection gets its transaction back for the next, ordinary request
    assert client.get("/_probe/plain").get_json() == {"read_only": False, "autocommit": False}
    probe_app.config["WTF_CSRF_ENABLED"] = False
    assert client.post("/_probe/item").get_json() == {"read_only": False, "autocommit": False}


def test_a_marked_view_that_writes_is_refused(probe_app: Any) -> None:
    probe_app.config["PROPAGATE_EXCEPTIONS"] = True
    with pytest.raises(RuntimeError, match="read_only"):
        _client(probe_app).get("/_probe/writes")
    with probe_app.extensions["carebiz"].session_factory() as sess:
        assert sess.query(Branch).filter_by(code="ZZ").count() == 0


def test_the_customer_api_reads_outside_a_transaction(app: Any, seeded: dict[str, Any],
                                                      api_client: Any) -> None:
    """The marked CRM reads answer as before (the contract tests cover their bodies)."""
    client = api_client("admin")
    made = client.post("/api/v1/customers", json={"name": "Wang Wei", "kind": "person",
                                                  "branch_id": seeded["branches"]["A"]})
    assert made.status_code == 201, made.get_json()
    listed = client.get("/api/v1/customers").get_json()
    assert [c["name"] for c in listed["items"]] == ["Wang Wei"]
    one = client.get(f"/api/v1/customers/{made.get_json()['id']}")
    assert one.status_code == 200 and one.headers["ETag"] == made.headers["ETag"]
    assert client.get("/api/v1/vehicles").get_json()["items"] == []
    # a list asked for as a file streams through a server-side cursor: inside a transaction
    as_file = client.get("/api/v1/customers?format=csv")
    assert as_file.status_code == 200 and "Wang Wei" in as_file.get_data(as_text=True)


def test_the_360_page_reads_only_and_writes_the_trail_on_its_own(
        app: Any, seeded: dict[str, Any], monkeypatch: Any) -> None:
    """The customer's page is a marked read (no ``BEGIN``/``ROLLBACK`` on PostgreSQL): its
    one write, the recent trail, goes in a transaction of its own once the page's session is
    closed, and a failed trail write never fails the page."""
    from sqlalchemy import select
    from sqlalchemy.exc import OperationalError

    from carebiz.crm.models import Party, RecentView
    from carebiz.crm.services import recent

    for endpoint in ("crm.customer", "crm.customers"):
        assert getattr(app.view_functions[endpoint], db.READ_ONLY, False), endpoint
    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        party = Party(name="Zhou Min", branch_id=seeded["branches"]["A"])
        sess.add(party)
        sess.commit()
        party_id = party.id
    client = _client(app)
    assert client.get(f"/customers/{party_id}").status_code == 200
    with app.extensions["carebiz"].session_factory() as sess:
        assert sess.scalars(select(RecentView.entity_id)).all() == [str(party_id)]
        sess.query(RecentView).delete()
        sess.commit()

    def broken(*_args: Any, **_kwargs: Any) -> bool:
        raise OperationalError("INSERT INTO recent_view", {}, Exception("database is locked"))

    monkeypatch.setattr(recent, "record_view", broken)
    page = client.get(f"/customers/{party_id}")
    assert page.status_code == 200 and "Zhou Min" in page.get_data(as_text=True)
    with app.extensions["carebiz"].session_factory() as sess:
        assert sess.scalars(select(RecentView.entity_id)).all() == []
