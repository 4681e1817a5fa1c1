"""The GT06 server over real TCP on 127.0.0.1 (port 0), with the in-memory sink."""

from __future__ import annotations

import asyncio
import contextlib
import struct
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from carebiz.testing import run_async
from carebiz_plugins.gps.fixes import CommandToSend
from carebiz_plugins.gps.ingest.memory import MemorySink
from carebiz_plugins.gps.ingest.tcp import Gt06Server
from carebiz_plugins.gps.protocol import gt06

IMEI = "123456789012345"
LOGIN = bytes.fromhex("78780D01012345678901234500018CDD0D0A")
LOGIN_ACK = bytes.fromhex("787805010001d9dc0d0a")
GPS = bytes.fromhex("787819100B031A0B1B31CC027AC7FD0C4657BF0115210001001CC6070D0A")
GPS_ACK = bytes.fromhex("78780510001ccdf10d0a")
REPLY = bytes.fromhex("787829152100000000526573746f7265206675656c20737570706c793a2053756363657373"
                      "210002014077ce0d0a")


def login_frame(imei: str, serial: int = 1) -> bytes:
    body = struct.pack(">BB", 0x0D, 0x01) + bytes.fromhex("0" + imei) + struct.pack(">H", serial)
    return b"\x78\x78" + body + struct.pack(">H", gt06.crc16_x25(body)) + b"\r\n"


def gps_frame(t: datetime, lat: float, lon: float, serial: int) -> bytes:
    """A 0x12 GPS+cell frame, as a tracker sends it."""
    body = struct.pack(">BB6BBIIBH", 0x1F, 0x12, t.year - 2000, t.month, t.day, t.hour,
                       t.minute, t.second, 0xC9, int(lat * 1800000), int(lon * 1800000), 40,
                       0x1400 | 0xC000 | 90)
    body += bytes.fromhex("01cc00287d001f71") + struct.pack(">H", serial)
    return b"\x78\x78" + body + struct.pack(">H", gt06.crc16_x25(body)) + b"\r\n"


def run(test: Callable[[Gt06Server, MemorySink], Awaitable[None]], *,
        known: set[str] | None = None, idle_timeout: float = 30.0) -> MemorySink:
    sink = MemorySink(known if known is not None else {IMEI})

    async def main() -> None:
        server = Gt06Server(sink, idle_timeout=idle_timeout)
        await server.start("127.0.0.1", 0)
        try:
            await asyncio.wait_for(test(server, sink), 10)
        finally:
            await server.close()

    run_async(main())
    return sink


async def connect(server: Gt06Server) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", server.port)


async def until(cond: Callable[[], bool], timeout: float = 3.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not cond():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.005)


def test_login_then_data_acked_byte_exact() -> None:
    async def t(server: Gt06Server, sink: MemorySink) -> None:
        r, w = await connect(server)
        w.write(LOGIN)
        assert await r.readexactly(10) == LOGIN_ACK
        w.write(GPS)
        assert await r.readexactly(10) == GPS_ACK
        w.close()
        await until(lambda: sink.disconnects == [IMEI])

    sink = run(t)
    assert sink.logins[0][0] == IMEI and len(sink.fixes) == 1
    assert sink.fixes[0].raw == GPS and sink.fixes[0].device == IMEI


def test_data_before_login_is_dropped_without_ack() -> None:
    async def t(server: Gt06Server, sink: MemorySink) -> None:
        r, w = await connect(server)
        w.write(GPS)
        await until(lambda: server.stats.dropped_prelogin == 1)
        w.write(LOGIN)
        assert await r.readexactly(10) == LOGIN_ACK   # first bytes back are the login ack
        w.close()

    sink = run(t)
    assert sink.fixes == []


def test_split_and_concatenated_frames_over_the_wire() -> None:
    async def t(server: Gt06Server, sink: MemorySink) -> None:
        r, w = await connect(server)
        t0 = datetime(2026, 1, 1, tzinfo=UTC)
        frames = [gps_frame(t0 + timedelta(seconds=10 * i), 23.1, 114.4, i + 2) for i in range(6)]
        stream = LOGIN + b"".join(frames)
        for i in range(0, len(stream), 7):      # 7-byte dribbles
            w.write(stream[i:i + 7])
            await w.drain()
            await asyncio.sleep(0)
        await r.readexactly(10 * 7)
        w.write(b"".join(frames))               # then all at once: one sink call
        await r.readexactly(10 * 6)
        w.close()

    sink = run(t)
    assert len(sink.fixes) == 12
    assert sink.fixes[0].ignition is True and sink.fixes[0].course == 90


def test_unknown_imei_recorded_pending_and_not_acked() -> None:
    async def t(server: Gt06Server, sink: MemorySink) -> None:
        r, w = await connect(server)
        w.write(LOGIN + GPS)
        await until(lambda: server.stats.dropped_prelogin == 1)
        assert sink.pending == [IMEI]
        w.write(b"")
        try:
            data = await asyncio.wait_for(r.read(10), 0.2)
        except TimeoutError:
            data = b""
        assert data == b""
        assert not w.is_closing()      # kept open (see the module docstring)
        w.close()

    sink = run(t, known=set())
    assert sink.fixes == [] and server_unknown(sink)


def server_unknown(sink: MemorySink) -> bool:
    return [imei for imei, _, _ in sink.logins] == [IMEI]


def test_idle_timeout_closes() -> None:
    async def t(server: Gt06Server, sink: MemorySink) -> None:
        r, w = await connect(server)
        w.write(LOGIN)
        await r.readexactly(10)
        assert await asyncio.wait_for(r.read(), 2) == b""    # closed by the server
        assert server.stats.idle_closed == 1

    sink = run(t, idle_timeout=0.2)
    assert sink.disconnects == [IMEI]


def test_malformed_frame_counted_others_unaffected() -> None:
    async def t(server: Gt06Server, sink: MemorySink) -> None:
        r1, w1 = await connect(server)
        r2, w2 = await connect(server)
        w1.write(LOGIN)
        w2.write(LOGIN)
        await r1.readexactly(10)
        await r2.readexactly(10)
        bad = bytes.fromhex("787807100b031a0b0d0a")  # GPS header, body far too short
        w1.write(bad + b"\x00garbage\xff" + GPS)
        assert await r1.readexactly(10) == GPS_ACK  # same connection carries on
        w2.write(GPS)
        assert await r2.readexactly(10) == GPS_ACK
        assert server.stats.malformed == 1
        w1.close()
        w2.close()

    sink = run(t)
    assert len(sink.malformed_frames) == 1 and len(sink.fixes) == 2


def test_queued_command_sent_on_login_and_reply_recorded() -> None:
    sink_holder: list[MemorySink] = []

    async def t(server: Gt06Server, sink: MemorySink) -> None:
        sink_holder.append(sink)
        sink.queue_command(CommandToSend(7, IMEI, "Relay,1#"))
        r, w = await connect(server)
        w.write(LOGIN)
        assert await r.readexactly(10) == LOGIN_ACK
        cmd = await r.readexactly(23)
        assert cmd == gt06.encode_command("Relay,1#", serial=1)
        assert cmd[:-6] == bytes.fromhex("787812800c0000000052656c61792c3123")  # vector layout
        w.write(REPLY)
        await r.readexactly(10)
        w.close()

    sink = run(t)
    assert sink.sent == [7]
    assert sink.replies == [(IMEI, "Restore fuel supply: Success!")]


def test_500_concurrent_connections_all_stored() -> None:
    imeis = [f"86000000000{i:04d}" for i in range(500)]
    t0 = datetime(2026, 1, 1, tzinfo=UTC)

    async def one(server: Gt06Server, k: int) -> None:
        r, w = await connect(server)
        w.write(login_frame(imeis[k]))
        await r.readexactly(10)
        w.write(b"".join(gps_frame(t0 + timedelta(seconds=10 * i), 23.0 + k / 1000, 114.0, i + 2)
                         for i in range(4)))
        await r.readexactly(40)
        w.close()

    async def t(server: Gt06Server, sink: MemorySink) -> None:
        await asyncio.gather(*(one(server, k) for k in range(500)))
        assert server.stats.connections_total == 500

    sink = run(t, known=set(imeis))
    assert len(sink.fixes) == 2000
    assert {f.device for f in sink.fixes} == set(imeis)


def test_graceful_shutdown_reports_disconnects_and_serve_runs_until_cancelled() -> None:
    sink = MemorySink({IMEI})

    async def main() -> None:
        server = Gt06Server(sink)
        await server.start("127.0.0.1", 0)
        r, w = await connect(server)
        w.write(LOGIN + GPS)
        await r.readexactly(20)
        await server.close()
        assert await asyncio.wait_for(r.read(), 2) == b""
        assert server.status()["fixes"] == 1

        from carebiz_plugins.gps.ingest.tcp import serve
        ready = asyncio.Event()
        task = asyncio.ensure_future(serve("127.0.0.1", 0, sink, ready=ready))
        await asyncio.wait_for(ready.wait(), 2)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    run_async(main())
    assert sink.disconnects == [IMEI]
