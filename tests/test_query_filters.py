"""The analysis filters as people use them: "between" as two inputs (two date pickers for
dates), "is one of" as a multi-select of labels for fields with known values and as tags for
free values, the page's URL and a saved query reading back to the same rows, and a label
typed in the other language read as its code (the API keeps taking codes)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any
from urllib.parse import urlencode

import pytest
from flask import Flask

from tests.conftest import PASSWORD, login, token_for

LATE = dt.datetime(2026, 12, 1, 18, 13, tzinfo=dt.UTC)


@pytest.fixture
def data(app: Flask, seeded: dict[str, Any]) -> dict[str, Any]:
    from tests.crm_helpers import add_people

    a, b = seeded["branches"]["A"], seeded["branches"]["B"]
    people = [("Wang Wei", a, "Shanghai", "at_risk", "962016", LATE),
              ("Li Lei", a, "Beijing", "champion", "1200.5", LATE - dt.timedelta(days=40)),
              ("Zhang San", a, "Suzhou", "loyal", "80", LATE - dt.timedelta(days=400)),
              ("Bob Branchb", b, "Shanghai", "champion", "999", LATE)]
    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        ids = add_people(sess, people)
        sess.commit()
    return {"ids": ids, **seeded}


def _client(app: Flask, user: str = "admin", locale: str | None = None) -> Any:
    client = app.test_client()
    assert login(client, user, PASSWORD).status_code == 302
    if locale:
        client.post(f"/language/{locale}")
    return client


def _page(client: Any, args: list[tuple[str, str]], status: int = 200) -> str:
    resp = client.get("/query/customers?" + urlencode(args))
    text = resp.get_data(as_text=True)
    assert resp.status_code == status, re.findall(
        r'(?:invalid-feedback|alert-danger)[^>]*>([^<]*)', text) or text[:2000]
    return resp.get_data(as_text=True)


def _rows(page: str) -> str:
    return page[page.index('data-testid="query-form"'):page.index("query-rows-end")]


def _names(page: str) -> set[str]:
    results = page[page.index('data-testid="query-results"'):]
    return {n for n in ("Wang Wei", "Li Lei", "Zhang San", "Bob Branchb") if n in results}


def test_between_dates_is_two_date_pickers_filled_from_the_url(app, data):
    page = _page(_client(app), [("f", "created_at"), ("o", "between"),
                                ("v", "2026-11-01 .. 2026-12-02")])
    rows = _rows(page)
    assert 'type="date" name="from.0" value="2026-11-01"' in rows
    assert 'type="date" name="to.0" value="2026-12-02"' in rows
    assert _names(page) == {"Wang Wei", "Bob Branchb"}


def test_between_numbers_is_two_inputs_with_grouping(app, data):
    page = _page(_client(app), [("f", "lifetime_value"), ("o", "between"),
                                ("v", "1,000 .. 100,000")])
    rows = _rows(page)
    assert 'type="text" name="from.0" value="1,000"' in rows
    assert 'name="to.0" value="100,000" aria-label="To" data-part="to" inputmode="decimal"' in rows
    assert _names(page) == {"Li Lei"}


def test_the_two_inputs_work_without_the_script(app, data):
    # a browser without JavaScript sends the two ends under their own names
    page = _page(_client(app), [("f", "created_at"), ("o", "between"), ("v", ""),
                                ("from.0", "2026-11-01"), ("to.0", "2026-12-02")])
    assert _names(page) == {"Wang Wei", "Bob Branchb"}
    page = _page(_client(app), [("f", "created_at"), ("o", "between"), ("v", ""),
                                ("from.0", "2026-11-01"), ("to.0", "")], status=422)
    assert "type two values" in page


def test_is_one_of_a_choice_is_a_multi_select_of_labels(app, data):
    page = _page(_client(app), [("f", "segment"), ("o", "in"), ("v", "champion; loyal")])
    rows = _rows(page)
    select = re.search(r'<select[^>]*name="in\.0" multiple[^>]*>(.*?)</select>', rows, re.S)
    assert select, rows
    assert '<option value="champion" selected>Champion</option>' in select.group(1)
    assert '<option value="at_risk">At risk</option>' in select.group(1)
    assert _names(page) == {"Li Lei", "Zhang San", "Bob Branchb"}
    # without the script the picks come as in.<row>, several times
    page = _page(_client(app), [("f", "segment"), ("o", "in"), ("v", ""),
                                ("in.0", "at_risk"), ("in.0", "loyal")])
    assert _names(page) == {"Wang Wei", "Zhang San"}


def test_is_one_of_branches_offers_the_readers_branches(app, data):
    page = _page(_client(app, "sales"), [("f", "branch_id"), ("o", "in"),
                                         ("v", str(data["branches"]["A"]))])
    select = re.search(r'<select[^>]*name="in\.0" multiple[^>]*>(.*?)</select>', _rows(page),
                       re.S).group(1)
    assert f'<option value="{data["branches"]["A"]}" selected>Branch A (A)</option>' in select
    assert "Branch B" not in select


def test_is_one_of_free_values_is_a_tag_box(app, data):
    page = _page(_client(app), [("f", "city"), ("o", "in"), ("v", "Shanghai; Suzhou")])
    assert 'name="v" value="Shanghai; Suzhou" data-widget="tags"' in _rows(page)
    assert _names(page) == {"Wang Wei", "Zhang San", "Bob Branchb"}


def test_a_saved_query_reads_back_to_the_same_rows(app, data):
    from carebiz.query.views import args_of

    definition = {"where": {"and": [
        {"field": "created_at", "op": "between", "value": ["2026-11-01", "2026-12-02"]},
        {"field": "segment", "op": "in", "value": ["champion", "at_risk"]},
        {"field": "lifetime_value", "op": "between", "value": [1000, 2000000]}]}}
    args = args_of(definition)
    pairs = [(k, v) for k, vals in args.items() for v in (vals if isinstance(vals, list)
                                                          else [vals])]
    page = _page(_client(app), pairs)
    rows = _rows(page)
    assert 'name="from.0" value="2026-11-01"' in rows and 'name="to.0" value="2026-12-02"' in rows
    assert '<option value="champion" selected>' in rows
    assert '<option value="at_risk" selected>' in rows
    assert 'name="from.2" value="1000"' in rows
    assert _names(page) == {"Wang Wei"}


def test_a_label_in_the_other_language_reads_as_its_code(app, data):
    # an English reader typing the Chinese label, a Chinese reader the English one or the code
    for locale, typed in ((None, "核心客户"), ("zh_CN", "Champion"), ("zh_CN", "champion"),
                          (None, "ＣＨＡＭＰＩＯＮ")):
        page = _page(_client(app, locale=locale), [("f", "segment"), ("o", "eq"),
                                                   ("v", typed)])
        assert _names(page) == {"Li Lei", "Bob Branchb"}, (locale, typed)
    page = _page(_client(app), [("f", "segment"), ("o", "in"), ("v", "流失风险客户, Loyal")])
    assert _names(page) == {"Wang Wei", "Zhang San"}
    page = _page(_client(app, locale="zh_CN"), [("f", "do_not_contact"), ("o", "eq"),
                                                ("v", "no")])
    assert len(_names(page)) == 4
    page = _page(_client(app), [("f", "do_not_contact"), ("o", "eq"), ("v", "否")])
    assert len(_names(page)) == 4


def test_labels_parse_in_either_language_at_service_level(app):
    from carebiz.crm.services.value import SEGMENTS
    from carebiz.query.labels import choice_code, yes_no

    with app.test_request_context():
        choices = tuple(SEGMENTS.items())
        assert choice_code(choices, "核心客户") == "champion"
        assert choice_code(choices, " champion ") == "champion"
        assert choice_code(choices, "Champion") == "champion"
        assert choice_code(choices, "Hero") is None
        assert (yes_no("是"), yes_no("No"), yes_no("maybe")) == (True, False, None)


def test_the_api_still_takes_codes(app, data):
    token = token_for(app, "admin")
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    resp = client.post("/api/v1/query/customers", headers=headers, json={
        "where": {"field": "segment", "op": "in", "value": ["champion"]}})
    assert resp.status_code == 200, resp.get_json()
    assert {item["name"] for item in resp.get_json()["items"]} == {"Li Lei", "Bob Branchb"}
    resp = client.post("/api/v1/query/customers", headers=headers, json={
        "where": {"field": "segment", "op": "in", "value": ["Champion"]}})
    assert resp.status_code == 422
