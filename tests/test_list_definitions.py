"""Every registered list answers the same rows, in the same order, on its HTML page, its JSON
endpoint and in every export format, for the same arguments, as a branch-limited user and as
an administrator: they all read one :class:`carebiz.lists.ListDefinition`. Bad filter values
are a 422 naming the argument, never a 500 or a silently unfiltered list."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from html.parser import HTMLParser
from typing import Any

import docx
import openpyxl
import pytest
from flask import url_for

from carebiz.lists import (
    BOOL,
    CHOICE,
    DATE_RANGE,
    ID,
    PREFIXED,
    DateRange,
    Filter,
    ListDefinition,
    registered_lists,
)
from carebiz.testing import make_customer, make_user, make_vehicle, valid_vin

#: the user limited to branch A (every right, but no superuser: one branch's rows)
LIMITED = "limited"
ROW_ID = re.compile(rb'data-row-id="(\d+)"')


# -- reading each answer as the list of row ids it shows ----------------------------------------


def _after_header(rows: list[list[Any]]) -> list[int]:
    """The ids under the header row (whose first cell is the label of the ``id`` column);
    the lines before it are the export's title and filters."""
    start = next(i for i, row in enumerate(rows) if row and str(row[0]).strip() == "Id")
    return [int(str(row[0]).strip()) for row in rows[start + 1:]
            if row and str(row[0]).strip()]


def _csv_ids(data: bytes) -> list[int]:
    return _after_header(list(csv.reader(io.StringIO(data.decode("utf-8-sig")))))


def _xlsx_ids(data: bytes) -> list[int]:
    sheet = openpyxl.load_workbook(io.BytesIO(data)).active
    return _after_header([list(row) for row in sheet.iter_rows(values_only=True)])


def _docx_ids(data: bytes) -> list[int]:
    table = docx.Document(io.BytesIO(data)).tables[0]
    return _after_header([[cell.text for cell in row.cells] for row in table.rows])


def _txt_ids(data: bytes) -> list[int]:
    lines = [line.split() for line in data.decode("utf-8").splitlines()]
    return _after_header([line for line in lines if not (line and set(line[0]) == {"-"})])


class _Cells(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self.rows:
            self.rows[-1].append("".join(self._cell))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def _html_ids(data: bytes) -> list[int]:
    cells = _Cells()
    cells.feed(data.decode("utf-8"))
    return _after_header(cells.rows)


READERS: dict[str, Callable[[bytes], list[int]]] = {
    "csv": _csv_ids, "xlsx": _xlsx_ids, "docx": _docx_ids, "txt": _txt_ids, "html": _html_ids}


# -- the business the lists show ------------------------------------------------------------------


@pytest.fixture
def business(app, seeded) -> dict[str, Any]:
    """Customers, vehicles, users, branches and their audit entries in both branches: a
    merged customer, one with a custom field, organizations, tags and roles."""
    from carebiz.crm.models import Party
    from carebiz.crm.services.custom_fields import define
    from carebiz.crm.services.merge import merge_parties
    from carebiz.models import User
    from carebiz.services.roles import create_role
    from carebiz.testing import make_branch

    a, b = seeded["branches"]["A"], seeded["branches"]["B"]
    ext = app.extensions["carebiz"]
    with app.app_context(), ext.session_factory() as sess:
        admin = sess.get(User, seeded["users"]["admin"])
        every = [p.name for p in ext.host.collect("permissions")]
        create_role(sess, "branch_admin", "Branch admin", every, every)
        make_user(sess, LIMITED, roles=["branch_admin"], branches=["A"])
        make_branch(sess, "C", "Closed branch", active=False)
        define(sess, "party", "membership", "Membership", "text")
        wang = make_customer(sess, "王伟", a, user=admin, phones=["13800138000"],
                             roles=["customer"], tags=["vip"],
                             custom={"membership": "gold"})
        make_customer(sess, "Wang Fang", b, user=admin, roles=["prospect"], tags=["vip"])
        make_customer(sess, "Acme Fleet", a, user=admin, kind="organization",
                      roles=["fleet"], custom={"membership": "gold"})
        make_customer(sess, "Zhou Li", b, user=admin, roles=["customer"])
        twin = make_customer(sess, "王伟", a, user=admin, custom={"membership": "silver"})
        sess.flush()
        merge_parties(sess, sess.get(Party, wang.id), sess.get(Party, twin.id), user=admin)
        make_vehicle(sess, 10, a, owner_id=wang.id, user=admin, make="BYD", model="Han",
                     fuel_type="bev", plate="粤B12345", year=2022)
        make_vehicle(sess, 20, a, user=admin, make="Toyota", model="Camry", year=2019)
        make_vehicle(sess, 30, b, user=admin, make="BYD", model="Tang", fuel_type="phev",
                     year=2021)
        if "sales" in ext.host.names:  # the sales plugin's lists get rows in both branches
            _sales_rows(sess, admin, a, b)
        if "gps" in ext.host.names:  # the gps plugin's waybills and subscriptions
            _gps_rows(sess, admin, a, b)
        sess.commit()
        return {"A": a, "B": b, "wang": wang.id, "vin": valid_vin(10)}


def _sales_rows(sess: Any, admin: Any, a: int, b: int) -> None:
    import datetime as dt

    from carebiz_plugins.sales.services import prospects, showroom, visits

    now = dt.datetime.now(dt.UTC)
    made = []
    for k, (branch, source) in enumerate([(a, "walk_in"), (b, "phone"), (a, "autohome")]):
        prospect, _new = prospects.register_prospect(sess, {
            "name": f"Sales {k}", "phone": f"1390000000{k}", "source": source,
            "branch_id": branch, "points_of_interest": ["price"], "industry": "it",
            "models_of_interest": ["Camry"]}, user=admin)
        made.append(prospect)
        visits.schedule_visit(sess, prospect, due_at=now - dt.timedelta(days=k), user=admin)
        showroom.log_visit(sess, {"prospect_id": prospect.id, "branch_id": branch}, user=admin)
    prospects.close_prospect(sess, made[2], outcome="won", user=admin)
    from carebiz_plugins.sales.services import opportunities

    for k, (branch, brand) in enumerate([(a, "Toyota"), (b, "BYD"), (a, "Toyota")]):
        opp = opportunities.create_opportunity(sess, {
            "customer_id": made[k].customer_id, "branch_id": branch, "brand": brand,
            "model": "Camry", "expected_value": "180000", "currency": "CNY",
            "expected_close_on": "2027-01-15"}, user=admin)
        if k == 2:
            opportunities.move(sess, opp, "quotation", user=admin)


def _gps_rows(sess: Any, admin: Any, a: int, b: int) -> None:
    import datetime as dt

    from carebiz_plugins.gps.models import GpsDevice
    from carebiz_plugins.gps.services import subscriptions, waybills

    for k, branch in enumerate((a, b, a)):
        owner = make_customer(sess, f"Fleet {k}", branch, user=admin)
        car = make_vehicle(sess, 40 + k, branch, owner_id=owner.id, user=admin,
                           plate=f"沪D8000{k}")
        device = GpsDevice(imei=f"35630704244300{k}", vehicle_id=car.id, branch_id=branch,
                           status="active")
        sess.add(device)
        sess.flush()
        start = dt.date(2025, 1, 1) + dt.timedelta(days=300 * k)
        subscriptions.subscribe(sess, device, start_on=start)
        bill = waybills.create_waybill(sess, {
            "shipper_name": f"Shipper {k}", "consignee_name": f"Consignee {k}",
            "consignee_phone": "13800000000", "goods": "parts", "vehicle_id": car.id,
            "branch_id": branch}, user=admin)
        if k:
            waybills.move(sess, bill, user=admin)


def argument_sets(name: str, ids: dict[str, Any]) -> list[dict[str, str]]:
    """The filter and search arguments tried on each list (sorts are added from the
    definition): every filter of every list appears in one of them."""
    sets = {
        "crm.customers": [
            {"q": "wang"}, {"q": "13800138000"}, {"role": "customer"}, {"tag": "vip"},
            {"kind": "organization"}, {"branch_id": ids["B"]}, {"branch": ids["A"]},
            {"segment": "new"}, {"include_merged": "true", "q": "王伟"},
            {"include_merged": "1"}, {"custom.membership": "gold"},
            {"custom.membership": "gold", "include_merged": "yes", "sort": "-name"},
            # what people remember (issue 10): a phone's tail and a run of its digits, the
            # plate without its province, part of a name, pinyin initials, a VIN's end
            {"q": "8000"}, {"q": "0013800"}, {"q": "B12345"}, {"q": "伟"}, {"q": "fang"},
            {"q": "ww"}, {"q": ids["vin"][-6:]}],
        "crm.vehicles": [
            {"make": "byd"}, {"fuel_type": "bev"}, {"fuel": "phev"}, {"q": "Han"},
            {"vin": ids["vin"][-6:]}, {"plate": "粤b·12345"}, {"owner_id": ids["wang"]},
            {"branch_id": ids["B"], "sort": "-year"}, {"q": "B12345"},
            {"q": ids["vin"][-6:]}],
        "admin.users": [{"q": "sa"}, {"role": "salesperson"}, {"status": "active"}],
        "admin.branches": [{"q": "branch"}, {"status": "inactive"}],
        "admin.audit": [{"entity_type": "party"}, {"entity_id": str(ids["wang"])},
                        {"actor": "admin"}, {"entity_type": "vehicle", "sort": "id"}],
        # the sales plugin's lists (installed with the platform)
        "sales.prospects": [
            {"status": "won"}, {"open": "1"}, {"source": "walk_in"}, {"mine": "yes"},
            {"salesperson_id": ids["A"]}, {"branch_id": ids["B"]}, {"customer_id": ids["wang"]},
            {"industry": "it"}, {"point": "price"}, {"model": "Camry"}, {"q": "sales"},
            {"registered_from": "2020-01-01"}, {"closed_to": "2030-01-01"},
            {"reached": "test_drive"}],
        "sales.return_visits": [
            {"status": "open"}, {"overdue": "1"}, {"due_from": "2020-01-01"},
            {"assignee_id": ids["A"]}, {"mine": "1"}, {"prospect_id": "1"},
            {"customer_id": ids["wang"]}, {"q": "13900000001"}],
        "sales.showroom_visits": [
            {"arrived_from": "2020-01-01"}, {"salesperson_id": ids["A"]},
            {"first_visit": "true"}, {"outcome": "browsing"}],
        "sales.test_drives": [
            {"status": "booked"}, {"vehicle_id": "1"}, {"customer_id": ids["wang"]},
            {"starts_to": "2030-01-01"}],
        "sales.stock": [{"status": "in_stock"}, {"branch_id": ids["B"]}, {"model": "camry"}],
        "sales.quotations": [{"status": "open"}, {"customer_id": ids["wang"]},
                             {"branch_id": ids["A"]}],
        "sales.orders": [{"status": "confirmed"}, {"customer_id": ids["wang"]},
                         {"branch_id": ids["A"]}, {"vehicle_status": "in_stock"}],
        "sales.purchase_orders": [{"status": "ordered"}, {"supplier_id": ids["wang"]},
                                  {"branch_id": ids["A"]}],
        "sales.opportunities": [{"status": "open"}, {"stage": "quotation"},
                                {"branch_id": ids["A"]}, {"brand": "toyota"},
                                {"salesperson_id": ids["A"]}, {"customer_id": ids["wang"]},
                                {"closes_from": "2020-01-01", "closes_to": "2030-01-01"},
                                {"q": "camry"}],
        # the GPS plugin's trackers (registered, pending, by IMEI, plate or label)
        "gps.devices": [{"status": "all"}, {"status": "pending"}, {"q": "3563"},
                        {"q": "B12345", "status": "active"}, {"service": "expired"},
                        {"service": "none", "status": "all"}],

        # the gps plugin's logistics lists
        "gps.waybills": [{"status": "loaded"}, {"vehicle_id": "1"}, {"branch_id": ids["A"]},
                         {"q": "consignee"}, {"q": "WB"}],
        "gps.subscriptions": [{"state": "expired"}, {"state": "active"},
                              {"customer_id": ids["wang"]}, {"branch_id": ids["B"]},
                              {"q": "沪D"}, {"q": "3563"}],
    }
    return [{k: str(v) for k, v in args.items()} for args in sets[name]]


def _argument_names(args: dict[str, str], definition: ListDefinition) -> set[str]:
    """The filters these arguments set (by the filter's name, whatever spelling was sent)."""
    named = set()
    for flt in definition.filters:
        spellings = (flt.name, *flt.aliases, f"{flt.name}_from", f"{flt.name}_to")
        if any(k in spellings or k.startswith(f"{flt.name}.") for k in args):
            named.add(flt.name)
    return named


def _all_sets(definition: ListDefinition, ids: dict[str, Any]) -> list[dict[str, str]]:
    sets: list[dict[str, str]] = [{}]
    sets += argument_sets(definition.name, ids)
    for key in definition.sorts:
        sets += [{"sort": key}, {"sort": f"-{key}"}]
    return sets


def _url(app, endpoint: str, args: dict[str, str], **extra: str) -> str:
    with app.test_request_context():
        return url_for(endpoint, **args, **extra)


@pytest.mark.parametrize("username", [LIMITED, "admin"])
def test_page_api_and_every_export_list_the_same_rows(app, business, client_for, api_client,
                                                      username):
    from carebiz.export.service import formats

    host = app.extensions["carebiz"].host
    lists = registered_lists(host)
    assert {"crm.customers", "crm.vehicles", "admin.users", "admin.branches",
            "admin.audit"} <= set(lists)
    offered = set(formats(host))
    assert {"csv", "xlsx"} <= offered
    readers = {name: read for name, read in READERS.items() if name in offered}
    client, api = client_for(username), api_client(username)
    for name, definition in lists.items():
        assert definition.export.columns(None)[0].key == "id", name
        for args in _all_sets(definition, business):
            where = f"{name} {args} as {username}"
            files = {}
            for fmt, read in readers.items():
                resp = client.get(_url(app, "exports.export", args, name=name, format=fmt))
                assert resp.status_code == 200, (where, fmt, resp.data[:300])
                files[fmt] = read(resp.data)
            expected = files["csv"]
            for fmt, got in files.items():
                assert got == expected, (where, fmt)
            page = client.get(_url(app, definition.page, args))
            assert page.status_code == 200, (where, page.data[:300])
            assert [int(i) for i in ROW_ID.findall(page.data)] == expected[:50], where
            as_file = client.get(_url(app, definition.page, args, format="xlsx"))
            assert _xlsx_ids(as_file.data) == expected, where
            if definition.api:
                body = api.get(_url(app, definition.api, args, per_page="100"))
                assert body.status_code == 200, (where, body.get_json())
                assert [item["id"] for item in body.get_json()["items"]] == expected, where
                assert body.get_json()["total"] == len(expected), where
                as_csv = api.get(_url(app, definition.api, args, format="csv"))
                assert _csv_ids(as_csv.data) == expected, where


def test_branch_limited_user_sees_fewer_rows_in_every_answer(app, business, client_for,
                                                             api_client):
    """The row filters hold in each answer: branch B's customers are in the admin's files,
    not in the branch-A user's — even when the user asks for branch B by id."""
    wanted = {"branch_id": str(business["B"])}
    admin = _csv_ids(client_for("admin").get(
        _url(app, "exports.export", wanted, name="crm.customers", format="csv")).data)
    mine = client_for(LIMITED).get(
        _url(app, "exports.export", wanted, name="crm.customers", format="csv"))
    assert admin and _csv_ids(mine.data) == []
    body = api_client(LIMITED).get(_url(app, "crm_api.Customers", wanted)).get_json()
    assert body["items"] == [] and body["total"] == 0
    every = _csv_ids(api_client("admin").get(
        _url(app, "crm_api.Customers", {}, format="csv")).data)
    assert set(admin) < set(every)


def test_every_filter_of_every_list_is_tried(app, business):
    """A new filter without an argument set here fails: the equality above covers it."""
    for name, definition in registered_lists(app.extensions["carebiz"].host).items():
        tried = set()
        for args in argument_sets(name, business):
            tried |= _argument_names(args, definition)
        assert tried == {f.name for f in definition.filters}, name
        if definition.search is not None:
            assert any("q" in args for args in argument_sets(name, business)), name


def test_export_honours_api_only_arguments(app, business, api_client):
    """``include_merged`` and ``custom.<name>`` reach the export, as in the JSON."""
    api = api_client("admin")
    for args in ({"include_merged": "true"}, {"custom.membership": "silver",
                                              "include_merged": "true"}):
        json_ids = [c["id"] for c in api.get(
            _url(app, "crm_api.Customers", args)).get_json()["items"]]
        assert _csv_ids(api.get(_url(app, "crm_api.Customers", args, format="csv")).data) \
            == json_ids
    merged = [c["id"] for c in api.get(_url(app, "crm_api.Customers", {
        "custom.membership": "silver", "include_merged": "true"})).get_json()["items"]]
    assert len(merged) == 1
    assert _csv_ids(api.get(_url(app, "crm_api.Customers", {"custom.membership": "silver"},
                                 format="csv")).data) == []


# -- bad filter values --------------------------------------------------------------------


def _bad_value(flt: Filter) -> dict[str, str]:
    if flt.type == DATE_RANGE:
        return {f"{flt.name}_from": "yesterday"}
    if flt.type == PREFIXED:
        return {f"{flt.name}.Not-A-Name": "x"}
    return {flt.name: "x" * (flt.max_length + 1) if flt.type not in (CHOICE, ID, BOOL)
            else "not-a-value"}


def test_bad_filter_values_are_a_422_naming_the_argument(app, business, client_for,
                                                         api_client):
    client, api = client_for("admin"), api_client("admin")
    for name, definition in registered_lists(app.extensions["carebiz"].host).items():
        for flt in definition.filters:
            bad = _bad_value(flt)
            key = next(iter(bad))
            export = client.get(_url(app, "exports.export", bad, name=name, format="csv"))
            assert export.status_code == 422 and key.encode() in export.data, (name, bad)
            page = client.get(_url(app, definition.page, bad))
            assert page.status_code == 422 and key.encode() in page.data, (name, bad)
            if definition.api:
                as_file = api.get(_url(app, definition.api, bad, format="xlsx"))
                assert as_file.status_code == 422, (name, bad)
                assert key in as_file.get_json()["errors"], (name, bad)


def test_every_problem_is_reported_at_once(app, business, api_client):
    resp = api_client("admin").get("/api/v1/vehicles?format=csv&owner_id=0"
                                   "&fuel_type=steam&make=" + "m" * 61)
    assert resp.status_code == 422
    errors = resp.get_json()["errors"]
    assert set(errors) == {"owner_id", "fuel_type", "make"}
    assert all(isinstance(messages, list) and messages for messages in errors.values())
    assert "petrol" in errors["fuel_type"][0]


def test_a_filter_the_user_may_not_use_is_refused(app, business, client_for):
    """Filtering by value segment would tell who is a champion: without the right, 422."""
    viewer = client_for("viewer")
    assert viewer.get("/customers").status_code == 200
    assert viewer.get("/customers?format=csv").status_code == 403  # reads, does not export
    from carebiz.security.permissions import registered_permissions
    from carebiz.services.roles import get_role, set_permissions

    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        role = get_role(sess, "read_only")
        set_permissions(sess, role, role.permission_names | {"data.export"},
                        registered_permissions())
        sess.commit()
    resp = viewer.get("/customers?format=csv&segment=new")
    assert resp.status_code == 422 and b"segment" in resp.data
    assert viewer.get("/customers?segment=new").status_code == 422
    assert client_for("sales").get("/export/crm.customers?format=csv&segment=new") \
        .status_code == 200


def test_filter_types_parse_their_values():
    never: Any = None
    bool_filter = Filter("merged", "Merged", never, type=BOOL, default=False)
    assert bool_filter.parse({}) is False
    assert bool_filter.parse({"merged": "Yes"}) is True
    assert bool_filter.parse({"merged": "off"}) is False
    dates = Filter("at", "At", never, type=DATE_RANGE)
    assert dates.parse({}) is None
    got = dates.parse({"at_from": "2026-01-02"})
    assert got == DateRange(__import__("datetime").date(2026, 1, 2), None)
    from carebiz.errors import ValidationFailed

    with pytest.raises(ValidationFailed) as failed:
        dates.parse({"at_from": "2026-02-01", "at_to": "2026-01-01"})
    assert "at_from" in failed.value.errors
    prefixed = Filter("custom", "Custom", never, type=PREFIXED)
    assert prefixed.parse({"custom.size": " xl ", "other": "1"}) == {"size": "xl"}
    ident = Filter("owner", "Owner", never, type=ID, aliases=("person",))
    assert ident.parse({"person": "12"}) == 12
    with pytest.raises(ValidationFailed):
        ident.parse({"owner": "2147483648"})
    with pytest.raises(ValueError):
        Filter("x", "X", never, type="colour")
