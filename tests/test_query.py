"""The query service: the compiler against a Python oracle (property-based), the API with
its row filters, errors naming the bad node, limits, analysis, charts and saved queries."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Date, String, create_engine, delete, insert, select, text
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from carebiz.contributions import QueryField, QuerySource
from carebiz.query import compiler as c
from carebiz.query import operators as ops
from tests.conftest import token_for

# --- the compiler against a Python oracle -------------------------------------------------


class _Base(DeclarativeBase):
    """A separate metadata for the oracle's table, apart from the application's."""


class Row(_Base):
    __tablename__ = "qrow"

    id: Mapped[int] = mapped_column(primary_key=True)
    num: Mapped[int | None]
    txt: Mapped[str | None] = mapped_column(String(20))
    day: Mapped[dt.date | None] = mapped_column(Date)
    flag: Mapped[bool | None]


SOURCE = QuerySource("rows", "Rows", Row, (
    QueryField("num", "Number", "number"),
    QueryField("txt", "Text", "text"),
    QueryField("day", "Day", "date"),
    QueryField("flag", "Flag", "bool"),
))
TZ = ZoneInfo("Asia/Shanghai")
NOW = dt.datetime(2026, 11, 22, 1, 30, tzinfo=dt.UTC)  # 09:30 in Shanghai, a Sunday
TODAY = NOW.astimezone(TZ).date()
ALPHABET = "aAbZ%_/\\王李 "

numbers = st.integers(-3, 3) | st.sampled_from([0.5, -1.5, 10**9])
texts = st.text(ALPHABET, max_size=4)
days = st.dates(dt.date(2026, 9, 25), dt.date(2026, 12, 31))
row_values = st.fixed_dictionaries({
    "num": st.none() | numbers, "txt": st.none() | texts, "day": st.none() | days,
    "flag": st.none() | st.booleans()})

VALUES = {"number": numbers, "text": texts.filter(bool), "date": days, "bool": st.booleans()}
FIELD_TYPES = {f.name: f.type for f in SOURCE.fields}


@st.composite
def conditions(draw: Any) -> dict[str, Any]:
    name = draw(st.sampled_from(sorted(FIELD_TYPES)))
    kind = FIELD_TYPES[name]
    op = draw(st.sampled_from(ops.TYPE_OPERATORS[kind]))
    node: dict[str, Any] = {"field": name, "op": op}
    values = VALUES[kind]
    if kind == "text" and op == "eq":
        values = texts  # '' is a value too
    if op in ops.NO_VALUE:
        return node
    if op == ops.LAST_DAYS:
        node["value"] = draw(st.integers(1, 60))
    elif op == "between":
        node["value"] = [draw(values), draw(values)]
    elif op == "in":
        node["value"] = draw(st.lists(values, min_size=1, max_size=3))
    else:
        node["value"] = draw(values)
    if kind == "date":
        node["value"] = _iso(node.get("value"))
    return node


def _iso(value: Any) -> Any:
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, list):
        return [_iso(v) for v in value]
    return value


trees = st.recursive(conditions(), lambda children: st.one_of(
    st.builds(lambda xs: {"and": xs}, st.lists(children, min_size=1, max_size=3)),
    st.builds(lambda xs: {"or": xs}, st.lists(children, min_size=1, max_size=3))),
    max_leaves=8)


def _value(kind: str, raw: Any) -> Any:
    if kind == "date" and isinstance(raw, list):
        return [dt.date.fromisoformat(v) for v in raw]
    if kind == "date" and isinstance(raw, str):
        return dt.date.fromisoformat(raw)
    return raw


def oracle(node: dict[str, Any], row: dict[str, Any]) -> bool:
    """The reference semantics, stated in Python."""
    if "and" in node:
        return all(oracle(child, row) for child in node["and"])
    if "or" in node:
        return any(oracle(child, row) for child in node["or"])
    kind, op = FIELD_TYPES[node["field"]], node["op"]
    v, x = row[node["field"]], _value(kind, node.get("value"))
    blank = v is None or (kind == "text" and v == "")
    if op == "empty":
        return blank
    if op == "not_empty":
        return not blank
    if op == "ne":
        return v is None or v != x
    if v is None:
        return False
    if op in ops.RELATIVE or op == ops.LAST_DAYS:
        start, end = ops.relative_range(op, x, TODAY)
        return start <= v < end
    return {
        "eq": lambda: v == x, "lt": lambda: v < x, "le": lambda: v <= x,
        "gt": lambda: v > x, "ge": lambda: v >= x,
        "between": lambda: x[0] <= v <= x[1], "in": lambda: v in x,
        "contains": lambda: x.lower() in v.lower(),
        "starts_with": lambda: v.lower().startswith(x.lower()),
    }[op]()


def sort_oracle(rows: list[dict[str, Any]], sort: list[str]) -> list[int]:
    ordered = sorted(rows, key=lambda r: r["id"])
    for item in reversed(sort):
        name, desc = item.lstrip("-"), item.startswith("-")
        if desc:
            ordered.sort(key=lambda r, n=name: (r[n] is not None, r[n]), reverse=True)
        else:
            ordered.sort(key=lambda r, n=name: (r[n] is None, r[n]))
    return [r["id"] for r in ordered]


@pytest.fixture(scope="module")
def engine() -> Any:
    eng = create_engine("sqlite://")
    _Base.metadata.create_all(eng)
    yield eng
    eng.dispose()


def _load(session: Session, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    session.execute(delete(Row))
    rows = [{"id": i + 1, **row} for i, row in enumerate(rows)]
    if rows:
        session.execute(insert(Row), rows)
    return rows


CTX = c.Context(source=SOURCE, tz=TZ, now=NOW, dialect="sqlite")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(row_values, max_size=12), tree=trees)
def test_compiled_sql_selects_what_python_selects(engine, rows, tree):
    with Session(engine) as session:
        rows = _load(session, rows)
        condition = c.compile_where(CTX, tree)
        got = set(session.scalars(select(Row.id).where(condition)))
        assert got == {r["id"] for r in rows if oracle(tree, r)}, tree
        session.rollback()


@settings(max_examples=100, deadline=None)
@given(rows=st.lists(row_values, max_size=10),
       sort=st.lists(st.sampled_from(["num", "-num", "txt", "-txt", "day", "-day", "flag",
                                      "-flag"]), max_size=3, unique_by=lambda s: s.lstrip("-")))
def test_sort_puts_empty_values_last_and_breaks_ties_by_id(engine, rows, sort):
    with Session(engine) as session:
        rows = _load(session, rows)
        got = list(session.scalars(select(Row.id).order_by(*c.compile_sort(SOURCE, sort))))
        assert got == sort_oracle(rows, sort)
        session.rollback()


def test_errors_name_every_bad_node_by_its_json_path():
    tree = {"and": [{"field": "num", "op": "eq", "value": 1},
                    {"field": "num", "op": "like", "value": 1},
                    {"or": [{"field": "nope", "op": "eq", "value": 1},
                            {"field": "day", "op": "between", "value": ["2026-01-01"]},
                            {"field": "txt", "op": "contains", "value": 5},
                            {"field": "flag", "op": "eq", "value": True, "x": 1}]},
                    "junk", {"and": []}, {"and": [], "or": []}]}
    with pytest.raises(c.QueryError) as info:
        c.compile_where(CTX, tree)
    errors = info.value.errors
    assert errors["where.and[1].op"] == (
        "unknown operator 'like' for field num (number): use eq, ne, lt, le, gt, ge, between, "
        "in, empty, not_empty")
    assert errors["where.and[2].or[0].field"].startswith("unknown field 'nope': use num, txt")
    assert "two values" in errors["where.and[2].or[1].value"]
    assert "expected text" in errors["where.and[2].or[2].value"]
    assert "where.and[2].or[3].x" in errors
    assert "where.and[3]" in errors and "where.and[4].and" in errors and "where.and[5]" in errors


def test_values_are_bound_parameters_never_sql_text(engine):
    evil = "x'; DROP TABLE qrow; --"
    condition = c.compile_where(CTX, {"field": "txt", "op": "eq", "value": evil})
    assert evil not in str(condition.compile(engine))
    with Session(engine) as session:
        assert session.scalars(select(Row.id).where(condition)).all() == []
        assert session.scalar(select(text("count(*)")).select_from(Row)) is not None


def test_limits_on_tree_size_depth_and_lists():
    deep: dict[str, Any] = {"field": "num", "op": "eq", "value": 1}
    for _ in range(c.MAX_DEPTH + 1):
        deep = {"and": [deep]}
    with pytest.raises(c.QueryError):
        c.compile_where(CTX, deep)
    wide = {"or": [{"field": "num", "op": "eq", "value": i} for i in range(c.MAX_NODES + 1)]}
    with pytest.raises(c.QueryError):
        c.compile_where(CTX, wide)
    with pytest.raises(c.QueryError):
        c.compile_where(CTX, {"field": "num", "op": "in", "value": list(range(ops.MAX_IN + 1))})


def test_relative_ranges_follow_the_calendar():
    day = dt.date(2026, 11, 22)  # a Sunday
    assert ops.relative_range("today", None, day) == (day, dt.date(2026, 11, 23))
    assert ops.relative_range("this_week", None, day) == (dt.date(2026, 11, 16),
                                                          dt.date(2026, 11, 23))
    assert ops.relative_range("last_month", None, day) == (dt.date(2026, 10, 1),
                                                           dt.date(2026, 11, 1))
    assert ops.relative_range("this_quarter", None, day) == (dt.date(2026, 10, 1),
                                                             dt.date(2027, 1, 1))
    assert ops.relative_range("last_30_days", None, day) == (dt.date(2026, 10, 24),
                                                             dt.date(2026, 11, 23))
    assert ops.relative_range("this_month", None, dt.date(2026, 12, 5)) == (
        dt.date(2026, 12, 1), dt.date(2027, 1, 1))


def test_time_limit_stops_a_long_query_on_sqlite(app, session):
    from carebiz.query.service import QueryTimeout, time_limit

    slow = text("WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n "
                "WHERE x < 50000000) SELECT count(*) FROM n")
    if session.get_bind().dialect.name != "sqlite":
        pytest.skip("SQLite progress handler")
    with app.test_request_context(), pytest.raises(QueryTimeout) as info, \
            time_limit(session, 50):
        session.execute(slow)
    assert info.value.status == 503 and "stopped" in info.value.message
    assert session.execute(text("SELECT 1")).scalar() == 1  # the connection still works


# --- the API --------------------------------------------------------------------------------


class Api:
    def __init__(self, app: Flask) -> None:
        self.app = app
        self.client = app.test_client()
        self.tokens: dict[str, str] = {}

    def headers(self, user: str) -> dict[str, str]:
        if user not in self.tokens:
            self.tokens[user] = token_for(self.app, user)
        return {"Authorization": f"Bearer {self.tokens[user]}"}

    def call(self, method: str, url: str, json: Any = None, user: str = "admin",
             **kwargs: Any) -> Any:
        return self.client.open(url, method=method, json=json, headers=self.headers(user),
                                **kwargs)

    def query(self, source: str, body: Any, user: str = "admin", status: int = 200) -> Any:
        resp = self.call("POST", f"/api/v1/query/{source}", body, user)
        assert resp.status_code == status, resp.get_json()
        return resp.get_json()


@pytest.fixture
def data(app: Flask, seeded: dict[str, Any]) -> dict[str, Any]:
    """Customers and vehicles in branches A and B."""
    from carebiz.crm.models import Party, Vehicle
    from tests.crm_helpers import add_people, valid_vin

    a, b = seeded["branches"]["A"], seeded["branches"]["B"]
    now = dt.datetime.now(dt.UTC)
    people = [("王伟", a, "上海", "champion", "1200.50", now),
              ("Li 100% Lei", a, "Beijing", None, None, now - dt.timedelta(days=40)),
              ("Zhang_San", a, "上海", "new", "80", now - dt.timedelta(days=400)),
              ("Bob B", b, "Shenzhen", "champion", "999", now)]
    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        ids = add_people(sess, people)
        merged = Party(name="Merged Away", name_key="mergedaway", branch_id=a, active=False)
        sess.add(merged)
        cars = [("Toyota", "Corolla", 2018, 60000, ids["王伟"], a),
                ("Toyota", "Camry", 2021, 15000, ids["Li 100% Lei"], a),
                ("BYD", "Han", 2023, 8000, None, a),
                ("BYD", "Seal", 2024, None, ids["Bob B"], a),  # owner in branch B
                ("Honda", "Fit", 2015, 120000, ids["Bob B"], b)]
        for i, (make, model, year, km, owner, branch) in enumerate(cars):
            sess.add(Vehicle(vin=valid_vin(10 * (i + 1)), make=make, model=model, year=year,
                             odometer_km=km, owner_id=owner, branch_id=branch,
                             fuel_type="petrol" if make != "BYD" else "bev"))
        sess.commit()
    return {"ids": ids, **seeded}


@pytest.fixture
def api(app: Flask, data: dict[str, Any]) -> Api:
    return Api(app)


def names(result: dict[str, Any]) -> list[str]:
    return [item["name"] for item in result["items"]]


def test_sources_list_fields_types_labels_and_operators(api):
    body = api.call("GET", "/api/v1/query/").get_json()
    by_name = {s["name"]: s for s in body["sources"]}
    assert {"customers", "vehicles"} <= set(by_name)
    year = next(f for f in by_name["vehicles"]["fields"] if f["name"] == "year")
    assert year["type"] == "number" and year["label"] == "Year"
    assert year["operators"][:3] == ["eq", "ne", "lt"]
    assert "last_30_days" in body["relative_dates"]
    assert api.client.get("/api/v1/query/").status_code == 401


def test_composite_query_sort_and_paging(api):
    where = {"and": [{"field": "city", "op": "in", "value": ["上海", "Beijing", "Shenzhen"]},
                     {"or": [{"field": "segment", "op": "eq", "value": "champion"},
                             {"field": "name", "op": "contains", "value": "100%"}]}]}
    result = api.query("customers", {"where": where, "sort": ["-name"]})
    assert names(result) == ["王伟", "Li 100% Lei", "Bob B"] and result["total"] == 3
    page = api.query("customers", {"where": where, "sort": ["name"], "page": 2, "per_page": 2})
    assert names(page) == ["王伟"] and page["total"] == 3
    vip = api.query("customers", {"where": {"field": "lifetime_value", "op": "ge",
                                            "value": "999"}, "sort": ["lifetime_value"]})
    assert [(i["name"], i["lifetime_value"]) for i in vip["items"]] == [
        ("Bob B", "999.0000"), ("王伟", "1200.5000")]
    # '%' and '_' are literal; merged-away customers are never listed
    assert names(api.query("customers", {"where": {"field": "name", "op": "contains",
                                                   "value": "_"}})) == ["Zhang_San"]
    assert "Merged Away" not in names(api.query("customers", {}))


def test_simple_query_searches_text_fields(api):
    assert names(api.query("customers", {"q": "上海 wang", "sort": ["name"]})) == []
    assert names(api.query("customers", {"q": "上海", "sort": ["name"]})) == ["Zhang_San", "王伟"]
    vehicles = api.query("vehicles", {"q": "byd", "sort": ["model"]})
    assert [v["model"] for v in vehicles["items"]] == ["Han", "Seal"]


def test_row_filters_apply_to_rows_and_joined_tables(api):
    sales = api.query("customers", {"sort": ["name"]}, user="sales")
    assert "Bob B" not in names(sales) and sales["total"] == 3
    cars = api.query("vehicles", {"where": {"field": "make", "op": "eq", "value": "BYD"},
                                  "sort": ["model"]}, user="sales")
    # the Seal is in branch A but its owner is in branch B: the owner's name stays hidden
    assert [(v["model"], v["owner"]) for v in cars["items"]] == [("Han", None), ("Seal", None)]
    admin = api.query("vehicles", {"where": {"field": "owner", "op": "eq", "value": "Bob B"}})
    assert admin["total"] == 2
    hidden = api.query("vehicles", {"where": {"field": "owner", "op": "eq", "value": "Bob B"}},
                       user="sales")
    assert hidden["total"] == 0


def test_relative_dates_use_the_business_timezone(api):
    today = api.query("customers", {"where": {"field": "created_at", "op": "today"},
                                    "sort": ["name"]})
    assert names(today) == ["Bob B", "王伟"]
    month = api.query("customers", {"where": {"field": "created_at", "op": "last_days",
                                              "value": 60}})
    assert month["total"] == 3


def test_bad_queries_answer_422_naming_the_node(api):
    body = api.query("vehicles", {"where": {"and": [
        {"field": "make", "op": "eq", "value": "BYD"},
        {"field": "year", "op": "like", "value": "20%"}]}}, status=422)
    assert body["errors"] == {"where.and[1].op": [
        "unknown operator 'like' for field year (number): use eq, ne, lt, le, gt, ge, "
        "between, in, empty, not_empty"]}
    assert "where.and[1].op" in body["message"]
    assert "sort[0]" in api.query("vehicles", {"sort": ["colour"]}, status=422)["errors"]
    assert "per_page" in api.query("vehicles", {"per_page": 501}, status=422)["errors"]
    assert api.query("nope", {}, status=404)["code"] == 404
    resp = api.call("POST", "/api/v1/query/vehicles", data="{", content_type="application/json")
    assert resp.status_code == 400


def test_sample_plugin_source_respects_its_row_filter(sample_app, sample_seeded):
    from tests.sample_plugin.models import SampleRecord

    a = sample_seeded["branches"]["A"]
    with sample_app.app_context(), sample_app.extensions["carebiz"].session_factory() as sess:
        sess.add_all([SampleRecord(title="open", branch_id=a),
                      SampleRecord(title="hidden", secret=True, branch_id=a)])
        sess.commit()
    api = Api(sample_app)
    result = api.query("sample_records", {"where": {"field": "title", "op": "contains",
                                                    "value": "e"}}, user="sales")
    assert [i["title"] for i in result["items"]] == ["open"]
    assert api.query("sample_records", {"where": {"field": "title", "op": "empty"}},
                     user="sales", status=422)["errors"]["where.op"][0].startswith(
        "unknown operator 'empty' for field title (text): use eq, contains")


# --- analysis and charts ----------------------------------------------------------------------


def test_aggregate_groups_and_measures(api):
    resp = api.call("POST", "/api/v1/query/vehicles/aggregate", {
        "group_by": ["make"],
        "measures": [{"fn": "count"}, {"fn": "avg", "field": "year"},
                     {"fn": "max", "field": "odometer_km"}]})
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert body["group_by"] == ["make"]
    assert [(r["make"], r["count"], r["max_odometer_km"]) for r in body["rows"]] == [
        ("BYD", 2, 8000), ("Honda", 1, 120000), ("Toyota", 2, 60000)]
    sales = api.call("POST", "/api/v1/query/vehicles/aggregate",
                     {"group_by": "make", "where": {"field": "year", "op": "ge", "value": 2020}},
                     user="sales").get_json()
    assert [(r["make"], r["count"]) for r in sales["rows"]] == [("BYD", 2), ("Toyota", 1)]


def test_aggregate_by_period_and_two_fields(api):
    year = dt.datetime.now(ZoneInfo("Asia/Shanghai")).year
    body = api.call("POST", "/api/v1/query/customers/aggregate", {
        "group_by": [{"field": "created_at", "by": "year"}, "city"],
        "measures": [{"fn": "sum", "field": "lifetime_value"}]}).get_json()
    assert body["group_by"] == ["created_at_year", "city"]
    this_year = {r["city"]: r["sum_lifetime_value"] for r in body["rows"]
                 if r["created_at_year"] == str(year)}
    assert Decimal(this_year["上海"]) == Decimal("1200.5")
    quarter = api.call("POST", "/api/v1/query/customers/aggregate", {
        "group_by": {"field": "created_at", "by": "quarter"}}).get_json()
    assert all(len(r["created_at_quarter"]) == 7 and "-Q" in r["created_at_quarter"]
               for r in quarter["rows"])


def test_aggregate_errors_and_group_cap(api, monkeypatch):
    resp = api.call("POST", "/api/v1/query/vehicles/aggregate", {
        "group_by": [{"field": "make", "by": "month"}],
        "measures": [{"fn": "sum", "field": "make"}, {"fn": "median", "field": "year"}]})
    assert resp.status_code == 422
    assert set(resp.get_json()["errors"]) == {"group_by[0].by", "measures[0].field",
                                              "measures[1].fn"}
    from carebiz.query import service

    monkeypatch.setattr(service, "MAX_GROUPS", 2)
    resp = api.call("POST", "/api/v1/query/vehicles/aggregate", {"group_by": ["make"]})
    assert resp.status_code == 422 and "more than 2 groups" in resp.get_json()["message"]


@pytest.mark.parametrize("chart", ["bar", "line", "pie", "stacked"])
def test_aggregate_as_svg_chart_without_external_scripts(api, chart):
    resp = api.call("POST", f"/api/v1/query/vehicles/aggregate?format=svg&chart={chart}",
                    {"group_by": ["make", "fuel_type"], "title": "Cars"})
    assert resp.status_code == 200 and resp.mimetype == "image/svg+xml"
    svg = resp.get_data(as_text=True)
    assert "<svg" in svg and "Petrol" in svg and "kozea.github.io" not in svg
    assert re.search(r"<script[^>]*(src|href)=", svg) is None  # no CDN script


# --- saved queries ------------------------------------------------------------------------


def _role_id(app: Flask, name: str) -> int:
    from carebiz.models import Role

    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        return sess.scalar(select(Role.id).where(Role.name == name))


def test_saved_queries_crud_and_visibility(api, app, data):
    definition = {"where": {"field": "make", "op": "eq", "value": "BYD"}, "sort": ["-year"]}
    resp = api.call("POST", "/api/v1/query/saved", {"source": "vehicles", "name": "BYD",
                                                     "definition": definition}, user="sales")
    assert resp.status_code == 201, resp.get_json()
    saved = resp.get_json()
    url = f"/api/v1/query/saved/{saved['id']}"
    assert saved["visibility"] == "private"
    assert api.call("GET", url, user="viewer").status_code == 404
    assert api.call("GET", url, user="sales").get_json()["definition"] == definition

    branch_a = data["branches"]["A"]
    resp = api.call("PUT", url, {"visibility": "branch", "branch_id": branch_a}, user="sales")
    assert resp.status_code == 200 and resp.get_json()["branch_id"] == branch_a
    listed = api.call("GET", "/api/v1/query/saved?source=vehicles", user="viewer").get_json()
    assert [s["name"] for s in listed["items"]] == ["BYD"]
    assert api.call("PUT", url, {"name": "mine"}, user="viewer").status_code == 403
    assert api.call("DELETE", url, user="viewer").status_code == 403

    role = _role_id(app, "salesperson")
    assert api.call("PUT", url, {"visibility": "role", "role_id": role},
                    user="sales").status_code == 200
    assert api.call("GET", url, user="viewer").status_code == 404
    viewer_role = _role_id(app, "read_only")
    resp = api.call("PUT", url, {"visibility": "role", "role_id": viewer_role}, user="sales")
    assert resp.status_code == 422 and "role_id" in resp.get_json()["errors"]
    resp = api.call("PUT", url, {"visibility": "branch", "branch_id": data["branches"]["B"]},
                    user="sales")
    assert resp.status_code == 422 and "branch_id" in resp.get_json()["errors"]

    bad = api.call("PUT", url, {"definition": {"where": {"field": "year", "op": "like"}}},
                   user="sales")
    assert bad.status_code == 422 and "definition.where.op" in bad.get_json()["errors"]
    assert api.call("DELETE", url, user="sales").status_code == 204
    assert api.call("GET", url, user="sales").status_code == 404


def test_saving_needs_the_source_permission_and_a_known_source(api):
    resp = api.call("POST", "/api/v1/query/saved", {"source": "nope", "name": "x"})
    assert resp.status_code == 404
    resp = api.call("POST", "/api/v1/query/saved", {"source": "vehicles", "name": ""})
    assert resp.status_code == 422


def test_total_is_capped_for_wide_queries(monkeypatch, app, seeded):
    """Counting stops at COUNT_CAP: the answer says so instead of scanning every match."""
    from carebiz.crm.services.parties import create_party
    from carebiz.models import User
    from carebiz.query import service

    monkeypatch.setattr(service, "COUNT_CAP", 3)
    with app.test_request_context():
        from carebiz import db

        sess = db.session()
        for i in range(5):
            create_party(sess, {"name": f"Cap {i}", "branch_id": seeded["branches"]["A"]},
                         allow_duplicates=True)
        sess.commit()
        admin = sess.get(User, seeded["users"]["admin"])
        page = service.run(sess, admin, "customers", {"per_page": 2})
        assert (page["total"], page["total_capped"], len(page["items"])) == (3, True, 2)
        page = service.run(sess, admin, "customers", {"where": {
            "field": "name", "op": "eq", "value": "Cap 1"}})
        assert (page["total"], page["total_capped"]) == (1, False)


def test_customer_name_prefix_and_sort_use_the_name_key(app, seeded):
    """"starts with" on a customer's name ignores case, width and spaces: it is served by
    the indexed case-folded name key."""
    from carebiz.crm.services.parties import create_party
    from carebiz.models import User
    from carebiz.query import service

    with app.test_request_context():
        from carebiz import db

        sess = db.session()
        for name in ("Wang Wei", "wang xiu", "ＷＡＮＧ Fang", "Li Na"):
            create_party(sess, {"name": name, "branch_id": seeded["branches"]["A"]},
                         allow_duplicates=True)
        sess.commit()
        admin = sess.get(User, seeded["users"]["admin"])
        page = service.run(sess, admin, "customers", {
            "where": {"field": "name", "op": "starts_with", "value": "WANG"}})
        assert sorted(i["name"] for i in page["items"]) == ["Wang Wei", "wang xiu", "ＷＡＮＧ Fang"]
        page = service.run(sess, admin, "customers", {
            "where": {"field": "name", "op": "starts_with", "value": "wang w"}})
        assert [i["name"] for i in page["items"]] == ["Wang Wei"]
