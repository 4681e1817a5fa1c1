"""Vehicle stock: a VIN becomes a core vehicle, statuses move only by their transitions
(an illegal one is a 409 naming what is possible), transfers, receipt, aging, branches."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from flask import Flask

from carebiz.crm.models import Vehicle
from carebiz.testing import valid_vin
from carebiz.toolkit import today as business_today
from carebiz.toolkit.transitions import IllegalTransition
from carebiz_plugins.sales.models import SalesStock
from carebiz_plugins.sales.services import stock


def _car(api: Any, serial: int, branch: int, **extra: Any) -> Any:
    return api.post("/api/v1/sales/stock", json={
        "vin": valid_vin(10 * serial), "make": "Toyota", "model": "Camry", "trim": "2.0G",
        "year": 2025, "colour": "black", "cost": "180000.50", "currency": "CNY",
        "branch_id": branch, **extra})


def test_a_vin_becomes_a_core_vehicle(app: Flask, api_client: Any, seeded: Any) -> None:
    manager = api_client("manager")
    resp = _car(manager, 1, seeded["branches"]["A"], location="Showroom")
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    assert body["status"] == "in_stock" and body["cost"] == "180000.5"
    assert body["days_in_stock"] == 0 and body["vin"] == valid_vin(10 * 1)
    assert resp.headers["ETag"]
    with app.app_context():
        sess = app.extensions["carebiz"].session_factory()
        car = sess.get(Vehicle, body["vehicle_id"])
        assert car.vin == valid_vin(10 * 1) and car.make == "Toyota" and car.owner_id is None
    twice = _car(manager, 1, seeded["branches"]["A"])
    assert twice.status_code == 409 and "vin" in twice.get_json()["errors"]


@pytest.mark.parametrize("body, field", [
    ({"vin": "NOTAVIN"}, "vin"),
    ({"cost": "-5"}, "cost"),
    ({"cost": 5}, "cost"),
    ({"currency": "XXZ"}, "currency"),
    ({"status": "sold"}, "status"),
    ({"branch_id": 999}, "branch_id"),
])
def test_bad_stock_input_is_422_naming_the_field(app: Flask, api_client: Any, seeded: Any,
                                                 body: dict[str, Any], field: str) -> None:
    resp = api_client("manager").post("/api/v1/sales/stock", json={
        "vin": valid_vin(20), "model": "Camry", "cost": "1",
        "branch_id": seeded["branches"]["A"],
        **body})
    assert resp.status_code == 422, resp.get_json()
    assert field in resp.get_json()["errors"]


def test_statuses_move_only_by_their_transitions(app: Flask, api_client: Any,
                                                 seeded: Any) -> None:
    manager = api_client("manager")
    car = _car(manager, 3, seeded["branches"]["A"], status="ordered").get_json()
    assert car["received_on"] is None and car["days_in_stock"] is None
    shipped = manager.post(f"/api/v1/sales/stock/{car['id']}/ship", json={})
    assert shipped.status_code == 200 and shipped.get_json()["status"] == "in_transit"
    again = manager.post(f"/api/v1/sales/stock/{car['id']}/ship", json={})
    assert again.status_code == 409
    body = again.get_json()
    assert body["status"] == body["current_status"] == "in_transit"
    assert body["error"] == "invalid_transition"
    assert body["allowed"] == ["receive"]
    got = manager.post(f"/api/v1/sales/stock/{car['id']}/receive",
                       json={"inspection_notes": "Paint chip, left door", "location": "Yard"})
    assert got.status_code == 200
    assert got.get_json()["inspection_notes"] == "Paint chip, left door"
    with app.app_context():  # the business's day, which is not UTC's near midnight
        assert got.get_json()["received_on"] == business_today().isoformat()
    assert manager.post(f"/api/v1/sales/stock/{car['id']}/receive",
                        json={}).status_code == 409


def test_machine_lists_what_is_possible() -> None:
    assert stock.STOCK.allowed("in_stock") == ["reserve"]
    assert stock.STOCK.allowed("reserved") == ["release", "sell"]
    assert stock.STOCK.allowed("delivered") == []
    with pytest.raises(IllegalTransition) as refused:
        stock.STOCK.target("delivered", "reserve")
    assert refused.value.status == 409 and refused.value.details["allowed"] == []


def test_transfer_between_branches(app: Flask, api_client: Any, seeded: Any) -> None:
    manager, sales = api_client("manager"), api_client("sales")
    a, b = seeded["branches"]["A"], seeded["branches"]["B"]
    car = _car(manager, 4, a).get_json()
    assert sales.get(f"/api/v1/sales/stock/{car['id']}").status_code == 200
    same = manager.post(f"/api/v1/sales/stock/{car['id']}/transfer", json={"branch_id": a})
    assert same.status_code == 422 and "branch_id" in same.get_json()["errors"]
    moved = manager.post(f"/api/v1/sales/stock/{car['id']}/transfer",
                         json={"branch_id": b, "location": "Lot B-3",
                               "version": car["version"]})
    assert moved.status_code == 200, moved.get_json()
    assert moved.get_json()["branch_id"] == b
    stale = manager.post(f"/api/v1/sales/stock/{car['id']}/transfer",
                         json={"branch_id": a, "version": car["version"]})
    assert stale.status_code == 409 and stale.get_json()["status"] == "version_conflict"
    # the salesperson of A no longer sees it, anywhere
    assert sales.get(f"/api/v1/sales/stock/{car['id']}").status_code == 404
    assert sales.get("/api/v1/sales/stock").get_json()["total"] == 0
    with app.app_context():
        sess = app.extensions["carebiz"].session_factory()
        assert sess.get(Vehicle, car["vehicle_id"]).branch_id == b


def test_list_filters_by_status_and_exports(app: Flask, api_client: Any, seeded: Any) -> None:
    manager = api_client("manager")
    a = seeded["branches"]["A"]
    _car(manager, 5, a)
    _car(manager, 6, a, status="ordered")
    listed = manager.get("/api/v1/sales/stock?status=ordered").get_json()
    assert listed["total"] == 1 and listed["items"][0]["vin"] == valid_vin(10 * 6)
    assert manager.get("/api/v1/sales/stock").get_json()["total"] == 2
    assert manager.get("/api/v1/sales/stock?status=flying").status_code == 422
    csv = manager.get("/api/v1/sales/stock?format=csv")
    assert csv.status_code == 200 and valid_vin(10 * 5) in csv.get_data(as_text=True)


def test_aging_buckets(app: Flask, seeded: Any, api_client: Any) -> None:
    a = seeded["branches"]["A"]
    with app.app_context():
        today = business_today()
        sess = app.extensions["carebiz"].session_factory()
        for serial, days, currency in ((10, 5, "CNY"), (11, 45, "CNY"), (12, 100, "USD"),
                                       (13, 120, "CNY")):
            stock.create_stock(sess, {"vin": valid_vin(10 * serial), "model": "Camry",
                                      "cost": "1000", "currency": currency, "branch_id": a,
                                      "received_on": today - dt.timedelta(days=days)})
        sess.commit()
        report = stock.aging(sess, None, None, today)
    counts = {b["key"]: b["count"] for b in report["buckets"]}
    assert counts == {"0_30": 1, "31_60": 1, "61_90": 0, "over_90": 2}
    over = next(b for b in report["buckets"] if b["key"] == "over_90")
    assert {k: float(v) for k, v in over["cost"].items()} == {"CNY": 1000.0, "USD": 1000.0}
    assert report["oldest"][0].vin == valid_vin(10 * 13)
    api = api_client("manager").get("/api/v1/sales/stock/aging")
    assert api.status_code == 200 and api.get_json()["buckets"][3]["count"] == 2
    assert api_client("sales").get("/api/v1/sales/stock/aging").get_json()["buckets"][0][
        "count"] == 1


def test_stock_needs_its_permission(app: Flask, api_client: Any, seeded: Any) -> None:
    assert _car(api_client("sales"), 20, seeded["branches"]["A"]).status_code == 403
    assert _car(api_client("viewer"), 20, seeded["branches"]["A"]).status_code == 403
    assert api_client("viewer").get("/api/v1/sales/stock").status_code == 200


def test_two_reservations_of_one_car_cannot_both_win(app: Flask, seeded: Any) -> None:
    """The second reserve reads the row afresh under its lock and is refused."""
    with app.app_context():
        sess = app.extensions["carebiz"].session_factory()
        car = stock.create_stock(sess, {"vin": valid_vin(10 * 30), "model": "Camry", "cost": "1",
                                        "branch_id": seeded["branches"]["A"]})
        sess.commit()
        other = app.extensions["carebiz"].session_factory()
        stale = other.get(SalesStock, car.id)
        stock.move(sess, car, "reserve")
        sess.commit()
        with pytest.raises(IllegalTransition):
            stock.move(other, stale, "reserve")
        other.rollback()


def test_stock_aging_report_and_query_source(app: Flask, api_client: Any, seeded: Any) -> None:
    manager, sales = api_client("manager"), api_client("sales")
    _car(manager, 70, seeded["branches"]["A"])
    _car(manager, 71, seeded["branches"]["B"])
    _car(manager, 72, seeded["branches"]["A"], status="ordered")
    report = manager.get("/api/v1/reports/sales.stock_aging")
    assert report.status_code == 200, report.get_json()
    rows = report.get_json()["rows"]
    assert sum(row["count_id"] if "count_id" in row else row.get("count", 0)
               for row in rows) == 2, rows
    mine = sales.get("/api/v1/reports/sales.stock_aging").get_json()["rows"]
    assert sum(row.get("count_id", row.get("count", 0)) for row in mine) == 1
    names = {r["name"] for r in manager.get("/api/v1/reports").get_json()["items"]}
    assert {"sales.stock_aging", "sales.by_model_month"} <= names
