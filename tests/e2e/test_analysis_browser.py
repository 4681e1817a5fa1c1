"""In a real browser: the analysis grouped by segment reads labels, money with its currency and
local dates, in English and Chinese; a condition added without a reload picks a segment from a
select box of labels; result columns sort. Screenshots under test-results/screenshots/."""

from __future__ import annotations

import datetime as dt
import re

from tests.conftest import PASSWORD
from tests.e2e.conftest import shot

#: 18:13 UTC on 1 December is 02:13 on 2 December in the business zone (Asia/Shanghai)
LATE = dt.datetime(2026, 12, 1, 18, 13, 26, 213635, tzinfo=dt.UTC)


def _people(app, seeded) -> None:
    from tests.crm_helpers import add_people

    a = seeded["branches"]["A"]
    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        add_people(sess, [("Wang Wei", a, "Shanghai", "at_risk", "962016.0000", LATE),
                          ("Li Lei", a, "Beijing", "champion", "1200.5", LATE),
                          ("Zhang San", a, "Shanghai", "at_risk", "80", LATE)])
        sess.commit()


def test_analysis_by_segment_reads_labels_money_and_local_dates(page, live_server, app,
                                                                 seeded):
    _people(app, seeded)
    base = live_server
    page.goto(f"{base}/login")
    page.fill("input[name=username]", "sales")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")

    page.goto(f"{base}/query/customers")
    form = page.locator("[data-testid=query-form]")
    form.locator("summary").click()
    form.locator("select#g1").select_option("segment")
    form.locator("select#m1").select_option("sum:lifetime_value")
    form.locator("button[type=submit]").click()
    page.wait_for_load_state()

    table = page.locator("[data-testid=analysis-table]")
    text = table.inner_text()
    assert "At risk" in text and "Champion" in text and "at_risk" not in text
    assert "CN¥962,096.00" in text
    chart = page.locator("[data-testid=chart]").inner_text()
    assert "At risk" in chart and "Sum of Lifetime value" in chart
    results = page.locator("[data-testid=query-results]").inner_text()
    assert "Branch A" in results
    assert re.search(r"Dec 2, 2026, 2:13\s?AM", results)  # local, never …+00:00
    assert "+00:00" not in results
    shot(page, "analysis-01-by-segment")

    # a condition row: the segment is picked from a select box of labels, set by the script
    row = page.locator(".query-row").first
    row.locator(".query-field").select_option("segment")
    row.locator(".query-op").select_option("eq")
    value = row.locator("select.query-value")
    assert "Champion" in value.inner_text()
    value.select_option(label="Champion")
    rows_before = page.locator(".query-row").count()
    page.locator("[data-testid=add-condition]").click()  # no reload
    assert page.locator(".query-row").count() == rows_before + 1
    added = page.locator(".query-row").last
    added.locator(".query-field").select_option("created_at")
    added.locator(".query-op").select_option("ge")
    assert added.locator("input.query-value").get_attribute("type") == "date"
    added.locator("input.query-value").fill("2026-01-01")
    form.locator("button[type=submit]").click()
    page.wait_for_load_state()
    text = page.locator("[data-testid=analysis-table]").inner_text()
    assert "Champion" in text and "At risk" not in text
    shot(page, "analysis-02-condition-picked")

    # sort by a column header (server-side)
    page.goto(f"{base}/query/customers")
    page.locator("[data-testid=query-results] a[data-sort=lifetime_value]").click()
    page.wait_for_load_state()
    page.locator("[data-testid=query-results] a[data-sort=lifetime_value]").click()
    page.wait_for_load_state()
    names = page.locator("[data-testid=query-results] td[data-field=name]").all_inner_texts()
    assert names[:3] == ["Wang Wei", "Li Lei", "Zhang San"]

    # in Chinese: the labels and the money read the Chinese way
    page.click("button[data-lang=zh_CN]")
    page.wait_for_load_state()
    page.goto(f"{base}/query/customers?g1=segment&m=count&m=sum:lifetime_value")
    text = page.locator("[data-testid=analysis-table]").inner_text()
    assert "¥962,096.00" in text and "CN¥" not in text and "at_risk" not in text
    results = page.locator("[data-testid=query-results]").inner_text()
    assert "2026年12月2日 02:13" in results
    shot(page, "analysis-03-by-segment-zh")
