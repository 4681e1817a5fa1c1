"""Query sources (``gps_trips``, ``gps_stops``, ``gps_mileage``, ``gps_alarms``) and the
managers' reports over them, registered with the core query service, which applies the
plugin's row filters (a user sees the data of their branches' devices) and ``gps.view``.

WHY these tables and never positions: the ingest keeps trips, stops and daily mileage
small and indexed, so a fleet's month reads thousands of rows, not millions; a report over
positions would scan the biggest table of the installation for every chart.

Each source offers the vehicle's plate (joined from the core vehicle, under its own row
filter) so a report groups by something people recognise.

``gps_alarms`` reads the overspeed figures out of the alarm's JSON details (``duration_s``,
``max_speed_kmh``, ``ended_at``): the ingest writes an episode's final figures there when it
ends, so an alarm still open on the road shows its figures so far and no ``ended_at``. An
alarm of another type has none of them (empty).
"""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l

from carebiz.contributions import BRANCH_RELATION, QueryField, QuerySource, Report, ReportParam
from carebiz.crm.models import Vehicle

from .fixes import ALARM_TYPES
from .models import GpsAlarm, GpsMileageDaily, GpsStop, GpsTrip

_TYPE_WORDS = {
    "sos": _l("SOS"), "power_cut": _l("Power cut"), "vibration": _l("Vibration"),
    "low_battery": _l("Low battery"), "geofence_enter": _l("Entered a geofence"),
    "geofence_exit": _l("Left a geofence"), "overspeed": _l("Overspeed"),
    "idle": _l("Idling"), "fatigue": _l("Fatigue driving"),
    "ignition_outside_hours": _l("Ignition outside hours"), "offline": _l("Device offline"),
}
#: every type the API names, in its order (a new type without a label fails at import)
ALARM_TYPE_LABELS = tuple((kind, _TYPE_WORDS[kind]) for kind in ALARM_TYPES)
ALARM_STATUS_LABELS = (("open", _l("Open")), ("acknowledged", _l("Acknowledged")))


def _detail(name: str, as_number: bool = True) -> Any:
    """An overspeed figure of the alarm's JSON details, as SQL (``JSON_EXTRACT`` on SQLite,
    ``->>`` on PostgreSQL)."""
    value = GpsAlarm.details[name]
    return value.as_float() if as_number else value.as_string()


def _plate(model: type) -> QueryField:
    plate: Any = Vehicle.plate
    return QueryField("plate", _l("Plate"), "text", column=plate,
                      join=(Vehicle, Vehicle.id == model.vehicle_id))  # type: ignore[attr-defined]


SOURCES = [
    QuerySource("gps_trips", _l("GPS trips"), GpsTrip, (
        QueryField("id", _l("Number"), "number"),
        QueryField("vehicle_id", _l("Vehicle"), "number"),
        _plate(GpsTrip),
        QueryField("start_time", _l("Start"), "datetime"),
        QueryField("end_time", _l("End"), "datetime"),
        QueryField("distance_km", _l("Distance (km)"), "number",
                   column=GpsTrip.distance_m / 1000.0),
        QueryField("duration_min", _l("Duration (min)"), "number",
                   column=GpsTrip.duration_s / 60.0),
        QueryField("avg_speed_kmh", _l("Average speed (km/h)"), "number"),
        QueryField("max_speed_kmh", _l("Top speed (km/h)"), "number"),
        QueryField("fuel_l", _l("Fuel (l)"), "number"),
    ), permission="gps.view", weight=600),
    QuerySource("gps_stops", _l("GPS stops"), GpsStop, (
        QueryField("id", _l("Number"), "number"),
        QueryField("vehicle_id", _l("Vehicle"), "number"),
        _plate(GpsStop),
        QueryField("start_time", _l("Start"), "datetime"),
        QueryField("end_time", _l("End"), "datetime"),
        QueryField("duration_min", _l("Duration (min)"), "number",
                   column=GpsStop.duration_s / 60.0),
        QueryField("latitude", _l("Latitude"), "number"),
        QueryField("longitude", _l("Longitude"), "number"),
        QueryField("ignition", _l("Ignition on"), "bool"),
    ), permission="gps.view", weight=601),
    QuerySource("gps_mileage", _l("GPS daily mileage"), GpsMileageDaily, (
        QueryField("day", _l("Day"), "date"),
        QueryField("vehicle_id", _l("Vehicle"), "number"),
        _plate(GpsMileageDaily),
        QueryField("distance_km", _l("Distance (km)"), "number",
                   column=GpsMileageDaily.distance_m / 1000.0),
        QueryField("engine_hours", _l("Engine hours"), "number",
                   column=GpsMileageDaily.engine_seconds / 3600.0),
        QueryField("fuel_l", _l("Fuel (l)"), "number"),
        QueryField("max_speed_kmh", _l("Top speed (km/h)"), "number"),
        QueryField("positions", _l("Positions"), "number"),
    ), permission="gps.view", weight=602),
    QuerySource("gps_alarms", _l("GPS alarms"), GpsAlarm, (
        QueryField("id", _l("Number"), "number"),
        QueryField("type", _l("Type"), "choice", choices=ALARM_TYPE_LABELS),
        QueryField("status", _l("Status"), "choice", choices=ALARM_STATUS_LABELS),
        QueryField("fix_time", _l("Time"), "datetime"),
        QueryField("acknowledged_at", _l("Acknowledged"), "datetime"),
        QueryField("vehicle_id", _l("Vehicle"), "number"),
        _plate(GpsAlarm),
        QueryField("branch_id", _l("Branch"), "number", ("eq", "ne", "in"),
                   relation=BRANCH_RELATION),
        QueryField("duration_s", _l("Overspeed duration (s)"), "number",
                   column=_detail("duration_s")),
        QueryField("duration_min", _l("Overspeed duration (min)"), "number",
                   column=_detail("duration_s") / 60.0),
        QueryField("max_speed_kmh", _l("Top speed (km/h)"), "number",
                   column=_detail("max_speed_kmh")),
        QueryField("limit_kmh", _l("Speed limit (km/h)"), "number",
                   column=_detail("limit_kmh")),
        # an ISO UTC time in JSON: only "still running" (empty) or "ended" is asked of it
        QueryField("ended_at", _l("Overspeed ended"), "text", ("empty", "not_empty"),
                   column=_detail("ended_at", as_number=False)),
    ), permission="gps.view", weight=603),
]

REPORTS = [
    Report("gps.mileage_this_month", _l("Mileage per vehicle this month"), "gps_mileage",
           _l("GPS kilometres and engine hours of each vehicle since the 1st of the month."),
           where={"field": "day", "op": "this_month"}, group_by=["plate"],
           measures=[{"fn": "sum", "field": "distance_km"},
                     {"fn": "sum", "field": "engine_hours"}], chart="bar", weight=600),
    Report("gps.mileage_by_day", _l("Fleet mileage by day"), "gps_mileage",
           _l("Kilometres the whole fleet drove per day."),
           params=(ReportParam("days", _l("Days back"), "number", 30),),
           where={"field": "day", "op": "last_days", "value": {"param": "days"}},
           group_by=[{"field": "day", "by": "day"}],
           measures=[{"fn": "sum", "field": "distance_km"}], chart="line", weight=601),
    Report("gps.alarms_by_type", _l("Alarms by type"), "gps_alarms",
           _l("Alarms raised in the chosen days, by type and whether someone acknowledged "
              "them."),
           params=(ReportParam("days", _l("Days back"), "number", 30),),
           where={"field": "fix_time", "op": "last_days", "value": {"param": "days"}},
           group_by=["type", "status"], chart="stacked", weight=602),
    Report("gps.overspeed_episodes", _l("Overspeed episodes per vehicle"), "gps_alarms",
           _l("Overspeed episodes of each vehicle in the chosen days: how many, their total "
              "and longest duration and the top speed reached (an episode still running "
              "counts with its figures so far)."),
           params=(ReportParam("days", _l("Days back"), "number", 30),),
           where={"and": [{"field": "type", "op": "eq", "value": "overspeed"},
                          {"field": "fix_time", "op": "last_days",
                           "value": {"param": "days"}}]},
           group_by=["plate"],
           measures=[{"fn": "count", "field": "id"}, {"fn": "sum", "field": "duration_min"},
                     {"fn": "max", "field": "duration_min"},
                     {"fn": "max", "field": "max_speed_kmh"}], chart="bar", weight=603),
    Report("gps.engine_hours_this_month", _l("Engine hours per vehicle this month"),
           "gps_mileage", _l("Hours with the ignition on since the 1st of the month."),
           where={"field": "day", "op": "this_month"}, group_by=["plate"],
           measures=[{"fn": "sum", "field": "engine_hours"}], chart="bar", weight=604),
    Report("gps.trips_by_vehicle", _l("Trips per vehicle"), "gps_trips",
           _l("Trips, their distance and top speed per vehicle in the chosen days."),
           params=(ReportParam("days", _l("Days back"), "number", 7),),
           where={"field": "start_time", "op": "last_days", "value": {"param": "days"}},
           group_by=["plate"],
           measures=[{"fn": "count", "field": "id"}, {"fn": "sum", "field": "distance_km"},
                     {"fn": "max", "field": "max_speed_kmh"}], chart="bar", weight=605),
    Report("gps.stops_by_vehicle", _l("Stop time per vehicle"), "gps_stops",
           _l("How long each vehicle stood still in the chosen days."),
           params=(ReportParam("days", _l("Days back"), "number", 7),),
           where={"field": "start_time", "op": "last_days", "value": {"param": "days"}},
           group_by=["plate"],
           measures=[{"fn": "count", "field": "id"}, {"fn": "sum", "field": "duration_min"}],
           chart="bar", weight=606),
]
