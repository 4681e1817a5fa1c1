"""How GPS codes read to people, in the reader's language: one place for the pages and the
notices sent to users (an alarm must read the same on the alarms page and in the e-mail)."""

from __future__ import annotations

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
