"""The optimised analytics kernel against the plain per-fix implementation it replaced
(``reference_analytics.py``), on random tracks: same trips, stops, daily rows and distances
bit for bit; the single-pass :func:`trips_stops_mileage` equal to the two separate calls; a
batch fed in arbitrary chunks (as ``store_fixes`` does) equal to one call.

The random tracks mix parking with GPS wobble (the "near the stop point" shortcut), drives
(the anchor tests), gaps, invalid and 0/0 fixes, duplicates and jumps across the globe that
make the filter re-anchor, and fuel levels with refuels."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from carebiz_plugins.gps import analytics as fast
from carebiz_plugins.gps.fixes import Fix
from carebiz_plugins.gps.tests import reference_analytics as ref

DEV = "868120000000001"
T0 = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)       # 23:00 in Shanghai: a midnight inside

_step = st.tuples(
    st.sampled_from([0.0, 1.0, 10.0, 10.0, 10.0, 10.0, 60.0, 300.0, 4000.0]),  # 0: duplicate
    st.sampled_from(["park", "park", "drive", "drive", "jump", "invalid", "zero"]),
    st.floats(0, 140),                                  # speed while driving
    st.floats(-1, 1), st.floats(-1, 1),                 # direction / wobble
    st.booleans(),                                      # ignition
    st.sampled_from([-0.2, -0.1, 0.0, 0.3, 6.0]),       # fuel change (6 L: a refuel step)
)


def _track(steps: list[tuple[float, str, float, float, float, bool, float]]) -> list[Fix]:
    t, lat, lon, fuel = 0.0, 31.2304, 121.4737, 50.0
    out = []
    for dt, kind, v, a, b, ign, dfuel in steps:
        t += dt
        fuel += dfuel
        when = T0 + timedelta(seconds=t)
        if kind == "jump":
            out.append(Fix(DEV, when, -lat, lon - 180.0, speed_kmh=v, ignition=ign,
                           fuel_l=fuel))
            continue
        if kind == "invalid":
            out.append(Fix(DEV, when, lat + 1.0, lon, speed_kmh=v, valid=False))
            continue
        if kind == "zero":
            out.append(Fix(DEV, when, 0.0, 0.0))
            continue
        if kind == "drive":
            metres = v / 3.6 * max(dt, 1.0)
            lat += a * metres / 111_319.49
            lon += b * metres / 111_319.49
            speed = v
        else:
            speed = 0.0
        wobble = 4.0 / 111_319.49                       # a few metres of GPS noise
        out.append(Fix(DEV, when, lat + a * wobble, lon + b * wobble, speed_kmh=speed,
                       ignition=ign, fuel_l=fuel))
    return out


def _ref_trips(fixes: list[Fix], **kw: bool) -> tuple[list[fast.Trip], list[fast.Stop]]:
    return ref.trips_and_stops(fixes, **kw)  # type: ignore[return-value]


@settings(max_examples=200, deadline=None)
@given(st.lists(_step, max_size=300), st.lists(st.integers(0, 300), max_size=6))
def test_kernel_matches_the_plain_implementation(steps: list, cuts: list[int]) -> None:
    fixes = _track(steps)
    trips, stops = fast.trips_and_stops(fixes, include_open=True)
    assert (trips, stops) == _ref_trips(fixes, include_open=True)
    days = fast.daily_mileage_rows(fixes, "Asia/Shanghai")
    _same_days(days, ref.daily_mileage_rows(fixes, "Asia/Shanghai"))
    # one pass, one filter: the same as the two calls
    assert fast.trips_stops_mileage(fixes, "Asia/Shanghai", include_open=True) == (
        trips, stops, days)
    # distances fix by fix, as store_fixes writes them
    rflt = ref.NoiseFilter()
    assert fast.NoiseFilter().distances(fixes) == [rflt.accept(f) for f in fixes]
    racc = ref.DailyAccumulator(DEV)
    for f in fixes:
        racc.feed(f)
    racc.settle()
    assert fast.refuels(fixes) == racc.refuels

    # fed in chunks through one shared filter (the ingest path) = one call
    flt = fast.NoiseFilter()
    det = fast.TripDetector(DEV, noise_filter=flt)
    acc = fast.DailyAccumulator(DEV, "Asia/Shanghai", noise_filter=flt)
    segs: list[fast.Segment] = []
    dists: list[float | None] = []
    bounds = sorted({0, len(fixes), *(c for c in cuts if c < len(fixes))})
    got_days: dict = {}
    for lo, hi in zip(bounds, bounds[1:], strict=False):
        fast.run_kernel(flt, det, acc, fast.fix_rows(fixes[lo:hi]), dists, segs)
        for r in acc.drain():
            g = got_days.setdefault(r.day, [0.0, 0.0, 0.0, 0.0])
            g[0] += r.distance_m
            g[1] += r.engine_seconds
            g[2] = max(g[2], r.max_speed_kmh)
            g[3] += r.refuel_l
    acc.settle()
    for r in acc.drain():
        got_days.setdefault(r.day, [0.0, 0.0, 0.0, 0.0])[3] += r.refuel_l
    assert fast._split(det, segs, True) == (trips, stops)
    assert dists == fast.NoiseFilter().distances(fixes)
    assert set(got_days) == {d.day for d in days}
    for d in days:
        g = got_days[d.day]
        assert abs(g[0] - d.distance_m) < 1e-6 and abs(g[1] - d.engine_seconds) < 1e-6
        assert g[2] == d.max_speed_kmh and abs(g[3] - d.refuel_l) < 1e-6


def _same_days(got: list[fast.DailyMileage], want: list[fast.DailyMileage]) -> None:
    """Distance, engine time and top speed bit for bit; fuel to 1e-9 L (the kernel books a
    settled small rise before the day's summed drops, the plain code in between them)."""
    assert [(d.device, d.day, d.distance_m, d.engine_seconds, d.max_speed_kmh) for d in got] \
        == [(d.device, d.day, d.distance_m, d.engine_seconds, d.max_speed_kmh) for d in want]
    for g, w in zip(got, want, strict=True):
        assert abs(g.fuel_l - w.fuel_l) < 1e-9 and abs(g.refuel_l - w.refuel_l) < 1e-9


def test_resume_starts_from_the_stored_end() -> None:
    """After a restart the detector begins at the last stored stop's place: the first fix
    far from it opens a trip from there, none from the first fix after the restart."""
    det = fast.TripDetector(DEV)
    t0 = T0.timestamp()
    det.resume(t0, 31.2304, 121.4737)
    lat = 31.2304
    segs: list[fast.Segment] = []
    for k in range(1, 60):                               # drive north at 108 km/h
        lat += 300 / 111_319.49
        segs += det.feed_raw(t0 + 600 + 10 * k, lat, 121.4737, 108.0)
    for k in range(60, 90):                              # then park
        segs += det.feed_raw(t0 + 600 + 10 * k, lat, 121.4737, 0.0)
    trips = [s for s in segs if isinstance(s, fast.Trip)]
    assert len(trips) == 1 and trips[0].start_lat == 31.2304
    assert trips[0].start == T0                          # from the stored end
    assert trips[0].distance_m > 59 * 299                # measured from there too
