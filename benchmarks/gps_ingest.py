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


def prepare(url: str, trackers: int) -> Any:
    """Schema by migrations, one branch, ``trackers`` active devices."""
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
        s.commit()
    return app


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

    app = prepare(url, args.trackers)
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
        "alarms_evaluated": pipeline_installed(), "stderr_errors": result["stderr_errors"],
    }
    print(f"{label}: {figures['stored_per_s']:,} positions/s stored "
          f"({stored:,} rows in {figures['seconds']} s from {figures['logged_in']} trackers; "
          f"acked {figures['acked_per_s']:,}/s; alarms "
          f"{'evaluated' if figures['alarms_evaluated'] else 'not installed'}) | raw "
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
