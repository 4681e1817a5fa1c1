"""The values every part of the GPS plugin hands to the others.

The protocol decoder produces them, the ingest server passes them to a sink, the rules turn
them into alarms and the analytics into trips and mileage. They are plain frozen dataclasses
with no database or Flask in them, so each part is tested on its own and the ingest path
stays cheap (no ORM object per fix).

Times are timezone-aware UTC ``datetime``; distances metres; speeds km/h; course degrees
clockwise from north.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, Protocol

#: alarm types the API names (``GET /api/v1/gps/alarms`` items carry one of these as ``type``)
ALARM_TYPES: Final = (
    "sos", "power_cut", "vibration", "low_battery", "geofence_enter", "geofence_exit",
    "overspeed", "idle", "fatigue", "ignition_outside_hours", "offline",
)


@dataclass(frozen=True, slots=True)
class Fix:
    """One position report of one device."""

    device: str                      #: IMEI (or the HTTP client's id)
    fix_time: datetime               #: UTC, aware
    latitude: float
    longitude: float
    speed_kmh: float = 0.0
    course: int = 0
    valid: bool = True               #: the device had a satellite fix
    satellites: int | None = None
    ignition: bool | None = None     #: ACC, when the device reports it
    reupload: bool = False           #: buffered history sent late: stored, no live alarms
    odometer_m: int | None = None    #: when the device reports one
    fuel_l: float | None = None      #: when the device reports one
    attributes: Mapping[str, Any] = field(default_factory=dict)  #: cell, voltage, gsm …
    raw: bytes | None = None         #: the frame as received, kept for diagnosis


@dataclass(frozen=True, slots=True)
class DeviceStatus:
    """A heartbeat / status report (GT06 0x13) without a position."""

    device: str
    received_at: datetime
    ignition: bool | None = None
    charging: bool | None = None
    voltage_level: int | None = None   #: 0–6
    gsm_signal: int | None = None
    cut_off: bool | None = None        #: fuel/power cut relay active
    attributes: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class DeviceAlarm:
    """An alarm the device itself raised (SOS button, power cut, vibration, low battery …),
    with the fix it came with when it carried one."""

    device: str
    type: str                          #: one of :data:`ALARM_TYPES`, or ``other:<hex>``
    fix_time: datetime
    fix: Fix | None = None


@dataclass(frozen=True, slots=True)
class AlarmEvent:
    """An alarm to store and show: raised by the device or by a rule evaluated at ingest."""

    device: str
    type: str                          #: one of :data:`ALARM_TYPES`
    fix_time: datetime
    latitude: float | None = None
    longitude: float | None = None
    details: Mapping[str, Any] = field(default_factory=dict)  #: fence id, speed, limit, minutes …


@dataclass(frozen=True, slots=True)
class CommandToSend:
    """A queued command for a connected device (relay cut-off, restore, free text)."""

    id: int
    device: str
    text: str                          #: e.g. ``Relay,1#``, ``DYD,000000#``


@dataclass(frozen=True, slots=True)
class DeviceSession:
    """What the sink tells the server about a device that logged in."""

    device: str                        #: IMEI
    device_id: int                     #: row id in ``gps_device``
    tz_offset_min: int = 0             #: from the login frame; applied to device times


class IngestSink(Protocol):
    """Where the protocol servers (TCP GT06, HTTP OsmAnd) hand what devices send.

    The DB implementation batches writes in a worker thread; a test uses an in-memory one.
    Every method is awaited on the server's event loop and must not block it.
    """

    async def login(self, imei: str, peer: str, tz_offset_min: int | None) -> DeviceSession | None:
        """A known device gets a session; an unknown IMEI is recorded as pending and gets
        ``None`` (the server then acknowledges nothing and drops its frames)."""

    async def positions(self, session: DeviceSession, fixes: list[Fix]) -> None:
        """Store fixes (idempotently: device + fix_time once) and evaluate rules on the
        live ones."""

    async def status(self, session: DeviceSession, status: DeviceStatus) -> None:
        """A heartbeat: marks the device online, keeps battery / GSM / relay state."""

    async def alarm(self, session: DeviceSession, alarm: DeviceAlarm) -> None:
        """An alarm the device raised."""

    async def pending_commands(self, session: DeviceSession) -> list[CommandToSend]:
        """Commands queued for this device, to send now (on login and after each frame)."""

    async def command_sent(self, session: DeviceSession, command_id: int) -> None:
        """The command went out on the wire."""

    async def command_reply(self, session: DeviceSession, text: str) -> None:
        """The device answered a command (GT06 0x15 / 0x21)."""

    async def disconnected(self, session: DeviceSession) -> None:
        """The connection closed or timed out."""

    async def malformed(self, peer: str, frame: bytes, reason: str) -> None:
        """A frame that could not be decoded: counted and logged, nothing else."""
