"""The GPS services the API calls, without HTTP: registering trackers (IMEI check digit,
duplicates, branch privacy), assigning pending ones, versioned edits, disable/enable as
transitions, acknowledging alarms and queueing confirmed commands."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from carebiz.errors import Conflict, Forbidden, NotFound, ValidationFailed
from carebiz.testing import make_customer, make_user, make_vehicle

#: IMEIs with a valid Luhn check digit
IMEI_A = "356307042441013"
IMEI_B = "490154203237518"
IMEI_PENDING = "353918057929420"


@pytest.fixture
def world(app: Flask, seeded: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """A car in branch A (owned by a customer) and one in B, a manager of A only, and an
    app context with an open session."""
    from carebiz.models import User

    with app.test_request_context("/"), app.extensions["carebiz"].session_factory() as sess:
        out: dict[str, Any] = {"session": sess}
        for n, code in enumerate(("A", "B")):
            branch = seeded["branches"][code]
            owner = make_customer(sess, f"车主{code}", branch)
            car = make_vehicle(sess, 700 + n, branch, owner_id=owner.id, plate=f"沪B5678{n}")
            out[code] = {"vehicle": car, "owner": owner, "branch": branch}
        out["fleet_a"] = make_user(sess, "fleet_a", roles=["manager"], branches=["A"])
        sess.commit()
        out["admin"] = sess.scalar(select(User).where(User.username == "admin"))
        yield out


def test_register_checks_the_imei_and_links_the_vehicle(world: dict[str, Any]) -> None:
    from carebiz.crm.models import TimelineEntry
    from carebiz_plugins.gps.services import devices

    sess, user, car = world["session"], world["fleet_a"], world["A"]["vehicle"]
    with pytest.raises(ValidationFailed) as short:
        devices.register_device(sess, user, "35630704244101", car.id)
    assert "15 digits" in str(short.value.errors["imei"])
    with pytest.raises(ValidationFailed) as luhn:
        devices.register_device(sess, user, "356307042441014", car.id)
    assert "typo" in str(luhn.value.errors["imei"])
    device = devices.register_device(sess, user, "35630 7042 441013", car.id, label="Van",
                                     sim="13800138000")
    sess.commit()
    assert device.imei == IMEI_A and device.status == "active"
    assert device.branch_id == world["A"]["branch"] and device.phone == "13800138000"
    entry = sess.scalar(select(TimelineEntry).where(TimelineEntry.kind == "gps.device"))
    assert entry is not None and entry.party_id == world["A"]["owner"].id


def test_a_vehicle_of_another_branch_is_not_found(world: dict[str, Any]) -> None:
    from carebiz_plugins.gps.services import devices

    with pytest.raises(NotFound):
        devices.register_device(world["session"], world["fleet_a"], IMEI_A,
                                world["B"]["vehicle"].id)


def test_a_registered_imei_is_a_409_naming_the_car_only_to_who_may_see_it(
        world: dict[str, Any]) -> None:
    from carebiz_plugins.gps.services import devices

    sess = world["session"]
    devices.register_device(sess, world["admin"], IMEI_B, world["B"]["vehicle"].id)
    sess.commit()
    with pytest.raises(Conflict) as hidden:
        devices.register_device(sess, world["fleet_a"], IMEI_B, world["A"]["vehicle"].id)
    assert "沪B" not in hidden.value.message and "device_id" not in hidden.value.details
    with pytest.raises(Conflict) as shown:
        devices.register_device(sess, world["admin"], IMEI_B, world["A"]["vehicle"].id)
    assert "沪B56781" in shown.value.message


def test_a_pending_device_is_assigned_once(world: dict[str, Any]) -> None:
    from carebiz_plugins.gps.models import GpsDevice
    from carebiz_plugins.gps.services import devices

    sess = world["session"]
    pending = GpsDevice(imei=IMEI_PENDING, status="pending", login_attempts=3)
    sess.add(pending)
    sess.commit()
    device = devices.assign_device(sess, world["admin"], pending, world["A"]["vehicle"].id)
    sess.commit()
    assert device.status == "active" and device.branch_id == world["A"]["branch"]
    assert device.login_attempts == 3
    with pytest.raises(Conflict) as again:
        devices.assign_device(sess, world["admin"], device, world["A"]["vehicle"].id)
    assert again.value.details["current_status"] == "active"


def test_registering_a_pending_imei_assigns_it(world: dict[str, Any]) -> None:
    from carebiz_plugins.gps.models import GpsDevice
    from carebiz_plugins.gps.services import devices

    sess = world["session"]
    sess.add(GpsDevice(imei=IMEI_PENDING, status="pending"))
    sess.commit()
    device = devices.register_device(sess, world["admin"], IMEI_PENDING,
                                     world["A"]["vehicle"].id)
    assert device.status == "active"
    assert len(sess.scalars(select(GpsDevice)).all()) == 1


def test_update_is_versioned_and_disable_enable_are_transitions(world: dict[str, Any]) -> None:
    from carebiz.concurrency import VersionConflict
    from carebiz_plugins.gps.services import devices

    sess, user = world["session"], world["fleet_a"]
    device = devices.register_device(sess, user, IMEI_A, world["A"]["vehicle"].id)
    sess.commit()
    seen = device.version
    devices.update_device(sess, user, device, {"label": "Truck 1", "password": "123456"},
                          expected_version=seen)
    sess.commit()
    assert device.label == "Truck 1" and device.version == seen + 1
    with pytest.raises(VersionConflict):
        devices.update_device(sess, user, device, {"label": "Stale"}, expected_version=seen)
    sess.rollback()
    with pytest.raises(ValidationFailed) as bad:
        devices.update_device(sess, user, device, {"protocol": "nmea", "speed_limit_kmh": 900})
    assert set(bad.value.errors) == {"protocol", "speed_limit_kmh"}
    sess.rollback()
    devices.disable_device(sess, user, device)
    sess.commit()
    assert device.status == "disabled"
    with pytest.raises(Conflict) as twice:
        devices.disable_device(sess, user, device)
    assert twice.value.details["allowed"] == ["enable"]
    sess.rollback()
    devices.enable_device(sess, user, device)
    sess.commit()
    assert device.status == "active"


def test_the_live_delta_names_devices_that_left_the_map(world: dict[str, Any]) -> None:
    """A page polling with ``since`` learns that a device it shows was disabled or moved to
    a car of a branch the user does not work in (``removed``), and gets it back in
    ``items`` once it is active and visible again; pending devices are never named."""
    from sqlalchemy import update

    from carebiz.db import utcnow
    from carebiz.models import AuditEntry
    from carebiz_plugins.gps.api import live_state
    from carebiz_plugins.gps.models import GpsDevice
    from carebiz_plugins.gps.services import devices

    sess, user, admin = world["session"], world["fleet_a"], world["admin"]
    device = devices.register_device(sess, user, IMEI_A, world["A"]["vehicle"].id)
    sess.flush()
    device.updated_at = utcnow() - dt.timedelta(hours=1)  # registered well before the poll
    sess.commit()
    since = utcnow() - dt.timedelta(minutes=30)
    first = live_state(sess, user)
    assert [i["device"] for i in first["items"]] == [IMEI_A] and first["removed"] == []
    assert live_state(sess, user, since)["removed"] == []

    devices.disable_device(sess, user, device)
    sess.add(GpsDevice(imei=IMEI_PENDING, status="pending"))
    sess.commit()
    gone = live_state(sess, user, since)
    assert gone["items"] == [] and gone["removed"] == [device.id]
    assert gone["since"] is not None and gone["since"] > since  # the cursor moves past it

    devices.enable_device(sess, user, device)
    sess.commit()
    back = live_state(sess, user, since)
    assert [i["device"] for i in back["items"]] == [IMEI_A] and back["removed"] == []

    devices.update_device(sess, admin, device, {"vehicle_id": world["B"]["vehicle"].id})
    sess.commit()
    moved = live_state(sess, user, since)
    assert moved["items"] == [] and moved["removed"] == [device.id]
    seen_by_admin = live_state(sess, admin, since)
    assert [i["device"] for i in seen_by_admin["items"]] == [IMEI_A]
    assert seen_by_admin["removed"] == []

    # changes to a device that stays in branch B are none of a manager of A's business
    devices.update_device(sess, admin, device, {"label": "Van B"})
    devices.disable_device(sess, admin, device)
    sess.commit()
    assert live_state(sess, user, since)["removed"] == [device.id]  # it left A once, still
    # once the move is older than the cursor (and its overlap), B's changes are not named
    sess.execute(update(AuditEntry).where(AuditEntry.entity_type == "gps_device")
                 .values(at=utcnow() - dt.timedelta(hours=1)))
    later = utcnow() - dt.timedelta(seconds=1)
    devices.enable_device(sess, admin, device)
    devices.disable_device(sess, admin, device)
    sess.commit()
    assert live_state(sess, user, later)["removed"] == []
    assert live_state(sess, admin, later)["removed"] == [device.id]


def _alarm(sess: Any, device: Any, branch: int) -> Any:
    from carebiz_plugins.gps.models import GpsAlarm, GpsDeviceState

    now = dt.datetime.now(dt.UTC)
    alarm = GpsAlarm(device_id=device.id, vehicle_id=device.vehicle_id, branch_id=branch,
                     type="sos", fix_time=now, details={}, status="open")
    sess.add(alarm)
    sess.add(GpsDeviceState(device_id=device.id, alarm_open=1))
    sess.commit()
    return alarm


def test_acknowledge_once_with_a_note(world: dict[str, Any]) -> None:
    from carebiz.concurrency import VersionConflict
    from carebiz_plugins.gps.models import GpsDeviceState
    from carebiz_plugins.gps.services import alarm_desk, devices

    sess, user = world["session"], world["fleet_a"]
    device = devices.register_device(sess, user, IMEI_A, world["A"]["vehicle"].id)
    alarm = _alarm(sess, device, world["A"]["branch"])
    with pytest.raises(VersionConflict):
        alarm_desk.acknowledge(sess, user, alarm, "x", expected_version=alarm.version + 5)
    sess.rollback()
    alarm_desk.acknowledge(sess, user, alarm, "  called the owner  ",
                           expected_version=alarm.version)
    sess.commit()
    assert alarm.status == "acknowledged" and alarm.note == "called the owner"
    assert alarm.acknowledged_by == user.id and alarm.acknowledged_at is not None
    assert sess.get(GpsDeviceState, device.id).alarm_open == 0
    with pytest.raises(Conflict) as again:
        alarm_desk.acknowledge(sess, user, alarm, "again")
    assert again.value.details["current_status"] == "acknowledged"


def test_commands_need_the_permission_and_the_plate(world: dict[str, Any]) -> None:
    from carebiz_plugins.gps.services import commands, devices

    sess = world["session"]
    device = devices.register_device(sess, world["admin"], IMEI_A, world["A"]["vehicle"].id)
    sess.commit()
    with pytest.raises(Forbidden):
        commands.request_command(sess, world["fleet_a"], device, "cut_off", confirm="沪B56780")
    with pytest.raises(ValidationFailed) as wrong:
        commands.request_command(sess, world["admin"], device, "cut_off", confirm="沪B56781")
    assert "confirm" in wrong.value.errors
    command = commands.request_command(sess, world["admin"], device, "cut_off",
                                       confirm=" 沪b 56780 ")
    by_imei = commands.request_command(sess, world["admin"], device, "restore",
                                       confirm=IMEI_A)
    sess.commit()
    assert (command.text, command.status, by_imei.text) == ("Relay,1#", "queued", "Relay,0#")
    commands.cancel_command(sess, world["admin"], by_imei)
    assert by_imei.status == "cancelled"
    devices.disable_device(sess, world["admin"], device)
    with pytest.raises(Conflict):
        commands.request_command(sess, world["admin"], device, "restore", confirm=IMEI_A)
