"""Alarm rules with the database: the configuration of a batch's devices (vehicle, groups,
fences, cache and its invalidation), raise_alarms, the ingest pipeline (store_batch,
heartbeats, device alarms, re-upload silence), the offline sweep, and one frame through the
real GT06 server raising an alarm within a second."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from carebiz.events import emit
from carebiz.testing import make_vehicle, run_async
from carebiz_plugins.gps import signals
from carebiz_plugins.gps.fixes import AlarmEvent, DeviceAlarm, DeviceStatus, Fix
from carebiz_plugins.gps.ingest import pipeline
from carebiz_plugins.gps.ingest.store import DbSink
from carebiz_plugins.gps.ingest.tcp import Gt06Server
from carebiz_plugins.gps.models import (
    GpsAlarm,
    GpsDevice,
    GpsDeviceState,
    GpsGeofence,
    GpsGeofenceGroup,
    GpsGeofenceVehicle,
    GpsGroup,
    GpsGroupVehicle,
    GpsPosition,
)
from carebiz_plugins.gps.services import alarms, live, positions

IMEI = "123456789012345"
IMEI2 = "356307042441013"
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
LAT, LON = 23.1, 114.4


def circle(branch: int, name: str, lat: float = LAT, lon: float = LON, radius: float = 300.0,
           **kw: Any) -> GpsGeofence:
    return GpsGeofence(name=name, kind="circle", branch_id=branch, radius_m=radius,
                       geometry=f'{{"type": "Point", "coordinates": [{lon}, {lat}]}}', **kw)


@pytest.fixture
def fleet(session: Any, seeded: dict[str, Any]) -> dict[str, Any]:
    """Two devices on two vehicles of branch A; vehicle 1 in a group with limits and a
    fence, plus a fence of its own; vehicle 2 in no group."""
    positions.reset_caches()
    pipeline.reset()
    branch = seeded["branches"]["A"]
    v1, v2 = make_vehicle(session, 1, branch), make_vehicle(session, 2, branch)
    d1 = GpsDevice(imei=IMEI, vehicle_id=v1.id, branch_id=branch, status="active")
    d2 = GpsDevice(imei=IMEI2, vehicle_id=v2.id, branch_id=branch, status="active",
                   speed_limit_kmh=100)
    group = GpsGroup(name="Vans", branch_id=branch, overspeed_kmh=80, overspeed_min_seconds=10,
                     idle_minutes=5, offline_minutes=10)
    yard = circle(branch, "Yard")
    depot = circle(branch, "Depot", lat=LAT + 0.05)
    session.add_all([d1, d2, group, yard, depot])
    session.flush()
    session.add_all([GpsGroupVehicle(group_id=group.id, vehicle_id=v1.id),
                     GpsGeofenceGroup(geofence_id=yard.id, group_id=group.id),
                     GpsGeofenceVehicle(geofence_id=depot.id, vehicle_id=v1.id)])
    session.commit()
    return {"branch": branch, "d1": d1.id, "d2": d2.id, "v1": v1.id, "v2": v2.id,
            "group": group.id, "yard": yard.id, "depot": depot.id,
            "ids": {IMEI: d1.id, IMEI2: d2.id}}


def fix(seconds: float, lat: float = LAT, lon: float = LON, speed: float = 0.0,
        device: str = IMEI, **kw: Any) -> Fix:
    return Fix(device, T0 + timedelta(seconds=seconds), lat, lon, speed_kmh=speed, **kw)


def test_rules_of_a_batch_from_vehicle_groups_and_fences(session: Any,
                                                         fleet: dict[str, Any]) -> None:
    rules = alarms.rules_for(session, [fleet["d1"], fleet["d2"]])
    r1, r2 = rules[fleet["d1"]], rules[fleet["d2"]]
    assert (r1.device, r1.vehicle_id, r1.branch_id) == (IMEI, fleet["v1"], fleet["branch"])
    assert r1.limits.overspeed_kmh == 80 and r1.limits.idle_minutes == 5
    assert r1.limits.offline_minutes == 10
    assert sorted(f.name for f in r1.fences) == ["Depot", "Yard"]
    assert r2.limits.overspeed_kmh == 100 and r2.fences == ()
    # one compiled fence object per fence, shared by every device it watches
    again = alarms.rules_for(session, [fleet["d1"]])[fleet["d1"]]
    assert again is r1


def test_cache_expires_and_signals_invalidate(app: Flask, session: Any,
                                              fleet: dict[str, Any]) -> None:
    now = [0.0]
    cache = alarms.RulesCache(ttl=30.0, clock=lambda: now[0])
    assert cache.get(session, [fleet["d1"]])[fleet["d1"]].limits.overspeed_kmh == 80
    group = session.get(GpsGroup, fleet["group"])
    group.overspeed_kmh = 60
    session.commit()
    assert cache.get(session, [fleet["d1"]])[fleet["d1"]].limits.overspeed_kmh == 80
    now[0] = 31.0
    assert cache.get(session, [fleet["d1"]])[fleet["d1"]].limits.overspeed_kmh == 60
    assert cache.loads == 2
    # a gps.device.updated committed in this process empties the process's cache
    alarms.rules_for(session, [fleet["d1"]])
    loads = alarms.CACHE.loads
    emit(session, signals.device_updated, device_id=fleet["d1"], imei=IMEI, changes={})
    session.commit()
    alarms.rules_for(session, [fleet["d1"]])
    assert alarms.CACHE.loads == loads + 1
    names = {s.name for s in alarms.invalidating_signals()}
    assert {"gps.device.updated", "vehicle.updated", "setting.changed"} <= names
    assert "gps.alarm.raised" not in names


def test_a_broken_fence_is_skipped_not_fatal(session: Any, fleet: dict[str, Any]) -> None:
    bad = GpsGeofence(name="Broken", kind="polygon", branch_id=fleet["branch"],
                      geometry="{not json")
    session.add(bad)
    session.flush()
    session.add(GpsGeofenceVehicle(geofence_id=bad.id, vehicle_id=fleet["v1"]))
    session.commit()
    pipeline.reset()
    rules = alarms.rules_for(session, [fleet["d1"]])[fleet["d1"]]
    assert sorted(f.name for f in rules.fences) == ["Depot", "Yard"]


def test_raise_alarms_rows_state_and_signal_after_commit(app: Flask, session: Any,
                                                         fleet: dict[str, Any]) -> None:
    got: list[dict[str, Any]] = []

    def receiver(sender: Any, **payload: Any) -> None:
        got.append(payload)

    signals.alarm_raised.connect(receiver, weak=False)
    try:
        cand = [AlarmEvent(IMEI, "overspeed", T0, LAT, LON, {"limit_kmh": 80}),
                AlarmEvent(IMEI, "idle", T0, LAT, LON),
                AlarmEvent("999999999999999", "sos", T0)]     # unknown: dropped
        out = alarms.raise_alarms(session, cand)
        assert got == []                                      # not before the commit
        session.commit()
        assert [a["type"] for a in out] == ["overspeed", "idle"]
        assert [p["type"] for p in got] == ["overspeed", "idle"]
        assert got[0]["branch_id"] == fleet["branch"] and got[0]["details"] == {"limit_kmh": 80}
        # a rollback drops both the rows and the signal
        alarms.raise_alarms(session, [AlarmEvent(IMEI, "sos", T0)])
        session.rollback()
        assert len(got) == 2
    finally:
        signals.alarm_raised.disconnect(receiver)
    rows = session.scalars(select(GpsAlarm).order_by(GpsAlarm.id)).all()
    assert [(r.type, r.vehicle_id, r.branch_id, r.status) for r in rows] == [
        ("overspeed", fleet["v1"], fleet["branch"], "open"),
        ("idle", fleet["v1"], fleet["branch"], "open")]
    assert session.get(GpsDeviceState, fleet["d1"]).alarm_open == 2


def test_store_batch_stores_positions_and_raises_rule_alarms(session: Any,
                                                             fleet: dict[str, Any]) -> None:
    away = LAT + 0.02
    first = pipeline.store_batch(session, fleet["ids"], [fix(0, away), fix(0, device=IMEI2)])
    session.commit()
    assert first.inserted == 2 and first.alarms == []
    assert {p["device"] for p in first.positions} == {IMEI, IMEI2}
    # device 1 drives into the yard at 90 km/h for 15 s: enter, then one overspeed
    batch = [fix(5, LAT, LON, 90), fix(10, LAT, LON, 92), fix(15, LAT, LON, 95),
             fix(20, LAT, LON, 91), fix(5, device=IMEI2, speed=95)]
    result = pipeline.store_batch(session, fleet["ids"], batch)
    session.commit()
    assert [a["type"] for a in result.alarms] == ["geofence_enter", "overspeed"]
    assert result.alarms[0]["details"]["fence_id"] == fleet["yard"]
    assert result.alarms[1]["details"]["max_speed_kmh"] == 95
    latest = {p["device"]: p for p in result.positions}
    assert latest[IMEI]["fix_time"] == (T0 + timedelta(seconds=20)).isoformat()
    assert latest[IMEI]["status"] == "moving" and latest[IMEI]["vehicle_id"] == fleet["v1"]
    rows = session.execute(select(GpsAlarm.type, GpsAlarm.device_id, GpsAlarm.fix_time)
                           .order_by(GpsAlarm.id)).all()
    assert [(t, d) for t, d, _ in rows] == [("geofence_enter", fleet["d1"]),
                                           ("overspeed", fleet["d1"])]
    assert rows[1][2] == T0 + timedelta(seconds=15)
    assert session.scalar(select(func.count()).select_from(GpsPosition)) == 7


def test_reupload_is_stored_without_alarms(session: Any, fleet: dict[str, Any]) -> None:
    pipeline.store_batch(session, fleet["ids"], [fix(0, LAT + 0.02)])
    history = [fix(-600 + i * 10, LAT if i % 2 else LAT + 0.02, LON, 150, reupload=True)
               for i in range(30)]
    result = pipeline.store_batch(session, fleet["ids"], history)
    session.commit()
    assert result.inserted == 30 and result.alarms == [] and result.positions == []
    alarm = DeviceAlarm(IMEI, "sos", history[0].fix_time, history[0])
    assert pipeline.device_alarm(session, fleet["d1"], alarm).alarms == []
    session.commit()
    assert session.scalar(select(func.count()).select_from(GpsAlarm)) == 0
    assert session.scalar(select(func.count()).select_from(GpsPosition)) == 31


def test_device_alarm_and_heartbeat_through_the_engine(session: Any,
                                                       fleet: dict[str, Any]) -> None:
    f = fix(0)
    sos = DeviceAlarm(IMEI, "sos", f.fix_time, f)
    assert [a["type"] for a in pipeline.device_alarm(session, fleet["d1"], sos).alarms] == ["sos"]
    assert pipeline.device_alarm(session, fleet["d1"], sos).alarms == []   # resent frame
    # parked with the ignition on: idle after 5 minutes of heartbeats
    pipeline.store_batch(session, fleet["ids"], [fix(1, ignition=True)])
    beat = DeviceStatus(IMEI, T0 + timedelta(minutes=2), ignition=True)
    assert pipeline.apply_status(session, fleet["d1"], beat).alarms == []
    beat = DeviceStatus(IMEI, T0 + timedelta(minutes=6), ignition=True)
    idle = pipeline.apply_status(session, fleet["d1"], beat).alarms
    session.commit()
    assert [a["type"] for a in idle] == ["idle"] and idle[0]["latitude"] == LAT
    assert session.get(GpsDeviceState, fleet["d1"]).alarm_open == 2


def test_a_failing_alarm_write_keeps_the_positions(session: Any, fleet: dict[str, Any],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_a: Any, **_k: Any) -> list[dict[str, Any]]:
        session.execute(select(GpsAlarm.id).where(GpsAlarm.no_such_column == 1))  # type: ignore[attr-defined]
        return []

    monkeypatch.setattr(alarms, "raise_alarms", refuse)
    pipeline.store_batch(session, fleet["ids"], [fix(0, LAT + 0.02)])
    result = pipeline.store_batch(session, fleet["ids"], [fix(5)])
    session.commit()
    assert result.alarms == [] and result.inserted == 1
    assert session.scalar(select(func.count()).select_from(GpsPosition)) == 2


def test_offline_sweep_once_per_silence(session: Any, fleet: dict[str, Any]) -> None:
    seen = T0
    session.add(GpsDeviceState(device_id=fleet["d1"], last_seen=seen, online=True,
                               latitude=LAT, longitude=LON))
    session.add(GpsDeviceState(device_id=fleet["d2"], last_seen=seen, online=True))
    session.commit()
    assert pipeline.sweep_offline(session, seen + timedelta(minutes=9)).alarms == []
    result = pipeline.sweep_offline(session, seen + timedelta(minutes=11))
    session.commit()
    # device 2 is in no group with an offline delay
    assert [(a["type"], a["device"]) for a in result.alarms] == [("offline", IMEI)]
    assert result.alarms[0]["details"]["minutes"] == 10
    assert result.alarms[0]["fix_time"] == seen.isoformat()
    session.expire_all()
    assert session.get(GpsDeviceState, fleet["d1"]).online is False
    assert session.get(GpsDeviceState, fleet["d2"]).online is True
    assert pipeline.sweep_offline(session, seen + timedelta(minutes=40)).alarms == []
    # heard again, then silent again: a second alarm
    session.get(GpsDeviceState, fleet["d1"]).last_seen = seen + timedelta(hours=1)
    session.commit()
    again = pipeline.sweep_offline(session, seen + timedelta(hours=1, minutes=15))
    session.commit()
    assert [a["type"] for a in again.alarms] == ["offline"]
    assert session.scalar(select(func.count()).select_from(GpsAlarm)) == 2


def test_db_sink_sweeps_offline(app: Flask, session: Any, fleet: dict[str, Any]) -> None:
    session.add(GpsDeviceState(device_id=fleet["d1"], last_seen=T0, online=True))
    session.commit()
    counts: list[int] = []

    async def main() -> None:
        sink = DbSink(app, flush_seconds=0.05)
        await sink.start()
        try:
            task = asyncio.ensure_future(pipeline.run_offline_sweeps(
                lambda: _record(sink, counts), every=0.05))
            deadline = time.monotonic() + 5
            while len(counts) < 2 and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
            task.cancel()
        finally:
            await sink.close()

    run_async(main())
    assert counts[:2] == [1, 0]
    session.expire_all()
    assert session.scalar(select(GpsAlarm.type)) == "offline"


async def _record(sink: DbSink, counts: list[int]) -> None:
    counts.append(await sink.sweep_offline())


# --- end to end: one frame through the real GT06 server ----------------------------------

LOGIN = bytes.fromhex("78780D01012345678901234500018CDD0D0A")


def gps_frame(t: datetime, lat: float, lon: float, serial: int, speed: int = 40) -> bytes:
    import struct

    from carebiz_plugins.gps.protocol import gt06

    body = struct.pack(">BB6BBIIBH", 0x1F, 0x12, t.year - 2000, t.month, t.day, t.hour,
                       t.minute, t.second, 0xC9, int(lat * 1800000), int(lon * 1800000), speed,
                       0x1400 | 0xC000 | 90)
    body += bytes.fromhex("01cc00287d001f71") + struct.pack(">H", serial)
    return b"\x78\x78" + body + struct.pack(">H", gt06.crc16_x25(body)) + b"\r\n"


def test_frame_to_stored_and_published_alarm_within_a_second(
        app: Flask, session: Any, fleet: dict[str, Any]) -> None:
    """A GT06 frame that drives the van into its yard: the geofence alarm is committed
    before the frame's ack (the sink flushes every 200 ms) and on the live bus within 1 s."""
    bus = live.configure("memory")
    heard: list[tuple[float, dict[str, Any]]] = []
    timings: dict[str, float] = {}
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=30)

    async def main() -> None:
        import threading

        subscribed = threading.Event()

        def listen() -> None:
            messages = bus.subscribe(timeout=3.0)
            subscribed.set()
            for msg in messages:        # subscribed already; ends on 3 s idle
                if msg.get("kind") == "alarm":
                    heard.append((time.monotonic(), msg))
                    return

        sink = DbSink(app)                      # the production flush interval, 200 ms
        await sink.start()
        server = Gt06Server(sink, idle_timeout=30)
        await server.start("127.0.0.1", 0)
        listener = threading.Thread(target=listen)
        listener.start()
        subscribed.wait(2)
        await asyncio.sleep(0.1)
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            writer.write(LOGIN)
            await reader.readexactly(10)
            writer.write(gps_frame(t0, LAT + 0.02, LON, 2))         # outside: remembered
            await reader.readexactly(10)
            timings["sent"] = time.monotonic()
            writer.write(gps_frame(t0 + timedelta(seconds=10), LAT, LON, 3))
            await reader.readexactly(10)
            timings["acked"] = time.monotonic()
            deadline = time.monotonic() + 2
            while not heard and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
            writer.close()
        finally:
            await server.close()
            await sink.close()
            listener.join(2)

    try:
        run_async(main())
    finally:
        live.configure("memory")
    assert timings["acked"] - timings["sent"] < 1.0
    assert heard, "no alarm on the live bus"
    at, msg = heard[0]
    assert msg["type"] == "geofence_enter" and msg["device"] == IMEI
    assert at - timings["sent"] < 1.0
    session.expire_all()
    row = session.get(GpsAlarm, msg["id"])
    assert row is not None and row.details["fence_id"] == fleet["yard"]
    assert row.fix_time == t0 + timedelta(seconds=10)


def test_cli_sweep_offline(app: Flask, session: Any, fleet: dict[str, Any]) -> None:
    """``carebiz gps sweep-offline`` for installations without the TCP server (cron)."""
    session.add(GpsDeviceState(device_id=fleet["d1"], last_seen=T0, online=True))
    session.commit()
    runner = app.test_cli_runner()
    first = runner.invoke(args=["gps", "sweep-offline"])
    assert first.exit_code == 0, first.output
    assert "1 offline alarm(s) raised" in first.output
    second = runner.invoke(args=["gps", "sweep-offline"])
    assert "0 offline alarm(s) raised" in second.output
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(GpsAlarm)) == 1


def test_publish_positions_sends_position_messages() -> None:
    """``ingest.store.publish_positions`` (used by paths storing with store_fixes directly)
    turns fixes into the dicts the live bus carries; re-uploaded history is not published."""
    import threading

    from carebiz_plugins.gps.ingest.store import publish_positions

    bus = live.configure("memory")
    got: list[dict[str, Any]] = []
    ready = threading.Event()

    def listen() -> None:
        messages = bus.subscribe(timeout=2.0)
        ready.set()
        for msg in messages:
            got.append(msg)
            return

    listener = threading.Thread(target=listen)
    listener.start()
    ready.wait(2)
    time.sleep(0.2)
    publish_positions([fix(0, speed=50, reupload=True), fix(10, speed=50)])
    listener.join(3)
    live.configure("memory")
    assert len(got) == 1 and got[0]["kind"] == "position"
    assert got[0]["device"] == IMEI and got[0]["status"] == "moving"
    assert got[0]["fix_time"] == (T0 + timedelta(seconds=10)).isoformat()
