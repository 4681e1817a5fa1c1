"""Weekly time windows in the business's time zone: when a fence is active, when a vehicle
may have its ignition on.

Stored as ``{"days": [1, 2, 3, 4, 5], "from": "08:00", "to": "18:00"}`` (ISO weekdays,
Monday 1 … Sunday 7; wall-clock times of the business's zone). A window whose ``to`` is not
after its ``from`` runs over midnight (``22:00``–``06:00``): it belongs to the day it starts
on, so Friday's night shift ends on Saturday morning even when Saturday is not listed.
``from`` == ``to`` means the whole day. Missing ``days``: every day.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

_ALL_DAYS = frozenset(range(1, 8))


def _parse_time(value: Any, default: time) -> time:
    if value in (None, ""):
        return default
    if isinstance(value, time):
        return value
    text = str(value).strip()
    try:
        hours, _sep, minutes = text.partition(":")
        h, m = int(hours), int(minutes or 0)
    except ValueError as exc:
        raise ValueError(f"not a time of day (HH:MM): {text!r}") from exc
    if h == 24 and m == 0:
        return time.max
    if not (0 <= h < 24 and 0 <= m < 60):
        raise ValueError(f"not a time of day (HH:MM): {text!r}")
    return time(h, m)


@dataclass(frozen=True, slots=True)
class Schedule:
    """A weekly window, see the module docstring. Evaluate with :meth:`contains`."""

    days: frozenset[int] = _ALL_DAYS
    start: time = time.min
    end: time = time.min
    tz: ZoneInfo = ZoneInfo("UTC")

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None, tz: ZoneInfo) -> Schedule | None:
        """The schedule a fence or group stores, ``None`` when there is none (always on).
        Raises ``ValueError`` for days or times that do not read."""
        if not data:
            return None
        raw_days = data.get("days")
        days = _ALL_DAYS if raw_days in (None, []) else frozenset(int(d) for d in raw_days)
        if not days <= _ALL_DAYS:
            raise ValueError(f"weekdays are 1 (Monday) to 7 (Sunday): {sorted(days)}")
        return cls(days, _parse_time(data.get("from"), time.min),
                   _parse_time(data.get("to"), time.min), tz)

    def contains(self, when: datetime) -> bool:
        """Whether the aware ``when`` falls inside the window."""
        local = when.astimezone(self.tz)
        t = local.time()
        day = local.isoweekday()
        start, end = self.start, self.end
        if start == end:                         # the whole of each listed day
            return day in self.days
        if start < end:
            return day in self.days and start <= t < end
        # over midnight: the evening of a listed day, or the morning after one
        if t >= start:
            return day in self.days
        if t < end:
            return (local - timedelta(days=1)).isoweekday() in self.days
        return False
