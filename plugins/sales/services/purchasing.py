"""Purchasing: purchase orders to suppliers, receipt of the cars against them (each enters
stock by VIN) and what is still owed (payables).

A supplier is a core customer (party) in the ``supplier`` role, so a maker's regional
company is found, merged and contacted like any other party. A purchase order's ``status``
moves ``ordered`` → ``partly_received`` → ``received``; it may be ``cancelled`` while
nothing has arrived."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from carebiz.concurrency import check_version, lock
from carebiz.crm.models import Party
from carebiz.errors import Conflict, ValidationFailed
from carebiz.events import Audit, emit
from carebiz.i18n import N_
from carebiz.security.rows import visible
from carebiz.text import text_problem
from carebiz.toolkit.business_time import today as business_today
from carebiz.toolkit.transitions import IllegalTransition, machine

from ..labels import (
    PURCHASE_ACTIONS,
    PURCHASE_STATUS,
    SUPPLIER_QUOTE_ACTIONS,
    SUPPLIER_QUOTE_STATUS,
    machine_labels,
)
from ..models import SalesPurchaseLine, SalesPurchaseOrder, SalesStock, SalesSupplierQuote
from ..signals import purchase_order_saved, purchase_received
from . import stock as stock_service
from .money import amount, currency_code

PURCHASE = machine(_l("purchase order"), {
    "receive": ({"ordered", "partly_received"}, "partly_received"),
    "cancel": ({"ordered"}, "cancelled"),
}, labels=machine_labels(PURCHASE_STATUS, PURCHASE_ACTIONS))
MAX_QUANTITY = 500


def snapshot(po: SalesPurchaseOrder) -> dict[str, Any]:
    return {"status": po.status, "supplier_id": po.supplier_id, "total": str(po.total),
            "received_value": str(po.received_value), "paid": str(po.paid),
            "currency": po.currency}


def payable(po: SalesPurchaseOrder) -> Decimal:
    """What is owed for what arrived and was not yet paid."""
    return max(Decimal(0), po.received_value - po.paid)


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def create_purchase_order(session: Session, data: dict[str, Any], *, user: Any = None
                          ) -> SalesPurchaseOrder:
    """Order cars from a supplier the user may see: lines of make/model/trim/colour/year,
    a quantity and a unit cost, in one currency."""
    errors: dict[str, Any] = {}
    supplier = stock_service.visible_row(session, Party, data.get("supplier_id"), user)
    if supplier is None or not supplier.active:
        errors["supplier_id"] = _("No supplier with this id.")
    elif "supplier" not in supplier.roles:
        errors["supplier_id"] = _("This party is not in the supplier role: give it the role "
                                  "on its page first.")
    currency = "CNY"
    try:
        currency = currency_code(data.get("currency") or "CNY")
    except ValidationFailed as exc:
        errors.update(exc.errors)
    raw = data.get("lines")
    lines: list[SalesPurchaseLine] = []
    if not isinstance(raw, list) or not raw:
        errors["lines"] = _("Give at least one line.")
        raw = []
    for i, item in enumerate(raw):
        key = f"lines[{i}]"
        if not isinstance(item, dict):
            errors[key] = _("Each line is an object.")
            continue
        texts = {}
        for field, limit in (("make", 60), ("model", 80), ("trim", 80), ("colour", 40)):
            text = str(item.get(field) or "").strip()
            problem = text_problem(text, limit)
            if problem:
                errors[f"{key}.{field}"] = problem
            texts[field] = text
        if not texts["model"]:
            errors[f"{key}.model"] = _("Name the model.")
        quantity = _int(item.get("quantity", 1))
        if quantity is None or not 1 <= quantity <= MAX_QUANTITY:
            errors[f"{key}.quantity"] = _("A whole number from 1 to %(max)s.", max=MAX_QUANTITY)
        cost = Decimal(0)
        try:
            cost = amount(item.get("unit_cost"), currency, f"{key}.unit_cost", positive=True)
        except ValidationFailed as exc:
            errors.update(exc.errors)
        year = _int(item.get("year")) if item.get("year") not in (None, "") else None
        lines.append(SalesPurchaseLine(quantity=quantity or 0, unit_cost=cost, year=year,
                                       **texts))
    expected = None
    if data.get("expected_on") not in (None, ""):
        try:
            expected = dt.date.fromisoformat(str(data["expected_on"]))
        except ValueError:
            errors["expected_on"] = _("Enter a date as YYYY-MM-DD.")
    notes = str(data.get("notes") or "")
    if text_problem(notes, 5000):
        errors["notes"] = text_problem(notes, 5000)
    branch_id = stock_service.branch_for(session, user, data.get("branch_id"), errors)
    if errors:
        raise ValidationFailed(_("The purchase order is not valid: %(fields)s",
                                 fields=", ".join(sorted(errors))), errors)
    for line in lines:
        line.branch_id = branch_id
    po = SalesPurchaseOrder(supplier_id=supplier.id, currency=currency, lines=lines,
                            total=sum((ln.unit_cost * ln.quantity for ln in lines), Decimal(0)),
                            expected_on=expected, notes=notes, branch_id=branch_id,
                            created_by=getattr(user, "id", None))
    session.add(po)
    session.flush()
    emit(session, purchase_order_saved, purchase_order_id=po.id, supplier_id=po.supplier_id,
         status=po.status, step="placed",
         audit=Audit("sales_purchase_order", po.id, N_("Purchase order %(id)s placed"), None,
                     snapshot(po), branch_id=po.branch_id, args={"id": po.id},
                     version=po.version))
    return po


def receive(session: Session, po: SalesPurchaseOrder, data: dict[str, Any], *,
            user: Any = None, expected_version: Any = None) -> list[SalesStock]:
    """Cars arrived against the order: ``{"vehicles": [{"line_id", "vin", "colour"?,
    "location"?, "inspection_notes"?}]}``. Each becomes a core vehicle and a stock row
    ``in_stock`` at the order's branch, at the line's unit cost. The order row is locked,
    so two clerks receiving at once cannot take in more cars than were ordered; any bad car
    refuses the whole receipt (nothing half-received)."""
    check_version(session, po, expected_version, entity_type="sales_purchase_order",
                  current=snapshot(po))
    po = lock(session, SalesPurchaseOrder, [po.id])[po.id]
    PURCHASE.target(po.status, "receive")
    cars = data.get("vehicles")
    if not isinstance(cars, list) or not cars:
        raise ValidationFailed(_("List the vehicles that arrived."),
                               {"vehicles": _("Give at least one vehicle.")})
    lines = {ln.id: ln for ln in po.lines}
    before = snapshot(po)
    errors: dict[str, Any] = {}
    created: list[SalesStock] = []
    for i, car in enumerate(cars):
        key = f"vehicles[{i}]"
        line = lines.get(_int(car.get("line_id")) if isinstance(car, dict) else None)
        if line is None:
            errors[f"{key}.line_id"] = _("Not a line of this purchase order.")
            continue
        if line.received >= line.quantity:
            errors[f"{key}.line_id"] = _("All %(n)s cars of this line arrived already.",
                                         n=line.quantity)
            continue
        try:
            with session.begin_nested():
                stock = stock_service.create_stock(session, {
                    "vin": car.get("vin"), "make": line.make, "model": line.model,
                    "trim": line.trim, "year": line.year,
                    "colour": car.get("colour") or line.colour,
                    "cost": line.unit_cost, "currency": po.currency,
                    "branch_id": po.branch_id, "location": car.get("location") or "",
                    "inspection_notes": car.get("inspection_notes") or ""},
                    user=None, purchase_order_id=po.id)
        except (ValidationFailed, Conflict) as exc:
            errors.update({f"{key}.{k}": v for k, v in (exc.errors or {"vin": exc.message})
                           .items()})
            continue
        line.received += 1
        po.received_value += line.unit_cost
        created.append(stock)
    if errors:
        raise ValidationFailed(_("The receipt was not recorded: %(fields)s",
                                 fields=", ".join(sorted(errors))), errors)
    po.status = ("received" if all(ln.received >= ln.quantity for ln in po.lines)
                 else "partly_received")
    session.flush()
    emit(session, purchase_received, purchase_order_id=po.id, supplier_id=po.supplier_id,
         stock_ids=[s.id for s in created], status=po.status,
         audit=Audit("sales_purchase_order", po.id,
                     N_("Purchase order %(id)s: %(n)s vehicles received"), before,
                     {**snapshot(po), "vins": [s.vin for s in created]},
                     branch_id=po.branch_id, args={"id": po.id, "n": len(created)},
                     version=po.version))
    return created


def cancel(session: Session, po: SalesPurchaseOrder, *, expected_version: Any = None
           ) -> SalesPurchaseOrder:
    """Call off an order nothing of which has arrived."""
    check_version(session, po, expected_version, entity_type="sales_purchase_order",
                  current=snapshot(po))
    po = lock(session, SalesPurchaseOrder, [po.id])[po.id]
    before = snapshot(po)
    po.status = PURCHASE.target(po.status, "cancel")
    session.flush()
    emit(session, purchase_order_saved, purchase_order_id=po.id, supplier_id=po.supplier_id,
         status=po.status, step="cancelled",
         audit=Audit("sales_purchase_order", po.id, N_("Purchase order %(id)s cancelled"),
                     before, snapshot(po), branch_id=po.branch_id, args={"id": po.id},
                     version=po.version))
    return po


def pay(session: Session, po: SalesPurchaseOrder, data: dict[str, Any]) -> SalesPurchaseOrder:
    """Record a payment to the supplier, at most what is owed for the cars received."""
    po = lock(session, SalesPurchaseOrder, [po.id])[po.id]
    if po.status == "cancelled":
        PURCHASE.target(po.status, "receive")  # the 409 naming what is possible
    value = amount(data.get("amount"), po.currency, "amount", positive=True)
    if value > payable(po):
        message = _("Only %(due)s %(currency)s is owed for what arrived.", due=payable(po),
                    currency=po.currency)
        raise ValidationFailed(message, {"amount": message})
    before = snapshot(po)
    po.paid += value
    session.flush()
    emit(session, purchase_order_saved, purchase_order_id=po.id, supplier_id=po.supplier_id,
         status=po.status, step="paid",
         audit=Audit("sales_purchase_order", po.id, N_("Purchase order %(id)s: paid"),
                     before, snapshot(po), branch_id=po.branch_id, args={"id": po.id},
                     version=po.version))
    return po


def payables(session: Session, user: Any) -> list[dict[str, Any]]:
    """Outstanding payables by supplier and currency, over the purchase orders the user may
    see: ``{"supplier_id", "currency", "owed", "orders"}``."""
    owed = func.sum(SalesPurchaseOrder.received_value - SalesPurchaseOrder.paid)
    stmt = visible(select(SalesPurchaseOrder.supplier_id, SalesPurchaseOrder.currency, owed,
                          func.count()).where(SalesPurchaseOrder.received_value
                                              > SalesPurchaseOrder.paid)
                   .group_by(SalesPurchaseOrder.supplier_id, SalesPurchaseOrder.currency)
                   .order_by(SalesPurchaseOrder.supplier_id), SalesPurchaseOrder, user)
    return [{"supplier_id": s, "currency": c, "owed": Decimal(o), "orders": n}
            for s, c, o, n in session.execute(stmt)]


# --- price inquiries and supplier quotes -------------------------------------------------

SUPPLIER_QUOTE = machine(_l("supplier quote"), {
    "price": ({"requested", "quoted"}, "quoted"),
    "order": ({"quoted"}, "ordered"),
    "decline": ({"requested", "quoted"}, "declined"),
}, labels=machine_labels(SUPPLIER_QUOTE_STATUS, SUPPLIER_QUOTE_ACTIONS))


def request_quote(session: Session, data: dict[str, Any], *, user: Any = None
                  ) -> SalesSupplierQuote:
    """Ask a supplier the price of so many cars of a model (a price inquiry)."""
    errors: dict[str, Any] = {}
    supplier = stock_service.visible_row(session, Party, data.get("supplier_id"), user)
    if supplier is None or not supplier.active or "supplier" not in supplier.roles:
        errors["supplier_id"] = _("No supplier with this id (a party in the supplier role).")
    texts = {}
    for field, limit in (("make", 60), ("model", 80), ("trim", 80), ("colour", 40),
                         ("notes", 5000)):
        text = str(data.get(field) or "").strip()
        if text_problem(text, limit):
            errors[field] = text_problem(text, limit)
        texts[field] = text
    if not texts["model"]:
        errors["model"] = _("Name the model.")
    quantity = _int(data.get("quantity", 1))
    if quantity is None or not 1 <= quantity <= MAX_QUANTITY:
        errors["quantity"] = _("A whole number from 1 to %(max)s.", max=MAX_QUANTITY)
    branch_id = stock_service.branch_for(session, user, data.get("branch_id"), errors)
    if errors:
        raise ValidationFailed(_("The price inquiry is not valid: %(fields)s",
                                 fields=", ".join(sorted(errors))), errors)
    quote = SalesSupplierQuote(supplier_id=supplier.id, quantity=quantity, branch_id=branch_id,
                               year=_int(data.get("year")) if data.get("year") else None,
                               **texts)
    session.add(quote)
    session.flush()
    _quote_event(session, quote, N_("Price inquiry %(id)s sent"), None)
    return quote


def _quote_snapshot(quote: SalesSupplierQuote) -> dict[str, Any]:
    return {"status": quote.status, "unit_cost": str(quote.unit_cost or ""),
            "currency": quote.currency, "quantity": quote.quantity,
            "valid_until": quote.valid_until.isoformat() if quote.valid_until else None}


def _quote_event(session: Session, quote: SalesSupplierQuote, summary: str,
                 before: dict[str, Any] | None) -> None:
    emit(session, purchase_order_saved, purchase_order_id=quote.purchase_order_id or 0,
         supplier_id=quote.supplier_id, status=quote.status, step=f"quote_{quote.status}",
         audit=Audit("sales_supplier_quote", quote.id, summary, before,
                     _quote_snapshot(quote), branch_id=quote.branch_id, args={"id": quote.id},
                     version=quote.version))


def record_quote(session: Session, quote: SalesSupplierQuote, data: dict[str, Any], *,
                 expected_version: Any = None) -> SalesSupplierQuote:
    """The supplier answered: unit cost, currency and how long the price holds."""
    check_version(session, quote, expected_version, entity_type="sales_supplier_quote",
                  current=_quote_snapshot(quote))
    quote = lock(session, SalesSupplierQuote, [quote.id])[quote.id]
    target = SUPPLIER_QUOTE.target(quote.status, "price")
    errors: dict[str, Any] = {}
    currency = quote.currency
    try:
        currency = currency_code(data.get("currency") or quote.currency)
        cost = amount(data.get("unit_cost"), currency, "unit_cost", positive=True)
    except ValidationFailed as exc:
        errors.update(exc.errors)
    valid = None
    if data.get("valid_until") not in (None, ""):
        try:
            valid = dt.date.fromisoformat(str(data["valid_until"]))
        except ValueError:
            errors["valid_until"] = _("Enter a date as YYYY-MM-DD.")
    if errors:
        raise ValidationFailed(_("The quote is not valid: %(fields)s",
                                 fields=", ".join(sorted(errors))), errors)
    before = _quote_snapshot(quote)
    quote.unit_cost, quote.currency, quote.valid_until = cost, currency, valid
    quote.status = target
    session.flush()
    _quote_event(session, quote, N_("Supplier quote %(id)s received"), before)
    return quote


def order_from_quote(session: Session, quote: SalesSupplierQuote, *, user: Any = None,
                     today: dt.date | None = None) -> SalesPurchaseOrder:
    """Place a purchase order at the quoted price (an expired quote must be priced again)."""
    quote = lock(session, SalesSupplierQuote, [quote.id])[quote.id]
    target = SUPPLIER_QUOTE.target(quote.status, "order")
    if quote.valid_until is not None and quote.valid_until < (today or business_today()):
        raise IllegalTransition(_("This quote expired on %(date)s: ask the supplier again.",
                                  date=quote.valid_until.isoformat()),
                                {"valid_until": _("Expired.")},
                                {"current_status": "expired", "allowed": ["decline", "price"]})
    po = create_purchase_order(session, {
        "supplier_id": quote.supplier_id, "currency": quote.currency,
        "branch_id": quote.branch_id, "notes": _("From supplier quote %(id)s", id=quote.id),
        "lines": [{"make": quote.make, "model": quote.model, "trim": quote.trim,
                   "colour": quote.colour, "year": quote.year, "quantity": quote.quantity,
                   "unit_cost": quote.unit_cost}]}, user=user)
    before = _quote_snapshot(quote)
    quote.status, quote.purchase_order_id = target, po.id
    session.flush()
    _quote_event(session, quote, N_("Supplier quote %(id)s ordered"), before)
    return po


def decline_quote(session: Session, quote: SalesSupplierQuote) -> SalesSupplierQuote:
    quote = lock(session, SalesSupplierQuote, [quote.id])[quote.id]
    before = _quote_snapshot(quote)
    quote.status = SUPPLIER_QUOTE.target(quote.status, "decline")
    session.flush()
    _quote_event(session, quote, N_("Supplier quote %(id)s declined"), before)
    return quote
