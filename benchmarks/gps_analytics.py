"""Speed of the GPS analytics over one vehicle's month. Run with
``.venv/bin/python benchmarks/gps_analytics.py`` (``--days N`` for another period).

One fix every 10 s for 30 days (259,200 fixes, as a unit reporting while parked too), each day
a realistic mix: parked overnight, a morning commute with red lights, errands with short
stops, a lunch stop, an afternoon drive at highway speed, the drive home. Timed:
``trips_and_stops``, ``daily_mileage_rows`` (Asia/Shanghai days), ``overspeed_episodes`` and
``speed_segments`` — what a monthly report or a recompute runs — and the figure issue 12 asks
for (trips + stops + daily mileage of the month under 1 s): ``trips_stops_mileage`` (one pass,
one noise filter) and, for comparison, the two separate calls. Beside them the raw limit of
the same work measured in the same run: a bare haversine loop over the same Fix list
(attribute reads + one distance per fix), the floor no per-fix analytics can go under in
pure Python. Medians of ``--repeat`` runs, wall clock.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from math import cos, sin

from carebiz_plugins.gps.analytics import (
    daily_mileage_rows,
    overspeed_episodes,
    speed_segments,
    trips_and_stops,
    trips_stops_mileage,
)
from carebiz_plugins.gps.fixes import Fix
from carebiz_plugins.gps.geo import haversine_m

DEV = "868120000000001"
STEP = 10.0
DEG_PER_M = 1 / 111_319.49


def month_of_fixes(days: int, seed: int = 12) -> list[Fix]:
    """A day plan of (kind, seconds, km/h) repeated with jitter, one fix per ``STEP``."""
    rnd = random.Random(seed)
    start = datetime(2026, 11, 1, tzinfo=UTC) - timedelta(hours=8)   # local midnight
    fixes: list[Fix] = []
    lat, lon = 31.2304, 121.4737
    heading = 0.0
    t = -STEP                      # first fix at local midnight, last at 23:59:50
    for _day in range(days):
        plan: list[tuple[str, float, float]] = [("park", 7.5 * 3600, 0)]
        for _ in range(6):                                  # commute with red lights
            plan += [("drive", rnd.uniform(120, 300), rnd.uniform(30, 60)),
                     ("light", rnd.uniform(30, 120), 0)]
        plan += [("park", 3 * 3600, 0)]
        for _ in range(3):                                  # errands
            plan += [("drive", rnd.uniform(300, 900), rnd.uniform(25, 55)),
                     ("park", rnd.uniform(600, 1500), 0)]
        plan += [("park", 3600, 0), ("drive", 2400, 105), ("park", 1800, 0),
                 ("drive", 2400, 100)]
        used = sum(int(p[1] // STEP) for p in plan)
        plan += [("park", max(0, 8640 - used) * STEP, 0)]     # exactly 8,640 fixes a day
        for kind, seconds, kmh in plan:
            moving = kind == "drive"
            for _ in range(int(seconds // STEP)):
                t += STEP
                if moving:
                    v = max(0.0, kmh + rnd.gauss(0, 6))
                    heading += rnd.gauss(0, 0.05)
                    m = v / 3.6 * STEP
                    lat += m * DEG_PER_M * cos(heading)
                    lon += m * DEG_PER_M * sin(heading) / 0.855   # cos(31°)
                else:
                    v = 0.0
                jitter = rnd.gauss(0, 3) * DEG_PER_M                # 3 m GPS wobble
                fixes.append(Fix(DEV, start + timedelta(seconds=t), lat + jitter,
                                 lon + jitter, speed_kmh=v, ignition=kind != "park",
                                 fuel_l=60.0 - (t % 86400) / 86400 * 8))
    return fixes


def raw_haversine(fixes: list[Fix]) -> float:
    total = 0.0
    p = fixes[0]
    for f in fixes:
        total += haversine_m(p.latitude, p.longitude, f.latitude, f.longitude)
        p = f
    return total


def timed(fn: Callable[[], object], repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    fixes = month_of_fixes(args.days)
    trips, stops = trips_and_stops(fixes)
    rows = daily_mileage_rows(fixes, "Asia/Shanghai")
    print(f"{len(fixes):,} fixes over {args.days} days: {len(trips)} trips, {len(stops)} stops,"
          f" {len(rows)} daily rows, {sum(r.distance_m for r in rows) / 1000:,.1f} km")
    raw = timed(lambda: raw_haversine(fixes), args.repeat)
    figures = [
        ("raw limit: bare haversine loop", raw),
        ("trips_and_stops", timed(lambda: trips_and_stops(fixes), args.repeat)),
        ("daily_mileage_rows (Asia/Shanghai)",
         timed(lambda: daily_mileage_rows(fixes, "Asia/Shanghai"), args.repeat)),
        ("overspeed_episodes (100 km/h, 60 s)",
         timed(lambda: overspeed_episodes(fixes, 100, 60), args.repeat)),
        ("speed_segments", timed(lambda: speed_segments(fixes), args.repeat)),
    ]
    both = timed(lambda: (trips_and_stops(fixes), daily_mileage_rows(fixes, "Asia/Shanghai")),
                 args.repeat)
    figures.append(("trips + stops + daily mileage (2 calls)", both))
    one = timed(lambda: trips_stops_mileage(fixes, "Asia/Shanghai"), args.repeat)
    figures.append(("trips_stops_mileage (one pass)", one))
    for name, secs in figures:
        print(f"{name:<40} {secs * 1000:9.1f} ms  {len(fixes) / secs / 1e6:6.2f} M fixes/s"
              f"  ×{secs / raw:5.2f} raw")
    verdict = "met" if one < 1.0 else "NOT met"
    print(f"target trips + stops + daily mileage of the month < 1 s: {verdict}"
          f" ({one * 1000:.0f} ms)")


if __name__ == "__main__":
    main()
