"""The GPS API's lists, each declared once (``carebiz.lists``): positions, trips, stops,
daily mileage, alarms, geofences, groups and commands. The devices list is
:mod:`.device_list` (its page came first).

Every list's model carries the row filter that limits it: the branch rule on the
branch-owned records (alarms, fences, groups, commands) and the plugin's device rule on the
ingest tables (positions, trips, stops, mileage). So a list answers the same rows whether
a route, an export or a test reads it.

Time filters (``from``/``to``) are ISO 8601 instants the route has already checked and
normalised to UTC (``carebiz_plugins.gps.api.period``); here they only become conditions.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from carebiz.export.table import DATETIME, NUMBER, Column
from carebiz.lists import BOOL, CHOICE, ID, ExportSpec, Filter, ListDefinition, Search, Searched

from .models import (
    ALARM_STATUSES,
    COMMAND_KINDS,
    COMMAND_STATUSES,
    GEOFENCE_KINDS,
    GpsAlarm,
    GpsCommand,
    GpsDevice,
    GpsGeofence,
    GpsGroup,
    GpsGroupVehicle,
    GpsMileageDaily,
    GpsPosition,
    GpsStop,
    GpsTrip,
)


def instant(value: Any) -> dt.datetime:
    """An ISO 8601 instant as an aware UTC datetime (naive values are UTC)."""
    when = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))
    return (when if when.tzinfo else when.replace(tzinfo=dt.UTC)).astimezone(dt.UTC)


def _by_imei(column: Any) -> Any:
    def apply(stmt: Select[Any], value: str, user: Any) -> Select[Any]:
        return stmt.where(column.in_(select(GpsDevice.id).where(GpsDevice.imei == value)))
    return apply


def _eq(column: Any) -> Any:
    return lambda stmt, value, user: stmt.where(column == value)


def _since(column: Any) -> Any:
    return lambda stmt, value, user: stmt.where(column >= instant(value))


def _until(column: Any) -> Any:
    return lambda stmt, value, user: stmt.where(column <= instant(value))


def _day_from(column: Any) -> Any:
    return lambda stmt, value, user: stmt.where(column >= dt.date.fromisoformat(str(value)))


def _day_to(column: Any) -> Any:
    return lambda stmt, value, user: stmt.where(column <= dt.date.fromisoformat(str(value)))


def _device_filters(device_column: Any, vehicle_column: Any, time_column: Any
                    ) -> tuple[Filter, ...]:
    """``device`` (IMEI), ``vehicle`` (id; positions carry no vehicle and go through their
    device), ``from`` and ``to``."""
    vehicle = (_eq(vehicle_column) if vehicle_column is not None else
               lambda stmt, value, user: stmt.where(device_column.in_(
                   select(GpsDevice.id).where(GpsDevice.vehicle_id == value))))
    return (Filter("device", _l("Device (IMEI)"), max_length=20,
                   apply=_by_imei(device_column)),
            Filter("vehicle", _l("Vehicle"), type=ID, apply=vehicle),
            Filter("from", _l("From"), max_length=40, apply=_since(time_column)),
            Filter("to", _l("To"), max_length=40, apply=_until(time_column)))


def _no_rows(session: Session, user: Any, stmt: Select[Any]) -> Iterator[dict[str, Any]]:
    """The API lists are not registered as exports (a month of positions is no file to
    mail around); their export spec only satisfies the definition."""
    for row in session.scalars(stmt.execution_options(yield_per=1000)):
        yield {"id": row.id}


def _id_column(user: Any) -> list[Column]:
    return [Column("id", _l("Id"), NUMBER)]


def _spec(title: Any) -> ExportSpec:
    return ExportSpec(title, _id_column, _no_rows)


POSITIONS = ListDefinition(
    name="gps.positions", label=_l("Positions"), model=GpsPosition, key=GpsPosition.id,
    permission="gps.view",
    filters=_device_filters(GpsPosition.device_id, None, GpsPosition.fix_time),
    sorts={"fix_time": GpsPosition.fix_time}, default_sort="fix_time",
    export=_spec(_l("Positions")),
)

TRIPS = ListDefinition(
    name="gps.trips", label=_l("Trips"), model=GpsTrip, key=GpsTrip.id, permission="gps.view",
    filters=_device_filters(GpsTrip.device_id, GpsTrip.vehicle_id, GpsTrip.start_time),
    sorts={"start_time": GpsTrip.start_time, "distance_m": GpsTrip.distance_m,
           "duration_s": GpsTrip.duration_s}, default_sort="start_time",
    export=_spec(_l("Trips")),
)

STOPS = ListDefinition(
    name="gps.stops", label=_l("Stops"), model=GpsStop, key=GpsStop.id, permission="gps.view",
    filters=_device_filters(GpsStop.device_id, GpsStop.vehicle_id, GpsStop.start_time),
    sorts={"start_time": GpsStop.start_time, "duration_s": GpsStop.duration_s},
    default_sort="start_time", export=_spec(_l("Stops")),
)

MILEAGE = ListDefinition(
    name="gps.mileage", label=_l("Daily mileage"), model=GpsMileageDaily,
    key=GpsMileageDaily.device_id, permission="gps.view",
    filters=(Filter("device", _l("Device (IMEI)"), max_length=20,
                    apply=_by_imei(GpsMileageDaily.device_id)),
             Filter("vehicle", _l("Vehicle"), type=ID, apply=_eq(GpsMileageDaily.vehicle_id)),
             Filter("from", _l("From"), max_length=10, apply=_day_from(GpsMileageDaily.day)),
             Filter("to", _l("To"), max_length=10, apply=_day_to(GpsMileageDaily.day))),
    sorts={"day": GpsMileageDaily.day}, default_sort="day",
    export=ExportSpec(_l("Daily mileage"), lambda user: [Column("day", _l("Day"))],
                      lambda session, user, stmt: (
                          {"day": r.day} for r in session.scalars(stmt))),
)

ALARMS = ListDefinition(
    name="gps.alarms", label=_l("Alarms"), model=GpsAlarm, key=GpsAlarm.id,
    permission="gps.view",
    filters=(*_device_filters(GpsAlarm.device_id, GpsAlarm.vehicle_id, GpsAlarm.fix_time),
             Filter("status", _l("Status"), type=CHOICE, choices=ALARM_STATUSES,
                    apply=_eq(GpsAlarm.status)),
             Filter("type", _l("Type"), max_length=32, apply=_eq(GpsAlarm.type))),
    sorts={"fix_time": GpsAlarm.fix_time}, default_sort="-fix_time",
    export=ExportSpec(_l("Alarms"), lambda user: [
        Column("id", _l("Id"), NUMBER), Column("type", _l("Type")),
        Column("fix_time", _l("Time"), DATETIME), Column("status", _l("Status"))],
        lambda session, user, stmt: ({"id": a.id, "type": a.type, "fix_time": a.fix_time,
                                      "status": a.status} for a in session.scalars(stmt))),
)


def _name_search(column: Any) -> Search:
    def apply(session: Session, user: Any, stmt: Select[Any], q: str) -> Searched:
        return Searched(stmt.where(column.icontains(q, autoescape=True)))
    return Search(apply, label=_l("Name"), max_length=80)


def _fences_of_vehicle(vehicle_id: int) -> Any:
    """Fences watching the vehicle: assigned to it, or to a group it is in."""
    from .models import GpsGeofenceGroup, GpsGeofenceVehicle

    direct = select(GpsGeofenceVehicle.geofence_id).where(
        GpsGeofenceVehicle.vehicle_id == vehicle_id)
    grouped = select(GpsGeofenceGroup.geofence_id).join(
        GpsGroupVehicle, GpsGroupVehicle.group_id == GpsGeofenceGroup.group_id).where(
        GpsGroupVehicle.vehicle_id == vehicle_id)
    return GpsGeofence.id.in_(direct.union(grouped))


GEOFENCES = ListDefinition(
    name="gps.geofences", label=_l("Geofences"), model=GpsGeofence, key=GpsGeofence.id,
    permission="gps.view",
    filters=(Filter("kind", _l("Shape"), type=CHOICE, choices=GEOFENCE_KINDS,
                    apply=_eq(GpsGeofence.kind)),
             Filter("active", _l("Active"), type=BOOL, apply=_eq(GpsGeofence.active)),
             Filter("vehicle", _l("Vehicle"), type=ID,
                    apply=lambda stmt, value, user: stmt.where(_fences_of_vehicle(value)))),
    search=_name_search(GpsGeofence.name),
    sorts={"name": GpsGeofence.name, "id": GpsGeofence.id}, default_sort="name",
    export=_spec(_l("Geofences")),
)

GROUPS = ListDefinition(
    name="gps.groups", label=_l("Groups"), model=GpsGroup, key=GpsGroup.id,
    permission="gps.view",
    filters=(Filter("active", _l("Active"), type=BOOL, apply=_eq(GpsGroup.active)),
             Filter("vehicle", _l("Vehicle"), type=ID,
                    apply=lambda stmt, value, user: stmt.where(GpsGroup.id.in_(
                        select(GpsGroupVehicle.group_id).where(
                            GpsGroupVehicle.vehicle_id == value))))),
    search=_name_search(GpsGroup.name),
    sorts={"name": GpsGroup.name, "id": GpsGroup.id}, default_sort="name",
    export=_spec(_l("Groups")),
)

COMMANDS = ListDefinition(
    name="gps.commands", label=_l("Commands"), model=GpsCommand, key=GpsCommand.id,
    permission="gps.commands",
    filters=(Filter("device", _l("Device (IMEI)"), max_length=20,
                    apply=_by_imei(GpsCommand.device_id)),
             Filter("status", _l("Status"), type=CHOICE, choices=COMMAND_STATUSES,
                    apply=_eq(GpsCommand.status)),
             Filter("kind", _l("Command"), type=CHOICE, choices=COMMAND_KINDS,
                    apply=_eq(GpsCommand.kind))),
    sorts={"requested_at": GpsCommand.requested_at}, default_sort="-requested_at",
    export=_spec(_l("Commands")),
)
