"""Query values as people read them: labels beside codes in the API, labelled and formatted
values on the pages, charts and exports, and filters that take what people type (labels,
branch names, dates from a picker, numbers with thousands separators), in English and
Chinese."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import pytest
from flask import Flask

from carebiz.contributions import BASE_CURRENCY, BRANCH_RELATION, QueryField, QuerySource
from carebiz.query import labels as lb
from carebiz.query.parsing import BadInput, parse_number
from tests.conftest import PASSWORD, login, token_for

SHANGHAI = ZoneInfo("Asia/Shanghai")
#: 2026-12-01 18:13 UTC is 2 December 02:13 in Shanghai: the day changes with the zone
LATE = dt.datetime(2026, 12, 1, 18, 13, 26, 213635, tzinfo=dt.UTC)
ISO_WITH_OFFSET = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?\+00:00")


class _Model:  # a stand-in: the labeller reads only the source's fields
    pass


SOURCE = QuerySource("probe", "Probe", _Model, (
    QueryField("segment", "Segment", "choice", choices=(("at_risk", "At risk"),
                                                         ("champion", "Champion"))),
    QueryField("branch_id", "Branch", "number", relation=BRANCH_RELATION),
    QueryField("value", "Value", "money", currency=BASE_CURRENCY),
    QueryField("price", "Price", "money", currency="USD"),
    QueryField("paid", "Paid", "money", currency="paid_currency"),
    QueryField("paid_currency", "Paid currency", "text"),
    QueryField("created_at", "Created", "datetime"),
    QueryField("due_on", "Due", "date"),
    QueryField("km", "Km", "number"),
    QueryField("vip", "VIP", "bool"),
))


def labeller(locale: str = "en") -> lb.Labeller:
    found = lb.Labeller(None, SOURCE, locale, SHANGHAI)
    found._branches = {1: "Shanghai Pudong", 2: "Beijing Chaoyang"}
    found._base = "CNY"
    return found


# -- service level: labels and formats ----------------------------------------------------


def test_choices_branches_and_yes_no_get_labels_other_values_none(app):
    fields = {f.name: f for f in SOURCE.fields}
    with app.test_request_context():
        names = labeller()
        assert names.label(fields["segment"], "at_risk") == "At risk"
        assert names.label(fields["segment"], "gone") == "gone"  # an unknown code stays
        assert names.label(fields["branch_id"], 2) == "Beijing Chaoyang"
        assert names.label(fields["vip"], True) == "yes"
        assert names.label(fields["km"], 5) is None
        assert names.label(fields["segment"], None) is None
        assert names.row_labels({"segment": "champion", "branch_id": 1, "km": 3},
                                {"segment": fields["segment"], "branch_id": fields["branch_id"]}
                                ) == {"segment": "Champion", "branch_id": "Shanghai Pudong"}


def test_money_has_its_currency_and_minor_units_in_the_readers_locale(app):
    fields = {f.name: f for f in SOURCE.fields}
    with app.test_request_context():
        en, zh = labeller(), labeller("zh_CN")
        assert en.display(fields["value"], "962016.0000") == "CN¥962,016.00"
        assert zh.display(fields["value"], "962016.0000") == "¥962,016.00"
        assert en.display(fields["price"], "5.5") == "$5.50"
        row = {"paid": "1200", "paid_currency": "JPY"}
        assert en.display(fields["paid"], "1200", row) == "¥1,200"  # yen has no minor unit
        assert en.currency_of(fields["paid"], {}) == "CNY"  # no code in the row: the base
        assert en.display(fields["paid"], "12.5", {"paid_currency": "??"}) == "12.5"


def test_dates_and_times_read_in_the_business_zone_one_format(app):
    fields = {f.name: f for f in SOURCE.fields}
    with app.test_request_context():
        en, zh = labeller(), labeller("zh_CN")
        assert en.display(fields["created_at"], LATE.isoformat()) == "Dec 2, 2026, 2:13\u202fAM"
        assert zh.display(fields["created_at"], LATE.isoformat()) == "2026年12月2日 02:13"
        # a date reads as a date-time's day does: one format on the page
        assert en.display(fields["due_on"], "2026-12-02") == "Dec 2, 2026"
        assert en.display(fields["created_at"], LATE).startswith("Dec 2, 2026")
        assert zh.display(fields["due_on"], dt.date(2026, 12, 2)) == "2026年12月2日"
        assert not ISO_WITH_OFFSET.search(en.display(fields["created_at"], LATE.isoformat()))


def test_date_groups_read_as_periods(app):
    with app.test_request_context():
        en, zh = labeller(), labeller("zh_CN")
        assert en.bucket_label("2026-11", "month") == "Nov 2026"
        assert zh.bucket_label("2026-11", "month") == "2026年11月"
        assert en.bucket_label("2026-Q4", "quarter") == "Q4 2026"
        assert en.bucket_label("2026-11-16", "week") == "week of Nov 16, 2026"
        assert en.bucket_label("2026-11-22", "day") == "Nov 22, 2026"
        assert en.bucket_label("2026", "year") == "2026"
        assert en.bucket_label("garbled", "month") == "garbled"
        assert lb.group_keys(SOURCE, ["created_at_month", "segment", "nope"]) == {
            "created_at_month": ("bucket", "month"), "segment": SOURCE.fields[0]}


def test_numbers_are_grouped_but_ids_are_not(app):
    fields = {f.name: f for f in SOURCE.fields}
    with app.test_request_context():
        assert labeller().display(fields["km"], 120000) == "120,000"
        assert labeller().display(QueryField("id", "Number", "number"), 120000) == "120000"


# -- parsing what people type ---------------------------------------------------------------


@pytest.mark.parametrize(("typed", "value"), [
    ("100,000", 100000), ("100 000", 100000), ("100\u00a0000", 100000), ("1,999.50", "1999.50"),
    ("-5", -5), ("1999.5", "1999.5"), ("100,000,000", 100000000), (" 42 ", 42)])
def test_numbers_accept_thousands_separators(app, typed, value):
    with app.test_request_context():
        assert parse_number(typed) == value


@pytest.mark.parametrize("typed", ["abc", "1,00", "1,2345", "12..5", "", "1e5"])
def test_bad_numbers_say_how_to_type_them(app, typed):
    with app.test_request_context(), pytest.raises(BadInput, match="not a number"):
        parse_number(typed)


def test_condition_rows_read_labels_branch_names_and_grouped_numbers(app, seeded):
    from carebiz.query import views

    fields = {f.name: f for f in SOURCE.fields}
    with app.test_request_context():
        assert views.row_value(fields["segment"], "eq", "champion") == "champion"
        assert views.row_value(fields["segment"], "eq", "CHAMPION") == "champion"
        assert views.row_value(fields["segment"], "in", "At risk, Champion") == [
            "at_risk", "champion"]
        assert views.row_value(fields["branch_id"], "eq", "Branch B") == seeded["branches"]["B"]
        assert views.row_value(fields["branch_id"], "in", "a; b") == [
            seeded["branches"]["A"], seeded["branches"]["B"]]
        assert views.row_value(fields["km"], "in", "100,000, 2,500; 7") == [100000, 2500, 7]
        assert views.row_value(fields["km"], "between", "100,000 .. 200 000") == [
            100000, 200000]
        assert views.row_value(fields["value"], "ge", "1,999.50") == "1999.50"
        for field, op, typed in (("segment", "eq", "Hero"), ("branch_id", "eq", "Nowhere"),
                                 ("km", "between", "5"), ("km", "gt", "lots")):
            with pytest.raises(BadInput):
                views.row_value(fields[field], op, typed)


# -- the API: codes stay, labels beside them --------------------------------------------------


@pytest.fixture
def data(app: Flask, seeded: dict[str, Any]) -> dict[str, Any]:
    from tests.crm_helpers import add_people

    a, b = seeded["branches"]["A"], seeded["branches"]["B"]
    people = [("Wang Wei", a, "Shanghai", "at_risk", "962016.0000", LATE),
              ("Li Lei", a, "Beijing", "champion", "1200.5", LATE - dt.timedelta(days=40)),
              ("Zhang San", a, "Shanghai", "at_risk", "80", LATE - dt.timedelta(days=400)),
              ("Bob Branchb", b, "Shanghai", "champion", "999", LATE)]
    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        ids = add_people(sess, people)
        sess.commit()
    return {"ids": ids, **seeded}


def _api(app: Flask, path: str, body: Any, headers: dict[str, str] | None = None) -> Any:
    token = token_for(app, "admin")
    resp = app.test_client().post(path, json=body, headers={
        "Authorization": f"Bearer {token}", **(headers or {})})
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()


def test_query_answer_keeps_codes_and_adds_labels(app, data):
    body = _api(app, "/api/v1/query/customers", {"sort": ["name"]})
    wang = next(item for item in body["items"] if item["name"] == "Wang Wei")
    assert wang["segment"] == "at_risk" and wang["branch_id"] == data["branches"]["A"]
    assert wang["lifetime_value"] == "962016.0000"  # exact, as before
    assert wang["labels"] == {"segment": "At risk", "branch_id": "Branch A",
                              "kind": "Person", "do_not_contact": "no"}


def test_aggregate_answer_adds_labels_and_currencies(app, data):
    body = _api(app, "/api/v1/query/customers/aggregate", {
        "group_by": ["segment", "branch_id"],
        "measures": [{"fn": "count"}, {"fn": "sum", "field": "lifetime_value"}]})
    assert body["group_by"] == ["segment", "branch_id"]
    assert body["currencies"] == {"sum_lifetime_value": "CNY"}
    rows = {(r["segment"], r["branch_id"]): r for r in body["rows"]}
    at_risk = rows[("at_risk", data["branches"]["A"])]
    assert at_risk["count"] == 2
    assert at_risk["labels"] == {"segment": "At risk", "branch_id": "Branch A"}
    by_month = _api(app, "/api/v1/query/customers/aggregate", {
        "group_by": [{"field": "created_at", "by": "month"}]})
    labels = {r["created_at_month"]: r["labels"]["created_at_month"] for r in by_month["rows"]}
    assert labels["2026-12"] == "Dec 2026"  # 18:13 UTC on 1 December is December in Shanghai


def test_api_labels_follow_accept_language(app, data):
    from flask_babel import force_locale, gettext

    body = _api(app, "/api/v1/query/customers/aggregate", {"group_by": ["segment"]},
                {"Accept-Language": "zh-CN"})
    with app.test_request_context(), force_locale("zh_CN"):
        expected = gettext("At risk")
    labels = {r["segment"]: r["labels"]["segment"] for r in body["rows"]}
    assert labels["at_risk"] == expected


def test_sources_describe_relation_and_currency(app, data):
    token = token_for(app, "admin")
    body = app.test_client().get("/api/v1/query/", headers={
        "Authorization": f"Bearer {token}"}).get_json()
    customers = next(s for s in body["sources"] if s["name"] == "customers")
    fields = {f["name"]: f for f in customers["fields"]}
    assert fields["branch_id"]["relation"] == "branch"
    assert fields["lifetime_value"]["currency"] == "base"
    assert {"value": "at_risk", "label": "At risk"} in fields["segment"]["choices"]


def test_svg_chart_of_the_api_uses_labels(app, data):
    token = token_for(app, "admin")
    resp = app.test_client().post("/api/v1/query/customers/aggregate?format=svg", json={
        "group_by": ["segment"]}, headers={"Authorization": f"Bearer {token}"})
    svg = resp.get_data(as_text=True)
    assert "At risk" in svg and ">at_risk<" not in svg


# -- pages ----------------------------------------------------------------------------------


def _client(app: Flask, user: str = "sales", locale: str | None = None) -> Any:
    client = app.test_client()
    assert login(client, user, PASSWORD).status_code == 302
    if locale:
        client.post(f"/language/{locale}")
    return client


def _page(client: Any, args: list[tuple[str, str]], status: int = 200) -> str:
    resp = client.get("/query/customers?" + urlencode(args))
    assert resp.status_code == status, resp.get_data(as_text=True)[:2000]
    return resp.get_data(as_text=True)


def _analysis_table(page: str) -> str:
    return page[page.index('data-testid="analysis-table"'):page.index("</table>",
                                                                   page.index("analysis-table"))]


def test_analysis_by_segment_shows_labels_money_and_no_codes(app, data):
    page = _page(_client(app), [("g1", "segment"), ("m", "count"), ("m", "sum:lifetime_value")])
    table = _analysis_table(page)
    assert "At risk" in table and "Champion" in table
    assert "at_risk" not in table and ">champion<" not in table
    assert "CN¥962,096.00" in table  # 962016 + 80 in branch A (branch B's withheld)
    assert "962016.0000" not in page
    chart = page[page.index('data-testid="chart"'):]
    assert "At risk" in chart and ">at_risk<" not in chart


def test_lowest_and_highest_dates_read_as_dates_everywhere(app, data):
    client = _client(app, "admin")
    args = [("g1", "segment"), ("m", "min:created_at"), ("m", "max:name")]
    page = _page(client, args)
    table = _analysis_table(page)
    # the earliest registrations, 40 and 400 days before LATE, in Shanghai time
    assert "Oct 23, 2026, 2:13\u202fAM" in table and "Oct 28, 2025, 2:13\u202fAM" in table
    assert "Zhang San" in table  # the highest name of the at-risk customers
    assert not ISO_WITH_OFFSET.search(page)
    text = client.get("/query/customers/analysis.csv?" + urlencode(args)).data.decode()
    assert "Oct 23, 2026" in text and not ISO_WITH_OFFSET.search(text)
    exported = client.get("/export/query.analysis?format=xlsx&source=customers&"
                          + urlencode(args))
    assert exported.status_code == 200


def test_results_show_branch_names_local_dates_and_money(app, data):
    page = _page(_client(app, "admin"), [("sort", "name")])
    results = page[page.index('data-testid="query-results"'):]
    assert "Branch A" in results and "Branch B" in results
    assert "Dec 2, 2026, 2:13\u202fAM" in results  # Asia/Shanghai, not 2026-12-01T18:13:26+00:00
    assert not ISO_WITH_OFFSET.search(page)
    assert "CN¥962,016.00" in results and "At risk" in results


def test_analysis_by_month_and_branch_reads_periods_and_names(app, data):
    page = _page(_client(app, "admin"), [("g1", "created_at"), ("b1", "month"),
                                          ("g2", "branch_id"), ("m", "count")])
    table = _analysis_table(page)
    assert "Dec 2026" in table and "Branch A" in table and "Branch B" in table
    assert "2026-12" not in table


def test_chinese_page_labels_go_through_the_catalog(app, data):
    from flask_babel import force_locale, gettext

    page = _page(_client(app, locale="zh_CN"), [("g1", "segment"), ("m", "sum:lifetime_value")])
    with app.test_request_context(), force_locale("zh_CN"):
        at_risk, champion = gettext("At risk"), gettext("Champion")
    table = _analysis_table(page)
    assert at_risk in table and champion in table
    assert "¥962,096.00" in table and "CN¥" not in table


def test_filters_are_select_boxes_of_labels_and_date_pickers(app, data):
    page = _page(_client(app), [("f", "segment"), ("o", "eq"), ("v", "at_risk"),
                                ("f", "branch_id"), ("o", "eq"), ("v", "Branch A"),
                                ("f", "created_at"), ("o", "ge"), ("v", "2025-01-01")])
    rows = page[page.index('data-testid="query-form"'):page.index("query-rows-end")]
    assert re.search(r'<select class="form-select query-value[^"]*" name="v"', rows)
    assert '<option value="at_risk" selected>At risk</option>' in rows
    assert "Branch A (A)" in rows and "Branch B (B)" not in rows  # only the user's branches
    assert 'type="date" name="v" value="2025-01-01"' in rows
    assert f'<option value="{data["branches"]["A"]}" selected>Branch A (A)</option>' in rows
    assert '<option value="this_month">this month</option>' in rows  # relative choices
    assert "query.js" in page


def test_filters_take_labels_names_and_grouped_numbers(app, data):
    client = _client(app, "admin")
    page = _page(client, [("f", "segment"), ("o", "eq"), ("v", "Champion"),
                          ("f", "branch_id"), ("o", "eq"), ("v", "branch a")])
    results = page[page.index('data-testid="query-results"'):]
    assert "Li Lei" in results and "Bob Branchb" not in results and "Wang Wei" not in results
    page = _page(client, [("f", "lifetime_value"), ("o", "ge"), ("v", "100,000")])
    results = page[page.index('data-testid="query-results"'):]
    assert "Wang Wei" in results and "Li Lei" not in results
    page = _page(client, [("f", "lifetime_value"), ("o", "ge"), ("v", "lots")], status=422)
    assert "“lots” is not a number" in page
    page = _page(client, [("f", "segment"), ("o", "eq"), ("v", "Hero")], status=422)
    assert "“Hero” is not one of" in page


def test_a_day_picked_for_a_date_time_means_the_whole_local_day(app, data):
    client = _client(app, "admin")
    # Wang Wei registered at 18:13 UTC on 1 December: 2 December in Shanghai
    for op, day, found in (("eq", "2026-12-02", True), ("eq", "2026-12-01", False),
                           ("le", "2026-12-02", True), ("gt", "2026-12-02", False),
                           ("ge", "2026-12-02", True), ("lt", "2026-12-02", False),
                           ("between", "2026-11-01 .. 2026-12-02", True)):
        page = _page(client, [("f", "created_at"), ("o", op), ("v", day)])
        results = page[page.index('data-testid="query-results"'):]
        assert ("Wang Wei" in results) is found, (op, day)


def test_result_columns_sort_on_the_server(app, data):
    client = _client(app, "admin")
    page = _page(client, [("sort", "lifetime_value"), ("dir", "desc")])
    results = page[page.index('data-testid="query-results"'):]
    order = [results.index(n) for n in ("Wang Wei", "Li Lei", "Bob Branchb", "Zhang San")]
    assert order == sorted(order)
    assert 'aria-sort="descending"' in page
    link = re.search(r'href="([^"]+)" data-sort="name"', page).group(1)
    assert "sort=name" in link and "dir=asc" in link
    again = re.search(r'href="([^"]+)" data-sort="lifetime_value"', page).group(1)
    assert "dir=asc" in again.replace("&amp;", "&")


def test_the_script_is_served_and_only_on_query_pages(app, data):
    client = _client(app)
    assert client.get("/static/query.js").status_code == 200
    assert "query.js" not in client.get("/").get_data(as_text=True)


def test_exports_read_labels_and_type_money(app, data):
    from carebiz.query import exports

    with app.test_request_context("/"):
        from werkzeug.datastructures import MultiDict

        from carebiz.services.users import get_user

        sess = app.extensions["carebiz"].session_factory()
        user = get_user(sess, "admin")
        table = exports.analysis_table(sess, user, MultiDict(
            [("source", "customers"), ("g1", "segment"), ("m", "sum:lifetime_value")]))
        money = table.columns[1]
        assert money.type == "money" and money.currency == "CNY"
        rows = list(table.values())
        assert [rows[0][0], int(rows[0][1])] == ["At risk", 962096]
        results = exports.results_table(sess, user, MultiDict([("source", "customers"),
                                                               ("sort", "name")]))
        first = next(iter(results.values()))
        keys = [c.key for c in results.columns]
        assert first[keys.index("branch_id")] in ("Branch A", "Branch B")
        assert first[keys.index("segment")] in ("At risk", "Champion")
        assert results.columns[keys.index("branch_id")].type == "text"
        narrowed = exports.results_table(sess, user, MultiDict([
            ("source", "customers"), ("f", "segment"), ("o", "eq"), ("v", "at_risk"),
            ("f", "branch_id"), ("o", "eq"), ("v", "b")]))
        assert list(narrowed.filters) == ["Segment is At risk", "Branch is Branch B"]
        sess.close()


def test_report_parameters_take_grouped_numbers(app, data):
    client = _client(app)
    resp = client.get("/query/reports/crm.new_customers_by_month?days=1,000")
    assert resp.status_code == 200
    page = resp.get_data(as_text=True)
    assert "Dec 2026" in page and 'inputmode="decimal"' in page
    bad = client.get("/query/reports/crm.new_customers_by_month?days=many")
    assert bad.status_code == 422 and "not a number" in bad.get_data(as_text=True)


def test_chart_labels_and_legends_are_never_cut_short():
    from carebiz.query import charts

    long = "Shanghai Pudong service centre and workshop"
    rows = [{"branch": f"{long} {i}", "count": i + 1, "labels": {}} for i in range(8)]
    for kind in charts.KINDS:
        svg = charts.render({"group_by": ["branch"], "measures": ["count"], "rows": rows},
                            kind, "Cars").decode()
        assert f"{long} 7" in svg and "…" not in svg, kind
    # many long labels turn, with room below them; a few short ones stay straight
    assert charts._x_label_layout([r["branch"] for r in rows])["x_label_rotation"] == 30
    assert charts._x_label_layout([r["branch"] for r in rows])["margin_bottom"] > 100
    assert charts._x_label_layout(["流失风险客户", "核心客户"]) == {"x_label_rotation": 0}
    assert charts._text_width("核心客户") > charts._text_width("core")
