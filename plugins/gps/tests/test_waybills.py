"""Waybills: numbers, scans through the transitions (409 with allowed), the vehicle's
position at each scan, the barcode, the API, the public tracking page (token expiry,
revocation, rate limit, no names) and the branch privacy."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from carebiz.testing import make_customer, make_user, make_vehicle

UTC = dt.UTC


@pytest.fixture
def session(app: Flask, seeded: dict[str, Any]) -> Iterator[Session]:
    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        yield sess


@pytest.fixture
def fleet(app: Flask, seeded: dict[str, Any]) -> dict[str, Any]:
    """A tracked van in each of branches A and B (live state at a known place), a waybill
    on each, and a user ``nobody`` in A without any GPS permission."""
    from carebiz_plugins.gps.models import GpsDevice, GpsDeviceState
    from carebiz_plugins.gps.services import waybills

    out: dict[str, Any] = {}
    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        now = dt.datetime.now(UTC).replace(microsecond=0)
        for n, code in enumerate(("A", "B")):
            branch = seeded["branches"][code]
            owner = make_customer(sess, f"物流{code}", branch)
            car = make_vehicle(sess, 800 + n, branch, owner_id=owner.id, plate=f"沪C8888{n}")
            device = GpsDevice(imei=f"35630704244200{n}", vehicle_id=car.id, branch_id=branch,
                               status="active")
            sess.add(device)
            sess.flush()
            sess.add(GpsDeviceState(device_id=device.id, fix_time=now, latitude=31.2 + n,
                                    longitude=121.5, moving=False, online=True))
            bill = waybills.create_waybill(sess, {
                "shipper_name": f"发货人{code}", "consignee_name": f"收货人{code}",
                "consignee_phone": "13800000000", "goods": "配件", "pieces": 3,
                "weight_kg": "12.5", "vehicle_id": car.id, "branch_id": branch})
            out[code] = {"vehicle": car.id, "device": device.id, "waybill": bill.id,
                         "number": bill.number, "branch": branch}
        make_user(sess, "nobody", roles=[], branches=["A"])
        sess.commit()
    return out


# --- services -----------------------------------------------------------------------------


def test_numbers_are_readable_and_count_per_day(session: Session,
                                                seeded: dict[str, Any]) -> None:
    from carebiz.toolkit import today
    from carebiz_plugins.gps.services import waybills

    data = {"shipper_name": "S", "consignee_name": "C", "consignee_phone": "1",
            "goods": "G", "branch_id": seeded["branches"]["A"]}
    first = waybills.create_waybill(session, data)
    second = waybills.create_waybill(session, data)
    day = today().strftime("%Y%m%d")
    assert (first.number, second.number) == (f"WB{day}-0001", f"WB{day}-0002")
    assert waybills.next_number(session, dt.date(2030, 1, 1)) == "WB20300101-0001"


def test_create_reports_every_problem_at_once(session: Session) -> None:
    from carebiz.errors import ValidationFailed
    from carebiz_plugins.gps.services import waybills

    with pytest.raises(ValidationFailed) as err:
        waybills.create_waybill(session, {"pieces": 0, "weight_kg": "-2", "vehicle_id": 999,
                                          "colour": "red"})
    assert set(err.value.errors) >= {"shipper_name", "consignee_name", "consignee_phone",
                                     "goods", "pieces", "weight_kg", "vehicle_id", "colour"}


def test_pieces_are_guarded_by_the_database(session: Session, seeded: dict[str, Any]) -> None:
    from sqlalchemy.exc import IntegrityError

    from carebiz_plugins.gps.models import GpsWaybill

    session.add(GpsWaybill(number="WB20260101-0009", shipper_name="S", consignee_name="C",
                           goods="G", pieces=0, branch_id=seeded["branches"]["A"]))
    with pytest.raises(IntegrityError):
        session.flush()


def test_scans_follow_the_transitions_with_positions(app: Flask, fleet: dict[str, Any],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from carebiz.toolkit.transitions import IllegalTransition
    from carebiz_plugins.gps.models import GpsDeviceState, GpsWaybill
    from carebiz_plugins.gps.services import waybills

    monkeypatch.setattr(waybills, "DOUBLE_READ", dt.timedelta(0))

    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        bill = sess.get(GpsWaybill, fleet["A"]["waybill"])
        assert bill is not None
        with pytest.raises(IllegalTransition) as err:
            waybills.move(sess, bill, "delivered")
        assert err.value.details["current_status"] == "received"
        assert err.value.details["allowed"] == ["load"]
        sess.rollback()
        loaded = waybills.scan(sess, f" {bill.number.lower()} ")
        # the van moves on; the next scan records where it is then
        state = sess.get(GpsDeviceState, fleet["A"]["device"])
        assert state is not None
        state.latitude, state.longitude = 31.5, 121.9
        sess.flush()
        transit = waybills.scan(sess, bill.number)
        delivered = waybills.scan(sess, bill.number, "delivered")
        sess.commit()
        assert [e.status for e in waybills.events(sess, bill)] == [
            "received", "loaded", "in_transit", "delivered"]
        assert (loaded.latitude, transit.latitude) == (31.2, 31.5)
        assert delivered.device_id == fleet["A"]["device"] and delivered.fix_time is not None
        assert bill.delivered_at is not None and waybills.allowed(bill) == []
        with pytest.raises(IllegalTransition):
            waybills.scan(sess, bill.number)


def test_a_double_read_is_refused_not_moved_twice(app: Flask, fleet: dict[str, Any]) -> None:
    from carebiz.toolkit.transitions import IllegalTransition
    from carebiz_plugins.gps.services import waybills

    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        assert waybills.scan(sess, fleet["A"]["number"]).status == "loaded"
        sess.commit()
        with pytest.raises(IllegalTransition) as err:
            waybills.scan(sess, fleet["A"]["number"])
        assert err.value.details["current_status"] == "loaded"
        sess.rollback()
        # naming the status is a deliberate choice, not a double read
        assert waybills.scan(sess, fleet["A"]["number"], "in_transit").status == "in_transit"


def test_two_scans_at_once_move_one_step(app: Flask, fleet: dict[str, Any]) -> None:
    """Two clerks load the same parcel at the same moment: one move is recorded, the other
    is told where it is now (the row lock; on SQLite the writers queue the same way)."""
    import threading

    from carebiz.toolkit.transitions import IllegalTransition
    from carebiz_plugins.gps.models import GpsWaybill
    from carebiz_plugins.gps.services import waybills

    ready = threading.Barrier(2)
    results: list[str] = []

    def clerk() -> None:
        with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
            bill = sess.get(GpsWaybill, fleet["A"]["waybill"])
            assert bill is not None and bill.status == "received"
            ready.wait(5)
            try:
                waybills.move(sess, bill, None)
                sess.commit()
                results.append("moved")
            except IllegalTransition:
                sess.rollback()
                results.append("refused")

    threads = [threading.Thread(target=clerk) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert sorted(results) == ["moved", "refused"]
    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        assert [e.status for e in waybills.events(sess, sess.get(GpsWaybill,
                                                                 fleet["A"]["waybill"]))
                ] == ["received", "loaded"]


def test_scanning_another_branchs_waybill_finds_nothing(app: Flask, fleet: dict[str, Any],
                                                        seeded: dict[str, Any]) -> None:
    from carebiz.errors import NotFound, ValidationFailed
    from carebiz.models import User
    from carebiz_plugins.gps.services import waybills

    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        sales = sess.get(User, seeded["users"]["sales"])
        with pytest.raises(NotFound):
            waybills.scan(sess, fleet["B"]["number"], user=sales)
        with pytest.raises(ValidationFailed):
            waybills.scan(sess, "not a barcode", user=sales)
        assert waybills.scan(sess, fleet["A"]["number"], user=sales).status == "loaded"


def test_barcode_is_code_128_b_of_the_number() -> None:
    from carebiz_plugins.gps import barcode

    assert len(barcode.PATTERNS) == 107 and len(set(barcode.PATTERNS)) == 107
    assert all(sum(map(int, p)) == 11 for p in barcode.PATTERNS[:106])
    assert sum(map(int, barcode.PATTERNS[106])) == 13
    values = barcode.symbols("WB20261202-0001")
    assert values[0] == barcode.START_B and values[-1] == barcode.STOP
    assert values[1:-2] == [ord(c) - 32 for c in "WB20261202-0001"]
    assert values[-2] == (104 + sum(i * v for i, v in enumerate(values[1:-2], 1))) % 103
    # read the drawn bars back into symbols: the SVG is what the table says
    bars = barcode.modules("WB1")
    widths: list[int] = []
    for (x, w), nxt in zip(bars, [*bars[1:], None], strict=True):
        widths.append(w)
        if nxt is not None:
            widths.append(nxt[0] - x - w)
    decoded, i = [], 0
    while i < len(widths):
        size = 7 if len(widths) - i == 7 else 6
        decoded.append(barcode.PATTERNS.index("".join(map(str, widths[i:i + size]))))
        i += size
    assert decoded == barcode.symbols("WB1")
    svg = str(barcode.svg("WB1"))
    assert svg.startswith("<svg") and svg.count("<rect") == len(bars) + 1 and ">WB1<" in svg
    with pytest.raises(ValueError):
        barcode.symbols("运单")


# --- tokens and the public page -------------------------------------------------------------


def _token(app: Flask, waybill_id: int, **kw: Any) -> str:
    from carebiz_plugins.gps.models import GpsWaybill
    from carebiz_plugins.gps.services import waybills

    with app.test_request_context(), app.extensions["carebiz"].session_factory() as sess:
        bill = sess.get(GpsWaybill, waybill_id)
        token, _expires = waybills.issue_token(sess, bill, **kw)
        sess.commit()
        return token


def test_public_page_shows_status_and_position_but_no_names(app: Flask,
                                                            fleet: dict[str, Any]) -> None:
    token = _token(app, fleet["A"]["waybill"])
    page = app.test_client().get(f"/track/{fleet['A']['number']}?t={token}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'data-track="ok"' in html and 'data-status="received"' in html
    assert "31.20000, 121.50000" in html
    for secret in ("发货人A", "收货人A", "13800000000"):
        assert secret not in html


def test_wrong_expired_and_withdrawn_tokens(app: Flask, fleet: dict[str, Any],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    client = app.test_client()
    number = fleet["A"]["number"]
    token = _token(app, fleet["A"]["waybill"])
    assert client.get(f"/track/{number}?t=forged").status_code == 404
    assert client.get(f"/track/{number}").status_code == 404
    # a token of A's waybill does not open B's
    assert client.get(f"/track/{fleet['B']['number']}?t={token}").status_code == 404
    # eight days later the seven-day token has expired: 410 with a friendly page
    import itsdangerous.timed

    later = dt.datetime.now(UTC).timestamp() + 8 * 86400
    monkeypatch.setattr(itsdangerous.timed.time, "time", lambda: later)
    expired = client.get(f"/track/{number}?t={token}")
    assert expired.status_code == 410 and "expired" in expired.get_data(as_text=True)
    monkeypatch.undo()
    assert client.get(f"/track/{number}?t={token}").status_code == 200
    _token(app, fleet["A"]["waybill"], revoke_previous=True)
    assert client.get(f"/track/{number}?t={token}").status_code == 410
    from sqlalchemy import select

    from carebiz.models import AuditEntry

    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        said = sess.scalars(select(AuditEntry.summary).where(
            AuditEntry.entity_type == "gps_waybill",
            AuditEntry.entity_id == str(fleet["A"]["waybill"]))).all()
        assert any("earlier links withdrawn" in str(x) for x in said), said


def test_public_page_is_rate_limited(make_app: Any, seeded: dict[str, Any]) -> None:
    app = make_app(CAREBIZ_PLUGINS="gps", CAREBIZ_GPS_TRACK_LIMIT="3/minute")
    client = app.test_client()
    codes = [client.get("/track/WB20260101-0001?t=x").status_code for _ in range(4)]
    assert codes == [404, 404, 404, 429]
    refused = client.get("/track/WB20260101-0001?t=x")
    assert int(refused.headers["Retry-After"]) >= 1


# --- API ------------------------------------------------------------------------------------


def test_api_create_list_get(api_client: Any, fleet: dict[str, Any]) -> None:
    sales = api_client("sales")
    made = sales.post("/api/v1/gps/waybills", json={
        "shipper_name": "上海鲜达", "consignee_name": "李娜", "consignee_phone": "138",
        "goods": "生鲜", "pieces": 2, "weight_kg": "8.40", "vehicle_id": fleet["A"]["vehicle"]})
    assert made.status_code == 201, made.get_json()
    body = made.get_json()
    assert re.fullmatch(r"WB\d{8}-\d{4}", body["number"]) and body["status"] == "received"
    assert body["weight_kg"] == "8.4" and body["allowed"] == ["loaded"]
    assert body["events"][0]["latitude"] == 31.2 and made.headers["ETag"]
    listed = sales.get("/api/v1/gps/waybills?status=received").get_json()
    assert {i["number"] for i in listed["items"]} == {fleet["A"]["number"], body["number"]}
    assert sales.get(f"/api/v1/gps/waybills/{fleet['B']['waybill']}").status_code == 404
    bad = sales.post("/api/v1/gps/waybills", json={"consignee_name": "x",
                                                   "consignee_phone": "1", "goods": "g",
                                                   "pieces": 0})
    assert bad.status_code == 422 and "pieces" in bad.get_json()["errors"]


def test_api_status_and_scan_409_with_allowed(api_client: Any, fleet: dict[str, Any],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from carebiz_plugins.gps.services import waybills

    monkeypatch.setattr(waybills, "DOUBLE_READ", dt.timedelta(0))
    sales = api_client("sales")
    url = f"/api/v1/gps/waybills/{fleet['A']['waybill']}"
    refused = sales.post(f"{url}/status", json={"status": "delivered"})
    assert refused.status_code == 409
    body = refused.get_json()
    assert body["status"] == "received" and body["allowed"] == ["load"]
    assert body["error"] == "invalid_transition"
    moved = sales.post(f"{url}/status", json={"note": "叉车装车"})
    assert moved.status_code == 200 and moved.get_json()["status"] == "loaded"
    stale = sales.post(f"{url}/status", json={"version": 1})
    assert stale.status_code == 409 and stale.get_json()["status"] == "version_conflict"
    scanned = sales.post("/api/v1/gps/waybills/scan", json={"code": fleet["A"]["number"]})
    assert scanned.status_code == 200 and scanned.get_json()["status"] == "in_transit"
    other = sales.post("/api/v1/gps/waybills/scan", json={"code": fleet["B"]["number"]})
    assert other.status_code == 404


def test_api_token_and_permissions(api_client: Any, fleet: dict[str, Any]) -> None:
    sales = api_client("sales")
    issued = sales.post(f"/api/v1/gps/waybills/{fleet['A']['waybill']}/token", json={})
    assert issued.status_code == 201
    link = issued.get_json()["url"]
    assert f"/track/{fleet['A']['number']}?t=" in link
    viewer = api_client("viewer")
    assert viewer.get("/api/v1/gps/waybills").status_code == 200
    assert viewer.post("/api/v1/gps/waybills/scan",
                       json={"code": fleet["A"]["number"]}).status_code == 403
    nobody = api_client("nobody")
    assert nobody.get("/api/v1/gps/waybills").status_code == 403


# --- pages ----------------------------------------------------------------------------------


def test_pages_list_show_and_scan(client_for: Any, fleet: dict[str, Any]) -> None:
    sales = client_for("sales")
    listing = sales.get("/gps/waybills").get_data(as_text=True)
    assert fleet["A"]["number"] in listing and fleet["B"]["number"] not in listing
    page = sales.get(f"/gps/waybills/{fleet['A']['waybill']}")
    assert page.status_code == 200 and "<svg" in page.get_data(as_text=True)
    assert sales.get(f"/gps/waybills/{fleet['B']['waybill']}").status_code == 404
    scanned = sales.post("/gps/waybills/scan", data={"code": fleet["A"]["number"]})
    assert scanned.status_code == 200
    assert f'data-scanned="{fleet["A"]["number"]}"' in scanned.get_data(as_text=True)
    again = sales.post(f"/gps/waybills/{fleet['A']['waybill']}/status",
                       data={"status": "delivered", "version": "999"})
    assert again.status_code == 409
    assert client_for("nobody").get("/gps/waybills").status_code == 403


def test_new_waybill_page(client_for: Any, fleet: dict[str, Any]) -> None:
    sales = client_for("sales")
    form = sales.get("/gps/waybills/new")
    assert form.status_code == 200 and "沪C88880" in form.get_data(as_text=True)
    refused = sales.post("/gps/waybills/new", data={"shipper_name": "S", "goods": "G",
                                                    "consignee_name": "C",
                                                    "consignee_phone": "1", "pieces": "1",
                                                    "weight_kg": "heavy"})
    assert refused.status_code == 422
    made = sales.post("/gps/waybills/new", data={
        "shipper_name": "S", "goods": "G", "consignee_name": "C", "consignee_phone": "1",
        "pieces": "2", "vehicle_id": str(fleet["A"]["vehicle"])})
    assert made.status_code == 302 and "/gps/waybills/" in made.headers["Location"]


def test_printable_waybill_has_the_barcode(client_for: Any, api_client: Any,
                                          fleet: dict[str, Any]) -> None:
    sales = client_for("sales")
    assert sales.get(f"/documents/gps.waybill/{fleet['A']['waybill']}").status_code == 200
    api = api_client("sales")
    url = f"/api/v1/documents/gps.waybill/{fleet['A']['waybill']}"
    html = api.get(f"{url}?format=html").get_data(as_text=True)
    assert "<svg" in html and fleet["A"]["number"] in html and "收货人A" in html
    pdf = api.get(f"{url}?format=pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    word = api.get(f"{url}?format=docx")
    assert word.status_code == 200 and word.data.startswith(b"PK")
    assert api.get(f"/api/v1/documents/gps.waybill/{fleet['B']['waybill']}?format=html"
                   ).status_code == 404


def test_clerks_receiving_at_once_get_distinct_numbers(app: Flask,
                                                       seeded: dict[str, Any]) -> None:
    """Four clerks receive consignments at the same moment: four numbers, no gap, no
    error (a number taken meanwhile is retried with the next one)."""
    import threading

    from carebiz_plugins.gps.services import waybills

    ready = threading.Barrier(4)
    numbers: list[str] = []
    errors: list[BaseException] = []

    def clerk() -> None:
        with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
            ready.wait(5)
            try:
                bill = waybills.create_waybill(sess, {
                    "shipper_name": "S", "consignee_name": "C", "consignee_phone": "1",
                    "goods": "G", "branch_id": seeded["branches"]["A"]})
                sess.commit()
                numbers.append(bill.number)
            except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
                errors.append(exc)

    threads = [threading.Thread(target=clerk) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    assert sorted(n[-4:] for n in numbers) == ["0001", "0002", "0003", "0004"]
