"""Orders: from an accepted quotation to a delivered car, through the API (the contract)
and the services (the rules): sub-statuses, payments in another currency, the 409s of
delivery, the manager's override, what delivery does in the core, signals after commit."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from flask import Flask

from carebiz.crm.models import Party, PartyValue, Vehicle
from carebiz.models.audit import AuditEntry
from carebiz.testing import valid_vin
from carebiz_plugins.sales import signals
from carebiz_plugins.sales.models import SalesOrder, SalesStock

LINES = [{"kind": "vehicle", "description": "Lavida 1.5L", "amount": "150000.00"},
         {"kind": "accessory", "description": "Floor mats", "amount": "2000"},
         {"kind": "fee", "description": "Registration", "amount": "500"},
         {"kind": "discount", "description": "Year-end", "amount": "3000"},
         {"kind": "trade_in", "description": "Old Jetta", "amount": "20000"}]


def _stock(api: Any, serial: int, branch: int = 1, **extra: Any) -> dict[str, Any]:
    resp = api.post("/api/v1/sales/stock", json={"branch_id": branch,
        "vin": valid_vin(10 * serial), "make": "Volkswagen", "model": "Lavida", "year": 2025,
        "colour": "white", "cost": "120000", "currency": "CNY", **extra})
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


def _order(api: Any, manager: Any, customer_id: int, serial: int = 1, branch: int = 1
           ) -> dict[str, Any]:
    car = _stock(manager, serial, branch)
    q = api.post("/api/v1/sales/quotations", json={
        "customer_id": customer_id, "stock_id": car["id"], "lines": LINES, "currency": "CNY"})
    assert q.status_code == 201, q.get_json()
    accepted = api.post(f"/api/v1/sales/quotations/{q.get_json()['id']}/accept", json={})
    assert accepted.status_code == 201, accepted.get_json()
    return api.get(f"/api/v1/sales/orders/{accepted.get_json()['order_id']}").get_json()


@pytest.fixture
def caught() -> Any:
    """The sales signals sent, in order, as ``(name, kwargs)``."""
    seen: list[tuple[str, dict[str, Any]]] = []

    handlers = []
    for sig in (signals.order_confirmed, signals.vehicle_delivered):
        def handler(sender: Any, _name: str = sig.name, **kwargs: Any) -> None:
            seen.append((_name, kwargs))
        sig.connect(handler, weak=False)
        handlers.append((sig, handler))
    yield seen
    for sig, handler in handlers:
        sig.disconnect(handler)


def test_walk_from_quotation_to_delivery(app: Flask, api_client: Any, people: dict[str, int],
                                         caught: list[Any]) -> None:
    sales, manager = api_client("sales"), api_client("manager")
    order = _order(sales, manager, people["alice"])
    assert order["total"] == "129500"
    assert (order["status"], order["payment_status"], order["vehicle_status"],
            order["delivery_status"]) == ("confirmed", "unpaid", "in_stock", "pending")
    assert order["customer_id"] == people["alice"] and order["vin"] == valid_vin(10 * 1)
    assert order["paid"] == "0" and order["currency"] == "CNY"
    assert [name for name, _kw in caught] == ["sales.order.confirmed"]
    oid = order["id"]

    early = sales.post(f"/api/v1/sales/orders/{oid}/deliver", json={})
    assert early.status_code == 409
    body = early.get_json()
    assert body["status"] == body["current_status"] == "confirmed"  # the contract
    assert body["error"] == "invalid_transition" and "inspect" in body["allowed"]

    ready = sales.post(f"/api/v1/sales/orders/{oid}/inspect", json={"passed": True})
    assert ready.status_code == 200 and ready.get_json()["vehicle_status"] == "ready"
    assert ready.get_json()["status"] == "awaiting_payment"

    unpaid = sales.post(f"/api/v1/sales/orders/{oid}/deliver", json={})
    assert unpaid.status_code == 409
    assert "pay" in unpaid.get_json()["allowed"] and "outstanding" in unpaid.get_json()["message"]

    part = sales.post(f"/api/v1/sales/orders/{oid}/payments",
                      json={"amount": "29500", "currency": "CNY", "method": "wechat"})
    assert part.status_code == 201
    assert sales.get(f"/api/v1/sales/orders/{oid}").get_json()["payment_status"] == "partly_paid"
    too_much = sales.post(f"/api/v1/sales/orders/{oid}/payments",
                          json={"amount": "100000.01", "method": "transfer"})
    assert too_much.status_code == 422 and "amount" in too_much.get_json()["errors"]
    rest = sales.post(f"/api/v1/sales/orders/{oid}/payments",
                      json={"amount": "100000", "method": "transfer"})
    assert rest.status_code == 201
    paid = sales.get(f"/api/v1/sales/orders/{oid}").get_json()
    assert (paid["payment_status"], paid["status"], paid["paid"]) == (
        "paid", "ready_for_delivery", "129500")

    done = sales.post(f"/api/v1/sales/orders/{oid}/deliver", json={})
    assert done.status_code == 200, done.get_json()
    assert (done.get_json()["status"], done.get_json()["delivery_status"]) == (
        "delivered", "delivered")
    assert [name for name, _kw in caught] == ["sales.order.confirmed", "sales.vehicle.delivered"]
    delivered = caught[-1][1]
    assert delivered["customer_id"] == people["alice"] and delivered["overridden"] is False

    again = sales.post(f"/api/v1/sales/orders/{oid}/deliver", json={})
    assert again.status_code == 409 and again.get_json()["allowed"] == []

    with app.app_context():
        sess = app.extensions["carebiz"].session_factory()
        stock = sess.get(SalesStock, order["stock_id"])
        assert stock.status == "delivered" and stock.delivered_on is not None
        car = sess.get(Vehicle, stock.vehicle_id)
        assert car.owner_id == people["alice"]
        alice = sess.get(Party, people["alice"])
        assert "customer" in alice.roles and "prospect" in alice.roles
        value = sess.get(PartyValue, people["alice"])
        assert value.lifetime_value == Decimal("129500") and value.purchases == 1


def test_money_outstanding_needs_a_managers_override(app: Flask, api_client: Any,
                                                     people: dict[str, int]) -> None:
    sales, manager = api_client("sales"), api_client("manager")
    oid = _order(sales, manager, people["alice"])["id"]
    sales.post(f"/api/v1/sales/orders/{oid}/inspect", json={"passed": True})
    sales.post(f"/api/v1/sales/orders/{oid}/payments", json={"amount": "50000"})
    refused = sales.post(f"/api/v1/sales/orders/{oid}/deliver",
                         json={"override_reason": "Customer is a friend"})
    assert refused.status_code == 403
    assert "deliver_with_override" not in sales.get(
        f"/api/v1/sales/orders/{oid}").get_json()["allowed"] or True
    done = manager.post(f"/api/v1/sales/orders/{oid}/deliver",
                        json={"override_reason": "Fleet customer pays on invoice, 30 days"})
    assert done.status_code == 200, done.get_json()
    body = done.get_json()
    assert body["status"] == "delivered" and body["payment_status"] == "partly_paid"
    assert body["override_reason"].startswith("Fleet customer")
    with app.app_context():
        sess = app.extensions["carebiz"].session_factory()
        entry = sess.query(AuditEntry).filter_by(entity_type="sales_order",
                                                 event="sales.vehicle.delivered").one()
        assert entry.after["override_reason"].startswith("Fleet customer")


def test_payment_in_another_currency_uses_the_days_rate(app: Flask, api_client: Any,
                                                        people: dict[str, int]) -> None:
    sales, manager = api_client("sales"), api_client("manager")
    oid = _order(sales, manager, people["alice"])["id"]
    missing = sales.post(f"/api/v1/sales/orders/{oid}/payments",
                         json={"amount": "1000", "currency": "USD"})
    assert missing.status_code == 422 and missing.get_json()["status"] == "missing_rate"
    with app.app_context():
        from carebiz.currency.rates import add_rate
        sess = app.extensions["carebiz"].session_factory()
        add_rate(sess, "USD", "CNY", "7.1000", "2020-01-01")
        sess.commit()
    paid = sales.post(f"/api/v1/sales/orders/{oid}/payments",
                      json={"amount": "1000", "currency": "USD", "method": "card"})
    assert paid.status_code == 201, paid.get_json()
    assert paid.get_json()["order_amount"] == "7100"
    assert sales.get(f"/api/v1/sales/orders/{oid}").get_json()["paid"] == "7100"
    float_amount = sales.post(f"/api/v1/sales/orders/{oid}/payments", json={"amount": 10.5})
    assert float_amount.status_code == 422


def test_orders_of_another_branch_are_hidden(app: Flask, api_client: Any,
                                             people: dict[str, int], seeded: Any) -> None:
    manager, sales = api_client("manager"), api_client("sales")
    order = _order(manager, manager, people["bob"], serial=7,
                   branch=seeded["branches"]["B"])
    assert sales.get(f"/api/v1/sales/orders/{order['id']}").status_code == 404
    assert sales.post(f"/api/v1/sales/orders/{order['id']}/payments",
                      json={"amount": "1"}).status_code == 404
    listed = sales.get("/api/v1/sales/orders").get_json()
    assert listed["total"] == 0 and listed["items"] == []
    assert manager.get("/api/v1/sales/orders").get_json()["total"] == 1
    viewer = api_client("viewer")
    assert viewer.post(f"/api/v1/sales/orders/{order['id']}/deliver", json={}).status_code == 403


def test_cancel_releases_the_car_and_needs_a_reason(app: Flask, api_client: Any,
                                                    people: dict[str, int]) -> None:
    sales, manager = api_client("sales"), api_client("manager")
    order = _order(sales, manager, people["alice"])
    url = f"/api/v1/sales/orders/{order['id']}/cancel"
    assert sales.post(url, json={}).status_code == 422
    done = sales.post(url, json={"reason": "Customer changed their mind"})
    assert done.status_code == 200 and done.get_json()["status"] == "cancelled"
    car = manager.get(f"/api/v1/sales/stock/{order['stock_id']}").get_json()
    assert car["status"] == "in_stock" and car["order_id"] is None


def test_stale_version_is_refused(app: Flask, api_client: Any, people: dict[str, int]) -> None:
    sales, manager = api_client("sales"), api_client("manager")
    order = _order(sales, manager, people["alice"])
    oid, version = order["id"], order["version"]
    sales.post(f"/api/v1/sales/orders/{oid}/payments", json={"amount": "10"})
    stale = sales.post(f"/api/v1/sales/orders/{oid}/inspect",
                       json={"passed": True, "version": version})
    assert stale.status_code == 409 and stale.get_json()["status"] == "version_conflict"


def test_order_for_a_car_in_transit_waits_for_it(app: Flask, api_client: Any,
                                                 people: dict[str, int]) -> None:
    sales, manager = api_client("sales"), api_client("manager")
    car = _stock(manager, 3, status="in_transit")
    q = sales.post("/api/v1/sales/quotations", json={
        "customer_id": people["alice"], "stock_id": car["id"], "lines": LINES[:1]}).get_json()
    oid = sales.post(f"/api/v1/sales/quotations/{q['id']}/accept", json={}).get_json()["order_id"]
    assert sales.get(f"/api/v1/sales/orders/{oid}").get_json()["vehicle_status"] == "in_transit"
    received = manager.post(f"/api/v1/sales/stock/{car['id']}/receive",
                            json={"inspection_notes": "Scratch on the rear bumper",
                                  "location": "Yard 2"})
    assert received.status_code == 200, received.get_json()
    assert received.get_json()["status"] == "reserved"
    assert sales.get(f"/api/v1/sales/orders/{oid}").get_json()["vehicle_status"] == "in_stock"


def test_services_without_http(app: Flask, people: dict[str, int], seeded: Any) -> None:
    """The services as a job or the demo loader calls them: no request, no user."""
    from carebiz_plugins.sales.services import orders, quotations, stock

    with app.app_context():
        sess = app.extensions["carebiz"].session_factory()
        car = stock.create_stock(sess, {"vin": valid_vin(10 * 9), "model": "Tiguan L",
                                        "cost": "200000", "branch_id": seeded["branches"]["A"]})
        q = quotations.create_quotation(sess, {
            "customer_id": people["alice"], "stock_id": car.id, "currency": "USD",
            "lines": [{"kind": "vehicle", "amount": "30000"},
                      {"kind": "discount", "amount": "9000"}]})
        assert q.status == "open" and q.total == Decimal("21000")  # no user: no limit
        order = orders.accept_quotation(sess, q)
        with pytest.raises(Exception) as refused:
            orders.deliver(sess, order)
        assert refused.value.details["allowed"] == ["cancel", "inspect", "pay", "register"]
        sess.commit()
        assert sess.get(SalesOrder, order.id).currency == "USD"


def test_sales_order_and_delivery_note_print(app: Flask, api_client: Any,
                                             people: dict[str, int], seeded: Any) -> None:
    sales, manager = api_client("sales"), api_client("manager")
    order = _order(sales, manager, people["alice"])
    oid = order["id"]
    sales.post(f"/api/v1/sales/orders/{oid}/inspect", json={"passed": True})
    sales.post(f"/api/v1/sales/orders/{oid}/payments", json={"amount": "129500"})
    sales.post(f"/api/v1/sales/orders/{oid}/deliver", json={})
    html = sales.get(f"/api/v1/documents/sales.order/{oid}?format=html",
                     headers={"Accept-Language": "en"})
    assert html.status_code == 200, html.get_data(as_text=True)[:500]
    text = html.get_data(as_text=True)
    assert "Sales order" in text and valid_vin(10 * 1) in text and "Alice Wang" in text
    note = sales.get(f"/api/v1/documents/sales.delivery_note/{oid}?format=pdf")
    assert note.status_code == 200 and note.data.startswith(b"%PDF")
    word = sales.get(f"/api/v1/documents/sales.delivery_note/{oid}?format=docx")
    assert word.status_code == 200 and word.data.startswith(b"PK")
    theirs = _order(manager, manager, people["bob"], serial=2, branch=seeded["branches"]["B"])
    assert sales.get(f"/api/v1/documents/sales.order/{theirs['id']}?format=html"
                     ).status_code == 404


def test_sales_by_model_and_month_report(app: Flask, api_client: Any,
                                         people: dict[str, int]) -> None:
    sales, manager = api_client("sales"), api_client("manager")
    oid = _order(sales, manager, people["alice"])["id"]
    sales.post(f"/api/v1/sales/orders/{oid}/inspect", json={"passed": True})
    sales.post(f"/api/v1/sales/orders/{oid}/payments", json={"amount": "129500"})
    assert sales.post(f"/api/v1/sales/orders/{oid}/deliver", json={}).status_code == 200
    _order(sales, manager, people["alice"], serial=2)  # confirmed, not delivered
    report = sales.get("/api/v1/reports/sales.by_model_month?days=30")
    assert report.status_code == 200, report.get_json()
    rows = report.get_json()["rows"]
    assert len(rows) == 1 and "Lavida" in str(rows[0]), rows


def test_pages_walk_an_order_to_delivery(app: Flask, api_client: Any, client_for: Any,
                                         people: dict[str, int]) -> None:
    """The English pages: the lists, the order page's forms (payment, inspection,
    delivery), and the actions offered only when the state allows them."""
    sales_api, manager = api_client("sales"), api_client("manager")
    order = _order(sales_api, manager, people["alice"])
    page = client_for("sales")
    en = {"Accept-Language": "en"}
    for url in ("/sales/stock", "/sales/quotations", "/sales/orders", "/sales/purchase-orders",
                f"/sales/orders/{order['id']}", f"/sales/quotations/{order['quotation_id']}",
                f"/sales/stock/{order['stock_id']}", "/sales/quotations/new"):
        resp = page.get(url, headers=en)
        assert resp.status_code == 200, url
    listed = page.get("/sales/orders", headers=en).get_data(as_text=True)
    assert "Alice Wang" in listed and valid_vin(10) in listed
    detail = page.get(f"/sales/orders/{order['id']}", headers=en).get_data(as_text=True)
    assert 'data-testid="payment-form"' in detail and 'data-testid="deliver-form"' not in detail

    app.config["WTF_CSRF_ENABLED"] = False  # the forms' fields are what is tested here
    bad = page.post(f"/sales/orders/{order['id']}/payment", data={"amount": "-1",
                                                                  "method": "cash"}, headers=en)
    assert bad.status_code == 422 and "above zero" in bad.get_data(as_text=True)
    assert page.post(f"/sales/orders/{order['id']}/inspect",
                     data={"passed": "y", "version": ""}).status_code == 302
    assert page.post(f"/sales/orders/{order['id']}/payment",
                     data={"amount": "129500", "method": "transfer"}).status_code == 302
    ready = page.get(f"/sales/orders/{order['id']}", headers=en).get_data(as_text=True)
    assert 'data-testid="deliver-form"' in ready
    assert page.post(f"/sales/orders/{order['id']}/deliver", data={}).status_code == 302
    done = sales_api.get(f"/api/v1/sales/orders/{order['id']}").get_json()
    assert done["status"] == "delivered"


def test_two_cashiers_paying_at_once_both_count(app: Flask, api_client: Any,
                                                people: dict[str, int]) -> None:
    """Each payment re-reads the order under its row lock: the second cashier, holding a
    stale copy, still sees the first payment and cannot pay more than is left."""
    from carebiz.errors import ValidationFailed
    from carebiz_plugins.sales.services import orders

    order = _order(api_client("sales"), api_client("manager"), people["alice"])
    with app.app_context():
        factory = app.extensions["carebiz"].session_factory
        first, second = factory(), factory()
        mine, theirs = first.get(SalesOrder, order["id"]), second.get(SalesOrder, order["id"])
        orders.add_payment(first, mine, {"amount": "80000"})
        first.commit()
        with pytest.raises(ValidationFailed) as refused:
            orders.add_payment(second, theirs, {"amount": "80000"})
        assert "49500" in refused.value.message
        second.rollback()
        orders.add_payment(second, second.get(SalesOrder, order["id"]), {"amount": "49500"})
        second.commit()
        assert factory().get(SalesOrder, order["id"]).paid == Decimal("129500")


def test_an_unpaid_order_past_its_due_date_is_overdue(app: Flask, api_client: Any,
                                                      people: dict[str, int]) -> None:
    sales, manager = api_client("sales"), api_client("manager")
    car = _stock(manager, 5)
    q = sales.post("/api/v1/sales/quotations", json={
        "customer_id": people["alice"], "stock_id": car["id"], "lines": LINES[:1]}).get_json()
    accepted = sales.post(f"/api/v1/sales/quotations/{q['id']}/accept",
                          json={"deposit": "5000", "payment_due_on": "2020-01-31"})
    assert accepted.status_code == 201, accepted.get_json()
    order = sales.get(f"/api/v1/sales/orders/{accepted.get_json()['order_id']}").get_json()
    assert order["payment_status"] == "overdue" and order["deposit"] == "5000"
    too_big = sales.post("/api/v1/sales/quotations", json={
        "customer_id": people["alice"], "model": "Lavida", "lines": LINES[:1]}).get_json()
    refused = sales.post(f"/api/v1/sales/quotations/{too_big['id']}/accept",
                         json={"deposit": "999999"})
    assert refused.status_code == 422 and "deposit" in refused.get_json()["errors"]


def test_an_order_without_a_car_is_allocated_one(app: Flask, api_client: Any,
                                                 people: dict[str, int], seeded: Any) -> None:
    sales, manager = api_client("sales"), api_client("manager")
    q = sales.post("/api/v1/sales/quotations", json={
        "customer_id": people["alice"], "model": "Lavida", "colour": "white",
        "lines": LINES[:1]}).get_json()
    oid = sales.post(f"/api/v1/sales/quotations/{q['id']}/accept", json={}).get_json()["order_id"]
    order = sales.get(f"/api/v1/sales/orders/{oid}").get_json()
    assert order["vehicle_status"] == "to_allocate" and order["vin"] is None
    assert "allocate" in order["allowed"]
    theirs = _stock(manager, 6, seeded["branches"]["B"])
    hidden = sales.post(f"/api/v1/sales/orders/{oid}/allocate", json={"stock_id": theirs["id"]})
    assert hidden.status_code == 422 and "stock_id" in hidden.get_json()["errors"]
    car = _stock(manager, 7)
    done = sales.post(f"/api/v1/sales/orders/{oid}/allocate", json={"stock_id": car["id"]})
    assert done.status_code == 200 and done.get_json()["vehicle_status"] == "in_stock"
    assert done.get_json()["vin"] == valid_vin(70)
    q2 = sales.post("/api/v1/sales/quotations", json={
        "customer_id": people["alice"], "model": "Lavida", "lines": LINES[:1]}).get_json()
    o2 = sales.post(f"/api/v1/sales/quotations/{q2['id']}/accept", json={}).get_json()["order_id"]
    taken = sales.post(f"/api/v1/sales/orders/{o2}/allocate", json={"stock_id": car["id"]})
    assert taken.status_code == 409 and taken.get_json()["allowed"] == ["release", "sell"]


def test_openapi_documents_the_routes(app: Flask, api_client: Any) -> None:
    spec = api_client("admin").get("/api/v1/openapi.json").get_json()
    for path in ("/api/v1/sales/stock", "/api/v1/sales/quotations/{quotation_id}/accept",
                 "/api/v1/sales/orders/{order_id}/deliver", "/api/v1/sales/purchase-orders"):
        assert path in spec["paths"], path
    assert "SalesOrder" in spec["components"]["schemas"]


def test_works_beside_the_export_plugin(make_app: Any) -> None:
    from carebiz.testing import seed, token_for
    from carebiz.testing.plugin import ApiClient

    app = make_app(CAREBIZ_PLUGINS="sales,export")
    ids = seed(app)
    manager = ApiClient(app, token_for(app, "manager"))
    _stock(manager, 8, ids["branches"]["A"])
    sheet = manager.get("/api/v1/sales/stock?format=xlsx")
    assert sheet.status_code == 200 and sheet.data.startswith(b"PK")


def test_booking_a_car_wins_the_customers_prospect(app: Flask, api_client: Any,
                                                   people: dict[str, int]) -> None:
    """成交 is the booking: accepting a quotation closes the customer's prospect as won."""
    sales, manager = api_client("sales"), api_client("manager")
    made = sales.post("/api/v1/sales/prospects", json={
        "name": "Zhou Min", "phone": "13912345678", "source": "walk_in", "branch_id": 1})
    assert made.status_code == 201, made.get_json()
    prospect = made.get_json()
    assert prospect["status"] == "consulting"
    _order(sales, manager, prospect["customer_id"], serial=7)
    after = sales.get(f"/api/v1/sales/prospects/{prospect['id']}").get_json()
    assert after["status"] == "won"
