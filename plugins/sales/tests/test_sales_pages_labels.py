"""The prospect's edit page (versioned: a stale save is refused with a message, not lost),
and labels where codes used to show: the 360° panel and the record's history read
statuses in the reader's language, while the API keeps the codes."""

from __future__ import annotations

import html
import re
from typing import Any

from flask import Flask

ZH = {"Accept-Language": "zh-CN"}
WALK_IN = {"name": "王伟", "phone": "13800138000", "source": "walk_in",
           "models_of_interest": ["Camry 2.0"], "points_of_interest": ["price"]}


def _text(page: str) -> str:
    page = re.sub(r"(?s)<(script|style)\b.*?</\1>", " ", page)
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


def test_editing_a_prospect_on_its_page(app: Flask, api_client: Any,
                                        client_for: Any) -> None:
    made = api_client("sales").post("/api/v1/sales/prospects", json=WALK_IN).get_json()
    web = client_for("sales")
    form = web.get(f"/sales/prospects/{made['id']}/edit")
    assert form.status_code == 200 and 'id="sales-prospect-edit"' in form.get_data(as_text=True)
    saved = web.post(f"/sales/prospects/{made['id']}/edit", data={
        "source": "phone", "models_of_interest": "Camry 2.0, RAV4",
        "points_of_interest": ["price", "safety"], "notes": "Wants white", "version": "1"})
    assert saved.status_code == 302, saved.get_data(as_text=True)[:2000]
    body = api_client("sales").get(f"/api/v1/sales/prospects/{made['id']}").get_json()
    assert body["source"] == "phone" and body["notes"] == "Wants white"
    assert body["models_of_interest"] == ["Camry 2.0", "RAV4"]
    assert "edit" in web.get(f"/sales/prospects/{made['id']}").get_data(as_text=True)


def test_a_stale_edit_on_the_page_is_refused_with_a_message(
        app: Flask, api_client: Any, client_for: Any) -> None:
    sales = api_client("sales")
    made = sales.post("/api/v1/sales/prospects", json=WALK_IN).get_json()
    assert sales.patch(f"/api/v1/sales/prospects/{made['id']}",
                       json={"notes": "Called back", "version": 1}).status_code == 200
    stale = client_for("manager").post(f"/sales/prospects/{made['id']}/edit", data={
        "source": "walk_in", "models_of_interest": "Camry 2.0", "points_of_interest": "price",
        "notes": "Old copy", "version": "1"})
    assert stale.status_code == 409
    page = _text(stale.get_data(as_text=True))
    assert "while you were editing" in page or "since you loaded it" in page
    assert 'value="Old copy"' in stale.get_data(as_text=True)  # kept to re-apply
    kept = sales.get(f"/api/v1/sales/prospects/{made['id']}").get_json()
    assert kept["notes"] == "Called back"  # the colleague's write is not lost


def test_the_360_panel_and_history_read_labels_in_chinese(
        app: Flask, api_client: Any, client_for: Any) -> None:
    sales = api_client("sales")
    made = sales.post("/api/v1/sales/prospects", json=WALK_IN).get_json()
    assert sales.post("/api/v1/sales/return-visits", json={
        "prospect_id": made["id"], "due_at": "2030-01-01T10:00:00+08:00"}).status_code == 201
    web = client_for("sales")
    english = _text(web.get(f"/customers/{made['customer_id']}").get_data(as_text=True))
    assert "Consulting" in english and " consulting " not in english
    assert sales.post(f"/api/v1/sales/prospects/{made['id']}/close",
                      json={"outcome": "won"}).get_json()["status"] == "won"  # API: codes
    panel = _text(web.get(f"/customers/{made['customer_id']}", headers=ZH)
                  .get_data(as_text=True))
    assert "成交" in panel and "已取消" in panel  # won; its open visit cancelled on closing
    assert not re.search(r"·\s*(won|cancelled|consulting)\b", panel)
    history = _text(web.get(f"/sales/prospects/{made['id']}", headers=ZH)
                    .get_data(as_text=True))
    assert "状态" in history and "成交" in history and "→ won" not in history


def test_the_dashboard_draws_pygal_charts(app: Flask, api_client: Any,
                                          client_for: Any) -> None:
    sales = api_client("sales")
    made = sales.post("/api/v1/sales/prospects", json=WALK_IN).get_json()
    assert sales.post(f"/api/v1/sales/prospects/{made['id']}/close",
                      json={"outcome": "won"}).status_code == 200
    page = client_for("sales").get("/sales/", headers=ZH)
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    for chart in ("source", "salesperson_id", "model", "trend"):
        block = body.split(f'data-chart="{chart}"', 1)[1].split("</figure>", 1)[0]
        assert "<svg" in block and "<?xml" not in block, chart
    source = body.split('data-chart="source"', 1)[1].split("</figure>", 1)[0]
    assert "自然到店" in source  # the source's label in Chinese, not walk_in
    assert "<script" not in source  # static SVG: no pygal script from a CDN


def _quote(sales: Any, customer_id: int, **more: Any) -> dict[str, Any]:
    return sales.post("/api/v1/sales/quotations", json={
        "customer_id": customer_id, "currency": "CNY", "model": "Lavida", **more, "lines": [
            {"kind": "vehicle", "description": "Lavida 1.5L", "amount": "150000"}]}).get_json()


def test_revising_a_quotation_from_its_page(app: Flask, api_client: Any, client_for: Any,
                                           people: dict[str, int]) -> None:
    sales = api_client("sales")
    q = _quote(sales, people["alice"])
    web = client_for("sales")
    shown = web.get(f"/sales/quotations/{q['id']}").get_data(as_text=True)
    assert 'id="sales-quotation-revise"' in shown
    form = web.get(f"/sales/quotations/{q['id']}/revise").get_data(as_text=True)
    assert 'value="150000.00"' in form or 'value="150000"' in form
    saved = web.post(f"/sales/quotations/{q['id']}/revise", data={
        "customer_id": str(people["alice"]), "model": "Lavida", "currency": "CNY",
        "vehicle": "148000", "accessories": "2000", "version": "1"})
    assert saved.status_code == 302, saved.get_data(as_text=True)[:3000]
    after = sales.get(f"/api/v1/sales/quotations/{q['id']}").get_json()
    assert after["revision"] == 2 and float(after["total"]) == 150000
    page = web.get(f"/sales/quotations/{q['id']}").get_data(as_text=True)
    assert "Revision 1" in page  # the earlier revision is listed
    stale = web.post(f"/sales/quotations/{q['id']}/revise", data={
        "customer_id": str(people["alice"]), "model": "Lavida", "currency": "CNY",
        "vehicle": "1", "version": "1"})
    assert stale.status_code == 409
    assert sales.get(f"/api/v1/sales/quotations/{q['id']}").get_json()["revision"] == 2


def test_allocating_a_car_from_matching_stock(app: Flask, api_client: Any, client_for: Any,
                                              people: dict[str, int]) -> None:
    from carebiz.testing import valid_vin

    sales, manager = api_client("sales"), api_client("manager")
    other = manager.post("/api/v1/sales/stock", json={
        "branch_id": 1, "vin": valid_vin(731), "make": "Toyota", "model": "Camry",
        "cost": "150000", "currency": "CNY"}).get_json()
    car = manager.post("/api/v1/sales/stock", json={
        "branch_id": 1, "vin": valid_vin(732), "make": "Volkswagen", "model": "Lavida",
        "colour": "white", "cost": "120000", "currency": "CNY"}).get_json()
    q = _quote(sales, people["alice"])
    oid = sales.post(f"/api/v1/sales/quotations/{q['id']}/accept", json={}).get_json()["order_id"]
    web = client_for("sales")
    page = web.get(f"/sales/orders/{oid}").get_data(as_text=True)
    assert 'data-testid="allocate-form"' in page
    assert car["vin"] in page and other["vin"] not in page  # only the quotation's model
    done = web.post(f"/sales/orders/{oid}/allocate", data={"stock_id": str(car["id"]),
                                                           "version": "1"})
    assert done.status_code == 302, done.get_data(as_text=True)[:3000]
    order = sales.get(f"/api/v1/sales/orders/{oid}").get_json()
    assert order["vin"] == car["vin"] and order["vehicle_status"] != "to_allocate"
    assert 'data-testid="allocate-form"' not in web.get(f"/sales/orders/{oid}").get_data(
        as_text=True)


def test_the_procurement_plan_document(app: Flask, api_client: Any, client_for: Any,
                                       people: dict[str, int]) -> None:
    from carebiz.testing import valid_vin

    sales, manager = api_client("sales"), api_client("manager")
    manager.post("/api/v1/sales/stock", json={
        "branch_id": 1, "vin": valid_vin(741), "make": "Toyota", "model": "Camry",
        "colour": "black", "cost": "150000", "currency": "CNY"})
    for _i in range(3):  # three Lavida orders waiting for a car
        q = _quote(sales, people["alice"], colour="white")
        assert sales.post(f"/api/v1/sales/quotations/{q['id']}/accept",
                          json={}).status_code == 201
    po = manager.post("/api/v1/sales/purchase-orders", json={
        "supplier_id": people["supplier"], "currency": "CNY", "branch_id": 1, "lines": [
            {"make": "Volkswagen", "model": "Lavida", "colour": "white", "quantity": 1,
             "unit_cost": "110000"}]})
    assert po.status_code == 201, po.get_json()
    html = manager.get("/api/v1/documents/sales.procurement_plan/1?format=html",
                       headers={"Accept-Language": "en"})
    assert html.status_code == 200, html.get_data(as_text=True)[:500]
    text = _text(html.get_data(as_text=True))
    assert "Procurement plan" in text and "FAW-Volkswagen Sales" in text
    row = re.search(r"Volkswagen Lavida\s+white\s+(\d+)\s+(\d*)\s*(\d+)\s+(\d+)\s+(\d+)", text)
    assert row and row.groups()[-3:] == ("1", "3", "2"), text  # 3 waiting − 1 coming = 2
    assert re.search(r"Toyota Camry\s+black\s+1\s+\d+\s+0\s+0\s+0", text)
    pdf = manager.get("/api/v1/documents/sales.procurement_plan/1?format=pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    assert manager.get("/api/v1/documents/sales.procurement_plan/2?format=html"
                       ).status_code in (200, 404)  # another branch: only if the user has it
    assert sales.get("/api/v1/documents/sales.procurement_plan/1?format=html"
                     ).status_code == 403  # printing it is the purchaser's
    links = client_for("manager").get("/sales/purchase-orders").get_data(as_text=True)
    assert "/documents/sales.procurement_plan/1" in links


def test_supplier_quotes_compared_and_the_winner_picked(
        app: Flask, api_client: Any, client_for: Any, seeded: dict[str, Any],
        people: dict[str, int]) -> None:
    from carebiz.testing import make_customer

    with app.app_context():
        sess = app.extensions["carebiz"].session_factory()
        rival = make_customer(sess, "SAIC-Volkswagen Sales", seeded["branches"]["A"],
                              kind="organization", roles=["supplier"]).id
        sess.commit()
        sess.close()
    web = client_for("manager")
    assert "sales-supplier-quotes-link" in web.get("/sales/purchase-orders").get_data(
        as_text=True)
    for supplier in (people["supplier"], rival):
        sent = web.post("/sales/supplier-quotes", data={
            "supplier_id": str(supplier), "branch_id": "1", "make": "Volkswagen",
            "model": "Tiguan L", "colour": "grey", "quantity": "2"})
        assert sent.status_code == 302, sent.get_data(as_text=True)[:2000]
    quotes = api_client("manager").get("/api/v1/sales/supplier-quotes").get_json()["items"]
    ids = {q["supplier_id"]: q["id"] for q in quotes}
    for supplier, cost in ((people["supplier"], "180000"), (rival, "176000")):
        priced = web.post(f"/sales/supplier-quotes/{ids[supplier]}/price", data={
            "unit_cost": cost, "currency": "CNY", "version": "1"})
        assert priced.status_code == 302, priced.get_data(as_text=True)[:2000]
    page = web.get("/sales/supplier-quotes").get_data(as_text=True)
    cheapest = page.split("data-cheapest", 1)[0].rsplit("data-quote=", 1)[1]
    assert cheapest.startswith(f'"{ids[rival]}"')  # the cheaper supplier is marked
    won = web.post(f"/sales/supplier-quotes/{ids[rival]}/win")
    assert won.status_code == 302 and "/sales/purchase-orders/" in won.headers["Location"]
    after = {q["id"]: q["status"] for q in
             api_client("manager").get("/api/v1/sales/supplier-quotes").get_json()["items"]}
    assert after == {ids[rival]: "ordered", ids[people["supplier"]]: "declined"}
