"""Sales orders (bookings): made from an accepted quotation, paid in instalments, given a
VIN, inspected, registered and delivered.

The order follows parallel sub-statuses, each changed by its own step — payment
(``unpaid``/``partly_paid``/``paid``, ``overdue`` once ``payment_due_on`` passed with money
outstanding), vehicle (``to_allocate``/``in_transit``/``in_stock``/``ready``), inspection,
registration, delivery — and the headline ``status`` is derived from them
(:func:`headline`), never set by hand. Delivery is the one step with consequences outside
sales, all in the caller's one transaction: the stock car is sold and delivered, the core
vehicle changes hands, the revenue is reported to the core (the customer's lifetime value),
the customer gains the ``customer`` role; ``sales.vehicle.delivered`` goes out after the
commit."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from flask_babel import gettext as _
from sqlalchemy.orm import Session

from carebiz.concurrency import check_version, lock
from carebiz.crm.models import Party, Vehicle
from carebiz.crm.services import parties, value, vehicles
from carebiz.currency.money import Money
from carebiz.currency.rates import convert
from carebiz.errors import Conflict, Forbidden, ValidationFailed
from carebiz.events import Audit, emit
from carebiz.i18n import N_
from carebiz.text import text_problem
from carebiz.toolkit import can
from carebiz.toolkit import today as business_today
from carebiz.toolkit.transitions import IllegalTransition

from ..labels import label
from ..models import SalesOrder, SalesPayment, SalesQuotation, SalesStock
from ..signals import order_confirmed, order_progressed, payment_received, vehicle_delivered
from . import prospects
from . import stock as stock_service
from .money import amount, currency_code
from .quotations import QUOTATION
from .quotations import snapshot as quotation_snapshot

METHODS = ("cash", "card", "transfer", "wechat", "alipay", "finance", "cheque")
OVERRIDE = "sales.override_delivery"
REVENUE_SOURCE = "sales.order"


def payment_status(order: SalesOrder, on: dt.date | None = None) -> str:
    """``paid``, ``overdue`` (due date passed, money outstanding), ``partly_paid`` or
    ``unpaid``."""
    if order.paid >= order.total:
        return "paid"
    if order.payment_due_on is not None and order.payment_due_on < (on or business_today()):
        return "overdue"
    return "partly_paid" if order.paid > 0 else "unpaid"


def outstanding(order: SalesOrder) -> Decimal:
    return max(Decimal(0), order.total - order.paid)


def headline(order: SalesOrder) -> str:
    """The one word a list shows: ``cancelled``, ``delivered``, ``ready_for_delivery``
    (car ready and paid), ``awaiting_payment`` (car ready, money outstanding),
    ``awaiting_vehicle`` (paid, car not ready) or ``confirmed``."""
    if order.delivery_status in ("cancelled", "delivered"):
        return order.delivery_status
    ready = order.vehicle_status == "ready"
    paid = order.paid >= order.total
    if ready and paid:
        return "ready_for_delivery"
    if ready:
        return "awaiting_payment"
    return "awaiting_vehicle" if paid else "confirmed"


def allowed_actions(order: SalesOrder, user: Any = None) -> list[str]:
    """What may be done to the order now (the ``allowed`` of a 409 answer)."""
    if order.delivery_status in ("cancelled", "delivered"):
        return []
    actions = ["cancel"]
    if order.paid < order.total:
        actions.append("pay")
    if order.vehicle_status == "to_allocate":
        actions.append("allocate")
    if order.vehicle_status == "in_stock":
        actions.append("inspect")
    if order.registration_status != "done" and order.stock_id is not None:
        actions.append("register")
    if order.vehicle_status == "ready":
        if order.paid >= order.total:
            actions.append("deliver")
        elif user is None or can(user, OVERRIDE):
            actions.append("deliver_with_override")
    return sorted(actions)


def snapshot(order: SalesOrder) -> dict[str, Any]:
    return {"status": order.status, "payment_status": order.payment_state,
            "vehicle_status": order.vehicle_status, "pdi_status": order.pdi_status,
            "registration_status": order.registration_status,
            "delivery_status": order.delivery_status, "paid": str(order.paid),
            "total": str(order.total), "stock_id": order.stock_id}


def _refresh(order: SalesOrder) -> None:
    order.payment_state = ("paid" if order.paid >= order.total
                           else "partly_paid" if order.paid > 0 else "unpaid")
    order.status = headline(order)


def _refuse(order: SalesOrder, message: str, user: Any = None, field: str = "status"
            ) -> IllegalTransition:
    return IllegalTransition(message, {field: message},
                             {"current_status": order.status,
                              "allowed": allowed_actions(order, user)})


def _live(session: Session, order: SalesOrder, expected_version: Any) -> SalesOrder:
    check_version(session, order, expected_version, entity_type="sales_order",
                  current=snapshot(order))
    order = lock(session, SalesOrder, [order.id])[order.id]
    if order.delivery_status in ("cancelled", "delivered"):
        raise _refuse(order, _("This order is %(status)s: nothing more can change.",
                               status=label("delivery", order.delivery_status)))
    return order


def _audit(session: Session, order: SalesOrder, summary: str,
           before: dict[str, Any] | None, **extra: Any) -> Audit:
    return Audit("sales_order", order.id, summary, before, {**snapshot(order), **extra},
                 branch_id=order.branch_id, args={"id": order.id}, version=order.version)


def _progress(session: Session, order: SalesOrder, step: str, summary: str,
              before: dict[str, Any]) -> None:
    emit(session, order_progressed, order_id=order.id, step=step, status=order.status,
         audit=_audit(session, order, summary, before))


def _attach(session: Session, order: SalesOrder, stock: SalesStock) -> None:
    """Tie ``stock`` to ``order``: reserved at once when it stands in stock, else held for
    the order until it arrives (then reserved on receipt)."""
    stock = lock(session, SalesStock, [stock.id])[stock.id]
    if stock.order_id not in (None, order.id):
        raise Conflict(_("The car %(vin)s is held for order %(order)s.", vin=stock.vin,
                         order=stock.order_id),
                       {"stock_id": _("Held for another order.")},
                       {"current_status": stock.status,
                        "allowed": stock_service.STOCK.allowed(stock.status)})
    if stock.status == "in_stock":
        stock_service.move(session, stock, "reserve", order_id=order.id)
        order.vehicle_status = "in_stock"
    elif stock.status in ("ordered", "in_transit"):
        stock.order_id = order.id
        order.vehicle_status = "in_transit"
    else:
        stock_service.STOCK.target(stock.status, "reserve")  # raises the 409
    order.stock_id = stock.id
    session.flush()
    session.expire(order, ["stock"])  # the read-only relationship follows the new id


def accept_quotation(session: Session, quotation: SalesQuotation, data: dict[str, Any]
                     | None = None, *, user: Any = None, expected_version: Any = None
                     ) -> SalesOrder:
    """The customer accepts: the quotation becomes ``accepted`` and an order is made for
    its total, the quotation's stock car reserved (or held while it is on its way).
    ``data`` may give ``deposit`` (the amount agreed as down payment) and
    ``payment_due_on``. An expired quotation must be revised first."""
    data = data or {}
    check_version(session, quotation, expected_version, entity_type="sales_quotation",
                  current=quotation_snapshot(quotation))
    quotation = lock(session, SalesQuotation, [quotation.id])[quotation.id]
    target = QUOTATION.target(quotation.status, "accept")
    if quotation.valid_until is not None and quotation.valid_until < business_today():
        raise IllegalTransition(
            _("This quotation expired on %(date)s: revise it first.",
              date=quotation.valid_until.isoformat()),
            {"valid_until": _("Expired.")},
            {"current_status": "expired", "allowed": ["decline", "revise"]})
    errors: dict[str, Any] = {}
    deposit = Decimal(0)
    due = None
    try:
        deposit = amount(data.get("deposit") or "0", quotation.currency, "deposit")
    except ValidationFailed as exc:
        errors.update(exc.errors)
    if deposit > quotation.total:
        errors["deposit"] = _("The deposit cannot exceed the total.")
    if data.get("payment_due_on") not in (None, ""):
        try:
            due = dt.date.fromisoformat(str(data["payment_due_on"]))
        except ValueError:
            errors["payment_due_on"] = _("Enter a date as YYYY-MM-DD.")
    if errors:
        raise ValidationFailed(_("The order is not valid: %(fields)s",
                                 fields=", ".join(sorted(errors))), errors)
    before = quotation_snapshot(quotation)
    quotation.status = target
    order = SalesOrder(quotation_id=quotation.id, customer_id=quotation.customer_id,
                       currency=quotation.currency, total=quotation.total, paid=Decimal(0),
                       deposit=deposit, payment_due_on=due, branch_id=quotation.branch_id,
                       salesperson_id=quotation.salesperson_id or getattr(user, "id", None))
    session.add(order)
    session.flush()
    if quotation.stock_id is not None:
        _attach(session, order, session.get(SalesStock, quotation.stock_id))
    _refresh(order)
    session.flush()
    prospects.win_on_order(session, order.customer_id, order.branch_id, user=user)
    from . import opportunities  # the booking wins the customer's open opportunity

    opportunities.win_on_order(session, order.customer_id, order.branch_id, quotation.model,
                               order_id=order.id, user=user)
    emit(session, order_confirmed, order_id=order.id, quotation_id=quotation.id,
         customer_id=order.customer_id, branch_id=order.branch_id,
         vehicle_id=_vehicle_id(session, order), total=order.total, currency=order.currency,
         audit=_audit(session, order, N_("Order %(id)s confirmed"), None,
                      quotation=before | {"status": quotation.status}))
    return order


def _vehicle_id(session: Session, order: SalesOrder) -> int | None:
    if order.stock_id is None:
        return None
    stock = session.get(SalesStock, order.stock_id)
    return stock.vehicle_id if stock else None


def allocate(session: Session, order: SalesOrder, stock_id: Any, *, user: Any = None,
             expected_version: Any = None) -> SalesOrder:
    """Give an order without a car its VIN from stock (of a branch the user sees)."""
    order = _live(session, order, expected_version)
    if order.vehicle_status != "to_allocate":
        raise _refuse(order, _("This order has its car already."), user, "stock_id")
    stock = stock_service.visible_row(session, SalesStock, stock_id, user)
    if stock is None:
        raise ValidationFailed(_("No stock vehicle with this id."),
                               {"stock_id": _("No stock vehicle with this id.")})
    before = snapshot(order)
    _attach(session, order, stock)
    _refresh(order)
    session.flush()
    _progress(session, order, "allocate", N_("Order %(id)s: car allocated"), before)
    return order


def vehicle_arrived(session: Session, stock: SalesStock) -> None:
    """The car an order waited for was received and reserved: the order's car is in stock."""
    if stock.order_id is None:
        return
    order = lock(session, SalesOrder, [stock.order_id]).get(stock.order_id)
    if order is None or order.vehicle_status != "in_transit":
        return
    order.vehicle_status = "in_stock"
    _refresh(order)
    session.flush()


def add_payment(session: Session, order: SalesOrder, data: dict[str, Any], *,
                user: Any = None) -> SalesPayment:
    """Record money received, in any currency: converted to the order's at the rate in
    force on the day paid (a missing rate is a 422 naming the pair). Paying more than is
    outstanding is refused. The order row is locked, so two cashiers recording at once
    both count."""
    order = _live(session, order, None)
    errors: dict[str, Any] = {}
    currency = order.currency
    try:
        currency = currency_code(data.get("currency") or order.currency)
    except ValidationFailed as exc:
        errors.update(exc.errors)
    method = str(data.get("method") or "cash")
    if method not in METHODS:
        errors["method"] = _("One of: %(allowed)s.", allowed=", ".join(METHODS))
    paid_on = business_today()
    if data.get("paid_on") not in (None, ""):
        try:
            paid_on = dt.date.fromisoformat(str(data["paid_on"]))
        except ValueError:
            errors["paid_on"] = _("Enter a date as YYYY-MM-DD.")
    money = None
    if "currency" not in errors:
        try:
            money = Money(amount(data.get("amount"), currency, "amount", positive=True),
                          currency)
        except ValidationFailed as exc:
            errors.update(exc.errors)
    if errors:
        raise ValidationFailed(_("The payment is not valid: %(fields)s",
                                 fields=", ".join(sorted(errors))), errors)
    in_order = convert(session, money, order.currency, paid_on).amount
    if in_order > outstanding(order):
        message = _("Only %(due)s %(currency)s is outstanding.", due=outstanding(order),
                    currency=order.currency)
        raise ValidationFailed(message, {"amount": message})
    before = snapshot(order)
    payment = SalesPayment(order_id=order.id, amount=money.amount, currency=money.currency,
                           order_amount=in_order, method=method, paid_on=paid_on,
                           branch_id=order.branch_id, recorded_by=getattr(user, "id", None))
    session.add(payment)
    order.paid = order.paid + in_order
    _refresh(order)
    session.flush()
    emit(session, payment_received, order_id=order.id, payment_id=payment.id,
         amount=money.amount, currency=money.currency, payment_status=payment_status(order),
         audit=_audit(session, order, N_("Order %(id)s: payment received"), before,
                      payment={"amount": str(money.amount), "currency": money.currency,
                               "method": method}))
    return payment


def inspect(session: Session, order: SalesOrder, data: dict[str, Any], *, user: Any = None,
            expected_version: Any = None) -> SalesOrder:
    """Pre-delivery inspection of the reserved car: passed makes the car ``ready``; failed
    keeps it ``in_stock`` with the notes (inspect again after the repair)."""
    order = _live(session, order, expected_version)
    if order.vehicle_status != "in_stock":
        raise _refuse(order, _("The car must stand in stock, reserved for this order, "
                               "before its inspection."), user)
    notes = str(data.get("notes") or "").strip()
    problem = text_problem(notes, 5000)
    if problem or not isinstance(data.get("passed"), bool):
        raise ValidationFailed(_("The inspection is not valid."), {
            **({"notes": problem} if problem else {}),
            **({} if isinstance(data.get("passed"), bool)
               else {"passed": _("true or false.")})})
    before = snapshot(order)
    order.pdi_status = "passed" if data["passed"] else "failed"
    order.pdi_notes = notes
    if data["passed"]:
        order.vehicle_status = "ready"
    _refresh(order)
    session.flush()
    _progress(session, order, "inspect", N_("Order %(id)s: inspection recorded"), before)
    return order


def register(session: Session, order: SalesOrder, data: dict[str, Any], *, user: Any = None,
             expected_version: Any = None) -> SalesOrder:
    """The car was registered: its plate goes onto the core vehicle (the core checks the
    plate's format) and the registration sub-status is ``done``."""
    order = _live(session, order, expected_version)
    if order.stock_id is None:
        raise _refuse(order, _("Allocate a car before registering it."), user)
    stock = session.get(SalesStock, order.stock_id)
    vehicle = session.get(Vehicle, stock.vehicle_id)
    before = snapshot(order)
    if str(data.get("plate") or "").strip():
        vehicles.update_vehicle(session, vehicle, {"plate": data["plate"]})
        order.plate = vehicle.plate or ""
    order.registration_status = "done"
    _refresh(order)
    session.flush()
    _progress(session, order, "register", N_("Order %(id)s: car registered"), before)
    return order


def cancel(session: Session, order: SalesOrder, data: dict[str, Any], *, user: Any = None,
           expected_version: Any = None) -> SalesOrder:
    """Call the order off (a reason is required): its car goes back to stock for others.
    Money received stays recorded; refunds are the cashier's."""
    order = _live(session, order, expected_version)
    reason = str(data.get("reason") or "").strip()
    problem = text_problem(reason, 2000) if reason else _("Say why the order is cancelled.")
    if problem:
        raise ValidationFailed(problem, {"reason": problem})
    before = snapshot(order)
    if order.stock_id is not None:
        stock = lock(session, SalesStock, [order.stock_id])[order.stock_id]
        if stock.status == "reserved":
            stock_service.move(session, stock, "release")
        elif stock.order_id == order.id:
            stock.order_id = None
    order.delivery_status = "cancelled"
    order.override_reason = reason
    _refresh(order)
    session.flush()
    _progress(session, order, "cancel", N_("Order %(id)s cancelled"), before)
    return order


def deliver(session: Session, order: SalesOrder, data: dict[str, Any] | None = None, *,
            user: Any = None, expected_version: Any = None) -> SalesOrder:
    """Hand the car over. Refused (409, with what is possible now) unless the car is ready
    and paid for; with money outstanding a user holding ``sales.override_delivery`` may
    deliver anyway by giving a reason, which the audit log keeps.

    In the caller's one transaction: the stock car ``reserved`` → ``sold`` →
    ``delivered``, the core vehicle's owner becomes the customer (ownership history kept),
    the order's total is reported as revenue (:func:`carebiz.crm.services.value
    .record_revenue`, so the customer's lifetime value moves), and the customer gains the
    ``customer`` role."""
    data = data or {}
    order = _live(session, order, expected_version)
    if order.vehicle_status != "ready":
        raise _refuse(order, _("The car is not ready for delivery (%(status)s): it must be "
                               "in stock and have passed its inspection.",
                               status=label("vehicle", order.vehicle_status)), user)
    reason = str(data.get("override_reason") or "").strip()
    overridden = False
    if order.paid < order.total:
        if not reason:
            raise _refuse(order, _("%(due)s %(currency)s is outstanding: the car is "
                                   "delivered once paid, or by a manager's override with a "
                                   "reason.", due=outstanding(order),
                                   currency=order.currency), user)
        if user is not None and not can(user, OVERRIDE):
            raise Forbidden(_("Only a manager may deliver with money outstanding."))
        problem = text_problem(reason, 2000)
        if problem:
            raise ValidationFailed(problem, {"override_reason": problem})
        overridden = True
    stock = lock(session, SalesStock, [order.stock_id])[order.stock_id]
    customer = session.get(Party, order.customer_id)
    if customer is None or not customer.active:
        customer = parties.get_party(session, order.customer_id)  # follows a merge
    before = snapshot(order)
    stock_service.move(session, stock, "sell")
    stock_service.move(session, stock, "deliver")
    vehicle = session.get(Vehicle, stock.vehicle_id)
    on = business_today()
    vehicles.change_owner(session, vehicle, customer, on)
    value.record_revenue(session, party_id=customer.id, amount=order.total,
                         currency=order.currency, occurred_on=on, source=REVENUE_SOURCE,
                         ref=order.id, vehicle_id=vehicle.id)
    if "customer" not in customer.roles:
        parties.update_party(session, customer, {"roles": [*customer.roles, "customer"]},
                             allow_duplicates=True)
    order.delivery_status = "delivered"
    order.delivered_at = dt.datetime.now(dt.UTC)
    if overridden:
        order.override_reason = reason
        order.override_by = getattr(user, "id", None)
    _refresh(order)
    session.flush()
    emit(session, vehicle_delivered, order_id=order.id, customer_id=customer.id,
         vehicle_id=vehicle.id, vin=vehicle.vin, branch_id=order.branch_id,
         delivered_on=on, total=order.total, currency=order.currency, overridden=overridden,
         audit=_audit(session, order,
                      N_("Order %(id)s delivered despite money outstanding") if overridden
                      else N_("Order %(id)s delivered"), before,
                      override_reason=reason if overridden else ""))
    return order
