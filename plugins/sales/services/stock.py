"""Vehicle stock by VIN: registering cars (each a core vehicle), their status moves, inbound
receipt with inspection notes, transfers between branches and days in stock.

Each stock car is a core :class:`~carebiz.crm.models.Vehicle` registered through
:func:`carebiz.crm.services.vehicles.create_vehicle`, so the core validates the VIN (format
and, if configured, the check digit) and refuses one already on file; the same car later
becomes the customer's on delivery, with its history intact."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from carebiz.concurrency import check_version, lock
from carebiz.crm.models import Vehicle
from carebiz.crm.services import vehicles
from carebiz.errors import ValidationFailed
from carebiz.events import Audit, emit
from carebiz.i18n import N_
from carebiz.models import Branch
from carebiz.services.branches import default_branch_for, usable_branches
from carebiz.text import text_problem
from carebiz.toolkit import one_visible, record_id, today
from carebiz.toolkit.transitions import machine

from ..labels import STOCK_ACTIONS, STOCK_STATUS, machine_labels
from ..models import SalesStock
from ..signals import stock_changed
from .money import amount, currency_code

STATUSES = ("ordered", "in_transit", "in_stock", "reserved", "sold", "delivered")

#: what may happen to a stock car, from where (``release`` undoes a reservation)
STOCK = machine(_l("stock vehicle"), {
    "ship": ({"ordered"}, "in_transit"),
    "receive": ({"ordered", "in_transit"}, "in_stock"),
    "reserve": ({"in_stock"}, "reserved"),
    "release": ({"reserved"}, "in_stock"),
    "sell": ({"reserved"}, "sold"),
    "deliver": ({"sold"}, "delivered"),
}, labels=machine_labels(STOCK_STATUS, STOCK_ACTIONS))

TEXT = {"make": 60, "model": 80, "trim": 80, "colour": 40, "location": 60,
        "inspection_notes": 5000}


def snapshot(stock: SalesStock) -> dict[str, Any]:
    return {"vin": stock.vin, "status": stock.status, "branch_id": stock.branch_id,
            "location": stock.location, "cost": str(stock.cost), "currency": stock.currency,
            "order_id": stock.order_id}


def days_in_stock(stock: SalesStock, on: dt.date | None = None) -> int | None:
    """Days since the car arrived, to ``on`` (today) or to its delivery; None before it
    arrived. The aging report sorts and buckets by this."""
    if stock.received_on is None:
        return None
    end = stock.delivered_on or on or today()
    return max(0, (end - stock.received_on).days)


def visible_row(session: Session, model: type, value: Any, user: Any) -> Any:
    """The row with id ``value`` if ``user`` may see it; without a user (the demo loader, a
    job) any row. Another branch's row is None, as if it did not exist."""
    if user is None:
        number = record_id(value)
        return None if number is None else session.get(model, number)
    return one_visible(model, value, user, session=session)


def _text(data: dict[str, Any], errors: dict[str, str]) -> dict[str, str]:
    out = {}
    for field, limit in TEXT.items():
        if field in data:
            value = str(data[field] or "").strip()
            problem = text_problem(value, limit)
            if problem:
                errors[field] = problem
            out[field] = value
    return out


def branch_for(session: Session, user: Any, branch_id: Any, errors: dict[str, str],
               field: str = "branch_id") -> int | None:
    """The branch a new row goes to: the one named if the user may use it, else the user's
    default (:func:`default_branch_for`); a problem lands in ``errors``."""
    if branch_id in (None, ""):
        branch = default_branch_for(session, user)
        if branch is None:
            errors[field] = _("Choose a branch.")
            return None
        return branch.id
    allowed = {b.id for b in usable_branches(session, user)}
    try:
        wanted = int(branch_id)
    except (TypeError, ValueError):
        wanted = -1
    if wanted not in allowed:
        errors[field] = _("Not a branch you may use.")
        return None
    return wanted


def create_stock(session: Session, data: dict[str, Any], *, user: Any = None,
                 purchase_order_id: int | None = None) -> SalesStock:
    """Put a car into stock: registers the VIN as a core vehicle and the stock row in one
    go (the caller's transaction). ``status`` may be ``ordered``, ``in_transit`` or
    ``in_stock`` (the default, received today)."""
    errors: dict[str, str] = {}
    unknown = set(data) - {"vin", "make", "model", "trim", "year", "colour", "cost",
                           "currency", "branch_id", "location", "status", "received_on",
                           "inspection_notes"}
    errors.update({f: _("Unknown field.") for f in sorted(unknown)})
    texts = _text(data, errors)
    status = str(data.get("status") or "in_stock")
    if status not in ("ordered", "in_transit", "in_stock"):
        errors["status"] = _("One of: %(allowed)s.", allowed="ordered, in_transit, in_stock")
    currency = cost = None
    try:
        currency = currency_code(data.get("currency") or "CNY")
        cost = amount(data.get("cost"), currency, "cost")
    except ValidationFailed as exc:
        errors.update({k: str(v) for k, v in exc.errors.items()})
    received_on = None
    if status == "in_stock":
        received_on = data.get("received_on") or today()
        if not isinstance(received_on, dt.date):
            try:
                received_on = dt.date.fromisoformat(str(received_on))
            except ValueError:
                errors["received_on"] = _("Enter a date as YYYY-MM-DD.")
    branch_id = branch_for(session, user, data.get("branch_id"), errors)
    if errors:
        raise ValidationFailed(_("The stock vehicle is not valid: %(fields)s",
                                 fields=", ".join(sorted(errors))), errors)
    vehicle = vehicles.create_vehicle(session, {
        "vin": data.get("vin"), "make": texts.get("make", ""),
        "model": " ".join(filter(None, [texts.get("model"), texts.get("trim")])),
        "year": data.get("year"), "colour": texts.get("colour", ""), "branch_id": branch_id,
    }, user=user)
    stock = SalesStock(vehicle_id=vehicle.id, vin=vehicle.vin, year=vehicle.year,
                       status=status, cost=cost, currency=currency, received_on=received_on,
                       branch_id=branch_id, purchase_order_id=purchase_order_id,
                       **{k: v for k, v in texts.items()})
    session.add(stock)
    session.flush()
    emit(session, stock_changed, stock_id=stock.id, vehicle_id=vehicle.id, vin=stock.vin,
         old_status="", new_status=stock.status, branch_id=stock.branch_id,
         audit=Audit("sales_stock", stock.id, N_("Vehicle %(vin)s taken into stock"), None,
                     snapshot(stock), branch_id=stock.branch_id, args={"vin": stock.vin},
                     version=stock.version))
    return stock


def move(session: Session, stock: SalesStock, action: str, *,
         expected_version: Any = None, **changes: Any) -> SalesStock:
    """Apply one action of :data:`STOCK` to a car, under a row lock (two people reserving
    the same VIN: the second sees it reserved and gets the 409 with what is possible)."""
    check_version(session, stock, expected_version, entity_type="sales_stock",
                  current=snapshot(stock))
    stock = lock(session, SalesStock, [stock.id])[stock.id]
    old = stock.status
    stock.status = STOCK.target(old, action)
    for key, value in changes.items():
        setattr(stock, key, value)
    if action == "receive" and stock.received_on is None:
        stock.received_on = today()
    if action == "deliver":
        stock.delivered_on = today()
    if action == "release":
        stock.order_id = None
    session.flush()
    emit(session, stock_changed, stock_id=stock.id, vehicle_id=stock.vehicle_id,
         vin=stock.vin, old_status=old, new_status=stock.status, branch_id=stock.branch_id,
         audit=Audit("sales_stock", stock.id, ACTION_SUMMARIES.get(action, N_(
                         "Vehicle %(vin)s: status changed")),
                     {"status": old}, {"status": stock.status, **_jsonable(changes)},
                     branch_id=stock.branch_id, args={"vin": stock.vin},
                     version=stock.version))
    return stock


#: what the audit log says of each status change: a sentence per action, so the summary
#: holds no status code (the changes, labelled through ``audit_labels``, show old → new)
ACTION_SUMMARIES = {
    "ship": N_("Vehicle %(vin)s shipped"), "receive": N_("Vehicle %(vin)s received"),
    "reserve": N_("Vehicle %(vin)s reserved"),
    "release": N_("Vehicle %(vin)s: reservation released"),
    "sell": N_("Vehicle %(vin)s sold"), "deliver": N_("Vehicle %(vin)s delivered"),
}


def _jsonable(values: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, dt.date) else v) for k, v in values.items()}


def receive(session: Session, stock: SalesStock, data: dict[str, Any], *,
            expected_version: Any = None) -> SalesStock:
    """Inbound receipt: the car arrives (``ordered``/``in_transit`` → ``in_stock``) with
    the inspection's notes and where it was parked; a car already allocated to an order is
    reserved for it at once, in the same transaction."""
    errors: dict[str, str] = {}
    texts = _text({k: data[k] for k in ("location", "inspection_notes") if k in data},
                  errors)
    if errors:
        raise ValidationFailed(_("The receipt is not valid: %(fields)s",
                                 fields=", ".join(sorted(errors))), errors)
    stock = move(session, stock, "receive", expected_version=expected_version, **texts)
    if stock.order_id is not None:
        from . import orders  # an order waits for this car: it is now on the floor
        stock = move(session, stock, "reserve")
        orders.vehicle_arrived(session, stock)
    return stock


def transfer(session: Session, stock: SalesStock, data: dict[str, Any], *, user: Any = None,
             expected_version: Any = None) -> SalesStock:
    """Move a car to another branch (and location) the user may use. A delivered or sold
    car stays where it was sold."""
    check_version(session, stock, expected_version, entity_type="sales_stock",
                  current=snapshot(stock))
    stock = lock(session, SalesStock, [stock.id])[stock.id]
    errors: dict[str, str] = {}
    if data.get("branch_id") in (None, ""):
        errors["branch_id"] = _("Choose the branch the car goes to.")
        target = None
    else:
        target = branch_for(session, user, data.get("branch_id"), errors)
    texts = _text({k: data[k] for k in ("location",) if k in data}, errors)
    if stock.status in ("sold", "delivered"):
        errors["status"] = _("A sold car is not transferred.")
    if target is not None and target == stock.branch_id:
        errors["branch_id"] = _("The car is at this branch already.")
    if errors:
        raise ValidationFailed(_("The transfer is not valid: %(fields)s",
                                 fields=", ".join(sorted(errors))), errors)
    old = stock.branch_id
    stock.branch_id = target
    stock.location = texts.get("location", "")
    vehicle = session.get(Vehicle, stock.vehicle_id)
    if vehicle is not None and vehicle.owner_id is None:
        vehicle.branch_id = target
    session.flush()
    names = dict(session.execute(select(Branch.id, Branch.code)
                                 .where(Branch.id.in_([old, target]))).all())
    emit(session, stock_changed, stock_id=stock.id, vehicle_id=stock.vehicle_id,
         vin=stock.vin, old_status=stock.status, new_status=stock.status,
         branch_id=stock.branch_id,
         audit=Audit("sales_stock", stock.id,
                     N_("Vehicle %(vin)s transferred from %(old)s to %(new)s"),
                     {"branch_id": old}, {"branch_id": target, "location": stock.location},
                     branch_id=target, version=stock.version,
                     args={"vin": stock.vin, "old": names.get(old, old),
                           "new": names.get(target, target)}))
    return stock


#: the aging report's buckets: (key, label, first day, last day or None)
AGING_BUCKETS = (("0_30", N_("0–30 days"), 0, 30), ("31_60", N_("31–60 days"), 31, 60),
                 ("61_90", N_("61–90 days"), 61, 90), ("over_90", N_("Over 90 days"), 91, None))


def aging(session: Session, user: Any, branch_id: int | None, on: dt.date) -> dict[str, Any]:
    """Cars on the floor (``in_stock`` or ``reserved``) by days in stock, with their cost
    summed per currency (never added across currencies), and the ten oldest. The buckets
    are counted in SQL by received date, so the report stays fast with a large stock."""
    from flask_babel import gettext

    from carebiz.security.rows import visible

    base = select(SalesStock).where(SalesStock.status.in_(("in_stock", "reserved")),
                                    SalesStock.received_on.is_not(None))
    if branch_id:
        base = base.where(SalesStock.branch_id == branch_id)
    if user is not None:  # a job or a test without a user sees every branch
        base = visible(base, SalesStock, user)
    buckets = []
    for key, label, first, last in AGING_BUCKETS:
        newest = on - dt.timedelta(days=first)
        stmt = base.where(SalesStock.received_on <= newest)
        if last is not None:
            stmt = stmt.where(SalesStock.received_on >= on - dt.timedelta(days=last))
        sub = stmt.subquery()
        rows = session.execute(select(sub.c.currency, func.count(), func.sum(sub.c.cost))
                               .group_by(sub.c.currency)).all()
        buckets.append({"key": key, "label": gettext(label),
                        "count": sum(n for _c, n, _s in rows),
                        "cost": {c: str(total) for c, _n, total in rows}})
    oldest = list(session.scalars(base.order_by(SalesStock.received_on, SalesStock.id)
                                  .limit(10)))
    return {"buckets": buckets, "oldest": oldest}
