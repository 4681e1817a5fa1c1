"""How GPS codes read to people, in the reader's language: one place for the pages and the
notices sent to users (an alarm must read the same on the alarms page and in the e-mail)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask_babel import gettext as _


def alarm_label(kind: str) -> str:
    """The translated name of an alarm type (``fixes.ALARM_TYPES``); an unnamed device
    alarm (``other:<hex>``) reads as its code."""
    labels = {"sos": _("SOS"), "power_cut": _("Power cut"), "vibration": _("Vibration"),
              "low_battery": _("Low battery"), "geofence_enter": _("Entered a geofence"),
              "geofence_exit": _("Left a geofence"), "overspeed": _("Overspeed"),
              "idle": _("Idling"), "fatigue": _("Fatigue driving"),
              "ignition_outside_hours": _("Ignition outside hours"),
              "offline": _("Device offline")}
    return str(labels.get(kind, kind))


def duration(seconds: float) -> str:
    """``3 min 10 s``, ``1 h 5 min``, ``40 s``: how long an episode lasted."""
    hours, rest = divmod(int(round(seconds)), 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return _("%(h)s h %(min)s min", h=hours, min=minutes)
    if minutes:
        return _("%(min)s min %(s)s s", min=minutes, s=secs)
    return _("%(s)s s", s=secs)


def overspeed_summary(details: Mapping[str, Any] | None) -> str:
    """An overspeed alarm's figures in a line: "lasted 3 min 10 s, up to 131 km/h" once
    the episode ended, its figures so far while it runs (the ingest writes the final ones
    when it ends); empty when the details hold none."""
    details = details or {}
    seconds, top = details.get("duration_s"), details.get("max_speed_kmh")
    if not isinstance(seconds, int | float) or not isinstance(top, int | float):
        return ""
    speed = f"{top:.0f}"
    if details.get("ended_at"):
        return _("lasted %(duration)s, up to %(speed)s km/h", duration=duration(seconds),
                 speed=speed)
    return _("%(duration)s so far, up to %(speed)s km/h", duration=duration(seconds),
             speed=speed)
