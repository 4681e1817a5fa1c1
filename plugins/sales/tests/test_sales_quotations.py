"""Quotations: lines and their signs, discount limits per role (over it a manager
approves), trade-in, finance, currencies, revisions kept, expiry, branches."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask

from carebiz.testing import valid_vin
from carebiz.toolkit import today
from carebiz_plugins.sales.models import SalesQuotation
from carebiz_plugins.sales.services import quotations

URL = "/api/v1/sales/quotations"


def _lines(discount: str = "0", trade_in: str = "0") -> list[dict[str, str]]:
    lines = [{"kind": "vehicle", "description": "Camry 2.0G", "amount": "150000"},
             {"kind": "option", "description": "Sunroof", "amount": "5000"},
             {"kind": "fee", "description": "Purchase tax", "amount": "13274.34"}]
    if discount != "0":
        lines.append({"kind": "discount", "description": "Discount", "amount": discount})
    if trade_in != "0":
        lines.append({"kind": "trade_in", "description": "2015 Corolla", "amount": trade_in})
    return lines


def _quote(api: Any, customer: int, **body: Any) -> Any:
    return api.post(URL, json={"customer_id": customer, "make": "Toyota", "model": "Camry",
                               "trim": "2.0G", "colour": "white", "lines": _lines(),
                               "currency": "CNY", **body})


def test_a_quotation_adds_and_credits_its_lines(app: Flask, api_client: Any,
                                                people: dict[str, int]) -> None:
    resp = _quote(api_client("sales"), people["alice"],
                  lines=_lines(discount="3000", trade_in="40000"),
                  finance={"provider": "Toyota Finance", "term_months": 36,
                           "down_payment": "30000", "rate": "3.99"})
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    assert (body["total"], body["currency"], body["revision"], body["status"]) == (
        "125274.34", "CNY", 1, "open")
    assert body["discount"] == "3000" and body["finance"]["term_months"] == 36
    assert [ln["kind"] for ln in body["lines"]] == ["vehicle", "option", "fee", "discount",
                                                    "trade_in"]
    with app.app_context():  # the business's day, which is not UTC's near midnight
        valid = today() + dt.timedelta(days=14)
    assert body["valid_until"] == valid.isoformat()


@pytest.mark.parametrize("body, field", [
    ({"model": ""}, "model"),
    ({"currency": "EURO"}, "currency"),
    ({"lines": []}, "lines"),
    ({"lines": [{"kind": "vehicle", "amount": "100"},
                {"kind": "trade_in", "amount": "200"}]}, "lines"),
    ({"lines": [{"kind": "vehicle", "amount": "-100"}]}, "lines[0].amount"),
    ({"valid_until": "2001-01-01"}, "valid_until"),
    ({"finance": {"term_months": 500}}, "finance.term_months"),
    ({"customer_id": 999}, "customer_id"),
])
def test_bad_quotations_are_422(app: Flask, api_client: Any, people: dict[str, int],
                                body: dict[str, Any], field: str) -> None:
    resp = _quote(api_client("sales"), people["alice"], **body)
    assert resp.status_code == 422, resp.get_json()
    assert field in resp.get_json()["errors"], resp.get_json()


def test_unknown_line_kind_is_refused_by_the_schema(app: Flask, api_client: Any,
                                                    people: dict[str, int]) -> None:
    resp = _quote(api_client("sales"), people["alice"],
                  lines=[{"kind": "gift", "amount": "1"}])
    assert resp.status_code == 422
    assert any(key.startswith("lines") and "kind" in key for key in resp.get_json()["errors"])


def test_discount_over_the_limit_waits_for_a_manager(app: Flask, api_client: Any,
                                                     people: dict[str, int]) -> None:
    sales, manager, admin = api_client("sales"), api_client("manager"), api_client("admin")
    # 3 % of 155 000 is 4 650: a salesperson gives 4 000 alone, not 10 000
    small = _quote(sales, people["alice"], lines=_lines(discount="4000")).get_json()
    assert small["status"] == "open"
    big = _quote(sales, people["alice"], lines=_lines(discount="10000")).get_json()
    assert big["status"] == "pending_approval"
    refused = sales.post(f"{URL}/{big['id']}/accept", json={})
    assert refused.status_code == 409 and refused.get_json()["allowed"] == ["approve",
                                                                              "decline",
                                                                              "revise"]
    assert sales.post(f"{URL}/{big['id']}/approve", json={}).status_code == 403
    ok = manager.post(f"{URL}/{big['id']}/approve", json={})
    assert ok.status_code == 200 and ok.get_json()["status"] == "open"
    assert sales.post(f"{URL}/{big['id']}/accept", json={}).status_code == 201
    # 20 000 is 12.9 %: over the manager's 10 % too; an administrator has no limit
    huge = _quote(sales, people["alice"], lines=_lines(discount="20000")).get_json()
    over = manager.post(f"{URL}/{huge['id']}/approve", json={})
    assert over.status_code == 403 and "limit" in over.get_json()["message"]
    assert admin.post(f"{URL}/{huge['id']}/approve", json={}).status_code == 200
    # a manager's own quotation within 10 % needs nobody
    assert _quote(manager, people["alice"], branch_id=1,
                  lines=_lines(discount="10000")).get_json()["status"] == "open"


def test_revisions_are_kept(app: Flask, api_client: Any, people: dict[str, int]) -> None:
    sales = api_client("sales")
    q = _quote(sales, people["alice"]).get_json()
    revised = sales.post(f"{URL}/{q['id']}/revisions", json={
        "lines": _lines(trade_in="50000"), "version": q["version"]})
    assert revised.status_code == 201, revised.get_json()
    assert revised.get_json()["revision"] == 2
    assert revised.get_json()["total"] == "118274.34"
    history = sales.get(f"{URL}/{q['id']}/revisions").get_json()
    assert [(h["revision"], h["total"]) for h in history] == [(1, "168274.34")]
    assert history[0]["lines"][0] == {"kind": "vehicle", "description": "Camry 2.0G",
                                      "amount": "150000.00", "vehicle_id": None}
    stale = sales.post(f"{URL}/{q['id']}/revisions", json={"lines": _lines(),
                                                           "version": q["version"]})
    assert stale.status_code == 409 and stale.get_json()["status"] == "version_conflict"
    sales.post(f"{URL}/{q['id']}/accept", json={})
    closed = sales.post(f"{URL}/{q['id']}/revisions", json={"lines": _lines()})
    assert closed.status_code == 409 and closed.get_json()["current_status"] == "accepted"


def test_any_currency_and_a_stock_car(app: Flask, api_client: Any, people: dict[str, int],
                                      seeded: Any) -> None:
    manager, sales = api_client("manager"), api_client("sales")
    car = manager.post("/api/v1/sales/stock", json={
        "vin": valid_vin(40), "make": "Tesla", "model": "Model Y", "colour": "red",
        "cost": "30000", "currency": "USD", "branch_id": seeded["branches"]["A"]}).get_json()
    q = sales.post(URL, json={"customer_id": people["alice"], "stock_id": car["id"],
                              "currency": "usd", "lines": [
                                  {"kind": "vehicle", "amount": "39990.995"}]})
    assert q.status_code == 201, q.get_json()
    body = q.get_json()
    assert body["currency"] == "USD" and body["total"] == "39991"
    assert body["model"] == "Model Y" and body["stock_id"] == car["id"]
    jpy = _quote(sales, people["alice"], currency="JPY",
                 lines=[{"kind": "vehicle", "amount": "3000000.4"}]).get_json()
    assert jpy["total"] == "3000000"


def test_other_branches_are_invisible(app: Flask, api_client: Any, people: dict[str, int],
                                      seeded: Any) -> None:
    manager, sales = api_client("manager"), api_client("sales")
    theirs = _quote(manager, people["bob"], branch_id=seeded["branches"]["B"]).get_json()
    assert sales.get(f"{URL}/{theirs['id']}").status_code == 404
    assert sales.post(f"{URL}/{theirs['id']}/accept", json={}).status_code == 404
    assert sales.get(URL).get_json()["total"] == 0
    refused = _quote(sales, people["bob"])
    assert refused.status_code == 422 and "customer_id" in refused.get_json()["errors"]


def test_an_expired_quotation_is_revised_before_acceptance(app: Flask, api_client: Any,
                                                           people: dict[str, int]) -> None:
    sales = api_client("sales")
    q = _quote(sales, people["alice"]).get_json()
    with app.app_context():
        sess = app.extensions["carebiz"].session_factory()
        sess.get(SalesQuotation, q["id"]).valid_until = today() - dt.timedelta(days=1)
        sess.commit()
    expired = sales.post(f"{URL}/{q['id']}/accept", json={})
    assert expired.status_code == 409
    assert expired.get_json()["allowed"] == ["decline", "revise"]


def test_limits_setting_is_read_safely(app: Flask) -> None:
    from carebiz.services import settings as core_settings

    with app.app_context():
        sess = app.extensions["carebiz"].session_factory()
        host = app.extensions["carebiz"].host
        core_settings.set_value(sess, host, "sales.discount_limits",
                                "salesperson: 5, broken, manager: x, read_only: 1")
        assert quotations.discount_limits(sess) == {"salesperson": Decimal(5),
                                                    "read_only": Decimal(1)}


def test_quotation_prints_with_capital_numerals(app: Flask, api_client: Any,
                                                people: dict[str, int]) -> None:
    sales = api_client("sales")
    q = _quote(sales, people["alice"], lines=_lines(trade_in="40000")).get_json()
    html = sales.get(f"/api/v1/documents/sales.quotation/{q['id']}?format=html",
                     headers={"Accept-Language": "en"})
    assert html.status_code == 200
    text = html.get_data(as_text=True)
    assert "Quotation" in text and "Camry 2.0G" in text and "Trade-in" in text
    assert "壹拾贰万捌仟贰佰柒拾肆元叁角肆分" in text  # 128 274.34
    assert api_client("viewer").get(
        f"/api/v1/documents/sales.quotation/{q['id']}?format=pdf").status_code == 200
