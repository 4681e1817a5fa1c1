"""The "GPS" panels of the customer's 360° page and of the vehicle page: the trackers on the
customer's (or this) vehicle, the last position with a link to the live map, open alarms
and the distance driven this month, as the reader may see them.

Read with the ``session`` and the ``user`` given (the 360° overview is also built by the API
and the call-centre lookup, outside requests)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from functools import cache
from typing import Any

from flask import render_template
from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, bindparam, exists, func, select
from sqlalchemy.orm import lazyload

from carebiz.contributions import Panel
from carebiz.crm.models import Vehicle
from carebiz.security import can, visible
from carebiz.security.rows import prepared
from carebiz.toolkit import today

from .models import GpsAlarm, GpsDevice, GpsDeviceState, GpsMileageDaily, GpsSubscription


def _devices(column: str) -> Callable[[], Select[Any]]:
    """The devices (and their vehicles) whose vehicle's ``column`` is the bound ``match``;
    the panel never shows the vehicles' owners, so they are not loaded (the owner is loaded
    with every vehicle otherwise, and that costs more than the rest of the statement)."""
    def build() -> Select[Any]:
        return (select(GpsDevice, Vehicle).join(Vehicle, Vehicle.id == GpsDevice.vehicle_id)
                .where(getattr(Vehicle, column) == bindparam("match"),
                       GpsDevice.status != "pending")
                .order_by(Vehicle.plate).limit(50).options(lazyload(Vehicle.owner)))
    return build


@cache
def _any_device(column: str) -> Select[Any]:
    """Whether any tracker sits on the vehicles whose ``column`` is ``match``, before the
    reader's row filters: most customers have none, and this plain EXISTS costs a fraction
    of loading devices and vehicles. It can only say "maybe"; :func:`_devices` decides."""
    return select(exists().where(GpsDevice.vehicle_id == Vehicle.id,
                                 getattr(Vehicle, column) == bindparam("match"),
                                 GpsDevice.status != "pending"))


def _rows(session: Any, user: Any, column: str, match: int) -> list[dict[str, Any]]:
    """One row per visible device on the vehicles whose ``column`` is ``match``: device,
    vehicle, state, open alarms, this month's km — four indexed queries for all of them,
    never one per device. The first statement is built once per process and shape of the
    reader's row filters (``prepared``); most customers have no tracker, and for them only
    the EXISTS of :func:`_any_device` runs."""
    if not session.scalar(_any_device(column), {"match": match}):
        return []
    stmt = prepared(("gps.panel", column), _devices(column), GpsDevice, user)
    pairs = list(session.execute(stmt, {"match": match}))
    if not pairs:
        return []
    ids = [d.id for d, _v in pairs]
    states = {s.device_id: s for s in session.scalars(
        select(GpsDeviceState).where(GpsDeviceState.device_id.in_(ids)))}
    alarms = dict(session.execute(
        visible(select(GpsAlarm.device_id, func.count(GpsAlarm.id))
                .where(GpsAlarm.device_id.in_(ids), GpsAlarm.status == "open")
                .group_by(GpsAlarm.device_id), GpsAlarm, user)).all())
    first = today().replace(day=1)
    km = dict(session.execute(
        select(GpsMileageDaily.device_id, func.sum(GpsMileageDaily.distance_m))
        .where(GpsMileageDaily.device_id.in_(ids), GpsMileageDaily.day >= first)
        .group_by(GpsMileageDaily.device_id)).all())
    # gsubs: the service subscription's last day, so an expired one is flagged
    ends = dict(session.execute(select(GpsSubscription.device_id, GpsSubscription.end_on)
                                .where(GpsSubscription.device_id.in_(ids))).all())
    return [{"device": d, "vehicle": v, "state": states.get(d.id),
             "alarms": int(alarms.get(d.id, 0)),
             "month_km": round(float(km.get(d.id) or 0) / 1000, 1),
             "service_until": ends.get(d.id),
             "service_expired": ends.get(d.id) is not None and ends[d.id] < today()}
            for d, v in pairs]


def _status(state: Any, alarms: int) -> str:
    if alarms:
        return "alarm"
    if state is None or not state.online:
        return "offline"
    return "moving" if state.moving else "stopped"


def _panel(rows: list[dict[str, Any]], name: str, weight: int) -> list[Panel]:
    for row in rows:
        row["status"] = _status(row["state"], row["alarms"])
    html = render_template("gps/panel.html", rows=rows, month=today().strftime("%Y-%m"))
    return [Panel(name, _l("GPS"), html, weight=weight, summary={
        "trackers": [{"imei": r["device"].imei, "vehicle_id": r["vehicle"].id,
                      "status": r["status"], "open_alarms": r["alarms"],
                      "month_km": r["month_km"],
                      "last_fix": _iso(r["state"].fix_time) if r["state"] else None,
                      "latitude": r["state"].latitude if r["state"] else None,
                      "longitude": r["state"].longitude if r["state"] else None,
                      "service_until": _day(r["service_until"]),
                      "service_expired": r["service_expired"]}
                     for r in rows],
        "open_alarms": sum(r["alarms"] for r in rows),
        "expired_services": sum(1 for r in rows if r["service_expired"])})]


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value else None


def _day(value: dt.date | None) -> str | None:
    return value.isoformat() if value else None


def customer_panel(session: Any, customer: Any, user: Any) -> list[Panel]:
    if not can(user, "gps.view"):
        return []
    rows = _rows(session, user, "owner_id", customer.id)
    return _panel(rows, "gps", 350) if rows else []


def vehicle_panel(session: Any, vehicle: Any, user: Any) -> list[Panel]:
    if not can(user, "gps.view"):
        return []
    rows = _rows(session, user, "id", vehicle.id)
    return _panel(rows, "gps.vehicle", 350) if rows else []
