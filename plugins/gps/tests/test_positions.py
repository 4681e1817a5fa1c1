"""store_fixes and the device lookups, over the app's database (SQLite, or PostgreSQL with
CAREBIZ_TEST_DATABASE_URL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from carebiz.testing import make_vehicle
from carebiz_plugins.gps.fixes import Fix
from carebiz_plugins.gps.models import GpsDevice, GpsDeviceState, GpsMileageDaily, GpsPosition
from carebiz_plugins.gps.services import positions

IMEI = "123456789012345"
T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


@pytest.fixture
def device(session: Any, seeded: dict[str, Any]) -> int:
    positions.reset_caches()
    branch = seeded["branches"]["A"]
    vehicle = make_vehicle(session, 1, branch)
    dev = GpsDevice(imei=IMEI, vehicle_id=vehicle.id, branch_id=branch, status="active")
    session.add(dev)
    session.commit()
    return int(dev.id)


def track(n: int, start: datetime = T0, **kw: Any) -> list[Fix]:
    """n fixes 10 s apart moving ~100 m north each."""
    return [Fix(IMEI, start + timedelta(seconds=10 * i), 30.0 + i * 0.0009, 120.0,
                speed_kmh=36.0, raw=b"\x78\x78", attributes={"gsm": 4}, **kw)
            for i in range(n)]


def test_double_store_is_idempotent(session: Any, device: int) -> None:
    fixes = track(5)
    assert positions.store_fixes(session, {IMEI: device}, fixes) == 5
    session.commit()
    assert positions.store_fixes(session, {IMEI: device}, fixes) == 0
    session.commit()
    rows = session.scalars(select(GpsPosition).order_by(GpsPosition.fix_time)).all()
    assert len(rows) == 5
    assert rows[0].raw == b"\x78\x78" and rows[0].attributes == {"gsm": 4}
    assert rows[0].distance_m == 0 and 90 < rows[1].distance_m < 110


def test_unsorted_batch_is_sorted_and_noise_gets_zero(session: Any, device: int) -> None:
    fixes = track(3)
    noise = Fix(IMEI, T0 + timedelta(seconds=25), 0.0, 0.0, valid=False)
    positions.store_fixes(session, {IMEI: device}, [fixes[2], noise, fixes[0], fixes[1]])
    session.commit()
    rows = session.scalars(select(GpsPosition).order_by(GpsPosition.fix_time)).all()
    assert [r.distance_m > 0 for r in rows] == [False, True, True, False]
    assert rows[3].latitude == 0.0 and rows[3].distance_m == 0


def test_state_moves_only_forward_and_reupload_does_not_move_it(
        session: Any, device: int) -> None:
    positions.store_fixes(session, {IMEI: device}, track(3))
    session.commit()
    newest = T0 + timedelta(seconds=20)
    positions.store_fixes(session, {IMEI: device}, track(2, T0 - timedelta(hours=1)))
    session.commit()
    later = track(1, T0 + timedelta(hours=1), reupload=True)
    positions.store_fixes(session, {IMEI: device}, later)
    session.commit()
    session.expire_all()
    state = session.get(GpsDeviceState, device)
    assert state.fix_time == newest and state.online
    assert session.scalar(select(GpsPosition.reupload).where(
        GpsPosition.fix_time == later[0].fix_time)) is True


def test_daily_mileage_rows_add_up(session: Any, device: int) -> None:
    fixes = track(6)
    positions.store_fixes(session, {IMEI: device}, fixes[:3])
    session.commit()
    positions.store_fixes(session, {IMEI: device}, fixes[3:])
    session.commit()
    rows = session.scalars(select(GpsMileageDaily)).all()
    assert len(rows) == 1 and rows[0].day.isoformat() == "2026-03-01"
    stored = sum(session.scalars(select(GpsPosition.distance_m)).all())
    assert rows[0].distance_m == pytest.approx(stored, rel=0.01) and stored > 400
    assert rows[0].max_speed_kmh == pytest.approx(36.0) and rows[0].positions == 6


def test_unknown_device_fixes_skipped(session: Any, device: int) -> None:
    assert positions.store_fixes(session, {}, track(2)) == 0


def test_pending_recorded_and_known_device(session: Any, device: int) -> None:
    positions.record_pending(session, "864717003283581", "10.0.0.1:5000")
    session.commit()
    positions.record_pending(session, "864717003283581", "10.0.0.2:5001")
    session.commit()
    pend = session.scalar(select(GpsDevice).where(GpsDevice.imei == "864717003283581"))
    assert pend.status == "pending" and pend.login_attempts == 2
    assert pend.last_peer == "10.0.0.2:5001" and pend.vehicle_id is None
    assert positions.known_device(session, "864717003283581") is None
    assert positions.known_device(session, IMEI) == (device, 0)
