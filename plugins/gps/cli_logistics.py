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
