"""The GPS pages: each renders for a user holding its permission, is refused (403) to a user
without it and sends an anonymous visitor to the login page; devices, alarms and panels of
another branch never show; Leaflet comes from the installed package (no CDN); the Chinese
page speaks Chinese."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from carebiz.testing import login, make_customer, make_user, make_vehicle

UTC = dt.UTC


@pytest.fixture
def app(make_app: Any) -> Flask:
    """The core with gps only: the pages must work without any other plugin."""
    return make_app(CAREBIZ_PLUGINS="gps")


@pytest.fixture
def fleet(app: Flask, seeded: dict[str, Any]) -> dict[str, Any]:
    """A car with a tracker, a last state and an open alarm in each of branches A and B,
    a pending device in A, and a user ``nobody`` in A without any GPS permission."""
    from carebiz_plugins.gps.models import GpsAlarm, GpsDevice, GpsDeviceState

    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        out: dict[str, Any] = {}
        now = dt.datetime.now(UTC).replace(microsecond=0)
        for n, code in enumerate(("A", "B")):
            branch = seeded["branches"][code]
            owner = make_customer(sess, f"车主{code}", branch)
            car = make_vehicle(sess, 900 + n, branch, owner_id=owner.id, plate=f"沪A1234{n}")
            device = GpsDevice(imei=f"35630704244101{n}", vehicle_id=car.id, branch_id=branch,
                               status="active", label=f"GT06 {code}", last_seen=now)
            sess.add(device)
            sess.flush()
            sess.add(GpsDeviceState(device_id=device.id, fix_time=now, latitude=31.23 + n,
                                    longitude=121.47, speed_kmh=42.0, course=90, valid=True,
                                    ignition=True, moving=True, online=True, last_seen=now,
                                    alarm_open=1))
            sess.add(GpsAlarm(device_id=device.id, vehicle_id=car.id, branch_id=branch,
                              type="overspeed", fix_time=now, latitude=31.23,
                              longitude=121.47, details={}, status="open"))
            out[code] = {"device": device.id, "imei": device.imei, "vehicle": car.id,
                         "customer": owner.id, "plate": car.plate}
        # a pending device has no vehicle and so no branch yet (models.py)
        pending = GpsDevice(imei="356307042449999", branch_id=None, status="pending",
                            last_seen=now)
        sess.add(pending)
        make_user(sess, "nobody", roles=[], branches=["A"])
        sess.commit()
        out["pending"] = pending.imei
        return out


PAGES = ["/gps/", "/gps/playback", "/gps/geofences", "/gps/alarms", "/gps/devices"]


@pytest.mark.parametrize("path", PAGES)
def test_pages_render_for_the_admin(client_for: Any, fleet: dict[str, Any], path: str) -> None:
    response = client_for("admin").get(path)
    assert response.status_code == 200, response.text[:500]
    html = response.text
    assert "/gps/leaflet/leaflet.js" in html and "unpkg" not in html and "cdn" not in html.lower()


@pytest.mark.parametrize("path", [*PAGES, "/gps/devices/1"])
def test_pages_refuse_users_without_the_permission(client_for: Any, fleet: dict[str, Any],
                                                   path: str) -> None:
    assert client_for("nobody").get(path).status_code == 403


def test_anonymous_visitors_go_to_the_login(app: Flask, fleet: dict[str, Any]) -> None:
    response = app.test_client().get("/gps/")
    assert response.status_code in (302, 401)
    if response.status_code == 302:
        assert "/login" in response.headers["Location"]


def test_leaflet_is_served_from_the_package(app: Flask, client_for: Any,
                                            fleet: dict[str, Any]) -> None:
    client = client_for("admin")
    script = client.get("/gps/leaflet/leaflet.js")
    assert script.status_code == 200 and b"Leaflet" in script.data[:400]
    assert client.get("/gps/leaflet/leaflet.css").status_code == 200
    assert client.get("/gps/leaflet/images/marker-icon.png").status_code == 200
    assert client.get("/gps/static/gps-map.js").status_code == 200
    assert client.get("/gps/leaflet/../../../../etc/passwd").status_code == 404


def test_the_map_uses_a_tile_server_only_when_one_is_set(client_for: Any,
                                                         fleet: dict[str, Any]) -> None:
    import json
    import re

    html = client_for("admin").get("/gps/").text
    config = json.loads(re.search(r'id="gps-config">(.*?)</script>', html, re.S).group(1))
    assert config["tileUrl"] == ""  # the plain grid: no tile server by default
    assert config["words"]["moving"]


def test_pages_list_only_the_users_branch(app: Flask, fleet: dict[str, Any],
                                          client_for: Any) -> None:
    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        make_user(sess, "fleet_a", roles=["manager"], branches=["A"])
        sess.commit()
    client = client_for("fleet_a")
    devices = client.get("/gps/devices").text
    assert fleet["A"]["imei"] in devices and fleet["B"]["imei"] not in devices
    assert fleet["pending"] not in devices  # branchless: for who sees every branch
    assert fleet["pending"] in client_for("admin").get("/gps/devices").text
    live = client.get("/gps/").text
    assert fleet["A"]["imei"] in live and fleet["B"]["imei"] not in live
    alarms = client.get("/gps/alarms").text
    assert fleet["A"]["plate"] in alarms and fleet["B"]["plate"] not in alarms
    assert client.get(f"/gps/devices/{fleet['B']['device']}").status_code == 404
    assert client.get(f"/gps/playback?device={fleet['B']['imei']}").status_code == 404
    picked = client.get("/gps/vehicles/pick?q=沪A").get_json()["options"]
    assert [o["id"] for o in picked] == [fleet["A"]["vehicle"]]


def test_device_page_shows_the_last_state_and_commands_to_the_few(
        app: Flask, fleet: dict[str, Any], client_for: Any) -> None:
    html = client_for("admin").get(f"/gps/devices/{fleet['A']['device']}").text
    assert fleet["A"]["plate"] in html and "31.23000" in html
    assert 'data-command="cut_off"' in html and 'data-expected="' + fleet["A"]["plate"] in html
    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        from sqlalchemy import select

        from carebiz.models import User
        from carebiz.security import can

        roles_with_devices = [u.username for u in sess.scalars(select(User))
                              if can(u, "gps.manage") and not can(u, "gps.commands")]
    for username in roles_with_devices:
        page = client_for(username).get(f"/gps/devices/{fleet['A']['device']}")
        assert 'data-command="cut_off"' not in page.text


def test_customer_and_vehicle_panels(client_for: Any, fleet: dict[str, Any]) -> None:
    client = client_for("admin")
    customer = client.get(f"/customers/{fleet['A']['customer']}").text
    assert 'data-panel="gps"' in customer and fleet["A"]["imei"] in customer
    assert 'data-open-alarms="1"' in customer
    vehicle = client.get(f"/vehicles/{fleet['A']['vehicle']}").text
    assert 'data-panel="gps"' in vehicle and fleet["A"]["imei"] in vehicle
    assert "/gps/?focus=" + fleet["A"]["imei"] in vehicle


def test_customer_panel_without_trackers_is_one_statement(app: Flask, seeded: dict[str, Any],
                                                         fleet: dict[str, Any]) -> None:
    """Most customers have no tracker: their panel costs one EXISTS, not the devices and
    vehicles loaded; a customer with one still gets the whole panel, and a reader of
    another branch none (the EXISTS says only "maybe", the row filters decide)."""
    from sqlalchemy import event

    from carebiz import db
    from carebiz.crm.models import Party
    from carebiz.models import User
    from carebiz_plugins.gps.panel import customer_panel

    with app.test_request_context():
        sess = db.session()
        admin = sess.get(User, seeded["users"]["admin"])
        plain = make_customer(sess, "没有车", seeded["branches"]["A"])
        make_user(sess, "gps_b", roles=["admin"], branches=["B"])
        sess.commit()
        seen: list[str] = []

        def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
            seen.append(statement)

        engine = sess.get_bind()
        event.listen(engine, "before_cursor_execute", count)
        try:
            assert customer_panel(sess, plain, admin) == []
            assert len(seen) == 1 and "EXISTS" in seen[0]
        finally:
            event.remove(engine, "before_cursor_execute", count)
        owner = sess.get(Party, fleet["A"]["customer"])
        (panel,) = customer_panel(sess, owner, admin)
        assert fleet["A"]["imei"] in panel.html
        other = sess.scalar(select(User).where(User.username == "gps_b"))
        if not (other.all_branches or other.is_superuser):
            assert customer_panel(sess, owner, other) == []


def test_menu_has_gps_with_its_pages(client_for: Any, fleet: dict[str, Any]) -> None:
    html = client_for("admin").get("/").text
    assert 'href="/gps/"' in html and 'href="/gps/geofences"' in html
    assert 'href="/gps/"' not in client_for("nobody").get("/").text


def test_the_chinese_page_speaks_chinese(app: Flask, fleet: dict[str, Any]) -> None:
    from flask_babel import force_locale, gettext

    with app.test_request_context("/"), force_locale("zh_Hans_CN"):
        translated = gettext("Live map")
    if translated == "Live map":
        pytest.skip("the gps catalog has no Chinese for the pages yet (zh/gpages.tsv is "
                    "merged into the catalog by the lead)")
    client = app.test_client()
    login(client, "admin")
    html = client.get("/gps/", headers={"Accept-Language": "zh-CN"}).text
    assert 'lang="zh' in html and translated in html


def test_devices_page_and_export_read_one_list(app: Flask, fleet: dict[str, Any],
                                               client_for: Any) -> None:
    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        make_user(sess, "fleet_a", roles=["manager"], branches=["A"])
        sess.commit()
    client = client_for("fleet_a")
    csv = client.get("/gps/devices?format=csv")
    assert csv.status_code == 200, csv.text[:300]
    assert fleet["A"]["imei"] in csv.text and fleet["B"]["imei"] not in csv.text
    found = client.get(f"/gps/devices?q={fleet['A']['plate']}").text
    assert fleet["A"]["imei"] in found
    assert fleet["A"]["imei"] not in client.get("/gps/devices?q=nothing-like-it").text
    assert client.get("/gps/devices?status=bogus").status_code == 422
