"""The GT06 TCP ingest server (asyncio).

One :class:`Gt06Connection` per tracker; :class:`Gt06Server` owns the listening socket, the
connections and the :class:`ServerStats` a health/status endpoint shows. Nothing here touches
a database: everything a device sends goes to an :class:`~carebiz_plugins.gps.fixes.IngestSink`.

Behaviour (what an integrator relies on):

- **Login first.** Frames before a successful login are dropped without an ack
  (``stats.dropped_prelogin``).
- **Unknown IMEI.** ``sink.login`` records it as pending and returns ``None``: no ack, and the
  connection's frames are dropped. The connection is *kept* (until the idle timeout): closing
  it makes the tracker reconnect at once, again and again, each time a pending-device write;
  a kept connection costs one socket. The sink is asked again at the device's next login
  frame, so assigning the device takes effect without waiting for a reconnect.
- **Acks after the sink accepted the data.** The frames of one read are decoded together;
  their fixes go to the sink in **one** ``sink.positions`` call and their acks are written
  after it returns. If the sink raises, nothing of that batch is acked (the device resends;
  writes are idempotent) and the connection is closed.
- **Commands.** ``sink.pending_commands`` is asked after login and after each read's frames
  (not per frame, to keep a DB sink's queries per read); each is encoded as 0x80, written,
  then ``sink.command_sent``. Replies (0x15 / 0x21) go to ``sink.command_reply``.
- **Malformed frames** go to ``sink.malformed`` and ``stats.malformed``; the connection and
  the others carry on. Bad CRCs are accepted (see :mod:`..protocol.gt06`) and counted in
  ``stats.crc_mismatch``.
- **Idle timeout** per connection (no bytes for ``idle_timeout`` s → closed), one timer per
  connection re-armed lazily (not per read).
- **Backpressure.** Reading pauses while a connection has unprocessed reads piled up, so a
  slow sink slows the devices instead of growing memory.
- **Graceful shutdown.** :meth:`Gt06Server.close` stops listening, lets each connection finish
  the batch it is handing to the sink, closes it and reports ``sink.disconnected``.

The server keeps no state beyond its connections, so several can run behind a TCP load
balancer against one database.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from carebiz_plugins.gps.fixes import DeviceSession, Fix, IngestSink
from carebiz_plugins.gps.protocol import gt06

log = logging.getLogger(__name__)

#: unprocessed reads per connection before reading pauses
MAX_BACKLOG = 32


@dataclass(slots=True)
class ServerStats:
    """Counters for a health/status endpoint (:meth:`as_dict`)."""

    connections: int = 0          #: open now
    connections_total: int = 0
    frames: int = 0
    fixes: int = 0
    acks: int = 0
    malformed: int = 0
    crc_mismatch: int = 0
    dropped_prelogin: int = 0
    unknown_logins: int = 0
    commands_sent: int = 0
    idle_closed: int = 0
    sink_errors: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


class Gt06Connection(asyncio.Protocol):
    """One tracker's TCP connection: frames in, sink calls, acks and commands out."""

    def __init__(self, sink: IngestSink, stats: ServerStats | None = None,
                 idle_timeout: float = 600.0, server: Gt06Server | None = None) -> None:
        self.sink = sink
        self.stats = stats if stats is not None else ServerStats()
        self.idle_timeout = idle_timeout
        self.server = server
        self.splitter = gt06.FrameSplitter()
        self.session: DeviceSession | None = None
        self.tz = 0
        self.peer = "?"
        self.transport: asyncio.Transport | None = None
        self._backlog: list[list[bytes]] = []
        self._worker: asyncio.Task[None] | None = None
        self._paused = False
        self._closed = False
        self._last = 0.0
        self._timer: asyncio.TimerHandle | None = None
        self._cmd_serial = 0
        self._loop: asyncio.AbstractEventLoop | None = None

    # --- asyncio.Protocol -------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        peer = transport.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
        self.stats.connections += 1
        self.stats.connections_total += 1
        self._loop = asyncio.get_running_loop()
        self._last = self._loop.time()
        if self.idle_timeout > 0:
            self._timer = self._loop.call_later(self.idle_timeout, self._check_idle)

    def data_received(self, data: bytes) -> None:
        if self._loop is not None:
            self._last = self._loop.time()
        frames = self.splitter.feed(data)
        if not frames:
            return
        self._backlog.append(frames)
        if self._worker is None:
            self._worker = asyncio.ensure_future(self._work())
        if len(self._backlog) >= MAX_BACKLOG and not self._paused and self.transport:
            self._paused = True
            self.transport.pause_reading()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._closed:
            return
        self._closed = True
        self.stats.connections -= 1
        if self._timer is not None:
            self._timer.cancel()
        if self.server is not None:
            self.server._connections.discard(self)
        if self._worker is None:
            self._finish()

    # --- work ---------------------------------------------------------------------------------

    def _finish(self) -> None:
        if self.session is not None and self.server is not None:
            self.server._spawn(self.sink.disconnected(self.session))
        elif self.session is not None:
            asyncio.ensure_future(self.sink.disconnected(self.session))

    async def drain_work(self) -> None:
        """Wait until every frame received so far is handled (tests, shutdown)."""
        while self._worker is not None:
            await asyncio.shield(self._worker)

    async def _work(self) -> None:
        try:
            while self._backlog:
                batch = self._backlog
                self._backlog = []
                for frames in batch:
                    await self._handle_read(frames)
                if self._paused and len(self._backlog) < MAX_BACKLOG // 2 and self.transport:
                    self._paused = False
                    self.transport.resume_reading()
        except Exception:  # the sink failed: nothing of this batch was acked
            self.stats.sink_errors += 1
            log.exception("gt06 %s: sink failed, closing the connection", self.peer)
            self._backlog = []
            if self.transport is not None:
                self.transport.close()
        finally:
            self._worker = None
            if self._closed:
                self._finish()

    async def _handle_read(self, frames: list[bytes]) -> None:
        stats = self.stats
        sink = self.sink
        out: list[bytes] = []
        fixes: list[Fix] = []
        fix_acks: list[bytes] = []
        now: datetime | None = None
        for raw in frames:
            stats.frames += 1
            session = self.session
            if session is None and raw[3 if raw[0] == 0x78 else 4] != gt06.PROTO_LOGIN:
                stats.dropped_prelogin += 1      # not even decoded: no session, no ack
                continue
            try:
                frame = gt06.decode(raw, session.device if session else "", self.tz, now)
            except gt06.MalformedFrame as exc:
                stats.malformed += 1
                log.info("gt06 %s: malformed frame %s (%s)", self.peer, raw.hex(), exc)
                await sink.malformed(self.peer, raw, str(exc))
                continue
            if not frame.crc_ok and frame.len_ok:
                stats.crc_mismatch += 1
                log.debug("gt06 %s: CRC mismatch in %s (accepted)", self.peer, raw.hex())
            login = frame.login
            if login is not None:
                if fixes:
                    await self._flush(fixes, fix_acks, out)
                    fixes, fix_acks = [], []
                new = await sink.login(login.imei, self.peer, login.tz_offset_min)
                if new is None:
                    stats.unknown_logins += 1
                    self.session = None
                    continue
                self.session = new
                self.tz = login.tz_offset_min if login.tz_offset_min is not None \
                    else new.tz_offset_min
                ack = frame.ack
                if ack:
                    out.append(ack)
                # commands queued while the device was offline go right after the login ack
                await self._write(out)
                out = []
                await self._send_commands()
                continue
            if session is None:
                stats.dropped_prelogin += 1
                continue
            if frame.fix is not None and frame.alarm is None:
                fixes.append(frame.fix)
                ack = frame.ack
                if ack:
                    fix_acks.append(ack)
                continue
            # anything else keeps its order with the fixes before it
            if fixes:
                await self._flush(fixes, fix_acks, out)
                fixes, fix_acks = [], []
            if frame.alarm is not None:
                if frame.fix is not None:
                    await sink.positions(session, [frame.fix])
                    stats.fixes += 1
                if frame.status is not None:
                    await sink.status(session, frame.status)
                await sink.alarm(session, frame.alarm)
            elif frame.status is not None:
                await sink.status(session, frame.status)
            elif frame.reply is not None:
                await sink.command_reply(session, frame.reply.text)
            ack = frame.ack
            if ack:
                out.append(ack)
        if fixes:
            await self._flush(fixes, fix_acks, out)
        await self._write(out)
        if self.session is not None:
            await self._send_commands()

    async def _flush(self, fixes: list[Fix], acks: list[bytes], out: list[bytes]) -> None:
        session = self.session
        assert session is not None
        await self.sink.positions(session, fixes)
        self.stats.fixes += len(fixes)
        out.extend(acks)

    async def _write(self, out: list[bytes]) -> None:
        if out and self.transport is not None and not self.transport.is_closing():
            self.transport.write(out[0] if len(out) == 1 else b"".join(out))
            self.stats.acks += len(out)

    async def _send_commands(self) -> None:
        session = self.session
        if session is None or self.transport is None or self.transport.is_closing():
            return
        commands = await self.sink.pending_commands(session)
        for command in commands:
            self._cmd_serial = (self._cmd_serial + 1) & 0xFFFF
            try:
                data = gt06.encode_command(command.text, self._cmd_serial)
            except (ValueError, UnicodeEncodeError):
                log.warning("gt06 %s: command %s cannot be encoded", self.peer, command.id)
                continue
            self.transport.write(data)
            self.stats.commands_sent += 1
            await self.sink.command_sent(session, command.id)

    def _check_idle(self) -> None:
        if self._closed or self._loop is None:
            return
        idle = self._loop.time() - self._last
        if idle >= self.idle_timeout:
            self.stats.idle_closed += 1
            log.info("gt06 %s: idle for %.0f s, closing", self.peer, idle)
            if self.transport is not None:
                self.transport.close()
        else:
            self._timer = self._loop.call_later(self.idle_timeout - idle, self._check_idle)


class Gt06Server:
    """Listening socket + connections + stats. ``await start(host, port)``, ``await close()``."""

    def __init__(self, sink: IngestSink, *, idle_timeout: float = 600.0) -> None:
        self.sink = sink
        self.idle_timeout = idle_timeout
        self.stats = ServerStats()
        self.started_at: datetime | None = None
        self._server: asyncio.Server | None = None
        self._connections: set[Gt06Connection] = set()
        self._tasks: set[asyncio.Future[None]] = set()

    def _protocol(self) -> Gt06Connection:
        conn = Gt06Connection(self.sink, self.stats, self.idle_timeout, self)
        self._connections.add(conn)
        return conn

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def start(self, host: str, port: int, *, backlog: int = 4096) -> asyncio.Server:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(self._protocol, host, port, backlog=backlog,
                                                reuse_address=True)
        self.started_at = datetime.now(UTC)
        names = ", ".join(str(s.getsockname()) for s in self._server.sockets)
        log.info("gt06 listening on %s", names)
        return self._server

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    def status(self) -> dict[str, object]:
        """For a health endpoint: counters plus when it started."""
        return {"protocol": "gt06", "started_at": self.started_at.isoformat() if self.started_at
                else None, **self.stats.as_dict()}

    async def close(self, timeout: float = 5.0) -> None:
        if self._server is not None:
            self._server.close()
        conns = list(self._connections)
        drains = [c.drain_work() for c in conns]
        if drains:
            await asyncio.wait_for(asyncio.gather(*drains, return_exceptions=True), timeout)
        for conn in conns:
            if conn.transport is not None:
                conn.transport.close()
        for _ in range(3):           # let the transports call connection_lost
            await asyncio.sleep(0)
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=timeout)
        if self._server is not None:
            await self._server.wait_closed()


async def serve(host: str, port: int, sink: IngestSink, *, idle_timeout: float = 600.0,
                ready: asyncio.Event | None = None) -> None:
    """Run a GT06 server until cancelled, then shut it down gracefully."""
    server = Gt06Server(sink, idle_timeout=idle_timeout)
    await server.start(host, port)
    if ready is not None:
        ready.set()
    try:
        await asyncio.Future()
    finally:
        await server.close()
