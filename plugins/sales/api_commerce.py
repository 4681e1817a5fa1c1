"""The JSON API of stock, quotations, orders and purchasing under ``/api/v1/sales``: thin
routes over :mod:`.services` (``stock``, ``quotations``, ``orders``, ``purchasing``).

Each route checks its permission, loads the record under the branch row filter (another
branch's record is a 404), runs the service in :func:`carebiz.toolkit.saving` (one commit;
a refusal is the standard error body — an illegal move a 409 with ``current_status`` and
``allowed``) and answers the record with its ``ETag``. Lists answer from the list
definitions of :mod:`.lists_commerce`, so ``?format=csv`` exports the same rows."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from carebiz import db, lists
from carebiz.api.common import Blueprint, page_of
from carebiz.concurrency import etag_headers, expected_version
from carebiz.security.rows import visible
from carebiz.toolkit import MAX_ID, require, saving, today, visible_or_404

from . import schemas_commerce as s
from .lists_commerce import ORDERS, PURCHASE_ORDERS, QUOTATIONS, STOCK
from .models import (
    SalesOrder,
    SalesPurchaseOrder,
    SalesQuotation,
    SalesQuotationRevision,
    SalesStock,
    SalesSupplierQuote,
)
from .services import orders, purchasing, quotations, stock

ID = f"int(min=1, max={MAX_ID})"

blp = Blueprint("sales_commerce_api", __name__, url_prefix="/api/v1/sales",
                description="Sales: vehicle stock, quotations, orders and purchasing.")


def _user() -> Any:
    return current_user._get_current_object()


def _version(data: dict[str, Any]) -> Any:
    return expected_version(data.pop("version", None))


def _stock(stock_id: int) -> SalesStock:
    return visible_or_404(SalesStock, stock_id, _("No stock vehicle with this id."))


def _quotation(quotation_id: int) -> SalesQuotation:
    return visible_or_404(SalesQuotation, quotation_id, _("No quotation with this id."))


def _order(order_id: int) -> SalesOrder:
    return visible_or_404(SalesOrder, order_id, _("No sales order with this id."))


def _purchase(po_id: int) -> SalesPurchaseOrder:
    return visible_or_404(SalesPurchaseOrder, po_id, _("No purchase order with this id."))


# --- stock --------------------------------------------------------------------------


@blp.route("/stock")
class StockList(MethodView):
    @require("sales.view")
    @blp.arguments(s.SalesStockListArgs, location="query")
    @blp.response(200, s.SalesStockPage)
    def get(self, args: dict[str, Any]) -> Any:
        """Stock vehicles of your branches, newest first; ``status`` filters."""
        return lists.api_page(STOCK, args)

    @require("sales.stock")
    @blp.arguments(s.SalesStockCreateSchema)
    @blp.response(201, s.SalesStockSchema)
    def post(self, data: dict[str, Any]) -> Any:
        """Take a car into stock: its VIN becomes a core vehicle (the core checks it and
        refuses one on file with a 409)."""
        with saving():
            row = stock.create_stock(db.session(), data, user=_user())
        return row, 201, etag_headers(row)


@blp.route("/stock/aging")
class StockAging(MethodView):
    @require("sales.view")
    @blp.arguments(s.SalesAgingArgs, location="query")
    @blp.response(200, s.SalesAgingSchema)
    def get(self, args: dict[str, Any]) -> Any:
        """Cars on the floor (in stock or reserved) by days in stock: 0–30, 31–60, 61–90,
        over 90, with their cost per currency, and the ten oldest."""
        return stock.aging(db.session(), _user(), args.get("branch_id"), today())


@blp.route(f"/stock/<{ID}:stock_id>")
class StockItem(MethodView):
    @require("sales.view")
    @blp.response(200, s.SalesStockSchema)
    def get(self, stock_id: int) -> Any:
        row = _stock(stock_id)
        return row, 200, etag_headers(row)


@blp.route(f"/stock/<{ID}:stock_id>/ship")
class StockShip(MethodView):
    @require("sales.stock")
    @blp.arguments(s._Versioned)
    @blp.response(200, s.SalesStockSchema)
    def post(self, data: dict[str, Any], stock_id: int) -> Any:
        """The maker shipped an ordered car (``ordered`` → ``in_transit``)."""
        row = _stock(stock_id)
        with saving():
            row = stock.move(db.session(), row, "ship", expected_version=_version(data))
        return row, 200, etag_headers(row)


@blp.route(f"/stock/<{ID}:stock_id>/receive")
class StockReceive(MethodView):
    @require("sales.stock")
    @blp.arguments(s.SalesStockReceiveSchema)
    @blp.response(200, s.SalesStockSchema)
    def post(self, data: dict[str, Any], stock_id: int) -> Any:
        """Inbound receipt with inspection notes; a car held for an order is reserved."""
        row = _stock(stock_id)
        with saving():
            row = stock.receive(db.session(), row, data, expected_version=_version(data))
        return row, 200, etag_headers(row)


@blp.route(f"/stock/<{ID}:stock_id>/transfer")
class StockTransfer(MethodView):
    @require("sales.stock")
    @blp.arguments(s.SalesStockTransferSchema)
    @blp.response(200, s.SalesStockSchema)
    def post(self, data: dict[str, Any], stock_id: int) -> Any:
        """Move a car to another of your branches."""
        row = _stock(stock_id)
        with saving():
            row = stock.transfer(db.session(), row, data, user=_user(),
                                 expected_version=_version(data))
        return row, 200, etag_headers(row)


# --- quotations ---------------------------------------------------------------------


@blp.route("/quotations")
class Quotations(MethodView):
    @require("sales.view")
    @blp.arguments(s.SalesQuotationListArgs, location="query")
    @blp.response(200, s.SalesQuotationPage)
    def get(self, args: dict[str, Any]) -> Any:
        return lists.api_page(QUOTATIONS, args)

    @require("sales.quotations")
    @blp.arguments(s.SalesQuotationCreateSchema)
    @blp.response(201, s.SalesQuotationSchema)
    def post(self, data: dict[str, Any]) -> Any:
        """Quote a stock car (``stock_id``) or a model; a discount over your limit makes it
        ``pending_approval``."""
        with saving():
            q = quotations.create_quotation(db.session(), data, user=_user())
        return q, 201, etag_headers(q)


@blp.route(f"/quotations/<{ID}:quotation_id>")
class QuotationItem(MethodView):
    @require("sales.view")
    @blp.response(200, s.SalesQuotationSchema)
    def get(self, quotation_id: int) -> Any:
        q = _quotation(quotation_id)
        return q, 200, etag_headers(q)


@blp.route(f"/quotations/<{ID}:quotation_id>/revisions")
class QuotationRevisions(MethodView):
    @require("sales.view")
    @blp.response(200, s.SalesRevisionSchema(many=True))
    def get(self, quotation_id: int) -> Any:
        """The earlier revisions, oldest first (the current one is the quotation itself)."""
        q = _quotation(quotation_id)
        return list(db.session().scalars(
            select(SalesQuotationRevision).where(SalesQuotationRevision.quotation_id == q.id)
            .order_by(SalesQuotationRevision.revision)))

    @require("sales.quotations")
    @blp.arguments(s.SalesQuotationReviseSchema)
    @blp.response(201, s.SalesQuotationSchema)
    def post(self, data: dict[str, Any], quotation_id: int) -> Any:
        """A new revision: new lines (and validity or finance); the old one is kept."""
        q = _quotation(quotation_id)
        with saving():
            q = quotations.revise(db.session(), q, data, user=_user(),
                                  expected_version=_version(data))
        return q, 201, etag_headers(q)


@blp.route(f"/quotations/<{ID}:quotation_id>/approve")
class QuotationApprove(MethodView):
    @require("sales.approve_discounts")
    @blp.arguments(s._Versioned)
    @blp.response(200, s.SalesQuotationSchema)
    def post(self, data: dict[str, Any], quotation_id: int) -> Any:
        q = _quotation(quotation_id)
        with saving():
            q = quotations.approve(db.session(), q, user=_user(),
                                   expected_version=_version(data))
        return q, 200, etag_headers(q)


@blp.route(f"/quotations/<{ID}:quotation_id>/decline")
class QuotationDecline(MethodView):
    @require("sales.quotations")
    @blp.arguments(s._Versioned)
    @blp.response(200, s.SalesQuotationSchema)
    def post(self, data: dict[str, Any], quotation_id: int) -> Any:
        q = _quotation(quotation_id)
        with saving():
            q = quotations.decline(db.session(), q, expected_version=_version(data))
        return q, 200, etag_headers(q)


@blp.route(f"/quotations/<{ID}:quotation_id>/accept")
class QuotationAccept(MethodView):
    @require("sales.orders")
    @blp.arguments(s.SalesAcceptSchema)
    @blp.response(201, s.SalesAcceptedSchema)
    def post(self, data: dict[str, Any], quotation_id: int) -> Any:
        """The customer accepts: an order is made and the quotation's car reserved."""
        q = _quotation(quotation_id)
        with saving():
            order = orders.accept_quotation(db.session(), q, data, user=_user(),
                                            expected_version=_version(data))
        return {"order_id": order.id, "quotation_id": q.id, "status": order.status}, 201


# --- orders -------------------------------------------------------------------------


@blp.route("/orders")
class Orders(MethodView):
    @require("sales.view")
    @blp.arguments(s.SalesOrderListArgs, location="query")
    @blp.response(200, s.SalesOrderPage)
    def get(self, args: dict[str, Any]) -> Any:
        return lists.api_page(ORDERS, args)


@blp.route(f"/orders/<{ID}:order_id>")
class OrderItem(MethodView):
    @require("sales.view")
    @blp.response(200, s.SalesOrderSchema)
    def get(self, order_id: int) -> Any:
        order = _order(order_id)
        return order, 200, etag_headers(order)


@blp.route(f"/orders/<{ID}:order_id>/payments")
class OrderPayments(MethodView):
    @require("sales.orders")
    @blp.arguments(s.SalesPaymentCreateSchema)
    @blp.response(201, s.SalesPaymentSchema)
    def post(self, data: dict[str, Any], order_id: int) -> Any:
        """Money received, in any currency (converted at the day's rate)."""
        order = _order(order_id)
        with saving():
            payment = orders.add_payment(db.session(), order, data, user=_user())
        return payment, 201


def _step(order_id: int, data: dict[str, Any], action: Any) -> Any:
    order = _order(order_id)
    expected = _version(data)
    with saving():
        order = action(db.session(), order, data, user=_user(), expected_version=expected)
    return order, 200, etag_headers(order)


@blp.route(f"/orders/<{ID}:order_id>/allocate")
class OrderAllocate(MethodView):
    @require("sales.orders")
    @blp.arguments(s.SalesAllocateSchema)
    @blp.response(200, s.SalesOrderSchema)
    def post(self, data: dict[str, Any], order_id: int) -> Any:
        """Give the order its VIN from stock."""
        return _step(order_id, data, lambda sess, o, d, **kw: orders.allocate(
            sess, o, d["stock_id"], **kw))


@blp.route(f"/orders/<{ID}:order_id>/inspect")
class OrderInspect(MethodView):
    @require("sales.orders")
    @blp.arguments(s.SalesInspectSchema)
    @blp.response(200, s.SalesOrderSchema)
    def post(self, data: dict[str, Any], order_id: int) -> Any:
        """Record the pre-delivery inspection; passed makes the car ready."""
        return _step(order_id, data, orders.inspect)


@blp.route(f"/orders/<{ID}:order_id>/register")
class OrderRegister(MethodView):
    @require("sales.orders")
    @blp.arguments(s.SalesRegisterSchema)
    @blp.response(200, s.SalesOrderSchema)
    def post(self, data: dict[str, Any], order_id: int) -> Any:
        return _step(order_id, data, orders.register)


@blp.route(f"/orders/<{ID}:order_id>/cancel")
class OrderCancel(MethodView):
    @require("sales.orders")
    @blp.arguments(s.SalesCancelSchema)
    @blp.response(200, s.SalesOrderSchema)
    def post(self, data: dict[str, Any], order_id: int) -> Any:
        return _step(order_id, data, orders.cancel)


@blp.route(f"/orders/<{ID}:order_id>/deliver")
class OrderDeliver(MethodView):
    @require("sales.orders")
    @blp.arguments(s.SalesDeliverSchema)
    @blp.response(200, s.SalesOrderSchema)
    def post(self, data: dict[str, Any], order_id: int) -> Any:
        """Hand the car over: 409 with ``allowed`` while it is not ready or money is
        outstanding (a manager may override with ``override_reason``)."""
        return _step(order_id, data, orders.deliver)


# --- purchasing ---------------------------------------------------------------------


@blp.route("/purchase-orders")
class PurchaseOrders(MethodView):
    @require("sales.view")
    @blp.arguments(s.SalesPurchaseListArgs, location="query")
    @blp.response(200, s.SalesPurchaseOrderPage)
    def get(self, args: dict[str, Any]) -> Any:
        return lists.api_page(PURCHASE_ORDERS, args)

    @require("sales.purchasing")
    @blp.arguments(s.SalesPurchaseCreateSchema)
    @blp.response(201, s.SalesPurchaseOrderSchema)
    def post(self, data: dict[str, Any]) -> Any:
        """Order cars from a supplier (a party in the ``supplier`` role)."""
        with saving():
            po = purchasing.create_purchase_order(db.session(), data, user=_user())
        return po, 201, etag_headers(po)


@blp.route("/purchase-orders/payables")
class Payables(MethodView):
    @require("sales.purchasing")
    @blp.response(200, s.SalesPayablesSchema)
    def get(self) -> Any:
        """What is owed to suppliers for cars received, by supplier and currency."""
        items = purchasing.payables(db.session(), _user())
        return {"items": items, "total": len(items)}


@blp.route(f"/purchase-orders/<{ID}:po_id>")
class PurchaseOrderItem(MethodView):
    @require("sales.view")
    @blp.response(200, s.SalesPurchaseOrderSchema)
    def get(self, po_id: int) -> Any:
        po = _purchase(po_id)
        return po, 200, etag_headers(po)


@blp.route(f"/purchase-orders/<{ID}:po_id>/receive")
class PurchaseReceive(MethodView):
    @require("sales.purchasing")
    @blp.arguments(s.SalesPurchaseReceiveSchema)
    @blp.response(201, s.SalesPurchaseReceivedSchema)
    def post(self, data: dict[str, Any], po_id: int) -> Any:
        """Cars arrived: each enters stock by VIN at the line's cost."""
        po = _purchase(po_id)
        expected = _version(data)
        with saving():
            created = purchasing.receive(db.session(), po, data, user=_user(),
                                         expected_version=expected)
        return {"purchase_order": po, "stock": created}, 201


@blp.route(f"/purchase-orders/<{ID}:po_id>/payments")
class PurchasePay(MethodView):
    @require("sales.purchasing")
    @blp.arguments(s.SalesPurchasePaySchema)
    @blp.response(200, s.SalesPurchaseOrderSchema)
    def post(self, data: dict[str, Any], po_id: int) -> Any:
        po = _purchase(po_id)
        with saving():
            po = purchasing.pay(db.session(), po, data)
        return po, 200


@blp.route(f"/purchase-orders/<{ID}:po_id>/cancel")
class PurchaseCancel(MethodView):
    @require("sales.purchasing")
    @blp.arguments(s._Versioned)
    @blp.response(200, s.SalesPurchaseOrderSchema)
    def post(self, data: dict[str, Any], po_id: int) -> Any:
        po = _purchase(po_id)
        with saving():
            po = purchasing.cancel(db.session(), po, expected_version=_version(data))
        return po, 200



# --- price inquiries and supplier quotes ------------------------------------------------


@blp.route("/supplier-quotes")
class SupplierQuotes(MethodView):
    @require("sales.purchasing")
    @blp.arguments(s.SalesSupplierQuoteListArgs, location="query")
    @blp.response(200, s.SalesSupplierQuotePage)
    def get(self, args: dict[str, Any]) -> Any:
        """Price inquiries and supplier quotes of your branches, newest first."""
        stmt = select(SalesSupplierQuote).order_by(SalesSupplierQuote.id.desc())
        if args.get("status"):
            stmt = stmt.where(SalesSupplierQuote.status == args["status"])
        return page_of(db.session(), visible(stmt, SalesSupplierQuote, _user()),
                       args["page"], args["per_page"])

    @require("sales.purchasing")
    @blp.arguments(s.SalesSupplierQuoteCreateSchema)
    @blp.response(201, s.SalesSupplierQuoteSchema)
    def post(self, data: dict[str, Any]) -> Any:
        """Ask a supplier for a price (a price inquiry, status ``requested``)."""
        with saving():
            quote = purchasing.request_quote(db.session(), data, user=_user())
        return quote, 201, etag_headers(quote)


def _supplier_quote(quote_id: int) -> SalesSupplierQuote:
    return visible_or_404(SalesSupplierQuote, quote_id, _("No supplier quote with this id."))


@blp.route(f"/supplier-quotes/<{ID}:quote_id>/price")
class SupplierQuotePrice(MethodView):
    @require("sales.purchasing")
    @blp.arguments(s.SalesSupplierQuotePriceSchema)
    @blp.response(200, s.SalesSupplierQuoteSchema)
    def post(self, data: dict[str, Any], quote_id: int) -> Any:
        """Record the supplier's answer (status ``quoted``)."""
        quote = _supplier_quote(quote_id)
        with saving():
            quote = purchasing.record_quote(db.session(), quote, data,
                                            expected_version=_version(data))
        return quote, 200, etag_headers(quote)


@blp.route(f"/supplier-quotes/<{ID}:quote_id>/order")
class SupplierQuoteOrder(MethodView):
    @require("sales.purchasing")
    @blp.response(201, s.SalesPurchaseOrderSchema)
    def post(self, quote_id: int) -> Any:
        """Place a purchase order at the quoted price."""
        quote = _supplier_quote(quote_id)
        with saving():
            po = purchasing.order_from_quote(db.session(), quote, user=_user(), today=today())
        return po, 201, etag_headers(po)


@blp.route(f"/supplier-quotes/<{ID}:quote_id>/decline")
class SupplierQuoteDecline(MethodView):
    @require("sales.purchasing")
    @blp.response(200, s.SalesSupplierQuoteSchema)
    def post(self, quote_id: int) -> Any:
        quote = _supplier_quote(quote_id)
        with saving():
            quote = purchasing.decline_quote(db.session(), quote)
        return quote, 200
