"""Trips, stops, mileage, overspeed, engine time, fuel and playback bands over real-looking
tracks (pure Python, no database, no app).

The tracks are built from (seconds, lat, lon, speed, ignition) tuples so a scenario reads
like the day it models; distances are checked against :func:`geo.haversine_m` by hand.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from carebiz_plugins.gps.analytics import (
    DailyAccumulator,
    DailyMileage,
    TripDetector,
    aggregate_mileage,
    daily_mileage_rows,
    engine_seconds,
    filter_noise,
    overspeed_episodes,
    refuels,
    speed_segments,
    total_distance_m,
    trips_and_stops,
)
from carebiz_plugins.gps.fixes import Fix
from carebiz_plugins.gps.geo import haversine_m

DEV = "868120000000001"
T0 = datetime(2026, 11, 30, 1, 0, tzinfo=UTC)       # 09:00 in Shanghai, a Monday
LAT0, LON0 = 31.2304, 121.4737                        # People's Square, Shanghai

Row = tuple[float, float, float, float, bool | None]


def track(rows: Iterable[Row], *, t0: datetime = T0, valid: bool = True,
          fuel: Iterable[float] | None = None) -> list[Fix]:
    """Fixes from (seconds after ``t0``, lat, lon, speed km/h, ignition)."""
    fuels = list(fuel) if fuel is not None else None
    out = []
    for i, (s, lat, lon, v, ign) in enumerate(rows):
        out.append(Fix(DEV, t0 + timedelta(seconds=s), lat, lon, speed_kmh=v, valid=valid,
                       ignition=ign, fuel_l=fuels[i] if fuels is not None else None))
    return out


def drive(t: float, lat: float, lon: float, seconds: float, kmh: float,
          step: float = 10.0, dlon_per_dlat: float = 0.0) -> tuple[list[Row], float, float, float]:
    """A straight drive north(-east) at ``kmh``, one fix per ``step`` s, starting one step
    after ``t``; returns the rows and the (t, lat, lon) where it ended."""
    deg_per_s = kmh / 3.6 / 111_319.49   # metres per degree of latitude on our sphere
    rows: list[Row] = []
    n = int(seconds // step)
    for _ in range(n):
        t += step
        lat += deg_per_s * step
        lon += deg_per_s * step * dlon_per_dlat
        rows.append((t, lat, lon, kmh, True))
    return rows, t, lat, lon


def park(t: float, lat: float, lon: float, seconds: float, step: float = 10.0,
         ignition: bool | None = False) -> tuple[list[Row], float]:
    """Standing still at one place (speed 0) for ``seconds``."""
    rows: list[Row] = []
    for _ in range(int(seconds // step)):
        t += step
        rows.append((t, lat, lon, 0.0, ignition))
    return rows, t


def town_day() -> tuple[list[Fix], dict[str, tuple[float, float]]]:
    """Parked 10 min, 10 min drive, a 120 s red light, 10 min drive, 30 min lunch, 10 min
    drive, parked 10 min. Returns the fixes and the named places."""
    rows: list[Row] = [(0.0, LAT0, LON0, 0.0, False)]
    r, t = park(0.0, LAT0, LON0, 600)
    rows += r
    r, t, lat, lon = drive(t, LAT0, LON0, 600, 50)
    rows += r
    light = (lat, lon)
    r, t = park(t, lat, lon, 120, ignition=True)
    rows += r
    r, t, lat, lon = drive(t, lat, lon, 600, 50)
    rows += r
    lunch = (lat, lon)
    r, t = park(t, lat, lon, 1800)
    rows += r
    r, t, lat, lon = drive(t, lat, lon, 600, 50)
    rows += r
    home = (lat, lon)
    r, t = park(t, lat, lon, 600)
    rows += r
    return track(rows), {"start": (LAT0, LON0), "light": light, "lunch": lunch, "home": home}


def near(a: tuple[float, float], lat: float, lon: float, metres: float = 250.0) -> bool:
    return haversine_m(a[0], a[1], lat, lon) <= metres


# --- distances ------------------------------------------------------------------------------

def test_distance_matches_haversine_by_hand() -> None:
    """0.01° of latitude on the 6,378,137 m sphere is 1,113.19 m; three such steps 3,339.6 m."""
    assert haversine_m(31.0, 121.0, 31.01, 121.0) == pytest.approx(1113.195, abs=0.01)
    fixes = track([(0, 31.0, 121.0, 40, True), (100, 31.01, 121.0, 40, True),
                   (200, 31.02, 121.0, 40, True), (300, 31.03, 121.0, 40, True)])
    assert total_distance_m(fixes) == pytest.approx(3 * 1113.195, abs=0.05)
    accepted = filter_noise(fixes)
    assert [round(d, 1) for _, d in accepted] == [0.0, 1113.2, 1113.2, 1113.2]


# --- trips and stops ------------------------------------------------------------------------

def test_red_light_does_not_split_the_trip_but_lunch_does() -> None:
    fixes, place = town_day()
    trips, stops = trips_and_stops(fixes)
    # morning drive (with the red light inside) and the drive home after lunch
    assert len(trips) == 2
    morning, afternoon = trips
    assert morning.duration_s == pytest.approx(1200 + 120, abs=40)
    assert near(place["start"], morning.start_lat, morning.start_lon)
    assert near(place["lunch"], morning.end_lat, morning.end_lon)
    assert morning.distance_m == pytest.approx(2 * 50 / 3.6 * 600, rel=0.02)
    assert morning.max_speed_kmh == 50
    assert near(place["lunch"], afternoon.start_lat, afternoon.start_lon)
    assert near(place["home"], afternoon.end_lat, afternoon.end_lon)
    # no stop at the red light; the lunch stop is ~30 min at the lunch place
    assert not any(near(place["light"], s.latitude, s.longitude, 300) for s in stops)
    lunch = [s for s in stops if near(place["lunch"], s.latitude, s.longitude)]
    assert len(lunch) == 1
    assert lunch[0].duration_s == pytest.approx(1800, abs=40)
    # parking at the start closed as a stop when the drive began
    assert near(place["start"], stops[0].latitude, stops[0].longitude)
    assert stops[0].duration_s == pytest.approx(600, abs=20)


def test_open_segment_is_reported_up_to_now() -> None:
    fixes, place = town_day()
    _, closed = trips_and_stops(fixes)
    _, with_open = trips_and_stops(fixes, include_open=True)
    assert len(with_open) == len(closed) + 1
    last = with_open[-1]
    assert near(place["home"], last.latitude, last.longitude)
    assert last.end == fixes[-1].fix_time


def test_gps_jump_across_the_globe_is_noise() -> None:
    fixes, _ = town_day()
    clean_dist = total_distance_m(fixes)
    i = 80                                            # in the middle of the morning drive
    f = fixes[i]
    jump = Fix(DEV, f.fix_time + timedelta(seconds=5), -f.latitude, f.longitude - 180.0,
               speed_kmh=50)
    noisy = [*fixes[: i + 1], jump, *fixes[i + 1:]]
    assert total_distance_m(noisy) == pytest.approx(clean_dist, rel=0.01)
    assert trips_and_stops(noisy) == trips_and_stops(fixes)
    assert sum(r.distance_m for r in daily_mileage_rows(noisy)) == pytest.approx(clean_dist,
                                                                                  rel=0.01)


def test_invalid_and_zero_fixes_are_ignored() -> None:
    fixes, _ = town_day()
    i = 90
    f = fixes[i]
    junk = [Fix(DEV, f.fix_time + timedelta(seconds=3), 0.0, 0.0, speed_kmh=0),
            Fix(DEV, f.fix_time + timedelta(seconds=6), 39.9, 116.4, speed_kmh=80, valid=False)]
    noisy = [*fixes[: i + 1], *junk, *fixes[i + 1:]]
    assert total_distance_m(noisy) == pytest.approx(total_distance_m(fixes), abs=1e-6)
    assert trips_and_stops(noisy) == trips_and_stops(fixes)
    assert [f for f, _ in filter_noise(noisy)] == fixes


def test_two_hour_gap_ends_the_trip() -> None:
    rows: list[Row] = [(0.0, LAT0, LON0, 0.0, False)]
    r, t = park(0.0, LAT0, LON0, 300)
    rows += r
    r, t, lat, lon = drive(t, LAT0, LON0, 600, 40)
    rows += r
    before_gap = t
    # no data for two hours (tunnel car park, dead unit), then the drive goes on elsewhere
    r, t, lat, lon = drive(t + 7200, lat + 0.02, lon, 600, 40)
    rows += r
    r, t = park(t, lat, lon, 600)
    rows += r
    trips, stops = trips_and_stops(track(rows))
    assert len(trips) == 2
    assert trips[0].end == T0 + timedelta(seconds=before_gap)
    assert trips[1].start > trips[0].end + timedelta(hours=2) - timedelta(seconds=30)
    # the gap's time is trip for neither
    assert sum(tr.duration_s for tr in trips) < 2 * 600 + 60


# --- daily / weekly / monthly mileage -------------------------------------------------------

def test_daily_mileage_splits_at_shanghai_midnight() -> None:
    # 15:50–16:10 UTC is 23:50–00:10 in Shanghai; one fix a minute going north 0.01° each
    t0 = datetime(2026, 11, 30, 15, 50, tzinfo=UTC)
    rows = [(60.0 * k, 31.0 + 0.01 * k, 121.0, 40.0, True) for k in range(21)]
    fixes = track(rows, t0=t0)
    step = haversine_m(31.0, 121.0, 31.01, 121.0)
    days = daily_mileage_rows(fixes, "Asia/Shanghai")
    assert [d.day for d in days] == [date(2026, 11, 30), date(2026, 12, 1)]
    # fixes at 23:51 … 23:59 close 9 steps on the 30th; 00:00 … 00:10 close 11 on the 1st
    assert days[0].distance_m == pytest.approx(9 * step, rel=1e-6)
    assert days[1].distance_m == pytest.approx(11 * step, rel=1e-6)
    assert days[0].engine_seconds == 9 * 60
    assert days[1].engine_seconds == 11 * 60
    # the same fixes in UTC are one day
    utc = daily_mileage_rows(fixes)
    assert [d.day for d in utc] == [date(2026, 11, 30)]
    assert utc[0].distance_m == pytest.approx(20 * step, rel=1e-6)


def _row(day: date, km: float, engine: float = 0.0, fuel: float = 0.0,
         vmax: float = 0.0) -> DailyMileage:
    return DailyMileage(DEV, day, km * 1000, engine, fuel, vmax)


def test_weekly_and_monthly_aggregation() -> None:
    rows = [_row(date(2026, 11, 29), 10, 600, 1.0, 80),    # Sunday: the week of 23 Nov
            _row(date(2026, 11, 30), 20, 1200, 2.0, 95),   # Monday: a new week
            _row(date(2026, 12, 1), 30, 1800, 3.0, 70),    # Tuesday, December
            _row(date(2026, 12, 6), 5, 300, 0.5, 60)]      # Sunday, same week as the Monday
    weeks = aggregate_mileage(rows, "week")
    assert [(w.period, w.distance_m, w.days, w.max_speed_kmh) for w in weeks] == [
        (date(2026, 11, 23), 10_000, 1, 80), (date(2026, 11, 30), 55_000, 3, 95)]
    assert weeks[1].engine_seconds == 3300 and weeks[1].fuel_l == pytest.approx(5.5)
    months = aggregate_mileage(rows, "month")
    assert [(m.period, m.distance_m, m.days) for m in months] == [
        (date(2026, 11, 1), 30_000, 2), (date(2026, 12, 1), 35_000, 2)]
    days = aggregate_mileage(rows, "day")
    assert [d.distance_m for d in days] == [10_000, 20_000, 30_000, 5_000]


# --- overspeed ------------------------------------------------------------------------------

def _speeds(speeds: list[float], step: float = 10.0) -> list[Fix]:
    lat = LAT0
    rows = []
    for k, v in enumerate(speeds):
        rows.append((k * step, lat, LON0, v, True))
        lat += v / 3.6 * step / 111_319.49
    return track(rows)


def test_short_spike_is_not_an_episode_but_two_minutes_are() -> None:
    spike = _speeds([80] * 10 + [130, 135] + [80] * 10)           # 10 s above the limit
    assert overspeed_episodes(spike, 100, min_duration_s=60) == []
    assert len(overspeed_episodes(spike, 100)) == 1               # no minimum: it counts
    stretch = [105.0 + k for k in range(13)]                       # 120 s above, peak 117
    stretch[7] = 128.0
    fixes = _speeds([80] * 10 + stretch + [80] * 10)
    eps = overspeed_episodes(fixes, 100, min_duration_s=60)
    assert len(eps) == 1
    ep = eps[0]
    assert ep.max_speed_kmh == 128
    assert ep.start == fixes[10].fix_time
    assert ep.end == fixes[23].fix_time                            # first fix back below
    assert ep.duration_s == 130
    assert (ep.latitude, ep.longitude) == (fixes[17].latitude, fixes[17].longitude)


def test_overspeed_ignores_invalid_fixes_and_splits_at_a_gap() -> None:
    fixes = _speeds([120] * 20)
    bad = [Fix(DEV, fixes[5].fix_time + timedelta(seconds=1), LAT0, LON0, 300, valid=False)]
    eps = overspeed_episodes([*fixes[:6], *bad, *fixes[6:]], 100)
    assert len(eps) == 1 and eps[0].max_speed_kmh == 120
    later = [Fix(DEV, f.fix_time + timedelta(hours=3), f.latitude, f.longitude, 120)
             for f in fixes]
    assert len(overspeed_episodes(fixes + later, 100)) == 2


# --- engine time and fuel -------------------------------------------------------------------

def test_engine_seconds_from_ignition() -> None:
    rows = [(10.0 * k, LAT0, LON0, 0.0, k < 60) for k in range(120)]  # on 0–590 s, off after
    fixes = track(rows)
    assert engine_seconds(fixes) == 600
    (day,) = daily_mileage_rows(fixes)
    assert day.engine_seconds == 600
    # ignition on through a 2-hour hole: the hole is not engine time
    hole = [(10.0 * k + (7200 if k >= 30 else 0), LAT0, LON0, 0.0, True) for k in range(60)]
    assert engine_seconds(track(hole)) == 58 * 10


def test_fuel_used_with_a_refuel_reported_apart() -> None:
    n = 100
    levels = [50.0 - 0.1 * k for k in range(n)]          # 9.9 L burned
    levels += [levels[-1] + 30.0]                          # refuel at the station
    levels += [levels[-1] - 0.25 * k for k in range(1, 21)]  # 5 L more
    levels[50] += 0.2                                      # sensor wobble, not a refuel
    rows = [(10.0 * k, LAT0, LON0, 0.0, True) for k in range(len(levels))]
    fixes = track(rows, fuel=levels)
    (day,) = daily_mileage_rows(fixes)
    assert day.fuel_l == pytest.approx(9.9 + 5.0, abs=1e-6)
    assert day.refuel_l == pytest.approx(30.0, abs=1e-6)
    (rf,) = refuels(fixes)
    assert rf.added_l == pytest.approx(30.0)
    assert rf.fix_time == fixes[n].fix_time


# --- playback -------------------------------------------------------------------------------

def test_speed_segments_cover_the_track_without_holes() -> None:
    fixes, _ = town_day()
    segs = speed_segments(fixes)
    assert {s.band for s in segs} == {0, 1}               # 0 km/h parked, 50 km/h driving
    for a, b in zip(segs, segs[1:], strict=False):
        assert a.points[-1] == b.points[0]                  # shared boundary point
        assert a.band != b.band
    # every fix is drawn, in order, exactly once apart from the shared boundaries
    drawn = list(segs[0].points)
    for s in segs[1:]:
        drawn += s.points[1:]
    assert drawn == [(f.latitude, f.longitude) for f in fixes]
    assert segs[0].start == fixes[0].fix_time and segs[-1].end == fixes[-1].fix_time
    assert max(s.max_speed_kmh for s in segs) == 50


# --- incremental == batch (property) --------------------------------------------------------

_step = st.tuples(
    st.sampled_from([1.0, 5.0, 10.0, 10.0, 10.0, 30.0, 120.0, 4000.0]),   # dt, some gaps
    st.floats(-0.003, 0.003), st.floats(-0.003, 0.003),                   # moves
    st.floats(0, 140),                                                    # speed
    st.booleans(),                                                        # ignition
    st.sampled_from([True, True, True, True, False]),                     # valid
    st.booleans(),                                                        # stand still
)


def _random_track(steps: list[tuple[float, float, float, float, bool, bool, bool]]) -> list[Fix]:
    t, lat, lon = 0.0, LAT0, LON0
    fuel = 60.0
    out = []
    for dt, dlat, dlon, v, ign, valid, still in steps:
        t += dt
        if not still:
            lat += dlat
            lon += dlon
        fuel += 8.0 if dlat > 0.0029 else -abs(dlon) * 10
        out.append(Fix(DEV, T0 + timedelta(seconds=t), lat, lon, speed_kmh=0.0 if still else v,
                       valid=valid, ignition=ign, fuel_l=fuel))
    return out


@settings(max_examples=150, deadline=None)
@given(st.lists(_step, min_size=0, max_size=250), st.data())
def test_incremental_matches_batch(steps: list, data: st.DataObject) -> None:
    fixes = _random_track(steps)
    batch_trips, batch_stops = trips_and_stops(fixes)
    det = TripDetector(DEV)
    inc_trips, inc_stops = [], []
    for f in fixes:
        for seg in det.feed(f):
            (inc_trips if hasattr(seg, "distance_m") else inc_stops).append(seg)
    assert inc_trips == batch_trips
    assert inc_stops == batch_stops
    # trips and stops never overlap and run forward in time
    segs = sorted([*inc_trips, *inc_stops], key=lambda s: s.start)
    for a, b in zip(segs, segs[1:], strict=False):
        assert a.start <= a.end <= b.start

    acc = DailyAccumulator(DEV, "Asia/Shanghai")
    drains = set(data.draw(st.lists(st.integers(0, max(len(fixes) - 1, 0)), max_size=8)))
    got: dict[date, list[float]] = {}
    for i, f in enumerate(fixes):
        acc.feed(f)
        if i in drains:
            for r in acc.drain():
                _add(got, r)
    acc.settle()
    for r in acc.drain():
        _add(got, r)
    want = {r.day: r for r in daily_mileage_rows(fixes, "Asia/Shanghai")}
    assert set(got) == set(want)
    for day, (dist, eng, fuel, vmax, refuel) in got.items():
        w = want[day]
        assert dist == pytest.approx(w.distance_m, abs=1e-6)
        assert eng == pytest.approx(w.engine_seconds, abs=1e-6)
        assert fuel == pytest.approx(w.fuel_l, abs=1e-6)
        assert refuel == pytest.approx(w.refuel_l, abs=1e-6)
        assert vmax == w.max_speed_kmh
    assert sum(v[0] for v in got.values()) == pytest.approx(total_distance_m(fixes), abs=1e-6)
    assert sum(v[1] for v in got.values()) == pytest.approx(engine_seconds(fixes), abs=1e-6)


def _add(got: dict[date, list[float]], r: DailyMileage) -> None:
    a = got.setdefault(r.day, [0.0, 0.0, 0.0, 0.0, 0.0])
    a[0] += r.distance_m
    a[1] += r.engine_seconds
    a[2] += r.fuel_l
    a[3] = max(a[3], r.max_speed_kmh)
    a[4] += r.refuel_l


def test_wrong_first_fix_makes_no_phantom_trip() -> None:
    """A unit whose first fix is its last known place from days ago (Beijing) and then the
    truth (Shanghai): after the filter gives up on the jump, no 50-s trip across China."""
    rows: list[Row] = [(0.0, 39.9, 116.4, 0.0, False)]
    r, t = park(0.0, LAT0, LON0, 1200)
    rows += r
    r, t, lat, lon = drive(t, LAT0, LON0, 600, 50)
    rows += r
    r, t = park(t, lat, lon, 600)
    rows += r
    fixes = track(rows)
    trips, stops = trips_and_stops(fixes)
    assert len(trips) == 1
    assert near((LAT0, LON0), trips[0].start_lat, trips[0].start_lon)
    assert trips[0].distance_m == pytest.approx(50 / 3.6 * 600, rel=0.03)
    assert all(near((LAT0, LON0), s.latitude, s.longitude, 9000) for s in stops)
    assert total_distance_m(fixes) == pytest.approx(50 / 3.6 * 600, rel=0.01)


def test_a_refuel_seen_over_several_fixes_is_one_refuel() -> None:
    """At one fix per 10 s the tank sensor rises a few litres per fix while the pump runs:
    the rises add up to one refuel, not to "negative consumption"."""
    levels = [40.0 - 0.1 * k for k in range(30)]                 # 2.9 L burned
    levels += [levels[-1] + 2.0 * k for k in range(1, 16)]        # +30 L, 2 L a fix
    levels += [levels[-1] - 0.1 * k for k in range(1, 31)]        # 3 L more
    rows = [(10.0 * k, LAT0, LON0, 0.0, True) for k in range(len(levels))]
    fixes = track(rows, fuel=levels)
    (day,) = daily_mileage_rows(fixes)
    assert day.refuel_l == pytest.approx(30.0, abs=1e-6)
    assert day.fuel_l == pytest.approx(2.9 + 3.0, abs=1e-6)
    (rf,) = refuels(fixes)
    assert rf.added_l == pytest.approx(30.0)
    assert rf.fix_time == fixes[44].fix_time                      # where the level topped out


def test_daily_rows_follow_a_25_hour_day() -> None:
    """25 Oct 2026 in Berlin has 25 hours (clocks back at 03:00): a fix an hour before
    local midnight is still that day, one after is the next."""
    t0 = datetime(2026, 10, 24, 22, 0, tzinfo=UTC)            # 00:00 CEST on the 25th
    rows = [(3600.0 * h, 52.52 + 0.01 * h, 13.40, 30.0, True) for h in range(27)]
    days = daily_mileage_rows(track(rows, t0=t0), "Europe/Berlin")
    assert [d.day for d in days] == [date(2026, 10, 25), date(2026, 10, 26)]
    step = haversine_m(52.52, 13.40, 52.53, 13.40)
    # fixes at +1 h … +24 h are the 25th (00:00 CET on the 26th is 23:00 UTC, +25 h)
    assert days[0].distance_m == pytest.approx(24 * step, rel=1e-4)
    assert days[1].distance_m == pytest.approx(2 * step, rel=1e-4)
