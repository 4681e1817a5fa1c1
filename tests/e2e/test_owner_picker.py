"""In a real browser: the owner change finds the new owner as the user types (the datalist
customer-picker.js fills), never offering another branch's customer; a car known by its
plate only is shown without a VIN. Screenshots under test-results/screenshots/."""

from __future__ import annotations

from tests.e2e.conftest import shot
from tests.e2e.test_browser import log_in


def test_owner_change_by_typing_a_name(page, live_server, app, seeded):
    from carebiz.crm.services import parties, vehicles

    a, b = seeded["branches"]["A"], seeded["branches"]["B"]
    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        def person(name: str, branch: int, phone: str) -> int:
            return parties.create_party(sess, {"name": name, "branch_id": branch,
                                               "phones": [phone]}, allow_duplicates=True).id

        seller = person("Wang Wei", a, "13800138000")
        buyer = person("Li Na", a, "13800138001")
        person("Li Ning", b, "13800138002")
        car = vehicles.create_vehicle(sess, {"plate": "京A12345", "branch_id": a,
                                             "owner_id": seller, "owner_since": "2020-01-01"})
        sess.commit()
        car_id = car.id
    log_in(page, live_server)
    page.goto(f"{live_server}/vehicles/{car_id}")
    assert page.locator("[data-testid=vehicle-vin]").inner_text() == "VIN not known yet"
    form = page.locator("[data-testid=owner-form]")
    form.locator("input[name=owner]").press_sequentially("Li", delay=50)
    options = page.locator("#owner-options option")
    options.first.wait_for(state="attached")
    labels = [options.nth(i).get_attribute("value") for i in range(options.count())]
    assert labels == [f"Li Na · 138 0013 8001 · #{buyer}"]  # not Li Ning of branch B
    shot(page, "owner-picker-typed")
    form.locator("input[name=owner]").fill(labels[0])  # what choosing the option does
    form.locator("input[name=owner_since]").fill("2024-03-01")
    form.locator("button[type=submit]").click()
    page.wait_for_url(f"{live_server}/vehicles/{car_id}")
    owner = page.locator("[data-testid=vehicle-owner]")
    assert owner.inner_text() == "Li Na"
    shot(page, "owner-picker-changed")
