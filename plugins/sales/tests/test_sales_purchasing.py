"""Purchasing: purchase orders to suppliers (parties in the supplier role), receipt of
cars against them (each enters stock by VIN), payables, cancellation, branches."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from carebiz.testing import valid_vin
from carebiz.toolkit.transitions import IllegalTransition
from carebiz_plugins.sales.models import SalesPurchaseOrder
from carebiz_plugins.sales.services import purchasing

URL = "/api/v1/sales/purchase-orders"


def _po(api: Any, supplier: int, branch: int = 1, **body: Any) -> Any:
    return api.post(URL, json={"supplier_id": supplier, "currency": "CNY", "branch_id": branch,
                               "expected_on": "2027-01-15", "lines": [
                                   {"make": "Volkswagen", "model": "Tiguan L", "trim": "330TSI",
                                    "colour": "grey", "year": 2026, "quantity": 2,
                                    "unit_cost": "190000"},
                                   {"make": "Volkswagen", "model": "Lavida", "quantity": 1,
                                    "unit_cost": "95000.50"}], **body})


def test_order_receive_and_pay(app: Flask, api_client: Any, people: dict[str, int]) -> None:
    manager = api_client("manager")
    resp = _po(manager, people["supplier"])
    assert resp.status_code == 201, resp.get_json()
    po = resp.get_json()
    assert (po["status"], po["total"], po["payable"]) == ("ordered", "475000.5", "0")
    tiguan, lavida = po["lines"][0]["id"], po["lines"][1]["id"]

    got = manager.post(f"{URL}/{po['id']}/receive", json={"vehicles": [
        {"line_id": tiguan, "vin": valid_vin(10), "inspection_notes": "OK"},
        {"line_id": lavida, "vin": valid_vin(20), "colour": "blue", "location": "Yard"}]})
    assert got.status_code == 201, got.get_json()
    body = got.get_json()
    assert body["purchase_order"]["status"] == "partly_received"
    assert body["purchase_order"]["received_value"] == "285000.5"
    assert [(s["status"], s["cost"], s["model"]) for s in body["stock"]] == [
        ("in_stock", "190000", "Tiguan L"), ("in_stock", "95000.5", "Lavida")]
    assert body["stock"][1]["colour"] == "blue"
    assert manager.get("/api/v1/sales/stock?status=in_stock").get_json()["total"] == 2

    too_many = manager.post(f"{URL}/{po['id']}/receive", json={"vehicles": [
        {"line_id": lavida, "vin": valid_vin(30)}]})
    assert too_many.status_code == 422 and "vehicles[0].line_id" in too_many.get_json()["errors"]

    payables = manager.get(f"{URL}/payables").get_json()
    assert payables["items"] == [{"supplier_id": people["supplier"], "currency": "CNY",
                                  "owed": "285000.5", "orders": 1}]
    over = manager.post(f"{URL}/{po['id']}/payments", json={"amount": "300000"})
    assert over.status_code == 422
    paid = manager.post(f"{URL}/{po['id']}/payments", json={"amount": "285000.50"})
    assert paid.status_code == 200 and paid.get_json()["payable"] == "0"
    assert manager.get(f"{URL}/payables").get_json()["total"] == 0

    last = manager.post(f"{URL}/{po['id']}/receive", json={"vehicles": [
        {"line_id": tiguan, "vin": valid_vin(40)}]})
    assert last.get_json()["purchase_order"]["status"] == "received"
    done = manager.post(f"{URL}/{po['id']}/receive", json={"vehicles": [
        {"line_id": tiguan, "vin": valid_vin(50)}]})
    assert done.status_code == 409 and done.get_json()["current_status"] == "received"


def test_one_bad_car_refuses_the_whole_receipt(app: Flask, api_client: Any,
                                               people: dict[str, int]) -> None:
    manager = api_client("manager")
    po = _po(manager, people["supplier"]).get_json()
    line = po["lines"][0]["id"]
    resp = manager.post(f"{URL}/{po['id']}/receive", json={"vehicles": [
        {"line_id": line, "vin": valid_vin(10)}, {"line_id": line, "vin": "BAD"},
        {"line_id": 99999, "vin": valid_vin(30)}]})
    assert resp.status_code == 422
    errors = resp.get_json()["errors"]
    assert "vehicles[1].vin" in errors and "vehicles[2].line_id" in errors
    assert manager.get("/api/v1/sales/stock").get_json()["total"] == 0
    assert manager.get(f"{URL}/{po['id']}").get_json()["status"] == "ordered"


def test_a_supplier_must_be_in_the_supplier_role(app: Flask, api_client: Any,
                                                 people: dict[str, int]) -> None:
    resp = _po(api_client("manager"), people["alice"])
    assert resp.status_code == 422 and "supplier_id" in resp.get_json()["errors"]
    bad = _po(api_client("manager"), people["supplier"], lines=[
        {"model": "", "quantity": 0, "unit_cost": "0"}])
    assert bad.status_code == 422
    assert {"lines[0].model", "lines[0].quantity", "lines[0].unit_cost"} <= set(
        bad.get_json()["errors"])


def test_purchasing_needs_its_permission_and_branch(app: Flask, api_client: Any,
                                                    people: dict[str, int],
                                                    seeded: Any) -> None:
    assert _po(api_client("sales"), people["supplier"]).status_code == 403
    theirs = _po(api_client("manager"), people["supplier"],
                 branch=seeded["branches"]["B"]).get_json()
    assert api_client("sales").get(f"{URL}/{theirs['id']}").status_code == 404
    assert api_client("sales").get(URL).get_json()["total"] == 0
    assert api_client("viewer").get(URL).status_code == 200


def test_cancel_only_before_anything_arrived(app: Flask, people: dict[str, int],
                                             seeded: Any) -> None:
    with app.app_context():
        sess = app.extensions["carebiz"].session_factory()
        po = purchasing.create_purchase_order(sess, {
            "supplier_id": people["supplier"], "branch_id": seeded["branches"]["A"],
            "lines": [{"model": "Sagitar", "quantity": 3, "unit_cost": "120000"}]})
        sess.commit()
        purchasing.receive(sess, po, {"vehicles": [{"line_id": po.lines[0].id,
                                                    "vin": valid_vin(60)}]})
        sess.commit()
        with pytest.raises(IllegalTransition) as refused:
            purchasing.cancel(sess, sess.get(SalesPurchaseOrder, po.id))
        assert refused.value.details["allowed"] == ["receive"]


def test_purchase_order_prints(app: Flask, api_client: Any, people: dict[str, int]) -> None:
    manager = api_client("manager")
    po = _po(manager, people["supplier"]).get_json()
    html = manager.get(f"/api/v1/documents/sales.purchase_order/{po['id']}?format=html",
                       headers={"Accept-Language": "en"})
    assert html.status_code == 200
    text = html.get_data(as_text=True)
    assert "Purchase order" in text and "FAW-Volkswagen Sales" in text and "Tiguan L" in text


def test_migrations_to_the_newest_sales_revision_match_the_models(make_app: Any) -> None:
    from carebiz import migrate

    app = make_app(schema=False, CAREBIZ_PLUGINS="sales")
    assert migrate.upgrade(app) == ["core", "sales"]
    assert migrate.current(app)["sales"] == ("sales_0004",)
    assert {"sales_stock", "sales_quotation", "sales_quotation_line",
            "sales_quotation_revision", "sales_order", "sales_payment", "sales_purchase_order",
            "sales_purchase_line", "sales_supplier_quote"} <= set(
                migrate.plugin_metadata(app, "sales").tables)
    assert migrate.differences(app, "sales") == []


def test_merging_suppliers_moves_their_purchase_orders(app: Flask, api_client: Any,
                                                       people: dict[str, int],
                                                       seeded: Any) -> None:
    from carebiz.crm.models import Party
    from carebiz.crm.services.merge import merge_parties
    from carebiz.testing import make_customer

    po = _po(api_client("manager"), people["supplier"]).get_json()
    with app.app_context():
        sess = app.extensions["carebiz"].session_factory()
        twin = make_customer(sess, "FAW-VW Sales Co.", seeded["branches"]["A"],
                             kind="organization", roles=["supplier"])
        sess.commit()
        merge_parties(sess, sess.get(Party, twin.id), sess.get(Party, people["supplier"]))
        sess.commit()
        assert sess.get(SalesPurchaseOrder, po["id"]).supplier_id == twin.id


def test_price_inquiry_quote_and_order(app: Flask, api_client: Any,
                                       people: dict[str, int]) -> None:
    manager = api_client("manager")
    ask = manager.post("/api/v1/sales/supplier-quotes", json={
        "supplier_id": people["supplier"], "make": "Volkswagen", "model": "ID.4 CROZZ",
        "quantity": 4, "branch_id": 1})
    assert ask.status_code == 201, ask.get_json()
    quote = ask.get_json()
    assert quote["status"] == "requested" and quote["unit_cost"] is None
    early = manager.post(f"/api/v1/sales/supplier-quotes/{quote['id']}/order")
    assert early.status_code == 409 and early.get_json()["allowed"] == ["decline", "price"]
    bad = manager.post(f"/api/v1/sales/supplier-quotes/{quote['id']}/price",
                       json={"unit_cost": "0"})
    assert bad.status_code == 422 and "unit_cost" in bad.get_json()["errors"]
    priced = manager.post(f"/api/v1/sales/supplier-quotes/{quote['id']}/price",
                          json={"unit_cost": "168000", "valid_until": "2099-12-31",
                                "version": quote["version"]})
    assert priced.status_code == 200 and priced.get_json()["status"] == "quoted"
    ordered = manager.post(f"/api/v1/sales/supplier-quotes/{quote['id']}/order")
    assert ordered.status_code == 201, ordered.get_json()
    po = ordered.get_json()
    assert (po["total"], po["lines"][0]["quantity"], po["supplier_id"]) == (
        "672000", 4, people["supplier"])
    listed = manager.get("/api/v1/sales/supplier-quotes?status=ordered").get_json()
    assert listed["total"] == 1 and listed["items"][0]["purchase_order_id"] == po["id"]
    assert api_client("sales").get("/api/v1/sales/supplier-quotes").status_code == 403
    not_supplier = manager.post("/api/v1/sales/supplier-quotes", json={
        "supplier_id": people["alice"], "model": "ID.4", "branch_id": 1})
    assert not_supplier.status_code == 422 and "supplier_id" in not_supplier.get_json()["errors"]
