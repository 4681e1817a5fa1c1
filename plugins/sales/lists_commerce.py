"""List definitions of stock, quotations, orders and purchase orders: one each, read by the
API and the exports (``/export/sales.stock?format=xlsx``), so both list the same rows for
the same arguments. The branch row filter always applies (the definitions' models are
``BranchOwned``); customers are listed by id, never by another branch's name."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from carebiz.export.table import MONEY, NUMBER, Column
from carebiz.lists import CHOICE, ID, TEXT, ExportSpec, Filter, ListDefinition

from .labels import VEHICLE_STATUS, label
from .models import SalesOrder, SalesPurchaseOrder, SalesQuotation, SalesStock
from .services import orders as order_service
from .services.stock import STATUSES, days_in_stock

QUOTATION_STATUSES = ("open", "pending_approval", "accepted", "declined")
ORDER_STATUSES = ("confirmed", "awaiting_vehicle", "awaiting_payment", "ready_for_delivery",
                  "delivered", "cancelled")
PURCHASE_STATUSES = ("ordered", "partly_received", "received", "cancelled")


def _eq(column: Any) -> Any:
    return lambda stmt, value, user: stmt.where(column == value)


def _stock_rows(session: Session, user: Any, stmt: Any) -> Iterator[dict[str, Any]]:
    for s in session.scalars(stmt.execution_options(yield_per=500)):
        yield {"id": s.id, "vin": s.vin, "make": s.make, "model": s.model, "trim": s.trim,
               "colour": s.colour, "year": s.year, "status": label("stock", s.status),
               "location": s.location, "cost": s.cost, "currency": s.currency,
               "days_in_stock": days_in_stock(s)}


STOCK = ListDefinition(
    name="sales.stock", label=_l("Vehicle stock"), model=SalesStock, key=SalesStock.id,
    permission="sales.view", page="sales_commerce.stock_list", api="sales_commerce_api.StockList",
    filters=(
        Filter("status", _l("Status"), type=CHOICE, choices=STATUSES,
               apply=_eq(SalesStock.status)),
        Filter("branch_id", _l("Branch"), type=ID, apply=_eq(SalesStock.branch_id)),
        Filter("model", _l("Model"), type=TEXT, max_length=80,
               apply=lambda stmt, value, user: stmt.where(
                   SalesStock.model.icontains(value, autoescape=True))),
    ),
    sorts={"received_on": SalesStock.received_on, "vin": SalesStock.vin,
           "model": SalesStock.model, "created_at": SalesStock.created_at},
    default_sort="-created_at",
    export=ExportSpec(_l("Vehicle stock"), lambda user: [
        Column("id", _l("Id"), NUMBER), Column("vin", _l("VIN")), Column("make", _l("Make")),
        Column("model", _l("Model")), Column("trim", _l("Trim")),
        Column("colour", _l("Colour")), Column("year", _l("Year"), NUMBER),
        Column("status", _l("Status")), Column("location", _l("Location")),
        Column("cost", _l("Cost"), MONEY), Column("currency", _l("Currency")),
        Column("days_in_stock", _l("Days in stock"), NUMBER)], _stock_rows),
)


def _quotation_rows(session: Session, user: Any, stmt: Any) -> Iterator[dict[str, Any]]:
    for q in session.scalars(stmt.execution_options(yield_per=500)):
        yield {"id": q.id, "customer_id": q.customer_id, "model": q.model,
               "status": label("quotation", q.status), "revision": q.revision, "total": q.total,
               "currency": q.currency, "valid_until": q.valid_until}


QUOTATIONS = ListDefinition(
    name="sales.quotations", label=_l("Quotations"), model=SalesQuotation,
    key=SalesQuotation.id, permission="sales.view", page="sales_commerce.quotation_list",
    api="sales_commerce_api.Quotations",
    filters=(
        Filter("status", _l("Status"), type=CHOICE, choices=QUOTATION_STATUSES,
               apply=_eq(SalesQuotation.status)),
        Filter("customer_id", _l("Customer"), type=ID, apply=_eq(SalesQuotation.customer_id)),
        Filter("branch_id", _l("Branch"), type=ID, apply=_eq(SalesQuotation.branch_id)),
    ),
    sorts={"created_at": SalesQuotation.created_at, "total": SalesQuotation.total},
    default_sort="-created_at",
    export=ExportSpec(_l("Quotations"), lambda user: [
        Column("id", _l("Id"), NUMBER), Column("customer_id", _l("Customer id"), NUMBER),
        Column("model", _l("Model")), Column("status", _l("Status")),
        Column("revision", _l("Revision"), NUMBER), Column("total", _l("Total"), MONEY),
        Column("currency", _l("Currency")), Column("valid_until", _l("Valid until"))],
        _quotation_rows),
)


def _order_rows(session: Session, user: Any, stmt: Any) -> Iterator[dict[str, Any]]:
    for o in session.scalars(stmt.execution_options(yield_per=500)):
        yield {"id": o.id, "customer_id": o.customer_id, "status": label("order", o.status),
               "payment_status": label("payment", order_service.payment_status(o)),
               "vehicle_status": label("vehicle", o.vehicle_status),
               "delivery_status": label("delivery", o.delivery_status),
               "total": o.total, "paid": o.paid, "currency": o.currency}


ORDERS = ListDefinition(
    name="sales.orders", label=_l("Sales orders"), model=SalesOrder, key=SalesOrder.id,
    permission="sales.view", page="sales_commerce.order_list", api="sales_commerce_api.Orders",
    filters=(
        Filter("status", _l("Status"), type=CHOICE, choices=ORDER_STATUSES,
               apply=_eq(SalesOrder.status)),
        Filter("customer_id", _l("Customer"), type=ID, apply=_eq(SalesOrder.customer_id)),
        Filter("branch_id", _l("Branch"), type=ID, apply=_eq(SalesOrder.branch_id)),
        Filter("vehicle_status", _l("Vehicle"), type=CHOICE,
               choices=tuple(VEHICLE_STATUS),
               apply=_eq(SalesOrder.vehicle_status)),
    ),
    sorts={"created_at": SalesOrder.created_at, "total": SalesOrder.total},
    default_sort="-created_at",
    export=ExportSpec(_l("Sales orders"), lambda user: [
        Column("id", _l("Id"), NUMBER), Column("customer_id", _l("Customer id"), NUMBER),
        Column("status", _l("Status")), Column("payment_status", _l("Payment")),
        Column("vehicle_status", _l("Vehicle")), Column("delivery_status", _l("Delivery")),
        Column("total", _l("Total"), MONEY), Column("paid", _l("Paid"), MONEY),
        Column("currency", _l("Currency"))], _order_rows),
)


def _purchase_rows(session: Session, user: Any, stmt: Any) -> Iterator[dict[str, Any]]:
    for p in session.scalars(stmt.execution_options(yield_per=500)):
        yield {"id": p.id, "supplier_id": p.supplier_id, "status": label("purchase", p.status),
               "total": p.total, "received_value": p.received_value, "paid": p.paid,
               "currency": p.currency, "expected_on": p.expected_on}


PURCHASE_ORDERS = ListDefinition(
    name="sales.purchase_orders", label=_l("Purchase orders"), model=SalesPurchaseOrder,
    key=SalesPurchaseOrder.id, permission="sales.view",
    page="sales_commerce.purchase_list", api="sales_commerce_api.PurchaseOrders",
    filters=(
        Filter("status", _l("Status"), type=CHOICE, choices=PURCHASE_STATUSES,
               apply=_eq(SalesPurchaseOrder.status)),
        Filter("supplier_id", _l("Supplier"), type=ID,
               apply=_eq(SalesPurchaseOrder.supplier_id)),
        Filter("branch_id", _l("Branch"), type=ID, apply=_eq(SalesPurchaseOrder.branch_id)),
    ),
    sorts={"created_at": SalesPurchaseOrder.created_at,
           "expected_on": SalesPurchaseOrder.expected_on},
    default_sort="-created_at",
    export=ExportSpec(_l("Purchase orders"), lambda user: [
        Column("id", _l("Id"), NUMBER), Column("supplier_id", _l("Supplier id"), NUMBER),
        Column("status", _l("Status")), Column("total", _l("Total"), MONEY),
        Column("received_value", _l("Received"), MONEY), Column("paid", _l("Paid"), MONEY),
        Column("currency", _l("Currency")), Column("expected_on", _l("Expected on"))],
        _purchase_rows),
)

ALL = (STOCK, QUOTATIONS, ORDERS, PURCHASE_ORDERS)
