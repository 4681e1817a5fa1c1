"""API shapes of stock, quotations, orders and purchasing (``Sales…`` component names).
Amounts are decimal strings both ways (``DecimalString``): JSON numbers cannot hold 0.10
exactly. Business rules stay in the services; these check types and document."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from carebiz.api.common import DecimalString, ListArgs, StrictBoolean, page_schema
from carebiz.toolkit import MAX_ID

from .lists_commerce import (
    ORDER_STATUSES,
    ORDERS,
    PURCHASE_ORDERS,
    PURCHASE_STATUSES,
    QUOTATION_STATUSES,
    QUOTATIONS,
    STOCK,
)
from .services import orders as order_service
from .services.quotations import KINDS
from .services.stock import STATUSES, days_in_stock

Money = DecimalString
ID_RANGE = validate.Range(min=1, max=MAX_ID)
ISODate = fields.Date


class _Versioned(Schema):
    version = fields.Integer(load_default=None, metadata={
        "description": "the version you read (409 when someone changed it since)"})


# --- stock --------------------------------------------------------------------------


def list_args(name: str, statuses: Any, definition: Any, party: str = "customer_id",
              **more: Any) -> type[ListArgs]:
    """The query arguments of a commerce list: status, the party it is for, branch, sort
    (from its list definition) and ``more``; one shape for quotations, orders and purchase
    orders, so their filters cannot drift apart."""
    return ListArgs.from_dict({
        "status": fields.String(validate=validate.OneOf(statuses)),
        party: fields.Integer(validate=ID_RANGE),
        "branch_id": fields.Integer(validate=ID_RANGE), **more,
        "sort": fields.String(validate=validate.OneOf(definition.sort_values))}, name=name)


class SalesStockListArgs(ListArgs):
    status = fields.String(validate=validate.OneOf(STATUSES))
    branch_id = fields.Integer(validate=ID_RANGE)
    model = fields.String(validate=validate.Length(max=80))
    sort = fields.String(validate=validate.OneOf(STOCK.sort_values))


class SalesStockCreateSchema(Schema):
    vin = fields.String(required=True)
    make = fields.String()
    model = fields.String()
    trim = fields.String()
    year = fields.Integer(allow_none=True)
    colour = fields.String()
    cost = Money(required=True)
    currency = fields.String(load_default="CNY")
    branch_id = fields.Integer(allow_none=True)
    location = fields.String()
    status = fields.String(validate=validate.OneOf(("ordered", "in_transit", "in_stock")))
    inspection_notes = fields.String()


class SalesStockSchema(Schema):
    id = fields.Integer()
    vehicle_id = fields.Integer()
    vin = fields.String()
    make = fields.String()
    model = fields.String()
    trim = fields.String()
    colour = fields.String()
    year = fields.Integer(allow_none=True)
    status = fields.String()
    location = fields.String()
    cost = Money()
    currency = fields.String()
    branch_id = fields.Integer()
    received_on = ISODate(allow_none=True)
    delivered_on = ISODate(allow_none=True)
    days_in_stock = fields.Function(lambda s: days_in_stock(s), allow_none=True)
    inspection_notes = fields.String()
    purchase_order_id = fields.Integer(allow_none=True)
    order_id = fields.Integer(allow_none=True)
    version = fields.Integer()


SalesStockPage = page_schema(SalesStockSchema, "SalesStockPage")


class SalesStockReceiveSchema(_Versioned):
    location = fields.String()
    inspection_notes = fields.String()


class SalesStockTransferSchema(_Versioned):
    branch_id = fields.Integer(required=True)
    location = fields.String()


class SalesAgingArgs(Schema):
    branch_id = fields.Integer(validate=ID_RANGE)


class SalesAgingBucketSchema(Schema):
    key = fields.String()
    label = fields.String()
    count = fields.Integer()
    cost = fields.Dict(keys=fields.String(), values=fields.String())


class SalesAgingSchema(Schema):
    buckets = fields.List(fields.Nested(SalesAgingBucketSchema))
    oldest = fields.List(fields.Nested(SalesStockSchema))


# --- quotations ---------------------------------------------------------------------


class SalesQuotationLineSchema(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(KINDS))
    description = fields.String(load_default="")
    amount = Money(required=True)
    vehicle_id = fields.Integer(allow_none=True, metadata={
        "description": "a trade_in line may name the customer's old car"})


class SalesFinanceSchema(Schema):
    provider = fields.String()
    term_months = fields.Integer()
    down_payment = Money()
    rate = Money()


class SalesQuotationCreateSchema(Schema):
    customer_id = fields.Integer(required=True)
    stock_id = fields.Integer(allow_none=True)
    make = fields.String()
    model = fields.String()
    trim = fields.String()
    colour = fields.String()
    lines = fields.List(fields.Nested(SalesQuotationLineSchema), required=True)
    currency = fields.String(load_default="CNY")
    valid_until = fields.String(allow_none=True)
    finance = fields.Nested(SalesFinanceSchema, allow_none=True)
    branch_id = fields.Integer(allow_none=True)
    notes = fields.String()


class SalesQuotationReviseSchema(_Versioned):
    lines = fields.List(fields.Nested(SalesQuotationLineSchema), required=True)
    valid_until = fields.String(allow_none=True)
    finance = fields.Nested(SalesFinanceSchema, allow_none=True)


class SalesLineOutSchema(Schema):
    kind = fields.String()
    description = fields.String()
    amount = Money()
    vehicle_id = fields.Integer(attribute="trade_in_vehicle_id", allow_none=True)


class SalesQuotationSchema(Schema):
    id = fields.Integer()
    customer_id = fields.Integer()
    stock_id = fields.Integer(allow_none=True)
    make = fields.String()
    model = fields.String()
    trim = fields.String()
    colour = fields.String()
    status = fields.String()
    revision = fields.Integer()
    total = Money()
    discount = Money()
    currency = fields.String()
    valid_until = ISODate(allow_none=True)
    finance = fields.Dict()
    lines = fields.List(fields.Nested(SalesLineOutSchema))
    branch_id = fields.Integer()
    approved_by = fields.Integer(allow_none=True)
    version = fields.Integer()


SalesQuotationPage = page_schema(SalesQuotationSchema, "SalesQuotationPage")


SalesQuotationListArgs = list_args("SalesQuotationListArgs", QUOTATION_STATUSES, QUOTATIONS)


class SalesRevisionSchema(Schema):
    revision = fields.Integer()
    total = Money()
    currency = fields.String()
    lines = fields.List(fields.Dict())
    saved_at = fields.DateTime()


class SalesAcceptSchema(_Versioned):
    deposit = Money()
    payment_due_on = fields.String(allow_none=True)


class SalesAcceptedSchema(Schema):
    order_id = fields.Integer()
    quotation_id = fields.Integer()
    status = fields.String()


# --- orders -------------------------------------------------------------------------


class SalesOrderSchema(Schema):
    id = fields.Integer()
    quotation_id = fields.Integer()
    customer_id = fields.Integer()
    stock_id = fields.Integer(allow_none=True)
    vin = fields.String(allow_none=True)
    status = fields.String()
    payment_status = fields.Function(lambda o: order_service.payment_status(o))
    vehicle_status = fields.String()
    pdi_status = fields.String()
    registration_status = fields.String()
    delivery_status = fields.String()
    plate = fields.String()
    total = Money()
    paid = Money()
    outstanding = fields.Function(lambda o: DecimalString()._serialize(
        order_service.outstanding(o), None, None))
    deposit = Money()
    payment_due_on = ISODate(allow_none=True)
    currency = fields.String()
    delivered_at = fields.DateTime(allow_none=True)
    override_reason = fields.String()
    allowed = fields.Function(lambda o: order_service.allowed_actions(o))
    branch_id = fields.Integer()
    version = fields.Integer()


SalesOrderPage = page_schema(SalesOrderSchema, "SalesOrderPage")


SalesOrderListArgs = list_args("SalesOrderListArgs", ORDER_STATUSES, ORDERS,
                               vehicle_status=fields.String(validate=validate.OneOf(
                                   ("to_allocate", "in_transit", "in_stock", "ready"))))


class SalesPaymentCreateSchema(Schema):
    amount = Money(required=True)
    currency = fields.String()
    method = fields.String(load_default="cash", validate=validate.OneOf(order_service.METHODS))
    paid_on = fields.String(allow_none=True)


class SalesPaymentSchema(Schema):
    id = fields.Integer()
    order_id = fields.Integer()
    amount = Money()
    currency = fields.String()
    order_amount = Money()
    method = fields.String()
    paid_on = ISODate()


class SalesAllocateSchema(_Versioned):
    stock_id = fields.Integer(required=True)


class SalesInspectSchema(_Versioned):
    passed = StrictBoolean(required=True)
    notes = fields.String(load_default="")


class SalesRegisterSchema(_Versioned):
    plate = fields.String(load_default="")


class SalesCancelSchema(_Versioned):
    reason = fields.String(load_default="")


class SalesDeliverSchema(_Versioned):
    override_reason = fields.String(load_default="", metadata={
        "description": "with money outstanding, a manager's reason to deliver anyway"})


# --- purchasing ---------------------------------------------------------------------


class SalesPurchaseLineSchema(Schema):
    id = fields.Integer(dump_only=True)
    make = fields.String()
    model = fields.String(required=True)
    trim = fields.String()
    colour = fields.String()
    year = fields.Integer(allow_none=True)
    quantity = fields.Integer(load_default=1)
    received = fields.Integer(dump_only=True)
    unit_cost = Money(required=True)


class SalesPurchaseCreateSchema(Schema):
    supplier_id = fields.Integer(required=True)
    currency = fields.String(load_default="CNY")
    lines = fields.List(fields.Nested(SalesPurchaseLineSchema), required=True)
    expected_on = fields.String(allow_none=True)
    branch_id = fields.Integer(allow_none=True)
    notes = fields.String()


class SalesPurchaseOrderSchema(Schema):
    id = fields.Integer()
    supplier_id = fields.Integer()
    status = fields.String()
    currency = fields.String()
    total = Money()
    received_value = Money()
    paid = Money()
    payable = fields.Function(lambda p: DecimalString()._serialize(
        max(p.received_value - p.paid, 0), None, None))
    expected_on = ISODate(allow_none=True)
    lines = fields.List(fields.Nested(SalesPurchaseLineSchema))
    branch_id = fields.Integer()
    version = fields.Integer()


SalesPurchaseOrderPage = page_schema(SalesPurchaseOrderSchema, "SalesPurchaseOrderPage")


SalesPurchaseListArgs = list_args("SalesPurchaseListArgs", PURCHASE_STATUSES, PURCHASE_ORDERS,
                                  party="supplier_id")


class SalesReceiveCarSchema(Schema):
    line_id = fields.Integer(required=True)
    vin = fields.String(required=True)
    colour = fields.String()
    location = fields.String()
    inspection_notes = fields.String()


class SalesPurchaseReceiveSchema(_Versioned):
    vehicles = fields.List(fields.Nested(SalesReceiveCarSchema), required=True)


class SalesPurchaseReceivedSchema(Schema):
    purchase_order = fields.Nested(SalesPurchaseOrderSchema)
    stock = fields.List(fields.Nested(SalesStockSchema))


class SalesPurchasePaySchema(Schema):
    amount = Money(required=True)


class SalesPayableSchema(Schema):
    supplier_id = fields.Integer()
    currency = fields.String()
    owed = Money()
    orders = fields.Integer()


class SalesPayablesSchema(Schema):
    items = fields.List(fields.Nested(SalesPayableSchema))
    total = fields.Integer()


class SalesSupplierQuoteCreateSchema(Schema):
    supplier_id = fields.Integer(required=True)
    make = fields.String()
    model = fields.String(required=True)
    trim = fields.String()
    colour = fields.String()
    year = fields.Integer(allow_none=True)
    quantity = fields.Integer(load_default=1)
    branch_id = fields.Integer(allow_none=True)
    notes = fields.String()


class SalesSupplierQuotePriceSchema(Schema):
    version = fields.Integer(load_default=None)
    unit_cost = Money(required=True)
    currency = fields.String()
    valid_until = fields.String(allow_none=True)


class SalesSupplierQuoteSchema(Schema):
    id = fields.Integer()
    supplier_id = fields.Integer()
    make = fields.String()
    model = fields.String()
    trim = fields.String()
    colour = fields.String()
    year = fields.Integer(allow_none=True)
    quantity = fields.Integer()
    unit_cost = Money(allow_none=True)
    currency = fields.String()
    valid_until = ISODate(allow_none=True)
    status = fields.String()
    purchase_order_id = fields.Integer(allow_none=True)
    branch_id = fields.Integer()
    version = fields.Integer()


SalesSupplierQuotePage = page_schema(SalesSupplierQuoteSchema, "SalesSupplierQuotePage")


class SalesSupplierQuoteListArgs(ListArgs):
    status = fields.String(validate=validate.OneOf(("requested", "quoted", "ordered",
                                                    "declined")))
