"""The GPS JSON API under ``/api/v1/gps``: thin routes over the services and the lists.

A route authenticates, checks the permission (``gps.view`` to read, ``gps.manage`` to
register trackers and edit fences and groups, ``gps.commands`` for remote commands), parses
the input, runs the service inside :func:`carebiz.toolkit.saving` (one commit; a refusal
becomes the standard error body) and serialises. Lists are answered from their list
definitions (:mod:`.lists`, :mod:`.device_list`), so every list is branch-filtered by the same
row filters the pages use: another branch's device answers 404 and its data is never
listed.

The pages' scripts (``static/gps-*.js``) read exactly these answers.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from typing import Any

from flask.views import MethodView
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, or_, select

from carebiz import db, lists
from carebiz.api.common import Blueprint
from carebiz.concurrency import etag_headers, expected_version
from carebiz.crm.models import Party, Vehicle
from carebiz.crm.services.parties import OTHER_BRANCH, hidden_parties
from carebiz.db import utcnow
from carebiz.errors import NotFound, ValidationFailed
from carebiz.models import AuditEntry
from carebiz.security import visible
from carebiz.toolkit import require, saving, today, visible_or_404

from . import schemas as s
from .device_list import DEVICES
from .lists import ALARMS, COMMANDS, GEOFENCES, GROUPS, MILEAGE, POSITIONS, STOPS, TRIPS
from .models import (
    GpsAlarm,
    GpsCommand,
    GpsDevice,
    GpsDeviceState,
    GpsGeofence,
    GpsGroup,
    GpsMileageDaily,
)
from .services import alarm_desk, commands, devices, geofences

blp = Blueprint("gps_api", __name__, url_prefix="/api/v1/gps",
                description="GPS tracking: devices, positions, live state, trips, stops, "
                            "mileage, alarms, geofences, groups and remote commands.")

#: the longest period one positions / trips / stops request may ask for
MAX_SPAN = dt.timedelta(days=31)
DEFAULT_SPAN = dt.timedelta(hours=24)
MAX_MILEAGE_DAYS = 400
#: a device not heard from for this long shows as offline even if no disconnect was seen
#: (an ingest server that died cannot say goodbye for its devices)
OFFLINE_AFTER = dt.timedelta(minutes=15)
#: the live cursor steps back this much, so a batch committed just after a poll read the
#: table is not missed (its rows carry the time they were stamped, not committed)
LIVE_OVERLAP = dt.timedelta(seconds=5)


def _user() -> Any:
    return current_user._get_current_object()


def _iso(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat()


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    return (value if value.tzinfo else value.replace(tzinfo=dt.UTC)).astimezone(dt.UTC)


def period(args: Mapping[str, Any], *, span: dt.timedelta = DEFAULT_SPAN,
           longest: dt.timedelta = MAX_SPAN) -> tuple[dt.datetime, dt.datetime]:
    """``from``/``to`` of a request as aware UTC: ``to`` defaults to now, ``from`` to
    ``span`` before it; a reversed or too long period is a 422 saying how long it may be."""
    end = _aware(args.get("to")) or utcnow()
    start = _aware(args.get("from_")) or end - span
    if start > end:
        raise ValidationFailed(_("The period was not accepted: from."),
                               {"from": _("The start lies after the end.")})
    if end - start > longest:
        raise ValidationFailed(_("The period was not accepted: at most %(days)s days at "
                                 "once; ask for the rest in another request.",
                                 days=longest.days),
                               {"to": _("At most %(days)s days after from.", days=longest.days)})
    return start, end


def _device_by_imei(imei: str) -> GpsDevice:
    """The device the user may see with this IMEI, else 404 (another branch's device is
    not told apart from one that does not exist)."""
    stmt = visible(select(GpsDevice).where(GpsDevice.imei == imei.strip()), GpsDevice, _user())
    device: GpsDevice | None = db.session().scalar(stmt)
    if device is None:
        raise NotFound(_("No device with this IMEI."), {"device": _("No device with this "
                                                                    "IMEI.")})
    return device


def _series_args(args: Mapping[str, Any], start: Any = None, end: Any = None
                 ) -> dict[str, Any]:
    """The list arguments of a series request: device / vehicle (checked visible), the
    normalised period and the sort."""
    if args.get("device"):
        _device_by_imei(args["device"])
    if args.get("vehicle"):
        visible_or_404(Vehicle, args["vehicle"], _("No vehicle with this id."))
    out: dict[str, Any] = {k: str(args[k]) for k in ("device", "vehicle", "sort", "status",
                                                      "type") if args.get(k) is not None}
    if start is not None:
        out["from"] = start.isoformat() if isinstance(start, dt.date) else str(start)
    if end is not None:
        out["to"] = end.isoformat() if isinstance(end, dt.date) else str(end)
    return out


def _imeis(device_ids: Iterable[int]) -> dict[int, str]:
    wanted = {i for i in device_ids if i}
    if not wanted:
        return {}
    return dict(db.session().execute(select(GpsDevice.id, GpsDevice.imei)
                                     .where(GpsDevice.id.in_(wanted))).all())


def _plates(vehicle_ids: Iterable[int | None]) -> dict[int, str | None]:
    wanted = {i for i in vehicle_ids if i}
    if not wanted:
        return {}
    return dict(db.session().execute(select(Vehicle.id, Vehicle.plate)
                                     .where(Vehicle.id.in_(wanted))).all())


# --- devices ---------------------------------------------------------------------------------

def device_out(rows: list[GpsDevice]) -> list[dict[str, Any]]:
    """Devices as the API answers them (never the password)."""
    cars = {v.id: v for v in db.session().scalars(select(Vehicle).where(
        Vehicle.id.in_({d.vehicle_id for d in rows if d.vehicle_id})))} if rows else {}
    owners = {v.owner_id for v in cars.values() if v.owner_id}
    hidden = hidden_parties(db.session(), _user(), owners) if owners else set()
    out = []
    for d in rows:
        car = cars.get(d.vehicle_id) if d.vehicle_id else None
        owner = car.owner_id if car is not None else None
        out.append({
            **{c: getattr(d, c) for c in (
                "id", "imei", "status", "vehicle_id", "branch_id", "label", "model",
                "protocol", "speed_limit_kmh", "tz_offset_min", "notes", "first_seen",
                "last_seen", "last_peer", "login_attempts", "created_at", "version")},
            "allowed": devices.DEVICE_FLOW.allowed(d.status), "sim": d.phone,
            "has_password": bool(d.password), "plate": car.plate if car is not None else None,
            "customer_id": owner if owner not in hidden else None})
    return out


def _details(data: dict[str, Any]) -> dict[str, Any]:
    if "sim" in data:
        data["phone"] = data.pop("sim")
    return data


@blp.route("/devices")
class Devices(MethodView):
    @require("gps.manage")
    @blp.arguments(s.GpsDeviceListArgs, location="query")
    @blp.response(200, s.GpsDevicePage)
    def get(self, args: dict[str, Any]) -> Any:
        """Trackers of your branches (pending ones to who sees every branch); ``q`` finds an
        IMEI, plate or label; ``status`` (default ``registered``: all but pending)."""
        return lists.api_page(DEVICES, args, device_out)

    @require("gps.manage")
    @blp.arguments(s.GpsDeviceCreateSchema)
    @blp.response(201, s.GpsDeviceSchema)
    def post(self, data: dict[str, Any]) -> Any:
        """Register a tracker by IMEI (15 digits, valid check digit: 422 otherwise) on a
        vehicle you may see (404 otherwise). An IMEI already registered is a 409; one
        waiting as pending is assigned."""
        data = _details(data)
        with saving():
            device = devices.register_device(db.session(), _user(), data.pop("imei"),
                                             data.pop("vehicle_id"), **data)
        return device_out([device])[0], 201, etag_headers(device)


@blp.route("/devices/<int:device_id>")
class Device(MethodView):
    @require("gps.manage")
    @blp.response(200, s.GpsDeviceSchema)
    def get(self, device_id: int) -> Any:
        device = visible_or_404(GpsDevice, device_id, _("No device with this id."))
        return device_out([device])[0], 200, etag_headers(device)

    @require("gps.manage")
    @blp.arguments(s.GpsDeviceUpdateSchema)
    @blp.response(200, s.GpsDeviceSchema)
    def patch(self, data: dict[str, Any], device_id: int) -> Any:
        """Change its details or move it to another vehicle (its branch follows); send
        ``version`` (or ``If-Match``): a stale one is a 409."""
        device = visible_or_404(GpsDevice, device_id, _("No device with this id."))
        expected = expected_version(data.pop("version", None))
        with saving():
            devices.update_device(db.session(), _user(), device, _details(data),
                                  expected_version=expected)
        return device_out([device])[0], 200, etag_headers(device)


@blp.route("/devices/<int:device_id>/assign")
class AssignDevice(MethodView):
    @require("gps.manage")
    @blp.arguments(s.GpsDeviceAssignSchema)
    @blp.response(200, s.GpsDeviceSchema)
    def post(self, data: dict[str, Any], device_id: int) -> Any:
        """Put a pending device (an unknown IMEI that logged in) on a vehicle: it becomes
        active. Any other status is a 409 with ``allowed``."""
        device = visible_or_404(GpsDevice, device_id, _("No device with this id."))
        expected = expected_version(data.pop("version", None))
        data = _details(data)
        with saving():
            device = devices.assign_device(db.session(), _user(), device,
                                           data.pop("vehicle_id"), expected_version=expected,
                                           **data)
        return device_out([device])[0], 200, etag_headers(device)


@blp.route("/devices/<int:device_id>/<any(disable,enable):action>")
class DeviceAction(MethodView):
    @require("gps.manage")
    @blp.arguments(s.GpsVersionSchema)
    @blp.response(200, s.GpsDeviceSchema)
    def post(self, data: dict[str, Any], device_id: int, action: str) -> Any:
        """Disable an active tracker (its logins are refused, its history kept) or enable a
        disabled one; another status is a 409 with ``allowed``."""
        device = visible_or_404(GpsDevice, device_id, _("No device with this id."))
        expected = expected_version(data.pop("version", None))
        move = devices.disable_device if action == "disable" else devices.enable_device
        with saving():
            device = move(db.session(), _user(), device, expected_version=expected)
        return device_out([device])[0], 200, etag_headers(device)


# --- positions, trips, stops, mileage --------------------------------------------------------

def _series_out(columns: tuple[str, ...]) -> Any:
    def out(rows: list[Any]) -> list[dict[str, Any]]:
        imeis = _imeis(r.device_id for r in rows)
        return [{**{c: getattr(r, c) for c in columns}, "device": imeis.get(r.device_id)}
                for r in rows]
    return out


POSITION_COLUMNS = ("id", "fix_time", "received_at", "latitude", "longitude", "speed_kmh",
                    "course", "valid", "satellites", "ignition", "reupload", "distance_m",
                    "odometer_m", "fuel_l")
TRIP_COLUMNS = ("id", "vehicle_id", "start_time", "end_time", "start_lat", "start_lon",
                "end_lat", "end_lon", "distance_m", "duration_s", "avg_speed_kmh",
                "max_speed_kmh", "fuel_l")
STOP_COLUMNS = ("id", "vehicle_id", "start_time", "end_time", "latitude", "longitude",
                "duration_s", "ignition")


def _need_device_or_vehicle(args: Mapping[str, Any]) -> None:
    if not args.get("device") and not args.get("vehicle"):
        raise ValidationFailed(_("Name the device (its IMEI) or the vehicle: device or "
                                 "vehicle."), {"device": _("The IMEI, or give vehicle.")})


@blp.route("/positions")
class Positions(MethodView):
    @require("gps.view")
    @blp.arguments(s.GpsPositionListArgs, location="query")
    @blp.response(200, s.GpsPositionPage)
    def get(self, args: dict[str, Any]) -> Any:
        """A device's (``device=<imei>``) or vehicle's fixes in a period, oldest first:
        ``from`` defaults to 24 hours before ``to`` (default now), at most 31 days at once
        (422). Up to 5,000 a page."""
        _need_device_or_vehicle(args)
        start, end = period(args)
        listed = _series_args(args, _iso(start), _iso(end))
        return lists.api_page(POSITIONS, args, _series_out(POSITION_COLUMNS), args=listed)


@blp.route("/trips")
class Trips(MethodView):
    @require("gps.view")
    @blp.arguments(s.GpsTripListArgs, location="query")
    @blp.response(200, s.GpsTripPage)
    def get(self, args: dict[str, Any]) -> Any:
        """Trips that started in the period (defaults and limits as for positions) of a
        device or vehicle, or of every one you may see."""
        start, end = period(args)
        listed = _series_args(args, _iso(start), _iso(end))
        return lists.api_page(TRIPS, args, _series_out(TRIP_COLUMNS), args=listed)


@blp.route("/stops")
class Stops(MethodView):
    @require("gps.view")
    @blp.arguments(s.GpsStopListArgs, location="query")
    @blp.response(200, s.GpsStopPage)
    def get(self, args: dict[str, Any]) -> Any:
        """Stops that began in the period, with their place and duration."""
        start, end = period(args)
        listed = _series_args(args, _iso(start), _iso(end))
        return lists.api_page(STOPS, args, _series_out(STOP_COLUMNS), args=listed)


def _period_key(day: dt.date, grouping: str) -> tuple[str, dt.date]:
    if grouping == "week":
        year, week, _weekday = day.isocalendar()
        return f"{year}-W{week:02d}", day - dt.timedelta(days=day.weekday())
    if grouping == "month":
        return day.strftime("%Y-%m"), day.replace(day=1)
    return day.isoformat(), day


def mileage_rows(rows: Iterable[GpsMileageDaily], grouping: str) -> list[dict[str, Any]]:
    """Daily rows summed per device and period (``day``, ISO ``week`` or ``month``), in
    period order then IMEI."""
    rows = list(rows)
    imeis = _imeis(r.device_id for r in rows)
    plates = _plates(r.vehicle_id for r in rows)
    groups: dict[tuple[int, str], dict[str, Any]] = {}
    for r in rows:
        label, first = _period_key(r.day, grouping)
        g = groups.get((r.device_id, label))
        if g is None:
            g = groups[(r.device_id, label)] = {
                "device": imeis.get(r.device_id), "vehicle_id": r.vehicle_id,
                "plate": plates.get(r.vehicle_id) if r.vehicle_id else None,
                "period": label, "start": first, "days": 0, "distance_m": 0.0,
                "engine_seconds": 0, "fuel_l": None, "max_speed_kmh": 0.0, "positions": 0}
        g["days"] += 1
        g["distance_m"] += r.distance_m or 0.0
        g["engine_seconds"] += r.engine_seconds or 0
        if r.fuel_l is not None:
            g["fuel_l"] = (g["fuel_l"] or 0.0) + r.fuel_l
        g["max_speed_kmh"] = max(g["max_speed_kmh"], r.max_speed_kmh or 0.0)
        g["positions"] += r.positions or 0
    out = sorted(groups.values(), key=lambda g: (g["start"], g["device"] or ""))
    for g in out:
        g["distance_m"] = round(g["distance_m"], 1)
        g["distance_km"] = round(g["distance_m"] / 1000, 2)
        g["engine_hours"] = round(g["engine_seconds"] / 3600, 2)
    return out


@blp.route("/mileage")
class Mileage(MethodView):
    @require("gps.view")
    @blp.arguments(s.GpsMileageArgs, location="query")
    @blp.response(200, s.GpsMileagePage)
    def get(self, args: dict[str, Any]) -> Any:
        """Distance, engine time, fuel and top speed per device and ``period`` (``day``,
        ``week``, ``month``) between ``from`` and ``to`` (days in the business's zone;
        default this month), at most 400 days."""
        last = args.get("to") or today()
        first = args.get("from_") or last.replace(day=1)
        if first > last:
            raise ValidationFailed(_("The period was not accepted: from."),
                                   {"from": _("The start lies after the end.")})
        if (last - first).days >= MAX_MILEAGE_DAYS:
            raise ValidationFailed(_("The period was not accepted: at most %(days)s days.",
                                     days=MAX_MILEAGE_DAYS),
                                   {"to": _("At most %(days)s days after from.",
                                            days=MAX_MILEAGE_DAYS)})
        listed = _series_args(args, first, last)
        if args["period"] == "day":
            return lists.api_page(MILEAGE, args, lambda rows: mileage_rows(rows, "day"),
                                  args=listed)
        listing = lists.prepare(MILEAGE, listed, db.session(), _user())
        grouped = mileage_rows(db.session().scalars(listing.stmt), args["period"])
        begin = (args["page"] - 1) * args["per_page"]
        return {"items": grouped[begin:begin + args["per_page"]], "total": len(grouped),
                "page": args["page"], "per_page": args["per_page"]}


# --- live ------------------------------------------------------------------------------------

def live_status(state: GpsDeviceState | None, open_alarms: int, now: dt.datetime) -> str:
    """moving / stopped / offline / alarm, as the map's legend lists them: an open alarm
    wins; a device not heard from for :data:`OFFLINE_AFTER` is offline."""
    if open_alarms:
        return "alarm"
    if state is None or not state.online:
        return "offline"
    seen = _aware(state.last_seen)
    if seen is None or now - seen > OFFLINE_AFTER:
        return "offline"
    return "moving" if state.moving else "stopped"


def live_state(session: Any, user: Any, since: dt.datetime | None = None,
               now: dt.datetime | None = None) -> dict[str, Any]:
    """The latest state of every active device ``user`` may see — or, with ``since``, of
    those changed after it (a fix, a heartbeat, an alarm raised or acknowledged, going
    stale): a handful of indexed queries, never one per device, so it can be polled every few
    seconds. ``since`` in the answer is the cursor for the next call; with ``since``,
    ``removed`` lists the ids of devices that left the map after it (see
    :func:`_left_since`), so the page drops their markers."""
    now = now or utcnow()
    stmt: Any = (select(GpsDevice, GpsDeviceState, Vehicle)
            .outerjoin(GpsDeviceState, GpsDeviceState.device_id == GpsDevice.id)
            .outerjoin(Vehicle, Vehicle.id == GpsDevice.vehicle_id)
            .where(GpsDevice.status == "active"))
    if since is not None:
        alarmed = select(GpsAlarm.device_id).where(or_(GpsAlarm.received_at > since,
                                                       GpsAlarm.acknowledged_at > since))
        stmt = stmt.where(or_(
            GpsDeviceState.last_seen > since, GpsDeviceState.fix_time > since,
            GpsDevice.updated_at > since, GpsDevice.id.in_(alarmed),
            # went stale since the last poll: now offline without a word from the device
            GpsDeviceState.last_seen.between(since - OFFLINE_AFTER, now - OFFLINE_AFTER)))
    rows = list(session.execute(visible(stmt, GpsDevice, user)))
    ids = [d.id for d, _st, _v in rows]
    alarms: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
    latest_alarm: dt.datetime | None = None
    if ids:
        for a in session.scalars(visible(
                select(GpsAlarm).where(GpsAlarm.device_id.in_(ids), GpsAlarm.status == "open")
                .order_by(GpsAlarm.fix_time.desc()), GpsAlarm, user)):
            alarms[a.device_id].append({"id": a.id, "type": a.type, "fix_time": a.fix_time})
        latest_alarm = session.scalar(select(func.max(GpsAlarm.received_at))
                                      .where(GpsAlarm.device_id.in_(ids)))
    owners = {v.owner_id for _d, _st, v in rows if v is not None and v.owner_id}
    hidden = hidden_parties(session, user, owners) if owners else set()
    names = dict(session.execute(select(Party.id, Party.name).where(
        Party.id.in_(owners))).all()) if owners else {}
    items = []
    marks: list[dt.datetime] = [m for m in (_aware(latest_alarm),) if m is not None]
    for d, st, v in rows:
        owner = v.owner_id if v is not None else None
        items.append({
            "device": d.imei, "device_id": d.id, "label": d.label,
            "vehicle_id": d.vehicle_id, "plate": v.plate if v is not None else None,
            "customer_id": owner if owner and owner not in hidden else None,
            "customer_name": (_(OTHER_BRANCH) if owner in hidden else names.get(owner))
            if owner else None,
            "status": live_status(st, len(alarms[d.id]), now),
            "alarm_open": len(alarms[d.id]), "alarms": alarms[d.id],
            **{c: getattr(st, c) if st is not None else None for c in (
                "fix_time", "latitude", "longitude", "speed_kmh", "course", "valid",
                "ignition", "last_seen", "cut_off")},
            "online": bool(st is not None and st.online)})
        marks += [m for m in (_aware(st.last_seen) if st else None,
                              _aware(st.fix_time) if st else None,
                              _aware(d.updated_at)) if m is not None]
    removed: list[int] = []
    if since is not None:
        removed, left_marks = _left_since(session, user, since)
        marks += left_marks
    cursor = max(marks) - LIVE_OVERLAP if marks else since
    if since is not None and cursor is not None and cursor < since:
        cursor = since
    items.sort(key=lambda it: (it["plate"] or "", it["device"]))
    return {"items": items, "total": len(items), "since": min(cursor, now) if cursor else None,
            "now": now, "removed": removed}


def _left_since(session: Any, user: Any,
                since: dt.datetime) -> tuple[list[int], list[dt.datetime]]:
    """Ids of the devices that left ``user``'s live map after ``since`` (disabled, or moved
    to a car of a branch the user does not work in), and their change times for the cursor.

    WHY: the delta lists only active, visible devices, so without this a page polling with
    ``since`` never learns that a device it shows has gone and keeps its marker. A device is
    a candidate when its row changed after the cursor (every transition and move bumps
    ``updated_at``). A visible one left when it is no longer active. One the user no longer
    sees is named only when its audit entry after the cursor shows it moved *out of* one of
    the user's branches: the ids of other branches' devices, and that they changed, are not
    the user's to learn. Pending devices never were on a map.
    """
    changed = dict(session.execute(
        select(GpsDevice.id, GpsDevice.updated_at)
        .where(GpsDevice.updated_at > since, GpsDevice.status != "pending")).all())
    if not changed:
        return [], []
    shown = dict(session.execute(visible(
        select(GpsDevice.id, GpsDevice.status).where(GpsDevice.id.in_(changed)),
        GpsDevice, user)).all())
    left = {i for i, status in shown.items() if status != "active"}
    unseen = {str(i): i for i in changed if i not in shown}
    mine = set(getattr(user, "branch_ids", None) or ())
    if unseen and mine:
        for entity_id, before in session.execute(
                select(AuditEntry.entity_id, AuditEntry.before)
                .where(AuditEntry.entity_type == "gps_device",
                       AuditEntry.entity_id.in_(unseen),
                       AuditEntry.at > since - LIVE_OVERLAP)):
            if isinstance(before, dict) and before.get("branch_id") in mine:
                left.add(unseen[entity_id])
    return sorted(left), [m for m in (_aware(changed[i]) for i in left) if m is not None]


@blp.route("/live")
class Live(MethodView):
    @require("gps.view")
    @blp.arguments(s.GpsLiveArgs, location="query")
    @blp.response(200, s.GpsLiveSchema)
    def get(self, args: dict[str, Any]) -> Any:
        """Every active device you may see with its last position, status (moving,
        stopped, offline, alarm), plate, customer and open alarms. Send the answer's
        ``since`` back as ``?since=`` to get only the devices changed after it, and in
        ``removed`` the ids of those that left the map (disabled, or moved out of your
        branches) since then."""
        return live_state(db.session(), _user(), _aware(args.get("since")))


# --- alarms ----------------------------------------------------------------------------------

def alarm_out(rows: list[GpsAlarm]) -> list[dict[str, Any]]:
    imeis = _imeis(a.device_id for a in rows)
    plates = _plates(a.vehicle_id for a in rows)
    return [{**{c: getattr(a, c) for c in (
        "id", "device_id", "vehicle_id", "branch_id", "type", "fix_time", "received_at",
        "latitude", "longitude", "details", "status", "acknowledged_by", "acknowledged_at",
        "note", "version")}, "device": imeis.get(a.device_id),
        "plate": plates.get(a.vehicle_id) if a.vehicle_id else None} for a in rows]


@blp.route("/alarms")
class Alarms(MethodView):
    @require("gps.view")
    @blp.arguments(s.GpsAlarmListArgs, location="query")
    @blp.response(200, s.GpsAlarmPage)
    def get(self, args: dict[str, Any]) -> Any:
        """Alarms of the devices you may see, newest first; filter by ``device`` (IMEI),
        ``vehicle``, ``status``, ``type`` and a period (``from``/``to``: none given means
        any time; at most 31 days when given)."""
        start = end = None
        if args.get("from_") or args.get("to"):
            start, end = period(args, span=dt.timedelta(days=7))
        listed = _series_args(args, _iso(start) if start else None,
                              _iso(end) if end else None)
        return lists.api_page(ALARMS, args, alarm_out, args=listed)


@blp.route("/alarms/<int:alarm_id>")
class Alarm(MethodView):
    @require("gps.view")
    @blp.response(200, s.GpsAlarmSchema)
    def get(self, alarm_id: int) -> Any:
        alarm = visible_or_404(GpsAlarm, alarm_id, _("No alarm with this id."))
        return alarm_out([alarm])[0], 200, etag_headers(alarm)


@blp.route("/alarms/<int:alarm_id>/acknowledge")
class AcknowledgeAlarm(MethodView):
    @require("gps.view")
    @blp.arguments(s.GpsAlarmAckSchema)
    @blp.response(200, s.GpsAlarmSchema)
    def post(self, data: dict[str, Any], alarm_id: int) -> Any:
        """Acknowledge an open alarm with a note (you and now are recorded). Already
        acknowledged: a 409 whose ``status`` is ``acknowledged``; a stale ``version``: 409."""
        alarm = visible_or_404(GpsAlarm, alarm_id, _("No alarm with this id."))
        expected = expected_version(data.pop("version", None))
        with saving():
            alarm = alarm_desk.acknowledge(db.session(), _user(), alarm, data["note"],
                                           expected_version=expected)
        return alarm_out([alarm])[0], 200, etag_headers(alarm)


# --- geofences -------------------------------------------------------------------------------

def fence_out(rows: list[GpsGeofence]) -> list[dict[str, Any]]:
    links = geofences.fence_assignments(db.session(), [f.id for f in rows])
    return [{**{c: getattr(f, c) for c in (
        "id", "name", "kind", "radius_m", "half_width_m", "schedule", "speed_limit_kmh",
        "active", "notes", "branch_id", "version")}, "geometry": json.loads(f.geometry),
        **links[f.id]} for f in rows]


@blp.route("/geofences")
class Geofences(MethodView):
    @require("gps.view")
    @blp.arguments(s.GpsGeofenceListArgs, location="query")
    @blp.response(200, s.GpsGeofencePage)
    def get(self, args: dict[str, Any]) -> Any:
        """Fences of your branches by name; ``vehicle`` those watching a vehicle (directly
        or through a group)."""
        return lists.api_page(GEOFENCES, args, fence_out)

    @require("gps.manage")
    @blp.arguments(s.GpsGeofenceInSchema)
    @blp.response(201, s.GpsGeofenceSchema)
    def post(self, data: dict[str, Any]) -> Any:
        """Draw a fence: a circle (Point + ``radius_m``), a polygon (closed, not crossing
        itself) or a corridor (LineString + ``half_width_m``), with an optional schedule
        and its vehicles and groups."""
        data.pop("version", None)
        with saving():
            fence = geofences.save_geofence(db.session(), _user(), data)
        return fence_out([fence])[0], 201, etag_headers(fence)


@blp.route("/geofences/<int:fence_id>")
class Geofence(MethodView):
    @require("gps.view")
    @blp.response(200, s.GpsGeofenceSchema)
    def get(self, fence_id: int) -> Any:
        fence = visible_or_404(GpsGeofence, fence_id, _("No geofence with this id."))
        return fence_out([fence])[0], 200, etag_headers(fence)

    @require("gps.manage")
    @blp.arguments(s.GpsGeofenceInSchema)
    @blp.response(200, s.GpsGeofenceSchema)
    def put(self, data: dict[str, Any], fence_id: int) -> Any:
        """Replace the fence (every field; ``version`` or ``If-Match``: stale is a 409)."""
        fence = visible_or_404(GpsGeofence, fence_id, _("No geofence with this id."))
        expected = expected_version(data.pop("version", None))
        with saving():
            fence = geofences.save_geofence(db.session(), _user(), data, fence,
                                            expected_version=expected)
        return fence_out([fence])[0], 200, etag_headers(fence)

    @require("gps.manage")
    @blp.response(204)
    def delete(self, fence_id: int) -> Any:
        """Delete the fence (``If-Match`` with its version guards against a stale view)."""
        fence = visible_or_404(GpsGeofence, fence_id, _("No geofence with this id."))
        with saving():
            geofences.delete_geofence(db.session(), _user(), fence,
                                      expected_version=expected_version())
        return None


# --- groups ----------------------------------------------------------------------------------

def group_out(rows: list[GpsGroup]) -> list[dict[str, Any]]:
    members = geofences.group_vehicles(db.session(), [g.id for g in rows])
    return [{**{c: getattr(g, c) for c in (
        "id", "name", "overspeed_kmh", "overspeed_min_seconds", "idle_minutes",
        "fatigue_hours", "fatigue_break_minutes", "allowed_hours", "offline_minutes",
        "active", "notes", "branch_id", "version")}, "vehicle_ids": members[g.id]}
        for g in rows]


@blp.route("/groups")
class Groups(MethodView):
    @require("gps.view")
    @blp.arguments(s.GpsGroupListArgs, location="query")
    @blp.response(200, s.GpsGroupPage)
    def get(self, args: dict[str, Any]) -> Any:
        """Vehicle groups of your branches with their limits and vehicles."""
        return lists.api_page(GROUPS, args, group_out)

    @require("gps.manage")
    @blp.arguments(s.GpsGroupInSchema)
    @blp.response(201, s.GpsGroupSchema)
    def post(self, data: dict[str, Any]) -> Any:
        """Create a group: limits left empty switch that rule off for it."""
        data.pop("version", None)
        with saving():
            group = geofences.save_group(db.session(), _user(), data)
        return group_out([group])[0], 201, etag_headers(group)


@blp.route("/groups/<int:group_id>")
class Group(MethodView):
    @require("gps.view")
    @blp.response(200, s.GpsGroupSchema)
    def get(self, group_id: int) -> Any:
        group = visible_or_404(GpsGroup, group_id, _("No group with this id."))
        return group_out([group])[0], 200, etag_headers(group)

    @require("gps.manage")
    @blp.arguments(s.GpsGroupInSchema)
    @blp.response(200, s.GpsGroupSchema)
    def put(self, data: dict[str, Any], group_id: int) -> Any:
        """Replace the group (every field; stale ``version`` is a 409)."""
        group = visible_or_404(GpsGroup, group_id, _("No group with this id."))
        expected = expected_version(data.pop("version", None))
        with saving():
            group = geofences.save_group(db.session(), _user(), data, group,
                                         expected_version=expected)
        return group_out([group])[0], 200, etag_headers(group)

    @require("gps.manage")
    @blp.response(204)
    def delete(self, group_id: int) -> Any:
        group = visible_or_404(GpsGroup, group_id, _("No group with this id."))
        with saving():
            geofences.delete_group(db.session(), _user(), group,
                                   expected_version=expected_version())
        return None


# --- commands --------------------------------------------------------------------------------

def command_out(rows: list[GpsCommand]) -> list[dict[str, Any]]:
    """Commands as answered: a device password inside the text is masked."""
    found = {d.id: d for d in db.session().scalars(select(GpsDevice).where(
        GpsDevice.id.in_({c.device_id for c in rows})))} if rows else {}
    out = []
    for c in rows:
        device = found.get(c.device_id)
        text = c.text
        if device is not None and device.password:
            text = text.replace(device.password, "******")
        out.append({**{k: getattr(c, k) for k in (
            "id", "device_id", "kind", "status", "requested_by", "requested_at", "sent_at",
            "reply", "replied_at", "version")}, "text": text,
            "device": device.imei if device is not None else None,
            "allowed": commands.COMMAND_FLOW.allowed(c.status)})
    return out


@blp.route("/commands")
class Commands(MethodView):
    @require("gps.commands")
    @blp.arguments(s.GpsCommandListArgs, location="query")
    @blp.response(200, s.GpsCommandPage)
    def get(self, args: dict[str, Any]) -> Any:
        """Commands with their status and the device's reply, newest first."""
        if args.get("device"):
            _device_by_imei(args["device"])
        return lists.api_page(COMMANDS, args, command_out)

    @require("gps.commands")
    @blp.arguments(s.GpsCommandInSchema)
    @blp.response(201, s.GpsCommandSchema)
    def post(self, data: dict[str, Any]) -> Any:
        """Queue ``cut_off``, ``restore`` or a ``custom`` text for an active device;
        ``confirm`` must repeat the vehicle's plate or the IMEI (422 otherwise). It is sent
        as soon as the device is online; the reply is recorded."""
        device = _device_by_imei(data["device"])
        with saving():
            command = commands.request_command(db.session(), _user(), device, data["kind"],
                                               confirm=data["confirm"], text=data["text"])
        return command_out([command])[0], 201


@blp.route("/commands/<int:command_id>/cancel")
class CancelCommand(MethodView):
    @require("gps.commands")
    @blp.arguments(s.GpsVersionSchema)
    @blp.response(200, s.GpsCommandSchema)
    def post(self, data: dict[str, Any], command_id: int) -> Any:
        """Take back a command still queued (409 once it went out)."""
        command = visible_or_404(GpsCommand, command_id, _("No command with this id."))
        expected = expected_version(data.pop("version", None))
        with saving():
            command = commands.cancel_command(db.session(), _user(), command,
                                              expected_version=expected)
        return command_out([command])[0]


