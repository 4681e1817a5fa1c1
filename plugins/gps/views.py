"""The GPS pages under ``/gps``: live map, track playback, geofences, devices, alarms.

The pages are thin shells: the server renders the layout, the records the user may see and
the translated words, and the browser script reads and writes through the JSON API
(``/api/v1/gps/...``) so the map, the list and an integrator see the same data under the
same row filters. Leaflet is served from the ``xstatic-leaflet`` package through
:func:`leaflet` (no CDN: dealerships run on closed networks)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, render_template, request, send_from_directory, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, or_, select

from carebiz import db, lists
from carebiz.crm.models import Vehicle
from carebiz.errors import NotFound
from carebiz.security import can, require, visible
from carebiz.toolkit import host, visible_or_404

from .device_list import DEVICES
from .labels import alarm_label, overspeed_summary
from .models import GpsAlarm, GpsCommand, GpsDevice, GpsDeviceState, GpsGroup

bp = Blueprint("gps", __name__, url_prefix="/gps", template_folder="templates",
               static_folder="static", static_url_path="/static")

#: the setting keys the map reads (declared by the plugin's settings, see plugin.py)
TILE_URL = "gps.tile_url"
TILE_ATTRIBUTION = "gps.tile_attribution"
#: statuses of a device's live state, in the order the map's legend lists them
STATUSES = ("moving", "stopped", "offline", "alarm")


def _user() -> Any:
    return current_user._get_current_object()


def _setting(key: str) -> str:
    """A map setting's value, or "" while the setting is not declared (the map then draws
    its plain background; a missing declaration must not take the map down)."""
    from carebiz.services import settings

    try:
        return str(settings.get(db.session(), host(), key) or "")
    except NotFound:
        return ""


def map_config() -> dict[str, Any]:
    """What every map page hands its script: the tile server if an admin set one, the
    addresses it calls and the words it shows (translated here, so the script has none)."""
    return {
        "tileUrl": _setting(TILE_URL),
        "tileAttribution": _setting(TILE_ATTRIBUTION),
        "api": "/api/v1/gps",
        "customerUrl": url_for("crm.customer", party_id=0).replace("/0", "/{id}"),
        "vehicleUrl": url_for("crm.vehicle", vehicle_id=0).replace("/0", "/{id}"),
        "playbackUrl": url_for("gps.playback") + "?device={imei}",
        "deviceUrl": url_for("gps.device", device_id=0).replace("/0", "/{id}"),
        "words": {
            "moving": _("Moving"), "stopped": _("Stopped"), "offline": _("Offline"),
            "alarm": _("Alarm"), "speed": _("Speed"), "time": _("Time"),
            "position": _("Position"), "ignition": _("Ignition"), "on": _("On"),
            "off": _("Off"), "unknown": _("Unknown"), "customer": _("Customer"),
            "vehicle": _("Vehicle"), "playback": _("Playback"), "kmh": _("km/h"),
            "km": _("km"), "noData": _("No positions in this period."),
            "stop": _("Stop"), "duration": _("Duration"), "alarms": _("Open alarms"),
            "updated": _("Updated"), "failed": _("The live data could not be loaded; retrying."),
            "device": _("Device"), "save": _("Save"), "deleteConfirm":
            _("Delete this geofence?"), "saved": _("Saved."), "deleted": _("Deleted."),
            "clickVertices": _("Click the map to add corners; click Finish when done."),
            "clickCentre": _("Click the map to place the centre, then set the radius."),
            "clickLine": _("Click the map along the route; click Finish when done."),
            "needShape": _("Draw the shape on the map first."),
            "circle": _("Circle"), "polygon": _("Polygon"), "corridor": _("Corridor"),
            "start": _("Start"), "end": _("End"), "of": _("of"),
        },
    }


@bp.get("/leaflet/<path:filename>")
def leaflet(filename: str) -> Any:
    """Leaflet's script, style sheet and marker images from the installed
    ``xstatic-leaflet`` package (its version pinned by pyproject, served like our own)."""
    from xstatic.pkg import leaflet as package

    return send_from_directory(package.BASE_DIR, filename, max_age=86400)


def _visible_devices(active_only: bool = True) -> list[tuple[GpsDevice, Vehicle | None]]:
    stmt = (select(GpsDevice, Vehicle).outerjoin(Vehicle, Vehicle.id == GpsDevice.vehicle_id)
            .order_by(Vehicle.plate, GpsDevice.imei))
    if active_only:
        stmt = stmt.where(GpsDevice.status == "active")
    return [(d, v) for d, v in db.session().execute(visible(stmt, GpsDevice, _user()))]


def _open_alarms() -> int:
    stmt = select(func.count(GpsAlarm.id)).where(GpsAlarm.status == "open")
    return int(db.session().scalar(visible(stmt, GpsAlarm, _user())) or 0)


def _page(template: str, **context: Any) -> str:
    return render_template(template, config=map_config(), open_alarms=_open_alarms(),
                           statuses=STATUSES, **context)


@bp.get("/")
@require("gps.view")
def live() -> Any:
    """The live map: every active device the user may see, refreshed by the script."""
    # how often the script polls (ms): ?interval= lets a test or a wall screen change it
    interval = min(max(request.args.get("interval", 5000, type=int) or 5000, 1000), 60000)
    return _page("gps/live.html", devices=_visible_devices(), interval=interval)


@bp.get("/playback")
@require("gps.view")
def playback() -> Any:
    """A vehicle's track for a period: the script asks the positions, stops and trips."""
    devices = _visible_devices(active_only=False)
    imei = request.args.get("device", "")[:20]
    if imei and imei not in {d.imei for d, _v in devices}:
        abort(404)
    # the period is the browser's local time (datetime-local); the script fills the last
    # 24 hours when none is given and sends UTC to the API
    return _page("gps/playback.html", devices=devices, imei=imei or
                 (devices[0][0].imei if devices else ""),
                 start=request.args.get("from", "")[:32], end=request.args.get("to", "")[:32])


@bp.get("/geofences")
@require("gps.view")
def geofences() -> Any:
    """Geofences on the map; drawing and saving for users with ``gps.manage``."""
    groups = db.session().scalars(visible(select(GpsGroup).order_by(GpsGroup.name),
                                          GpsGroup, _user())).all()
    return _page("gps/geofences.html", devices=_visible_devices(), groups=groups,
                 can_edit=can(_user(), "gps.manage"))


@bp.get("/alarms")
@require("gps.view")
def alarms() -> Any:
    """The open alarms of the vehicles the user watches, acknowledged through the API."""
    stmt = (select(GpsAlarm, GpsDevice, Vehicle)
            .join(GpsDevice, GpsDevice.id == GpsAlarm.device_id)
            .outerjoin(Vehicle, Vehicle.id == GpsAlarm.vehicle_id)
            .where(GpsAlarm.status == "open").order_by(GpsAlarm.fix_time.desc(),
                                                       GpsAlarm.id.desc()).limit(500))
    rows = list(db.session().execute(visible(stmt, GpsAlarm, _user())))
    return _page("gps/alarms.html", rows=rows, alarm_label=alarm_label,
                 overspeed_summary=overspeed_summary)


@bp.get("/devices")
@require("gps.manage")
def devices() -> Any:
    """Devices: active and disabled ones to search, pending ones to assign, a register form."""
    listed = lists.prepare(DEVICES, request.args, db.session(), _user())
    page = lists.page(listed, db.session(), request.args.get("page", 1, type=int) or 1,
                      clamp=True)
    session = db.session()
    ids = [d.id for d in page.items]
    cars = {v.id: v for v in session.scalars(select(Vehicle).where(
        Vehicle.id.in_([d.vehicle_id for d in page.items if d.vehicle_id])))}
    states = {s.device_id: s for s in session.scalars(
        select(GpsDeviceState).where(GpsDeviceState.device_id.in_(ids)))}
    pending = db.session().scalars(visible(
        select(GpsDevice).where(GpsDevice.status == "pending")
        .order_by(GpsDevice.last_seen.desc().nulls_last()), GpsDevice, _user())
        .limit(100)).all()
    return _page("gps/devices.html", page=page, pending=pending, q=listed.q,
                 status=listed.values.get("status", "registered"),
                 cars=cars, states=states)


@bp.get("/devices/<int:device_id>")
@require("gps.manage")
def device(device_id: int) -> Any:
    """A device's record: the last state, its alarms, commands (for ``gps.commands``)."""
    record = visible_or_404(GpsDevice, device_id)
    session = db.session()
    vehicle = session.get(Vehicle, record.vehicle_id) if record.vehicle_id else None
    state = session.get(GpsDeviceState, record.id)
    commands = session.scalars(select(GpsCommand).where(GpsCommand.device_id == record.id)
                               .order_by(GpsCommand.id.desc()).limit(50)).all()
    recent = session.scalars(select(GpsAlarm).where(GpsAlarm.device_id == record.id)
                             .order_by(GpsAlarm.id.desc()).limit(20)).all()
    return _page("gps/device.html", device=record, vehicle=vehicle, state=state,
                 commands=commands, alarms_list=recent, alarm_label=alarm_label,
                 overspeed_summary=overspeed_summary, can_command=can(_user(), "gps.commands"))


@bp.get("/vehicles/pick")
@require("gps.manage")
def vehicle_pick() -> Any:
    """Vehicles matching ``q`` (plate or VIN) for the register form's picker (JSON), only
    those the user may see. Each label ends with ``#<id>``, which the script sends."""
    q = request.args.get("q", "").strip()[:40]
    if len(q) < 2:
        return {"options": []}
    stmt = (select(Vehicle).where(or_(Vehicle.plate.icontains(q, autoescape=True),
                                      Vehicle.vin.icontains(q, autoescape=True)))
            .order_by(Vehicle.plate).limit(20))
    cars = db.session().scalars(visible(stmt, Vehicle, _user())).all()
    return {"options": [{"id": c.id, "label": " · ".join(
        p for p in (c.plate or "", f"{c.make} {c.model}".strip(), c.vin or "") if p)
        + f" #{c.id}"} for c in cars]}


def menu_items() -> list[Any]:
    """The plugin's place in the top bar: one "GPS" item with its pages as children
    (``MenuItem.parent``), so the navbar keeps to one line with every plugin on. Depends on
    nothing but the user's grants (the menu is cached per user)."""
    from flask_babel import lazy_gettext as _l

    from carebiz.contributions import MenuItem

    def child(name: str, label: Any, endpoint: str, permission: str, weight: int) -> MenuItem:
        return MenuItem(f"gps.{name}", label, endpoint, permission=permission, weight=weight,
                        parent="gps")

    return [MenuItem("gps", _l("GPS"), "gps.live", permission="gps.view", icon="geo-alt",
                     weight=400),
            child("live", _l("Live map"), "gps.live", "gps.view", 1),
            child("playback", _l("Playback"), "gps.playback", "gps.view", 2),
            child("geofences", _l("Geofences"), "gps.geofences", "gps.view", 3),
            child("alarms", _l("Alarms"), "gps.alarms", "gps.view", 4),
            child("devices", _l("Devices"), "gps.devices", "gps.manage", 5)]
