"""Printable documents of stock, quotations, orders and purchasing, registered with the core
documents service (HTML preview, PDF, Word at ``/documents/<name>/<id>`` and
``/api/v1/documents/<name>/<id>?format=pdf|html|docx``).

Each builder loads its record through the branch row filter with the printing user (a
record of another branch is a 404, never printed) and answers the generic
:class:`~carebiz.contributions.DocumentData` keys, which the Word export lays out alone and
``sales/print/document.html`` prints. Amounts are formatted in the reader's locale by the
core currency formatter; a CNY total is also given in capital numerals (大写)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from babel.dates import format_date, format_datetime
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from carebiz.contributions import DocumentType
from carebiz.crm.models import Party
from carebiz.currency.format import format_money
from carebiz.currency.words import chinese_capital
from carebiz.errors import NotFound
from carebiz.models import Branch
from carebiz.security.rows import visible
from carebiz.services import settings
from carebiz.toolkit import business_tz, host

from .labels import label
from .models import SalesOrder, SalesPayment, SalesPurchaseOrder, SalesQuotation, SalesStock
from .services import orders as order_service

TEMPLATE = "sales/print/document.html"


def _load(session: Session, model: type, record_id: int, user: Any, what: str) -> Any:
    row = session.scalar(visible(select(model).where(model.id == record_id), model, user))
    if row is None:
        raise NotFound(_("No %(what)s with id %(id)s.", what=what, id=record_id))
    return row


def _common(session: Session, row: Any, title: str, locale: str) -> dict[str, Any]:
    branch = session.get(Branch, row.branch_id)
    company = str(settings.get(session, host(), "core.company_name") or "")
    return {"title": title, "company": company,
            "branch": branch.name if branch else "",
            "generated_at": format_datetime(dt.datetime.now(dt.UTC), "medium",
                                            tzinfo=business_tz(), locale=locale)}


def _party(session: Session, party_id: int) -> Party | None:
    return session.get(Party, party_id)


def _date(value: dt.date | None, locale: str) -> str:
    return format_date(value, "medium", locale=locale) if value else ""


def _capital(total: Decimal, currency: str) -> str | None:
    return chinese_capital(total) if currency == "CNY" and total >= 0 else None


def _car(stock: SalesStock | None) -> str:
    if stock is None:
        return ""
    return " ".join(filter(None, [stock.make, stock.model, stock.trim, stock.colour,
                                  str(stock.year or "")]))


def build_quotation(session: Session, record_id: int, *, user: Any, locale: str
                    ) -> dict[str, Any]:
    """A quotation as the customer is shown it: the current revision's lines, signed."""
    loc = str(locale or "zh_CN")
    q = _load(session, SalesQuotation, record_id, user, _("quotation"))
    customer = _party(session, q.customer_id)
    stock = session.get(SalesStock, q.stock_id) if q.stock_id else None
    car = _car(stock) or " ".join(filter(None, [q.make, q.model, q.trim, q.colour]))
    rows = [[label("line", ln.kind), ln.description,
             format_money(-ln.amount if ln.kind in ("discount", "trade_in") else ln.amount,
                          q.currency, loc)] for ln in q.lines]
    parties = [(_("Customer"), customer.name if customer else ""),
               (_("Quotation"), f"{q.id} / {_('revision')} {q.revision}"),
               (_("Vehicle"), car + (f" · VIN {stock.vin}" if stock else "")),
               (_("Valid until"), _date(q.valid_until, loc))]
    if q.finance:
        parties.append((_("Finance option"), _("%(provider)s, %(months)s months, down payment "
                                        "%(down)s", provider=q.finance.get("provider", ""),
                                        months=q.finance.get("term_months", ""),
                                        down=q.finance.get("down_payment", "—"))))
    return {**_common(session, q, _("Quotation"), loc), "parties": parties,
            "columns": [_("Kind"), _("Description"), _("Amount")], "rows": rows,
            "totals": [(_("Total"), format_money(q.total, q.currency, loc))],
            "capital": _capital(q.total, q.currency), "notes": q.notes}


def build_order(session: Session, record_id: int, *, user: Any, locale: str
                ) -> dict[str, Any]:
    """A sales order: the car, its statuses, the payments received, what is outstanding."""
    loc = str(locale or "zh_CN")
    order = _load(session, SalesOrder, record_id, user, _("sales order"))
    customer = _party(session, order.customer_id)
    payments = session.scalars(select(SalesPayment).where(SalesPayment.order_id == order.id)
                               .order_by(SalesPayment.paid_on, SalesPayment.id)).all()
    rows = [[_date(p.paid_on, loc), label("method", p.method),
             format_money(p.amount, p.currency, loc),
             format_money(p.order_amount, order.currency, loc)] for p in payments]
    return {**_common(session, order, _("Sales order"), loc),
            "parties": [(_("Customer"), customer.name if customer else ""),
                        (_("Order number"), str(order.id)),
                        (_("Vehicle"), _car(order.stock) +
                         (f" · VIN {order.vin}" if order.vin else "")),
                        (_("Status"), label("order", order.status)),
                        (_("Payment"), label("payment", order_service.payment_status(order))),
                        (_("Vehicle status"), label("vehicle", order.vehicle_status)),
                        (_("Delivery"), label("delivery", order.delivery_status))],
            "columns": [_("Date"), _("Method"), _("Amount"),
                        _("Amount in %(currency)s", currency=order.currency)],
            "rows": rows,
            "totals": [(_("Total"), format_money(order.total, order.currency, loc)),
                       (_("Paid"), format_money(order.paid, order.currency, loc)),
                       (_("Outstanding"), format_money(order_service.outstanding(order),
                                                       order.currency, loc))],
            "capital": _capital(order.total, order.currency), "notes": ""}


def build_delivery_note(session: Session, record_id: int, *, user: Any, locale: str
                        ) -> dict[str, Any]:
    """The delivery note of a sales order: which car, to whom, when, with the inspection
    and, when the car left with money outstanding, the manager's recorded reason."""
    loc = str(locale or "zh_CN")
    order = _load(session, SalesOrder, record_id, user, _("sales order"))
    customer = _party(session, order.customer_id)
    stock = order.stock
    rows = [[_("Vehicle"), _car(stock)], [_("VIN"), order.vin or ""],
            [_("Plate"), order.plate], [_("Inspection"), label("pdi", order.pdi_status)],
            [_("Inspection notes"), order.pdi_notes],
            [_("Delivered"), format_datetime(order.delivered_at, "medium",
                                             tzinfo=business_tz(), locale=loc)
             if order.delivered_at else _("not yet")]]
    notes = (_("Delivered with money outstanding: %(reason)s", reason=order.override_reason)
             if order.override_by else "")
    return {**_common(session, order, _("Delivery note"), loc),
            "parties": [(_("Customer"), customer.name if customer else ""),
                        (_("Order number"), str(order.id))],
            "columns": [_("Item"), _("Value")], "rows": rows, "totals": [],
            "capital": None, "notes": notes, "signatures": True}


def build_purchase_order(session: Session, record_id: int, *, user: Any, locale: str
                         ) -> dict[str, Any]:
    """A purchase order to the supplier: its lines, quantities, costs and total."""
    loc = str(locale or "zh_CN")
    po = _load(session, SalesPurchaseOrder, record_id, user, _("purchase order"))
    supplier = _party(session, po.supplier_id)
    rows = [[" ".join(filter(None, [ln.make, ln.model, ln.trim])), ln.colour,
             str(ln.year or ""), str(ln.quantity), str(ln.received),
             format_money(ln.unit_cost, po.currency, loc),
             format_money(ln.unit_cost * ln.quantity, po.currency, loc)] for ln in po.lines]
    return {**_common(session, po, _("Purchase order"), loc),
            "parties": [(_("Supplier"), supplier.name if supplier else ""),
                        (_("Purchase order"), str(po.id)),
                        (_("Status"), label("purchase", po.status)),
                        (_("Expected on"), _date(po.expected_on, loc))],
            "columns": [_("Model"), _("Colour"), _("Year"), _("Quantity"), _("Received"),
                        _("Unit cost"), _("Amount")],
            "rows": rows,
            "totals": [(_("Total"), format_money(po.total, po.currency, loc))],
            "capital": _capital(po.total, po.currency), "notes": po.notes}


DOCUMENTS: list[DocumentType] = [
    DocumentType("sales.quotation", _l("Quotation"), TEMPLATE, build_quotation,
                 permission="sales.view", weight=300),
    DocumentType("sales.order", _l("Sales order"), TEMPLATE, build_order,
                 permission="sales.view", weight=301),
    DocumentType("sales.delivery_note", _l("Delivery note"), TEMPLATE, build_delivery_note,
                 permission="sales.view", weight=302),
    DocumentType("sales.purchase_order", _l("Purchase order"), TEMPLATE,
                 build_purchase_order, permission="sales.view", weight=303),
]


def _procurement_plan(session: Session, record_id: int, *, user: Any, locale: str
                      ) -> dict[str, Any]:
    from .documents_procurement import build_procurement_plan  # it imports this module

    return build_procurement_plan(session, record_id, user=user, locale=locale)


#: printed per branch (its id is the record id), from the stock and purchase-order pages
DOCUMENTS.append(DocumentType("sales.procurement_plan", _l("Procurement plan"), TEMPLATE,
                              _procurement_plan, permission="sales.purchasing", weight=304))
