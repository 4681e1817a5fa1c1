"""``carebiz gps reminders``: the daily renewal reminders of service subscriptions, for a
cron line where no ``carebiz worker`` runs the scheduled job. Idempotent: running it twice
a day writes each reminder once."""

from __future__ import annotations

import datetime as dt

import click

from .cli import gps_cli


@gps_cli.command("reminders")
@click.option("--on", "on", default=None, help="Pretend today is this date (YYYY-MM-DD).")
def reminders(on: str | None) -> None:
    """Write renewal reminders on the timelines of customers whose tracking service ends
    within the reminder days (setting ``gps.subscription_reminder_days``)."""
    from carebiz import db

    from .services.subscriptions import send_reminders

    try:
        day = dt.date.fromisoformat(on) if on else None
    except ValueError as exc:
        raise click.BadParameter("a date as YYYY-MM-DD", param_hint="--on") from exc
    sent = send_reminders(db.session(), day)
    db.session().commit()
    click.echo(f"{sent} renewal reminder(s) written")


@gps_cli.command("subscribe-all")
@click.option("--start", default=None, help="First day of service (YYYY-MM-DD; default today).")
def subscribe_all(start: str | None) -> None:
    """Give every fitted tracker without a service subscription its first year (trackers
    registered before subscriptions existed, or while the plugin was switched off). Safe to
    run again: trackers that have one are left alone."""
    from sqlalchemy import select

    from carebiz import db

    from .models import GpsDevice, GpsSubscription
    from .services.subscriptions import subscribe

    try:
        day = dt.date.fromisoformat(start) if start else None
    except ValueError as exc:
        raise click.BadParameter("a date as YYYY-MM-DD", param_hint="--start") from exc
    session = db.session()
    devices = session.scalars(
        select(GpsDevice).where(GpsDevice.status == "active", GpsDevice.vehicle_id.is_not(None),
                                GpsDevice.id.not_in(select(GpsSubscription.device_id)))
        .order_by(GpsDevice.id)).all()
    for device in devices:
        subscribe(session, device, start_on=day)
    session.commit()
    click.echo(f"{len(devices)} tracker(s) subscribed")
