"""People read labels, integrators read codes: the commerce pages, printable documents,
exports, query fields and 409 messages show translated statuses (待付款, 部分付款, 在库 …),
while the API's JSON keeps ``awaiting_payment``; and the sales catalog translates every
string of the plugin except those the core already translates (the core's Chinese wins)."""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

from babel.messages.pofile import read_po
from flask import Flask

from carebiz.testing import valid_vin
from carebiz_plugins.sales import labels, queries
from carebiz_plugins.sales.services import purchasing, quotations, stock

ZH = {"Accept-Language": "zh-CN"}
PLUGIN = Path(__file__).resolve().parents[1]
CORE_PO = (PLUGIN.parents[1] / "platform" / "carebiz" / "translations" / "zh_Hans_CN"
           / "LC_MESSAGES" / "carebiz.po")
SALES_PO = PLUGIN / "translations" / "zh_Hans_CN" / "LC_MESSAGES" / "sales.po"
#: codes that must never be what a person reads
RAW = ("in_stock", "in_transit", "awaiting_payment", "awaiting_vehicle", "partly_paid",
       "unpaid", "to_allocate", "pending_approval", "partly_received", "trade_in",
       "ready_for_delivery")


def _text(page: str) -> str:
    """What a reader sees: the page without its tags, attributes, scripts and styles."""
    page = re.sub(r"(?s)<(script|style)\b.*?</\1>", " ", page)
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


def _order_awaiting_payment(sales: Any, manager: Any, customer_id: int) -> dict[str, Any]:
    """An order whose car passed its inspection with 1,000 paid: awaiting payment."""
    car = manager.post("/api/v1/sales/stock", json={
        "branch_id": 1, "vin": valid_vin(710), "make": "Volkswagen", "model": "Lavida",
        "year": 2025, "colour": "white", "cost": "120000", "currency": "CNY"}).get_json()
    q = sales.post("/api/v1/sales/quotations", json={
        "customer_id": customer_id, "stock_id": car["id"], "currency": "CNY", "lines": [
            {"kind": "vehicle", "description": "Lavida 1.5L", "amount": "150000"},
            {"kind": "trade_in", "description": "Old Jetta", "amount": "20000"}]}).get_json()
    oid = sales.post(f"/api/v1/sales/quotations/{q['id']}/accept", json={}).get_json()["order_id"]
    assert sales.post(f"/api/v1/sales/orders/{oid}/inspect",
                      json={"passed": True}).status_code == 200
    assert sales.post(f"/api/v1/sales/orders/{oid}/payments",
                      json={"amount": "1000", "method": "wechat"}).status_code == 201
    return {"order": oid, "quotation": q["id"], "stock": car["id"]}


def test_commerce_pages_documents_and_exports_read_labels_in_chinese(
        app: Flask, api_client: Any, client_for: Any, people: dict[str, int]) -> None:
    sales, manager = api_client("sales"), api_client("manager")
    ids = _order_awaiting_payment(sales, manager, people["alice"])
    po = manager.post("/api/v1/sales/purchase-orders", json={
        "supplier_id": people["supplier"], "currency": "CNY", "branch_id": 1, "lines": [
            {"make": "Volkswagen", "model": "Tiguan L", "quantity": 2,
             "unit_cost": "190000"}]})
    assert po.status_code == 201, po.get_json()

    # the API keeps the codes integrators compare
    order = sales.get(f"/api/v1/sales/orders/{ids['order']}").get_json()
    assert (order["status"], order["payment_status"]) == ("awaiting_payment", "partly_paid")

    client = client_for("manager")
    pages = {
        "/sales/stock": ("已预留",), "/sales/quotations": ("已接受",),
        "/sales/orders": ("待付款", "部分付款", "待交车"),
        "/sales/purchase-orders": ("已订购",),
        f"/sales/orders/{ids['order']}": ("待付款", "部分付款", "已通过", "尚未上牌", "微信支付"),
        f"/sales/quotations/{ids['quotation']}": ("已接受", "置换", "车辆"),
        f"/sales/stock/{ids['stock']}": ("已预留",),
        f"/documents/sales.order/{ids['order']}": ("待付款", "部分付款", "微信支付"),
        f"/documents/sales.quotation/{ids['quotation']}": ("置换",),
    }
    for url, words in pages.items():
        resp = client.get(url, headers=ZH)
        assert resp.status_code == 200, url
        page = resp.get_data(as_text=True)
        # a document's preview holds the document in an iframe's srcdoc: read it whole
        text = html.unescape(page) if url.startswith("/documents/") else _text(page)
        for word in words:
            assert word in text, (url, word)
        for raw in RAW:
            assert raw not in text, (url, raw)

    # an export is for people: labels, in the reader's language
    csv = manager.get("/api/v1/sales/orders?format=csv", headers=ZH).get_data(as_text=True)
    assert "待付款" in csv and "部分付款" in csv and "awaiting_payment" not in csv


def test_409_messages_and_query_fields_read_labels(app: Flask, api_client: Any,
                                                   people: dict[str, int]) -> None:
    sales, manager = api_client("sales"), api_client("manager")
    ids = _order_awaiting_payment(sales, manager, people["alice"])
    again = sales.post(f"/api/v1/sales/quotations/{ids['quotation']}/accept", json={})
    assert again.status_code == 409
    body = again.get_json()
    assert "Accepted" in body["message"] and "accepted" not in body["message"]
    assert body["status"] == "accepted"  # the code stays for integrators

    for m in (stock.STOCK, quotations.QUOTATION, purchasing.PURCHASE,
              purchasing.SUPPLIER_QUOTE):
        codes = {to for _starts, to in m.actions.values()} | set(m.actions)
        for starts, _to in m.actions.values():
            codes |= starts
        assert codes <= set(m.labels or {}), (m.name, codes - set(m.labels or {}))

    for source in queries.SOURCES:
        for field in source.fields:
            if field.type == "choice":
                assert all(str(lab) != code for code, lab in field.choices), field.name
    assert labels.label("payment", "partly_paid") == "Partly paid"
    assert labels.label("stock", "flying") == "flying"  # an unknown code reads as itself


def test_sales_catalog_is_complete_except_what_the_core_translates() -> None:
    # keyed by (context, msgid): "Lost" as a pipeline stage is not the core's "Lost"
    with CORE_PO.open("rb") as fh:
        core = {(m.context, m.id) for m in read_po(fh) if m.id and m.string}
    with SALES_PO.open("rb") as fh:
        sales = read_po(fh)
    with (PLUGIN / "translations" / "sales.pot").open("rb") as fh:
        template = {(m.context, m.id) for m in read_po(fh) if m.id}
    ours = {(m.context, m.id): m for m in sales if m.id}
    assert template <= set(ours), sorted(template - set(ours))[:10]
    untranslated = sorted(i for i, m in ours.items() if not m.string and i not in core)
    assert untranslated == []
    shadowing = sorted(i for i, m in ours.items() if m.string and i in core)
    assert shadowing == [], "the core's Chinese must win for these"
    assert not [i for i, m in ours.items() if m.fuzzy]
    for code, text in labels.ORDER_STATUS.items():
        assert (None, text._args[0]) in ours or (None, text._args[0]) in core, code
