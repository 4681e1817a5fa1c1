"""Issue 10 in a real browser: a salesperson finds a customer by what the caller remembers —
the phone's last four digits, the plate without its province character, a given name —
from the navbar search and from the customers list. Screenshots under
test-results/screenshots/."""

from __future__ import annotations

from tests.e2e.conftest import shot
from tests.e2e.test_browser import log_in


def test_find_by_phone_tail_plate_without_province_and_given_name(page, live_server, app,
                                                                   seeded):
    from carebiz.testing import make_customer, make_vehicle

    branch = seeded["branches"]["A"]
    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        ava = make_customer(sess, "Ava Thomas", branch, phones=["138 0013 2927"])
        make_vehicle(sess, 31, branch, owner_id=ava.id, plate="沪A4W9XT")
        wang = make_customer(sess, "王建国", branch, phones=["139 1111 0000"])
        make_customer(sess, "Noah Lee", branch, phones=["137 0000 1111"])
        sess.commit()
        ava_id, wang_id = ava.id, wang.id
    log_in(page, live_server)

    def navbar_search(q: str) -> list[int]:
        page.goto(f"{live_server}/")
        box = page.locator("input[data-testid=global-search]")
        box.fill(q)
        box.press("Enter")
        page.wait_for_load_state()
        results = page.locator("[data-testid=search-results] a[data-party-id]")
        return [int(x) for x in results.evaluate_all(
            "els => els.map(e => e.dataset.partyId)")]

    assert navbar_search("2927") == [ava_id]
    assert "last digits of the phone" in page.locator("[data-testid=search-results]")\
        .inner_text()
    shot(page, "search-01-phone-tail")
    assert navbar_search("A4W9XT") == [ava_id]
    shot(page, "search-02-plate-without-province")
    assert navbar_search("Thomas") == [ava_id]
    shot(page, "search-03-given-part-of-name")
    assert navbar_search("建国") == [wang_id]
    assert navbar_search("wjg") == [wang_id]
    shot(page, "search-04-pinyin-initials")

    # the customers list answers the same from its own search box
    page.goto(f"{live_server}/customers?q=2927")
    rows = page.locator("[data-row-id]")
    assert [int(x) for x in rows.evaluate_all("els => els.map(e => e.dataset.rowId)")] \
        == [ava_id]
    shot(page, "search-05-customers-list-phone-tail")
