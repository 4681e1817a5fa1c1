"""Waybills for fleets that carry goods: received → loaded → in transit → delivered.

Each status change is a scan of the waybill's barcode (the Code 128 text of its number) by
a person, recorded as a :class:`~carebiz_plugins.gps.models.GpsWaybillEvent` with the
position of the waybill's vehicle at that moment — its tracker's live state
(``gps_device_state``), so the scan costs one indexed read, never a search in positions.
Moves go through :data:`WAYBILL` (``carebiz.toolkit.transitions``): an illegal one is a 409
naming the current status and what is possible.

The consignee follows the consignment on a public page with a signed, short-lived token
(:func:`issue_token` / :func:`read_token`, itsdangerous with the app's secret key): no
login, no database row per link; raising ``token_generation`` withdraws every link given
out before. Services never commit: the caller owns the transaction.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from carebiz.concurrency import check_version, lock
from carebiz.crm.models import Party, Vehicle
from carebiz.crm.validation import normalize_email
from carebiz.currency.money import to_decimal
from carebiz.errors import NotFound, ValidationFailed
from carebiz.events import Audit, emit
from carebiz.i18n import N_
from carebiz.services import settings
from carebiz.services.branches import default_branch_for, usable_branches
from carebiz.text import text_problem
from carebiz.toolkit import host, one_visible, record_id, today
from carebiz.toolkit.transitions import IllegalTransition, machine

from ..models import WAYBILL_STATUSES, GpsDevice, GpsDeviceState, GpsWaybill, GpsWaybillEvent
from ..signals import waybill_created, waybill_link_issued, waybill_status_changed

STATUSES = WAYBILL_STATUSES
STATUS_LABELS = {"received": _l("Received"), "loaded": _l("Loaded"),
                 "in_transit": _l("In transit"), "delivered": _l("Delivered")}
ACTION_LABELS = {"load": _l("Load"), "depart": _l("Depart"), "deliver": _l("Deliver")}

#: what may happen to a waybill, from where
WAYBILL = machine(_l("waybill"), {
    "load": ({"received"}, "loaded"),
    "depart": ({"loaded"}, "in_transit"),
    "deliver": ({"in_transit"}, "delivered"),
}, labels={**STATUS_LABELS, **ACTION_LABELS})
#: the action that leads to each status (a scan may name the status it records)
ACTION_TO = {target: action for action, (_starts, target) in WAYBILL.actions.items()}

TOKEN_DAYS = "gps.waybill_token_days"
TOKEN_SALT = "carebiz.gps.waybill-track"
NUMBER = re.compile(r"^WB\d{8}-\d{4,6}$")
TEXT = {"shipper_name": 120, "shipper_phone": 32, "consignee_name": 120,
        "consignee_phone": 32, "consignee_email": 254, "destination": 200, "goods": 200,
        "driver_name": 80,
        "driver_phone": 32, "notes": 5000}
FIELDS = {*TEXT, "shipper_id", "pieces", "weight_kg", "vehicle_id", "branch_id"}


def status_label(code: str) -> str:
    return str(STATUS_LABELS.get(code, code))


def snapshot(bill: GpsWaybill) -> dict[str, Any]:
    return {"number": bill.number, "status": bill.status, "vehicle_id": bill.vehicle_id,
            "pieces": bill.pieces, "weight_kg": None if bill.weight_kg is None
            else str(bill.weight_kg), "goods": bill.goods, "branch_id": bill.branch_id}


def _audit(bill: GpsWaybill, summary: str, before: dict[str, Any] | None) -> Audit:
    return Audit("gps_waybill", bill.id, summary, before, snapshot(bill),
                 branch_id=bill.branch_id, args={"number": bill.number},
                 version=bill.version)


# --- creating ---------------------------------------------------------------------------


def _branch(session: Session, user: Any, value: Any, errors: dict[str, str]) -> int | None:
    if value in (None, ""):
        branch = default_branch_for(session, user)
        if branch is None:
            errors["branch_id"] = _("Choose a branch.")
            return None
        return branch.id
    wanted = record_id(value)
    if wanted not in {b.id for b in usable_branches(session, user)}:
        errors["branch_id"] = _("Not a branch you may use.")
        return None
    return wanted


def _visible(session: Session, model: type, value: Any, user: Any) -> Any:
    if user is None:
        number = record_id(value)
        return None if number is None else session.get(model, number)
    return one_visible(model, value, user, session=session)


def next_number(session: Session, on: dt.date) -> str:
    """The next free number of the day ``on``: ``WB20261202-0001``, ``…-0002`` …"""
    prefix = f"WB{on:%Y%m%d}-"
    last = session.scalar(
        select(GpsWaybill.number).where(GpsWaybill.number.startswith(prefix))
        .order_by(func.length(GpsWaybill.number).desc(), GpsWaybill.number.desc()).limit(1))
    count = int(last[len(prefix):]) if last else 0
    return f"{prefix}{count + 1:04d}"


def create_waybill(session: Session, data: dict[str, Any], *, user: Any = None
                   ) -> GpsWaybill:
    """Receive a consignment: shipper (a customer of yours by ``shipper_id``, or a name),
    consignee name and phone, goods, pieces (≥ 1), weight in kg, the vehicle (one you may
    see) and driver. It gets the next number of the day and its first event, ``received``,
    with the vehicle's position. Every problem is reported at once (422)."""
    data = dict(data)
    errors: dict[str, str] = {f: _("Unknown field.") for f in sorted(set(data) - FIELDS)}
    texts: dict[str, str] = {}
    for field, limit in TEXT.items():
        text = str(data.get(field) or "").strip()
        problem = text_problem(text, limit)
        if problem:
            errors[field] = problem
        texts[field] = text
    shipper = None
    if data.get("shipper_id") not in (None, ""):
        shipper = _visible(session, Party, data["shipper_id"], user)
        if shipper is None:
            errors["shipper_id"] = _("No customer with this id.")
        elif not texts["shipper_name"]:
            texts["shipper_name"] = shipper.name[:120]
    for field, message in (("shipper_name", _("Name the shipper.")),
                           ("consignee_name", _("Name the consignee.")),
                           ("goods", _("Say what is carried."))):
        if not texts[field] and field not in errors:
            errors[field] = message
    if not texts["consignee_phone"] and "consignee_phone" not in errors:
        errors["consignee_phone"] = _("The consignee's phone, for delivery notices.")
    if texts["consignee_email"] and "consignee_email" not in errors:
        try:
            texts["consignee_email"] = normalize_email(texts["consignee_email"],
                                                       "consignee_email")
        except ValidationFailed as exc:
            errors["consignee_email"] = str(exc.errors.get("consignee_email") or exc)
    raw_pieces = data.get("pieces", 1)
    pieces = (raw_pieces if isinstance(raw_pieces, int) and not isinstance(raw_pieces, bool)
              else int(raw_pieces) if str(raw_pieces).isdigit() else 0)
    if not 1 <= pieces <= 1_000_000:
        errors["pieces"] = _("A whole number of pieces, at least 1.")
    weight: Decimal | None = None
    if data.get("weight_kg") not in (None, ""):
        try:
            weight = to_decimal(data["weight_kg"], "weight_kg").quantize(Decimal("0.01"))
            if weight < 0 or weight >= Decimal("1e8"):
                errors["weight_kg"] = _("A weight of zero or more kilograms.")
        except ValidationFailed as exc:
            errors["weight_kg"] = str(next(iter(exc.errors.values()), exc))
    vehicle = None
    if data.get("vehicle_id") not in (None, ""):
        vehicle = _visible(session, Vehicle, data["vehicle_id"], user)
        if vehicle is None:
            errors["vehicle_id"] = _("No vehicle with this id.")
    branch_id = _branch(session, user, data.get("branch_id"), errors)
    if errors:
        raise ValidationFailed(_("The waybill was not saved: %(fields)s.",
                                 fields=", ".join(sorted(errors))), errors)
    for _attempt in range(5):
        bill = GpsWaybill(number=next_number(session, today()), status="received",
                          shipper_id=shipper.id if shipper else None, pieces=int(pieces),
                          weight_kg=weight, vehicle_id=vehicle.id if vehicle else None,
                          branch_id=branch_id, created_by=getattr(user, "id", None), **texts)
        try:
            with session.begin_nested():
                session.add(bill)
                session.flush()
            break
        except IntegrityError:  # another clerk took this number meanwhile: take the next
            continue
    else:  # pragma: no cover - five collisions in a row
        raise ValidationFailed(_("No waybill number could be given; try again."), {})
    _event(session, bill, None, user)
    emit(session, waybill_created, waybill_id=bill.id, number=bill.number,
         branch_id=bill.branch_id, vehicle_id=bill.vehicle_id,
         audit=_audit(bill, N_("Waybill %(number)s received"), None))
    return bill


# --- positions and moves ----------------------------------------------------------------


@dataclass(frozen=True)
class Position:
    """Where a vehicle's tracker last was (its live state)."""

    device_id: int
    latitude: float | None
    longitude: float | None
    fix_time: dt.datetime | None


def vehicle_position(session: Session, vehicle_id: int | None) -> Position | None:
    """The live position of the vehicle's tracker (the most recently seen active one), or
    None without a tracker or a fix."""
    if vehicle_id is None:
        return None
    row = session.execute(
        select(GpsDeviceState).join(GpsDevice, GpsDevice.id == GpsDeviceState.device_id)
        .where(GpsDevice.vehicle_id == vehicle_id, GpsDevice.status == "active",
               GpsDeviceState.latitude.is_not(None))
        .order_by(GpsDeviceState.fix_time.desc(), GpsDevice.id.desc()).limit(1)).scalar()
    if row is None:
        return None
    return Position(row.device_id, row.latitude, row.longitude, row.fix_time)


def _event(session: Session, bill: GpsWaybill, from_status: str | None, user: Any,
           note: str = "") -> GpsWaybillEvent:
    where = vehicle_position(session, bill.vehicle_id)
    event = GpsWaybillEvent(
        waybill_id=bill.id, from_status=from_status, status=bill.status,
        at=dt.datetime.now(dt.UTC), vehicle_id=bill.vehicle_id,
        device_id=where.device_id if where else None,
        latitude=where.latitude if where else None,
        longitude=where.longitude if where else None,
        fix_time=where.fix_time if where else None, scanned_by=getattr(user, "id", None),
        note=note, branch_id=bill.branch_id)
    session.add(event)
    session.flush()
    return event


def allowed(bill: GpsWaybill) -> list[str]:
    """The statuses a scan may record now (the ``allowed`` of a 409 names actions)."""
    return [WAYBILL.actions[a][1] for a in WAYBILL.allowed(bill.status)]


def move(session: Session, bill: GpsWaybill, status: str | None = None, *, user: Any = None,
         note: str = "", expected_version: Any = None) -> GpsWaybillEvent:
    """Record the next status of ``bill`` (or the one named). "Next" is worked out from the
    status the scanner saw, and the waybill is then re-read under a lock: two people
    scanning the same parcel at once record one move, and the second gets a 409 saying
    where it is now instead of moving it a second step. Returns the event, with the
    vehicle's position."""
    check_version(session, bill, expected_version, entity_type="gps_waybill",
                  current=snapshot(bill))
    problem = text_problem(note, 2000)
    if problem:
        raise ValidationFailed(problem, {"note": problem})
    if status in (None, ""):
        possible = WAYBILL.allowed(bill.status)
        action = possible[0] if possible else "deliver"
    elif status in ACTION_TO:
        action = ACTION_TO[str(status)]
    elif status in WAYBILL.actions:
        action = str(status)
    else:
        message = _("One of: %(choices)s.", choices=", ".join(STATUSES[1:]))
        raise ValidationFailed(message, {"status": message})
    bill = lock(session, GpsWaybill, [bill.id])[bill.id]
    before = snapshot(bill)
    from_status = bill.status
    bill.status = WAYBILL.target(bill.status, action)
    if bill.status == "delivered":
        bill.delivered_at = dt.datetime.now(dt.UTC)
    session.flush()
    event = _event(session, bill, from_status, user, note.strip())
    emit(session, waybill_status_changed, waybill_id=bill.id, number=bill.number,
         branch_id=bill.branch_id, from_status=from_status, status=bill.status,
         event_id=event.id, latitude=event.latitude, longitude=event.longitude,
         consignee_phone=bill.consignee_phone,
         audit=_audit(bill, N_("Waybill %(number)s scanned"), before))
    return event


def find_by_code(session: Session, code: str, user: Any) -> GpsWaybill:
    """The waybill a scanned barcode names (its number, any case, spaces ignored), if the
    user may see it; else 404 — another branch's waybill is not found."""
    number = "".join(str(code or "").split()).upper()
    if not NUMBER.match(number):
        message = _("This is not a waybill barcode (WB, the date, a dash and a number).")
        raise ValidationFailed(message, {"code": message})
    stmt = select(GpsWaybill).where(GpsWaybill.number == number)
    bill = session.scalar(stmt)
    if bill is None or (user is not None and one_visible(GpsWaybill, bill.id, user,
                                                         session=session) is None):
        raise NotFound(_("No waybill %(number)s.", number=number))
    return bill


#: a second scan of the same waybill within this time is a double read of the reader
DOUBLE_READ = dt.timedelta(seconds=20)


def scan(session: Session, code: str, status: str | None = None, *, user: Any = None,
         note: str = "") -> GpsWaybillEvent:
    """A scan of the barcode: the waybill's next status (or ``status``) is recorded. A
    second scan of the same waybill within :data:`DOUBLE_READ` without a status named is
    taken as the reader firing twice and refused (409), so a parcel is not moved two steps
    by one beep."""
    bill = find_by_code(session, code, user)
    if status in (None, ""):
        last = session.scalar(select(func.max(GpsWaybillEvent.at))
                              .where(GpsWaybillEvent.waybill_id == bill.id))
        if last is not None and dt.datetime.now(dt.UTC) - last < DOUBLE_READ \
                and bill.status != "received":
            message = _("%(number)s was scanned a moment ago (%(status)s): scan again in a "
                        "few seconds, or choose the status.", number=bill.number,
                        status=status_label(bill.status))
            raise IllegalTransition(message, {"code": message},
                                    {"current_status": bill.status,
                                     "allowed": WAYBILL.allowed(bill.status)})
    return move(session, bill, status, user=user, note=note)


def events(session: Session, bill: GpsWaybill) -> list[GpsWaybillEvent]:
    return list(session.scalars(select(GpsWaybillEvent)
                                .where(GpsWaybillEvent.waybill_id == bill.id)
                                .order_by(GpsWaybillEvent.at, GpsWaybillEvent.id)))


# --- public tracking tokens -------------------------------------------------------------


class TokenRefused(Exception):
    """A tracking link that cannot be honoured: ``expired`` (410) or ``invalid`` (404)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(str(current_app.secret_key), salt=TOKEN_SALT)


def token_days(session: Session) -> int:
    return max(1, int(settings.get(session, host(), TOKEN_DAYS) or 7))


def issue_token(session: Session, bill: GpsWaybill, *, revoke_previous: bool = False
                ) -> tuple[str, dt.datetime]:
    """A tracking token for ``bill`` and when it expires (``gps.waybill_token_days``, 7).
    ``revoke_previous`` withdraws every token given out before (a link sent to the wrong
    person)."""
    before = snapshot(bill)
    if revoke_previous:
        bill.token_generation += 1
        session.flush()
    token = _serializer().dumps({"n": bill.number, "g": bill.token_generation})
    expires = (dt.datetime.now(dt.UTC) + dt.timedelta(days=token_days(session))).replace(
        microsecond=0)
    emit(session, waybill_link_issued, waybill_id=bill.id, number=bill.number,
         branch_id=bill.branch_id, revoked_previous=revoke_previous, expires_at=expires,
         audit=_audit(bill, N_("Tracking link of waybill %(number)s issued, earlier links "
                               "withdrawn") if revoke_previous
                      else N_("Tracking link of waybill %(number)s issued"),
                      before if revoke_previous else None))
    return token, expires


def tracking_path(number: str, token: str) -> str:
    """The public tracking page of a token as a path of this site (``/track/<number>?t=…``),
    built without a request: the consignee's notices are written by receivers that may run
    in a worker, where ``url_for`` has no host to build on. Numbers and tokens are URL-safe
    by construction (:data:`NUMBER`, itsdangerous' URL-safe serializer)."""
    return f"/track/{quote(number, safe='')}?t={quote(token, safe='')}"


def read_token(session: Session, number: str, token: str) -> GpsWaybill:
    """The waybill a public tracking link shows, or :class:`TokenRefused`."""
    try:
        data = _serializer().loads(token or "", max_age=token_days(session) * 86400)
    except SignatureExpired:
        raise TokenRefused("expired") from None
    except BadSignature:
        raise TokenRefused("invalid") from None
    if not isinstance(data, dict) or data.get("n") != number:
        raise TokenRefused("invalid")
    bill = session.scalar(select(GpsWaybill).where(GpsWaybill.number == number))
    if bill is None:
        raise TokenRefused("invalid")
    if data.get("g") != bill.token_generation:
        raise TokenRefused("expired")
    return bill


def public_view(session: Session, bill: GpsWaybill) -> dict[str, Any]:
    """What the public tracking page may show: the number, the status with its times,
    the pieces and the last position — never the shipper, the consignee or the driver.
    While the goods travel the last position is the vehicle's live one; otherwise the
    position of the last scan."""
    history = events(session, bill)
    last = history[-1] if history else None
    lat, lon, fix = ((last.latitude, last.longitude, last.fix_time or last.at)
                     if last else (None, None, None))
    if bill.status in ("loaded", "in_transit"):
        live = vehicle_position(session, bill.vehicle_id)
        if live is not None and live.latitude is not None:
            lat, lon, fix = live.latitude, live.longitude, live.fix_time
    return {"number": bill.number, "status": bill.status,
            "status_label": status_label(bill.status), "pieces": bill.pieces,
            "history": [{"status": e.status, "status_label": status_label(e.status),
                         "at": e.at} for e in history],
            "position": None if lat is None else {"latitude": round(lat, 5),
                                                  "longitude": round(lon or 0.0, 5),
                                                  "fix_time": fix},
            "delivered_at": bill.delivered_at}

