"""GPS distance moves the core vehicle's odometer, so service reminders follow real distance.

WHY through :func:`carebiz.crm.services.vehicles.record_odometer`: the core's rules apply
to every reading whatever its source — never backwards (lower than an earlier or higher than
a later reading is refused), whole kilometres, not in the future, the audit entry and the
``vehicle.odometer_recorded`` signal. A reading the core refuses is skipped and logged,
never an ingest error.

WHEN: not per fix. ``store_fixes`` calls :func:`sync_odometers` with every batch, but a
device is looked at only on the first batch of a business day or once ≥ 1 km more was
driven since it was last looked at (kept in this process), and a reading (source ``gps``)
is recorded at most once per vehicle per business day — after a person's (or another
plugin's) reading the same day, one more. So a vehicle has one GPS reading a day, taken on
its first fix of the day and covering everything driven before.

WHAT value: a device odometer (``Fix.odometer_m``, trackers that count themselves) wins
when the batch carries one. Otherwise the GPS distance is summed from the vehicle's latest
reading that is not a GPS one (a person's, a service visit's): that reading + the distance
stored since it (``gps_mileage_daily`` for whole days after it, ``gps_position.distance_m``
for the rest of its day), so rounding to whole km never accumulates. A vehicle with no
reading at all gets none: GPS distance is not an odometer until someone reads it once.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from carebiz.crm.models import OdometerReading, Vehicle
from carebiz.crm.services.vehicles import record_odometer
from carebiz.errors import ValidationFailed

from ..models import GpsMileageDaily, GpsPosition

log = logging.getLogger(__name__)

SOURCE = "gps"
#: metres driven since a device was last looked at that make it looked at again
CHECK_EVERY_M = 1000.0


@dataclass(slots=True)
class DeviceBatch:
    """What one batch tells about one device: its vehicle, newest fix, distance, and the
    device's own odometer on its newest fix that carried one."""

    vehicle_id: int | None
    last_fix: dt.datetime
    distance_m: float
    device_odometer: tuple[dt.datetime, int] | None = None


#: per device: (business day last looked at, metres driven since)
_looked: dict[int, tuple[dt.date, float]] = {}


def reset_caches() -> None:
    """Forget when devices were last looked at (tests; a restart does the same)."""
    _looked.clear()


def sync_odometers(session: Session, batches: dict[int, DeviceBatch],
                   tz: ZoneInfo) -> list[OdometerReading]:
    """Record the GPS odometer readings this batch calls for (see the module docstring), in
    the caller's transaction. Returns the readings recorded."""
    todo: list[tuple[int, DeviceBatch, dt.date]] = []
    for device_id, b in batches.items():
        if b.vehicle_id is None:
            continue
        day = b.last_fix.astimezone(tz).date()
        seen = _looked.get(device_id)
        driven = (seen[1] if seen else 0.0) + b.distance_m
        if seen is not None and seen[0] == day and driven < CHECK_EVERY_M \
                and b.device_odometer is None:
            _looked[device_id] = (day, driven)
            continue
        _looked[device_id] = (day, 0.0)
        todo.append((device_id, b, day))
    if not todo:
        return []
    latest, base = _readings(session, sorted({b.vehicle_id for _d, b, _day in todo
                                              if b.vehicle_id is not None}))
    out: list[OdometerReading] = []
    for device_id, b, day in todo:
        reading = _sync(session, device_id, b, day, tz, latest.get(b.vehicle_id),
                        base.get(b.vehicle_id))
        if reading is not None:   # a second device on the same car sees it
            latest[reading.vehicle_id] = reading
            out.append(reading)
    return out


#: vehicles whose readings are read in one statement
READ_CHUNK = 500


def _readings(session: Session, vehicle_ids: list[int]
              ) -> tuple[dict[int, OdometerReading], dict[int, OdometerReading]]:
    """Each vehicle's latest reading, and its latest one not taken from GPS, in two
    statements per :data:`READ_CHUNK` vehicles. WHY: after a start, or on the first batch
    of a business day, every device is looked at at once — two queries per vehicle were a
    fifth of the writer thread's time in the 2,000-tracker benchmark. Each correlated
    subquery reads one entry of the (vehicle_id, read_at) index."""
    r = OdometerReading
    r2 = aliased(OdometerReading)
    latest: dict[int, OdometerReading] = {}
    base: dict[int, OdometerReading] = {}
    for i in range(0, len(vehicle_ids), READ_CHUNK):
        chunk = vehicle_ids[i:i + READ_CHUNK]
        for out, extra in ((latest, None), (base, r2.source != SOURCE)):
            newest = select(r2.id).where(r2.vehicle_id == r.vehicle_id)
            if extra is not None:
                newest = newest.where(extra)
            newest = newest.order_by(r2.read_at.desc(), r2.id.desc()).limit(1)
            for row in session.scalars(select(r).where(
                    r.vehicle_id.in_(chunk),
                    r.id == newest.correlate(r).scalar_subquery())):
                out[row.vehicle_id] = row
    return latest, base


def _sync(session: Session, device_id: int, b: DeviceBatch, day: dt.date, tz: ZoneInfo,
          latest: OdometerReading | None, base: OdometerReading | None
          ) -> OdometerReading | None:
    """``latest``/``base``: the vehicle's latest reading and latest non-GPS reading."""
    if latest is not None and latest.source == SOURCE \
            and _aware(latest.read_at).astimezone(tz).date() >= day:
        return None                                   # today's GPS reading is taken
    if b.device_odometer is not None:
        read_at, metres = b.device_odometer
        value = metres // 1000
    else:
        if base is None:
            return None                               # nobody ever read this odometer
        read_at = b.last_fix
        value = base.value_km + int(_distance_since(session, device_id, b.vehicle_id,
                                                     _aware(base.read_at), tz) // 1000)
    if latest is not None and value <= latest.value_km:
        return None                                   # nothing to move
    vehicle = session.get(Vehicle, b.vehicle_id)
    if vehicle is None:
        return None
    try:
        with session.begin_nested():
            return record_odometer(session, vehicle, value, read_at, source=SOURCE)
    except ValidationFailed as exc:
        log.info("gps odometer %s km for vehicle %s not recorded: %s", value, vehicle.id,
                 exc)
        return None


def _distance_since(session: Session, device_id: int, vehicle_id: int | None,
                    since: dt.datetime, tz: ZoneInfo) -> float:
    """Metres the device drove after ``since``: whole days from ``gps_mileage_daily``, the
    rest of ``since``'s own day from the positions."""
    day = since.astimezone(tz).date()
    nxt = day + dt.timedelta(days=1)
    day_end = dt.datetime(nxt.year, nxt.month, nxt.day, tzinfo=tz)
    m, p = GpsMileageDaily, GpsPosition
    whole = session.scalar(select(func.coalesce(func.sum(m.distance_m), 0.0)).where(
        m.device_id == device_id, m.vehicle_id == vehicle_id, m.day > day)) or 0.0
    part = session.scalar(select(func.coalesce(func.sum(p.distance_m), 0.0)).where(
        p.device_id == device_id, p.fix_time > since, p.fix_time < day_end)) or 0.0
    return float(whole) + float(part)


def _aware(t: dt.datetime) -> dt.datetime:
    """Readings store naive UTC on some databases: read them as UTC."""
    return t if t.tzinfo is not None else t.replace(tzinfo=dt.UTC)
