"""``carebiz gps …``: the ingest server as a process of its own, and the upkeep of
positions (monthly partitions, retention)."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from typing import Any

import click
from flask import current_app
from flask.cli import AppGroup

gps_cli = AppGroup("gps", help="GPS tracking: ingest server and position upkeep.")


@gps_cli.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5023, show_default=True, type=int)
@click.option("--idle-timeout", default=600.0, show_default=True, type=float,
              help="Seconds of silence after which a device connection is closed.")
@click.option("--offline-sweep", default=30.0, show_default=True, type=float,
              help="Seconds between two checks for devices gone offline.")
# gscale: the OsmAnd HTTP server beside the GT06 one
@click.option("--osmand-port", default=None, type=int,
              help="Also serve OsmAnd-style HTTP reports (phone apps) on this port, e.g. 5055.")
def serve(host: str, port: int, idle_timeout: float, offline_sweep: float,
          osmand_port: int | None) -> None:
    """Run the GT06 TCP server, storing into this instance's database. Runs beside the web
    app; several may run behind a TCP load balancer (they share only the database). With
    ``--osmand-port`` an OsmAnd HTTP server runs in the same process on the same writer."""
    try:
        from .ingest.tcp import Gt06Server
    except ImportError as exc:  # gproto's server not installed in this build
        raise click.ClickException(f"the GT06 server is not available: {exc}") from exc
    from .ingest import pipeline
    from .ingest.store import DbSink

    app = current_app._get_current_object()  # type: ignore[attr-defined]

    async def main() -> None:
        sink = DbSink(app)
        await sink.start()
        server = Gt06Server(sink, idle_timeout=idle_timeout)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, stop.set)
        osmand = _osmand_server(app, sink) if osmand_port is not None else None
        # grules: the offline alarm is a periodic sweep, not a rule on fixes
        sweeper = asyncio.ensure_future(pipeline.run_offline_sweeps(sink.sweep_offline,
                                                                    offline_sweep))
        try:
            await server.start(host, port)
            # the real port (``--port 0`` picks one): a supervisor or a test reads this line
            click.echo(f"GT06 server on {host}:{server.port}", nl=True)
            if osmand is not None:
                await osmand.start(host, osmand_port or 0)
                click.echo(f"OsmAnd server on {host}:{osmand.port}", nl=True)
            sys.stdout.flush()
            await stop.wait()
        finally:
            sweeper.cancel()
            if osmand is not None:
                await osmand.close()
            await server.close()     # drains the connections' work into the sink
            await sink.close()       # flushes the last batch
        click.echo("GT06 server stopped")

    asyncio.run(main())


# --- gscale: OsmAnd HTTP server ------------------------------------------------------------

def _osmand_server(app: Any, sink: Any) -> Any:
    """The OsmAnd server on the GT06 server's sink, rate limited per identifier by the
    setting ``gps.osmand_rate_limit`` (read once at start)."""
    from carebiz.services import settings
    from carebiz.toolkit import host as app_host

    from .ingest.http import RATE, OsmandServer, db_identify, rate_item

    with app.app_context(), app.extensions["carebiz"].session_factory() as db:
        rate = rate_item(settings.get(db, app_host(), RATE))
    return OsmandServer(sink, identify=db_identify(sink), rate=rate)


# --- grules --------------------------------------------------------------------------------

@gps_cli.command("sweep-offline")
def sweep_offline() -> None:
    """Raise the offline alarms that are due now (what ``serve`` does every 30 s), for an
    installation that ingests over HTTP only and runs this from cron."""
    from carebiz.db import session as db_session

    from .ingest import pipeline

    session = db_session()
    result = pipeline.sweep_offline(session)
    session.commit()
    result.publish()
    click.echo(f"{len(result.alarms)} offline alarm(s) raised")


# --- gpart: monthly partitions and retention -----------------------------------------------

@gps_cli.command("partitions")
@click.option("--ahead", default=3, show_default=True, type=click.IntRange(min=0),
              help="Months after the current one to create partitions for (PostgreSQL).")
@click.option("--dry-run", is_flag=True, help="Only say what would be done.")
def partitions(ahead: int, dry_run: bool) -> None:
    """Keep the positions table: on PostgreSQL create the coming months' partitions (moving
    any rows waiting in the DEFAULT partition) and drop the months older than
    ``gps.retention_months``; on SQLite delete those old positions in batches. Trips, stops,
    daily mileage and alarms are kept. The daily job ``gps.daily_partitions`` runs the same."""
    from carebiz.db import session as db_session

    from .services.retention import upkeep

    for line in upkeep(db_session(), ahead=ahead, dry_run=dry_run).lines():
        click.echo(line)
