"""The GPS API's shapes. Schemas check types and document the API; the rules (IMEI check
digit, geometry, schedules, confirmations) stay in :mod:`carebiz_plugins.gps.services`.

Class names carry the ``Gps`` prefix: they become component names of the one shared OpenAPI
document. Times are answered as ISO 8601 in UTC (``…+00:00``)."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields
from marshmallow.validate import Length, OneOf, Range

from carebiz.api.common import ListArgs, page_schema
from carebiz.lists.definition import FALSE_WORDS, TRUE_WORDS
from carebiz.toolkit import MAX_ID

from .device_list import DEVICES, STATUS_CHOICES
from .lists import ALARMS, COMMANDS, GEOFENCES, GROUPS, POSITIONS, STOPS, TRIPS
from .models import (
    ALARM_STATUSES,
    COMMAND_KINDS,
    COMMAND_STATUSES,
    DEVICE_PROTOCOLS,
    GEOFENCE_KINDS,
)

#: a time-series page may be long (playback reads a day of fixes in a few pages)
MAX_SERIES_PAGE = 5000


def _qid(**kwargs: Any) -> fields.Integer:
    return fields.Integer(validate=Range(min=1, max=MAX_ID), **kwargs)


def _bid(**kwargs: Any) -> fields.Integer:
    return fields.Integer(strict=True, validate=Range(min=1, max=MAX_ID), **kwargs)


def _yes_no() -> fields.String:
    return fields.String(validate=OneOf((*TRUE_WORDS, *FALSE_WORDS)))


def _imei_arg() -> fields.String:
    return fields.String(validate=Length(min=1, max=20), metadata={
        "description": "The device's IMEI."})


def _version() -> fields.Integer:
    return fields.Integer(strict=True, metadata={
        "description": "The version you saw (or If-Match): a stale one is a 409."})


class GpsSeriesArgs(Schema):
    """Paging of the time series (up to 5,000 rows a page) and the device or vehicle."""

    page = fields.Integer(load_default=1, validate=Range(min=1, max=1_000_000))
    per_page = fields.Integer(load_default=500, validate=Range(min=1, max=MAX_SERIES_PAGE))
    device = _imei_arg()
    vehicle = _qid(metadata={"description": "A vehicle id (its trackers' data)."})


# --- devices ---------------------------------------------------------------------------------

class GpsDeviceSchema(Schema):
    id = fields.Integer(dump_only=True)
    imei = fields.String(dump_only=True)
    status = fields.String(dump_only=True, metadata={"description": "pending, active, disabled"})
    allowed = fields.List(fields.String(), dump_only=True, metadata={
        "description": "The actions possible from this status (assign, disable, enable)."})
    vehicle_id = fields.Integer(dump_only=True, allow_none=True)
    plate = fields.String(dump_only=True, allow_none=True)
    customer_id = fields.Integer(dump_only=True, allow_none=True)
    branch_id = fields.Integer(dump_only=True, allow_none=True)
    label = fields.String(dump_only=True)
    model = fields.String(dump_only=True)
    sim = fields.String(dump_only=True, metadata={"description": "The SIM's phone number."})
    has_password = fields.Boolean(dump_only=True, metadata={
        "description": "Whether a device password is set (never answered itself)."})
    protocol = fields.String(dump_only=True)
    speed_limit_kmh = fields.Float(dump_only=True, allow_none=True)
    tz_offset_min = fields.Integer(dump_only=True)
    notes = fields.String(dump_only=True)
    first_seen = fields.DateTime(dump_only=True, allow_none=True)
    last_seen = fields.DateTime(dump_only=True, allow_none=True)
    last_peer = fields.String(dump_only=True)
    login_attempts = fields.Integer(dump_only=True)
    created_at = fields.DateTime(dump_only=True, allow_none=True)
    version = fields.Integer(dump_only=True)


GpsDevicePage = page_schema(GpsDeviceSchema, "GpsDevicePage")


class _DeviceDetails(Schema):
    label = fields.String(validate=Length(max=80))
    model = fields.String(validate=Length(max=40))
    sim = fields.String(validate=Length(max=32), metadata={"description": "The SIM's number."})
    password = fields.String(validate=Length(max=32), metadata={
        "description": "The device password older units need for DYD/HFYD commands."})
    protocol = fields.String(validate=OneOf(DEVICE_PROTOCOLS))
    speed_limit_kmh = fields.Float(allow_none=True, allow_nan=False, metadata={
        "description": "This vehicle's own overspeed limit (5–300); empty: the group's."})
    notes = fields.String(validate=Length(max=2000))


class GpsDeviceCreateSchema(_DeviceDetails):
    imei = fields.String(required=True, validate=Length(max=40), metadata={
        "description": "15 digits with a valid check digit (spaces allowed)."})
    vehicle_id = _bid(required=True, metadata={"description": "A vehicle you may see."})


class GpsDeviceUpdateSchema(_DeviceDetails):
    vehicle_id = _bid(metadata={"description": "Move the tracker to another vehicle."})
    version = _version()


class GpsDeviceAssignSchema(_DeviceDetails):
    vehicle_id = _bid(required=True)
    version = _version()


class GpsVersionSchema(Schema):
    version = _version()


class GpsDeviceListArgs(ListArgs):
    status = fields.String(validate=OneOf(STATUS_CHOICES), metadata={
        "description": "registered (default: all but pending), active, disabled, pending, all"})
    q = fields.String(validate=Length(max=40), metadata={"description": "IMEI, plate or label."})
    sort = fields.String(validate=OneOf(DEVICES.sort_values))


# --- positions, trips, stops, mileage --------------------------------------------------------

class GpsPeriodArgs(GpsSeriesArgs):
    from_ = fields.DateTime(data_key="from", metadata={
        "description": "ISO 8601 instant (naive: UTC). Default: 24 hours before `to`."})
    to = fields.DateTime(metadata={"description": "ISO 8601 instant. Default: now."})


class GpsPositionListArgs(GpsPeriodArgs):
    sort = fields.String(validate=OneOf(POSITIONS.sort_values))


class GpsPositionSchema(Schema):
    id = fields.Integer(dump_only=True)
    device = fields.String(dump_only=True, metadata={"description": "The IMEI."})
    fix_time = fields.DateTime(dump_only=True)
    received_at = fields.DateTime(dump_only=True)
    latitude = fields.Float(dump_only=True)
    longitude = fields.Float(dump_only=True)
    speed_kmh = fields.Float(dump_only=True)
    course = fields.Integer(dump_only=True)
    valid = fields.Boolean(dump_only=True)
    satellites = fields.Integer(dump_only=True, allow_none=True)
    ignition = fields.Boolean(dump_only=True, allow_none=True)
    reupload = fields.Boolean(dump_only=True)
    distance_m = fields.Float(dump_only=True, metadata={
        "description": "From the previous accepted fix; 0 when filtered as noise."})
    odometer_m = fields.Integer(dump_only=True, allow_none=True)
    fuel_l = fields.Float(dump_only=True, allow_none=True)


GpsPositionPage = page_schema(GpsPositionSchema, "GpsPositionPage")


class GpsTripListArgs(GpsPeriodArgs):
    sort = fields.String(validate=OneOf(TRIPS.sort_values))


class GpsTripSchema(Schema):
    id = fields.Integer(dump_only=True)
    device = fields.String(dump_only=True)
    vehicle_id = fields.Integer(dump_only=True, allow_none=True)
    start_time = fields.DateTime(dump_only=True)
    end_time = fields.DateTime(dump_only=True)
    start_lat = fields.Float(dump_only=True)
    start_lon = fields.Float(dump_only=True)
    end_lat = fields.Float(dump_only=True)
    end_lon = fields.Float(dump_only=True)
    distance_m = fields.Float(dump_only=True)
    duration_s = fields.Integer(dump_only=True)
    avg_speed_kmh = fields.Float(dump_only=True)
    max_speed_kmh = fields.Float(dump_only=True)
    fuel_l = fields.Float(dump_only=True, allow_none=True)


GpsTripPage = page_schema(GpsTripSchema, "GpsTripPage")


class GpsStopListArgs(GpsPeriodArgs):
    sort = fields.String(validate=OneOf(STOPS.sort_values))


class GpsStopSchema(Schema):
    id = fields.Integer(dump_only=True)
    device = fields.String(dump_only=True)
    vehicle_id = fields.Integer(dump_only=True, allow_none=True)
    start_time = fields.DateTime(dump_only=True)
    end_time = fields.DateTime(dump_only=True)
    latitude = fields.Float(dump_only=True)
    longitude = fields.Float(dump_only=True)
    duration_s = fields.Integer(dump_only=True)
    ignition = fields.Boolean(dump_only=True, allow_none=True)


GpsStopPage = page_schema(GpsStopSchema, "GpsStopPage")


class GpsMileageArgs(GpsSeriesArgs):
    from_ = fields.Date(data_key="from", metadata={
        "description": "First day (business time zone). Default: the 1st of this month."})
    to = fields.Date(metadata={"description": "Last day. Default: today."})
    period = fields.String(load_default="day", validate=OneOf(("day", "week", "month")))


class GpsMileageSchema(Schema):
    device = fields.String(dump_only=True)
    vehicle_id = fields.Integer(dump_only=True, allow_none=True)
    plate = fields.String(dump_only=True, allow_none=True)
    period = fields.String(dump_only=True, metadata={
        "description": "2026-12-02 (day), 2026-W49 (ISO week) or 2026-12 (month)."})
    start = fields.Date(dump_only=True, metadata={"description": "The period's first day."})
    days = fields.Integer(dump_only=True, metadata={"description": "Days with data."})
    distance_m = fields.Float(dump_only=True)
    distance_km = fields.Float(dump_only=True)
    engine_seconds = fields.Integer(dump_only=True)
    engine_hours = fields.Float(dump_only=True)
    fuel_l = fields.Float(dump_only=True, allow_none=True)
    max_speed_kmh = fields.Float(dump_only=True)
    positions = fields.Integer(dump_only=True)


GpsMileagePage = page_schema(GpsMileageSchema, "GpsMileagePage")


# --- live ------------------------------------------------------------------------------------

class GpsLiveArgs(Schema):
    since = fields.DateTime(metadata={
        "description": "The `since` of the previous answer: only devices changed after it."})


class GpsLiveAlarmSchema(Schema):
    id = fields.Integer(dump_only=True)
    type = fields.String(dump_only=True)
    fix_time = fields.DateTime(dump_only=True)


class GpsLiveItemSchema(Schema):
    device = fields.String(dump_only=True, metadata={"description": "The IMEI."})
    device_id = fields.Integer(dump_only=True)
    label = fields.String(dump_only=True)
    vehicle_id = fields.Integer(dump_only=True, allow_none=True)
    plate = fields.String(dump_only=True, allow_none=True)
    customer_id = fields.Integer(dump_only=True, allow_none=True)
    customer_name = fields.String(dump_only=True, allow_none=True, metadata={
        "description": "The owner's name, or a mask for a customer of another branch."})
    status = fields.String(dump_only=True, metadata={
        "description": "moving, stopped, offline or alarm"})
    fix_time = fields.DateTime(dump_only=True, allow_none=True)
    latitude = fields.Float(dump_only=True, allow_none=True)
    longitude = fields.Float(dump_only=True, allow_none=True)
    speed_kmh = fields.Float(dump_only=True, allow_none=True)
    course = fields.Integer(dump_only=True, allow_none=True)
    valid = fields.Boolean(dump_only=True, allow_none=True)
    ignition = fields.Boolean(dump_only=True, allow_none=True)
    online = fields.Boolean(dump_only=True)
    last_seen = fields.DateTime(dump_only=True, allow_none=True)
    cut_off = fields.Boolean(dump_only=True, allow_none=True)
    alarm_open = fields.Integer(dump_only=True, metadata={"description": "Open alarms."})
    alarms = fields.List(fields.Nested(GpsLiveAlarmSchema), dump_only=True)


class GpsLiveSchema(Schema):
    items = fields.List(fields.Nested(GpsLiveItemSchema))
    total = fields.Integer()
    since = fields.DateTime(allow_none=True, metadata={
        "description": "Send it back as `?since=` to get only what changed after."})
    now = fields.DateTime()
    removed = fields.List(fields.Integer(), metadata={
        "description": "With `?since=`: ids of the devices that left the map after it "
                       "(disabled, or moved out of your branches); drop their markers."})


# --- alarms ----------------------------------------------------------------------------------

class GpsAlarmListArgs(GpsPeriodArgs):
    per_page = fields.Integer(load_default=50, validate=Range(min=1, max=500))
    status = fields.String(validate=OneOf(ALARM_STATUSES))
    type = fields.String(validate=Length(max=32), metadata={
        "description": "sos, power_cut, vibration, low_battery, geofence_enter, "
                       "geofence_exit, overspeed, idle, fatigue, ignition_outside_hours, "
                       "offline (or other:<hex> for an alarm the plugin does not name)"})
    sort = fields.String(validate=OneOf(ALARMS.sort_values))


class GpsAlarmSchema(Schema):
    id = fields.Integer(dump_only=True)
    device = fields.String(dump_only=True)
    device_id = fields.Integer(dump_only=True)
    vehicle_id = fields.Integer(dump_only=True, allow_none=True)
    plate = fields.String(dump_only=True, allow_none=True)
    branch_id = fields.Integer(dump_only=True, allow_none=True)
    type = fields.String(dump_only=True)
    fix_time = fields.DateTime(dump_only=True)
    received_at = fields.DateTime(dump_only=True, allow_none=True)
    latitude = fields.Float(dump_only=True, allow_none=True)
    longitude = fields.Float(dump_only=True, allow_none=True)
    details = fields.Dict(dump_only=True, metadata={
        "description": "What the rule knew (fence, speed and limit, minutes …). overspeed: "
                       "limit_kmh, speed_kmh (when raised), started_at, duration_s and "
                       "max_speed_kmh (so far while the episode runs, final once it ended) "
                       "and, once ended, ended_at (ISO UTC) and ended_by (speed, limit or "
                       "gap)."})
    status = fields.String(dump_only=True, metadata={"description": "open, acknowledged"})
    acknowledged_by = fields.Integer(dump_only=True, allow_none=True)
    acknowledged_at = fields.DateTime(dump_only=True, allow_none=True)
    note = fields.String(dump_only=True)
    version = fields.Integer(dump_only=True)


GpsAlarmPage = page_schema(GpsAlarmSchema, "GpsAlarmPage")


class GpsAlarmAckSchema(Schema):
    note = fields.String(load_default="", validate=Length(max=2000))
    version = _version()


# --- geofences and groups --------------------------------------------------------------------

class GpsScheduleSchema(Schema):
    """When a fence is active (or a group's ignition is allowed)."""

    days = fields.List(fields.Integer(), metadata={"description": "1 = Monday … 7 = Sunday"})
    from_ = fields.String(data_key="from", allow_none=True, metadata={"description": "HH:MM"})
    to = fields.String(allow_none=True, metadata={"description": "HH:MM"})


class GpsGeofenceSchema(Schema):
    id = fields.Integer(dump_only=True)
    name = fields.String(dump_only=True)
    kind = fields.String(dump_only=True)
    geometry = fields.Dict(dump_only=True, metadata={"description": "GeoJSON (lon, lat)."})
    radius_m = fields.Float(dump_only=True, allow_none=True)
    half_width_m = fields.Float(dump_only=True, allow_none=True)
    schedule = fields.Nested(GpsScheduleSchema, dump_only=True, allow_none=True)
    speed_limit_kmh = fields.Float(dump_only=True, allow_none=True)
    active = fields.Boolean(dump_only=True)
    notes = fields.String(dump_only=True)
    branch_id = fields.Integer(dump_only=True)
    vehicle_ids = fields.List(fields.Integer(), dump_only=True)
    group_ids = fields.List(fields.Integer(), dump_only=True)
    version = fields.Integer(dump_only=True)


GpsGeofencePage = page_schema(GpsGeofenceSchema, "GpsGeofencePage")


class GpsGeofenceInSchema(Schema):
    name = fields.String(required=True, validate=Length(max=80))
    kind = fields.String(required=True, validate=OneOf(GEOFENCE_KINDS))
    geometry = fields.Raw(required=True, metadata={
        "description": "GeoJSON: a Point (circle), a closed Polygon or a LineString "
                       "(corridor), longitude first."})
    radius_m = fields.Float(allow_none=True, allow_nan=False, metadata={
        "description": "A circle's radius (10–100,000 m)."})
    half_width_m = fields.Float(allow_none=True, allow_nan=False, metadata={
        "description": "A corridor's half-width (5–10,000 m)."})
    schedule = fields.Dict(allow_none=True, metadata={
        "description": "{days: [1..7], from: HH:MM, to: HH:MM}; empty: always."})
    speed_limit_kmh = fields.Float(allow_none=True, allow_nan=False)
    active = fields.Boolean()
    notes = fields.String(validate=Length(max=2000))
    branch_id = _bid(allow_none=True, metadata={"description": "Default: your branch."})
    vehicle_ids = fields.List(_bid())
    group_ids = fields.List(_bid())
    version = _version()


class GpsGeofenceListArgs(ListArgs):
    kind = fields.String(validate=OneOf(GEOFENCE_KINDS))
    active = _yes_no()
    vehicle = _qid()
    q = fields.String(validate=Length(max=80))
    sort = fields.String(validate=OneOf(GEOFENCES.sort_values))


class GpsGroupSchema(Schema):
    id = fields.Integer(dump_only=True)
    name = fields.String(dump_only=True)
    overspeed_kmh = fields.Float(dump_only=True, allow_none=True)
    overspeed_min_seconds = fields.Integer(dump_only=True)
    idle_minutes = fields.Integer(dump_only=True, allow_none=True)
    fatigue_hours = fields.Float(dump_only=True, allow_none=True)
    fatigue_break_minutes = fields.Integer(dump_only=True)
    allowed_hours = fields.Nested(GpsScheduleSchema, dump_only=True, allow_none=True)
    offline_minutes = fields.Integer(dump_only=True, allow_none=True)
    active = fields.Boolean(dump_only=True)
    notes = fields.String(dump_only=True)
    branch_id = fields.Integer(dump_only=True)
    vehicle_ids = fields.List(fields.Integer(), dump_only=True)
    version = fields.Integer(dump_only=True)


GpsGroupPage = page_schema(GpsGroupSchema, "GpsGroupPage")


class GpsGroupInSchema(Schema):
    name = fields.String(required=True, validate=Length(max=80))
    overspeed_kmh = fields.Float(allow_none=True, allow_nan=False)
    overspeed_min_seconds = fields.Integer(allow_none=True, strict=True)
    idle_minutes = fields.Integer(allow_none=True, strict=True)
    fatigue_hours = fields.Float(allow_none=True, allow_nan=False)
    fatigue_break_minutes = fields.Integer(allow_none=True, strict=True)
    allowed_hours = fields.Dict(allow_none=True, metadata={
        "description": "When ignition is allowed: {days: [1..7], from: HH:MM, to: HH:MM}."})
    offline_minutes = fields.Integer(allow_none=True, strict=True)
    active = fields.Boolean()
    notes = fields.String(validate=Length(max=2000))
    branch_id = _bid(allow_none=True)
    vehicle_ids = fields.List(_bid())
    version = _version()


class GpsGroupListArgs(ListArgs):
    active = _yes_no()
    vehicle = _qid()
    q = fields.String(validate=Length(max=80))
    sort = fields.String(validate=OneOf(GROUPS.sort_values))


# --- commands --------------------------------------------------------------------------------

class GpsCommandSchema(Schema):
    id = fields.Integer(dump_only=True)
    device = fields.String(dump_only=True)
    device_id = fields.Integer(dump_only=True)
    kind = fields.String(dump_only=True, metadata={"description": ", ".join(COMMAND_KINDS)})
    text = fields.String(dump_only=True, metadata={
        "description": "What goes to the device (a device password shows as ******)."})
    status = fields.String(dump_only=True, metadata={"description": ", ".join(
        COMMAND_STATUSES)})
    allowed = fields.List(fields.String(), dump_only=True)
    requested_by = fields.Integer(dump_only=True, allow_none=True)
    requested_at = fields.DateTime(dump_only=True)
    sent_at = fields.DateTime(dump_only=True, allow_none=True)
    reply = fields.String(dump_only=True)
    replied_at = fields.DateTime(dump_only=True, allow_none=True)
    version = fields.Integer(dump_only=True)


GpsCommandPage = page_schema(GpsCommandSchema, "GpsCommandPage")


class GpsCommandInSchema(Schema):
    device = fields.String(required=True, validate=Length(min=1, max=20), metadata={
        "description": "The device's IMEI."})
    kind = fields.String(required=True, validate=OneOf(COMMAND_KINDS))
    confirm = fields.String(required=True, validate=Length(max=40), metadata={
        "description": "The vehicle's plate (or the IMEI) typed again."})
    text = fields.String(load_default="", validate=Length(max=200), metadata={
        "description": "The text of a custom command."})


class GpsCommandListArgs(ListArgs):
    device = _imei_arg()
    status = fields.String(validate=OneOf(COMMAND_STATUSES))
    kind = fields.String(validate=OneOf(COMMAND_KINDS))
    sort = fields.String(validate=OneOf(COMMANDS.sort_values))
