"""Quotations: a stock car or a model/trim/colour, priced by lines, with discounts that may
need a manager, a trade-in credited, fees, a finance option and a validity date.

Lines carry positive amounts and a ``kind`` that says their sign (``discount`` and
``trade_in`` are taken off). The discount's share of the price (vehicle, options and
accessories) is compared with the author's limit — the most generous of their roles' limits
in the ``sales.discount_limits`` setting (``salesperson: 3, manager: 10``, percent) —
and over it the quotation waits for someone with ``sales.approve_discounts`` whose own limit
covers it. Revising the lines keeps the previous revision's lines and total."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from carebiz.concurrency import check_version, lock
from carebiz.crm.models import Party, Vehicle
from carebiz.errors import Forbidden, ValidationFailed
from carebiz.events import Audit, emit
from carebiz.i18n import N_
from carebiz.services import settings
from carebiz.text import text_problem
from carebiz.toolkit import can, host
from carebiz.toolkit import today as business_today
from carebiz.toolkit.transitions import machine

from ..labels import QUOTATION_ACTIONS, QUOTATION_STATUS, machine_labels
from ..models import SalesQuotation, SalesQuotationLine, SalesQuotationRevision, SalesStock
from ..signals import quotation_saved
from . import stock as stock_service
from .money import amount, currency_code
from .stock import branch_for

KINDS = ("vehicle", "option", "accessory", "fee", "discount", "trade_in")
CREDITS = frozenset({"discount", "trade_in"})
PRICE_KINDS = frozenset({"vehicle", "option", "accessory"})
#: the fee lines a new quotation offers (setting ``sales.fee_lines``); any description works
DEFAULT_FEES = "Registration, Insurance, Purchase tax"
DEFAULT_LIMITS = "salesperson: 3, manager: 10"
VALID_DAYS = 14

QUOTATION = machine(_l("quotation"), {
    "revise": ({"open", "pending_approval"}, "open"),
    "approve": ({"pending_approval"}, "open"),
    "accept": ({"open"}, "accepted"),
    "decline": ({"open", "pending_approval"}, "declined"),
}, labels=machine_labels(QUOTATION_STATUS, QUOTATION_ACTIONS))


def snapshot(q: SalesQuotation) -> dict[str, Any]:
    return {"status": q.status, "revision": q.revision, "total": str(q.total),
            "currency": q.currency, "stock_id": q.stock_id, "customer_id": q.customer_id,
            "valid_until": q.valid_until.isoformat() if q.valid_until else None}


def discount_limits(session: Session) -> dict[str, Decimal]:
    """``{role name: percent}`` from ``sales.discount_limits``; a malformed entry is
    skipped rather than granting anything."""
    raw = str(settings.get(session, host(), "sales.discount_limits") or "")
    out: dict[str, Decimal] = {}
    for part in raw.replace("，", ",").split(","):
        name, _sep, value = part.partition(":")
        try:
            out[name.strip()] = Decimal(value.strip())
        except ArithmeticError:
            continue
    return out


def limit_of(session: Session, user: Any) -> Decimal | None:
    """The discount (percent) ``user`` may give alone; None means no limit (superusers,
    and work done without a user: the demo loader, imports)."""
    if user is None or not getattr(user, "is_authenticated", False) or user.is_superuser:
        return None
    limits = discount_limits(session)
    return max((limits.get(role.name, Decimal(0)) for role in user.roles), default=Decimal(0))


def discount_percent(q: SalesQuotation) -> Decimal:
    price = sum((ln.amount for ln in q.lines if ln.kind in PRICE_KINDS), Decimal(0))
    given = sum((ln.amount for ln in q.lines if ln.kind == "discount"), Decimal(0))
    return Decimal(0) if price == 0 else (given * 100 / price).quantize(Decimal("0.01"))


def total_of(lines: list[SalesQuotationLine]) -> Decimal:
    return sum(((-ln.amount if ln.kind in CREDITS else ln.amount) for ln in lines),
               Decimal(0))


def _lines(session: Session, raw: Any, currency: str, user: Any,
           errors: dict[str, Any]) -> list[SalesQuotationLine]:
    if not isinstance(raw, list) or not raw:
        errors["lines"] = _("Give at least one line.")
        return []
    lines = []
    for i, item in enumerate(raw):
        key = f"lines[{i}]"
        if not isinstance(item, dict):
            errors[key] = _("Each line is an object with kind, description and amount.")
            continue
        kind = item.get("kind")
        if kind not in KINDS:
            errors[f"{key}.kind"] = _("One of: %(allowed)s.", allowed=", ".join(KINDS))
        description = str(item.get("description") or "").strip()
        problem = text_problem(description, 200)
        if problem:
            errors[f"{key}.description"] = problem
        value = Decimal(0)
        try:
            value = amount(item.get("amount"), currency, f"{key}.amount")
        except ValidationFailed as exc:
            errors.update(exc.errors)
        trade_vehicle = None
        if item.get("vehicle_id") not in (None, ""):
            car = stock_service.visible_row(session, Vehicle, item.get("vehicle_id"), user)
            if car is None or kind != "trade_in":
                errors[f"{key}.vehicle_id"] = _("A trade-in line may name a vehicle you "
                                                "may see.")
            else:
                trade_vehicle = car.id
        lines.append(SalesQuotationLine(position=i, kind=kind or "", description=description,
                                        amount=value, trade_in_vehicle_id=trade_vehicle))
    if lines and not errors and total_of(lines) < 0:
        errors["lines"] = _("Discounts and trade-in exceed the price: the total is below "
                            "zero.")
    return lines


def _finance(raw: Any, currency: str, errors: dict[str, Any]) -> dict[str, Any]:
    """A finance option as ``{"provider", "term_months", "down_payment", "rate"}``,
    amounts kept as decimal strings (JSON has no decimals)."""
    if raw in (None, {}, ""):
        return {}
    if not isinstance(raw, dict):
        errors["finance"] = _("An object with provider, term_months, down_payment, rate.")
        return {}
    out: dict[str, Any] = {"provider": str(raw.get("provider") or "")[:80]}
    try:
        months = int(raw.get("term_months") or 0)
        if not 1 <= months <= 120:
            raise ValueError
        out["term_months"] = months
    except (TypeError, ValueError):
        errors["finance.term_months"] = _("A number of months from 1 to 120.")
    for field in ("down_payment", "rate"):
        if raw.get(field) not in (None, ""):
            try:
                out[field] = str(amount(raw[field], currency, f"finance.{field}"))
            except ValidationFailed as exc:
                errors.update(exc.errors)
    return out


def _valid_until(raw: Any, errors: dict[str, Any]) -> dt.date:
    if raw in (None, ""):
        return business_today() + dt.timedelta(days=VALID_DAYS)
    try:
        value = raw if isinstance(raw, dt.date) else dt.date.fromisoformat(str(raw))
    except ValueError:
        errors["valid_until"] = _("Enter a date as YYYY-MM-DD.")
        return business_today()
    if value < business_today():
        errors["valid_until"] = _("A date from today on.")
    return value


def _apply_limit(session: Session, q: SalesQuotation, user: Any) -> None:
    limit = limit_of(session, user)
    q.discount = sum((ln.amount for ln in q.lines if ln.kind == "discount"), Decimal(0))
    needs = limit is not None and discount_percent(q) > limit
    q.status = "pending_approval" if needs else "open"
    q.approved_by = q.approved_at = None


def create_quotation(session: Session, data: dict[str, Any], *, user: Any = None
                     ) -> SalesQuotation:
    """Write a quotation for a customer the user may see, for a stock car of theirs or a
    model. Its discount decides whether it is ``open`` or ``pending_approval``."""
    errors: dict[str, Any] = {}
    customer = stock_service.visible_row(session, Party, data.get("customer_id"), user)
    if customer is None or not customer.active:
        errors["customer_id"] = _("No customer with this id.")
    currency = "CNY"
    try:
        currency = currency_code(data.get("currency") or "CNY")
    except ValidationFailed as exc:
        errors.update(exc.errors)
    stock = None
    if data.get("stock_id") not in (None, ""):
        stock = stock_service.visible_row(session, SalesStock, data.get("stock_id"), user)
        if stock is None:
            errors["stock_id"] = _("No stock vehicle with this id.")
        elif stock.status in ("sold", "delivered"):
            errors["stock_id"] = _("This car is sold.")
    elif not str(data.get("model") or "").strip():
        errors["model"] = _("Name a stock vehicle or the model quoted.")
    texts = {}
    for field, limit in (("make", 60), ("model", 80), ("trim", 80), ("colour", 40),
                         ("notes", 5000)):
        value = str(data.get(field) or (getattr(stock, field, "") if stock else "")).strip()
        problem = text_problem(value, limit)
        if problem:
            errors[field] = problem
        texts[field] = value
    lines = _lines(session, data.get("lines"), currency, user, errors)
    finance = _finance(data.get("finance"), currency, errors)
    valid_until = _valid_until(data.get("valid_until"), errors)
    branch_id = (stock.branch_id if stock is not None
                 else branch_for(session, user, data.get("branch_id"), errors))
    if errors:
        raise ValidationFailed(_("The quotation is not valid: %(fields)s",
                                 fields=", ".join(sorted(errors))), errors)
    for line in lines:
        line.branch_id = branch_id
    q = SalesQuotation(customer_id=customer.id, stock_id=stock.id if stock else None,
                       currency=currency, lines=lines, total=total_of(lines),
                       finance=finance, valid_until=valid_until, branch_id=branch_id,
                       salesperson_id=getattr(user, "id", None), **texts)
    _apply_limit(session, q, user)
    session.add(q)
    session.flush()
    _emit(session, q, N_("Quotation %(id)s written"), None)
    return q


def _emit(session: Session, q: SalesQuotation, summary: str,
          before: dict[str, Any] | None) -> None:
    emit(session, quotation_saved, quotation_id=q.id, customer_id=q.customer_id,
         revision=q.revision, total=q.total, currency=q.currency, status=q.status,
         audit=Audit("sales_quotation", q.id, summary, before, snapshot(q),
                     branch_id=q.branch_id, args={"id": q.id}, version=q.version))


def revise(session: Session, q: SalesQuotation, data: dict[str, Any], *, user: Any = None,
           expected_version: Any = None) -> SalesQuotation:
    """New lines (and optionally validity, finance): the current revision is kept in
    :class:`SalesQuotationRevision` and the quotation's ``revision`` goes up by one; the
    discount check runs again."""
    check_version(session, q, expected_version, entity_type="sales_quotation",
                  current=snapshot(q))
    q = lock(session, SalesQuotation, [q.id])[q.id]
    QUOTATION.target(q.status, "revise")
    errors: dict[str, Any] = {}
    lines = _lines(session, data.get("lines"), q.currency, user, errors)
    finance = _finance(data.get("finance"), q.currency, errors) if "finance" in data else None
    valid_until = (_valid_until(data.get("valid_until"), errors) if "valid_until" in data
                   else None)
    if errors:
        raise ValidationFailed(_("The revision is not valid: %(fields)s",
                                 fields=", ".join(sorted(errors))), errors)
    before = snapshot(q)
    session.add(SalesQuotationRevision(
        quotation_id=q.id, revision=q.revision, total=q.total, currency=q.currency,
        branch_id=q.branch_id, saved_by=getattr(user, "id", None),
        lines=[{"kind": ln.kind, "description": ln.description, "amount": str(ln.amount),
                "vehicle_id": ln.trade_in_vehicle_id} for ln in q.lines]))
    for line in lines:
        line.branch_id = q.branch_id
    q.lines = lines
    q.revision += 1
    q.total = total_of(lines)
    if finance is not None:
        q.finance = finance
    if valid_until is not None:
        q.valid_until = valid_until
    _apply_limit(session, q, user)
    session.flush()
    _emit(session, q, N_("Quotation %(id)s revised"), before)
    return q


def approve(session: Session, q: SalesQuotation, *, user: Any = None,
            expected_version: Any = None) -> SalesQuotation:
    """A manager lets a discount over the author's limit stand (their own limit must
    cover it); the quotation becomes ``open`` and may be accepted."""
    check_version(session, q, expected_version, entity_type="sales_quotation",
                  current=snapshot(q))
    q = lock(session, SalesQuotation, [q.id])[q.id]
    target = QUOTATION.target(q.status, "approve")
    limit = limit_of(session, user)
    if user is not None and not can(user, "sales.approve_discounts"):
        raise Forbidden(_("Approving discounts needs the permission to do so."))
    if limit is not None and discount_percent(q) > limit:
        raise Forbidden(_("This discount (%(pct)s %%) is over your limit too (%(limit)s %%).",
                          pct=discount_percent(q), limit=limit))
    before = snapshot(q)
    q.status = target
    q.approved_by = getattr(user, "id", None)
    q.approved_at = dt.datetime.now(dt.UTC)
    session.flush()
    _emit(session, q, N_("Quotation %(id)s: discount approved"), before)
    return q


def decline(session: Session, q: SalesQuotation, *, expected_version: Any = None
            ) -> SalesQuotation:
    """The customer said no; the quotation stays on file."""
    check_version(session, q, expected_version, entity_type="sales_quotation",
                  current=snapshot(q))
    q = lock(session, SalesQuotation, [q.id])[q.id]
    before = snapshot(q)
    q.status = QUOTATION.target(q.status, "decline")
    session.flush()
    _emit(session, q, N_("Quotation %(id)s declined"), before)
    return q
