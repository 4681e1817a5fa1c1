"""Vehicles known by their plate alone (a walk-in's old car) are recorded and get their VIN
later; the customer form's "first vehicle" never keeps the customer from being saved; the
owner change picks the customer by search, only among customers the user may see."""

from __future__ import annotations

import html
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from flask import Flask
from sqlalchemy import select

from carebiz.crm import picker
from carebiz.crm.models import Party, Vehicle
from carebiz.crm.services import parties, vehicles
from carebiz.errors import Conflict, ValidationFailed
from carebiz.models import AuditEntry, User
from tests.crm_helpers import valid_vin


def _person(session: Any, name: str, branch: int, phone: str = "") -> Party:
    return parties.create_party(session, {"name": name, "branch_id": branch,
                                          "phones": [phone] if phone else []},
                                allow_duplicates=True)


def _text(resp: Any) -> str:
    return html.unescape(resp.get_data(as_text=True))


# -- services ------------------------------------------------------------------------------------


def test_a_plate_alone_registers_a_vehicle_and_the_vin_comes_later(
        app: Flask, seeded: dict[str, Any], session: Any) -> None:
    a = seeded["branches"]["A"]
    with app.test_request_context():
        first = vehicles.create_vehicle(session, {"plate": "京A 12345", "branch_id": a})
        second = vehicles.create_vehicle(session, {"plate": "京B54321", "vin": "",
                                                   "branch_id": a})
        assert (first.vin, first.plate, second.vin) == (None, "京A12345", None)  # NULLs coexist
        assert vehicles.vehicle_label(first) == "京A12345"
        audit = session.scalar(select(AuditEntry).where(AuditEntry.entity_type == "vehicle",
                                                        AuditEntry.entity_id == str(first.id)))
        assert audit.summary_args == {"vin": "京A12345"}
        vehicles.update_vehicle(session, first, {"vin": valid_vin(1).lower()})
        assert first.vin == valid_vin(1)
        with pytest.raises(ValidationFailed) as failed:  # the VIN is unique when present
            vehicles.update_vehicle(session, second, {"vin": valid_vin(1)})
        assert "Already registered" in failed.value.errors["vin"]
        with pytest.raises(Conflict):
            vehicles.create_vehicle(session, {"vin": valid_vin(1), "branch_id": a})
        with pytest.raises(ValidationFailed) as failed:  # nothing left to find it by
            vehicles.update_vehicle(session, second, {"plate": ""})
        assert set(failed.value.errors) == {"vin", "plate"}
        with pytest.raises(ValidationFailed) as failed:
            vehicles.create_vehicle(session, {"make": "Toyota", "branch_id": a})
        assert "VIN can be added later" in failed.value.errors["plate"]
        assert vehicles.owned_with_plate(session, 0, "京A12345") is None


def test_first_vehicle_never_keeps_the_customer_from_being_saved(
        app: Flask, seeded: dict[str, Any], session: Any) -> None:
    a = seeded["branches"]["A"]
    user = session.get(User, seeded["users"]["sales"])
    with app.test_request_context():
        party, car, problems = parties.create_party_with_vehicle(
            session, {"name": "Zhou Min", "branch_id": a}, {"make": "Honda"}, user=user)
        assert party.id and car is None and set(problems) == {"vin", "plate"}
        bad = valid_vin(2)[:8] + ("1" if valid_vin(2)[8] != "1" else "2") + valid_vin(2)[9:]
        party, car, problems = parties.create_party_with_vehicle(
            session, {"name": "Qian Hao", "branch_id": a}, {"vin": bad}, user=user)
        assert party.id and car is None and "check digit" in problems["vin"]
        party, car, problems = parties.create_party_with_vehicle(
            session, {"name": "Sun Yu", "branch_id": a}, {"plate": "沪A1B2C3"}, user=user)
        assert car is not None and car.owner_id == party.id and car.vin is None
        assert problems == {}
        party, car, problems = parties.create_party_with_vehicle(
            session, {"name": "Wu Di", "branch_id": a}, {"vin": "", "year": ""}, user=user)
        assert party.id and car is None and problems == {}  # an empty part is ignored
        with pytest.raises(ValidationFailed) as failed:  # the customer itself is wrong:
            parties.create_party_with_vehicle(  # every error at once, nothing saved
                session, {"name": "", "branch_id": a}, {"make": "Honda"}, user=user)
        assert {"name", "vin", "plate"} <= set(failed.value.errors)


def test_picker_offers_only_customers_the_user_may_see(
        app: Flask, seeded: dict[str, Any], session: Any) -> None:
    a, b = seeded["branches"]["A"], seeded["branches"]["B"]
    mine = _person(session, "Li Na", a, "13800138001")
    other = _person(session, "Li Nan", b, "13800138002")
    session.commit()
    sales = session.get(User, seeded["users"]["sales"])  # branch A only
    with app.test_request_context():
        found = picker.options(session, sales, "Li")
        assert [o["id"] for o in found] == [mine.id]
        assert found[0]["label"].startswith("Li Na · ") and found[0]["label"].endswith(
            f"#{mine.id}")
        assert picker.options(session, sales, "13800138002") == []  # a phone of branch B
        assert picker.options(session, sales, "L") == []  # too short to ask
        manager = session.get(User, seeded["users"]["manager"])  # every branch
        assert {o["id"] for o in picker.options(session, manager, "Li")} == {mine.id, other.id}


# -- pages ---------------------------------------------------------------------------------------


def test_customer_form_saves_the_customer_and_hands_the_car_to_the_vehicle_form(
        client_for: Any, app: Flask, seeded: dict[str, Any]) -> None:
    sales = client_for("sales")
    a = str(seeded["branches"]["A"])
    resp = sales.post("/customers/new", data={
        "kind": "person", "name": "Zhao Lei", "roles": ["customer"], "branch_id": a,
        "make": "Toyota", "model": "Corolla"})
    assert resp.status_code == 302
    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        party = sess.scalar(select(Party).where(Party.name == "Zhao Lei"))
        assert party is not None
        assert sess.scalar(select(Vehicle).where(Vehicle.owner_id == party.id)) is None
    target = urlparse(resp.headers["Location"])
    assert target.path == "/vehicles/new"
    assert parse_qs(target.query) == {"owner_id": [str(party.id)], "make": ["Toyota"],
                                      "model": ["Corolla"]}
    page = _text(sales.get(resp.headers["Location"]))
    assert "Customer Zhao Lei registered" in page
    assert "The vehicle was not registered" in page and "Give the VIN or the licence plate" in page
    assert 'value="Toyota"' in page and 'value="Corolla"' in page


def test_plate_only_car_through_the_customer_form_and_on_every_page(
        client_for: Any, app: Flask, seeded: dict[str, Any]) -> None:
    sales = client_for("sales")
    resp = sales.post("/customers/new", data={
        "kind": "person", "name": "Ma Jun", "roles": ["customer"],
        "branch_id": str(seeded["branches"]["A"]), "plate": "京A 7X8Y9"})
    assert resp.status_code == 302 and resp.headers["Location"].startswith("/customers/")
    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        car = sess.scalar(select(Vehicle).where(Vehicle.plate == "京A7X8Y9"))
        assert car.vin is None
    customer = _text(sales.get(resp.headers["Location"]))
    assert "京A7X8Y9" in customer and 'data-testid="no-vin"' in customer
    assert "None" not in customer.split("<main", 1)[-1]
    for path in (f"/vehicles/{car.id}", "/vehicles", f"/vehicles/{car.id}/edit",
                 "/search?q=京A7X8Y9&all=1"):
        page = _text(sales.get(path))
        assert "京A7X8Y9" in page, path
        assert ">None<" not in page and "Vehicle None" not in page, path
    csv = sales.get("/export/crm.vehicles?format=csv").get_data().decode("utf-8-sig")
    assert "京A7X8Y9" in csv and "None" not in csv
    resp = sales.post(f"/vehicles/{car.id}/edit", data={
        "vin": valid_vin(9), "plate": "京A7X8Y9", "branch_id": str(seeded["branches"]["A"]),
        "version": "1"})
    assert resp.status_code == 302
    assert valid_vin(9) in _text(sales.get(f"/vehicles/{car.id}"))


def test_owner_change_by_search_then_choose(client_for: Any, app: Flask,
                                           seeded: dict[str, Any]) -> None:
    a, b = seeded["branches"]["A"], seeded["branches"]["B"]
    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        seller = _person(sess, "Wang Wei", a)
        buyer = _person(sess, "Li Na", a, "13800138001")
        far = _person(sess, "Li Ning", b)
        car = vehicles.create_vehicle(sess, {"plate": "京A12345", "branch_id": a,
                                             "owner_id": seller.id,
                                             "owner_since": "2020-01-01"})
        sess.commit()
        ids = (seller.id, buyer.id, far.id, car.id)
    seller_id, buyer_id, far_id, car_id = ids
    sales = client_for("sales")
    page = _text(sales.get(f"/vehicles/{car_id}"))
    assert 'list="owner-options"' in page and "/static/customer-picker.js" in page
    assert "customer number" not in page  # nobody types an id any more
    # the list while typing: own branch only
    body = sales.get("/customers/pick?q=Li").get_json()
    assert [o["id"] for o in body["options"]] == [buyer_id]
    assert "Li Ning" not in str(body)
    # without script: a search answers the matches to tick
    resp = sales.post(f"/vehicles/{car_id}/owner", data={"owner": "Li",
                                                          "owner_since": "2024-03-01"})
    assert resp.status_code == 422
    page = _text(resp)
    assert 'data-testid="owner-matches"' in page and f'value="{buyer_id}"' in page
    assert "Li Ning" not in page and "Choose the customer" in page
    resp = sales.post(f"/vehicles/{car_id}/owner", data={"owner": "nobody at all",
                                                          "owner_since": "2024-03-01"})
    assert resp.status_code == 422 and "No customer you may see matches" in _text(resp)
    # another branch's customer by number: refused like an unknown one
    resp = sales.post(f"/vehicles/{car_id}/owner", data={"owner": f"x #{far_id}",
                                                          "owner_since": "2024-03-01"})
    assert resp.status_code == 422 and "No active customer" in _text(resp)
    # an option taken from the list (ends with #id)
    label = body["options"][0]["label"]
    resp = sales.post(f"/vehicles/{car_id}/owner", data={"owner": label,
                                                          "owner_since": "2024-03-01"})
    assert resp.status_code == 302
    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        assert sess.get(Vehicle, car_id).owner_id == buyer_id
    resp = sales.post(f"/vehicles/{car_id}/owner", data={"owner_id": str(seller_id),
                                                          "owner": "Wang",
                                                          "owner_since": "2024-04-01"})
    assert resp.status_code == 302  # a ticked match
    assert client_for("viewer").get("/customers/pick?q=Li").status_code == 200
    assert app.test_client().get("/customers/pick?q=Li").status_code in (302, 401)


def test_new_vehicle_picks_its_owner_by_search(client_for: Any, app: Flask,
                                               seeded: dict[str, Any]) -> None:
    a = seeded["branches"]["A"]
    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        buyer = _person(sess, "Li Na", a, "13800138001").id
        _person(sess, "Li Ming", a)
        sess.commit()
    sales = client_for("sales")
    page = _text(sales.get("/vehicles/new"))
    assert 'list="owner-options"' in page and "customer number" not in page
    data = {"plate": "京A55667", "branch_id": str(a)}
    resp = sales.post("/vehicles/new", data={**data, "owner": "Li"})
    assert resp.status_code == 422 and 'data-testid="owner-matches"' in _text(resp)
    resp = sales.post("/vehicles/new", data={**data, "owner": "13800138001"})
    assert resp.status_code == 422  # one match: still shown, ticked, to confirm
    assert f'value="{buyer}" checked' in _text(resp)
    resp = sales.post("/vehicles/new", data={**data, "owner": "13800138001",
                                             "owner_id": str(buyer)})
    assert resp.status_code == 302
    resp = sales.post("/vehicles/new", data={"plate": "京A55668", "branch_id": str(a)})
    assert resp.status_code == 302  # no owner: a vehicle in stock
    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        owners = dict(sess.execute(select(Vehicle.plate, Vehicle.owner_id).where(
            Vehicle.plate.in_(["京A55667", "京A55668"]))).all())
    assert owners == {"京A55667": buyer, "京A55668": None}


# -- API -----------------------------------------------------------------------------------------


def test_api_plate_only_vehicle_and_schema(api_client: Any, seeded: dict[str, Any]) -> None:
    api = api_client("sales")
    resp = api.post("/api/v1/vehicles", json={"plate": "粤B 12345"})
    assert resp.status_code == 201, resp.get_json()
    car = resp.get_json()
    assert car["vin"] is None and car["plate"] == "粤B12345"
    resp = api.post("/api/v1/vehicles", json={"plate": "粤B12346", "vin": None})
    assert resp.status_code == 201
    listed = api.get("/api/v1/vehicles?plate=粤B12345").get_json()
    assert [c["vin"] for c in listed["items"]] == [None]
    resp = api.patch(f"/api/v1/vehicles/{car['id']}",
                     json={"vin": valid_vin(5), "version": car["version"]})
    assert resp.status_code == 200 and resp.get_json()["vin"] == valid_vin(5)
    resp = api.post("/api/v1/vehicles", json={"year": 2020})
    assert resp.status_code == 422 and set(resp.get_json()["errors"]) == {"vin", "plate"}
    spec = api.get("/api/v1/openapi.json").get_json()
    schemas = spec["components"]["schemas"]
    assert "vin" not in schemas["VehicleCreate"].get("required", [])
    assert schemas["Vehicle"]["properties"]["vin"].get("nullable") is True \
        or "null" in schemas["Vehicle"]["properties"]["vin"].get("type", [])
