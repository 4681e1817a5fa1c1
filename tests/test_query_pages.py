"""The query pages: builder, analysis with chart and CSV, saved queries and reports."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any
from urllib.parse import urlencode

import pytest
from flask import Flask

from tests.conftest import PASSWORD, login


@pytest.fixture
def data(app: Flask, seeded: dict[str, Any]) -> dict[str, Any]:
    """Customers in branches A and B, and a user without any role."""
    from carebiz.services.users import create_user
    from tests.crm_helpers import add_people

    a, b = seeded["branches"]["A"], seeded["branches"]["B"]
    now = dt.datetime.now(dt.UTC)
    people = [("Wang Wei", a, "Shanghai", "champion", "1200.50", now),
              ("Li Lei", a, "Beijing", None, None, now - dt.timedelta(days=40)),
              ("Zhang San", a, "Shanghai", "new", "80", now - dt.timedelta(days=400)),
              ("Bob Branchb", b, "Shanghai", "champion", "999", now)]
    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        ids = add_people(sess, people)
        create_user(sess, "nobody", PASSWORD, branches=["A"])
        sess.commit()
    return {"ids": ids, **seeded}


def client_for(app: Flask, user: str) -> Any:
    client = app.test_client()
    assert login(client, user).status_code == 302
    return client


def url(source: str, args: list[tuple[str, Any]]) -> str:
    return f"/query/{source}?" + urlencode(args)


def test_index_and_builder_render_for_sales(app, data):
    client = client_for(app, "sales")
    index = client.get("/query/").get_data(as_text=True)
    assert 'data-source="customers"' in index
    assert 'data-report="crm.new_customers_by_month"' in index
    resp = client.get("/query/customers")
    assert resp.status_code == 200
    page = resp.get_data(as_text=True)
    assert "Lifetime value" in page and 'name="f"' in page and "Wang Wei" in page
    assert client.get("/").status_code == 200
    assert 'data-menu="query"' in client.get("/").get_data(as_text=True)


def test_composite_condition_narrows_rows_and_branch_filter_holds(app, data):
    client = client_for(app, "sales")
    page = client.get("/query/customers").get_data(as_text=True)
    assert "Zhang San" in page and "Bob Branchb" not in page  # branch B is not hers
    resp = client.get(url("customers", [("join", "and"),
                                        ("f", "city"), ("o", "eq"), ("v", "Shanghai"),
                                        ("f", "lifetime_value"), ("o", "gt"), ("v", "100")]))
    page = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert "Wang Wei" in page and "Zhang San" not in page and "Li Lei" not in page
    assert "Bob Branchb" not in page and 'data-count="1"' in page
    either = client.get(url("customers", [("join", "or"),
                                          ("f", "name"), ("o", "contains"), ("v", "li lei"),
                                          ("f", "segment"), ("o", "in"), ("v", "new, champion")]))
    page = either.get_data(as_text=True)
    assert 'data-count="3"' in page and "Bob Branchb" not in page
    # the manager sees every branch
    page = client_for(app, "manager").get(url("customers", [("f", "name"), ("o", "contains"),
                                                            ("v", "bob")])).get_data(as_text=True)
    assert "Bob Branchb" in page and 'data-count="1"' in page


def test_bad_operator_answers_422_next_to_the_row_and_keeps_values(app, data):
    client = client_for(app, "sales")
    resp = client.get(url("customers", [("f", "city"), ("o", "eq"), ("v", "Shanghai"),
                                        ("f", "name"), ("o", "gt"), ("v", "Typed 123")]))
    assert resp.status_code == 422
    page = resp.get_data(as_text=True)
    assert 'data-row-error="1"' in page and "unknown operator" in page
    assert 'data-row-error="0"' not in page
    assert 'value="Typed 123"' in page and 'value="Shanghai"' in page
    bad_value = client.get(url("customers", [("f", "created_at"), ("o", "eq"),
                                             ("v", "not a date")]))
    assert bad_value.status_code == 422
    assert 'data-row-error="0"' in bad_value.get_data(as_text=True)


def test_analysis_table_chart_and_csv(app, data):
    client = client_for(app, "sales")
    args = [("g1", "city"), ("m", "count"), ("m", "sum:lifetime_value"), ("chart", "bar")]
    resp = client.get(url("customers", args))
    assert resp.status_code == 200
    page = resp.get_data(as_text=True)
    assert 'data-testid="analysis-table"' in page and "<svg" in page
    assert "<?xml" not in page and "Sum of Lifetime value" in page
    svg = client.get("/query/customers/chart.svg?" + urlencode(args))
    assert svg.status_code == 200 and svg.mimetype == "image/svg+xml"
    assert b"<svg" in svg.data
    csv_resp = client.get("/query/customers/analysis.csv?" + urlencode(args))
    assert csv_resp.status_code == 200 and csv_resp.mimetype == "text/csv"
    text = csv_resp.data.decode("utf-8")
    assert text.startswith("\ufeffCity,Count,Sum of Lifetime value (CNY)")
    assert "Shanghai,2,1280.50" in text  # branch B's Shanghai customer is not counted
    by_month = client.get(url("customers", [("g1", "created_at"), ("b1", "month"),
                                            ("g2", "city"), ("chart", "stacked")]))
    assert by_month.status_code == 200 and "Registered (month)" in by_month.get_data(as_text=True)


def test_csv_quotes_formula_cells(app, data):
    from carebiz.crm.models import Party

    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        sess.add(Party(name="Evil", name_key="evil", branch_id=data["branches"]["A"],
                       city="=HYPERLINK(1)"))
        sess.commit()
    client = client_for(app, "sales")
    text = client.get("/query/customers/analysis.csv?g1=city").data.decode("utf-8")
    assert "'=HYPERLINK(1)" in text


def test_bad_analysis_shows_error(app, data):
    client = client_for(app, "sales")
    resp = client.get(url("customers", [("g1", "city"), ("m", "sum:name")]))
    assert resp.status_code == 422
    assert 'data-testid="analysis-error"' in resp.get_data(as_text=True)


def test_save_open_delete_and_share_with_role(app, data):
    from carebiz.models import Role
    from carebiz.query.models import SavedQuery

    sales = client_for(app, "sales")
    state = urlencode([("join", "or"), ("f", "city"), ("o", "eq"), ("v", "Beijing"),
                       ("f", "segment"), ("o", "eq"), ("v", "new"), ("g1", "city")])
    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        role_id = sess.query(Role).filter_by(name="salesperson").one().id
    resp = sales.post("/query/customers/save", data={"name": "Mine", "state": state,
                                                     "share": "private"})
    assert resp.status_code == 302
    resp = sales.post("/query/customers/save", data={"name": "Team", "state": state,
                                                     "share": f"role:{role_id}"})
    assert resp.status_code == 302
    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        saved = {s.name: s for s in sess.query(SavedQuery)}
        assert saved["Team"].visibility == "role" and saved["Team"].role_id == role_id
        assert saved["Mine"].definition["where"] == {"or": [
            {"field": "city", "op": "eq", "value": "Beijing"},
            {"field": "segment", "op": "eq", "value": "new"}]}
        mine, team = saved["Mine"].id, saved["Team"].id
    index = sales.get("/query/").get_data(as_text=True)
    assert f'data-saved="{mine}"' in index and f'data-saved="{team}"' in index
    opened = sales.get(f"/query/saved/{mine}", follow_redirects=True)
    page = opened.get_data(as_text=True)
    assert opened.status_code == 200
    assert "Li Lei" in page and "Zhang San" in page and "Wang Wei" not in page
    assert 'data-testid="analysis-table"' in page

    # another salesperson sees the shared one, not the private one; cannot delete it
    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        from carebiz.services.users import create_user

        create_user(sess, "sales2", PASSWORD, roles=["salesperson"], branches=["A"])
        sess.commit()
    other = client_for(app, "sales2")
    index = other.get("/query/").get_data(as_text=True)
    assert f'data-saved="{team}"' in index and f'data-saved="{mine}"' not in index
    assert other.get(f"/query/saved/{mine}").status_code == 404
    assert other.post(f"/query/saved/{team}/delete").status_code == 403
    # a user of another role does not see it
    manager_index = client_for(app, "manager").get("/query/").get_data(as_text=True)
    assert f'data-saved="{team}"' not in manager_index

    assert sales.post(f"/query/saved/{mine}/delete").status_code == 302
    assert sales.get(f"/query/saved/{mine}").status_code == 404


def test_saved_deep_tree_opens_as_where(app, data):
    from carebiz.query.views import args_of

    tree = {"and": [{"field": "city", "op": "eq", "value": "Shanghai"},
                    {"or": [{"field": "segment", "op": "eq", "value": "champion"},
                            {"field": "segment", "op": "eq", "value": "new"}]}]}
    args = args_of({"where": tree})
    assert json.loads(args["where"]) == tree
    client = client_for(app, "sales")
    page = client.get("/query/customers?" + urlencode({"where": args["where"]})).get_data(
        as_text=True)
    assert "Wang Wei" in page and "Zhang San" in page and "Li Lei" not in page


def test_report_runs_with_params(app, data):
    client = client_for(app, "sales")
    resp = client.get("/query/reports/crm.new_customers_by_month?days=60")
    assert resp.status_code == 200
    page = resp.get_data(as_text=True)
    assert "<svg" in page and 'data-testid="analysis-table"' in page
    table = client.get("/query/reports/crm.new_customers_by_month/table.csv?days=60")
    lines = table.data.decode("utf-8").lstrip("\ufeff").strip().splitlines()
    assert sum(int(line.rsplit(",", 1)[1]) for line in lines[1:]) == 2  # Wang Wei, Li Lei
    year = client.get("/query/reports/crm.new_customers_by_month/table.csv")  # default 365
    lines = year.data.decode("utf-8").lstrip("\ufeff").strip().splitlines()
    assert sum(int(line.rsplit(",", 1)[1]) for line in lines[1:]) == 2
    longer = client.get("/query/reports/crm.new_customers_by_month/table.csv?days=500")
    lines = longer.data.decode("utf-8").lstrip("\ufeff").strip().splitlines()
    assert sum(int(line.rsplit(",", 1)[1]) for line in lines[1:]) == 3
    svg = client.get("/query/reports/crm.new_customers_by_month/chart.svg?days=60")
    assert svg.status_code == 200 and b"<svg" in svg.data
    bad = client.get("/query/reports/crm.new_customers_by_month?days=abc")
    assert bad.status_code == 422 and 'value="abc"' in bad.get_data(as_text=True)
    assert client.get("/query/reports/nope").status_code == 404


def test_user_without_the_permission_sees_no_customers(app, data):
    client = client_for(app, "nobody")
    index = client.get("/query/")
    assert index.status_code == 200
    page = index.get_data(as_text=True)
    assert 'data-source="customers"' not in page
    assert "crm.new_customers_by_month" not in page
    assert client.get("/query/customers").status_code == 403
    assert client.get("/query/customers/analysis.csv?g1=city").status_code == 403
    assert client.get("/query/reports/crm.new_customers_by_month").status_code == 403
    assert client.get("/query/no_such_source").status_code == 404


def test_pages_need_login(app, data):
    resp = app.test_client().get("/query/customers")
    assert resp.status_code in (302, 401)


def test_pagination_keeps_the_conditions(app, data):
    from carebiz.crm.models import Party

    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        for i in range(55):
            sess.add(Party(name=f"Bulk {i:02d}", name_key=f"bulk{i:02d}",
                           branch_id=data["branches"]["A"], city="Wuhan"))
        sess.commit()
    client = client_for(app, "sales")
    args = [("f", "city"), ("o", "eq"), ("v", "Wuhan"), ("f", "name"), ("o", "starts_with"),
            ("v", "bulk"), ("sort", "name"), ("dir", "desc")]
    page = client.get(url("customers", args)).get_data(as_text=True)
    assert 'data-count="55"' in page and "Bulk 54" in page and "Bulk 04" not in page
    second = client.get(url("customers", [*args, ("page", "2")])).get_data(as_text=True)
    assert "Bulk 04" in second and "Bulk 54" not in second
    import re
    from urllib.parse import parse_qs, urlsplit

    href = re.search(r'rel="next" href="([^"]+)"', page).group(1).replace("&amp;", "&")
    query = parse_qs(urlsplit(href).query)
    assert query["f"] == ["city", "name"] and query["v"] == ["Wuhan", "bulk"]
    assert query["page"] == ["2"] and query["dir"] == ["desc"]
