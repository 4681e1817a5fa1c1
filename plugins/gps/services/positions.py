"""Storing fixes: one INSERT per batch, idempotent on (device, fix_time), and the small
tables derived at ingest (live state, daily mileage) kept by upserts.

WHY Core statements and not ORM objects: a busy server stores thousands of fixes a second;
an ORM object per fix costs more than the insert. WHY ``ON CONFLICT DO NOTHING``: a device
resends frames whose acknowledgement it missed, and the same fix must be stored once.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from carebiz.db import utcnow

from ..analytics import DailyAccumulator, NoiseFilter
from ..fixes import Fix
from ..models import GpsDevice, GpsPosition
from . import bulk

#: per-device filter and accumulator, kept across batches (one ingest process owns a
#: device's connection, so its previous accepted fix is here)
_filters: dict[int, NoiseFilter] = {}
_accumulators: dict[int, DailyAccumulator] = {}


def reset_caches() -> None:
    """Forget every device's previous fix (tests; a process restart does the same)."""
    _filters.clear()
    _accumulators.clear()


def _insert(session: Session, table: Any) -> Any:
    """The dialect's INSERT that knows ``ON CONFLICT`` (SQLite and PostgreSQL alike)."""
    name = session.get_bind().dialect.name
    return (postgresql if name == "postgresql" else sqlite).insert(table)


def _business_tz() -> ZoneInfo:
    try:
        from carebiz.toolkit import business_tz
        return business_tz()
    except Exception:  # outside an app: UTC
        return ZoneInfo("UTC")


def store_fixes(session: Session, device_id_by_imei: dict[str, int], fixes: list[Fix]) -> int:
    """Store ``fixes`` (unknown devices skipped) and update state and daily mileage; the
    caller commits. Returns how many position rows were new."""
    by_device: dict[int, list[Fix]] = defaultdict(list)
    for fix in fixes:
        device_id = device_id_by_imei.get(fix.device)
        if device_id is not None:
            by_device[device_id].append(fix)
    if not by_device:
        return 0
    now = utcnow()
    tz = _business_tz()
    rows: list[dict[str, Any]] = []
    newest: dict[int, tuple[Fix, float]] = {}
    counts: dict[tuple[int, dt.date], int] = defaultdict(int)
    for device_id, dev_fixes in by_device.items():
        dev_fixes.sort(key=lambda f: f.fix_time)
        flt = _filters.setdefault(device_id, NoiseFilter())
        acc = _accumulators.get(device_id)
        if acc is None or acc.tz != tz:
            acc = _accumulators[device_id] = DailyAccumulator(str(device_id), tz)
        total = 0.0
        for fix in dev_fixes:
            dist = flt.accept(fix) or 0.0
            total += dist
            acc.feed(fix)
            counts[(device_id, fix.fix_time.astimezone(tz).date())] += 1
            rows.append({
                "device_id": device_id, "fix_time": fix.fix_time, "received_at": now,
                "latitude": fix.latitude, "longitude": fix.longitude,
                "speed_kmh": fix.speed_kmh, "course": fix.course, "valid": fix.valid,
                "satellites": fix.satellites, "ignition": fix.ignition,
                "reupload": fix.reupload, "odometer_m": fix.odometer_m, "fuel_l": fix.fuel_l,
                "distance_m": dist, "attributes": dict(fix.attributes) or None,
                "raw": fix.raw,
            })
        live = [f for f in dev_fixes if not f.reupload]
        if live:
            newest[device_id] = (live[-1], total)
    # RETURNING gives back only the rows the conflict clause let through: the new ones
    stmt = _insert(session, GpsPosition.__table__).on_conflict_do_nothing(
        index_elements=["device_id", "fix_time"]).returning(GpsPosition.__table__.c.id)
    inserted = len(session.execute(stmt, rows).all())
    # gscale: one executemany per table and batch (services/bulk.py says why)
    bulk.upsert_states(session, [_state_row(device_id, fix, dist, now)
                                 for device_id, (fix, dist) in newest.items()])
    _add_mileage(session, list(by_device), counts)
    return int(inserted)


def _state_row(device_id: int, fix: Fix, dist: float, now: dt.datetime) -> dict[str, Any]:
    """The live-state row ``fix`` moves to (only if newer: :func:`bulk.state_statement`)."""
    return {
        "device_id": device_id, "fix_time": fix.fix_time, "latitude": fix.latitude,
        "longitude": fix.longitude, "speed_kmh": fix.speed_kmh, "course": fix.course,
        "valid": fix.valid, "ignition": fix.ignition, "moving": fix.speed_kmh > 2.0,
        "online": True, "last_seen": now, "odometer_m": dist, "alarm_open": 0,
    }


def _add_mileage(session: Session, device_ids: list[int],
                 counts: dict[tuple[int, dt.date], int]) -> None:
    """Add the accumulators' per-day increments to ``gps_mileage_daily``."""
    vehicles = dict(session.execute(
        select(GpsDevice.id, GpsDevice.vehicle_id).where(GpsDevice.id.in_(device_ids))).all())
    rows: list[dict[str, Any]] = []
    for device_id in device_ids:
        acc = _accumulators.get(device_id)
        if acc is None:
            continue
        rows.extend({"device_id": device_id, "day": inc.day,
                     "vehicle_id": vehicles.get(device_id), "distance_m": inc.distance_m,
                     "engine_seconds": int(inc.engine_seconds),
                     "fuel_l": getattr(inc, "fuel_l", None),
                     "max_speed_kmh": inc.max_speed_kmh,
                     "positions": counts.get((device_id, inc.day), 0)} for inc in acc.drain())
    bulk.add_mileage(session, rows)


def record_pending(session: Session, imei: str, peer: str) -> None:
    """An unknown IMEI tried to log in: keep it as a pending device an admin can assign,
    counting its attempts. The caller commits."""
    now = utcnow()
    device = session.scalar(select(GpsDevice).where(GpsDevice.imei == imei))
    if device is None:
        device = GpsDevice(imei=imei, status="pending", first_seen=now, login_attempts=0)
        session.add(device)
    device.login_attempts = (device.login_attempts or 0) + 1
    device.last_seen = now
    device.last_peer = peer[:64]


def known_device(session: Session, imei: str) -> tuple[int, int] | None:
    """``(id, tz_offset_min)`` of an active device with this IMEI, else None."""
    row = session.execute(select(GpsDevice.id, GpsDevice.tz_offset_min).where(
        GpsDevice.imei == imei, GpsDevice.status == "active")).first()
    return (int(row[0]), int(row[1] or 0)) if row else None


def mark_seen(session: Session, device_id: int, peer: str, tz_offset_min: int | None) -> None:
    """A known device logged in: when and from where."""
    values: dict[str, Any] = {"last_seen": utcnow(), "last_peer": peer[:64]}
    if tz_offset_min is not None:
        values["tz_offset_min"] = tz_offset_min
    session.execute(update(GpsDevice).where(GpsDevice.id == device_id).values(**values))
