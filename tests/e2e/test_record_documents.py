"""In a real browser: the statement of account printed from the customer's 360° page (its
Print button opens the document and prints it, its PDF button answers a PDF), the document
links back to the customer, and the home page is the user's dashboard. Screenshots under
test-results/screenshots/."""

from __future__ import annotations

import re

from tests.e2e.conftest import ARTEFACTS, shot
from tests.e2e.test_browser import log_in


def test_print_the_statement_from_the_360_page(page, live_server, app, seeded):
    from carebiz.testing import make_customer

    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        party_id = make_customer(sess, "Statement Probe", seeded["branches"]["A"]).id
        sess.commit()
    base = live_server
    log_in(page, base)
    shot(page, "desk-01-home-dashboard")
    assert page.locator("[data-widget='crm.followups']").is_visible()

    page.goto(f"{base}/customers/{party_id}")
    documents = page.locator("[data-testid=panel-documents]")
    statement = documents.locator("[data-document=customer_statement]")
    assert statement.is_visible()
    shot(page, "desk-02-360-documents")

    # PDF: the button answers the PDF file (read on the wire: Chromium shows it in its viewer)
    answers: list[tuple[int, str, bytes]] = []

    def keep(route):
        fetched = route.fetch()
        answers.append((fetched.status, fetched.headers.get("content-type", ""),
                        fetched.body()))
        route.fulfill(response=fetched)

    pdf_pattern = re.compile(r".*/api/v1/documents/.*format=pdf.*")
    page.route(pdf_pattern, keep)
    statement.locator("[data-doc-pdf]").click()
    for _ in range(100):
        if answers:
            break
        page.wait_for_timeout(100)
    assert answers, "the PDF button fetched nothing"
    status, mimetype, body = answers[0]
    assert status == 200 and mimetype == "application/pdf"
    assert body.startswith(b"%PDF")
    page.unroute(pdf_pattern)
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    (ARTEFACTS / "desk-statement.pdf").write_bytes(body)

    # Print: the document opens and prints itself; it links back to the customer
    page.goto(f"{base}/customers/{party_id}")
    page.locator("[data-testid=panel-documents] [data-document=customer_statement] "
                 "[data-doc-print]").click()
    page.wait_for_url(re.compile(rf".*/documents/customer_statement/{party_id}\?print=1$"))
    page.wait_for_selector("body[data-printed='1']", state="attached")
    frame = page.frame_locator("#doc-frame")
    assert "Statement Probe" in frame.locator("body").inner_text()
    shot(page, "desk-03-statement-preview")
    page.locator("[data-testid=document-record]").click()
    page.wait_for_url(f"{base}/customers/{party_id}")

    # in Chinese: the same buttons and the history's labels in the reader's language
    page.click("button[data-lang=zh_CN]")
    page.wait_for_load_state()
    page.goto(f"{base}/customers/{party_id}")
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    assert page.locator("[data-testid=panel-documents] [data-doc-pdf]").is_visible()
    history = page.locator("[data-audit-trail]").inner_text()
    assert "branch_id" not in history and "customer.created" not in history
    shot(page, "desk-04-360-documents-zh")
