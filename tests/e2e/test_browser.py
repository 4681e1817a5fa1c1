"""End to end in a real browser: log in, register a customer with a first vehicle, open the
360° page, find the customer by plate, switch to Chinese. Screenshots are saved as
artefacts under test-results/screenshots/."""

from __future__ import annotations

import re

from tests.conftest import PASSWORD
from tests.crm_helpers import valid_vin
from tests.e2e.conftest import shot


def log_in(page, base: str, username: str = "sales") -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")


def test_register_find_and_switch_language(page, live_server):
    base = live_server
    log_in(page, base)
    shot(page, "01-home")

    page.goto(f"{base}/customers/new")
    form = page.locator("[data-testid=customer-form]")
    form.locator("input[name=name]").fill("王小明")
    form.locator("textarea[name=phones]").fill("138 0013 8000")
    vin = valid_vin(7)
    form.locator("input[name=vin]").fill(vin)
    form.locator("input[name=plate]").fill("沪AD·12345")
    form.locator("input[name=make]").fill("比亚迪 BYD")
    form.locator("input[name=model]").fill("汉 Han EV")
    form.locator("input[name=year]").fill("2024")
    shot(page, "02-new-customer-form")
    form.locator("button[type=submit]").first.click()

    page.wait_for_url(re.compile(r".*/customers/\d+$"))
    header = page.locator("[data-testid=customer-header]")
    assert "王小明" in header.inner_text()
    vehicles = page.locator("[data-testid=panel-vehicles]")
    assert "沪AD12345" in vehicles.inner_text() and vin in vehicles.inner_text()
    customer_url = page.url
    shot(page, "03-customer-360")

    # find the customer by plate, typed the way people type it, from the navbar search
    page.goto(f"{base}/")
    search = page.locator("input[data-testid=global-search]")
    search.fill("沪ad 12345")
    search.press("Enter")
    page.wait_for_url(customer_url)
    shot(page, "04-found-by-plate")

    # the customer's vehicle page, and back through the recent trail
    page.locator("[data-testid=panel-vehicles] a", has_text="沪AD12345").first.click()
    page.wait_for_url(re.compile(r".*/vehicles/\d+$"))
    assert vin in page.locator("[data-testid=vehicle-header]").inner_text()

    # switch to Chinese: the choice is remembered and the page says so in <html lang>
    page.click("button[data-lang=zh_CN]")
    page.wait_for_load_state()
    page.goto(customer_url)
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    assert "客户" in page.locator("nav.navbar").inner_text()
    shot(page, "05-customer-360-zh")


def test_the_timeline_form_asks_a_due_date_only_for_follow_ups(page, live_server, app, seeded):
    from carebiz.testing import make_customer

    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        party_id = make_customer(sess, "Due Date Probe", seeded["branches"]["A"]).id
        sess.commit()
    log_in(page, live_server)
    page.goto(f"{live_server}/customers/{party_id}")
    form = page.locator("[data-testid=timeline-form]")
    due = form.locator("input[name=due_at]")
    assert form.locator("select[name=kind]").input_value() == "call"
    assert not due.is_visible()
    form.locator("select[name=kind]").select_option("task")
    assert due.is_visible()
    form.locator("select[name=kind]").select_option("note")
    assert not due.is_visible()
    page.goto(f"{live_server}/customers/{party_id}?new=return_visit")
    assert page.locator("[data-testid=timeline-form] input[name=due_at]").is_visible()
