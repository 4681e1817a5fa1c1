"""``carebiz gps …``: the ingest server as a process of its own, and the upkeep of
positions (monthly partitions, retention)."""

from __future__ import annotations

import asyncio

import click
from flask import current_app
from flask.cli import AppGroup

gps_cli = AppGroup("gps", help="GPS tracking: ingest server and position upkeep.")


@gps_cli.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5023, show_default=True, type=int)
@click.option("--idle-timeout", default=600.0, show_default=True, type=float,
              help="Seconds of silence after which a device connection is closed.")
def serve(host: str, port: int, idle_timeout: float) -> None:
    """Run the GT06 TCP server, storing into this instance's database. Runs beside the web
    app; several may run behind a TCP load balancer (they share only the database)."""
    try:
        from .ingest import tcp
    except ImportError as exc:  # gproto's server not installed in this build
        raise click.ClickException(f"the GT06 server is not available: {exc}") from exc
    from .ingest.store import DbSink

    sink = DbSink(current_app._get_current_object())  # type: ignore[attr-defined]
    click.echo(f"GT06 server on {host}:{port}")

    async def main() -> None:
        await sink.start()
        try:
            await tcp.serve(host, port, sink, idle_timeout=idle_timeout)
        finally:
            await sink.close()

    asyncio.run(main())
