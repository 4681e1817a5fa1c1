"""Vehicles: registration by VIN or, until the VIN is known, by plate alone; ownership
history, odometer readings."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from carebiz.concurrency import check_version
from carebiz.crm import signals
from carebiz.crm import validation as v
from carebiz.crm.models import FUEL_TYPES, OdometerReading, Party, Vehicle, VehicleOwnership
from carebiz.crm.services import parties
from carebiz.crm.services.common import clean_branch_and_custom, setting
from carebiz.db import utcnow
from carebiz.errors import Conflict, NotFound, ValidationFailed
from carebiz.events import Audit, diff, emit
from carebiz.i18n import N_
from carebiz.text import text_problem

TEXT_FIELDS = {"make": 60, "model": 80, "colour": 40, "engine_number": 40, "notes": 5000}
FIELDS = ("vin", "plate", "make", "model", "year", "colour", "engine_number", "fuel_type",
          "owner_id", "branch_id", "notes", "custom", "owner_since")


def vehicle_label(vehicle: Any) -> str:
    """How a person names the vehicle: its VIN, else its plate (a plate-only car), else its
    number. Anything that shows a vehicle (titles, flashes, audit sentences, documents) uses
    this rather than ``vin``, which may be empty."""
    return vehicle.vin or vehicle.plate or f"#{vehicle.id}"


def snapshot(vehicle: Vehicle) -> dict[str, Any]:
    return {"vin": vehicle.vin, "plate": vehicle.plate, "make": vehicle.make,
            "model": vehicle.model, "year": vehicle.year, "colour": vehicle.colour,
            "engine_number": vehicle.engine_number, "fuel_type": vehicle.fuel_type,
            "owner_id": vehicle.owner_id, "branch_id": vehicle.branch_id,
            "custom": dict(vehicle.custom or {})}


def _clean(session: Session, data: dict[str, Any], vehicle: Vehicle | None,
           user: Any) -> tuple[dict[str, Any], dict[str, str]]:
    errors: dict[str, str] = {f: _("Unknown field.") for f in sorted(set(data) - set(FIELDS))}
    out: dict[str, Any] = {}
    creating = vehicle is None
    if creating or "vin" in data:
        raw_vin = str(data.get("vin") or "").strip()
        if not raw_vin:
            out["vin"] = None  # known later; a plate then identifies the car
        else:
            try:
                out["vin"] = v.validate_vin(
                    raw_vin, check_digit=bool(setting(session, "crm.vin_check_digit")))
            except ValidationFailed as exc:
                errors["vin"] = exc.errors.get("vin") or exc.message
    if "plate" in data:
        raw = str(data["plate"] or "").strip()
        if raw:
            try:
                out["plate"] = v.normalize_plate(raw, setting(session, "crm.plate_region"))
            except ValidationFailed as exc:
                errors["plate"] = exc.errors.get("plate") or exc.message
        else:
            out["plate"] = None
    for field, limit in TEXT_FIELDS.items():
        if field in data:
            text = str(data[field] or "").strip()
            problem = text_problem(text, limit)
            if problem:
                errors[field] = problem
            out[field] = text
    if "year" in data:
        year = data["year"]
        if year in (None, ""):
            out["year"] = None
        else:
            try:
                year = int(year)
                if not 1900 <= year <= dt.date.today().year + 1:
                    raise ValueError
                out["year"] = year
            except (TypeError, ValueError):
                errors["year"] = _("A year between 1900 and %(last)d.",
                                   last=dt.date.today().year + 1)
    if "fuel_type" in data:
        fuel = data["fuel_type"] or None
        if fuel not in (None, *FUEL_TYPES):
            errors["fuel_type"] = _("One of: %(allowed)s.", allowed=", ".join(FUEL_TYPES))
        out["fuel_type"] = fuel
    if "owner_id" in data and data["owner_id"] not in (None, ""):
        owner = usable_owner(session, user, data["owner_id"])
        if owner is None:
            errors["owner_id"] = _("No active customer with this id.")
        else:
            out["owner_id"] = owner.id
    clean_branch_and_custom(session, "vehicle", data, vehicle, user, out, errors)
    _need_vin_or_plate(out, vehicle, errors)
    return out, errors


def _need_vin_or_plate(out: dict[str, Any], vehicle: Vehicle | None,
                       errors: dict[str, str]) -> None:
    """A vehicle is found again by its VIN or its plate: it needs at least one of them once
    saved (a VIN or plate that failed validation is reported under its own field already)."""
    if "vin" in errors or "plate" in errors:
        return
    vin = out["vin"] if "vin" in out else getattr(vehicle, "vin", None)
    plate = out["plate"] if "plate" in out else getattr(vehicle, "plate", None)
    if not vin and not plate:
        message = _("Give the VIN or the licence plate (the VIN can be added later).")
        errors["vin"] = message
        errors["plate"] = message


def usable_owner(session: Session, user: Any, owner_id: Any) -> Party | None:
    """The active party with this id, if the acting user may see it (a branch-limited user
    cannot hand a car to, or even probe for, another branch's customer)."""
    owner = session.get(Party, _int(owner_id))
    if owner is None or not owner.active:
        return None
    acting = user is not None and getattr(user, "is_authenticated", False)
    if acting and not (user.all_branches or user.is_superuser
                       or owner.branch_id in user.branch_ids):
        return None
    return owner


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return -1


def _date(value: Any, field: str) -> dt.date:
    if value in (None, ""):
        return dt.date.today()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise ValidationFailed(_("Enter a date as YYYY-MM-DD."),
                               {field: _("Enter a date as YYYY-MM-DD.")}) from None


def create_vehicle(session: Session, data: dict[str, Any], *, user: Any = None) -> Vehicle:
    """Register a vehicle by its VIN, or by its plate alone until the VIN is known; a VIN
    already on file is a conflict naming the record (plates are not unique: they move)."""
    since = _date(data.get("owner_since"), "owner_since")
    values, errors = _clean(session, {k: x for k, x in data.items() if k != "owner_since"},
                            None, user)
    if errors:
        raise ValidationFailed(_("The vehicle is not valid: %(fields)s",
                                 fields=", ".join(sorted(errors))), errors)
    existing = (session.scalar(select(Vehicle).where(Vehicle.vin == values["vin"]))
                if values.get("vin") else None)
    if existing is not None:
        raise Conflict(_("The VIN %(vin)s is registered already (vehicle #%(id)s).",
                         vin=values["vin"], id=existing.id),
                       {"vin": _("Already registered.")},
                       {"existing": {"id": existing.id, "vin": existing.vin}})
    vehicle = Vehicle(**values)
    session.add(vehicle)
    session.flush()
    if vehicle.owner_id:
        session.add(VehicleOwnership(vehicle_id=vehicle.id, party_id=vehicle.owner_id,
                                     since=since))
    session.flush()
    emit(session, signals.vehicle_created, vehicle_id=vehicle.id, vin=vehicle.vin,
         owner_id=vehicle.owner_id,
         audit=Audit("vehicle", vehicle.id, N_("Vehicle %(vin)s registered"), None,
                     snapshot(vehicle), branch_id=vehicle.branch_id,
                     args={"vin": vehicle_label(vehicle)},
                     version=vehicle.version))
    return vehicle


def update_vehicle(session: Session, vehicle: Vehicle, data: dict[str, Any], *,
                   user: Any = None, expected_version: int | list[int] | None = None) -> Vehicle:
    """Edit a vehicle. A new owner goes through :func:`change_owner` so history is kept.
    ``expected_version`` is the version the client saw (None: last write wins); another
    version raises a 409 naming what changed since."""
    check_version(session, vehicle, expected_version, entity_type="vehicle",
                  current=snapshot(vehicle))
    data = dict(data)
    new_owner = data.pop("owner_id", None)
    since = data.pop("owner_since", None)
    values, errors = _clean(session, data, vehicle, user)
    if values.get("vin") and values["vin"] != vehicle.vin:
        other = session.scalar(select(Vehicle).where(Vehicle.vin == values["vin"]))
        if other is not None:
            errors["vin"] = _("Already registered (vehicle #%(id)s).", id=other.id)
    if errors:
        raise ValidationFailed(_("The vehicle is not valid: %(fields)s",
                                 fields=", ".join(sorted(errors))), errors)
    before = snapshot(vehicle)
    for key, value in values.items():
        setattr(vehicle, key, value)
    session.flush()
    old, new = diff(before, snapshot(vehicle))
    if new:
        emit(session, signals.vehicle_updated, vehicle_id=vehicle.id, changes=new,
             audit=Audit("vehicle", vehicle.id, N_("Vehicle %(vin)s changed"), old, new,
                         branch_id=vehicle.branch_id, args={"vin": vehicle_label(vehicle)},
                         version=vehicle.version))
    if new_owner not in (None, "") and _int(new_owner) != vehicle.owner_id:
        owner = usable_owner(session, user, new_owner)
        if owner is None:
            raise ValidationFailed(_("No active customer with this id."),
                                   {"owner_id": _("No active customer with this id.")})
        change_owner(session, vehicle, owner, _date(since, "owner_since"))
    return vehicle


def change_owner(session: Session, vehicle: Vehicle, owner: Party, since: dt.date) -> Vehicle:
    """Hand the vehicle to ``owner`` from ``since``. The previous ownership ends that day;
    the vehicle's history stays with the VIN, and each owner sees what happened in theirs.
    Handing it to its current owner changes nothing."""
    if owner.id == vehicle.owner_id:
        return vehicle
    current = session.scalar(select(VehicleOwnership).where(
        VehicleOwnership.vehicle_id == vehicle.id, VehicleOwnership.until.is_(None)))
    if current is not None:
        if since < current.since:
            raise ValidationFailed(
                _("The new ownership cannot start before the current one (%(date)s).",
                  date=current.since.isoformat()),
                {"owner_since": _("On or after %(date)s.", date=current.since.isoformat())})
        current.until = since
    old_owner = vehicle.owner_id
    session.add(VehicleOwnership(vehicle_id=vehicle.id, party_id=owner.id, since=since))
    vehicle.owner_id = owner.id
    session.flush()
    emit(session, signals.vehicle_owner_changed, vehicle_id=vehicle.id, old_owner_id=old_owner,
         new_owner_id=owner.id, since=since,
         audit=Audit("vehicle", vehicle.id, N_("Vehicle %(vin)s now owned by %(name)s"),
                     {"owner_id": old_owner}, {"owner_id": owner.id, "since": since.isoformat()},
                     branch_id=vehicle.branch_id,
                     args={"vin": vehicle_label(vehicle), "name": owner.name},
                     refs={"name": ("party", owner.id)},
                     version=vehicle.version))
    return vehicle


@dataclass(frozen=True)
class Owner:
    """One period of a vehicle's ownership as its reader may see it. A car changes hands
    across branches, but the name of another branch's customer stays with that branch:
    ``party`` is then None and ``name`` is :data:`parties.OTHER_BRANCH`."""

    party: Party | None
    name: str
    since: dt.date
    until: dt.date | None

    @property
    def party_id(self) -> int | None:
        return self.party.id if self.party is not None else None


def ownerships(session: Session, vehicle_id: int, user: Any = None) -> list[Owner]:
    """The vehicle's owners, newest first, masked for ``user`` by the rule of
    :func:`parties.hidden_parties` (without a user: the system, nothing masked)."""
    rows = list(session.scalars(select(VehicleOwnership)
                                .where(VehicleOwnership.vehicle_id == vehicle_id)
                                .order_by(VehicleOwnership.since.desc(),
                                          VehicleOwnership.id.desc())))
    hidden = parties.hidden_parties(session, user, {o.party_id for o in rows})
    return [Owner(None, _(parties.OTHER_BRANCH), o.since, o.until) if o.party_id in hidden
            else Owner(o.party, o.party.name, o.since, o.until) for o in rows]


def owned_with_plate(session: Session, owner_id: int, plate: Any) -> Vehicle | None:
    """The owner's vehicle with this plate (as typed, normalised), if one: how a car known
    by its plate alone is found again (an import run twice, a walk-in coming back)."""
    try:
        key = v.normalize_plate(str(plate or "").strip(), setting(session, "crm.plate_region"))
    except ValidationFailed:
        return None
    return session.scalar(select(Vehicle).where(Vehicle.owner_id == owner_id,
                                                Vehicle.plate == key).limit(1))


def get_vehicle(session: Session, vehicle_id: int) -> Vehicle:
    vehicle = session.get(Vehicle, vehicle_id)
    if vehicle is None:
        raise NotFound(_("No vehicle with id %(id)s.", id=vehicle_id))
    return vehicle


def record_odometer(session: Session, vehicle: Vehicle, value_km: Any,
                    read_at: dt.datetime | None = None, *, source: str = "manual",
                    meter_replaced: bool = False, user: Any = None) -> OdometerReading:
    """Accept a reading unless it goes backwards: it must not be lower than the reading before
    it nor higher than a later one, unless the meter was replaced. Audited (whatever the
    source: a person, a test drive, the GPS plugin's daily reading) and signalled.

    Public for plugins: a plugin that learns a vehicle's odometer (test drives, GPS) records
    it here so the core's rules apply; it catches ``ValidationFailed`` when the reading is
    refused."""
    try:
        value = int(value_km)
        if value < 0 or value > 5_000_000:
            raise ValueError
    except (TypeError, ValueError):
        raise ValidationFailed(_("Enter the odometer in whole kilometres (0 to 5,000,000)."),
                               {"value_km": _("A whole number of kilometres.")}) from None
    read_at = read_at or utcnow()
    if read_at.tzinfo is None:
        raise ValidationFailed(_("The reading time needs a time zone."),
                               {"read_at": _("Give the time with its offset.")})
    if read_at > utcnow() + dt.timedelta(minutes=5):
        raise ValidationFailed(_("The reading cannot be in the future."),
                               {"read_at": _("Not in the future.")})
    if not meter_replaced:
        before = session.scalar(select(OdometerReading).where(
            OdometerReading.vehicle_id == vehicle.id, OdometerReading.read_at <= read_at)
            .order_by(OdometerReading.read_at.desc()).limit(1))
        after = session.scalar(select(OdometerReading).where(
            OdometerReading.vehicle_id == vehicle.id, OdometerReading.read_at > read_at,
            OdometerReading.meter_replaced.is_(False))
            .order_by(OdometerReading.read_at).limit(1))
        if before is not None and value < before.value_km:
            raise ValidationFailed(
                _("%(value)s km is lower than the previous reading (%(prev)s km on %(date)s). "
                  "If the meter was replaced, mark the reading so.", value=value,
                  prev=before.value_km, date=before.read_at.date().isoformat()),
                {"value_km": _("Lower than the previous reading (%(prev)s km).",
                               prev=before.value_km)})
        if after is not None and value > after.value_km:
            raise ValidationFailed(
                _("%(value)s km is higher than a later reading (%(next)s km on %(date)s).",
                  value=value, next=after.value_km, date=after.read_at.date().isoformat()),
                {"value_km": _("Higher than a later reading (%(next)s km).",
                               next=after.value_km)})
    reading = OdometerReading(vehicle_id=vehicle.id, value_km=value, read_at=read_at,
                              source=(source or "manual")[:20], meter_replaced=meter_replaced,
                              recorded_by=getattr(user, "id", None))
    session.add(reading)
    session.flush()
    latest = session.scalar(select(OdometerReading).where(
        OdometerReading.vehicle_id == vehicle.id).order_by(OdometerReading.read_at.desc(),
                                                           OdometerReading.id.desc()).limit(1))
    vehicle.odometer_km = latest.value_km
    emit(session, signals.odometer_recorded, vehicle_id=vehicle.id, value_km=value,
         read_at=read_at, source=reading.source,
         audit=Audit("vehicle", vehicle.id, N_("Odometer of %(vin)s: %(km)s km (%(source)s)"),
                     None, {"value_km": value, "read_at": read_at.isoformat(),
                            "source": reading.source, "meter_replaced": meter_replaced},
                     branch_id=vehicle.branch_id,
                     args={"vin": vehicle_label(vehicle), "km": value,
                           "source": reading.source}))
    return reading


def odometer_history(session: Session, vehicle_id: int, limit: int = 100) -> list[OdometerReading]:
    return list(session.scalars(select(OdometerReading)
                                .where(OdometerReading.vehicle_id == vehicle_id)
                                .order_by(OdometerReading.read_at.desc()).limit(limit)))


# --- checking a vehicle without registering it (the customer form's "first vehicle") -------


def check_vehicle(session: Session, data: dict[str, Any], *,
                  user: Any = None) -> tuple[dict[str, Any], dict[str, str]]:
    """Validate a vehicle that is about to be registered, without writing anything: the
    normalised values and the field errors (a VIN on file already is an error of ``vin``).
    Lets a form that registers a customer and their first vehicle show every error at once."""
    values, errors = _clean(session, {k: x for k, x in data.items() if k != "owner_since"},
                            None, user)
    if values.get("vin") and "vin" not in errors:
        existing = session.scalar(select(Vehicle.id).where(Vehicle.vin == values["vin"]))
        if existing is not None:
            errors["vin"] = _("Already registered (vehicle #%(id)s).", id=existing)
    return values, errors
