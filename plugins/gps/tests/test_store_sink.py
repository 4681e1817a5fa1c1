"""DbSink: each IngestSink call against the database, and end to end behind the real GT06
server on 127.0.0.1 (port 0)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from carebiz.testing import make_vehicle, run_async
from carebiz_plugins.gps.fixes import DeviceAlarm, DeviceStatus, Fix
from carebiz_plugins.gps.ingest.store import DbSink
from carebiz_plugins.gps.ingest.tcp import Gt06Server
from carebiz_plugins.gps.models import (
    GpsAlarm,
    GpsCommand,
    GpsDevice,
    GpsDeviceState,
    GpsPosition,
)
from carebiz_plugins.gps.services import positions

IMEI = "123456789012345"
LOGIN = bytes.fromhex("78780D01012345678901234500018CDD0D0A")
LOGIN_ACK = bytes.fromhex("787805010001d9dc0d0a")
GPS = bytes.fromhex("787819100B031A0B1B31CC027AC7FD0C4657BF0115210001001CC6070D0A")
GPS_ACK = bytes.fromhex("78780510001ccdf10d0a")
T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


@pytest.fixture
def device(session: Any, seeded: dict[str, Any]) -> dict[str, int]:
    positions.reset_caches()
    branch = seeded["branches"]["A"]
    vehicle = make_vehicle(session, 1, branch)
    dev = GpsDevice(imei=IMEI, vehicle_id=vehicle.id, branch_id=branch, status="active")
    session.add(dev)
    session.commit()
    return {"id": int(dev.id), "vehicle": int(vehicle.id), "branch": branch}


def with_sink(app: Flask, test: Callable[[DbSink], Awaitable[None]]) -> DbSink:
    sink = DbSink(app, flush_seconds=0.05)

    async def main() -> None:
        await sink.start()
        try:
            await asyncio.wait_for(test(sink), 10)
        finally:
            await sink.close()

    run_async(main())
    return sink


def test_sink_calls(app: Flask, session: Any, device: dict[str, int]) -> None:
    cmd = GpsCommand(device_id=device["id"], kind="restore", text="Relay,0#",
                     branch_id=device["branch"])
    session.add(cmd)
    session.commit()

    async def test(sink: DbSink) -> None:
        assert await sink.login("864717003283581", "10.0.0.9:1", None) is None
        s = await sink.login(IMEI, "10.0.0.1:2", 480)
        assert s is not None and s.device_id == device["id"] and s.tz_offset_min == 480
        fixes = [Fix(IMEI, T0 + timedelta(seconds=i), 30.0, 120.0 + i * 0.0001)
                 for i in range(3)]
        # two connections' batches go into one transaction
        await asyncio.gather(sink.positions(s, fixes[:2]), sink.positions(s, fixes[2:]))
        await sink.status(s, DeviceStatus(IMEI, T0, voltage_level=5, gsm_signal=3,
                                          cut_off=True))
        await sink.alarm(s, DeviceAlarm(IMEI, "sos", T0, fixes[0]))
        pending = await sink.pending_commands(s)
        assert [c.text for c in pending] == ["Relay,0#"]
        await sink.command_sent(s, pending[0].id)
        assert await sink.pending_commands(s) == []
        await sink.command_reply(s, "Restore fuel supply: Success!")
        await sink.malformed("10.0.0.1:2", b"\x00\x01", "bad crc")
        await sink.disconnected(s)

    sink = with_sink(app, test)
    assert sink.malformed_count == 1 and sink.batches == 1
    session.expire_all()
    assert len(session.scalars(select(GpsPosition)).all()) == 3
    state = session.get(GpsDeviceState, device["id"])
    assert (state.voltage_level, state.gsm_signal, state.cut_off) == (5, 3, True)
    assert state.alarm_open == 1
    assert state.online is False and state.fix_time == T0 + timedelta(seconds=2)
    alarm = session.scalar(select(GpsAlarm))
    assert (alarm.type, alarm.status, alarm.vehicle_id, alarm.branch_id) == (
        "sos", "open", device["vehicle"], device["branch"])
    cmd = session.get(GpsCommand, cmd.id)
    assert cmd.status == "replied" and cmd.reply.startswith("Restore") and cmd.sent_at
    pend = session.scalar(select(GpsDevice).where(GpsDevice.imei == "864717003283581"))
    assert pend.status == "pending" and pend.login_attempts == 1
    assert session.get(GpsDevice, device["id"]).tz_offset_min == 480


def test_logins_of_one_moment_share_a_transaction(app: Flask, session: Any,
                                                  device: dict[str, int]) -> None:
    """A reconnect storm: known, unknown and repeated IMEIs logging in at once are answered
    each as alone, in one transaction; the known device keeps its timezone when a login
    carries none, and the unknown one is pending once with both attempts counted."""
    stranger = "864717003283581"

    async def test(sink: DbSink) -> None:
        answers = await asyncio.gather(
            sink.login(IMEI, "10.0.0.1:1", None), sink.login(stranger, "10.0.0.9:1", None),
            sink.login(stranger, "10.0.0.9:2", None), sink.login(IMEI, "10.0.0.1:2", 480))
        assert answers[1] is None and answers[2] is None
        assert answers[0] is not None and answers[0].device_id == device["id"]
        assert answers[0].tz_offset_min == 0
        assert answers[3] is not None and answers[3].tz_offset_min == 480
        later = await sink.login(IMEI, "10.0.0.1:3", None)
        assert later is not None and later.tz_offset_min == 480   # kept from the last login

    batches: list[int] = []
    original = DbSink._flush_logins

    async def counting(self: DbSink) -> None:
        batches.append(len(self._logins))
        await original(self)

    DbSink._flush_logins = counting  # type: ignore[method-assign]
    try:
        with_sink(app, test)
    finally:
        DbSink._flush_logins = original  # type: ignore[method-assign]
    assert batches == [4, 1]
    session.expire_all()
    dev = session.get(GpsDevice, device["id"])
    assert dev.last_peer == "10.0.0.1:3" and dev.tz_offset_min == 480 and dev.last_seen
    pend = session.scalars(select(GpsDevice).where(GpsDevice.imei == stranger)).all()
    assert len(pend) == 1 and pend[0].status == "pending" and pend[0].login_attempts == 2


def test_end_to_end_gt06(app: Flask, session: Any, device: dict[str, int]) -> None:
    async def test(sink: DbSink) -> None:
        server = Gt06Server(sink, idle_timeout=30)
        await server.start("127.0.0.1", 0)
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            writer.write(LOGIN)
            assert await reader.readexactly(len(LOGIN_ACK)) == LOGIN_ACK
            writer.write(GPS)
            assert await reader.readexactly(len(GPS_ACK)) == GPS_ACK
            writer.close()
        finally:
            await server.close()

    with_sink(app, test)
    session.expire_all()
    row = session.scalar(select(GpsPosition))
    assert row.device_id == device["id"]
    assert row.fix_time == datetime(2011, 3, 26, 11, 27, 49, tzinfo=UTC)
    assert row.latitude == pytest.approx(23.111678, abs=1e-5)
    assert row.longitude == pytest.approx(114.409208, abs=1e-5)
    assert row.raw == GPS


def test_cli_serve_stores_through_db_sink(app: Flask, device: dict[str, int],
                                          tmp_path: Any) -> None:
    """``carebiz gps serve --port 0`` as its own process: prints its port, acks a registered
    device's login after looking it up in the database, stops cleanly on SIGTERM."""
    import os
    import socket
    import subprocess
    import sys
    from pathlib import Path

    exe = Path(sys.executable).with_name("carebiz")
    env = {**os.environ, "CAREBIZ_DATABASE_URL": app.config["CAREBIZ_DATABASE_URL"],
           "CAREBIZ_PLUGINS": "gps", "CAREBIZ_INSTANCE_PATH": str(tmp_path),
           "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([str(exe), "gps", "serve", "--port", "0"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert "GT06 server on" in line, proc.stderr.read() if proc.poll() is not None else line
        port = int(line.strip().rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(LOGIN)
            got = b""
            while len(got) < len(LOGIN_ACK):
                chunk = sock.recv(64)
                assert chunk, "connection closed before the login ack"
                got += chunk
            assert got == LOGIN_ACK
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=15)
    assert proc.returncode == 0, err
    assert "stopped" in out
