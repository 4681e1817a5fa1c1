"""The 360° page's statements are built once per process (``security.rows.prepared``) and
still follow each reader's row filters: users of different branches never share what they
see, and a changed branch grant shows on the very next request in every worker."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from carebiz.crm.models import Vehicle
from carebiz.security import rows
from carebiz.testing import login, make_customer, make_vehicle, seed


def _customer_with_cars(app: Any, ids: dict[str, Any]) -> dict[str, int]:
    """A customer of branch A owning a car of branch A and one of branch B."""
    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        party = make_customer(sess, "Zhou Min", ids["branches"]["A"])
        in_a = make_vehicle(sess, 801, ids["branches"]["A"], owner_id=party.id, plate="沪A80101")
        in_b = make_vehicle(sess, 802, ids["branches"]["B"], owner_id=party.id, plate="沪B80202")
        sess.commit()
        return {"party": party.id, "a": in_a.id, "b": in_b.id}


def _vehicle_ids(page: str) -> set[int]:
    panel = page.split('data-testid="panel-vehicles"', 1)[1].split("</section>", 1)[0]
    return {int(part.split('"', 1)[0]) for part in panel.split('data-vehicle-id="')[1:]}


def test_each_reader_sees_the_vehicles_of_their_own_branches(make_app):
    from carebiz.services.users import get_user, update_user

    app = make_app()
    ids = seed(app)
    made = _customer_with_cars(app, ids)
    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        update_user(sess, get_user(sess, "manager"), all_branches=False,
                    branches=["A", "B"])
        sess.commit()
    admin, sales, manager = app.test_client(), app.test_client(), app.test_client()
    for client, name in ((admin, "admin"), (sales, "sales"), (manager, "manager")):
        assert login(client, name).status_code == 302
    url = f"/customers/{made['party']}"
    for _ in range(2):  # the second round runs on the statements the first one built
        # the same filter, other values: a statement each (sales first, then the manager)
        assert _vehicle_ids(sales.get(url).data.decode()) == {made["a"]}
        assert _vehicle_ids(manager.get(url).data.decode()) == {made["a"], made["b"]}
        assert _vehicle_ids(admin.get(url).data.decode()) == {made["a"], made["b"]}


def test_branch_granted_in_another_worker_shows_on_the_next_request(make_app):
    from carebiz.services.users import get_user, update_user

    first, second = make_app(), make_app()
    ids = seed(first)
    made = _customer_with_cars(first, ids)
    browser = second.test_client()
    assert login(browser, "sales").status_code == 302
    url = f"/customers/{made['party']}"
    assert _vehicle_ids(browser.get(url).data.decode()) == {made["a"]}

    def branches(names: list[str]) -> None:
        with first.app_context(), first.extensions["carebiz"].session_factory() as sess:
            update_user(sess, get_user(sess, "sales"), branches=names)
            sess.commit()

    branches(["A", "B"])
    assert _vehicle_ids(browser.get(url).data.decode()) == {made["a"], made["b"]}
    branches(["A"])
    assert _vehicle_ids(browser.get(url).data.decode()) == {made["a"]}


class _Reader:
    is_authenticated = True
    is_superuser = False

    def __init__(self, branches: set[int] | None) -> None:
        self.all_branches = branches is None
        self.branch_ids = branches or set()


def test_prepared_statement_is_kept_per_shape_and_values_of_the_filters(app):
    def build() -> Any:
        built.append(1)
        return select(Vehicle.id)

    built: list[int] = []
    with app.app_context():
        host = app.extensions["carebiz"].host
        everywhere = rows.prepared("test.kept", build, Vehicle, _Reader(None), host)
        assert rows.prepared("test.kept", build, Vehicle, _Reader(None), host) is everywhere
        in_one = rows.prepared("test.kept", build, Vehicle, _Reader({1}), host)
        in_two = rows.prepared("test.kept", build, Vehicle, _Reader({1, 2}), host)
        assert rows.prepared("test.kept", build, Vehicle, _Reader({1}), host) is in_one
        assert len(built) == 3
        assert len({id(everywhere), id(in_one), id(in_two)}) == 3
        assert "WHERE" not in str(everywhere)
        assert in_one.compile().params["branch_id_1"] == [1]
        assert in_two.compile().params["branch_id_1"] == [1, 2]
        # a reader without a branch sees nothing, by a statement of its own
        nothing = rows.prepared("test.kept", build, Vehicle, _Reader(set()), host)
        assert "1 != 1" in str(nothing) or "false" in str(nothing).lower()


def test_prepared_statements_stay_bounded(app, monkeypatch):
    monkeypatch.setattr(rows, "_PREPARED", {})
    monkeypatch.setattr(rows, "PREPARED_LIMIT", 3)
    with app.app_context():
        host = app.extensions["carebiz"].host
        for branch in range(1, 8):
            rows.prepared("test.bounded", lambda: select(Vehicle.id), Vehicle,
                          _Reader({branch}), host)
            assert len(rows._PREPARED) <= 3
