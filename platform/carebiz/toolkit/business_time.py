"""The business's clock: its time zone (``CAREBIZ_TIMEZONE``), what its wall clock shows now,
and the conversion of a wall-clock value typed into a form to an aware datetime.

The database stores aware UTC datetimes; people type and read the business's local time.
Every page, API and report that turns one into the other goes through these, so "today" means
the same day everywhere."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from flask import current_app, has_app_context

from carebiz.db import utcnow

#: the zone used outside an app (a script, a test without an app) or when none is set
FALLBACK_ZONE = "UTC"


def business_tz() -> ZoneInfo:
    """The business's time zone (``CAREBIZ_TIMEZONE``; UTC outside an app or when empty)."""
    name = current_app.config.get("CAREBIZ_TIMEZONE") if has_app_context() else None
    return ZoneInfo(name or FALLBACK_ZONE)


def local_now() -> dt.datetime:
    """Now on the business's wall clock, naive and to the minute, as ``datetime-local``
    inputs show it (a form's default "when")."""
    return utcnow().astimezone(business_tz()).replace(tzinfo=None, second=0, microsecond=0)


def today() -> dt.date:
    """Today's date in the business's time zone (not the server's, not UTC)."""
    return utcnow().astimezone(business_tz()).date()


def end_of_today() -> dt.datetime:
    """The last instant of today in the business's time zone, aware: "due by the end of
    today" compares with it."""
    tz = business_tz()
    return dt.datetime.combine(utcnow().astimezone(tz).date(), dt.time.max, tzinfo=tz)


def aware(value: dt.datetime | None) -> dt.datetime | None:
    """A naive wall-clock value (a ``datetime-local`` input) as an aware datetime in the
    business's time zone; None stays None, an aware value is kept as it is."""
    if value is None:
        return None
    if value.tzinfo is not None:
        return value
    return value.replace(tzinfo=business_tz())
