"""Registering trackers, assigning pending ones, editing, disabling and enabling them.

WHY the IMEI is Luhn-checked here and not only in the form: a mistyped IMEI registers a
device that never logs in (its frames arrive under the real IMEI and land as pending), and
the installer only finds out at the customer's car. The check digit catches nearly every
single typo at the desk.

WHY a device's branch is its vehicle's: who may see a tracker, its positions, alarms and
commands follows the car (the core's branch rule on ``gps_device.branch_id`` and the
plugin's row filter through it), so moving a tracker to another car moves it with the car.

Every function takes the session, flushes, records audit + events and never commits: the
route (or a test) owns the transaction.
"""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session
from stdnum import luhn

from carebiz.concurrency import check_version, lock
from carebiz.crm.models import Vehicle
from carebiz.crm.services.vehicles import vehicle_label
from carebiz.crm.timeline import add_entry
from carebiz.errors import Conflict, NotFound, ValidationFailed
from carebiz.events import Audit, emit
from carebiz.i18n import N_
from carebiz.toolkit import one_visible
from carebiz.toolkit.transitions import machine

from .. import signals
from ..models import DEVICE_PROTOCOLS, GpsDevice

#: a device's life: an unknown IMEI that logged in is assigned to a car; an active tracker
#: can be switched off (logins refused, history kept) and on again
DEVICE_FLOW = machine("device", {
    "assign": ({"pending"}, "active"),
    "disable": ({"active"}, "disabled"),
    "enable": ({"disabled"}, "active"),
})

#: what an edit may change (``sim`` is the API's word for the SIM's number, ``phone``)
EDITABLE = ("label", "model", "phone", "password", "protocol", "speed_limit_kmh", "notes",
            "vehicle_id")
LIMITS = {"label": 80, "model": 40, "phone": 32, "password": 32, "notes": 2000}
TIMELINE_KIND = "gps.device"


def snapshot(device: GpsDevice) -> dict[str, Any]:
    """What the audit log and a version conflict show of a device."""
    return {"imei": device.imei, "status": device.status, "vehicle_id": device.vehicle_id,
            "branch_id": device.branch_id, "label": device.label, "model": device.model,
            "phone": device.phone, "protocol": device.protocol,
            "speed_limit_kmh": device.speed_limit_kmh, "notes": device.notes}


def clean_imei(value: Any) -> str:
    """The IMEI as 15 digits with a valid check digit (spaces and dashes dropped), else a
    422 on ``imei`` saying what is wrong."""
    text = "".join(ch for ch in str(value or "") if ch not in " -")
    if not text.isdigit() or len(text) != 15:
        raise ValidationFailed(_("The IMEI was not accepted: imei."),
                               {"imei": _("An IMEI has 15 digits (found on the tracker's "
                                          "label or by dialling *#06#).")})
    if not luhn.is_valid(text):
        raise ValidationFailed(_("The IMEI was not accepted: imei."),
                               {"imei": _("The last digit of this IMEI does not match the "
                                          "others: check it for a typo.")})
    return text


def car_name(vehicle: Vehicle) -> str:
    """A vehicle as people at a dealership call it: its plate, else the core's label."""
    return vehicle.plate or vehicle_label(vehicle)


def _vehicle(session: Session, vehicle_id: Any, user: Any) -> Vehicle:
    """The vehicle ``user`` may see, else 404 (another branch's car is not told apart from
    one that does not exist)."""
    vehicle = one_visible(Vehicle, vehicle_id, user, session=session) if vehicle_id else None
    if vehicle is None:
        raise NotFound(_("No vehicle with this id."), {"vehicle_id": _("No vehicle with this "
                                                                        "id.")})
    return vehicle


def _details(data: dict[str, Any], errors: dict[str, str]) -> dict[str, Any]:
    """The optional fields of a device, checked."""
    values: dict[str, Any] = {}
    if "sim" in data and "phone" not in data:
        data = {**data, "phone": data["sim"]}
    for key, limit in LIMITS.items():
        if key in data and data[key] is not None:
            text = str(data[key]).strip()
            if len(text) > limit:
                errors[key] = _("At most %(count)s characters.", count=limit)
            values[key] = text
    if data.get("protocol") is not None:
        if data["protocol"] not in DEVICE_PROTOCOLS:
            errors["protocol"] = _("One of: %(choices)s.", choices=", ".join(DEVICE_PROTOCOLS))
        values["protocol"] = data["protocol"]
    if "speed_limit_kmh" in data:
        limit_kmh = data["speed_limit_kmh"]
        if limit_kmh is not None and not 5 <= float(limit_kmh) <= 300:
            errors["speed_limit_kmh"] = _("Between 5 and 300 km/h, or empty for the group's.")
        values["speed_limit_kmh"] = None if limit_kmh is None else float(limit_kmh)
    return values


def _announce(session: Session, device: GpsDevice, vehicle: Vehicle, user: Any, *,
              was_pending: bool) -> None:
    """Audit, the owner's timeline entry and ``gps.device.registered``."""
    label = car_name(vehicle)
    if vehicle.owner_id:
        add_entry(session, party_id=vehicle.owner_id, kind=TIMELINE_KIND, user=user,
                  subject=_("GPS tracker %(imei)s fitted to %(car)s", imei=device.imei,
                            car=label), ref_type="gps_device", ref_id=device.id,
                  vehicle_id=vehicle.id)
    emit(session, signals.device_registered, device_id=device.id, imei=device.imei,
         vehicle_id=vehicle.id, customer_id=vehicle.owner_id, branch_id=device.branch_id,
         was_pending=was_pending,
         audit=Audit("gps_device", device.id, N_("Tracker %(imei)s registered"), None,
                     snapshot(device), args={"imei": device.imei},
                     branch_id=device.branch_id, version=device.version))


def register_device(session: Session, user: Any, imei: Any, vehicle_id: Any,
                    **details: Any) -> GpsDevice:
    """Register the tracker ``imei`` on the vehicle ``vehicle_id`` (one the user may see:
    404 otherwise). An IMEI already registered is a 409 that names its vehicle only when
    the user may see that vehicle; an IMEI waiting as pending (it logged in before anyone
    registered it) is assigned instead, keeping what it reported."""
    text = clean_imei(imei)
    vehicle = _vehicle(session, vehicle_id, user)
    errors: dict[str, str] = {}
    values = _details(dict(details), errors)
    if errors:
        raise ValidationFailed(_("The tracker was not registered: %(fields)s.",
                                 fields=", ".join(sorted(errors))), errors)
    existing = session.scalar(select(GpsDevice).where(GpsDevice.imei == text))
    if existing is not None and existing.status == "pending":
        return assign_device(session, user, existing, vehicle.id, **values)
    if existing is not None:
        car = one_visible(Vehicle, existing.vehicle_id, user, session=session) \
            if existing.vehicle_id else None
        message = (_("This IMEI is already registered, on %(car)s.", car=car_name(car))
                   if car is not None else _("This IMEI is already registered."))
        raise Conflict(message, {"imei": _("Already registered.")},
                       {"device_id": existing.id} if car is not None else {})
    device = GpsDevice(imei=text, vehicle_id=vehicle.id, branch_id=vehicle.branch_id,
                       status="active", created_by=getattr(user, "id", None), **values)
    session.add(device)
    session.flush()
    _announce(session, device, vehicle, user, was_pending=False)
    return device


def assign_device(session: Session, user: Any, device: GpsDevice, vehicle_id: Any, *,
                  expected_version: Any = None, **details: Any) -> GpsDevice:
    """A pending device (an unknown IMEI that logged in) goes on a vehicle and becomes
    active; only a pending one (409 with its status otherwise)."""
    device = lock(session, GpsDevice, [device.id])[device.id]
    check_version(session, device, expected_version, entity_type="gps_device",
                  current=snapshot(device))
    DEVICE_FLOW.target(device.status, "assign")
    vehicle = _vehicle(session, vehicle_id, user)
    errors: dict[str, str] = {}
    values = _details(dict(details), errors)
    if errors:
        raise ValidationFailed(_("The tracker was not assigned: %(fields)s.",
                                 fields=", ".join(sorted(errors))), errors)
    for key, value in values.items():
        setattr(device, key, value)
    device.vehicle_id, device.branch_id = vehicle.id, vehicle.branch_id
    device.status = "active"
    session.flush()
    _announce(session, device, vehicle, user, was_pending=True)
    return device


def update_device(session: Session, user: Any, device: GpsDevice, data: dict[str, Any], *,
                  expected_version: Any = None) -> GpsDevice:
    """Change a device's details or move it to another vehicle the user may see (its branch
    follows); a stale ``expected_version`` is a 409 naming what changed."""
    check_version(session, device, expected_version, entity_type="gps_device",
                  current=snapshot(device))
    errors: dict[str, str] = {}
    unknown = set(data) - set(EDITABLE) - {"sim"}
    errors.update({key: _("Unknown field.") for key in sorted(unknown)})
    values = _details(data, errors)
    vehicle = None
    if data.get("vehicle_id") is not None and data["vehicle_id"] != device.vehicle_id:
        if device.status == "pending":
            errors["vehicle_id"] = _("Assign a pending device instead.")
        else:
            vehicle = _vehicle(session, data["vehicle_id"], user)
    if errors:
        raise ValidationFailed(_("The tracker was not saved: %(fields)s.",
                                 fields=", ".join(sorted(errors))), errors)
    before = snapshot(device)
    old_password = device.password
    for key, value in values.items():
        setattr(device, key, value)
    if vehicle is not None:
        device.vehicle_id, device.branch_id = vehicle.id, vehicle.branch_id
    session.flush()
    after = snapshot(device)
    changed = {k: v for k, v in after.items() if before.get(k) != v}
    if "password" in values and values["password"] != old_password:
        changed["password"] = "***"  # never the secret itself, in events or the audit log
    if changed:
        _updated(session, device, before, changed)
    return device


def _updated(session: Session, device: GpsDevice, before: dict[str, Any],
             changed: dict[str, Any]) -> None:
    emit(session, signals.device_updated, device_id=device.id, imei=device.imei,
         changes=changed,
         audit=Audit("gps_device", device.id, N_("Tracker %(imei)s changed"),
                     {k: before.get(k) for k in changed if k != "password"},
                     {k: v for k, v in changed.items() if k != "password"},
                     args={"imei": device.imei}, branch_id=device.branch_id,
                     version=device.version))


def _move(session: Session, device: GpsDevice, action: str,
          expected_version: Any) -> GpsDevice:
    device = lock(session, GpsDevice, [device.id])[device.id]
    check_version(session, device, expected_version, entity_type="gps_device",
                  current=snapshot(device))
    before = snapshot(device)
    device.status = DEVICE_FLOW.target(device.status, action)
    session.flush()
    _updated(session, device, before, {"status": device.status})
    return device


def disable_device(session: Session, user: Any, device: GpsDevice, *,
                   expected_version: Any = None) -> GpsDevice:
    """Refuse the tracker's logins from now on; its history stays (only an active one)."""
    return _move(session, device, "disable", expected_version)


def enable_device(session: Session, user: Any, device: GpsDevice, *,
                  expected_version: Any = None) -> GpsDevice:
    """Accept a disabled tracker's logins again (only a disabled one)."""
    return _move(session, device, "enable", expected_version)
