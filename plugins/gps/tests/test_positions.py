"""store_fixes and the device lookups, over the app's database (SQLite, or PostgreSQL with
CAREBIZ_TEST_DATABASE_URL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from carebiz.crm.models import OdometerReading, Vehicle
from carebiz.crm.services import vehicles
from carebiz.models import AuditEntry
from carebiz.testing import make_vehicle
from carebiz_plugins.gps.analytics import trips_and_stops
from carebiz_plugins.gps.fixes import Fix
from carebiz_plugins.gps.models import (
    GpsDevice,
    GpsDeviceState,
    GpsMileageDaily,
    GpsPosition,
    GpsStop,
    GpsTrip,
)
from carebiz_plugins.gps.services import positions

IMEI = "123456789012345"
T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


@pytest.fixture
def device(session: Any, seeded: dict[str, Any]) -> int:
    positions.reset_caches()
    branch = seeded["branches"]["A"]
    vehicle = make_vehicle(session, 1, branch)
    dev = GpsDevice(imei=IMEI, vehicle_id=vehicle.id, branch_id=branch, status="active")
    session.add(dev)
    session.commit()
    return int(dev.id)


def track(n: int, start: datetime = T0, **kw: Any) -> list[Fix]:
    """n fixes 10 s apart moving ~100 m north each."""
    return [Fix(IMEI, start + timedelta(seconds=10 * i), 30.0 + i * 0.0009, 120.0,
                speed_kmh=36.0, raw=b"\x78\x78", attributes={"gsm": 4}, **kw)
            for i in range(n)]


def test_double_store_is_idempotent(session: Any, device: int) -> None:
    fixes = track(5)
    assert positions.store_fixes(session, {IMEI: device}, fixes) == 5
    session.commit()
    assert positions.store_fixes(session, {IMEI: device}, fixes) == 0
    session.commit()
    rows = session.scalars(select(GpsPosition).order_by(GpsPosition.fix_time)).all()
    assert len(rows) == 5
    assert rows[0].raw == b"\x78\x78" and rows[0].attributes == {"gsm": 4}
    assert rows[0].distance_m == 0 and 90 < rows[1].distance_m < 110


def test_bulk_insert_writes_what_the_orm_would(session: Any, device: int) -> None:
    """The driver-level insert (services/bulk.py) must store times exactly as the ORM's
    column type does — the unique (device, time) index and every range read compare them —
    and a fix the ORM wrote is recognised as stored by it."""
    from sqlalchemy.dialects import sqlite

    from carebiz_plugins.gps.services import bulk

    t = datetime(2026, 3, 1, 8, 0, 5, 120, tzinfo=UTC)
    expected = GpsPosition.__table__.c.fix_time.type.dialect_impl(sqlite.dialect())
    processor = expected.bind_processor(sqlite.dialect())
    assert bulk._sqlite_time(t) == processor(t)
    local = t.astimezone(__import__("zoneinfo").ZoneInfo("Asia/Shanghai"))
    assert bulk._sqlite_time(local) == processor(t)
    session.add(GpsPosition(device_id=device, fix_time=t, latitude=30.0, longitude=120.0))
    session.commit()
    resent = Fix(IMEI, t, 30.0, 120.0)
    later = Fix(IMEI, t + timedelta(seconds=10), 30.001, 120.0, attributes={"mcc": 460})
    assert positions.store_fixes(session, {IMEI: device}, [resent, later]) == 1
    session.commit()
    rows = session.scalars(select(GpsPosition).order_by(GpsPosition.fix_time)).all()
    assert [r.fix_time for r in rows] == [t, t + timedelta(seconds=10)]
    assert rows[1].attributes == {"mcc": 460} and rows[1].valid is True
    assert session.scalar(select(func.count()).select_from(GpsPosition).where(
        GpsPosition.fix_time > t)) == 1


def test_unsorted_batch_is_sorted_and_noise_gets_zero(session: Any, device: int) -> None:
    fixes = track(3)
    noise = Fix(IMEI, T0 + timedelta(seconds=25), 0.0, 0.0, valid=False)
    positions.store_fixes(session, {IMEI: device}, [fixes[2], noise, fixes[0], fixes[1]])
    session.commit()
    rows = session.scalars(select(GpsPosition).order_by(GpsPosition.fix_time)).all()
    assert [r.distance_m > 0 for r in rows] == [False, True, True, False]
    assert rows[3].latitude == 0.0 and rows[3].distance_m == 0


def test_state_moves_only_forward_and_reupload_does_not_move_it(
        session: Any, device: int) -> None:
    positions.store_fixes(session, {IMEI: device}, track(3))
    session.commit()
    newest = T0 + timedelta(seconds=20)
    positions.store_fixes(session, {IMEI: device}, track(2, T0 - timedelta(hours=1)))
    session.commit()
    later = track(1, T0 + timedelta(hours=1), reupload=True)
    positions.store_fixes(session, {IMEI: device}, later)
    session.commit()
    session.expire_all()
    state = session.get(GpsDeviceState, device)
    assert state.fix_time == newest and state.online
    assert session.scalar(select(GpsPosition.reupload).where(
        GpsPosition.fix_time == later[0].fix_time)) is True


def test_daily_mileage_rows_add_up(session: Any, device: int) -> None:
    fixes = track(6)
    positions.store_fixes(session, {IMEI: device}, fixes[:3])
    session.commit()
    positions.store_fixes(session, {IMEI: device}, fixes[3:])
    session.commit()
    rows = session.scalars(select(GpsMileageDaily)).all()
    assert len(rows) == 1 and rows[0].day.isoformat() == "2026-03-01"
    stored = sum(session.scalars(select(GpsPosition.distance_m)).all())
    assert rows[0].distance_m == pytest.approx(stored, rel=0.01) and stored > 400
    assert rows[0].max_speed_kmh == pytest.approx(36.0) and rows[0].positions == 6


def test_unknown_device_fixes_skipped(session: Any, device: int) -> None:
    assert positions.store_fixes(session, {}, track(2)) == 0


def test_pending_recorded_and_known_device(session: Any, device: int) -> None:
    positions.record_pending(session, "864717003283581", "10.0.0.1:5000")
    session.commit()
    positions.record_pending(session, "864717003283581", "10.0.0.2:5001")
    session.commit()
    pend = session.scalar(select(GpsDevice).where(GpsDevice.imei == "864717003283581"))
    assert pend.status == "pending" and pend.login_attempts == 2
    assert pend.last_peer == "10.0.0.2:5001" and pend.vehicle_id is None
    assert positions.known_device(session, "864717003283581") is None
    assert positions.known_device(session, IMEI) == (device, 0)


# --- trips and stops at ingest --------------------------------------------------------------

def _day_track(start: datetime = T0, *, reupload: bool = False) -> list[Fix]:
    """Parked 10 min, 10 min drive north at 54 km/h, parked 10 min, 10 min drive, parked
    10 min: two trips and the stops around them, one fix per 10 s."""
    out: list[Fix] = []
    t, lat = 0, 30.0
    for kind in ("park", "drive", "park", "drive", "park"):
        for _ in range(60):
            if kind == "drive":
                lat += 150 / 111_319.49
            out.append(Fix(IMEI, start + timedelta(seconds=t), lat, 120.0,
                           speed_kmh=54.0 if kind == "drive" else 0.0, ignition=kind == "drive",
                           reupload=reupload))
            t += 10
    return out


def _stored(session: Any) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], float]:
    session.expire_all()
    trips = [(r.start_time, r.end_time, round(r.distance_m, 6), r.vehicle_id) for r in
             session.scalars(select(GpsTrip).order_by(GpsTrip.start_time))]
    stops = [(r.start_time, r.end_time, r.duration_s) for r in
             session.scalars(select(GpsStop).order_by(GpsStop.start_time))]
    km = sum(session.scalars(select(GpsMileageDaily.distance_m)).all())
    return trips, stops, km


def _expected(fixes: list[Fix]) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    trips, stops = trips_and_stops(fixes)
    return ([(t.start, t.end, round(t.distance_m, 6)) for t in trips],
            [(s.start, s.end, int(s.duration_s)) for s in stops])


def _store(session: Any, device: int, fixes: list[Fix], size: int = 37) -> None:
    for i in range(0, len(fixes), size):
        positions.store_fixes(session, {IMEI: device}, fixes[i:i + size])
        session.commit()


def test_trips_and_stops_closed_at_ingest_as_the_batch_finds_them(
        session: Any, device: int) -> None:
    fixes = _day_track()
    _store(session, device, fixes)
    trips, stops, km = _stored(session)
    want_trips, want_stops = _expected(fixes)
    assert len(want_trips) == 2 and len(want_stops) == 2
    assert [t[:3] for t in trips] == want_trips and stops == want_stops
    assert trips[0][3] is not None                        # the vehicle of the device
    assert km == pytest.approx(2 * 60 * 150, rel=0.01)


def test_resent_batches_and_a_restart_neither_repeat_nor_split(
        session: Any, device: int) -> None:
    fixes = _day_track()
    _store(session, device, fixes[:170])                  # into the first trip's stop
    _store(session, device, fixes[100:170])               # a resend: nothing new
    positions.reset_caches()                              # the process restarts …
    _store(session, device, fixes[150:])                  # … and the device resends a tail
    positions.store_fixes(session, {IMEI: device}, fixes[:40])   # a very old resend
    session.commit()
    trips, stops, km = _stored(session)
    want_trips, want_stops = _expected(fixes)
    assert [t[:3] for t in trips] == want_trips and stops == want_stops
    assert km == pytest.approx(2 * 60 * 150, rel=0.01)    # not a metre counted twice
    assert session.scalar(select(func.count()).select_from(GpsPosition)) == len(fixes)


def test_restart_in_the_middle_of_a_trip_keeps_it_whole(session: Any, device: int) -> None:
    fixes = _day_track()
    _store(session, device, fixes[:90])                   # half way through the first drive
    positions.reset_caches()
    _store(session, device, fixes[90:])
    trips, stops, _ = _stored(session)
    want_trips, want_stops = _expected(fixes)
    assert [t[:3] for t in trips] == want_trips and stops == want_stops


def test_late_history_is_folded_in_without_touching_the_live_trip(
        session: Any, device: int) -> None:
    """Live fixes go on after a dead zone; the buffered history of the dead zone (re-upload
    flag) arrives afterwards: its trip is stored and its distance counted, and the live
    track's trips are what they would have been without it."""
    before = _day_track()[:60]                            # parked at 30.0
    history = _day_track(T0 + timedelta(minutes=10), reupload=True)[:150]  # drive, park
    live_start = T0 + timedelta(hours=2)
    live = _day_track(live_start)
    live = [Fix(IMEI, f.fix_time, f.latitude + 0.0134, f.longitude, speed_kmh=f.speed_kmh,
                ignition=f.ignition) for f in live]      # where the history left it
    _store(session, device, before)
    _store(session, device, live[:100])                   # live, into its first drive
    _store(session, device, history)                      # the dead zone, late
    _store(session, device, live[100:])
    trips, _, km = _stored(session)
    starts = [t[0] for t in trips]
    history_trip = history[60].fix_time                   # the stop's last fix: 150 m out
    assert history_trip in starts
    live_trips, _ = _expected(before + live)
    assert [t[:3] for t in trips if t[0] != history_trip] == live_trips
    hist_km = trips[starts.index(history_trip)][2]
    assert hist_km == pytest.approx(60 * 150, rel=0.02)
    assert km >= hist_km + 2 * 60 * 150 * 0.99            # the history's distance counted


# --- the GPS odometer in the core -----------------------------------------------------------

def _readings(session: Any) -> list[tuple[int, str]]:
    session.expire_all()
    return [(r.value_km, r.source) for r in session.scalars(
        select(OdometerReading).order_by(OdometerReading.read_at, OdometerReading.id))]


def test_gps_distance_moves_the_odometer_once_a_day(session: Any, device: int) -> None:
    vehicle = session.get(GpsDevice, device).vehicle_id
    car = session.get(Vehicle, vehicle)
    vehicles.record_odometer(session, car, 40_000, T0 - timedelta(days=1), source="service")
    session.commit()
    day1 = track(300)                                      # ~30 km north
    _store(session, device, day1[:150])
    _store(session, device, day1[150:])
    # day one: the first batch (37 fixes, 3.6 km) took the day's reading, later ones none
    assert _readings(session) == [(40_000, "service"), (40_003, "gps")]
    day2 = track(50, T0 + timedelta(days=1))               # the next day: +5 km … and the
    _store(session, device, day2)                          # whole of day one counted
    got = _readings(session)
    upto = day2[36].fix_time                               # the end of day two's first batch
    assert got[-1][1] == "gps" and got[-1][0] == 40_000 + int(sum(session.scalars(
        select(GpsPosition.distance_m).where(GpsPosition.fix_time <= upto)).all()) // 1000)
    assert len(got) == 3
    session.expire_all()
    assert session.get(Vehicle, vehicle).odometer_km == got[-1][0]
    assert session.scalar(select(func.count()).select_from(AuditEntry).where(
        AuditEntry.event == "vehicle.odometer_recorded",
        AuditEntry.entity_id == str(vehicle))) == 3


def test_device_odometer_wins_and_never_goes_backwards(session: Any, device: int) -> None:
    vehicle = session.get(GpsDevice, device).vehicle_id
    car = session.get(Vehicle, vehicle)
    vehicles.record_odometer(session, car, 52_000, T0 - timedelta(days=2), source="manual")
    session.commit()
    _store(session, device, track(5, odometer_m=61_234_567))
    assert _readings(session)[-1] == (61_234, "gps")
    _store(session, device, track(5, T0 + timedelta(days=1), odometer_m=50_000_000))
    assert _readings(session)[-1] == (61_234, "gps")      # lower: refused by the core


def test_no_reading_without_a_first_one(session: Any, device: int) -> None:
    _store(session, device, track(100))
    assert _readings(session) == []


def test_an_unknown_imei_is_pending_and_announced_once(session: Any,
                                                       seeded: dict[str, Any]) -> None:
    """The first login of an unknown IMEI records a pending device and sends
    ``gps.device.pending`` after the commit; its retries only count attempts."""
    from carebiz_plugins.gps import signals

    seen: list[dict[str, Any]] = []

    def receiver(sender: Any, **payload: Any) -> None:
        seen.append(payload)

    signals.device_pending.connect(receiver)
    try:
        positions.record_pending(session, "864717003283581", "10.0.0.9:1")
        assert seen == []  # not before the commit
        session.commit()
        positions.record_pending(session, "864717003283581", "10.0.0.9:2")
        session.commit()
    finally:
        signals.device_pending.disconnect(receiver)
    device = session.scalar(select(GpsDevice).where(GpsDevice.imei == "864717003283581"))
    assert (device.status, device.login_attempts, device.protocol) == ("pending", 2, "gt06")
    assert seen == [{"device_id": device.id, "imei": "864717003283581", "peer": "10.0.0.9:1",
                     "protocol": "gt06"}]
