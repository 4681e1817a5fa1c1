"""OsmAnd HTTP ingest: the parser (units, times, bad values), the web app's ``/gps/osmand``
route against the database, and the standalone asyncio server over real TCP."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from carebiz.services import settings
from carebiz.testing import make_vehicle, run_async
from carebiz_plugins.gps.ingest import http
from carebiz_plugins.gps.ingest.http import OsmandError, OsmandServer, parse_request
from carebiz_plugins.gps.ingest.memory import MemorySink
from carebiz_plugins.gps.ingest.store import DbSink
from carebiz_plugins.gps.models import GpsDevice, GpsPosition
from carebiz_plugins.gps.services import positions

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
PHONE = "phone-4711"


def parse(query: str, body: bytes = b"", ctype: str = "") -> http.Report:
    return parse_request(query, body, ctype, NOW)


# --- the parser -------------------------------------------------------------------------------

def test_query_format_units_and_extras() -> None:
    r = parse("id=123456&lat=52.5&lon=-4.25&timestamp=1772366400&speed=10&bearing=90.4"
              "&altitude=12.5&accuracy=8&hdop=1.2&batt=77&valid=false&ignition=true&foo=bar")
    f = r.fix
    assert (f.device, f.latitude, f.longitude) == ("123456", 52.5, -4.25)
    assert f.fix_time == datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    assert f.speed_kmh == 18.52          # knots, as OsmAnd and Traccar define it
    assert f.course == 90 and f.valid is False and f.ignition is True
    assert f.attributes["altitude"] == 12.5 and f.attributes["battery"] == 77
    assert f.attributes["hdop"] == 1.2 and f.attributes["accuracy"] == 8
    assert f.attributes["x_foo"] == "bar" and r.extra == {"foo": "bar"}
    assert f.raw is not None and f.raw.startswith(b"id=123456")


@pytest.mark.parametrize(("stamp", "expected"), [
    ("1772366400", NOW),                                  # unix seconds
    ("1772366400000", NOW),                               # unix milliseconds
    ("1772366400.5", NOW + timedelta(milliseconds=500)),
    ("2026-03-01T12:00:00Z", NOW),
    ("2026-03-01T13:00:00+01:00", NOW),
    ("2026-03-01T12:00:00", NOW),                         # no zone: UTC
    ("2026-03-01 12:00:00", NOW),
    ("", NOW),                                            # missing: arrival time
])
def test_timestamps(stamp: str, expected: datetime) -> None:
    assert parse(f"id=1&lat=1&lon=1&timestamp={stamp}").fix.fix_time == expected


@pytest.mark.parametrize(("query", "reason"), [
    ("lat=1&lon=1", "id is missing"),
    ("id=a%20b&lat=1&lon=1", "id must be"),
    ("id=x" + "1" * 20 + "&lat=1&lon=1", "id must be"),
    ("id=1&lon=1", "lat and lon are required"),
    ("id=1&lat=91&lon=1", "lat 91 is out of range"),
    ("id=1&lat=1&lon=-180.5", "lon -180.5 is out of range"),
    ("id=1&lat=abc&lon=1", "lat must be a number"),
    ("id=1&lat=nan&lon=1", "lat must be a finite number"),
    ("id=1&lat=1&lon=1&speed=-1", "speed -1 is out of range"),
    ("id=1&lat=1&lon=1&bearing=400", "bearing 400 is out of range"),
    ("id=1&lat=1&lon=1&batt=120", "batt 120 is out of range"),
    ("id=1&lat=1&lon=1&valid=maybe", "valid must be true or false"),
    ("id=1&lat=1&lon=1&timestamp=yesterday", "neither unix seconds"),
    ("id=1&lat=1&lon=1&timestamp=1900000000", "more than a day ahead"),
    ("id=1&lat=1&lon=1&timestamp=100", "before 2000"),
    ("id=1&location=12", "location must be written lat,lon"),
])
def test_bad_values_name_the_reason(query: str, reason: str) -> None:
    with pytest.raises(OsmandError, match=reason):
        parse(query)


def test_location_form_body_and_json_bodies() -> None:
    assert parse("id=1&location=10.5,20.25").fix.latitude == 10.5
    form = parse("", b"id=7&lat=3&lon=4&speed=1", "application/x-www-form-urlencoded")
    assert (form.fix.device, form.fix.speed_kmh) == ("7", 1.85)
    flat = parse("", json.dumps({"id": "8", "lat": 3, "lon": 4, "speed": 2}).encode(),
                 "application/json")
    assert (flat.fix.device, flat.fix.speed_kmh) == ("8", 3.7)   # flat JSON: knots too
    client = {"device_id": "9", "location": {
        "timestamp": "2026-03-01T12:00:00.000Z", "is_moving": True, "odometer": 1200,
        "coords": {"latitude": 30.5, "longitude": 120.25, "speed": 10, "heading": 45,
                   "altitude": 5, "accuracy": 3},
        "battery": {"level": 0.42, "is_charging": True}}}
    tc = parse("", json.dumps(client).encode(), "application/json").fix
    assert (tc.device, tc.latitude, tc.longitude, tc.fix_time) == ("9", 30.5, 120.25, NOW)
    assert tc.speed_kmh == 36.0 and tc.course == 45        # Traccar Client JSON: m/s
    assert tc.attributes["battery"] == 42.0 and tc.attributes["charging"] is True
    assert tc.attributes["x_odometer"] == 1200
    unknown = dict(client, location=dict(client["location"],
                                         coords=dict(client["location"]["coords"],  # type: ignore[arg-type]
                                                     speed=-1, heading=-1)))
    assert parse("", json.dumps(unknown).encode(), "application/json").fix.speed_kmh == 0
    for body, reason in ((b"{nope", "not valid JSON"), (b"[1]", "must be an object"),
                         (b'{"device_id": "9", "location": {}}', "coords is missing")):
        with pytest.raises(OsmandError, match=reason):
            parse("", body, "application/json")


# --- the web app's route ----------------------------------------------------------------------

@pytest.fixture
def device(app: Flask, session: Any, seeded: dict[str, Any]) -> dict[str, int]:
    positions.reset_caches()
    branch = seeded["branches"]["A"]
    vehicle = make_vehicle(session, 1, branch)
    dev = GpsDevice(imei=PHONE, vehicle_id=vehicle.id, branch_id=branch, status="active",
                    protocol="osmand")
    session.add(dev)
    session.commit()
    return {"id": int(dev.id), "vehicle": int(vehicle.id)}


def switch_on(app: Flask, session: Any, rate: str = "60 per minute") -> None:
    host = app.extensions["carebiz"].host
    settings.set_value(session, host, "gps.osmand_enabled", True)
    settings.set_value(session, host, "gps.osmand_rate_limit", rate)
    session.commit()


def stored(session: Any) -> list[GpsPosition]:
    session.expire_all()
    return list(session.scalars(select(GpsPosition).order_by(GpsPosition.fix_time)))


def test_route_is_off_by_default(app: Flask, device: dict[str, int]) -> None:
    resp = app.test_client().get(f"/gps/osmand?id={PHONE}&lat=1&lon=2")
    assert resp.status_code == 404 and b"gps.osmand_enabled" in resp.data


def test_route_stores_idempotently(app: Flask, session: Any, device: dict[str, int]) -> None:
    switch_on(app, session)
    client = app.test_client()
    query = f"/gps/osmand?id={PHONE}&lat=30.1&lon=120.2&timestamp=1772366400&speed=20&bearing=10"
    first = client.get(query)
    assert (first.status_code, first.data) == (200, b"OK\n")
    assert client.get(query).status_code == 200          # resent: answered, stored once
    resp = client.post("/gps/osmand", data={"id": PHONE, "lat": "30.2", "lon": "120.3",
                                            "timestamp": "1772366410"})
    assert resp.status_code == 200
    resp = client.post("/gps/osmand", json={"device_id": PHONE, "location": {
        "timestamp": "2026-03-01T12:00:20Z", "coords": {"latitude": 30.3, "longitude": 120.4,
                                                        "speed": 5}}})
    assert resp.status_code == 200
    rows = stored(session)
    assert [(r.latitude, r.speed_kmh) for r in rows] == [(30.1, 37.04), (30.2, 0.0),
                                                         (30.3, 18.0)]
    assert {r.device_id for r in rows} == {device["id"]}
    assert rows[0].fix_time == NOW and rows[0].raw is not None


def test_route_bad_value_answers_400_with_reason(app: Flask, session: Any,
                                                 device: dict[str, int]) -> None:
    switch_on(app, session)
    resp = app.test_client().get(f"/gps/osmand?id={PHONE}&lat=95&lon=2")
    assert resp.status_code == 400 and b"lat 95 is out of range" in resp.data
    assert stored(session) == []


def test_unknown_id_becomes_a_pending_osmand_device(app: Flask, session: Any,
                                                    device: dict[str, int]) -> None:
    switch_on(app, session)
    client = app.test_client()
    for _ in range(2):
        resp = client.get("/gps/osmand?id=stranger-1&lat=1&lon=2")
        assert resp.status_code == 403 and b"recorded as pending" in resp.data
    session.expire_all()
    dev = session.scalar(select(GpsDevice).where(GpsDevice.imei == "stranger-1"))
    assert (dev.status, dev.protocol, dev.login_attempts) == ("pending", "osmand", 2)
    assert dev.last_peer.startswith("http:")
    assert stored(session) == []


def test_rate_limit_per_id(app: Flask, session: Any, device: dict[str, int]) -> None:
    switch_on(app, session, rate="2 per minute")
    client = app.test_client()
    codes = [client.get(f"/gps/osmand?id={PHONE}&lat=1&lon=2&timestamp={1772366400 + i}")
             .status_code for i in range(3)]
    assert codes == [200, 200, 429]
    resp = client.get(f"/gps/osmand?id={PHONE}&lat=1&lon=2")
    assert resp.status_code == 429 and int(resp.headers["Retry-After"]) >= 1
    # another identifier has its own count
    assert client.get("/gps/osmand?id=other&lat=1&lon=2").status_code == 403
    assert len(stored(session)) == 2


def test_post_needs_no_csrf_token(make_app: Callable[..., Flask],
                                  seeded: dict[str, Any]) -> None:
    app = make_app(CAREBIZ_PLUGINS="gps", WTF_CSRF_ENABLED=True)
    with app.app_context():
        session = app.extensions["carebiz"].session_factory()
        positions.reset_caches()
        vehicle = make_vehicle(session, 2, seeded["branches"]["A"])
        session.add(GpsDevice(imei=PHONE, vehicle_id=vehicle.id,
                              branch_id=seeded["branches"]["A"], status="active"))
        session.commit()
        switch_on(app, session)
        resp = app.test_client().post("/gps/osmand", data={"id": PHONE, "lat": "1",
                                                           "lon": "2"})
        assert resp.status_code == 200
        # the device's protocol follows what it spoke last
        assert session.scalar(select(GpsDevice.protocol).where(GpsDevice.imei == PHONE)) \
            == "osmand"
        # other pages still refuse a POST without a token
        assert app.test_client().post("/logout").status_code == 400
        session.close()


# --- the standalone server --------------------------------------------------------------------

async def request(port: int, raw: bytes) -> list[bytes]:
    """Send ``raw`` (one or more requests) on one connection; the answers' status lines."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(raw)
    await writer.drain()
    answers: list[bytes] = []
    try:
        while True:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 3)
            length = int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0])
            body = await reader.readexactly(length)
            answers.append(head.split(b"\r\n")[0] + b" " + body.strip())
            if b"Connection: close" in head:
                break
    except (asyncio.IncompleteReadError, TimeoutError):
        pass
    writer.close()
    return answers


def get(query: str, close: bool = False) -> bytes:
    return (f"GET /?{query} HTTP/1.1\r\nHost: x\r\n" +
            ("Connection: close\r\n" if close else "") + "\r\n").encode()


def test_server_keep_alive_bad_values_unknown_and_limits() -> None:
    sink = MemorySink({PHONE})
    t = 1772366400

    async def main() -> list[bytes]:
        server = OsmandServer(sink, rate=http.rate_item("3 per minute"))
        await server.start("127.0.0.1", 0)
        body = f"id={PHONE}&lat=2&lon=3&timestamp={t + 1}".encode()
        post = (b"POST / HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
        try:
            return await request(server.port, get(f"id={PHONE}&lat=1&lon=2&timestamp={t}")
                                 + post + get("id=x&lat=1") + get("id=nobody&lat=1&lon=1")
                                 + get(f"id={PHONE}&lat=1&lon=2") + get(f"id={PHONE}&lat=1&lon=2",
                                                                        close=True))
        finally:
            await server.close()

    answers = run_async(main())
    assert answers == [
        b"HTTP/1.1 200 OK OK", b"HTTP/1.1 200 OK OK",
        b"HTTP/1.1 400 Bad Request lat and lon are required",
        b"HTTP/1.1 403 Forbidden device nobody is not registered: recorded as pending, an "
        b"administrator must assign it to a vehicle",
        b"HTTP/1.1 200 OK OK",
        b"HTTP/1.1 429 Too Many Requests too many reports from " + PHONE.encode()
        + b": wait 60 s"]
    assert [f.latitude for f in sink.fixes] == [1.0, 2.0, 1.0]
    assert sink.pending == ["nobody"]
    assert [x[0] for x in sink.logins] == [PHONE, "nobody"]  # the session is kept


def test_server_refuses_garbage_and_big_bodies() -> None:
    async def main() -> list[list[bytes]]:
        server = OsmandServer(MemorySink({PHONE}))
        await server.start("127.0.0.1", 0)
        try:
            return [await request(server.port, raw) for raw in (
                b"HELLO\r\n\r\n",
                b"POST / HTTP/1.1\r\nContent-Length: 999999\r\n\r\n",
                b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
                b"DELETE /?id=1 HTTP/1.1\r\n\r\n")]
        finally:
            await server.close()

    got = run_async(main())
    assert [a[0].split(b" ")[1] for a in got] == [b"400", b"413", b"411", b"405"]


def test_server_stores_through_the_db_sink(app: Flask, session: Any,
                                           device: dict[str, int]) -> None:
    """The CLI's wiring: the GT06 server's DbSink, OsmAnd identities from the database."""
    async def main() -> list[bytes]:
        sink = DbSink(app, flush_seconds=0.05)
        await sink.start()
        server = OsmandServer(sink, identify=http.db_identify(sink))
        await server.start("127.0.0.1", 0)
        try:
            return await request(server.port, get(
                f"id={PHONE}&lat=30&lon=120&timestamp=1772366400&speed=1")
                + get(f"id={PHONE}&lat=30&lon=120&timestamp=1772366400&speed=1")
                + get("id=newphone&lat=1&lon=1", close=True))
        finally:
            await server.close()
            await sink.close()

    answers = run_async(main())
    assert [a.split(b" ")[1] for a in answers] == [b"200", b"200", b"403"]
    rows = stored(session)
    assert [(r.device_id, r.speed_kmh) for r in rows] == [(device["id"], 1.85)]
    assert session.scalar(select(func.count()).select_from(GpsDevice).where(
        GpsDevice.imei == "newphone", GpsDevice.status == "pending",
        GpsDevice.protocol == "osmand")) == 1
