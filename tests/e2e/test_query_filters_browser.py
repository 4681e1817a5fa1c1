"""In a real browser: "between" on a date is two date pickers, "is one of" a segment is a
multi-select of labels and "is one of" a city takes tags; the form sends one value per row
(``a .. b``, ``a; b``) so the address reads like a saved query and loads back to the same
widgets. Screenshots under test-results/screenshots/."""

from __future__ import annotations

import datetime as dt
from urllib.parse import parse_qs, urlparse

from tests.conftest import PASSWORD
from tests.e2e.conftest import shot

LATE = dt.datetime(2026, 12, 1, 18, 13, tzinfo=dt.UTC)


def test_range_multi_select_and_tags(page, live_server, app, seeded):
    from tests.crm_helpers import add_people

    a = seeded["branches"]["A"]
    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        add_people(sess, [("Wang Wei", a, "Shanghai", "at_risk", "100", LATE),
                          ("Li Lei", a, "Beijing", "champion", "200", LATE),
                          ("Zhang San", a, "Suzhou", "loyal", "300", LATE),
                          ("Old Timer", a, "Shanghai", "champion", "400",
                           LATE - dt.timedelta(days=400))])
        sess.commit()
    base = live_server
    page.goto(f"{base}/login")
    page.fill("input[name=username]", "sales")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")
    page.goto(f"{base}/query/customers")

    rows = page.locator(".query-row")
    first = rows.nth(0)
    first.locator(".query-field").select_option("created_at")
    first.locator(".query-op").select_option("between")
    ends = first.locator(".query-range input.query-part")
    assert ends.count() == 2
    assert [ends.nth(i).get_attribute("type") for i in range(2)] == ["date", "date"]
    ends.nth(0).fill("2026-11-01")
    ends.nth(1).fill("2026-12-31")

    second = rows.nth(1)
    second.locator(".query-field").select_option("segment")
    second.locator(".query-op").select_option("in")
    multi = second.locator("select.query-part[multiple]")
    assert "Champion" in multi.inner_text()
    multi.select_option(label=["Champion", "At risk"])

    third = rows.nth(2)
    third.locator(".query-field").select_option("city")
    third.locator(".query-op").select_option("in")
    tag_box = third.locator(".query-tag-input")
    tag_box.fill("Shanghai")
    tag_box.press("Enter")
    tag_box.fill("Beijing")
    tag_box.press("Enter")
    assert third.locator(".query-tag").count() == 2
    shot(page, "query-filters-01-widgets")

    page.locator("[data-testid=query-form] button[type=submit]").first.click()
    page.wait_for_load_state()
    args = parse_qs(urlparse(page.url).query, keep_blank_values=True)
    assert args["v"][:3] == ["2026-11-01 .. 2026-12-31", "champion; at_risk",
                             "Shanghai; Beijing"]
    assert not any(key.startswith(("from.", "to.", "in.")) for key in args)
    results = page.locator("[data-testid=query-results]").inner_text()
    assert "Wang Wei" in results and "Li Lei" in results
    assert "Zhang San" not in results and "Old Timer" not in results

    # the page loaded from that address shows the same widgets, filled
    first = page.locator(".query-row").nth(0)
    assert first.locator(".query-range input").nth(0).input_value() == "2026-11-01"
    picked = page.locator(".query-row").nth(1).locator("select.query-part option:checked")
    assert sorted(picked.all_inner_texts()) == ["At risk", "Champion"]
    assert page.locator(".query-row").nth(2).locator(".query-tag").count() == 2
    shot(page, "query-filters-02-read-back")
