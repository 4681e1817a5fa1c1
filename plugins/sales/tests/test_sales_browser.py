"""In a real browser (Playwright + Debian's Chromium; skipped with the reason when either is
missing): a salesperson registers a walk-in, books a test drive, writes a quotation for a
stock car; the customer accepts, pays, and the car is inspected and delivered; the
customer's 360° page then shows the sale in the Sales panel and the car among theirs.
Screenshots sales-01-… under test-results/screenshots/."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from carebiz.testing import PASSWORD
from carebiz.testing.browser import shot


@pytest.fixture
def app(make_app: Any) -> Flask:
    """The core with sales only, CSRF on as in production (the browser carries tokens)."""
    return make_app(CAREBIZ_PLUGINS="sales", WTF_CSRF_ENABLED=True)


def _setup(app: Flask, seeded: dict[str, Any]) -> dict[str, int]:
    """What the showroom has before the customer walks in: a demo car and a stock car."""
    from carebiz.crm.services.vehicles import create_vehicle
    from carebiz.testing import valid_vin
    from carebiz_plugins.sales.services import drives, stock

    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        branch = seeded["branches"]["A"]
        demo = create_vehicle(sess, {"vin": valid_vin(710), "make": "丰田", "model": "凯美瑞",
                                     "year": 2024, "branch_id": branch})
        drives.add_demo_car(sess, demo)
        car = stock.create_stock(sess, {"vin": valid_vin(720), "make": "比亚迪",
                                        "model": "汉 EV", "year": 2024, "colour": "汉宫红",
                                        "cost": 225000, "branch_id": branch})
        sess.commit()
        return {"demo": demo.id, "stock": car.id, "stock_vehicle": car.vehicle_id}


def _log_in(pg: Any, base: str, username: str) -> None:
    pg.goto(f"{base}/login")
    pg.fill("input[name=username]", username)
    pg.fill("input[name=password]", PASSWORD)
    pg.click("button[type=submit]")
    pg.wait_for_url(f"{base}/")


def test_walk_in_to_delivered_car(page: Any, live_server: str, app: Flask,
                                  seeded: dict[str, Any]) -> None:
    from carebiz_plugins.sales.models import SalesOrder, SalesProspect, SalesQuotation

    ids = _setup(app, seeded)
    base = live_server
    factory = app.extensions["carebiz"].session_factory
    _log_in(page, base, "sales")  # a salesperson of branch A does it all

    # 1. the walk-in
    page.goto(f"{base}/sales/prospects")
    form = page.locator("#sales-register")
    form.locator("[name=name]").fill("Walk-in Zhang")
    form.locator("[name=phone]").fill("13912345678")
    form.locator("[name=source]").select_option("walk_in")
    form.locator("[name=models_of_interest]").fill("汉 EV")
    shot(page, "sales-01-register-walk-in")
    form.locator("button.btn-primary").click()
    page.wait_for_url(f"{base}/sales/prospects/*")
    with app.app_context(), factory() as sess:
        prospect = sess.scalars(select(SalesProspect)).one()
        customer_id = prospect.customer_id
    shot(page, "sales-02-prospect")

    # 2. the test drive (in an hour, 45 minutes)
    page.goto(f"{base}/sales/test-drives")
    start = (dt.datetime.now() + dt.timedelta(hours=1)).replace(second=0, microsecond=0)
    page.fill("[name=vehicle_id]", str(ids["demo"]))
    page.fill("[name=customer_id]", str(customer_id))
    page.fill("[name=starts_at]", start.strftime("%Y-%m-%dT%H:%M"))
    page.fill("[name=ends_at]", (start + dt.timedelta(minutes=45)).strftime("%Y-%m-%dT%H:%M"))
    page.fill("[name=licence_number]", "110108198501012345")
    page.fill("[name=licence_expiry]", (dt.date.today() + dt.timedelta(days=900)).isoformat())
    page.check("[name=waiver_signed]")
    shot(page, "sales-03-book-test-drive")
    page.locator("#sales-book-drive button").click()
    page.wait_for_url(f"{base}/sales/test-drives/*")
    shot(page, "sales-04-test-drive-booked")

    # 3. the quotation for the stock car
    page.goto(f"{base}/sales/quotations/new?customer_id={customer_id}&stock_id={ids['stock']}")
    page.fill("[name=vehicle]", "249800")
    page.fill("[name=discount]", "2000")
    shot(page, "sales-05-quotation-form")
    page.locator("[data-testid=sales-form] button[type=submit]").click()
    page.wait_for_url(f"{base}/sales/quotations/*")
    with app.app_context(), factory() as sess:
        quotation = sess.scalars(select(SalesQuotation)).one()
        assert quotation.status == "open" and quotation.total > 0
    shot(page, "sales-06-quotation")

    # 4. accepted: an order
    page.get_by_role("button", name="Customer accepts").click()
    page.wait_for_url(f"{base}/sales/orders/*")
    with app.app_context(), factory() as sess:
        order = sess.scalars(select(SalesOrder)).one()
        order_id, total = order.id, order.total
    shot(page, "sales-07-order")

    # 5. the payment, the inspection, the delivery
    pay = page.locator("[data-testid=payment-form]")
    pay.locator("[name=amount]").fill(str(total))
    pay.locator("button").click()
    page.wait_for_url(f"{base}/sales/orders/{order_id}")
    shot(page, "sales-08-paid")
    check = page.locator("[data-testid=inspect-form]")
    check.locator("[name=passed]").check()
    check.locator("[name=notes]").fill("PDI passed")
    check.locator("button").click()
    page.wait_for_url(f"{base}/sales/orders/{order_id}")
    page.locator("[data-testid=deliver-form] button").click()
    page.wait_for_url(f"{base}/sales/orders/{order_id}")
    shot(page, "sales-09-delivered")
    with app.app_context(), factory() as sess:
        order = sess.get(SalesOrder, order_id)
        assert order.delivery_status == "delivered" and order.paid == total

    # 6. the 360° page: the sale in the Sales panel, the car among the customer's
    page.goto(f"{base}/customers/{customer_id}")
    sale = page.locator(f"[data-panel=sales] [data-order='{order_id}']")
    assert sale.is_visible()
    assert sale.locator("[data-status]").get_attribute("data-status") == "delivered"
    with app.app_context(), factory() as sess:
        from carebiz.crm.models import Vehicle

        vin = sess.get(Vehicle, ids["stock_vehicle"]).vin
        assert sess.get(Vehicle, ids["stock_vehicle"]).owner_id == customer_id
    assert vin in sale.inner_text()
    assert page.locator(f"a[href$='/vehicles/{ids['stock_vehicle']}']").count() \
        or vin in page.locator("body").inner_text().replace(sale.inner_text(), "")
    shot(page, "sales-10-customer-360")


def test_dragging_a_card_moves_the_opportunity(page: Any, live_server: str, app: Flask,
                                               seeded: dict[str, Any]) -> None:
    """A salesperson drags a card from its column onto "Test drive": the drop submits the
    card's move form with its version, the board comes back with the card in its new
    column and the opportunity stands there with the stage's probability."""
    from carebiz.models import User
    from carebiz.testing import make_customer
    from carebiz_plugins.sales.models import SalesOpportunity
    from carebiz_plugins.sales.services import opportunities

    factory = app.extensions["carebiz"].session_factory
    with app.app_context(), factory() as sess:
        customer = make_customer(sess, "Chen Jing", seeded["branches"]["A"])
        seller = sess.scalar(select(User).where(User.username == "sales"))
        opp = opportunities.create_opportunity(sess, {
            "customer_id": customer.id, "brand": "Toyota", "model": "RAV4",
            "expected_value": "210000"}, user=seller)
        sess.commit()
        opp_id = opp.id
    base = live_server
    _log_in(page, base, "sales")
    page.goto(f"{base}/sales/pipeline")
    card = page.locator(f"[data-card='{opp_id}']")
    assert card.get_attribute("data-stage") == "first_contact"
    target = page.locator("#sales-board [data-stage='test_drive'].sales-col")
    shot(page, "sales-11-board-before-drag")
    with page.expect_navigation():
        card.drag_to(target)
    moved = page.locator(f"#sales-board [data-stage='test_drive'].sales-col [data-card='{opp_id}']")
    moved.wait_for()
    shot(page, "sales-12-board-after-drag")
    with app.app_context(), factory() as sess:
        after = sess.get(SalesOpportunity, opp_id)
        assert (after.stage, after.probability, after.version) == ("test_drive", 40, 2)
