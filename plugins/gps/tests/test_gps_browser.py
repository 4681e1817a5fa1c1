"""In a real browser (Playwright + Debian's Chromium; skipped with the reason when either is
missing): the live map shows a vehicle's marker once a fix is stored and moves it when the
next fix arrives, without a reload; playback draws the route; the geofence, device and
alarm pages and the customer's GPS panel as a fleet manager sees them. Screenshots gps-…
under test-results/screenshots/."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from flask import Flask

from carebiz.testing import PASSWORD, make_customer, make_vehicle
from carebiz.testing.browser import shot

UTC = dt.UTC
IMEI = "356307042441013"


@pytest.fixture
def app(make_app: Any) -> Flask:
    """The core with gps only, CSRF on as in production (the browser carries tokens)."""
    return make_app(CAREBIZ_PLUGINS="gps", WTF_CSRF_ENABLED=True)


def _needs_api(app: Flask) -> None:
    rules = {r.rule for r in app.url_map.iter_rules()}
    if "/api/v1/gps/live" not in rules:
        pytest.skip("the GPS JSON API (/api/v1/gps/live) is not in this build yet")


def _setup(app: Flask, seeded: dict[str, Any]) -> dict[str, int]:
    from carebiz_plugins.gps.models import GpsDevice

    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        branch = seeded["branches"]["A"]
        owner = make_customer(sess, "王建国", branch, phones=["13800138011"])
        car = make_vehicle(sess, 930, branch, owner_id=owner.id, plate="沪A88K21",
                           make="丰田", model="凯美瑞")
        device = GpsDevice(imei=IMEI, vehicle_id=car.id, branch_id=branch, status="active",
                           label="GT06N", model="GT06N")
        sess.add(device)
        sess.commit()
        return {"device": device.id, "vehicle": car.id, "customer": owner.id}


def _store(app: Flask, device_id: int,
           fixes: list[tuple[dt.datetime, float, float, float]]) -> None:
    """Store fixes ``(time, lat, lon, km/h)`` as positions and move the device's live state
    to the last one, committed, as the ingest's database sink leaves them."""
    from carebiz_plugins.gps.models import GpsDeviceState, GpsPosition

    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        for at, lat, lon, speed in fixes:
            sess.add(GpsPosition(device_id=device_id, fix_time=at, received_at=at,
                                 latitude=lat, longitude=lon, speed_kmh=speed, course=45,
                                 valid=True, ignition=True))
        at, lat, lon, speed = fixes[-1]
        state = sess.get(GpsDeviceState, device_id) or GpsDeviceState(device_id=device_id)
        state.fix_time, state.latitude, state.longitude = at, lat, lon
        state.speed_kmh, state.course, state.valid, state.ignition = speed, 45, True, True
        state.moving, state.online, state.last_seen = speed > 3, True, at
        sess.add(state)
        sess.commit()


def _log_in(pg: Any, base: str, username: str) -> None:
    pg.goto(f"{base}/login")
    pg.fill("input[name=username]", username)
    pg.fill("input[name=password]", PASSWORD)
    pg.click("button[type=submit]")
    pg.wait_for_url(f"{base}/")


def test_live_map_marker_appears_and_moves(page: Any, live_server: str, app: Flask,
                                           seeded: dict[str, Any]) -> None:
    _needs_api(app)
    ids = _setup(app, seeded)
    page.set_viewport_size({"width": 1440, "height": 900})
    _log_in(page, live_server, "admin")
    now = dt.datetime.now(UTC).replace(microsecond=0)
    _store(app, ids["device"], [(now - dt.timedelta(seconds=30), 31.2304, 121.4737, 38.0)])
    page.goto(f"{live_server}/gps/?interval=1000")
    marker = page.locator(f'.leaflet-marker-icon[data-device="{IMEI}"]')
    marker.wait_for(timeout=10000)
    first = marker.get_attribute("data-lat")
    assert first and abs(float(first) - 31.2304) < 1e-6
    shot(page, "gps-01-live-map")
    page.evaluate("window.__sameDocument = true")
    _store(app, ids["device"], [(now, 31.2404, 121.4837, 52.0)])
    page.wait_for_function(
        f"""() => {{ const m = document.querySelector('.leaflet-marker-icon[data-device="{IMEI}"]');
                   return m && Math.abs(Number(m.dataset.lat) - 31.2404) < 1e-6; }}""",
        timeout=10000)
    assert page.evaluate("window.__sameDocument") is True  # moved without a reload
    marker.click()
    page.locator(f'.gps-popup[data-popup="{IMEI}"]').wait_for()
    assert "沪A88K21" in page.locator(".gps-popup").inner_text()
    assert page.locator('.gps-popup a[data-link="customer"]').count() == 1
    shot(page, "gps-02-live-popup")


def test_live_map_drops_a_device_disabled_while_watched(page: Any, live_server: str,
                                                        app: Flask,
                                                        seeded: dict[str, Any]) -> None:
    """The poll's ``removed`` takes the marker and the list row away, without a reload."""
    from carebiz_plugins.gps.models import GpsDevice

    _needs_api(app)
    ids = _setup(app, seeded)
    _log_in(page, live_server, "admin")
    now = dt.datetime.now(UTC).replace(microsecond=0)
    _store(app, ids["device"], [(now - dt.timedelta(seconds=30), 31.2304, 121.4737, 38.0)])
    page.goto(f"{live_server}/gps/?interval=1000")
    marker = page.locator(f'.leaflet-marker-icon[data-device="{IMEI}"]')
    marker.wait_for(timeout=10000)
    page.locator(f'[data-item="{IMEI}"]').wait_for()
    page.evaluate("window.__sameDocument = true")
    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        device = sess.get(GpsDevice, ids["device"])
        assert device is not None
        device.status = "disabled"  # bumps updated_at, as disable_device does
        sess.commit()
    marker.wait_for(state="detached", timeout=10000)
    assert page.locator(f'[data-item="{IMEI}"]').count() == 0
    assert page.evaluate("window.__sameDocument") is True


def test_playback_draws_the_route(page: Any, live_server: str, app: Flask,
                                  seeded: dict[str, Any]) -> None:
    _needs_api(app)
    ids = _setup(app, seeded)
    start = dt.datetime.now(UTC).replace(microsecond=0) - dt.timedelta(hours=2)
    route = [(start + dt.timedelta(seconds=10 * i), 31.2304 + 0.0004 * i,
              121.4737 + 0.0003 * i, float((i * 7) % 120)) for i in range(120)]
    _store(app, ids["device"], route)
    page.set_viewport_size({"width": 1440, "height": 900})
    _log_in(page, live_server, "admin")
    page.goto(f"{live_server}/gps/playback?device={IMEI}")
    page.wait_for_selector("#gps-root[data-fixes='120']", timeout=10000)
    assert page.locator("path.gps-track").count() > 1  # one polyline per speed band run
    assert int(page.get_attribute("#gps-root", "data-distance-m") or 0) > 5000
    page.locator("#pb-slider").fill("60")
    assert page.get_attribute(".leaflet-marker-icon[data-playback-marker]",
                              "data-playback-marker") == "60"
    shot(page, "gps-03-playback")


def test_fleet_pages_as_a_manager_sees_them(page: Any, live_server: str, app: Flask,
                                            seeded: dict[str, Any]) -> None:
    import json

    from carebiz_plugins.gps.models import GpsAlarm, GpsDevice, GpsGeofence

    ids = _setup(app, seeded)
    now = dt.datetime.now(UTC).replace(microsecond=0)
    _store(app, ids["device"], [(now, 31.2304, 121.4737, 0.0)])
    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        sess.add(GpsAlarm(device_id=ids["device"], vehicle_id=ids["vehicle"],
                          branch_id=seeded["branches"]["A"], type="sos", fix_time=now,
                          latitude=31.2304, longitude=121.4737, details={}, status="open"))
        branch = seeded["branches"]["A"]
        sess.add(GpsGeofence(name="4S 店", kind="circle", branch_id=branch, radius_m=400,
                             geometry=json.dumps({"type": "Point",
                                                  "coordinates": [121.4737, 31.2304]})))
        sess.add(GpsGeofence(name="虹桥园区", kind="polygon", branch_id=branch,
                             speed_limit_kmh=30, geometry=json.dumps({
                                 "type": "Polygon", "coordinates": [[
                                     [121.48, 31.235], [121.49, 31.236], [121.492, 31.228],
                                     [121.481, 31.226], [121.48, 31.235]]]})))
        sess.add(GpsDevice(imei="356307042449999", branch_id=seeded["branches"]["A"],
                           status="pending", last_seen=now, last_peer="10.0.0.8:40211"))
        sess.commit()
    page.set_viewport_size({"width": 1440, "height": 900})
    _log_in(page, live_server, "admin")
    page.goto(f"{live_server}/gps/devices")
    page.wait_for_selector("#gps-devices")
    shot(page, "gps-04-devices")
    page.goto(f"{live_server}/gps/devices/{ids['device']}")
    page.wait_for_selector("[data-command=cut_off]")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("[data-command=cut_off]")
    page.wait_for_selector("#cmd-confirm.show")
    assert page.is_disabled("#cmd-send")
    page.fill("#cmd-typed", "沪A88K21")
    assert not page.is_disabled("#cmd-send")
    shot(page, "gps-05-cut-off-confirm")
    page.click("#cmd-confirm .btn-outline-secondary")
    page.goto(f"{live_server}/gps/alarms")
    page.wait_for_selector("[data-alarm]")
    shot(page, "gps-06-alarms")
    page.goto(f"{live_server}/gps/geofences")
    page.wait_for_selector("#gps-map .leaflet-control-scale")
    shot(page, "gps-07-geofences")
    page.goto(f"{live_server}/customers/{ids['customer']}")
    page.wait_for_selector("[data-panel=gps]")
    shot(page, "gps-08-customer-panel")


def test_draw_a_polygon_geofence_and_save_it(page: Any, live_server: str, app: Flask,
                                             seeded: dict[str, Any]) -> None:
    from carebiz_plugins.gps.models import GpsGeofence

    _setup(app, seeded)
    page.set_viewport_size({"width": 1440, "height": 900})
    _log_in(page, live_server, "admin")
    page.goto(f"{live_server}/gps/geofences")
    page.click("#gf-new")
    page.fill("#gf-name", "停车场")
    box = page.locator("#gps-map").bounding_box()
    for dx, dy in ((0.4, 0.4), (0.6, 0.4), (0.6, 0.6), (0.4, 0.6)):
        page.mouse.click(box["x"] + box["width"] * dx, box["y"] + box["height"] * dy)
    page.click("#gf-finish")
    page.fill("#gf-speed", "20")
    assert page.locator("#gps-map path.leaflet-interactive").count() >= 1  # the draft shape
    shot(page, "gps-09-geofence-drawn")
    methods = {m for r in app.url_map.iter_rules() if r.rule == "/api/v1/gps/geofences"
               for m in (r.methods or ())}
    if "POST" not in methods:
        pytest.skip("the GPS JSON API (POST /api/v1/gps/geofences) is not in this build yet")
    page.click("#gf-save")
    page.wait_for_selector("#gf-list [data-fence]")
    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        fence = sess.query(GpsGeofence).one()
        assert fence.name == "停车场" and fence.kind == "polygon"
        assert fence.speed_limit_kmh == 20


def test_live_map_in_chinese(page: Any, live_server: str, app: Flask,
                             seeded: dict[str, Any]) -> None:
    _needs_api(app)
    ids = _setup(app, seeded)
    _store(app, ids["device"], [(dt.datetime.now(UTC).replace(microsecond=0),
                                 31.2304, 121.4737, 0.0)])
    page.set_viewport_size({"width": 1440, "height": 900})
    _log_in(page, live_server, "admin")
    page.click("text=中文")
    page.goto(f"{live_server}/gps/")
    page.locator(f'.leaflet-marker-icon[data-device="{IMEI}"]').wait_for(timeout=10000)
    assert page.get_attribute("html", "lang", timeout=1000).startswith("zh")
    shot(page, "gps-10-live-map-zh")


def test_acknowledge_an_alarm_with_a_note(page: Any, live_server: str, app: Flask,
                                          seeded: dict[str, Any]) -> None:
    from carebiz_plugins.gps.models import GpsAlarm

    if not any(r.rule.startswith("/api/v1/gps/alarms/") and "acknowledge" in r.rule
               for r in app.url_map.iter_rules()):
        pytest.skip("the GPS JSON API (POST /api/v1/gps/alarms/<id>/acknowledge) is not in "
                    "this build yet")
    ids = _setup(app, seeded)
    now = dt.datetime.now(UTC).replace(microsecond=0)
    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        alarm = GpsAlarm(device_id=ids["device"], vehicle_id=ids["vehicle"],
                         branch_id=seeded["branches"]["A"], type="sos", fix_time=now,
                         latitude=31.2304, longitude=121.4737, details={}, status="open")
        sess.add(alarm)
        sess.commit()
        alarm_id = alarm.id
    page.set_viewport_size({"width": 1440, "height": 900})
    _log_in(page, live_server, "admin")
    page.goto(f"{live_server}/gps/alarms")
    page.fill(f'form[data-ack="{alarm_id}"] input[name=note]', "已电话联系车主，误触")
    page.click(f'form[data-ack="{alarm_id}"] button')
    page.wait_for_selector("[data-acknowledged]")
    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        stored = sess.get(GpsAlarm, alarm_id)
        assert stored.status == "acknowledged" and stored.note == "已电话联系车主，误触"
