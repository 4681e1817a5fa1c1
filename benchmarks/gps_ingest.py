"""Sustained GT06 ingest into a real database: positions per second *stored*, beside the raw
bulk-insert rate of the same rows measured in the same run (issue 12, "Contract and speed").

Run ``.venv/bin/python benchmarks/gps_ingest.py`` (SQLite in a temp file, then PostgreSQL
when reachable at ``--pg`` — a scratch database is created and dropped). For each database:

1. the schema by the platform's migrations (core + gps), one branch, ``--trackers`` active
   devices (IMEIs of ``gps_load.imei_of``);
2. ``benchmarks/gps_load.py --serve`` in a separate process: it starts the GT06 server with
   the real :class:`~carebiz_plugins.gps.ingest.store.DbSink` (:func:`sink_factory`, a third
   process) and drives it from 2,000 simulated trackers on loopback, each sending GPS frames
   as fast as acks come back (``--window`` in flight). Acks are written only after the batch
   holding the fix is committed;
3. the rows in ``gps_position`` counted at the end → **stored/s** over the driving period;
4. the raw limit: the same number of rows, same columns and values (fix times shifted by 5 s,
   so none conflicts), written with a plain ``executemany`` INSERT in batches of the sink's
   size, one commit per batch, from this process: the database's own bulk-insert rate, no
   server, no protocol, no per-fix Python.

Alarms: when the rules pipeline (``ingest/pipeline.store_batch``) is installed, the sink
evaluates them on every batch and the line says so.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
URL_ENV = "GPS_INGEST_URL"
FLUSH_ENV = "GPS_INGEST_FLUSH"


def make_app(url: str) -> Any:
    from carebiz import create_app

    return create_app({"CAREBIZ_DATABASE_URL": url, "CAREBIZ_PLUGINS": "gps",
                       "SECRET_KEY": "bench",
                       "CAREBIZ_INSTANCE_PATH": tempfile.mkdtemp(prefix="carebiz-gps-bench-")})


def sink_factory() -> Any:
    """``--sink gps_ingest:sink_factory`` of gps_load's server process: the DbSink over the
    database named by ``GPS_INGEST_URL`` (``GPS_INGEST_FLUSH=seconds,fixes`` to tune)."""
    import logging

    from carebiz_plugins.gps.ingest.store import DbSink

    logging.basicConfig(level=logging.WARNING)
    app = make_app(os.environ[URL_ENV])
    seconds, _, fixes = os.environ.get(FLUSH_ENV, "").partition(",")
    kwargs: dict[str, Any] = {}
    if seconds:
        kwargs["flush_seconds"] = float(seconds)
    if fixes:
        kwargs["flush_fixes"] = int(fixes)
    return DbSink(app, **kwargs)


def prepare(url: str, trackers: int, fences: int = 10) -> Any:
    """Schema by migrations, one branch, ``trackers`` active devices, each on a vehicle in
    one group with an overspeed limit and ``fences`` geofences (circles and polygons along
    the simulated tracks, so enter/exit rules really run); 0 fences: no vehicles, no rules."""
    from sqlalchemy import insert

    from carebiz import migrate
    from carebiz.models import Branch
    from carebiz_plugins.gps.models import GpsDevice

    sys.path.insert(0, str(HERE))
    from gps_load import imei_of

    app = make_app(url)
    migrate.upgrade(app)
    ext = app.extensions["carebiz"]
    with ext.session_factory() as s:
        branch = Branch(code="B1", name="Bench", address="", phone="")
        s.add(branch)
        s.flush()
        now = datetime.now(UTC)
        s.execute(insert(GpsDevice.__table__), [
            {"imei": imei_of(k), "status": "active", "branch_id": branch.id,
             "label": f"bench {k}", "model": "", "phone": "", "password": "",
             "protocol": "gt06", "tz_offset_min": 0, "last_peer": "", "login_attempts": 0,
             "notes": "", "version": 1, "created_at": now, "updated_at": now}
            for k in range(trackers)])
        if fences:
            add_rules(s, branch.id, trackers, fences)
        s.commit()
    return app


def add_rules(s: Any, branch_id: int, trackers: int, fences: int) -> None:
    """One vehicle per device, all in one group (overspeed 120 km/h, idle and fatigue on)
    watched by ``fences`` fences: half circles of 400 m, half squares, spread over the
    latitudes the trackers of :func:`gps_load.gps_frame` drive through (23.0 + k·0.001)."""
    import json as _json

    from sqlalchemy import insert, select

    from carebiz.crm.models import Vehicle
    from carebiz.testing import valid_vin
    from carebiz_plugins.gps.models import (
        GpsDevice,
        GpsGeofence,
        GpsGeofenceGroup,
        GpsGroup,
        GpsGroupVehicle,
    )

    now = datetime.now(UTC)
    vehicle = Vehicle.__table__
    needed = {c.name for c in vehicle.columns if not c.nullable and c.default is None
              and c.server_default is None and not c.primary_key}
    rows = []
    for k in range(trackers):
        row: dict[str, Any] = {"vin": valid_vin(k + 1), "branch_id": branch_id,
                               "make": "Volkswagen", "model": "Lavida",
                               "created_at": now, "updated_at": now}
        for name in needed - row.keys():
            row[name] = "" if isinstance(vehicle.c[name].type.python_type(), str) else 0
        rows.append(row)
    s.execute(insert(vehicle), rows)
    vins = dict(s.execute(select(Vehicle.vin, Vehicle.id)).all())
    devices = s.execute(select(GpsDevice.id).order_by(GpsDevice.id)).scalars().all()
    for k, device_id in enumerate(devices):
        s.execute(GpsDevice.__table__.update().where(GpsDevice.id == device_id)
                  .values(vehicle_id=vins[valid_vin(k + 1)]))
    group = GpsGroup(name="Bench fleet", branch_id=branch_id, overspeed_kmh=120.0,
                     idle_minutes=10, fatigue_hours=4.0)
    s.add(group)
    s.flush()
    s.execute(insert(GpsGroupVehicle.__table__),
              [{"group_id": group.id, "vehicle_id": v} for v in vins.values()])
    span = max(trackers * 1e-3, 0.01)
    for n in range(fences):
        lat = 23.0 + span * (n + 0.5) / fences
        if n % 2 == 0:
            fence = GpsGeofence(name=f"Yard {n}", kind="circle", radius_m=400.0,
                                branch_id=branch_id, geometry=_json.dumps(
                                    {"type": "Point", "coordinates": [114.0, lat]}))
        else:
            d = 0.004
            ring = [[114.0 - d, lat - d], [114.0 + d, lat - d], [114.0 + d, lat + d],
                    [114.0 - d, lat + d], [114.0 - d, lat - d]]
            fence = GpsGeofence(name=f"Depot {n}", kind="polygon", branch_id=branch_id,
                                geometry=_json.dumps({"type": "Polygon",
                                                      "coordinates": [ring]}))
        s.add(fence)
        s.flush()
        s.execute(insert(GpsGeofenceGroup.__table__),
                  [{"geofence_id": fence.id, "group_id": group.id}])


def drive(url: str, args: argparse.Namespace) -> dict[str, Any]:
    """gps_load.py in its own process (which starts the DbSink server in a third)."""
    env = {**os.environ, URL_ENV: url}
    if args.flush:
        env[FLUSH_ENV] = args.flush
    cycle = max(64, int(args.duration * 20_000 / args.trackers) + 64)
    cmd = [sys.executable, str(HERE / "gps_load.py"), "--serve", "--json",
           "--sink", "gps_ingest:sink_factory", "--trackers", str(args.trackers),
           "--duration", str(args.duration), "--window", str(args.window),
           "--cycle", str(cycle)]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600,
                         cwd=str(HERE))
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
    if out.returncode or not lines:
        raise SystemExit(f"gps_load failed ({out.returncode}):\n{out.stdout}\n{out.stderr[-3000:]}")
    errors = [ln for ln in out.stderr.splitlines() if "Error" in ln or "Traceback" in ln]
    result: dict[str, Any] = json.loads(lines[-1])
    result["stderr_errors"] = errors[:5]
    return result


def count_rows(app: Any) -> int:
    from sqlalchemy import func, select

    from carebiz_plugins.gps.models import GpsPosition

    with app.extensions["carebiz"].session_factory() as s:
        return int(s.scalar(select(func.count()).select_from(GpsPosition)) or 0)


def count_alarms(app: Any) -> int:
    from sqlalchemy import func, select

    from carebiz_plugins.gps.models import GpsAlarm

    with app.extensions["carebiz"].session_factory() as s:
        return int(s.scalar(select(func.count()).select_from(GpsAlarm)) or 0)


def raw_insert_rate(app: Any, batch: int) -> tuple[int, float]:
    """The stored rows again (times + 5 s), plain executemany INSERT, a commit per batch."""
    from sqlalchemy import insert, select

    from carebiz_plugins.gps.models import GpsPosition

    t = GpsPosition.__table__
    cols = [c for c in t.columns if c.name != "id"]
    ext = app.extensions["carebiz"]
    with ext.engine.connect() as conn:
        rows = [dict(zip([c.name for c in cols], r, strict=True))
                for r in conn.execute(select(*cols))]
    shift = timedelta(seconds=5)
    for r in rows:
        r["fix_time"] = r["fix_time"] + shift
    stmt = insert(t)
    t0 = time.perf_counter()
    with ext.engine.connect() as conn:
        for i in range(0, len(rows), batch):
            conn.execute(stmt, rows[i:i + batch])
            conn.commit()
    return len(rows), time.perf_counter() - t0


def pipeline_installed() -> bool:
    try:
        from carebiz_plugins.gps.ingest import pipeline  # type: ignore[attr-defined]  # noqa: F401
    except ImportError:
        return False
    return True


def run_one(label: str, url: str, args: argparse.Namespace) -> dict[str, Any]:
    from carebiz_plugins.gps.ingest.store import FLUSH_FIXES

    app = prepare(url, args.trackers, args.fences)
    result = drive(url, args)
    stored = count_rows(app)
    n, raw_s = raw_insert_rate(app, FLUSH_FIXES)
    app.extensions["carebiz"].engine.dispose()
    server = result.get("server") or {}
    figures = {
        "db": label, "trackers": result["trackers"], "logged_in": result["logged_in"],
        "seconds": round(result["elapsed_s"], 2), "stored": stored,
        "stored_per_s": round(stored / result["elapsed_s"]),
        "acked_per_s": round(result["acked_per_s"]),
        "raw_rows": n, "raw_insert_per_s": round(n / raw_s) if raw_s else None,
        "server_fixes": server.get("fixes"), "sink_errors": server.get("sink_errors"),
        "alarms_evaluated": pipeline_installed(), "fences": args.fences,
        "alarms_raised": count_alarms(app), "stderr_errors": result["stderr_errors"],
    }
    print(f"{label}: {figures['stored_per_s']:,} positions/s stored "
          f"({stored:,} rows in {figures['seconds']} s from {figures['logged_in']} trackers; "
          f"acked {figures['acked_per_s']:,}/s; rules on, {args.fences} fences a vehicle, "
          f"{figures['alarms_raised']:,} alarms raised) | raw "
          f"executemany insert of the same {n:,} rows: {figures['raw_insert_per_s']:,} rows/s",
          flush=True)
    if figures["stderr_errors"]:
        print("  server errors: " + " | ".join(figures["stderr_errors"]), flush=True)
    return figures


def pg_scratch(base: str) -> tuple[str, Any] | None:
    """Create a scratch database next to ``base``; ``(url, drop)`` or None if unreachable."""
    try:
        import psycopg
    except ImportError:
        return None
    admin = base.replace("postgresql+psycopg://", "postgresql://")
    name = f"carebiz_gps_bench_{os.getpid()}"
    try:
        with psycopg.connect(admin, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except Exception as exc:  # not reachable: SQLite only
        print(f"PostgreSQL not reachable at {base}: {exc}", flush=True)
        return None
    head, _, _db = base.rpartition("/")

    def drop() -> None:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return f"{head}/{name}", drop


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--trackers", type=int, default=2000)
    ap.add_argument("--duration", type=float, default=10.0)
    ap.add_argument("--window", type=int, default=4)
    ap.add_argument("--fences", type=int, default=10,
                    help="geofences watching every vehicle (0: no vehicles, no rules)")
    ap.add_argument("--flush", default="", help="sink batching: seconds,fixes (default: the "
                                                "sink's own)")
    ap.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    ap.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
                    help="a PostgreSQL server to create the scratch database on")
    ap.add_argument("--json", help="also write the figures to this file")
    args = ap.parse_args()
    results = []
    if args.db in ("sqlite", "both"):
        with tempfile.TemporaryDirectory(prefix="carebiz-gps-ingest-") as tmp:
            results.append(run_one("sqlite", f"sqlite:///{tmp}/gps.db", args))
    if args.db in ("postgresql", "both"):
        scratch = pg_scratch(args.pg)
        if scratch is not None:
            url, drop = scratch
            try:
                results.append(run_one("postgresql", url, args))
            finally:
                drop()
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
