"""The fleet daily-mileage report of issue 12 (target: 1,000 vehicles, a month, under 5 s).
Run with ``.venv/bin/python benchmarks/gps_fleet_mileage.py`` (``--pg URL`` for PostgreSQL
too, e.g. ``postgresql+psycopg://postgres@127.0.0.1:5432/wt_gperf``, default
``CAREBIZ_TEST_DATABASE_URL``; skipped when not given or not reachable).

A month of ``gps_mileage_daily`` rows is generated for ``--vehicles`` vehicles (one device
each, 30 days: 30,000 rows) in a scratch table of the same columns and indexes (no foreign
keys, so it stands alone). The report is THE query the mileage report runs on that table
(the API and query source are another helper's; this is the query on ``gps_mileage_daily``
directly): per vehicle and day the distance (km), engine hours and top speed for the period,
grouped in SQL, turned into report rows (dicts) in Python, plus each vehicle's month total.
Beside it, measured in the same run: the raw SELECT of the same rows (``fetchall``), the
floor any report over them stands on. Medians of ``--repeat`` runs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import statistics
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import (
    Column,
    Engine,
    Index,
    Integer,
    MetaData,
    Table,
    create_engine,
    func,
    select,
)

from carebiz_plugins.gps.models import GpsMileageDaily

FIRST = dt.date(2026, 11, 1)


def scratch_table(md: MetaData) -> Table:
    """``gps_mileage_daily``'s columns and indexes, without its foreign keys."""
    src = GpsMileageDaily.__table__
    t = Table("bench_gps_mileage_daily", md,
              *[Column(c.name, Integer() if c.foreign_keys else c.type,
                       primary_key=c.primary_key) for c in src.columns])
    Index("ix_bench_mileage_day", t.c.day, t.c.device_id)
    Index("ix_bench_mileage_vehicle", t.c.vehicle_id, t.c.day)
    return t


def fill(engine: Engine, t: Table, vehicles: int, days: int) -> None:
    rnd = random.Random(12)
    rows = [{"device_id": v, "day": FIRST + dt.timedelta(days=d), "vehicle_id": v,
             "distance_m": rnd.uniform(0, 400_000), "engine_seconds": rnd.randint(0, 36_000),
             "fuel_l": rnd.uniform(0, 40), "max_speed_kmh": rnd.uniform(0, 130),
             "positions": rnd.randint(0, 8640)}
            for v in range(1, vehicles + 1) for d in range(days)]
    with engine.begin() as conn:
        t.drop(conn, checkfirst=True)
        t.create(conn)
        for i in range(0, len(rows), 5000):
            conn.execute(t.insert(), rows[i:i + 5000])


def report(engine: Engine, t: Table, ids: list[int], lo: dt.date,
           hi: dt.date) -> tuple[list[dict[str, Any]], dict[int, float]]:
    """Per vehicle and day, and per vehicle for the period (what the report shows)."""
    stmt = (select(t.c.vehicle_id, t.c.day, func.sum(t.c.distance_m),
                   func.sum(t.c.engine_seconds), func.max(t.c.max_speed_kmh))
            .where(t.c.vehicle_id.in_(ids), t.c.day >= lo, t.c.day <= hi)
            .group_by(t.c.vehicle_id, t.c.day).order_by(t.c.vehicle_id, t.c.day))
    out: list[dict[str, Any]] = []
    totals: dict[int, float] = {}
    with engine.connect() as conn:
        for vid, day, dist, eng, vmax in conn.execute(stmt):
            km = round((dist or 0.0) / 1000, 1)
            out.append({"vehicle_id": vid, "day": day.isoformat(), "distance_km": km,
                        "engine_hours": round((eng or 0) / 3600, 2),
                        "max_speed_kmh": round(vmax or 0.0, 1)})
            totals[vid] = totals.get(vid, 0.0) + km
    return out, totals


def raw(engine: Engine, t: Table, ids: list[int], lo: dt.date, hi: dt.date) -> int:
    with engine.connect() as conn:
        return len(conn.execute(select(t).where(t.c.vehicle_id.in_(ids), t.c.day >= lo,
                                                t.c.day <= hi)).fetchall())


def timed(fn: Callable[[], object], repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples)


def run(name: str, url: str, vehicles: int, days: int, repeat: int) -> None:
    engine = create_engine(url)
    try:
        with engine.connect():
            pass
    except Exception as exc:  # not reachable: say so, go on
        print(f"{name}: not reachable ({type(exc).__name__}), skipped")
        return
    md = MetaData()
    t = scratch_table(md)
    t0 = time.perf_counter()
    fill(engine, t, vehicles, days)
    print(f"{name}: {vehicles * days:,} rows generated in {time.perf_counter() - t0:.1f} s")
    ids = list(range(1, vehicles + 1))
    lo, hi = FIRST, FIRST + dt.timedelta(days=days - 1)
    rows, totals = report(engine, t, ids, lo, hi)
    assert len(rows) == vehicles * days and len(totals) == vehicles
    r = timed(lambda: raw(engine, t, ids, lo, hi), repeat)
    q = timed(lambda: report(engine, t, ids, lo, hi), repeat)
    print(f"  raw SELECT of the rows       {r * 1000:8.1f} ms")
    print(f"  fleet daily-mileage report   {q * 1000:8.1f} ms  ×{q / r:4.2f} raw"
          f"  target < 5 s: {'met' if q < 5 else 'NOT met'}")
    with engine.begin() as conn:
        t.drop(conn)
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--vehicles", type=int, default=1000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--sqlite", default="sqlite:////tmp/carebiz_gps_fleet_bench.db")
    parser.add_argument("--pg", default=os.environ.get("CAREBIZ_TEST_DATABASE_URL", ""))
    args = parser.parse_args()
    run("SQLite", args.sqlite, args.vehicles, args.days, args.repeat)
    if args.pg:
        run("PostgreSQL", args.pg, args.vehicles, args.days, args.repeat)
    else:
        print("PostgreSQL: no --pg URL nor CAREBIZ_TEST_DATABASE_URL, skipped")


if __name__ == "__main__":
    main()
