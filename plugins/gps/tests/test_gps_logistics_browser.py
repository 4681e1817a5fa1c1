"""In a real browser (skipped with the reason where Playwright or Chromium is missing): a
clerk receives a consignment, scans it loaded and on its way, issues the consignee's link;
the consignee opens it without logging in and sees the status and the van's position, not
the names. Screenshots gps-logistics-… under test-results/screenshots/."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from flask import Flask

from carebiz.testing import PASSWORD, make_customer, make_vehicle
from carebiz.testing.browser import shot


@pytest.fixture
def app(make_app: Any) -> Flask:
    """The core with gps only, CSRF on as in production."""
    return make_app(CAREBIZ_PLUGINS="gps", WTF_CSRF_ENABLED=True)


def test_receive_scan_and_track(page: Any, live_server: str, app: Flask,
                                seeded: dict[str, Any], browser: Any) -> None:
    from carebiz_plugins.gps.models import GpsDevice, GpsDeviceState

    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        branch = seeded["branches"]["A"]
        owner = make_customer(sess, "鲜达物流", branch)
        car = make_vehicle(sess, 990, branch, owner_id=owner.id, plate="沪E12345")
        device = GpsDevice(imei="356307042445001", vehicle_id=car.id, branch_id=branch,
                           status="active")
        sess.add(device)
        sess.flush()
        sess.add(GpsDeviceState(device_id=device.id, latitude=31.23041, longitude=121.47370,
                                fix_time=dt.datetime.now(dt.UTC), online=True))
        sess.commit()
        car_id = car.id
    base = live_server
    page.goto(f"{base}/login")
    page.fill("input[name=username]", "sales")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")
    page.goto(f"{base}/gps/waybills/new")
    page.fill("input[name=shipper_name]", "上海鲜达物流")
    page.fill("input[name=consignee_name]", "李娜")
    page.fill("input[name=consignee_phone]", "13812345671")
    page.fill("input[name=goods]", "冷链生鲜")
    page.fill("input[name=pieces]", "12")
    page.select_option("select[name=vehicle_id]", str(car_id))
    shot(page, "gps-logistics-01-new-waybill")
    page.click("button[type=submit]")
    page.wait_for_selector("[data-barcode] svg")
    number = page.inner_text("h1 .font-monospace")
    shot(page, "gps-logistics-02-waybill")
    page.goto(f"{base}/gps/waybills/scan")
    page.fill("input[name=code]", number)
    page.keyboard.press("Enter")
    page.wait_for_selector(f'[data-scanned="{number}"]')
    shot(page, "gps-logistics-03-scanned")
    page.goto(f"{base}/gps/waybills")
    page.click(f"text={number}")
    page.click("text=Issue a link")
    link = page.input_value("[data-tracking-link]")
    consignee = browser.new_page()  # a stranger: no cookie, no login
    consignee.goto(link)
    assert consignee.get_attribute("[data-status]", "data-status") == "loaded"
    body = consignee.inner_text("body")
    assert "31.23041, 121.47370" in body and "李娜" not in body and "鲜达" not in body
    shot(consignee, "gps-logistics-04-public-tracking")
    consignee.goto(link[:-3] + "xyz")
    assert consignee.get_attribute("[data-track]", "data-track") == "invalid"
    consignee.close()
