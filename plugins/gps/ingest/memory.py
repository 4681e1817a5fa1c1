"""An in-memory :class:`~carebiz_plugins.gps.fixes.IngestSink`: records everything it is handed.

For the protocol and server tests, and the load generator's "no database" baseline (the
speed of the TCP server alone). ``keep=False`` counts instead of keeping lists, so a long
benchmark does not measure list growth.
"""

from __future__ import annotations

from collections import defaultdict

from carebiz_plugins.gps.fixes import (
    CommandToSend,
    DeviceAlarm,
    DeviceSession,
    DeviceStatus,
    Fix,
)


class MemorySink:
    """Known IMEIs log in; unknown ones are recorded in :attr:`pending` and refused."""

    def __init__(self, known: set[str] | None = None, *, accept_all: bool = False,
                 keep: bool = True) -> None:
        self.known = set(known or ())
        self.accept_all = accept_all
        self.keep = keep
        self._ids: dict[str, int] = {}
        self.logins: list[tuple[str, str, int | None]] = []
        self.pending: list[str] = []
        self.fixes: list[Fix] = []
        self.batches = 0
        self.fix_count = 0
        self.statuses: list[DeviceStatus] = []
        self.alarms: list[DeviceAlarm] = []
        self.replies: list[tuple[str, str]] = []
        self.queued: dict[str, list[CommandToSend]] = defaultdict(list)
        self.sent: list[int] = []
        self.disconnects: list[str] = []
        self.malformed_frames: list[tuple[str, bytes, str]] = []

    def queue_command(self, command: CommandToSend) -> None:
        self.queued[command.device].append(command)

    async def login(self, imei: str, peer: str, tz_offset_min: int | None) -> DeviceSession | None:
        self.logins.append((imei, peer, tz_offset_min))
        if not self.accept_all and imei not in self.known:
            self.pending.append(imei)
            return None
        device_id = self._ids.setdefault(imei, len(self._ids) + 1)
        return DeviceSession(imei, device_id, tz_offset_min or 0)

    async def positions(self, session: DeviceSession, fixes: list[Fix]) -> None:
        self.batches += 1
        self.fix_count += len(fixes)
        if self.keep:
            self.fixes.extend(fixes)

    async def status(self, session: DeviceSession, status: DeviceStatus) -> None:
        if self.keep:
            self.statuses.append(status)

    async def alarm(self, session: DeviceSession, alarm: DeviceAlarm) -> None:
        if self.keep:
            self.alarms.append(alarm)

    async def pending_commands(self, session: DeviceSession) -> list[CommandToSend]:
        if not self.queued:
            return []
        return list(self.queued.get(session.device, ()))

    async def command_sent(self, session: DeviceSession, command_id: int) -> None:
        self.sent.append(command_id)
        queue = self.queued.get(session.device)
        if queue is not None:
            queue[:] = [c for c in queue if c.id != command_id]
            if not queue:
                del self.queued[session.device]

    async def command_reply(self, session: DeviceSession, text: str) -> None:
        self.replies.append((session.device, text))

    async def disconnected(self, session: DeviceSession) -> None:
        self.disconnects.append(session.device)

    async def malformed(self, peer: str, frame: bytes, reason: str) -> None:
        self.malformed_frames.append((peer, frame, reason))


def factory() -> MemorySink:
    """``--sink carebiz_plugins.gps.ingest.memory:factory``: accepts every IMEI, counts only."""
    return MemorySink(accept_all=True, keep=False)
