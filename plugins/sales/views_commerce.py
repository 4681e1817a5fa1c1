"""Pages of stock, quotations, orders and purchasing under ``/sales``: lists read their list
definitions (so the page, the API and the Export control list the same rows), records show
their statuses and offer exactly the actions their state allows; every form posts to a
service through :func:`carebiz.toolkit.saving`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from carebiz import db, lists
from carebiz.concurrency import parse_version
from carebiz.crm.models import Party
from carebiz.services import settings
from carebiz.services.branches import usable_branches
from carebiz.toolkit import (
    check_permission,
    form_status,
    host,
    require,
    saving,
    today,
    visible_or_404,
)
from carebiz.web.admin_forms import options

from . import forms_commerce as f
from .labels import label
from .lists_commerce import ORDERS, PURCHASE_ORDERS, QUOTATIONS, STOCK
from .models import (
    SalesOrder,
    SalesPayment,
    SalesPurchaseOrder,
    SalesQuotation,
    SalesQuotationRevision,
    SalesStock,
    SalesSupplierQuote,
)
from .services import orders, purchasing, quotations, stock
from .services import supplier_quotes as supplier_quotes_rules
from .services.stock import days_in_stock

bp = Blueprint("sales_commerce", __name__, url_prefix="/sales", template_folder="templates")


@bp.context_processor
def _labels() -> dict[str, Any]:
    """``label(kind, code)`` in every commerce page: people read labels, never codes;
    ``plan_branches()``: the branches whose procurement plan the user may print."""
    return {"label": label,
            "plan_branches": lambda: usable_branches(db.session(), _user())}


def _user() -> Any:
    return current_user._get_current_object()


def _listed(definition: Any, template: str, **extra: Any) -> Any:
    sess = db.session()
    listed = lists.prepare(definition, request.args, sess, _user())
    page = lists.page(listed, sess, request.args.get("page", 1, type=int) or 1, clamp=True)
    return render_template(template, page=page, values=listed.values, sort=listed.sort,
                           list_name=definition.name, **extra)


def _names(ids: Any) -> dict[int, str]:
    """Names of the customers the reader may see; another branch's stay out."""
    from carebiz.security.rows import visible

    wanted = sorted({i for i in ids if i})
    if not wanted:
        return {}
    stmt = visible(select(Party.id, Party.name).where(Party.id.in_(wanted)), Party, _user())
    return dict(db.session().execute(stmt).all())


def _branch_choices() -> list[Any]:
    return options((str(b.id), b.name) for b in usable_branches(db.session(), _user()))


# --- stock --------------------------------------------------------------------------


@bp.get("/stock")
@require("sales.view")
def stock_list() -> Any:
    return _listed(STOCK, "sales/commerce/stock_list.html", statuses=stock.STATUSES,
                   days=days_in_stock)


@bp.route("/stock/new", methods=["GET", "POST"])
@require("sales.stock")
def stock_new() -> Any:
    form = f.StockForm()
    form.branch_id.choices = _branch_choices()
    return _create_page(form, "stock", stock.create_stock,
                        lambda row: url_for(".stock_item", stock_id=row.id))


def _create_page(form: Any, heading: str, create: Callable[..., Any],
                 shown_at: Callable[[Any], str]) -> Any:
    """The "new …" pages: the form, and on a valid post ``create(session, payload, user=)``
    in one save, then the new record's page (``shown_at(record)``); refused, the form
    again with the service's messages beside its fields."""
    if form.validate_on_submit():
        with saving(form) as done:
            made = create(db.session(), form.payload(), user=_user())
        if done.ok:
            return redirect(shown_at(made))
    return render_template("sales/commerce/form.html", form=form, heading=heading
                           ), form_status(form)


def _render_stock(row: SalesStock, receive: Any = None, transfer: Any = None,
                  status: int = 200) -> Any:
    receive = receive or f.ReceiveForm(version=row.version, location=row.location)
    transfer = transfer or f.TransferForm(version=row.version)
    transfer.branch_id.choices = _branch_choices()
    return render_template("sales/commerce/stock_item.html", row=row, receive=receive,
                           transfer=transfer, allowed=stock.STOCK.allowed(row.status),
                           days=days_in_stock(row, today())), status


@bp.get("/stock/<int:stock_id>")
@require("sales.view")
def stock_item(stock_id: int) -> Any:
    return _render_stock(visible_or_404(SalesStock, stock_id))


@bp.post("/stock/<int:stock_id>/<action>")
@require("sales.stock")
def stock_action(stock_id: int, action: str) -> Any:
    row = visible_or_404(SalesStock, stock_id)
    if action == "receive":
        form = f.ReceiveForm()
        if form.validate_on_submit():
            with saving(form) as done:
                stock.receive(db.session(), row, {"location": form.location.data,
                                                  "inspection_notes": form.inspection_notes.data},
                              expected_version=parse_version(form.version.data))
            if done.ok:
                return redirect(url_for(".stock_item", stock_id=row.id))
        return _render_stock(row, receive=form, status=form_status(form))
    if action == "transfer":
        form = f.TransferForm()
        form.branch_id.choices = _branch_choices()
        if form.validate_on_submit():
            with saving(form) as done:
                stock.transfer(db.session(), row, {"branch_id": form.branch_id.data,
                                                   "location": form.location.data},
                               user=_user(), expected_version=parse_version(form.version.data))
            if done.ok:
                return redirect(url_for(".stock_list"))
        return _render_stock(row, transfer=form, status=form_status(form))
    if action == "ship":
        with saving() as done:
            stock.move(db.session(), row, "ship")
        return redirect(url_for(".stock_item", stock_id=row.id))
    return redirect(url_for(".stock_item", stock_id=row.id))


# --- quotations ---------------------------------------------------------------------


@bp.get("/quotations")
@require("sales.view")
def quotation_list() -> Any:
    listed = lists.prepare(QUOTATIONS, request.args, db.session(), _user())
    page = lists.page(listed, db.session(), request.args.get("page", 1, type=int) or 1,
                      clamp=True)
    return render_template("sales/commerce/quotation_list.html", page=page,
                           values=listed.values, sort=listed.sort, list_name=QUOTATIONS.name,
                           names=_names(q.customer_id for q in page.items))


def _fees() -> list[str]:
    raw = str(settings.get(db.session(), host(), "sales.fee_lines") or "")
    return [n.strip() for n in raw.replace("，", ",").split(",") if n.strip()]


@bp.route("/quotations/new", methods=["GET", "POST"])
@require("sales.quotations")
def quotation_new() -> Any:
    form = f.quotation_form(_fees())
    if request.method == "GET":
        form.customer_id.data = request.args.get("customer_id", type=int)
        form.stock_id.data = request.args.get("stock_id", type=int)
    return _create_page(form, "quotation", quotations.create_quotation,
                        lambda q: url_for(".quotation_item", quotation_id=q.id))


@bp.get("/quotations/<int:quotation_id>")
@require("sales.view")
def quotation_item(quotation_id: int) -> Any:
    q = visible_or_404(SalesQuotation, quotation_id)
    revisions = db.session().scalars(select(SalesQuotationRevision).where(
        SalesQuotationRevision.quotation_id == q.id).order_by(SalesQuotationRevision.revision))
    order_id = db.session().scalar(select(SalesOrder.id).where(SalesOrder.quotation_id == q.id))
    return render_template("sales/commerce/quotation_item.html", q=q, revisions=list(revisions),
                           names=_names([q.customer_id]), order_id=order_id,
                           allowed=quotations.QUOTATION.allowed(q.status),
                           percent=quotations.discount_percent(q))


@bp.route("/quotations/<int:quotation_id>/revise", methods=["GET", "POST"])
@require("sales.quotations")
def quotation_revise(quotation_id: int) -> Any:
    """A new revision from the page: the current lines to change, kept as a revision when
    saved (the discount check runs again). The version the editor saw travels with the
    form, so a revision written meanwhile is a 409 with a message, not overwritten."""
    q = visible_or_404(SalesQuotation, quotation_id)
    fees = _fees()
    form = f.quotation_form(fees, data=_quotation_values(q, fees)) if request.method == "GET" \
        else f.quotation_form(fees)
    version = request.form.get("version", str(q.version))
    if form.validate_on_submit():
        payload = form.payload()
        data = {"lines": payload["lines"], "valid_until": payload["valid_until"]}
        with saving(form) as done:
            quotations.revise(db.session(), q, data, user=_user(),
                              expected_version=parse_version(version))
        if done.ok:
            return redirect(url_for(".quotation_item", quotation_id=q.id))
    return render_template("sales/commerce/quotation_revise.html", form=form, q=q,
                           version=version), form_status(form)


def _quotation_values(q: SalesQuotation, fees: list[str]) -> dict[str, Any]:
    """The quotation's lines as the form's fields (amounts of a kind added up)."""
    sums: dict[str, Any] = {}
    for ln in q.lines:
        key = ln.kind if ln.kind != "fee" else f"fee:{ln.description}"
        sums[key] = sums.get(key, 0) + ln.amount
        if ln.kind == "trade_in":
            sums["trade_in_description"] = ln.description
    values = {"customer_id": q.customer_id, "stock_id": q.stock_id, "model": q.model,
              "trim": q.trim, "colour": q.colour, "currency": q.currency,
              "vehicle": sums.get("vehicle"), "options": sums.get("option"),
              "accessories": sums.get("accessory"), "discount": sums.get("discount"),
              "trade_in": sums.get("trade_in"),
              "trade_in_description": sums.get("trade_in_description", ""),
              "valid_until": q.valid_until.isoformat() if q.valid_until else ""}
    for i, name in enumerate(fees):
        values[f"fee_{i}"] = sums.get(f"fee:{name}")
    return {k: ("" if v is None else str(v)) for k, v in values.items()}


@bp.post("/quotations/<int:quotation_id>/<action>")
@require("sales.quotations")
def quotation_action(quotation_id: int, action: str) -> Any:
    q = visible_or_404(SalesQuotation, quotation_id)
    sess = db.session()
    if action == "accept":
        with saving() as done:
            order = orders.accept_quotation(sess, q, user=_user())
        if done.ok:
            return redirect(url_for(".order_item", order_id=order.id))
    elif action == "approve":
        with saving():
            quotations.approve(sess, q, user=_user())
    elif action == "decline":
        with saving():
            quotations.decline(sess, q)
    return redirect(url_for(".quotation_item", quotation_id=quotation_id))


# --- orders -------------------------------------------------------------------------


@bp.get("/orders")
@require("sales.view")
def order_list() -> Any:
    listed = lists.prepare(ORDERS, request.args, db.session(), _user())
    page = lists.page(listed, db.session(), request.args.get("page", 1, type=int) or 1,
                      clamp=True)
    return render_template("sales/commerce/order_list.html", page=page, values=listed.values,
                           sort=listed.sort, list_name=ORDERS.name,
                           names=_names(o.customer_id for o in page.items),
                           payment_status=orders.payment_status)


def _render_order(order: SalesOrder, status: int = 200, **forms: Any) -> Any:
    v = order.version
    forms.setdefault("payment", f.PaymentForm(currency=order.currency))
    forms.setdefault("inspect", f.InspectForm(version=v))
    forms.setdefault("register", f.RegisterForm(version=v, plate=order.plate))
    forms.setdefault("deliver", f.DeliverForm(version=v))
    forms.setdefault("cancel", f.CancelForm(version=v))
    forms.setdefault("allocate", f.AllocateForm(version=v))
    forms["allocate"].stock_id.choices = _matching_stock(order)
    payments = db.session().scalars(select(SalesPayment).where(
        SalesPayment.order_id == order.id).order_by(SalesPayment.id))
    return render_template("sales/commerce/order_item.html", order=order,
                           names=_names([order.customer_id]), payments=list(payments),
                           payment_status=orders.payment_status(order),
                           outstanding=orders.outstanding(order),
                           allowed=orders.allowed_actions(order, _user()), forms=forms), status


@bp.get("/orders/<int:order_id>")
@require("sales.view")
def order_item(order_id: int) -> Any:
    return _render_order(visible_or_404(SalesOrder, order_id))


ORDER_FORMS = {"payment": f.PaymentForm, "inspect": f.InspectForm,
               "register": f.RegisterForm, "deliver": f.DeliverForm, "cancel": f.CancelForm,
               "allocate": f.AllocateForm}


def _matching_stock(order: SalesOrder) -> list[Any]:
    """The cars an order without one may take: not tied to an order, not sold, in a branch
    the user sees, of the quotation's model when it names one (its colour first), the
    longest in stock first — the car a dealer wants to move."""
    from carebiz.security.rows import visible

    if order.vehicle_status != "to_allocate":
        return []
    sess = db.session()
    q = sess.get(SalesQuotation, order.quotation_id)
    stmt = select(SalesStock).where(SalesStock.order_id.is_(None),
                                    SalesStock.status.in_(("ordered", "in_transit",
                                                           "in_stock")))
    if q is not None and q.model:
        stmt = stmt.where(SalesStock.model == q.model)
    stmt = visible(stmt, SalesStock, _user()).order_by(SalesStock.received_on,
                                                      SalesStock.id)
    rows = list(sess.scalars(stmt.limit(200)))
    if q is not None and q.colour:
        rows.sort(key=lambda r: r.colour != q.colour)
    return options((str(r.id), f"{r.vin} · {r.make} {r.model} {r.trim} · {r.colour} · "
                    f"{label('stock', r.status)}") for r in rows)


@bp.post("/orders/<int:order_id>/<action>")
@require("sales.orders")
def order_action(order_id: int, action: str) -> Any:
    order = visible_or_404(SalesOrder, order_id)
    if action not in ORDER_FORMS:
        return redirect(url_for(".order_item", order_id=order_id))
    form = ORDER_FORMS[action]()
    if action == "allocate":
        form.stock_id.choices = _matching_stock(order)
    if form.validate_on_submit():
        sess, data = db.session(), {k: v for k, v in form.data.items()
                                    if k not in ("csrf_token", "version")}
        expected = parse_version(getattr(form, "version", None) and form.version.data)
        with saving(form) as done:
            if action == "payment":
                orders.add_payment(sess, order, data, user=_user())
            elif action == "allocate":
                orders.allocate(sess, order, data["stock_id"], user=_user(),
                                expected_version=expected)
            else:
                step = {"inspect": orders.inspect, "register": orders.register,
                        "deliver": orders.deliver, "cancel": orders.cancel}[action]
                step(sess, order, data, user=_user(), expected_version=expected)
        if done.ok:
            return redirect(url_for(".order_item", order_id=order_id))
    return _render_order(order, form_status(form), **{action: form})


# --- supplier quotes ----------------------------------------------------------------


@bp.route("/supplier-quotes", methods=["GET", "POST"])
@require("sales.view")
def supplier_quotes() -> Any:
    """Price inquiries and the suppliers' quotes, compared per car, cheapest first; a new
    inquiry from the form on the side."""
    form = f.InquiryForm()
    form.branch_id.choices = _branch_choices()
    if form.is_submitted():
        check_permission("sales.purchasing")
    if form.validate_on_submit():
        data = {k: v for k, v in form.data.items() if k != "csrf_token"}
        with saving(form) as done:
            purchasing.request_quote(db.session(), data, user=_user())
        if done.ok:
            return redirect(url_for(".supplier_quotes"))
    return _render_quotes(form, form_status(form))


def _render_quotes(form: Any = None, status: int = 200) -> Any:
    from carebiz.security.rows import visible

    if form is None:
        form = f.InquiryForm()
        form.branch_id.choices = _branch_choices()
    stmt = visible(select(SalesSupplierQuote).order_by(SalesSupplierQuote.id.desc()),
                   SalesSupplierQuote, _user()).limit(300)
    quotes = list(db.session().scalars(stmt))
    return render_template("sales/commerce/supplier_quotes.html", form=form,
                           groups=supplier_quotes_rules.compared(quotes),
                           names=_names(q.supplier_id for q in quotes),
                           price=f.QuotePriceForm()), status


@bp.post("/supplier-quotes/<int:quote_id>/<action>")
@require("sales.purchasing")
def supplier_quote_action(quote_id: int, action: str) -> Any:
    quote = visible_or_404(SalesSupplierQuote, quote_id)
    sess = db.session()
    if action == "price":
        form = f.QuotePriceForm()
        if form.validate_on_submit():
            with saving(form) as done:
                purchasing.record_quote(sess, quote, {
                    "unit_cost": form.unit_cost.data, "currency": form.currency.data,
                    "valid_until": form.valid_until.data or None},
                    expected_version=parse_version(form.version.data))
            if done.ok:
                return redirect(url_for(".supplier_quotes"))
        return _render_quotes(status=form_status(form))
    if action == "win":
        with saving() as done:
            po = supplier_quotes_rules.pick_winner(sess, quote, user=_user())
        if done.ok:
            return redirect(url_for(".purchase_item", po_id=po.id))
    elif action == "decline":
        with saving():
            purchasing.decline_quote(sess, quote)
    return redirect(url_for(".supplier_quotes"))


# --- purchasing ---------------------------------------------------------------------


@bp.get("/purchase-orders")
@require("sales.view")
def purchase_list() -> Any:
    listed = lists.prepare(PURCHASE_ORDERS, request.args, db.session(), _user())
    page = lists.page(listed, db.session(), request.args.get("page", 1, type=int) or 1,
                      clamp=True)
    return render_template("sales/commerce/purchase_list.html", page=page,
                           values=listed.values, sort=listed.sort,
                           list_name=PURCHASE_ORDERS.name,
                           names=_names(p.supplier_id for p in page.items),
                           payables=purchasing.payables(db.session(), _user()))


@bp.route("/purchase-orders/new", methods=["GET", "POST"])
@require("sales.purchasing")
def purchase_new() -> Any:
    form = f.PurchaseForm()
    form.branch_id.choices = _branch_choices()
    return _create_page(form, "purchase", purchasing.create_purchase_order,
                        lambda po: url_for(".purchase_item", po_id=po.id))


def _render_purchase(po: SalesPurchaseOrder, receive: Any = None, pay: Any = None,
                     status: int = 200) -> Any:
    receive = receive or f.PurchaseReceiveForm(version=po.version)
    receive.line_id.choices = options((str(ln.id), f"{ln.model} {ln.trim} ({ln.received}/"
                                        f"{ln.quantity})") for ln in po.lines
                                       if ln.received < ln.quantity)
    pay = pay or f.PurchasePayForm()
    return render_template("sales/commerce/purchase_item.html", po=po, receive=receive,
                           pay=pay, names=_names([po.supplier_id]),
                           payable=purchasing.payable(po)), status


@bp.get("/purchase-orders/<int:po_id>")
@require("sales.view")
def purchase_item(po_id: int) -> Any:
    return _render_purchase(visible_or_404(SalesPurchaseOrder, po_id))


@bp.post("/purchase-orders/<int:po_id>/<action>")
@require("sales.purchasing")
def purchase_action(po_id: int, action: str) -> Any:
    po = visible_or_404(SalesPurchaseOrder, po_id)
    if action == "receive":
        form = f.PurchaseReceiveForm()
        form.line_id.choices = options((str(ln.id), "") for ln in po.lines)
        if form.validate_on_submit():
            with saving(form, aliases={"vehicles[0].vin": "vin",
                                       "vehicles[0].line_id": "line_id"}) as done:
                purchasing.receive(db.session(), po, {"vehicles": [{
                    "line_id": form.line_id.data, "vin": form.vin.data,
                    "inspection_notes": form.inspection_notes.data}]},
                    expected_version=parse_version(form.version.data))
            if done.ok:
                return redirect(url_for(".purchase_item", po_id=po_id))
        return _render_purchase(po, receive=form, status=form_status(form))
    if action == "pay":
        form = f.PurchasePayForm()
        if form.validate_on_submit():
            with saving(form) as done:
                purchasing.pay(db.session(), po, {"amount": form.amount.data})
            if done.ok:
                return redirect(url_for(".purchase_item", po_id=po_id))
        return _render_purchase(po, pay=form, status=form_status(form))
    return redirect(url_for(".purchase_item", po_id=po_id))
