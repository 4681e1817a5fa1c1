"""``POST /api/v1/customers`` with a first vehicle: the customer and the car in one
transaction, by VIN or by plate alone, as the customer form's first-vehicle section does;
a bad vehicle is a 422 naming ``vehicle.<field>`` and nothing is written."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from carebiz.testing import valid_vin


def _counts(app: Any) -> tuple[int, int, int]:
    from carebiz.crm.models import Party, Vehicle
    from carebiz.models.audit import AuditEntry

    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        return (sess.scalar(select(func.count(Party.id))),
                sess.scalar(select(func.count(Vehicle.id))),
                sess.scalar(select(func.count(AuditEntry.id))))


def test_customer_with_a_vin_registers_both(app, seeded, api_client):
    api = api_client("sales")
    vin = valid_vin(4711)
    resp = api.post("/api/v1/customers", json={
        "name": "Chen Jing", "phones": ["13800138000"],
        "vehicle": {"vin": vin.lower(), "plate": "沪A·4W9XT", "make": "SAIC", "year": 2024}})
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    car = body["vehicle"]
    assert car["vin"] == vin and car["plate"] == "沪A4W9XT" and car["owner_id"] == body["id"]
    assert car["branch_id"] == body["branch_id"] == seeded["branches"]["A"]
    got = api.get(f"/api/v1/vehicles/{car['id']}").get_json()
    assert got["ownerships"][0]["party_id"] == body["id"]


def test_customer_with_a_plate_only_car(app, seeded, api_client):
    resp = api_client("sales").post("/api/v1/customers", json={
        "name": "Walk In", "vehicle": {"plate": "粤B12345", "make": "Honda"}})
    assert resp.status_code == 201, resp.get_json()
    assert resp.get_json()["vehicle"]["vin"] is None
    assert resp.get_json()["vehicle"]["plate"] == "粤B12345"


def test_without_a_vehicle_answers_null(app, seeded, api_client):
    for body in ({"name": "No Car"}, {"name": "Empty Car", "vehicle": {"vin": "", "plate": None}},
                 {"name": "Null Car", "vehicle": None}):
        resp = api_client("sales").post("/api/v1/customers", json=body)
        assert resp.status_code == 201, resp.get_json()
        assert resp.get_json()["vehicle"] is None


def test_a_bad_vin_is_a_422_and_nothing_is_written(app, seeded, api_client):
    api = api_client("sales")
    before = _counts(app)
    bad = valid_vin(12)[:8] + ("0" if valid_vin(12)[8] != "0" else "1") + valid_vin(12)[9:]
    resp = api.post("/api/v1/customers", json={"name": "Bad Vin", "vehicle": {"vin": bad}})
    assert resp.status_code == 422, resp.get_json()
    errors = resp.get_json()["errors"]
    assert "vehicle.vin" in errors and "name" not in errors
    assert _counts(app) == before


def test_customer_and_vehicle_errors_come_together(app, seeded, api_client):
    api = api_client("sales")
    before = _counts(app)
    resp = api.post("/api/v1/customers", json={"name": "", "vehicle": {"make": "Only A Make"}})
    assert resp.status_code == 422, resp.get_json()
    errors = resp.get_json()["errors"]
    assert "name" in errors and any(k.startswith("vehicle.") for k in errors)
    assert _counts(app) == before


def test_a_vin_on_file_refuses_the_customer_too(app, seeded, api_client):
    api = api_client("sales")
    vin = valid_vin(99)
    assert api.post("/api/v1/vehicles", json={"vin": vin}).status_code == 201
    before = _counts(app)
    resp = api.post("/api/v1/customers", json={"name": "Second Owner", "vehicle": {"vin": vin}})
    assert resp.status_code == 422
    assert "vehicle.vin" in resp.get_json()["errors"]
    assert _counts(app) == before


def test_a_failure_after_the_customer_is_flushed_rolls_both_back(app, seeded, api_client,
                                                                 monkeypatch):
    from carebiz.crm.services import vehicles
    from carebiz.errors import ValidationFailed

    def refuse(*_a: Any, **_kw: Any) -> Any:
        raise ValidationFailed("refused", {"vin": "refused"})

    monkeypatch.setattr(vehicles, "create_vehicle", refuse)
    api = api_client("sales")
    before = _counts(app)
    resp = api.post("/api/v1/customers", json={
        "name": "Half Written", "vehicle": {"plate": "京A11111"}})
    assert resp.status_code == 422
    assert _counts(app) == before


def test_openapi_describes_the_first_vehicle(app, seeded, api_client):
    doc = api_client("sales").get("/api/v1/openapi.json").get_json()
    schemas = doc["components"]["schemas"]
    create = schemas["CustomerCreate"]["properties"]
    assert "vehicle" in create and "FirstVehicle" in str(create["vehicle"])
    assert "vin" in schemas["FirstVehicle"]["properties"]
    assert "vehicle" in schemas["CustomerCreated"]["properties"]
    post = doc["paths"]["/api/v1/customers"]["post"]
    assert "CustomerCreated" in str(post["responses"]["201"])
