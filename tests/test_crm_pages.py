"""The CRM pages: customer list and search, the customer form (errors next to fields, typed
input kept, duplicate warning), the 360° page with plugin panels and audit trail, the recent
trail, vehicles with odometer and owner change, my day, merge, custom fields, row filters,
permissions and Chinese rendering. Data is created through the services."""

from __future__ import annotations

import datetime as dt
import html as html_lib
import random
import re
from decimal import Decimal
from typing import Any

from flask import Flask
from sqlalchemy import select

from carebiz.crm.demo import make_vin
from carebiz.crm.models import (
    CustomField,
    OdometerReading,
    Party,
    PartyValue,
    TimelineEntry,
    Vehicle,
    VehicleOwnership,
)
from carebiz.crm.services import parties, timeline, vehicles
from carebiz.db import utcnow
from tests.conftest import login


def db(app: Flask) -> Any:
    return app.extensions["carebiz"].session_factory()


def text(resp: Any) -> str:
    """The page with HTML entities decoded, so assertions read like the screen."""
    return html_lib.unescape(resp.get_data(as_text=True))


def client_for(app: Flask, username: str) -> Any:
    client = app.test_client()
    assert login(client, username).status_code == 302
    return client


def vin(n: int) -> str:
    """A VIN with a correct check digit."""
    return make_vin(random.Random(n), "LSV", 2020, n)


def add_customer(app: Flask, name: str, branch: int, phones: tuple[str, ...] = (),
                 **data: Any) -> int:
    with app.app_context(), db(app) as sess:
        party = parties.create_party(sess, {"name": name, "phones": list(phones),
                                            "branch_id": branch, **data},
                                     allow_duplicates=True)
        sess.commit()
        return party.id


def add_vehicle(app: Flask, owner: int | None, branch: int, n: int = 1,
                plate: str | None = None, km: int | None = None, **data: Any) -> int:
    with app.app_context(), db(app) as sess:
        car = vehicles.create_vehicle(sess, {"vin": vin(n), "plate": plate, "owner_id": owner,
                                             "branch_id": branch, "make": "Volkswagen",
                                             "model": "Passat", "year": 2020, **data})
        if km is not None:
            vehicles.record_odometer(sess, car, km, utcnow() - dt.timedelta(days=1))
        sess.commit()
        return car.id


def add_entry(app: Flask, party_id: int, kind: str, **kwargs: Any) -> int:
    with app.app_context(), db(app) as sess:
        entry = timeline.add_entry(sess, sess.get(Party, party_id), kind, **kwargs)
        sess.commit()
        return entry.id


def invalid_feedback(page: str, field: str) -> str:
    """The message shown right after the input named ``field``."""
    match = re.search(rf'name="{field}"[^>]*>(?:[^<]*</textarea>)?\s*(?:<div class="form-text">'
                      r'[^<]*</div>\s*)?<div class="invalid-feedback">([^<]*)</div>', page)
    assert match, f"no message next to {field}"
    return match.group(1)


# -- list and search ---------------------------------------------------------------------------


def test_list_searches_by_phone_in_another_format_and_by_plate(
        admin_client: Any, app: Flask, seeded: dict[str, Any]) -> None:
    a = seeded["branches"]["A"]
    wang = add_customer(app, "Wang Wei", a, ("13800138000",), tags=["VIP"])
    add_customer(app, "Li Na", a, ("13912345678",), roles=["prospect"])
    add_vehicle(app, wang, a, plate="京A12345")

    page = text(admin_client.get("/customers"))
    assert "Wang Wei" in page and "Li Na" in page
    assert 'data-testid="customer-search"' in page
    assert 'href="/customers/new"' in page

    for query in ("+86 138-0013-8000", "138 0013 8000", "京A·12345", "wang"):
        page = text(admin_client.get("/customers", query_string={"q": query}))
        assert f'href="/customers/{wang}"' in page, query
        assert "Li Na" not in page, query
    page = text(admin_client.get("/customers", query_string={"q": "13800138000"}))
    assert "Found by" in page and "phone" in page

    page = text(admin_client.get("/customers", query_string={"role": "prospect"}))
    assert "Li Na" in page and "Wang Wei" not in page
    page = text(admin_client.get("/customers", query_string={"tag": "VIP", "sort": "-created"}))
    assert "Wang Wei" in page and "Li Na" not in page
    assert "Nothing found." in text(admin_client.get("/customers?q=nobody"))


def test_global_search_redirects_on_one_exact_hit(admin_client: Any, app: Flask,
                                                  seeded: dict[str, Any]) -> None:
    a = seeded["branches"]["A"]
    wang = add_customer(app, "Wang Wei", a, ("13800138000",))
    add_customer(app, "Wang Fang", a)
    car = add_vehicle(app, None, a, plate="沪AD12345", n=7)

    assert 'data-testid="global-search"' in text(admin_client.get("/customers"))
    resp = admin_client.get("/search", query_string={"q": "138-0013-8000"})
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/customers/{wang}")
    page = text(admin_client.get("/search?q=wang"))
    assert "Wang Wei" in page and "Wang Fang" in page and "name" in page
    resp = admin_client.get("/search", query_string={"q": "沪A D12345"})  # a car without owner
    assert resp.headers["Location"].endswith(f"/vehicles/{car}")
    page = text(admin_client.get("/search", query_string={"q": "13100000000"}))
    assert "No customer found." in page and "/customers/new?phone=13100000000" in page


# -- customer form -----------------------------------------------------------------------------


def test_create_with_errors_keeps_input_and_shows_messages_next_to_fields(
        admin_client: Any, app: Flask, seeded: dict[str, Any]) -> None:
    bad_vin = vin(3)
    bad_vin = bad_vin[:8] + ("1" if bad_vin[8] != "1" else "2") + bad_vin[9:]
    resp = admin_client.post("/customers/new", data={
        "kind": "person", "name": "Zhang San", "phones": "12345", "roles": ["customer"],
        "branch_id": str(seeded["branches"]["A"]), "street": "88 Nanjing Road",
        "vin": bad_vin, "plate": "京A12345"})
    assert resp.status_code == 422
    page = text(resp)
    assert 'data-testid="customer-form"' in page
    assert 'value="Zhang San"' in page and 'value="88 Nanjing Road"' in page
    assert f'value="{bad_vin}"' in page and 'value="京A12345"' in page
    assert "check digit (9th character)" in invalid_feedback(page, "vin")
    assert invalid_feedback(page, "phones")
    with db(app) as sess:
        assert sess.scalar(select(Party).where(Party.name == "Zhang San")) is None


def test_create_with_first_vehicle_in_one_go(admin_client: Any, app: Flask,
                                             seeded: dict[str, Any]) -> None:
    resp = admin_client.post("/customers/new", data={
        "kind": "person", "name": "Zhang San", "phones": "138 0013 8000\n010-6588-0000",
        "emails": "zs@example.cn", "roles": ["customer", "fleet"], "tags": "VIP, 车队",
        "branch_id": str(seeded["branches"]["A"]), "vin": vin(4).lower(), "plate": "京A 12345",
        "make": "Toyota", "model": "Camry", "year": "2021"})
    assert resp.status_code == 302
    with db(app) as sess:
        party = sess.scalar(select(Party).where(Party.name == "Zhang San"))
        assert resp.headers["Location"].endswith(f"/customers/{party.id}")
        assert party.phone_numbers == ["+8613800138000", "+861065880000"]
        assert party.roles == ["customer", "fleet"] and party.tags == ["VIP", "车队"]
        car = sess.scalar(select(Vehicle).where(Vehicle.owner_id == party.id))
        assert (car.vin, car.plate, car.year) == (vin(4), "京A12345", 2021)
    page = text(admin_client.get(f"/customers/{party.id}"))
    assert "Customer Zhang San registered" in page  # the audit trail
    assert "京A12345" in page and "010 6588 0000" in page


def test_duplicate_warning_then_save_anyway(admin_client: Any, app: Flask,
                                            seeded: dict[str, Any]) -> None:
    a = seeded["branches"]["A"]
    first = add_customer(app, "Wang Wei", a, ("13800138000",))
    data = {"kind": "person", "name": "Wang Wei", "phones": "+86 138 0013 8000",
            "roles": ["customer"], "branch_id": str(a), "city": "Shanghai"}
    resp = admin_client.post("/customers/new", data=data)
    assert resp.status_code == 422
    page = text(resp)
    assert 'data-testid="duplicate-warning"' in page
    assert f'href="/customers/{first}"' in page
    assert 'name="allow_duplicates"' in page and 'value="Shanghai"' in page
    assert "Already registered for Wang Wei" in invalid_feedback(page, "phones")

    resp = admin_client.post("/customers/new", data={**data, "allow_duplicates": "y"})
    assert resp.status_code == 302
    with db(app) as sess:
        assert len(sess.scalars(select(Party).where(Party.name == "Wang Wei")).all()) == 2


def test_edit_customer(admin_client: Any, app: Flask, seeded: dict[str, Any]) -> None:
    party = add_customer(app, "Wang Wei", seeded["branches"]["A"], ("13800138000",))
    page = text(admin_client.get(f"/customers/{party}/edit"))
    assert "138 0013 8000" in page and 'value="Wang Wei"' in page
    resp = admin_client.post(f"/customers/{party}/edit", data={
        "kind": "person", "name": "Wang Wei", "phones": "138 0013 8000", "roles": ["customer"],
        "branch_id": str(seeded["branches"]["A"]), "do_not_contact": "y",
        "birthday": "2999-01-01"})
    assert resp.status_code == 422
    assert "past date" in invalid_feedback(text(resp), "birthday")
    resp = admin_client.post(f"/customers/{party}/edit", data={
        "kind": "person", "name": "Wang Wei", "phones": "138 0013 8000", "roles": ["customer"],
        "branch_id": str(seeded["branches"]["A"]), "do_not_contact": "y"})
    assert resp.status_code == 302
    page = text(admin_client.get(f"/customers/{party}"))
    assert 'data-testid="do-not-contact"' in page
    assert "Customer Wang Wei changed" in page


def test_custom_fields_page_and_form(admin_client: Any, app: Flask,
                                     seeded: dict[str, Any]) -> None:
    resp = admin_client.post("/admin/custom-fields", data={
        "entity": "party", "name": "Bad Name", "label": "x", "type": "text"})
    assert resp.status_code == 422
    assert "Lower-case letters" in invalid_feedback(text(resp), "name")
    for data in ({"entity": "party", "name": "shoe_size", "label": "Shoe size",
                  "type": "number", "position": "1"},
                 {"entity": "party", "name": "member_level", "label": "Member level",
                  "type": "choice", "choices": "silver\ngold"}):
        assert admin_client.post("/admin/custom-fields", data=data).status_code == 302
    page = text(admin_client.get("/admin/custom-fields"))
    assert "shoe_size" in page and "silver, gold" in page

    base = {"kind": "person", "name": "Zhao Liu", "roles": ["customer"],
            "branch_id": str(seeded["branches"]["A"])}
    resp = admin_client.post("/customers/new", data={**base, "cf_shoe_size": "big",
                                                      "cf_member_level": "gold"})
    assert resp.status_code == 422
    page = text(resp)
    assert invalid_feedback(page, "cf_shoe_size") == "Enter a number."
    assert '<option selected value="gold">' in page
    resp = admin_client.post("/customers/new", data={**base, "cf_shoe_size": "42.5",
                                                      "cf_member_level": "gold"})
    assert resp.status_code == 302
    with db(app) as sess:
        party = sess.scalar(select(Party).where(Party.name == "Zhao Liu"))
        assert party.custom == {"shoe_size": "42.5", "member_level": "gold"}
        assert len(sess.scalars(select(CustomField)).all()) == 2
    page = text(admin_client.get(f"/customers/{party.id}"))
    assert "Shoe size" in page and "42.5" in page


# -- the 360° page -----------------------------------------------------------------------------


def test_360_page_shows_vehicles_timeline_plugin_panel_and_audit(
        sample_app: Flask, sample_seeded: dict[str, Any]) -> None:
    a = sample_seeded["branches"]["A"]
    org = add_customer(sample_app, "Shunda Logistics", a, kind="organization")
    party = add_customer(sample_app, "Wang Wei", a, ("13800138000",), roles=["customer"])
    car = add_vehicle(sample_app, party, a, plate="京A12345", km=12345)
    add_entry(sample_app, party, "call", subject="Asked about the service offer")
    add_entry(sample_app, party, "sample.visit", subject="Plugin visit")
    with sample_app.app_context(), db(sample_app) as sess:
        parties.set_contact(sess, sess.get(Party, org), sess.get(Party, party), "buyer")
        sess.commit()
    client = client_for(sample_app, "admin")
    page = text(client.get(f"/customers/{party}"))
    for hook in ("customer-header", "panel-vehicles", "timeline", "timeline-form",
                 "panel-sample", "panel-contacts", "panel-followups"):
        assert f'data-testid="{hook}"' in page, hook
    assert "Sample panel" in page and f"<p>customer {party}</p>" in page
    assert f'href="/vehicles/{car}"' in page and "12,345 km" in page
    assert 'href="tel:+8613800138000"' in page and "138 0013 8000" in page
    assert "Asked about the service offer" in page and "Sample visit" in page
    assert f'href="/customers/{org}"' in page and "buyer" in page
    assert "data-audit-trail" in page and "Customer Wang Wei registered" in page
    for action in ("/edit", "/merge", f"/vehicles/new?owner_id={party}"):
        assert action in page
    # the kind filter
    page = text(client.get(f"/customers/{party}?kind=call"))
    assert "Asked about the service offer" in page and "Plugin visit" not in page
    # the vehicle page carries the plugin's vehicle panel
    page = text(client.get(f"/vehicles/{car}"))
    assert "Sample vehicle panel" in page and 'data-testid="panel-sample"' in page


def test_timeline_add_and_load_more(admin_client: Any, app: Flask,
                                    seeded: dict[str, Any]) -> None:
    party = add_customer(app, "Wang Wei", seeded["branches"]["A"])
    start = utcnow() - dt.timedelta(days=30)
    for i in range(23):
        add_entry(app, party, "note", subject=f"Note {i:02d}",
                  occurred_at=start + dt.timedelta(hours=i))
    page = text(admin_client.get(f"/customers/{party}"))
    assert "Note 22" in page and "Note 03" in page and "Note 02" not in page
    more = re.search(r'data-testid="timeline-more"[^>]*href="([^"]+)"', page)
    assert more
    page = text(admin_client.get(more.group(1).replace("&amp;", "&")))
    assert "Note 02" in page and "Note 00" in page and "Note 03" not in page
    assert 'data-testid="timeline-more"' not in page

    resp = admin_client.post(f"/customers/{party}/timeline",
                             data={"kind": "call", "subject": "Called about tyres"})
    assert resp.status_code == 302
    resp = admin_client.post(f"/customers/{party}/timeline",
                             data={"kind": "task", "subject": "Send offer", "due_at": ""})
    assert resp.status_code == 422
    page = text(resp)
    assert "follow-up needs a due date" in invalid_feedback(page, "due_at")
    assert 'value="Send offer"' in page
    resp = admin_client.post(f"/customers/{party}/timeline", data={
        "kind": "task", "subject": "Send offer", "due_at": "2030-01-02T10:00"})
    assert resp.status_code == 302
    with db(app) as sess:
        task = sess.scalar(select(TimelineEntry).where(TimelineEntry.subject == "Send offer"))
        assert task.status == "open"
        assert task.due_at == dt.datetime(2030, 1, 2, 2, 0, tzinfo=dt.UTC)  # 10:00 Shanghai


def test_recent_trail_appears_in_the_navbar(admin_client: Any, app: Flask,
                                            seeded: dict[str, Any]) -> None:
    party = add_customer(app, "Wang Wei", seeded["branches"]["A"])
    car = add_vehicle(app, party, seeded["branches"]["A"], plate="京A12345")
    assert 'data-testid="recent-trail"' not in text(admin_client.get("/customers"))
    admin_client.get(f"/customers/{party}")
    admin_client.get(f"/vehicles/{car}")
    page = text(admin_client.get("/customers"))
    trail = page[page.index('data-testid="recent-trail"'):]
    assert f'href="/customers/{party}" data-recent="party">Wang Wei<' in trail
    assert f'href="/vehicles/{car}" data-recent="vehicle">京A12345' in trail
    assert trail.index(f"/vehicles/{car}") < trail.index(f"/customers/{party}")  # newest first


# -- vehicles ----------------------------------------------------------------------------------


def test_vehicle_page_and_lower_odometer_refused(admin_client: Any, app: Flask,
                                                 seeded: dict[str, Any]) -> None:
    a = seeded["branches"]["A"]
    party = add_customer(app, "Wang Wei", a)
    car = add_vehicle(app, party, a, plate="京A12345", km=50000)
    page = text(admin_client.get(f"/vehicles/{car}"))
    for hook in ("vehicle-header", "odometer-form", "owner-form", "panel-ownership"):
        assert f'data-testid="{hook}"' in page, hook
    assert vin(1) in page and f'href="/customers/{party}"' in page and "50,000 km" in page
    assert "Vehicle " + vin(1) + " registered" in page  # audit trail

    resp = admin_client.post(f"/vehicles/{car}/odometer", data={"value_km": "40000"})
    assert resp.status_code == 422
    page = text(resp)
    assert invalid_feedback(page, "value_km") == "Lower than the previous reading (50000 km)."
    assert 'value="40000"' in page
    resp = admin_client.post(f"/vehicles/{car}/odometer",
                             data={"value_km": "40000", "meter_replaced": "y"})
    assert resp.status_code == 302
    resp = admin_client.post(f"/vehicles/{car}/odometer", data={"value_km": "41000"})
    assert resp.status_code == 302
    with db(app) as sess:
        assert sess.get(Vehicle, car).odometer_km == 41000
        assert len(sess.scalars(select(OdometerReading)).all()) == 3


def test_vehicle_list_new_and_edit(admin_client: Any, app: Flask,
                                   seeded: dict[str, Any]) -> None:
    a = seeded["branches"]["A"]
    party = add_customer(app, "Wang Wei", a)
    add_vehicle(app, party, a, plate="京A12345", n=1)
    add_vehicle(app, None, a, plate="沪B54321", n=2, make="Toyota", model="Camry")
    page = text(admin_client.get("/vehicles"))
    assert "京A12345" in page and "沪B54321" in page and 'data-testid="vehicle-search"' in page
    page = text(admin_client.get("/vehicles", query_string={"q": vin(2)[-6:]}))
    assert "沪B54321" in page and "京A12345" not in page
    page = text(admin_client.get("/vehicles", query_string={"q": "camry"}))
    assert "沪B54321" in page and "京A12345" not in page
    page = text(admin_client.get("/vehicles", query_string={"make": "Volkswagen"}))
    assert "京A12345" in page and "沪B54321" not in page

    page = text(admin_client.get(f"/vehicles/new?owner_id={party}"))
    assert f'value="Wang Wei · #{party}"' in page  # the owner picker, filled
    resp = admin_client.post(f"/vehicles/new?owner_id={party}", data={
        "vin": vin(1), "owner_id": str(party), "branch_id": str(a)})
    assert resp.status_code == 422
    page = text(resp)
    assert 'data-testid="vehicle-exists"' in page
    assert invalid_feedback(page, "vin") == "Already registered."
    resp = admin_client.post("/vehicles/new", data={
        "vin": vin(5), "plate": "京A99999", "owner_id": str(party), "branch_id": str(a),
        "fuel_type": "bev", "year": "2024"})
    assert resp.status_code == 302
    with db(app) as sess:
        car = sess.scalar(select(Vehicle).where(Vehicle.vin == vin(5)))
        assert car.owner_id == party and car.fuel_type == "bev"
    resp = admin_client.post(f"/vehicles/{car.id}/edit", data={
        "vin": vin(5), "plate": "X", "branch_id": str(a)})
    assert resp.status_code == 422
    assert 'value="X"' in text(resp)
    resp = admin_client.post(f"/vehicles/{car.id}/edit", data={
        "vin": vin(5), "plate": "京A88888", "colour": "White", "branch_id": str(a)})
    assert resp.status_code == 302
    with db(app) as sess:
        assert sess.get(Vehicle, car.id).plate == "京A88888"


def test_owner_change(admin_client: Any, app: Flask, seeded: dict[str, Any]) -> None:
    a = seeded["branches"]["A"]
    seller = add_customer(app, "Wang Wei", a)
    buyer = add_customer(app, "Li Na", a)
    car = add_vehicle(app, seller, a, plate="京A12345", owner_since="2020-05-01")
    resp = admin_client.post(f"/vehicles/{car}/owner",
                             data={"owner_id": "99999", "owner_since": "2024-03-01"})
    assert resp.status_code == 422
    assert "No active customer" in invalid_feedback(text(resp), "owner")
    resp = admin_client.post(f"/vehicles/{car}/owner",
                             data={"owner_id": str(buyer), "owner_since": "2019-01-01"})
    assert resp.status_code == 422
    assert "2020-05-01" in invalid_feedback(text(resp), "owner_since")
    resp = admin_client.post(f"/vehicles/{car}/owner",
                             data={"owner_id": str(buyer), "owner_since": "2024-03-01"})
    assert resp.status_code == 302
    with db(app) as sess:
        assert sess.get(Vehicle, car).owner_id == buyer
        rows = sess.scalars(select(VehicleOwnership).order_by(VehicleOwnership.since)).all()
        assert [(r.party_id, r.until) for r in rows] == [(seller, dt.date(2024, 3, 1)),
                                                          (buyer, None)]
    page = text(admin_client.get(f"/vehicles/{car}"))
    owner = page[page.index('data-testid="vehicle-owner"'):][:200]
    assert f'href="/customers/{buyer}"' in owner
    page = text(admin_client.get(f"/customers/{seller}"))
    assert 'data-testid="former-vehicles"' in page and f'href="/vehicles/{car}"' in page


# -- my day, follow-ups ------------------------------------------------------------------------


def test_my_day_lists_due_return_visit_and_completing_updates_satisfaction(
        app: Flask, seeded: dict[str, Any]) -> None:
    a = seeded["branches"]["A"]
    sales_id = seeded["users"]["sales"]
    party = add_customer(app, "Wang Wei", a, ("13800138000",))
    due = add_entry(app, party, "return_visit", subject="After-service call",
                    due_at=utcnow() - dt.timedelta(hours=2), assignee_id=sales_id)
    add_entry(app, party, "task", subject="Next month", assignee_id=sales_id,
              due_at=utcnow() + dt.timedelta(days=30))
    add_entry(app, party, "task", subject="Someone else's", assignee_id=seeded["users"]["admin"],
              due_at=utcnow() - dt.timedelta(hours=1))
    sales = client_for(app, "sales")
    page = text(sales.get("/my-day"))
    assert "After-service call" in page and f'href="/customers/{party}"' in page
    assert "Next month" not in page and "Someone else's" not in page
    assert 'data-overdue="1"' in page and 'data-testid="complete-form"' in page
    assert 'data-testid="my-day-scope"' not in page  # not a manager

    resp = sales.post(f"/timeline/{due}/complete", data={
        "outcome": "Happy with the service", "satisfaction": "4", "next": "/my-day"})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/my-day")
    with db(app) as sess:
        assert sess.get(TimelineEntry, due).status == "done"
        assert sess.get(PartyValue, party).satisfaction == Decimal("4.00")
    assert "After-service call" not in text(sales.get("/my-day"))
    page = text(sales.get(f"/customers/{party}"))
    satisfaction = page[page.index('data-testid="satisfaction"'):][:80]
    assert "4" in satisfaction
    resp = sales.post(f"/timeline/{due}/complete", data={"satisfaction": "4"})
    assert resp.status_code == 302  # closed already: flashed, not a crash
    assert "closed already" in text(sales.get(f"/customers/{party}"))

    manager = client_for(app, "manager")
    assert "Someone else's" not in text(manager.get("/my-day"))
    page = text(manager.get("/my-day?all=1"))
    assert "Someone else's" in page and 'data-testid="my-day-scope"' in page


# -- merge -------------------------------------------------------------------------------------


def test_merge_two_customers(admin_client: Any, app: Flask, seeded: dict[str, Any]) -> None:
    a = seeded["branches"]["A"]
    keep = add_customer(app, "Wang Wei", a, ("13800138000",))
    gone = add_customer(app, "Wang Wei (old)", a, ("13912345678",))
    car = add_vehicle(app, gone, a, plate="京A12345")
    page = text(admin_client.get(f"/customers/{keep}/merge", query_string={"q": "13912345678"}))
    assert f"/customers/{keep}/merge?other={gone}" in page
    page = text(admin_client.get(f"/customers/{keep}/merge?other={gone}"))
    assert 'data-testid="merge-form"' in page and "Wang Wei (old)" in page
    assert "139 1234 5678" in page and "138 0013 8000" in page
    resp = admin_client.post(f"/customers/{keep}/merge", data={"other": str(gone),
                                                                "keep": "this"})
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/customers/{keep}")
    with db(app) as sess:
        removed = sess.get(Party, gone)
        assert not removed.active and removed.merged_into_id == keep
        assert sess.get(Party, keep).phone_numbers == ["+8613800138000", "+8613912345678"]
        assert sess.get(Vehicle, car).owner_id == keep
    resp = admin_client.get(f"/customers/{gone}")
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/customers/{keep}")
    assert "was merged into Wang Wei" in text(admin_client.get(resp.headers["Location"]))


# -- access ------------------------------------------------------------------------------------


def test_branch_filter_hides_other_branches(app: Flask, seeded: dict[str, Any]) -> None:
    b = seeded["branches"]["B"]
    other = add_customer(app, "Zhou Branch B", b, ("13800138000",))
    car = add_vehicle(app, other, b, plate="粤B12345")
    entry = add_entry(app, other, "task", subject="B task", due_at=utcnow(),
                      assignee_id=seeded["users"]["sales"])
    sales = client_for(app, "sales")
    for url in (f"/customers/{other}", f"/customers/{other}/edit", f"/vehicles/{car}",
                f"/vehicles/{car}/edit", f"/vehicles/new?owner_id={other}"):
        assert sales.get(url).status_code == 404, url
    assert sales.post(f"/timeline/{entry}/complete", data={}).status_code == 404
    assert sales.post(f"/customers/{other}/timeline", data={"kind": "call"}).status_code == 404
    assert "Zhou Branch B" not in text(sales.get("/customers"))
    assert "Zhou Branch B" not in text(sales.get("/customers?q=13800138000"))
    assert "粤B12345" not in text(sales.get("/vehicles"))
    assert sales.get("/search?q=13800138000").status_code == 200  # no redirect to B's record
    assert "B task" not in text(sales.get("/my-day"))
    assert client_for(app, "manager").get(f"/customers/{other}").status_code == 200


def test_viewer_reads_but_cannot_open_forms(app: Flask, seeded: dict[str, Any]) -> None:
    a = seeded["branches"]["A"]
    party = add_customer(app, "Wang Wei", a)
    car = add_vehicle(app, party, a)
    viewer = client_for(app, "viewer")
    assert viewer.get(f"/customers/{party}").status_code == 200
    assert viewer.get(f"/vehicles/{car}").status_code == 200
    page = text(viewer.get(f"/customers/{party}"))
    assert 'data-testid="timeline-form"' not in page and f"/customers/{party}/edit" not in page
    for url in ("/customers/new", f"/customers/{party}/edit", f"/customers/{party}/merge",
                "/vehicles/new", f"/vehicles/{car}/edit", "/my-day", "/admin/custom-fields"):
        assert viewer.get(url).status_code == 403, url
    for url in (f"/customers/{party}/timeline", f"/vehicles/{car}/odometer",
                f"/vehicles/{car}/owner", "/customers/new"):
        assert viewer.post(url, data={}).status_code == 403, url
    anonymous = app.test_client()
    assert "/login" in anonymous.get(f"/customers/{party}").headers["Location"]


def test_pages_in_chinese(app: Flask, seeded: dict[str, Any]) -> None:
    a = seeded["branches"]["A"]
    party = add_customer(app, "王伟", a, ("13800138000",))
    car = add_vehicle(app, party, a, plate="京A12345", km=1000)
    add_entry(app, party, "return_visit", subject="回访", due_at=utcnow(),
              assignee_id=seeded["users"]["admin"])
    client = client_for(app, "admin")
    for url in ("/customers", f"/customers/{party}", f"/customers/{party}/edit",
                "/customers/new", f"/vehicles/{car}", "/vehicles", "/my-day", "/search?q=王",
                f"/customers/{party}/merge", "/admin/custom-fields"):
        resp = client.get(url, headers={"Accept-Language": "zh-CN,zh;q=0.9"})
        assert resp.status_code == 200, url
        assert '<html lang="zh-CN">' in text(resp), url


def test_export_follows_the_list_and_segments_page(app, seeded):
    import csv
    import io

    from carebiz.crm.services import parties, value

    with app.test_request_context():
        from carebiz import db

        sess = db.session()
        a = seeded["branches"]["A"]
        rich = parties.create_party(sess, {"name": "=cmd|' /C calc'!A0", "phones": ["13800138000"],
                                           "branch_id": a}, allow_duplicates=True)
        parties.create_party(sess, {"name": "Other", "branch_id": seeded["branches"]["B"]})
        value.record_revenue(sess, party_id=rich.id, amount="1000", currency="CNY",
                             occurred_on=__import__("datetime").date.today(), source="t",
                             ref="1")
        value.refresh_scores(sess)
        sess.commit()
    client = app.test_client()
    login(client, "sales")
    resp = client.get("/customers/export.csv", follow_redirects=True)  # the generic export
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(resp.get_data(as_text=True).lstrip("\ufeff"))))
    assert len(rows) == 2  # header + the one branch-A customer; branch B is not exported
    assert rows[1][1].startswith("'=")  # a formula-looking name is made inert
    assert rows[1][4] == "+8613800138000"
    page = client.get("/segments")
    assert page.status_code == 200 and b'data-testid="segments"' in page.data
    viewer = app.test_client()
    login(viewer, "viewer")
    assert viewer.get("/segments").status_code == 403
