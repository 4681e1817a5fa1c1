"""Cost of the GPS alarm rules per fix, without a database. Run with
``.venv/bin/python benchmarks/gps_rules.py`` (``--devices``, ``--fences``, ``--rounds``).

A fleet of 2,000 devices, each watched by 10 fences (4 circles, 4 twelve-sided polygons,
2 corridors of 20-point routes, every fence shared by the devices of one group of 50, as a
dealer's fleets would share their depots and routes) and by every limit (overspeed, idle,
fatigue, allowed ignition hours). Each round every device sends one fix, moving on a random
walk; the fixes go to :meth:`RuleEngine.evaluate` in batches of 1,000, as the ingest sink
flushes them. Three fleets:

- ``city``: fences scattered over a 40 km city, the usual case (most fences are far from
  most fixes: the bounding box answers);
- ``dense``: every fence of a device covers the area it drives in (each fix is tested
  against the geometry of all ten fences): the worst case;
- ``no rules``: the same fixes with no fences and no limits, the engine's floor (sorting
  a batch by device, the state's bookkeeping).

Prints microseconds per fix (median of ``--repeat`` runs; CPU time of the process, and the
wall clock beside it) and the alarms raised.
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from carebiz_plugins.gps.fixes import Fix
from carebiz_plugins.gps.rules import (
    DeviceRules,
    Fence,
    Limits,
    RuleEngine,
    Schedule,
    compile_fence,
)

CENTRE = (31.2304, 121.4737)
DEG_PER_M = 1 / 111_319.49
T0 = datetime(2026, 11, 2, 0, 0, tzinfo=UTC)


def fences_for(rnd: random.Random, base: int, lat: float, lon: float, spread_m: float
               ) -> tuple[Fence, ...]:
    out: list[Fence] = []

    def at() -> tuple[float, float]:
        return (lat + rnd.uniform(-spread_m, spread_m) * DEG_PER_M,
                lon + rnd.uniform(-spread_m, spread_m) * DEG_PER_M / math.cos(math.radians(lat)))

    for i in range(4):
        clat, clon = at()
        out.append(compile_fence(id=base + i, kind="circle", radius_m=rnd.uniform(300, 1500),
                                 geometry={"type": "Point", "coordinates": [clon, clat]},
                                 speed_limit_kmh=40 if i == 0 else None))
    for i in range(4):
        clat, clon = at()
        r = rnd.uniform(500, 2000) * DEG_PER_M
        ring = [[clon + r * math.cos(a) * rnd.uniform(0.7, 1.3) / math.cos(math.radians(clat)),
                 clat + r * math.sin(a) * rnd.uniform(0.7, 1.3)]
                for a in (2 * math.pi * k / 12 for k in range(12))]
        ring.append(ring[0])
        out.append(compile_fence(id=base + 4 + i, kind="polygon",
                                 geometry={"type": "Polygon", "coordinates": [ring]}))
    for i in range(2):
        clat, clon = at()
        line = []
        for _k in range(20):
            line.append([clon, clat])
            clat += rnd.uniform(-300, 300) * DEG_PER_M
            clon += rnd.uniform(100, 500) * DEG_PER_M
        out.append(compile_fence(id=base + 8 + i, kind="corridor", half_width_m=40,
                                 geometry={"type": "LineString", "coordinates": line}))
    return tuple(out)


def fleet(devices: int, per_group: int, dense: bool, rules_on: bool, seed: int = 7
          ) -> tuple[dict[str, DeviceRules], dict[str, tuple[float, float]]]:
    rnd = random.Random(seed)
    tz = ZoneInfo("Asia/Shanghai")
    hours = Schedule.from_json({"days": [1, 2, 3, 4, 5], "from": "07:00", "to": "20:00"}, tz)
    assert hours is not None
    limits = Limits(overspeed_kmh=90, overspeed_min_seconds=10, idle_minutes=10,
                    fatigue_hours=4, allowed_hours=(hours,)) if rules_on else Limits()
    rules: dict[str, DeviceRules] = {}
    start: dict[str, tuple[float, float]] = {}
    group_fences: tuple[Fence, ...] = ()
    for n in range(devices):
        if n % per_group == 0:
            home = (CENTRE[0] + rnd.uniform(-0.15, 0.15), CENTRE[1] + rnd.uniform(-0.15, 0.15))
            group_fences = fences_for(rnd, n * 10, *(home if dense else CENTRE),
                                      spread_m=1500 if dense else 20_000) if rules_on else ()
        imei = f"86{n:013d}"
        rules[imei] = DeviceRules(imei, n + 1, limits=limits, fences=group_fences)
        start[imei] = home if dense else (CENTRE[0] + rnd.uniform(-0.18, 0.18),
                                          CENTRE[1] + rnd.uniform(-0.18, 0.18))
    return rules, start


def rounds_of_fixes(start: dict[str, tuple[float, float]], rounds: int, seed: int = 3
                    ) -> list[Fix]:
    rnd = random.Random(seed)
    pos = dict(start)
    speed = {d: rnd.uniform(0, 100) for d in start}
    out: list[Fix] = []
    for r in range(rounds):
        t = T0 + timedelta(seconds=10 * r)
        for dev, (lat, lon) in pos.items():
            v = max(0.0, min(130.0, speed[dev] + rnd.uniform(-10, 10)))
            speed[dev] = v
            step = v / 3.6 * 10 * DEG_PER_M
            heading = rnd.uniform(0, 2 * math.pi)
            lat += step * math.cos(heading)
            lon += step * math.sin(heading)
            pos[dev] = (lat, lon)
            out.append(Fix(dev, t, lat, lon, speed_kmh=v, ignition=True))
    return out


def run(rules: dict[str, DeviceRules], fixes: list[Fix], batch: int
        ) -> tuple[float, float, int]:
    """(CPU seconds of this process, wall seconds, alarms). CPU time is the figure to
    read on a shared machine: the wall clock also counts other processes' turns."""
    engine = RuleEngine()
    alarms = 0
    c0, w0 = time.process_time(), time.perf_counter()
    for i in range(0, len(fixes), batch):
        alarms += len(engine.evaluate(fixes[i:i + batch], rules))
    return time.process_time() - c0, time.perf_counter() - w0, alarms


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--devices", type=int, default=2000)
    ap.add_argument("--group", type=int, default=50, help="devices sharing one set of fences")
    ap.add_argument("--rounds", type=int, default=30, help="fixes per device")
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    print(f"{args.devices} devices x 10 fences (shared by groups of {args.group}), "
          f"{args.rounds} fixes each, batches of {args.batch}")
    for name, dense, rules_on in (("city", False, True), ("dense", True, True),
                                  ("no rules", False, False)):
        rules, start = fleet(args.devices, args.group, dense, rules_on)
        fixes = rounds_of_fixes(start, args.rounds)
        cpu, wall, alarms = [], [], 0
        for _ in range(args.repeat):
            c, w, alarms = run(rules, fixes, args.batch)
            cpu.append(c)
            wall.append(w)
        med = statistics.median(cpu)
        print(f"{name:9s} {len(fixes):7d} fixes  {med * 1e6 / len(fixes):6.2f} us/fix CPU "
              f"({statistics.median(wall) * 1e6 / len(fixes):6.2f} wall)  "
              f"{len(fixes) / med:9,.0f} fixes/s  {alarms:6d} alarms")


if __name__ == "__main__":
    main()
