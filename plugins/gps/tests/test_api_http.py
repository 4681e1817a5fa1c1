"""The GPS JSON API over HTTP: the answers the pages' scripts and integrators read, branch
privacy (another branch's device, positions and alarms are 404 / not listed), 409s and the
422 messages."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from flask import Flask

from carebiz.testing import make_customer, make_user, make_vehicle

UTC = dt.UTC
IMEI_A = "356307042441013"
IMEI_B = "490154203237518"
IMEI_NEW = "353918057929420"


@pytest.fixture
def fleet(app: Flask, seeded: dict[str, Any]) -> dict[str, Any]:
    """A tracked car per branch with an hour of fixes, a trip, a stop, daily mileage and
    an open alarm; a manager of branch A only (``fleet_a``) and a dispatcher holding
    ``gps.commands`` (``dispatch``)."""
    from sqlalchemy import select

    from carebiz.models import Role
    from carebiz_plugins.gps.models import (
        GpsAlarm,
        GpsDevice,
        GpsDeviceState,
        GpsMileageDaily,
        GpsPosition,
        GpsStop,
        GpsTrip,
    )

    now = dt.datetime.now(UTC).replace(microsecond=0)
    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        out: dict[str, Any] = {"now": now}
        for n, code in enumerate(("A", "B")):
            branch = seeded["branches"][code]
            owner = make_customer(sess, f"车主{code}", branch)
            car = make_vehicle(sess, 800 + n, branch, owner_id=owner.id, plate=f"沪C0000{n}")
            device = GpsDevice(imei=(IMEI_A, IMEI_B)[n], vehicle_id=car.id, branch_id=branch,
                               status="active", password="654321" if n else "")
            sess.add(device)
            sess.flush()
            for i in range(60):
                sess.add(GpsPosition(device_id=device.id,
                                     fix_time=now - dt.timedelta(minutes=60 - i),
                                     latitude=31.2 + i * 0.001, longitude=121.4,
                                     speed_kmh=40.0, course=0, valid=True, distance_m=111.0))
            sess.add(GpsDeviceState(device_id=device.id, fix_time=now, latitude=31.26,
                                    longitude=121.4, speed_kmh=40.0, course=0, valid=True,
                                    moving=True, online=True, last_seen=now))
            sess.add(GpsTrip(device_id=device.id, vehicle_id=car.id,
                             start_time=now - dt.timedelta(minutes=60), end_time=now,
                             start_lat=31.2, start_lon=121.4, end_lat=31.26, end_lon=121.4,
                             distance_m=6500.0, duration_s=3600, avg_speed_kmh=40,
                             max_speed_kmh=62))
            sess.add(GpsStop(device_id=device.id, vehicle_id=car.id,
                             start_time=now - dt.timedelta(minutes=90),
                             end_time=now - dt.timedelta(minutes=60), latitude=31.2,
                             longitude=121.4, duration_s=1800))
            today = now.date()
            for back in range(3):
                sess.add(GpsMileageDaily(device_id=device.id, day=today - dt.timedelta(days=back),
                                         vehicle_id=car.id, distance_m=10_000.0,
                                         engine_seconds=1800, max_speed_kmh=60.0 + back,
                                         positions=100))
            alarm = GpsAlarm(device_id=device.id, vehicle_id=car.id, branch_id=branch,
                             type="overspeed", fix_time=now - dt.timedelta(minutes=5),
                             details={"speed": 90}, status="open", received_at=now)
            sess.add(alarm)
            sess.flush()
            out[code] = {"device": device.id, "imei": device.imei, "vehicle": car.id,
                         "customer": owner.id, "plate": car.plate, "alarm": alarm.id,
                         "branch": branch}
        free = make_vehicle(sess, 850, seeded["branches"]["A"], plate="沪C99999")
        out["free_vehicle"] = free.id
        make_user(sess, "fleet_a", roles=["manager"], branches=["A"])
        if sess.scalar(select(Role).where(Role.name == "gps_dispatch")) is None:
            from carebiz.services.roles import create_role

            grants = ["gps.view", "gps.manage", "gps.commands"]
            create_role(sess, "gps_dispatch", "GPS dispatch", grants, known=grants)
        make_user(sess, "dispatch", roles=["gps_dispatch"], branches=["A"])
        sess.commit()
        return out


def test_register_a_device_and_read_it_back(api_client: Any, fleet: dict[str, Any]) -> None:
    api = api_client("fleet_a")
    bad = api.post("/api/v1/gps/devices", json={"imei": "353918057929421",
                                                 "vehicle_id": fleet["free_vehicle"]})
    assert bad.status_code == 422 and "imei" in bad.get_json()["errors"]
    resp = api.post("/api/v1/gps/devices", json={"imei": IMEI_NEW, "vehicle_id":
                                                  fleet["free_vehicle"], "label": "Van",
                                                  "sim": "13800138000", "password": "1"})
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    assert body["status"] == "active" and body["plate"] == "沪C99999"
    assert body["sim"] == "13800138000" and body["has_password"] and "password" not in body
    again = api.post("/api/v1/gps/devices", json={"imei": IMEI_NEW,
                                                   "vehicle_id": fleet["free_vehicle"]})
    assert again.status_code == 409 and "沪C99999" in again.get_json()["message"]
    other = api.post("/api/v1/gps/devices", json={"imei": IMEI_B,
                                                   "vehicle_id": fleet["free_vehicle"]})
    assert other.status_code == 409 and "沪C00001" not in other.get_json()["message"]
    hidden_car = api.post("/api/v1/gps/devices", json={"imei": "357805023984942",
                                                        "vehicle_id": fleet["B"]["vehicle"]})
    assert hidden_car.status_code == 404
    listed = api.get("/api/v1/gps/devices").get_json()
    assert {d["imei"] for d in listed["items"]} == {IMEI_A, IMEI_NEW}
    assert api.get(f"/api/v1/gps/devices/{fleet['B']['device']}").status_code == 404


def test_patch_is_versioned_and_disable_is_a_transition(api_client: Any,
                                                        fleet: dict[str, Any]) -> None:
    api = api_client("fleet_a")
    url = f"/api/v1/gps/devices/{fleet['A']['device']}"
    version = api.get(url).get_json()["version"]
    ok = api.patch(url, json={"label": "Truck", "version": version})
    assert ok.status_code == 200 and ok.get_json()["label"] == "Truck"
    stale = api.patch(url, json={"label": "Old", "version": version})
    assert stale.status_code == 409 and stale.get_json()["status"] == "version_conflict"
    off = api.post(url + "/disable", json={})
    assert off.status_code == 200 and off.get_json()["allowed"] == ["enable"]
    twice = api.post(url + "/disable", json={})
    assert twice.status_code == 409 and twice.get_json()["status"] == "disabled"
    assert api.post(url + "/enable", json={}).get_json()["status"] == "active"
    assert api.post(url + "/assign", json={"vehicle_id": fleet["A"]["vehicle"]}
                    ).status_code == 409


def test_assign_a_pending_device(app: Flask, api_client: Any, fleet: dict[str, Any]) -> None:
    from carebiz_plugins.gps.models import GpsDevice

    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        pending = GpsDevice(imei=IMEI_NEW, status="pending", login_attempts=2)
        sess.add(pending)
        sess.commit()
        pending_id = pending.id
    assert api_client("fleet_a").post(f"/api/v1/gps/devices/{pending_id}/assign",
                                      json={"vehicle_id": fleet["free_vehicle"]}
                                      ).status_code == 404  # branchless: for all-branch users
    listed = api_client("admin").get("/api/v1/gps/devices?status=pending").get_json()
    assert [d["imei"] for d in listed["items"]] == [IMEI_NEW]
    resp = api_client("admin").post(f"/api/v1/gps/devices/{pending_id}/assign",
                                    json={"vehicle_id": fleet["free_vehicle"]})
    assert resp.status_code == 200 and resp.get_json()["status"] == "active"
    assert resp.get_json()["branch_id"] == fleet["A"]["branch"]


def test_positions_in_a_period(api_client: Any, fleet: dict[str, Any]) -> None:
    api = api_client("fleet_a")
    now = fleet["now"]
    start = (now - dt.timedelta(minutes=30)).isoformat().replace("+00:00", "Z")
    body = api.get(f"/api/v1/gps/positions?device={IMEI_A}&from={start}&per_page=5000"
                   ).get_json()
    assert body["total"] == 30 and len(body["items"]) == 30
    first = body["items"][0]
    assert {"fix_time", "latitude", "longitude", "speed_kmh", "course", "valid"} <= set(first)
    assert first["fix_time"].endswith("+00:00") and first["device"] == IMEI_A
    times = [i["fix_time"] for i in body["items"]]
    assert times == sorted(times)
    paged = api.get(f"/api/v1/gps/positions?vehicle={fleet['A']['vehicle']}&per_page=25&page=3"
                    ).get_json()
    assert paged["total"] == 60 and len(paged["items"]) == 10
    assert api.get(f"/api/v1/gps/positions?device={IMEI_B}").status_code == 404
    assert api.get(f"/api/v1/gps/positions?vehicle={fleet['B']['vehicle']}").status_code == 404
    missing = api.get("/api/v1/gps/positions")
    assert missing.status_code == 422 and "device" in missing.get_json()["errors"]
    long = api.get(f"/api/v1/gps/positions?device={IMEI_A}&from=2026-01-01T00:00:00Z"
                   "&to=2026-03-01T00:00:00Z")
    assert long.status_code == 422 and "31 days" in long.get_json()["message"]
    backwards = api.get(f"/api/v1/gps/positions?device={IMEI_A}&from=2026-03-01T00:00:00Z"
                        "&to=2026-01-01T00:00:00Z")
    assert backwards.status_code == 422 and "from" in backwards.get_json()["errors"]


def test_trips_stops_and_mileage(api_client: Any, fleet: dict[str, Any]) -> None:
    api = api_client("fleet_a")
    start = (fleet["now"] - dt.timedelta(hours=3)).isoformat()
    q = f"?device={IMEI_A}&from={start.replace('+', '%2B')}"
    trips = api.get("/api/v1/gps/trips" + q).get_json()
    assert trips["total"] == 1 and trips["items"][0]["distance_m"] == 6500.0
    stops = api.get("/api/v1/gps/stops" + q).get_json()
    assert stops["total"] == 1 and stops["items"][0]["duration_s"] == 1800
    mine = api.get("/api/v1/gps/trips").get_json()
    assert {t["device"] for t in mine["items"]} == {IMEI_A}  # not branch B's
    first = (fleet["now"].date() - dt.timedelta(days=5)).isoformat()
    daily = api.get(f"/api/v1/gps/mileage?from={first}").get_json()
    assert daily["total"] == 3 and {r["device"] for r in daily["items"]} == {IMEI_A}
    assert daily["items"][0]["distance_km"] == 10.0
    monthly = api.get(f"/api/v1/gps/mileage?from={first}&period=month").get_json()
    assert sum(r["distance_km"] for r in monthly["items"]) == 30.0
    assert all(len(r["period"]) == 7 for r in monthly["items"])
    assert api.get(f"/api/v1/gps/mileage?from={first}&period=week").status_code == 200
    assert api.get("/api/v1/gps/mileage?period=year").status_code == 422


def test_live_state_and_since(app: Flask, api_client: Any, fleet: dict[str, Any]) -> None:
    from carebiz_plugins.gps.models import GpsDeviceState

    api = api_client("fleet_a")
    body = api.get("/api/v1/gps/live").get_json()
    assert [i["device"] for i in body["items"]] == [IMEI_A]
    item = body["items"][0]
    assert item["status"] == "alarm" and item["alarm_open"] == 1
    assert item["alarms"][0]["type"] == "overspeed"
    assert item["plate"] == "沪C00000" and item["customer_name"] == "车主A"
    assert body["since"]
    quiet = api.get("/api/v1/gps/live?since=" + (fleet["now"] + dt.timedelta(minutes=1))
                    .isoformat().replace("+00:00", "Z")).get_json()
    assert quiet["items"] == []
    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        state = sess.get(GpsDeviceState, fleet["A"]["device"])
        state.fix_time = state.last_seen = fleet["now"] + dt.timedelta(minutes=2)
        state.latitude = 31.3
        sess.commit()
    moved = api.get("/api/v1/gps/live?since=" + (fleet["now"] + dt.timedelta(minutes=1))
                    .isoformat().replace("+00:00", "Z")).get_json()
    assert [i["latitude"] for i in moved["items"]] == [31.3]
    assert moved["removed"] == []
    device = api.get(f"/api/v1/gps/devices/{fleet['A']['device']}")
    off = api.post(f"/api/v1/gps/devices/{fleet['A']['device']}/disable",
                   json={"version": device.get_json()["version"]})
    assert off.status_code == 200, off.get_json()
    # branch B's tracker, created after this cursor too, is never named to a manager of A
    left = api.get("/api/v1/gps/live?since=" + (fleet["now"] - dt.timedelta(minutes=1))
                   .isoformat().replace("+00:00", "Z")).get_json()
    assert left["items"] == [] and left["removed"] == [fleet["A"]["device"]]


def test_alarms_and_acknowledge(api_client: Any, fleet: dict[str, Any]) -> None:
    api = api_client("fleet_a")
    body = api.get(f"/api/v1/gps/alarms?device={IMEI_A}").get_json()
    assert body["total"] == 1 and body["items"][0]["type"] == "overspeed"
    assert body["items"][0]["fix_time"]
    assert api.get(f"/api/v1/gps/alarms?device={IMEI_B}").status_code == 404
    assert {a["device"] for a in api.get("/api/v1/gps/alarms").get_json()["items"]} == {IMEI_A}
    assert api.get("/api/v1/gps/alarms?type=sos").get_json()["total"] == 0
    url = f"/api/v1/gps/alarms/{fleet['A']['alarm']}/acknowledge"
    stale = api.post(url, json={"note": "x", "version": 99})
    assert stale.status_code == 409
    ok = api.post(url, json={"note": "已联系车主", "version": 1})
    assert ok.status_code == 200, ok.get_json()
    assert ok.get_json()["status"] == "acknowledged" and ok.get_json()["acknowledged_by"]
    again = api.post(url, json={"note": "again"})
    assert again.status_code == 409 and again.get_json()["status"] == "acknowledged"
    assert api.post(f"/api/v1/gps/alarms/{fleet['B']['alarm']}/acknowledge",
                    json={"note": ""}).status_code == 404
    assert api.get("/api/v1/gps/alarms?status=open").get_json()["total"] == 0


CIRCLE = {"type": "Point", "coordinates": [121.47, 31.23]}
SQUARE = {"type": "Polygon", "coordinates": [[[121.4, 31.2], [121.5, 31.2], [121.5, 31.3],
                                              [121.4, 31.3], [121.4, 31.2]]]}


def test_geofences_crud_and_checks(api_client: Any, fleet: dict[str, Any]) -> None:
    api = api_client("fleet_a")
    bowtie = {"type": "Polygon", "coordinates": [[[121.4, 31.2], [121.5, 31.3], [121.5, 31.2],
                                                  [121.4, 31.3], [121.4, 31.2]]]}
    crossing = api.post("/api/v1/gps/geofences", json={"name": "X", "kind": "polygon",
                                                       "geometry": bowtie})
    assert crossing.status_code == 422 and "crosses" in crossing.get_json()["errors"][
        "geometry"][0]
    open_ring = {"type": "Polygon", "coordinates": [SQUARE["coordinates"][0][:-1]]}
    assert api.post("/api/v1/gps/geofences", json={"name": "X", "kind": "polygon",
                                                   "geometry": open_ring}).status_code == 422
    no_radius = api.post("/api/v1/gps/geofences", json={"name": "X", "kind": "circle",
                                                        "geometry": CIRCLE})
    assert "radius_m" in no_radius.get_json()["errors"]
    bad_schedule = api.post("/api/v1/gps/geofences", json={
        "name": "X", "kind": "circle", "geometry": CIRCLE, "radius_m": 300,
        "schedule": {"days": [0, 8], "from": "25:00"}})
    assert "schedule" in bad_schedule.get_json()["errors"]
    other_car = api.post("/api/v1/gps/geofences", json={
        "name": "X", "kind": "polygon", "geometry": SQUARE, "vehicle_ids": [fleet["B"]["vehicle"]]})
    assert "vehicle_ids" in other_car.get_json()["errors"]
    created = api.post("/api/v1/gps/geofences", json={
        "name": "4S 店", "kind": "polygon", "geometry": SQUARE, "speed_limit_kmh": 30,
        "schedule": {"days": [1, 2, 3, 4, 5], "from": "08:00", "to": "18:00"},
        "vehicle_ids": [fleet["A"]["vehicle"]]})
    assert created.status_code == 201, created.get_json()
    fence = created.get_json()
    assert fence["geometry"]["type"] == "Polygon" and fence["vehicle_ids"] == [
        fleet["A"]["vehicle"]]
    corridor = api.post("/api/v1/gps/geofences", json={
        "name": "Route", "kind": "corridor", "half_width_m": 100,
        "geometry": json.dumps({"type": "LineString",
                                "coordinates": [[121.4, 31.2], [121.5, 31.3]]})})
    assert corridor.status_code == 201, corridor.get_json()
    listed = api.get("/api/v1/gps/geofences?per_page=500").get_json()
    assert [f["name"] for f in listed["items"]] == ["4S 店", "Route"]
    assert api.get(f"/api/v1/gps/geofences?vehicle={fleet['A']['vehicle']}"
                   ).get_json()["total"] == 1
    url = f"/api/v1/gps/geofences/{fence['id']}"
    put = api.put(url, json={"name": "4S", "kind": "circle", "geometry": CIRCLE,
                             "radius_m": 500, "version": fence["version"]})
    assert put.status_code == 200 and put.get_json()["vehicle_ids"] == []
    stale = api.put(url, json={"name": "Y", "kind": "circle", "geometry": CIRCLE,
                               "radius_m": 500, "version": fence["version"]})
    assert stale.status_code == 409
    assert api_client("admin").get(url).status_code == 200
    assert api.open("DELETE", url).status_code == 204
    assert api.get(url).status_code == 404


def test_groups_crud(api_client: Any, fleet: dict[str, Any]) -> None:
    api = api_client("fleet_a")
    bad = api.post("/api/v1/gps/groups", json={"name": "", "overspeed_kmh": 900})
    assert set(bad.get_json()["errors"]) >= {"name", "overspeed_kmh"}
    made = api.post("/api/v1/gps/groups", json={
        "name": "Vans", "overspeed_kmh": 80, "idle_minutes": 10,
        "allowed_hours": {"days": [1, 2, 3, 4, 5], "from": "07:00", "to": "20:00"},
        "vehicle_ids": [fleet["A"]["vehicle"]]})
    assert made.status_code == 201, made.get_json()
    group = made.get_json()
    assert group["vehicle_ids"] == [fleet["A"]["vehicle"]] and group["overspeed_kmh"] == 80
    fence = api.post("/api/v1/gps/geofences", json={
        "name": "Yard", "kind": "circle", "geometry": CIRCLE, "radius_m": 200,
        "group_ids": [group["id"]]}).get_json()
    assert fence["group_ids"] == [group["id"]]
    assert api.get(f"/api/v1/gps/geofences?vehicle={fleet['A']['vehicle']}"
                   ).get_json()["total"] == 1  # through the group
    assert api_client("admin").get(f"/api/v1/gps/groups?vehicle={fleet['A']['vehicle']}"
                                   ).get_json()["total"] == 1
    url = f"/api/v1/gps/groups/{group['id']}"
    assert api.put(url, json={"name": "Vans 2", "version": group["version"]}
                   ).get_json()["vehicle_ids"] == []
    assert api.open("DELETE", url).status_code == 204


def test_commands_confirmed_by_the_plate(api_client: Any, fleet: dict[str, Any]) -> None:
    manager = api_client("fleet_a")
    refused = manager.post("/api/v1/gps/commands", json={"device": IMEI_A, "kind": "cut_off",
                                                          "confirm": fleet["A"]["plate"]})
    assert refused.status_code == 403
    api = api_client("dispatch")
    wrong = api.post("/api/v1/gps/commands", json={"device": IMEI_A, "kind": "cut_off",
                                                    "confirm": "沪C00001"})
    assert wrong.status_code == 422 and "confirm" in wrong.get_json()["errors"], wrong.get_json()
    assert api.post("/api/v1/gps/commands", json={"device": IMEI_B, "kind": "cut_off",
                                                   "confirm": IMEI_B}).status_code == 404
    ok = api.post("/api/v1/gps/commands", json={"device": IMEI_A, "kind": "cut_off",
                                                 "confirm": "沪c 00000"})
    assert ok.status_code == 201, ok.get_json()
    assert ok.get_json()["text"] == "Relay,1#" and ok.get_json()["status"] == "queued"
    listed = api.get(f"/api/v1/gps/commands?device={IMEI_A}").get_json()
    assert [c["id"] for c in listed["items"]] == [ok.get_json()["id"]]
    cancel = api.post(f"/api/v1/gps/commands/{ok.get_json()['id']}/cancel", json={})
    assert cancel.get_json()["status"] == "cancelled"
    assert api.post(f"/api/v1/gps/commands/{ok.get_json()['id']}/cancel",
                    json={}).status_code == 409
    admin = api_client("admin")
    masked = admin.post("/api/v1/gps/commands", json={"device": IMEI_B, "kind": "restore",
                                                       "confirm": fleet["B"]["plate"]})
    assert masked.get_json()["text"] == "HFYD,******#"


def test_readers_without_the_permission_are_refused(api_client: Any, app: Flask,
                                                    fleet: dict[str, Any]) -> None:
    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        make_user(sess, "nobody", roles=[], branches=["A"])
        sess.commit()
    api = api_client("nobody")
    for path in ("/api/v1/gps/live", "/api/v1/gps/alarms", f"/api/v1/gps/positions?device="
                 f"{IMEI_A}", "/api/v1/gps/devices", "/api/v1/gps/geofences"):
        assert api.get(path).status_code == 403, path


# --- query sources and reports: the figures of the user's branches only ---------------------


def test_sources_are_registered_for_readers(api_client: Any, fleet: dict[str, Any]) -> None:
    body = api_client("fleet_a").get("/api/v1/query/").get_json()
    names = {source["name"] for source in body["sources"]}
    assert {"gps_trips", "gps_stops", "gps_mileage", "gps_alarms"} <= names


def test_every_gps_report_runs(api_client: Any, fleet: dict[str, Any]) -> None:
    api = api_client("fleet_a")
    listed = {r["name"] for r in api.get("/api/v1/reports").get_json()["items"]}
    gps = sorted(n for n in listed if n.startswith("gps."))
    assert {"gps.mileage_this_month", "gps.alarms_by_type", "gps.overspeed_episodes",
            "gps.engine_hours_this_month"} <= set(gps)
    for name in gps:
        resp = api.get(f"/api/v1/reports/{name}")
        assert resp.status_code == 200, (name, resp.get_json())


def test_reports_show_only_the_users_branch(api_client: Any, fleet: dict[str, Any]) -> None:
    mine = api_client("fleet_a").get("/api/v1/reports/gps.mileage_this_month").get_json()
    plates = {row.get("plate") for row in mine["rows"]}
    assert fleet["A"]["plate"] in plates and fleet["B"]["plate"] not in plates
    every = api_client("admin").get("/api/v1/reports/gps.mileage_this_month").get_json()
    assert {fleet["A"]["plate"], fleet["B"]["plate"]} <= {r.get("plate") for r in every["rows"]}
    overspeed = api_client("fleet_a").get("/api/v1/reports/gps.overspeed_episodes").get_json()
    assert [r.get("plate") for r in overspeed["rows"]] == [fleet["A"]["plate"]]
