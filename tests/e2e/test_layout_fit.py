"""The navbar and the list filters fit a 1366 px wide screen (the most common office laptop)
in English and in Chinese: the navbar is one line, and no filter select box cuts its text
("Every k" for "Every kind"). Below 1200 px the navbar folds behind its toggler. Screenshots
of every page and language are saved as artefacts under test-results/screenshots/."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import PASSWORD
from tests.e2e.conftest import shot

WIDTH, HEIGHT = 1366, 768
#: one line of Bootstrap's navbar with small controls is 56 px; two lines would be ~100
ONE_LINE = 70

#: list pages with filter select boxes
LISTS = ["/customers", "/vehicles", "/admin/users", "/admin/audit", "/admin/branches"]

#: the select boxes' widest option, the room inside the box (less its padding and arrow)
SELECT_FIT = """els => els.map(el => {
  const cs = getComputedStyle(el);
  const ctx = document.createElement('canvas').getContext('2d');
  ctx.font = `${cs.fontStyle} ${cs.fontWeight} ${cs.fontSize} ${cs.fontFamily}`;
  const texts = Array.from(el.options).map(o => o.text);
  const need = Math.max(0, ...texts.map(t => ctx.measureText(t).width));
  const room = el.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight);
  return {name: el.name, need, room, scroll: el.scrollWidth, client: el.clientWidth,
          widest: texts.reduce((a, b) => ctx.measureText(b).width > ctx.measureText(a).width
                               ? b : a, '')};
})"""

#: the navbar's top-level items: every one must sit on the first line
NAV_ITEMS = """nav => {
  const top = nav.getBoundingClientRect().top;
  const items = nav.querySelectorAll(
    '.navbar-brand, .navbar-nav > .nav-item, form[role=search], [data-testid=user-menu], '
    + '[data-testid=language-switch]');
  return Array.from(items).filter(el => el.offsetParent !== null).map(el => {
    const r = el.getBoundingClientRect();
    return {text: el.innerText.trim().slice(0, 30), top: r.top - top, bottom: r.bottom - top,
            right: r.right};
  });
}"""


@pytest.fixture
def wide_page(browser: Any) -> Any:
    context = browser.new_context(viewport={"width": WIDTH, "height": HEIGHT}, locale="en-US")
    pg = context.new_page()
    pg.set_default_timeout(10_000)
    yield pg
    context.close()


def log_in(page: Any, base: str, username: str) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")


def switch_language(page: Any, base: str, code: str) -> None:
    page.goto(f"{base}/")
    with page.expect_navigation():
        page.locator(f"button[data-lang={code}]").click()
    page.goto(f"{base}/")
    assert page.locator("html").get_attribute("lang") == code.replace("_", "-")


def assert_navbar_one_line(page: Any, where: str) -> None:
    nav = page.locator("nav.navbar")
    box = nav.bounding_box()
    assert box is not None and box["height"] <= ONE_LINE, (where, box)
    items = nav.evaluate(NAV_ITEMS)
    assert len(items) >= 4, (where, items)
    for item in items:
        assert item["bottom"] <= ONE_LINE and item["right"] <= WIDTH, (where, item)


def assert_filters_fit(page: Any, where: str) -> None:
    selects = page.locator("form[role=search] select")
    if not selects.count():
        return
    for fit in selects.evaluate_all(SELECT_FIT):
        assert fit["scroll"] <= fit["client"], (where, fit)
        assert fit["need"] <= fit["room"] + 0.5, (where, fit)


@pytest.mark.parametrize("language", ["en", "zh_CN"])
def test_navbar_and_filters_fit_at_1366(wide_page, live_server, app, seeded, language):
    from carebiz.models import User
    from carebiz.testing import make_customer

    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        party_id = make_customer(sess, "Layout Probe", seeded["branches"]["A"]).id
        # a name as long as people's real ones: the user menu must not push the line over
        sess.get(User, seeded["users"]["admin"]).display_name = "Administrator Ouyang Xiaoming"
        sess.commit()
    page, base = wide_page, live_server
    log_in(page, base, "admin")  # the admin sees every menu item
    page.goto(f"{base}/customers/{party_id}")  # and has a recent trail in the navbar
    switch_language(page, base, language)
    for path in ["/", *LISTS]:
        page.goto(f"{base}{path}")
        where = f"{path} ({language})"
        assert_navbar_one_line(page, where)
        assert_filters_fit(page, where)
        shot(page, f"fit-1366-{language}{path.replace('/', '-')}")
    # the administration links and the user's own links are one click away
    page.goto(f"{base}/customers")
    page.locator("[data-testid=admin-menu] > a").click()
    assert page.locator("[data-testid=admin-menu] .dropdown-menu").is_visible()
    shot(page, f"fit-1366-{language}-admin-menu")
    page.locator("[data-testid=user-menu] > a").click()
    user_menu = page.locator("[data-testid=user-menu] .dropdown-menu")
    assert user_menu.is_visible()
    assert user_menu.locator("a[href$='/account/password']").is_visible()
    shot(page, f"fit-1366-{language}-user-menu")


def test_navbar_folds_below_1200(browser, live_server, seeded):
    context = browser.new_context(viewport={"width": 1100, "height": 768}, locale="en-US")
    page = context.new_page()
    page.set_default_timeout(10_000)
    try:
        log_in(page, live_server, "admin")
        toggler = page.locator("nav.navbar .navbar-toggler")
        assert toggler.is_visible()
        assert not page.locator("[data-menu='crm.customers']").is_visible()
        toggler.click()
        page.locator("#mainnav.show:not(.collapsing)").wait_for()
        link = page.locator("[data-menu='crm.customers']")
        link.wait_for(state="visible")
        # the opened menu is a column under the brand, not squeezed beside the toggler
        brand = page.locator("nav.navbar .navbar-brand").bounding_box()
        box = link.bounding_box()
        assert box["y"] >= brand["y"] + brand["height"], (brand, box)
        assert box["x"] < brand["x"] + brand["width"], (brand, box)
        shot(page, "fit-1100-en-menu-open")
    finally:
        context.close()
