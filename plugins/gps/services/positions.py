"""Storing fixes: one INSERT per batch, idempotent on (device, fix_time), and the tables
derived at ingest (live state, trips, stops, daily mileage) kept in the same transaction.

WHY Core statements and not ORM objects: a busy server stores thousands of fixes a second;
an ORM object per fix costs more than the insert. WHY ``ON CONFLICT DO NOTHING``: a device
resends frames whose acknowledgement it missed, and the same fix must be stored once; trips
and stops likewise, unique on (device, start time).

Per device this process keeps a :class:`Track` (one noise filter shared by a trip detector
and a daily accumulator), fed with each batch in one pass of the analytics kernel:

* **live / in order**: fixes later than the last one the track has seen — live fixes and
  re-uploaded history that comes before the live ones (what a GT06 does when it reconnects)
  alike — go through the live track: their distances fill ``gps_position.distance_m``, the
  trips and stops they close are inserted, the day increments are upserted.
* **late history**: a fix not later than the last one seen is either a resend (already
  stored: skipped, so nothing is counted twice) or buffered history that arrived after live
  fixes. New late fixes go, in their own time order, through a separate *history* track, so
  the live open segment is never disturbed: the history track starts at the stored position
  just before its first fix, closes its own trips and stops (inserted; a clash with a stored
  start is skipped) and adds its distances to the daily mileage. A history stream goes on
  across batches; one that jumps back before what it has seen starts a new history track.
  Known limit: the live track already counted the straight line across the gap the history
  fills (one position's ``distance_m``); it is not taken back.
* **cache miss** (first batch for a device since the process started): the track resumes
  from the device's last stored trip or stop end and replays the positions stored after it
  (at most the last :data:`REPLAY_HOURS` hours) through the trip detector only — their
  mileage is stored already — so a restart neither splits nor repeats the open trip, and the
  resent tail of the last batch before a crash is recognised as already stored.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Integer, bindparam, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from carebiz.db import utcnow
from carebiz.events import emit

from .. import signals
from ..analytics import (
    DailyAccumulator,
    NoiseFilter,
    Row,
    Segment,
    Stop,
    Trip,
    TripDetector,
    fix_rows,
    run_kernel,
)
from ..fixes import Fix
from ..models import GpsDevice, GpsPosition, GpsStop, GpsTrip
from . import bulk, odometer

#: how far back a track replays stored positions after a restart
REPLAY_HOURS = 24


@dataclass(slots=True)
class Track:
    """One device's analytics state between batches: one noise filter shared by the trip
    detector and the day accumulator, so a fix is judged once."""

    flt: NoiseFilter
    det: TripDetector
    acc: DailyAccumulator

    @classmethod
    def new(cls, device_id: int, tz: ZoneInfo) -> Track:
        flt = NoiseFilter()
        return cls(flt, TripDetector(str(device_id), noise_filter=flt),
                   DailyAccumulator(str(device_id), tz, noise_filter=flt))


#: per-device live and late-history tracks, kept across batches (one ingest process owns a
#: device's connection, and the writer thread is the only one to touch them)
_tracks: dict[int, Track] = {}
_history: dict[int, Track] = {}


def reset_caches() -> None:
    """Forget every device's analytics state (tests; a process restart does the same)."""
    _tracks.clear()
    _history.clear()
    odometer.reset_caches()


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


def store_fixes(session: Session, device_id_by_imei: dict[str, int], fixes: list[Fix],
                vehicles: dict[int, int | None] | None = None) -> int:
    """Store ``fixes`` (unknown devices skipped), insert the trips and stops they close and
    update live state and daily mileage, and move the vehicles' odometers in the core
    (:mod:`.odometer`: at most one GPS reading a vehicle a day), all in the caller's
    transaction (the caller commits). Returns how many position rows were new.

    ``vehicles``: each device's vehicle as the caller knows it (the pipeline passes its
    cached rules', so a batch costs no lookup); devices it leaves out are read."""
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
    segments: list[tuple[int, Segment]] = []
    increments: dict[int, list[Any]] = {}
    moved: dict[int, tuple[dt.datetime, float, tuple[dt.datetime, int] | None]] = {}
    last_stored = _warm_tracks(session, list(by_device), tz)
    for device_id, dev_fixes in by_device.items():
        dev_fixes.sort(key=lambda f: f.fix_time)
        track = _track(session, device_id, tz, segments, last_stored.get(device_id))
        seen = track.flt.seen
        split = 0
        while split < len(dev_fixes) and dev_fixes[split].fix_time.timestamp() <= seen:
            split += 1
        late, live_fixes = dev_fixes[:split], dev_fixes[split:]
        pairs: list[tuple[Fix, float | None]] = []
        if late:
            late = _not_stored(session, device_id, late)
            if late:
                hist = _history_track(session, device_id, tz, late[0])
                segs: list[Segment] = []
                dists: list[float | None] = []
                run_kernel(hist.flt, hist.det, hist.acc, fix_rows(late), dists, segs)
                segments.extend((device_id, s) for s in segs)
                increments.setdefault(device_id, []).extend(hist.acc.drain())
                pairs.extend(zip(late, dists, strict=True))
        if live_fixes:
            segs = []
            dists = []
            run_kernel(track.flt, track.det, track.acc, fix_rows(live_fixes), dists, segs)
            segments.extend((device_id, s) for s in segs)
            pairs.extend(zip(live_fixes, dists, strict=True))
        increments.setdefault(device_id, []).extend(track.acc.drain())
        total = 0.0
        device_odometer: tuple[dt.datetime, int] | None = None
        for fix, d in pairs:
            dist = d or 0.0
            total += dist
            if fix.odometer_m is not None and (device_odometer is None
                                               or fix.fix_time > device_odometer[0]):
                device_odometer = (fix.fix_time, fix.odometer_m)
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
        if pairs:
            moved[device_id] = (max(f.fix_time for f, _ in pairs), total, device_odometer)
    # only the rows the conflict clause lets through count: the new ones
    inserted = bulk.insert_positions(session, rows)
    vehicles = {d: vehicles[d] for d in by_device if d in vehicles} if vehicles else {}
    unknown = [d for d in by_device if d not in vehicles]
    if unknown:
        vehicles.update(session.execute(select(GpsDevice.id, GpsDevice.vehicle_id)
                                        .where(GpsDevice.id.in_(unknown))).all())
    # gscale: one executemany per table and batch (services/bulk.py says why)
    bulk.upsert_states(session, [_state_row(device_id, fix, dist, now)
                                 for device_id, (fix, dist) in newest.items()])
    _insert_segments(session, segments, vehicles)
    _add_mileage(session, increments, counts, vehicles)
    odometer.sync_odometers(session, {
        device_id: odometer.DeviceBatch(vehicles.get(device_id), last, dist, dev_odo)
        for device_id, (last, dist, dev_odo) in moved.items()}, tz)
    return int(inserted)


#: cold devices asked for their last stored fix in one statement (bound parameters per chunk)
WARM_CHUNK = 500


def _warm_tracks(session: Session, device_ids: list[int],
                 tz: ZoneInfo) -> dict[int, dt.datetime]:
    """Start the tracks of cold devices (no track in this process yet) with ONE query per
    :data:`WARM_CHUNK` devices instead of one per device: a device with nothing stored gets
    a fresh track here; for the others the time of their last stored fix is returned, for
    :func:`_track`'s replay. WHY: after a start or restart every connected device is cold at
    once — 2,000 devices cost 2,000 round trips in the first batches, measured as a quarter
    of the writer thread's time in a 10 s PostgreSQL run. The subquery per device reads one
    entry of the (device_id, fix_time) index on both databases."""
    cold = [d for d in device_ids if d not in _tracks]
    last: dict[int, dt.datetime] = {}
    p = GpsPosition
    latest = (select(func.max(p.fix_time)).where(p.device_id == GpsDevice.id)
              .correlate(GpsDevice).scalar_subquery())
    for i in range(0, len(cold), WARM_CHUNK):
        chunk = cold[i:i + WARM_CHUNK]
        for device_id, last_time in session.execute(
                select(GpsDevice.id, latest).where(GpsDevice.id.in_(chunk))):
            if last_time is None:
                _tracks[device_id] = Track.new(device_id, tz)
            else:
                last[device_id] = last_time
    return last


def _track(session: Session, device_id: int, tz: ZoneInfo,
           segments: list[tuple[int, Segment]],
           last_time: dt.datetime | None = None) -> Track:
    """The device's live track; on a cache miss rebuilt from what is stored (see the module
    docstring), from ``last_time`` (its last stored fix) when the caller knows it. Segments
    the replay closes are appended to ``segments`` (already stored ones are skipped by the
    unique key)."""
    track = _tracks.get(device_id)
    if track is not None:
        if track.acc.tz != tz:   # the business moved its zone: new days from now on
            track.acc = DailyAccumulator(str(device_id), tz, noise_filter=track.flt)
        return track
    track = _tracks[device_id] = Track.new(device_id, tz)
    p = GpsPosition
    if last_time is None:
        last_time = session.scalar(select(func.max(p.fix_time))
                                   .where(p.device_id == device_id))
    if last_time is None:
        return track
    start = last_time - dt.timedelta(hours=REPLAY_HOURS)
    end = _last_segment_end(session, device_id)
    if end is not None and end[0] >= start.timestamp():
        track.det.resume(*end[:3], moving=end[3])
        start = dt.datetime.fromtimestamp(end[0], dt.UTC)
    replay = session.execute(
        select(p.fix_time, p.latitude, p.longitude, p.speed_kmh, p.valid, p.ignition, p.fuel_l)
        .where(p.device_id == device_id, p.fix_time > start, p.fix_time <= last_time)
        .order_by(p.fix_time)).all()
    rows: list[Row] = [(r[0].timestamp(), r[1], r[2], r[3], r[4], r[5], r[6]) for r in replay]
    segs: list[Segment] = []
    run_kernel(track.flt, track.det, None, rows, None, segs)
    segments.extend((device_id, s) for s in segs)
    track.flt.seen = max(track.flt.seen, last_time.timestamp())
    if rows:   # engine time and fuel go on from the last stored fix
        acc = track.acc
        acc.prev_t, acc.prev_ign, acc.prev_fuel = rows[-1][0], rows[-1][5], rows[-1][6]
    return track


def _last_segment_end(session: Session,
                      device_id: int) -> tuple[float, float, float, bool] | None:
    """(t, lat, lon, moving since) where the device's last stored trip or stop ended: a
    stop began at the end of a trip, a trip at the end of a stop."""
    trip = session.execute(select(GpsTrip.end_time, GpsTrip.end_lat, GpsTrip.end_lon)
                           .where(GpsTrip.device_id == device_id)
                           .order_by(GpsTrip.start_time.desc()).limit(1)).first()
    stop = session.execute(select(GpsStop.end_time, GpsStop.latitude, GpsStop.longitude)
                           .where(GpsStop.device_id == device_id)
                           .order_by(GpsStop.start_time.desc()).limit(1)).first()
    ends = [(r[0].timestamp(), float(r[1]), float(r[2]), moving)
            for r, moving in ((trip, False), (stop, True)) if r is not None]
    if not ends:
        return None
    end = max(ends)
    if end[3] and stop is not None:
        # a trip starts at the stop's LAST fix, not at its stop point: that fix is stored
        at = session.execute(select(GpsPosition.latitude, GpsPosition.longitude).where(
            GpsPosition.device_id == device_id, GpsPosition.fix_time == stop[0])).first()
        if at is not None:
            end = (end[0], float(at[0]), float(at[1]), True)
    return end


def _not_stored(session: Session, device_id: int, fixes: Sequence[Fix]) -> list[Fix]:
    """The fixes of ``fixes`` (sorted) with no stored position yet: a resend is dropped
    here, so its fixes count for nothing a second time."""
    p = GpsPosition
    stored = {t.timestamp() for t in session.scalars(select(p.fix_time).where(
        p.device_id == device_id, p.fix_time >= fixes[0].fix_time,
        p.fix_time <= fixes[-1].fix_time))}
    return [f for f in fixes if f.fix_time.timestamp() not in stored]


def _history_track(session: Session, device_id: int, tz: ZoneInfo, first: Fix) -> Track:
    """The device's late-history track, going on when ``first`` follows what it has seen,
    else a new one starting at the stored position just before ``first``."""
    hist = _history.get(device_id)
    t0 = first.fix_time.timestamp()
    if hist is not None and hist.flt.seen < t0 and hist.acc.tz == tz:
        return hist
    hist = _history[device_id] = Track.new(device_id, tz)
    p = GpsPosition
    before = session.execute(
        select(p.fix_time, p.latitude, p.longitude, p.ignition, p.fuel_l)
        .where(p.device_id == device_id, p.fix_time < first.fix_time, p.valid.is_(True))
        .order_by(p.fix_time.desc()).limit(1)).first()
    if before is not None:
        hist.det.resume(before[0].timestamp(), float(before[1]), float(before[2]))
    return hist


def _insert_segments(session: Session, segments: list[tuple[int, Segment]],
                     vehicles: dict[int, int | None]) -> None:
    """Insert closed trips and stops, once each (unique on device and start)."""
    trips: list[dict[str, Any]] = []
    stops: list[dict[str, Any]] = []
    for device_id, seg in segments:
        if isinstance(seg, Trip):
            trips.append({
                "device_id": device_id, "vehicle_id": vehicles.get(device_id),
                "start_time": seg.start, "end_time": seg.end,
                "start_lat": seg.start_lat, "start_lon": seg.start_lon,
                "end_lat": seg.end_lat, "end_lon": seg.end_lon,
                "distance_m": seg.distance_m, "duration_s": int(seg.duration_s),
                "avg_speed_kmh": seg.avg_speed_kmh, "max_speed_kmh": seg.max_speed_kmh})
        elif isinstance(seg, Stop):
            stops.append({
                "device_id": device_id, "vehicle_id": vehicles.get(device_id),
                "start_time": seg.start, "end_time": seg.end, "latitude": seg.latitude,
                "longitude": seg.longitude, "duration_s": int(seg.duration_s)})
    for table, values in ((GpsTrip.__table__, trips), (GpsStop.__table__, stops)):
        if values:
            session.execute(_insert(session, table).on_conflict_do_nothing(
                index_elements=["device_id", "start_time"]), values)


def _state_row(device_id: int, fix: Fix, dist: float, now: dt.datetime) -> tuple[Any, ...]:
    """The live-state row ``fix`` moves to, in :data:`bulk.STATE_COLUMNS` order (the
    position columns move only if the fix is newer: :func:`bulk.state_conflict`)."""
    return (device_id, fix.fix_time, fix.latitude, fix.longitude, fix.speed_kmh, fix.course,
            fix.valid, fix.ignition, fix.speed_kmh > 2.0, True, now, dist, 0)


def _add_mileage(session: Session, increments: dict[int, list[Any]],
                 counts: dict[tuple[int, dt.date], int],
                 vehicles: dict[int, int | None]) -> None:
    """Add the tracks' per-day increments to ``gps_mileage_daily`` (one executemany; two
    increments of one device and day are summed first: one statement may not update a
    row twice)."""
    rows: dict[tuple[int, dt.date], dict[str, Any]] = {}
    for device_id, incs in increments.items():
        for inc in incs:
            key = (device_id, inc.day)
            row = rows.get(key)
            if row is None:
                rows[key] = {"device_id": device_id, "day": inc.day,
                             "vehicle_id": vehicles.get(device_id),
                             "distance_m": inc.distance_m,
                             "engine_seconds": int(inc.engine_seconds), "fuel_l": inc.fuel_l,
                             "max_speed_kmh": inc.max_speed_kmh,
                             "positions": counts.pop(key, 0)}
                continue
            row["distance_m"] += inc.distance_m
            row["engine_seconds"] += int(inc.engine_seconds)
            if inc.fuel_l is not None:
                row["fuel_l"] = (row["fuel_l"] or 0.0) + inc.fuel_l
            row["max_speed_kmh"] = max(row["max_speed_kmh"], inc.max_speed_kmh)
            row["positions"] += counts.pop(key, 0)
    bulk.add_mileage(session, list(rows.values()))


def record_pending(session: Session, imei: str, peer: str, protocol: str = "gt06") -> None:
    """An unknown IMEI tried to log in: keep it as a pending device an admin can assign,
    counting its attempts. The first attempt sends ``gps.device.pending`` after the commit
    (once per IMEI, not on each retry: a tracker retries every few seconds). The caller
    commits."""
    now = utcnow()
    device = session.scalar(select(GpsDevice).where(GpsDevice.imei == imei))
    first = device is None
    if device is None:
        device = GpsDevice(imei=imei, status="pending", first_seen=now, login_attempts=0,
                           protocol=protocol)
        session.add(device)
    device.login_attempts = (device.login_attempts or 0) + 1
    device.last_seen = now
    device.last_peer = peer[:64]
    if first:
        session.flush()
        emit(session, signals.device_pending, device_id=device.id, imei=imei,
             peer=device.last_peer, protocol=protocol)


def known_device(session: Session, imei: str) -> tuple[int, int] | None:
    """``(id, tz_offset_min)`` of an active device with this IMEI, else None."""
    row = session.execute(select(GpsDevice.id, GpsDevice.tz_offset_min).where(
        GpsDevice.imei == imei, GpsDevice.status == "active")).first()
    return (int(row[0]), int(row[1] or 0)) if row else None


def known_devices(session: Session, imeis: Sequence[str]) -> dict[str, tuple[int, int]]:
    """:func:`known_device` for many IMEIs in one query: ``{imei: (id, tz_offset_min)}`` of
    the active ones (a reconnect storm logs in thousands of devices within seconds)."""
    rows = session.execute(select(GpsDevice.imei, GpsDevice.id, GpsDevice.tz_offset_min)
                           .where(GpsDevice.imei.in_(list(set(imeis))),
                                  GpsDevice.status == "active"))
    return {imei: (int(i), int(tz or 0)) for imei, i, tz in rows}


def mark_seen_many(session: Session, logins: Sequence[tuple[int, str, int | None]]) -> None:
    """:func:`mark_seen` for many ``(device_id, peer, tz_offset_min)`` logins as one
    executemany (a login without a timezone keeps the stored one)."""
    if not logins:
        return
    table: Any = GpsDevice.__table__
    stmt = (update(table).where(table.c.id == bindparam("b_id")).values(
        last_seen=bindparam("b_seen"), last_peer=bindparam("b_peer"),
        tz_offset_min=func.coalesce(bindparam("b_tz", type_=Integer), table.c.tz_offset_min)))
    now = utcnow()
    session.execute(stmt, [{"b_id": d, "b_seen": now, "b_peer": peer[:64], "b_tz": tz}
                           for d, peer, tz in logins])


def mark_seen(session: Session, device_id: int, peer: str, tz_offset_min: int | None) -> None:
    """A known device logged in: when and from where."""
    values: dict[str, Any] = {"last_seen": utcnow(), "last_peer": peer[:64]}
    if tz_offset_min is not None:
        values["tz_offset_min"] = tz_offset_min
    session.execute(update(GpsDevice).where(GpsDevice.id == device_id).values(**values))
