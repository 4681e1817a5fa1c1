"""The CRM JSON API (/api/v1/customers, vehicles, timeline, lookup, my-day …) over HTTP with
bearer tokens of the seeded users: admin and manager see every branch, sales and viewer
(read only) work in branch A."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import event

from carebiz.crm.validation import vin_check_digit
from tests.conftest import token_for

UTC = dt.UTC


class Api:
    """A test client speaking for the seeded users by their bearer tokens."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.client = app.test_client()
        self.tokens: dict[str, str] = {}

    def headers(self, user: str) -> dict[str, str]:
        if user not in self.tokens:
            self.tokens[user] = token_for(self.app, user)
        return {"Authorization": f"Bearer {self.tokens[user]}"}

    def get(self, url: str, user: str = "admin", **params: Any) -> Any:
        return self.client.get(url, headers=self.headers(user), query_string=params or None)

    def post(self, url: str, json: Any = None, user: str = "admin", **kwargs: Any) -> Any:
        return self.client.post(url, json=json, headers=self.headers(user), **kwargs)

    def patch(self, url: str, json: Any = None, user: str = "admin") -> Any:
        return self.client.patch(url, json=json, headers=self.headers(user))


@pytest.fixture
def api(app: Flask, seeded: dict[str, Any]) -> Api:
    return Api(app)


def vin(serial: int, wmi: str = "LSV") -> str:
    """A VIN with a correct check digit (9th character)."""
    raw = f"{wmi}AB2180N2{serial:06d}"
    return raw[:8] + vin_check_digit(raw) + raw[9:]


def mobile(n: int) -> str:
    return f"139{n:08d}"


def customer(api: Api, user: str = "sales", status: int = 201, **data: Any) -> dict[str, Any]:
    data.setdefault("name", "王小明")
    resp = api.post("/api/v1/customers", data, user=user)
    assert resp.status_code == status, resp.get_json()
    return resp.get_json()


def vehicle(api: Api, user: str = "sales", status: int = 201, **data: Any) -> dict[str, Any]:
    resp = api.post("/api/v1/vehicles", data, user=user)
    assert resp.status_code == status, resp.get_json()
    return resp.get_json()


def entry(api: Api, party_id: int, user: str = "sales", status: int = 201,
          **data: Any) -> dict[str, Any]:
    data.setdefault("kind", "note")
    resp = api.post(f"/api/v1/customers/{party_id}/timeline", data, user=user)
    assert resp.status_code == status, resp.get_json()
    return resp.get_json()


def iso(value: dt.datetime) -> str:
    return value.isoformat()


# --- customers ----------------------------------------------------------------------------


def test_create_customer_returns_phones_in_e164(api, seeded):
    made = customer(api, name="  王   小明 ", phones=["138 0013 8000", "+86 (139) 0013-9000",
                                                    "0086 137 0013 7000", "010-6588 0000",
                                                    "１３６００１３６０００"],
                    emails=["Wang@Example.COM"], tags=["vip"], gender="male",
                    birthday="1985-04-12", custom={})
    assert made["phones"] == ["+8613800138000", "+8613900139000", "+8613700137000",
                              "+861065880000", "+8613600136000"]
    assert made["name"] == "王 小明"
    assert made["emails"] == ["wang@example.com"]
    assert made["roles"] == ["customer"] and made["tags"] == ["vip"]
    assert made["kind"] == "person" and made["branch_id"] == seeded["branches"]["A"]
    assert made["active"] is True and made["merged_into_id"] is None
    assert made["birthday"] == "1985-04-12"
    created = dt.datetime.fromisoformat(made["created_at"])
    assert created.utcoffset() is not None
    fetched = api.get(f"/api/v1/customers/{made['id']}", user="sales").get_json()
    assert fetched["phones"] == made["phones"] and fetched["id"] == made["id"]
    assert dt.datetime.fromisoformat(fetched["updated_at"]).utcoffset() is not None


def test_get_reads_the_customer_as_the_orm_record_shows_it(api, app, seeded):
    """``GET /customers/<id>`` reads one plain row (the lists as JSON columns): its answer is
    the schema's dump of the ORM record, lists in their order, after edits that reorder
    them, for a merged record too, and the ETag is the version."""
    from carebiz import db
    from carebiz.crm import schemas
    from carebiz.crm.services.parties import read_party, visible_whole_party
    from carebiz.services.users import get_user

    rich = customer(api, name="Chen Rich", phones=["13900139003", "13800138001", "13700137002"],
                    emails=["b@example.com", "a@example.com"], tags=["vip", "fleet", "a-tag"],
                    roles=["supplier", "customer"], birthday="1980-02-29", notes="line\nline")
    bare = customer(api, name="Chen Bare", phones=[], emails=[])
    got = api.get(f"/api/v1/customers/{rich['id']}", user="sales")
    assert got.get_json()["phones"] == ["+8613900139003", "+8613800138001", "+8613700137002"]
    assert got.get_json()["tags"] == ["a-tag", "fleet", "vip"]
    assert got.headers["ETag"] == f'"{rich["version"]}"'
    changed = api.patch(f"/api/v1/customers/{rich['id']}",
                        {"phones": ["13700137002", "13900139003"], "emails": ["a@example.com"],
                         "version": rich["version"]}, user="sales").get_json()
    assert changed["phones"] == ["+8613700137002", "+8613900139003"]
    merged = api.post("/api/v1/customers/merge", {"keep_id": rich["id"],
                                                  "remove_id": bare["id"]}, user="admin")
    assert merged.status_code == 200, merged.get_json()
    dump = schemas.CustomerSchema().dump
    with app.test_request_context("/"):
        sess = db.session()
        for name in ("sales", "admin"):
            user = get_user(sess, name)
            for party_id in (rich["id"], bare["id"]):
                orm = dump(visible_whole_party(sess, party_id, user))
                assert dump(read_party(sess, party_id, user)) == orm
                assert api.get(f"/api/v1/customers/{party_id}", user=name).get_json() == orm
        assert dump(read_party(sess, bare["id"], user))["merged_into_id"] == rich["id"]
        other = customer(api, user="admin", name="Chen B", branch_id=seeded["branches"]["B"])
        assert read_party(sess, other["id"], get_user(sess, "sales")) is None


def test_duplicate_answers_409_with_the_matches_then_allow_duplicates(api):
    first = customer(api, name="Li Na", phones=["13800138000"], emails=["li@example.com"])
    resp = api.post("/api/v1/customers", {"name": "Li  Na", "phones": ["+86 138-0013-8000"]},
                    user="sales")
    assert resp.status_code == 409
    body = resp.get_json()
    assert body["code"] == 409 and body["status"] == "possible_duplicate"
    assert body["duplicates"] == [{"id": first["id"], "name": "Li Na", "reason": "phone",
                                   "value": "+8613800138000"}]
    assert "phones" in body["errors"] and "Li Na" in body["message"]
    second = customer(api, name="Li Na", phones=["+86 138-0013-8000"], allow_duplicates=True)
    assert second["id"] != first["id"] and second["phones"] == ["+8613800138000"]
    # a VIN given with the customer is checked too
    car = vehicle(api, vin=vin(1), owner_id=first["id"])
    resp = api.post("/api/v1/customers", {"name": "Someone", "vins": [car["vin"].lower()]},
                    user="sales")
    assert resp.status_code == 409
    assert resp.get_json()["duplicates"][0]["reason"] == "vin"


def test_field_errors_name_the_field_and_the_reason(api):
    resp = api.post("/api/v1/customers", {"name": "Zhang San", "id_kind": "cn_resident",
                                          "id_number": "110105194912310021",
                                          "emails": ["zhang@@example.com"],
                                          "phones": ["12345"]}, user="sales")
    assert resp.status_code == 422
    body = resp.get_json()
    assert set(body["errors"]) == {"id_number", "emails", "phones"}
    (id_message,) = body["errors"]["id_number"]  # every value is a list of messages
    assert "check digit" in id_message and "should be X" in id_message
    assert "exactly one @" in body["errors"]["emails"][0]
    assert body["status"] == "validation_failed"
    ok = customer(api, name="Zhang San", id_kind="cn_resident", id_number="11010519491231002x")
    assert ok["id_number"] == "11010519491231002X"
    resp = api.post("/api/v1/customers", {}, user="sales")
    assert resp.status_code == 422 and "name" in resp.get_json()["errors"]
    resp = api.post("/api/v1/customers", {"name": "X", "preferred_channel": "pigeon",
                                          "birthday": "1990-02-30"}, user="sales")
    assert set(resp.get_json()["errors"]) == {"preferred_channel", "birthday"}


def test_bad_input_is_never_a_500(api):
    url = "/api/v1/customers"
    headers = api.headers("sales")
    resp = api.client.post(url, data="{not json", headers=headers,
                           content_type="application/json")
    assert resp.status_code == 400 and "body" in resp.get_json()["errors"]
    for body in ([1, 2], "text", 5, None):
        resp = api.post(url, body, user="sales")
        assert resp.status_code in (400, 422), (body, resp.get_json())
    for body in ({"name": "X", "phones": "13800138000"}, {"name": 5},
                 {"name": "X", "branch_id": "A"}, {"name": "X", "branch_id": 10**30},
                 {"name": "X", "do_not_contact": "maybe"}, {"name": "X", "colour": "red"},
                 {"name": "X\x00Y"}, {"name": "X", "custom": ["a"]},
                 {"name": "X", "custom": {"nope": "1"}}):
        resp = api.post(url, body, user="sales")
        assert resp.status_code == 422, (body, resp.get_json())
        assert resp.get_json()["errors"], body
    for path in ("/api/v1/customers/abc", "/api/v1/customers/0", "/api/v1/customers/-1",
                 f"/api/v1/customers/{10**30}", "/api/v1/customers/99999",
                 "/api/v1/vehicles/99999/odometer", "/api/v1/segments/nope/customers"):
        resp = api.get(path)
        assert resp.status_code == 404, path
        assert resp.get_json()["code"] == 404
    for params in ({"page": "x"}, {"page": 10**30}, {"per_page": 0}, {"branch_id": 10**30},
                   {"sort": "colour"}, {"custom.Bad-Name": "1"}, {"q": "a\x00"}):
        assert api.get(url, **params).status_code == 422, params
    resp = api.get("/api/v1/customers/1/timeline", before="2024-01-01T00:00:00")
    assert resp.status_code in (404, 422)
    assert api.client.get(url).status_code == 401


def test_branch_row_filter_hides_other_branches(api, seeded):
    other = customer(api, user="admin", name="Zhao Branch B", branch_id=seeded["branches"]["B"],
                     phones=["13500135000"])
    mine = customer(api, name="Zhao Branch A")
    car = vehicle(api, user="admin", vin=vin(7), owner_id=other["id"],
                  branch_id=seeded["branches"]["B"])
    for path in (f"/api/v1/customers/{other['id']}",
                 f"/api/v1/customers/{other['id']}/overview",
                 f"/api/v1/customers/{other['id']}/timeline",
                 f"/api/v1/vehicles/{car['id']}"):
        assert api.get(path, user="sales").status_code == 404, path
        assert api.get(path, user="manager").status_code == 200, path
    listed = api.get("/api/v1/customers", user="sales", q="zhao").get_json()
    assert [c["id"] for c in listed["items"]] == [mine["id"]] and listed["total"] == 1
    assert api.get("/api/v1/customers", user="manager", q="zhao").get_json()["total"] == 2
    assert api.get("/api/v1/vehicles", user="sales").get_json()["total"] == 0
    assert api.get("/api/v1/lookup", user="sales", q="13500135000").get_json()["total"] == 0
    assert api.patch(f"/api/v1/customers/{other['id']}", {"name": "x"},
                     user="sales").status_code == 404
    # writing into a branch one does not work in is refused
    resp = api.post("/api/v1/customers", {"name": "Nope", "branch_id": seeded["branches"]["B"]},
                    user="sales")
    assert resp.status_code == 422 and "branch_id" in resp.get_json()["errors"]
    # ids in a body that name hidden records are field errors
    resp = api.post("/api/v1/vehicles", {"vin": vin(8), "owner_id": other["id"]}, user="sales")
    assert resp.status_code == 422 and "owner_id" in resp.get_json()["errors"]


def test_list_filters_sort_pagination_and_custom_fields(api, seeded):
    resp = api.post("/api/v1/custom-fields", {"entity": "party", "name": "membership",
                                              "label": "Membership", "type": "choice",
                                              "choices": ["gold", "silver"]})
    assert resp.status_code == 201, resp.get_json()
    assert api.post("/api/v1/custom-fields", {"entity": "party", "name": "membership",
                                              "label": "Again", "type": "text"}).status_code == 409
    bad = api.post("/api/v1/custom-fields", {"entity": "party", "name": "Bad Name",
                                             "label": "", "type": "colour"})
    assert bad.status_code == 422 and set(bad.get_json()["errors"]) == {"name", "label", "type"}
    assert api.post("/api/v1/custom-fields", {"entity": "party", "name": "x", "label": "X",
                                              "type": "text"}, user="sales").status_code == 403
    fields = api.get("/api/v1/custom-fields", user="sales", entity="party").get_json()
    assert [f["name"] for f in fields["items"]] == ["membership"]
    assert api.get("/api/v1/custom-fields", entity="vehicle").get_json()["items"] == []

    anna = customer(api, name="Anna", custom={"membership": "gold"}, tags=["vip"])
    bob = customer(api, name="bob", custom={"membership": "silver"}, roles=["prospect"])
    carl = customer(api, name="Carl", custom={"membership": "gold"}, roles=["customer", "agent"])
    org = customer(api, name="Acme Fleet", kind="organization", roles=["fleet"])
    resp = api.post("/api/v1/customers", {"name": "Dora", "custom": {"membership": "bronze"}},
                    user="sales")
    assert resp.status_code == 422 and "custom.membership" in resp.get_json()["errors"]

    def names(**params: Any) -> list[str]:
        body = api.get("/api/v1/customers", user="sales", **params)
        assert body.status_code == 200, body.get_json()
        return [c["name"] for c in body.get_json()["items"]]

    assert names() == ["Acme Fleet", "Anna", "bob", "Carl"]  # case-insensitive by name
    assert names(sort="-name") == ["Carl", "bob", "Anna", "Acme Fleet"]
    assert names(sort="created_at") == ["Anna", "bob", "Carl", "Acme Fleet"]
    assert names(sort="-id") == ["Acme Fleet", "Carl", "bob", "Anna"]
    assert names(**{"custom.membership": "gold"}) == ["Anna", "Carl"]
    assert names(**{"custom.membership": "gold", "role": "agent"}) == ["Carl"]
    assert names(role="prospect") == ["bob"]
    assert names(tag="vip") == ["Anna"]
    assert names(kind="organization") == ["Acme Fleet"]
    assert names(branch_id=seeded["branches"]["A"]) == ["Acme Fleet", "Anna", "bob", "Carl"]
    assert names(branch_id=seeded["branches"]["B"]) == []
    assert names(q="a") == ["Acme Fleet", "Anna"]
    page = api.get("/api/v1/customers", user="sales", per_page=3, page=2).get_json()
    assert page["total"] == 4 and page["page"] == 2 and page["per_page"] == 3
    assert [c["name"] for c in page["items"]] == ["Carl"]
    # PATCH changes what is sent, keeps the rest
    resp = api.patch(f"/api/v1/customers/{bob['id']}", {"custom": {"membership": "gold"},
                                                         "phones": ["13800138000"]},
                     user="sales")
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["phones"] == ["+8613800138000"]
    assert resp.get_json()["roles"] == ["prospect"]
    assert names(**{"custom.membership": "gold"}) == ["Anna", "bob", "Carl"]
    assert {anna["id"], carl["id"], org["id"]}


# --- vehicles -----------------------------------------------------------------------------


def test_vehicle_vin_check_digit_and_plate_normalisation(api):
    owner = customer(api, name="Chen Jie")
    good = vin(123)
    wrong = good[:8] + ("1" if good[8] != "1" else "2") + good[9:]
    resp = api.post("/api/v1/vehicles", {"vin": wrong, "owner_id": owner["id"]}, user="sales")
    assert resp.status_code == 422
    (message,) = resp.get_json()["errors"]["vin"]
    assert "check digit (9th character)" in message and f"should be {good[8]}" in message
    resp = api.post("/api/v1/vehicles", {"vin": "LSVAB2180N2O12345"}, user="sales")
    assert "I, O and Q" in resp.get_json()["errors"]["vin"][0]
    resp = api.post("/api/v1/vehicles", {"vin": good, "plate": "粤I12345", "year": 1800,
                                         "fuel_type": "steam"}, user="sales")
    assert set(resp.get_json()["errors"]) == {"plate", "year", "fuel_type"}
    resp = api.post("/api/v1/vehicles", {"make": "Toyota"}, user="sales")  # neither VIN nor plate
    assert resp.status_code == 422 and set(resp.get_json()["errors"]) == {"vin", "plate"}

    car = vehicle(api, vin=" " + good.lower()[:8] + "-" + good.lower()[8:], plate="粤b·12345",
                  make="丰田 Toyota", model="凯美瑞 Camry", year=2021, fuel_type="hybrid",
                  owner_id=owner["id"], owner_since="2021-03-01")
    assert car["vin"] == good and car["plate"] == "粤B12345" and car["owner_id"] == owner["id"]
    assert car["ownerships"] == [{"party_id": owner["id"], "name": "Chen Jie",
                                  "since": "2021-03-01", "until": None}]
    again = api.post("/api/v1/vehicles", {"vin": good}, user="sales")
    assert again.status_code == 409 and again.get_json()["existing"]["id"] == car["id"]
    nev = vehicle(api, vin=vin(124), plate="沪 AD-12345")
    assert nev["plate"] == "沪AD12345" and nev["owner_id"] is None

    def vins(**params: Any) -> list[str]:
        resp = api.get("/api/v1/vehicles", user="sales", **params)
        assert resp.status_code == 200, resp.get_json()
        return [item["vin"] for item in resp.get_json()["items"]]

    assert vins(plate="粤B 12345") == [good]
    assert vins(vin=good.lower()) == [good]
    assert vins(vin=good[-6:]) == [good]
    assert vins(owner_id=owner["id"]) == [good]
    assert vins(make="toyota") == [good]
    assert vins(fuel_type="hybrid") == [good]
    assert vins(q="粤B·123") == [good]
    assert vins(sort="-vin") == sorted([good, nev["vin"]], reverse=True)
    assert api.get("/api/v1/vehicles", fuel_type="steam").status_code == 422
    resp = api.patch(f"/api/v1/vehicles/{car['id']}", {"colour": "white", "plate": "粤B54321"},
                     user="sales")
    assert resp.status_code == 200
    assert resp.get_json()["colour"] == "white" and resp.get_json()["plate"] == "粤B54321"
    resp = api.patch(f"/api/v1/vehicles/{car['id']}", {"vin": nev["vin"]}, user="sales")
    assert resp.status_code == 422 and "vin" in resp.get_json()["errors"]


def test_owner_change_keeps_history(api):
    first = customer(api, name="First Owner")
    second = customer(api, name="Second Owner")
    car = vehicle(api, vin=vin(200), owner_id=first["id"], owner_since="2020-01-01")
    url = f"/api/v1/vehicles/{car['id']}/owner"
    resp = api.post(url, {"owner_id": second["id"], "since": "2023-05-01"}, user="sales")
    assert resp.status_code == 200, resp.get_json()
    moved = resp.get_json()
    assert moved["owner_id"] == second["id"]
    assert moved["ownerships"] == [
        {"party_id": second["id"], "name": "Second Owner", "since": "2023-05-01",
         "until": None},
        {"party_id": first["id"], "name": "First Owner", "since": "2020-01-01",
         "until": "2023-05-01"}]
    assert api.get(f"/api/v1/vehicles/{car['id']}").get_json()["ownerships"] == \
        moved["ownerships"]
    # the same owner again changes nothing; a start before the current one is refused
    assert api.post(url, {"owner_id": second["id"]}, user="sales").get_json() == moved
    resp = api.post(url, {"owner_id": first["id"], "since": "2022-01-01"}, user="sales")
    assert resp.status_code == 422 and "owner_since" in resp.get_json()["errors"]
    assert api.post(url, {"owner_id": 99999}, user="sales").status_code == 422
    assert api.post(url, {"since": "2024-01-01"}, user="sales").status_code == 422
    view = api.get(f"/api/v1/customers/{first['id']}/overview", user="sales").get_json()
    assert view["vehicles"] == []
    assert [(f["vehicle"]["id"], f["since"], f["until"]) for f in view["former_vehicles"]] == \
        [(car["id"], "2020-01-01", "2023-05-01")]
    view = api.get(f"/api/v1/customers/{second['id']}/overview", user="sales").get_json()
    assert [v["id"] for v in view["vehicles"]] == [car["id"]]
    # PATCH with a new owner goes the same way
    resp = api.patch(f"/api/v1/vehicles/{car['id']}",
                     {"owner_id": first["id"], "owner_since": "2024-02-01"}, user="sales")
    assert resp.status_code == 200
    assert [o["party_id"] for o in resp.get_json()["ownerships"]] == \
        [first["id"], second["id"], first["id"]]


def test_odometer_lower_reading_is_refused_unless_the_meter_was_replaced(api):
    car = vehicle(api, vin=vin(300))
    url = f"/api/v1/vehicles/{car['id']}/odometer"
    now = dt.datetime.now(UTC)
    first = api.post(url, {"value_km": 12000, "read_at": iso(now - dt.timedelta(days=30))},
                     user="sales")
    assert first.status_code == 201, first.get_json()
    reading = first.get_json()
    assert reading["value_km"] == 12000 and reading["meter_replaced"] is False
    assert dt.datetime.fromisoformat(reading["read_at"]).utcoffset() is not None
    resp = api.post(url, {"value_km": 9000, "read_at": iso(now - dt.timedelta(days=1))},
                    user="sales")
    assert resp.status_code == 422
    body = resp.get_json()
    assert "value_km" in body["errors"]
    assert "lower than the previous reading" in body["errors"]["value_km"][0].lower()
    assert "12000" in body["message"]
    resp = api.post(url, {"value_km": 900, "meter_replaced": True}, user="sales")
    assert resp.status_code == 201 and resp.get_json()["meter_replaced"] is True
    for bad in ({"value_km": "lots"}, {"value_km": -5}, {"value_km": 1.5}, {},
                {"value_km": 1000, "read_at": "2024-01-01T10:00:00"},
                {"value_km": 10**40}, {"value_km": 1000, "read_at": "yesterday"}):
        resp = api.post(url, bad, user="sales")
        assert resp.status_code == 422, (bad, resp.get_json())
    history = api.get(url, user="viewer").get_json()["items"]
    assert [r["value_km"] for r in history] == [900, 12000]
    assert api.get(f"/api/v1/vehicles/{car['id']}").get_json()["odometer_km"] == 900


# --- timeline -----------------------------------------------------------------------------


def test_timeline_add_list_and_complete_with_satisfaction(api, seeded):
    person = customer(api, name="Sun Li")
    car = vehicle(api, vin=vin(400), owner_id=person["id"])
    base = dt.datetime(2024, 3, 1, 9, 0, tzinfo=UTC)
    url = f"/api/v1/customers/{person['id']}/timeline"
    call = entry(api, person["id"], kind="call", subject="Asked about service",
                 occurred_at=iso(base), vehicle_id=car["id"])
    assert call["status"] == "done" and call["vehicle_id"] == car["id"]
    assert call["occurred_at"] == "2024-03-01T09:00:00+00:00"
    for i in range(1, 5):
        entry(api, person["id"], kind="note", subject=f"note {i}",
              occurred_at=iso(base + dt.timedelta(days=i)))
    resp = api.post(url, {"kind": "task", "subject": "Call back"}, user="sales")
    assert resp.status_code == 422 and "due_at" in resp.get_json()["errors"]
    resp = api.post(url, {"kind": "teleport"}, user="sales")
    assert resp.status_code == 422 and "kind" in resp.get_json()["errors"]
    resp = api.post(url, {"kind": "note", "occurred_at": "2024-03-01T09:00:00"}, user="sales")
    assert resp.status_code == 422 and "occurred_at" in resp.get_json()["errors"]
    resp = api.post(url, {"kind": "note", "vehicle_id": 99999}, user="sales")
    assert resp.status_code == 422 and "vehicle_id" in resp.get_json()["errors"]
    resp = api.post(url, {"kind": "task", "due_at": iso(base), "assignee_id": 99999},
                    user="sales")
    assert resp.status_code == 422 and "assignee_id" in resp.get_json()["errors"]
    due = dt.datetime.now(UTC) + dt.timedelta(days=2)
    visit = entry(api, person["id"], kind="return_visit", subject="After service",
                  due_at=iso(due), occurred_at=iso(base + dt.timedelta(days=10)))
    assert visit["status"] == "open" and visit["assignee_id"] == seeded["users"]["sales"]

    listed = api.get(url, user="viewer").get_json()
    assert [e["subject"] for e in listed["items"]] == [
        "After service", "note 4", "note 3", "note 2", "note 1", "Asked about service"]
    assert listed["next_before"] is None
    page = api.get(url, limit=2).get_json()
    assert [e["subject"] for e in page["items"]] == ["After service", "note 4"]
    older = api.get(url, limit=3, before=page["next_before"]).get_json()
    assert [e["subject"] for e in older["items"]] == ["note 3", "note 2", "note 1"]
    assert [e["kind"] for e in api.get(
        f"{url}?kind=call&kind=return_visit").get_json()["items"]] == ["return_visit", "call"]
    assert [e["id"] for e in api.get(url, open_only="true").get_json()["items"]] == \
        [visit["id"]]
    assert [e["id"] for e in api.get(url, vehicle_id=car["id"]).get_json()["items"]] == \
        [call["id"]]
    assert api.get(url, limit=201).status_code == 422

    done_url = f"/api/v1/timeline/{visit['id']}/complete"
    assert api.post(done_url, {"satisfaction": 7}, user="sales").status_code == 422
    resp = api.post(done_url, {"outcome": "Happy with the service", "satisfaction": 4},
                    user="sales")
    assert resp.status_code == 200, resp.get_json()
    closed = resp.get_json()
    assert closed["status"] == "done" and closed["satisfaction"] == 4
    assert closed["outcome"] == "Happy with the service"
    again = api.post(done_url, {"satisfaction": 5}, user="sales")
    assert again.status_code == 409
    assert api.post(f"/api/v1/timeline/{call['id']}/complete", {}, user="sales").status_code \
        == 409
    assert api.post("/api/v1/timeline/99999/complete", {}, user="sales").status_code == 404
    view = api.get(f"/api/v1/customers/{person['id']}/overview", user="sales").get_json()
    assert view["value"]["satisfaction"] == "4.00" and view["value"]["currency"] == "CNY"
    assert view["value"]["lifetime_value"] == "0.00"
    assert view["open_items"] == 0
    assert view["last_contact"] is not None
    assert api.get(f"/api/v1/customers/{person['id']}/overview",
                   user="viewer").get_json()["value"] is None  # no crm.segments.view


def test_merge_moves_vehicles_and_timeline(api):
    keep = customer(api, name="Wang Wei", phones=["13800138000"])
    remove = customer(api, name="Wang Wei", phones=["13900139000"], emails=["w@example.com"],
                      allow_duplicates=True)
    car_keep = vehicle(api, vin=vin(500), owner_id=keep["id"])
    car_remove = vehicle(api, vin=vin(501), owner_id=remove["id"])
    entry(api, keep["id"], subject="kept note")
    entry(api, remove["id"], subject="moved note", vehicle_id=car_remove["id"])
    body = {"keep_id": keep["id"], "remove_id": remove["id"]}
    assert api.post("/api/v1/customers/merge", body, user="sales").status_code == 403
    assert api.post("/api/v1/customers/merge", {"keep_id": keep["id"]},
                    user="manager").status_code == 422
    resp = api.post("/api/v1/customers/merge", body, user="manager")
    assert resp.status_code == 200, resp.get_json()
    kept = resp.get_json()
    assert kept["id"] == keep["id"]
    assert kept["phones"] == ["+8613800138000", "+8613900139000"]
    assert kept["emails"] == ["w@example.com"]
    owned = api.get("/api/v1/vehicles", user="sales", owner_id=keep["id"]).get_json()
    assert sorted(v["id"] for v in owned["items"]) == [car_keep["id"], car_remove["id"]]
    subjects = [e["subject"] for e in api.get(
        f"/api/v1/customers/{keep['id']}/timeline", user="sales").get_json()["items"]]
    assert sorted(subjects) == ["kept note", "moved note"]
    gone = api.get(f"/api/v1/customers/{remove['id']}", user="sales").get_json()
    assert gone["active"] is False and gone["merged_into_id"] == keep["id"]
    listed = api.get("/api/v1/customers", user="sales", q="wang").get_json()
    assert [c["id"] for c in listed["items"]] == [keep["id"]]
    assert api.get("/api/v1/customers", user="sales", q="wang",
                   include_merged="true").get_json()["total"] == 2
    again = api.post("/api/v1/customers/merge", body, user="manager")
    assert again.status_code == 409
    resp = api.patch(f"/api/v1/customers/{remove['id']}", {"name": "x"}, user="sales")
    assert resp.status_code == 409


def test_contacts_of_an_organization(api):
    org = customer(api, name="Harbour Logistics", kind="organization", roles=["fleet"])
    person = customer(api, name="Ma Lin", phones=["13700137000"])
    url = f"/api/v1/customers/{org['id']}/contacts"
    resp = api.post(url, {"person_id": person["id"], "position": "Fleet manager",
                          "primary": True}, user="sales")
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json() == {"organization_id": org["id"], "person_id": person["id"],
                               "position": "Fleet manager", "primary": True}
    view = api.get(f"/api/v1/customers/{org['id']}/overview", user="sales").get_json()
    assert [(c["customer"]["name"], c["position"], c["primary"]) for c in view["contacts"]] \
        == [("Ma Lin", "Fleet manager", True)]
    assert view["contacts"][0]["customer"]["phones"] == ["+8613700137000"]
    resp = api.post(f"/api/v1/customers/{person['id']}/contacts", {"person_id": org["id"]},
                    user="sales")
    assert resp.status_code == 422
    assert api.post(url, {"person_id": 99999}, user="sales").status_code == 422


# --- lookup and screen-pop ----------------------------------------------------------------


def test_lookup_by_phone_plate_vin_and_name(api):
    wang = customer(api, name="王小明", phones=["13800138000"])
    english = customer(api, name="Wang Wei", phones=["13900139000"])
    customer(api, name="Emma Johnson", emails=["emma@example.com"])
    car = vehicle(api, vin=vin(600), plate="粤B12345", owner_id=english["id"])

    def lookup(**params: Any) -> list[tuple[int, int, list[str]]]:
        resp = api.get("/api/v1/lookup", user="sales", **params)
        assert resp.status_code == 200, resp.get_json()
        body = resp.get_json()
        assert body["total"] == len(body["items"])
        return [(h["customer"]["id"], h["score"], h["reasons"]) for h in body["items"]]

    assert lookup(q="+86 138-0013-8000") == [(wang["id"], 100, ["phone"])]
    assert lookup(q="0086 13800138000") == [(wang["id"], 100, ["phone"])]
    assert lookup(q="粤b·12345") == [(english["id"], 90, ["plate"])]
    assert lookup(q=car["vin"].lower()) == [(english["id"], 95, ["vin"])]
    assert lookup(q="王") == [(wang["id"], 50, ["name"])]
    assert lookup(q="王小") == [(wang["id"], 50, ["name"])]
    assert lookup(q="wang") == [(english["id"], 50, ["name"])]
    assert lookup(q="WANG WEI") == [(english["id"], 70, ["name"])]
    assert lookup(q="nobody") == []
    hit = api.get("/api/v1/lookup", user="sales", q="王").get_json()["items"][0]
    assert hit["customer"]["phones"] == ["+8613800138000"]
    # the customer list uses the same search for identifiers
    listed = api.get("/api/v1/customers", user="sales", q="138 0013 8000").get_json()
    assert [c["id"] for c in listed["items"]] == [wang["id"]]
    listed = api.get("/api/v1/customers", user="sales", q="粤B 12345").get_json()
    assert [c["id"] for c in listed["items"]] == [english["id"]]
    resp = api.get("/api/v1/lookup", user="sales")
    assert resp.status_code == 422 and "q" in resp.get_json()["errors"]
    assert api.get("/api/v1/lookup", user="sales", q="  ").status_code == 422
    # screen-pop by a phone in another format
    pop = api.get("/api/v1/lookup", user="sales", phone="+86 139 0013 9000").get_json()
    assert pop["total"] == 1
    item = pop["items"][0]
    assert item["customer"]["id"] == english["id"]
    assert [v["vin"] for v in item["vehicles"]] == [car["vin"]]
    assert item["open_items"] == 0 and isinstance(item["sections"], dict)
    assert api.get("/api/v1/lookup", user="sales", phone="12").get_json()["total"] == 0


def test_screen_pop_and_overview_carry_every_plugin_section(sample_app, sample_seeded):
    api = Api(sample_app)
    person = customer(api, name="Gao Feng", phones=["021-6588 0000"])
    car = vehicle(api, vin=vin(700), owner_id=person["id"])
    entry(api, person["id"], kind="task", subject="Quote",
          due_at=iso(dt.datetime.now(UTC) + dt.timedelta(days=1)))
    entry(api, person["id"], kind="sample.visit", subject="Plugin kind")
    resp = api.get("/api/v1/lookup", user="sales", phone="+86 21 65880000")
    assert resp.status_code == 200, resp.get_json()
    [item] = resp.get_json()["items"]
    assert item["customer"]["id"] == person["id"]
    assert item["sections"]["sample"] == {"customer": person["id"]}
    assert item["open_items"] == 1
    assert [v["id"] for v in item["vehicles"]] == [car["id"]]
    view = api.get(f"/api/v1/customers/{person['id']}/overview", user="sales").get_json()
    assert view["sections"] == {"sample": {"customer": person["id"]}}
    assert view["open_items"] == 1
    assert [e["kind"] for e in view["timeline"]][:2] == ["sample.visit", "task"]
    # a plugin identifier through the ranked lookup
    hits = api.get("/api/v1/lookup", user="sales", q=f"CARD-{person['id']}").get_json()
    assert hits["items"][0]["reasons"] == ["sample.card"]


# --- the 360° view costs a fixed number of queries ----------------------------------------


def _customer_with(app: Flask, branch_id: int, n_vehicles: int, n_entries: int,
                   offset: int) -> int:
    from carebiz.crm.services import parties, timeline, value, vehicles

    ext = app.extensions["carebiz"]
    with app.app_context(), ext.session_factory() as sess:
        party = parties.create_party(sess, {"name": f"Fleet {offset}", "branch_id": branch_id,
                                            "phones": [mobile(offset)]})
        cars = [vehicles.create_vehicle(sess, {"vin": vin(offset * 1000 + i),
                                               "owner_id": party.id, "branch_id": branch_id})
                for i in range(n_vehicles)]
        base = dt.datetime(2024, 1, 1, tzinfo=UTC)
        for i in range(n_entries):
            kind = "visit" if i % 3 else "task"
            timeline.add_entry(sess, party, kind, subject=f"e{i}",
                               occurred_at=base + dt.timedelta(hours=i),
                               vehicle=cars[i % len(cars)],
                               due_at=base + dt.timedelta(days=400) if kind == "task" else None)
        value.record_revenue(sess, party_id=party.id, amount=Decimal("1000.50"),
                             currency="CNY", occurred_on=dt.date(2024, 1, 2), source="test",
                             ref=f"r{offset}")
        sess.commit()
        return party.id


def test_overview_query_count_does_not_grow_with_the_data(app, seeded):
    api = Api(app)
    branch = seeded["branches"]["A"]
    small = _customer_with(app, branch, n_vehicles=2, n_entries=5, offset=1)
    large = _customer_with(app, branch, n_vehicles=20, n_entries=200, offset=2)
    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    engine = app.extensions["carebiz"].engine
    api.get(f"/api/v1/customers/{small}/overview", user="sales")  # token use recorded

    def queries(party_id: int) -> tuple[int, dict[str, Any]]:
        statements.clear()
        event.listen(engine, "before_cursor_execute", count)
        try:
            resp = api.get(f"/api/v1/customers/{party_id}/overview", user="sales")
        finally:
            event.remove(engine, "before_cursor_execute", count)
        assert resp.status_code == 200, resp.get_json()
        return len(statements), resp.get_json()

    small_count, small_view = queries(small)
    large_count, large_view = queries(large)
    assert small_count == large_count, (small_count, large_count)
    assert small_count <= 25
    assert len(small_view["vehicles"]) == 2 and len(large_view["vehicles"]) == 20
    assert len(small_view["timeline"]) == 5 and len(large_view["timeline"]) == 20
    assert large_view["open_items"] == 67 and small_view["open_items"] == 2
    assert large_view["value"]["lifetime_value"] == "1000.50"
    assert large_view["value"]["purchases"] == 1
    assert large_view["timeline"][0]["subject"] == "e199"
    assert dt.datetime.fromisoformat(large_view["last_contact"]) == \
        dt.datetime(2024, 1, 1, tzinfo=UTC) + dt.timedelta(hours=199)


# --- my day, segments, permissions --------------------------------------------------------


def test_my_day_lists_open_followups_due_today(api, seeded):
    person = customer(api, name="Xu Ming")
    now = dt.datetime.now(UTC)
    overdue = entry(api, person["id"], kind="task", subject="overdue",
                    due_at=iso(now - dt.timedelta(hours=2)))
    entry(api, person["id"], kind="return_visit", subject="later",
          due_at=iso(now + dt.timedelta(days=3)))
    managers = entry(api, person["id"], user="manager", kind="task", subject="manager's",
                     due_at=iso(now - dt.timedelta(days=1)))
    other = customer(api, user="admin", name="Elsewhere", branch_id=seeded["branches"]["B"])
    entry(api, other["id"], user="manager", kind="task", subject="branch B",
          due_at=iso(now - dt.timedelta(hours=1)))
    closed = entry(api, person["id"], kind="task", subject="closed",
                   due_at=iso(now - dt.timedelta(hours=3)))
    api.post(f"/api/v1/timeline/{closed['id']}/complete", {"outcome": "done"}, user="sales")

    mine = api.get("/api/v1/my-day", user="sales").get_json()
    assert [e["id"] for e in mine["items"]] == [overdue["id"]]
    assert mine["scope"] == "own" and mine["total"] == 1
    assert mine["items"][0]["customer"]["name"] == "Xu Ming"
    until = dt.datetime.fromisoformat(mine["until"])
    assert until.utcoffset() == dt.timedelta(hours=8)  # Asia/Shanghai by default
    assert (until.hour, until.minute) == (23, 59)
    # a salesperson asking for the branch still gets their own
    assert api.get("/api/v1/my-day", user="sales", scope="branch").get_json()["scope"] == "own"
    team = api.get("/api/v1/my-day", user="manager", scope="branch").get_json()
    assert team["scope"] == "branch"
    assert [e["subject"] for e in team["items"]] == ["manager's", "overdue", "branch B"]
    own = api.get("/api/v1/my-day", user="manager").get_json()
    assert [e["id"] for e in own["items"]][0] == managers["id"] and own["total"] == 2
    assert api.get("/api/v1/my-day", user="viewer").status_code == 403
    assert api.get("/api/v1/my-day", user="sales", scope="world").status_code == 422


def test_my_day_follows_the_configured_time_zone(make_app):
    from tests.conftest import seed

    app = make_app(CAREBIZ_TIMEZONE="America/New_York")
    seed(app)
    until = dt.datetime.fromisoformat(
        Api(app).get("/api/v1/my-day", user="sales").get_json()["until"])
    assert until.utcoffset() in (dt.timedelta(hours=-5), dt.timedelta(hours=-4))


def test_segment_customers(api, app, seeded):
    from carebiz.crm.models import PartyValue

    champ = customer(api, name="Champion A")
    other = customer(api, user="admin", name="Champion B", branch_id=seeded["branches"]["B"])
    lost = customer(api, name="Lost A")
    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        for pid, segment, amount in ((champ["id"], "champion", 500), (other["id"], "champion",
                                                                      900),
                                     (lost["id"], "lost", 10)):
            sess.add(PartyValue(party_id=pid, currency="CNY", lifetime_value=Decimal(amount),
                                purchases=1, segment=segment, satisfaction_count=0))
        sess.commit()
    assert [c["id"] for c in api.get("/api/v1/segments/champion/customers",
                                     user="sales").get_json()["items"]] == [champ["id"]]
    page = api.get("/api/v1/segments/champion/customers", user="manager").get_json()
    assert [c["id"] for c in page["items"]] == [other["id"], champ["id"]]
    assert page["total"] == 2
    assert [c["id"] for c in api.get("/api/v1/customers", user="sales",
                                     segment="lost").get_json()["items"]] == [lost["id"]]
    assert api.get("/api/v1/segments/champion/customers", user="viewer").status_code == 403
    assert api.get("/api/v1/segments/royalty/customers", user="sales").status_code == 404


def test_viewer_reads_but_every_write_is_forbidden(api):
    person = customer(api, name="Read Only Target")
    car = vehicle(api, vin=vin(900), owner_id=person["id"])
    task = entry(api, person["id"], kind="task",
                 due_at=iso(dt.datetime.now(UTC) + dt.timedelta(days=1)))
    for path in (f"/api/v1/customers/{person['id']}", f"/api/v1/customers/{person['id']}/overview",
                 f"/api/v1/customers/{person['id']}/timeline", f"/api/v1/vehicles/{car['id']}",
                 "/api/v1/customers", "/api/v1/vehicles", "/api/v1/custom-fields"):
        assert api.get(path, user="viewer").status_code == 200, path
    assert api.get("/api/v1/lookup", user="viewer", q="read").get_json()["total"] == 1
    writes = [
        ("post", "/api/v1/customers", {"name": "X"}),
        ("patch", f"/api/v1/customers/{person['id']}", {"name": "X"}),
        ("post", f"/api/v1/customers/{person['id']}/timeline", {"kind": "note"}),
        ("post", f"/api/v1/customers/{person['id']}/contacts", {"person_id": person["id"]}),
        ("post", f"/api/v1/timeline/{task['id']}/complete", {}),
        ("post", "/api/v1/customers/merge", {"keep_id": 1, "remove_id": 2}),
        ("post", "/api/v1/vehicles", {"vin": vin(901)}),
        ("patch", f"/api/v1/vehicles/{car['id']}", {"colour": "red"}),
        ("post", f"/api/v1/vehicles/{car['id']}/owner", {"owner_id": person["id"]}),
        ("post", f"/api/v1/vehicles/{car['id']}/odometer", {"value_km": 10}),
        ("post", "/api/v1/custom-fields", {"entity": "party", "name": "x", "label": "X",
                                           "type": "text"}),
    ]
    for method, path, body in writes:
        resp = getattr(api, method)(path, body, user="viewer")
        assert resp.status_code == 403, (method, path)
        assert resp.get_json()["code"] == 403
    unchanged = api.get(f"/api/v1/customers/{person['id']}").get_json()
    assert unchanged["name"] == "Read Only Target"


def test_openapi_documents_the_crm_endpoints(api):
    spec = api.client.get("/api/v1/openapi.json").get_json()
    for path in ("/api/v1/customers", "/api/v1/customers/{party_id}",
                 "/api/v1/customers/{party_id}/overview", "/api/v1/customers/{party_id}/timeline",
                 "/api/v1/customers/merge", "/api/v1/vehicles/{vehicle_id}/odometer",
                 "/api/v1/lookup", "/api/v1/my-day", "/api/v1/segments/{segment}/customers",
                 "/api/v1/custom-fields", "/api/v1/timeline/{entry_id}/complete"):
        assert path in spec["paths"], path
    param = spec["paths"]["/api/v1/customers/{party_id}"]["parameters"][0]
    assert param["schema"]["maximum"] == 2**31 - 1
    assert "Customer" in spec["components"]["schemas"]
