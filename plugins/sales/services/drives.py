"""Demo cars and test drives: a booking calendar that never double-books a car, the
driver's licence checked, the waiver recorded, the odometer out and in written to the core
vehicle (:func:`carebiz.crm.services.vehicles.record_odometer`), and the driver's feedback.

Booking locks the demo car's row first, so two salespeople booking the same car at the same
moment are served one after the other and the second sees the first's booking (409)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from carebiz.concurrency import lock
from carebiz.crm.models import Party, Vehicle
from carebiz.crm.services.vehicles import record_odometer
from carebiz.crm.timeline import add_entry
from carebiz.errors import Conflict, ValidationFailed
from carebiz.events import Audit, emit
from carebiz.i18n import N_
from carebiz.toolkit import business_tz, one_visible
from carebiz.toolkit import today as business_today
from carebiz.toolkit.transitions import machine

from .. import signals
from ..models import SalesDemoCar, SalesProspect, SalesTestDrive

HOLDING = ("booked", "out")  # statuses that hold the car
DRIVE_FLOW = machine("test drive", {
    "start": ({"booked"}, "out"),
    "return": ({"out"}, "returned"),
    "cancel": ({"booked"}, "cancelled"),
})
MAX_HOURS = 12


def add_demo_car(session: Session, vehicle: Vehicle, *, user: Any = None) -> SalesDemoCar:
    """Put a core vehicle into its branch's demo fleet (once)."""
    car = session.scalar(select(SalesDemoCar).where(SalesDemoCar.vehicle_id == vehicle.id))
    if car is None:
        car = SalesDemoCar(vehicle_id=vehicle.id, branch_id=vehicle.branch_id, active=True)
        session.add(car)
        session.flush()
    return car


def _when(value: Any, field: str, errors: dict[str, str]) -> dt.datetime | None:
    if value in (None, ""):
        errors[field] = _("Required.")
        return None
    try:
        when = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))
    except ValueError:
        errors[field] = _("A date and time as YYYY-MM-DDTHH:MM.")
        return None
    return when if when.tzinfo else when.replace(tzinfo=business_tz())


def overlapping(session: Session, car_id: int, starts: dt.datetime, ends: dt.datetime,
                exclude: int | None = None) -> SalesTestDrive | None:
    """A booked or running drive of the car overlapping ``[starts, ends)``."""
    stmt = select(SalesTestDrive).where(
        SalesTestDrive.demo_car_id == car_id, SalesTestDrive.status.in_(HOLDING),
        SalesTestDrive.starts_at < ends, SalesTestDrive.ends_at > starts)
    if exclude is not None:
        stmt = stmt.where(SalesTestDrive.id != exclude)
    return session.scalar(stmt.order_by(SalesTestDrive.starts_at).limit(1))


def book_drive(session: Session, data: dict[str, Any], *, user: Any) -> SalesTestDrive:
    """Book a demo car (``vehicle_id``) for ``customer_id`` from ``starts_at`` to
    ``ends_at``. The licence must be given and valid on the day of the drive; a booking
    overlapping another of the same car is a 409 naming when the car is taken."""
    errors: dict[str, str] = {}
    car = None
    vehicle = one_visible(Vehicle, data.get("vehicle_id"), user, session=session) \
        if data.get("vehicle_id") else None
    if vehicle is not None:
        car = session.scalar(select(SalesDemoCar).where(SalesDemoCar.vehicle_id == vehicle.id,
                                                        SalesDemoCar.active.is_(True)))
    if car is None:
        errors["vehicle_id"] = _("Choose a car of the demo fleet.")
    customer = one_visible(Party, data.get("customer_id"), user, session=session) \
        if data.get("customer_id") else None
    if customer is None:
        errors["customer_id"] = _("Choose a customer you can see.")
    prospect = None
    if data.get("prospect_id"):
        prospect = one_visible(SalesProspect, data["prospect_id"], user, session=session)
        if prospect is None or (customer is not None and prospect.customer_id != customer.id):
            errors["prospect_id"] = _("No prospect of this customer with this id.")
    starts = _when(data.get("starts_at"), "starts_at", errors)
    ends = _when(data.get("ends_at"), "ends_at", errors)
    if starts and ends and not (starts < ends <= starts + dt.timedelta(hours=MAX_HOURS)):
        errors["ends_at"] = _("After the start, at most %(n)s hours later.", n=MAX_HOURS)
    licence = " ".join(str(data.get("licence_number") or "").split()).upper()
    if not 5 <= len(licence) <= 40:
        errors["licence_number"] = _("The driving licence number (5 to 40 characters).")
    expiry = data.get("licence_expiry")
    try:
        expiry = expiry if isinstance(expiry, dt.date) else dt.date.fromisoformat(str(expiry))
    except ValueError:
        errors["licence_expiry"] = _("The licence's expiry date as YYYY-MM-DD.")
        expiry = None
    drive_day = starts.astimezone(business_tz()).date() if starts else business_today()
    if expiry is not None and expiry < drive_day:
        errors["licence_expiry"] = _("The licence expired on %(day)s: no test drive without "
                                     "a valid licence.", day=expiry.isoformat())
    if errors:
        raise ValidationFailed(_("The test drive was not booked: %(fields)s.",
                                 fields=", ".join(sorted(errors))), errors)
    assert car is not None and vehicle is not None and customer is not None
    assert starts is not None and ends is not None and isinstance(expiry, dt.date)
    lock(session, SalesDemoCar, [car.id])
    clash = overlapping(session, car.id, starts, ends)
    if clash is not None:
        local = business_tz()
        raise Conflict(
            _("This car is booked from %(start)s to %(end)s. Choose another time or car.",
              start=clash.starts_at.astimezone(local).strftime("%Y-%m-%d %H:%M"),
              end=clash.ends_at.astimezone(local).strftime("%H:%M")),
            {"starts_at": _("The car is taken at this time.")},
            {"clashes_with": clash.id})
    drive = SalesTestDrive(
        demo_car_id=car.id, vehicle_id=vehicle.id, customer_id=customer.id,
        prospect_id=prospect.id if prospect else None, branch_id=car.branch_id,
        salesperson_id=getattr(user, "id", None), starts_at=starts, ends_at=ends,
        licence_number=licence, licence_expiry=expiry,
        waiver_signed=bool(data.get("waiver_signed")), status="booked")
    session.add(drive)
    session.flush()
    emit(session, signals.test_drive_booked, test_drive_id=drive.id, vehicle_id=vehicle.id,
         customer_id=customer.id, starts_at=starts, ends_at=ends,
         audit=Audit("sales_test_drive", drive.id, N_("Test drive %(id)s booked"), None,
                     {"vehicle_id": vehicle.id, "starts_at": starts.isoformat(),
                      "ends_at": ends.isoformat()}, args={"id": drive.id},
                     branch_id=drive.branch_id, version=drive.version))
    return drive


def start_drive(session: Session, drive: SalesTestDrive, *, odometer_out: Any, user: Any,
                waiver_signed: bool | None = None) -> SalesTestDrive:
    """The car leaves: the waiver must be signed, and the odometer reading is written to
    the core vehicle (it must not go backwards)."""
    drive = lock(session, SalesTestDrive, [drive.id])[drive.id]
    DRIVE_FLOW.target(drive.status, "start")
    if waiver_signed is not None:
        drive.waiver_signed = bool(waiver_signed)
    if not drive.waiver_signed:
        raise ValidationFailed(_("The driver signs the waiver before the drive."),
                               {"waiver_signed": _("Not signed.")})
    vehicle = session.get(Vehicle, drive.vehicle_id)
    reading = record_odometer(session, vehicle, odometer_out, source="sales.test_drive",
                              user=user)
    drive.status, drive.odometer_out = "out", reading.value_km
    session.flush()
    return drive


def return_car(session: Session, drive: SalesTestDrive, *, odometer_in: Any, user: Any,
               feedback: str = "") -> SalesTestDrive:
    """The car is back: the odometer reading goes to the core vehicle (not lower than at
    departure), the feedback is kept and the drive lands on the customer's timeline."""
    drive = lock(session, SalesTestDrive, [drive.id])[drive.id]
    DRIVE_FLOW.target(drive.status, "return")
    vehicle = session.get(Vehicle, drive.vehicle_id)
    reading = record_odometer(session, vehicle, odometer_in, source="sales.test_drive",
                              user=user)
    drive.status, drive.odometer_in = "returned", reading.value_km
    drive.feedback = (feedback or "").strip()
    session.flush()
    distance = reading.value_km - (drive.odometer_out or reading.value_km)
    add_entry(session, party_id=drive.customer_id, kind="sales.test_drive", user=user,
              subject=_("Test drive of %(car)s, %(km)s km", car=vehicle.model or vehicle.vin,
                        km=distance), body=drive.feedback, ref_type="sales_test_drive",
              ref_id=drive.id)
    emit(session, signals.test_drive_returned, test_drive_id=drive.id, vehicle_id=vehicle.id,
         customer_id=drive.customer_id, odometer_in=reading.value_km, distance_km=distance,
         audit=Audit("sales_test_drive", drive.id, N_("Test drive %(id)s returned"),
                     {"status": "out"}, {"status": "returned", "odometer_in": reading.value_km},
                     args={"id": drive.id}, branch_id=drive.branch_id, version=drive.version))
    return drive


def cancel_drive(session: Session, drive: SalesTestDrive, *, user: Any) -> SalesTestDrive:
    """A booked drive is called off: the car is free again."""
    drive = lock(session, SalesTestDrive, [drive.id])[drive.id]
    drive.status = DRIVE_FLOW.target(drive.status, "cancel")
    session.flush()
    return drive
