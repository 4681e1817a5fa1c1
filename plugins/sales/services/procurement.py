"""The procurement plan: what a branch's purchasing manager should order next, per model and
colour, from what the dealership already has and owes.

Per model/colour: cars free in stock (in stock, not tied to an order) and the oldest of them
in days (aged stock is sold before more of it is ordered); cars on the way (stock rows
ordered or in transit, plus the open purchase orders' lines not yet received); orders
waiting for a car (booked, not cancelled or delivered, no VIN yet — the quotation's model
and colour); and the shortfall to order: waiting orders minus free and coming cars, never
below zero. The open purchase orders are listed beside it, with what is still to come.
Everything is read through the branch row filters of the user asking."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from carebiz.security.rows import visible
from carebiz.toolkit import today

from ..models import (
    SalesOrder,
    SalesPurchaseOrder,
    SalesQuotation,
    SalesStock,
)
from .stock import days_in_stock

OPEN_PURCHASES = ("ordered", "partly_received")
#: days in stock from which a car is "aged": the plan flags the model rather than order more
AGED_DAYS = 90


@dataclass
class PlanLine:
    """One model and colour of the plan."""

    make: str
    model: str
    colour: str
    free: int = 0
    oldest_days: int | None = None
    aged: int = 0
    coming: int = 0
    waiting: int = 0

    @property
    def to_order(self) -> int:
        return max(0, self.waiting - self.free - self.coming)


@dataclass
class Plan:
    """The plan of one branch on one day."""

    branch_id: int
    day: dt.date
    lines: list[PlanLine] = field(default_factory=list)
    #: open purchase orders: (order, cars still to come)
    purchases: list[tuple[SalesPurchaseOrder, int]] = field(default_factory=list)


def _key(model: str, colour: str) -> tuple[str, str]:
    return (model or "").strip().casefold(), (colour or "").strip().casefold()


def procurement_plan(session: Session, user: Any, branch_id: int,
                     day: dt.date | None = None) -> Plan:
    """The plan of ``branch_id`` as ``user`` may see it (see the module)."""
    day = day or today()
    lines: dict[tuple[str, str], PlanLine] = {}

    def line(make: str, model: str, colour: str) -> PlanLine:
        key = _key(model, colour)
        if key not in lines:
            lines[key] = PlanLine(make or "", model or "", colour or "")
        elif make and not lines[key].make:  # a quotation may name the model alone
            lines[key].make = make
        return lines[key]

    stock = session.scalars(visible(select(SalesStock).where(
        SalesStock.branch_id == branch_id,
        SalesStock.status.in_(("ordered", "in_transit", "in_stock"))), SalesStock, user))
    for car in stock:
        entry = line(car.make, car.model, car.colour)
        if car.status != "in_stock":
            entry.coming += 1
        elif car.order_id is None:
            entry.free += 1
            days = days_in_stock(car, day)
            if days is not None:
                entry.oldest_days = max(entry.oldest_days or 0, days)
                entry.aged += days >= AGED_DAYS
    waiting = session.execute(visible(select(SalesQuotation.make, SalesQuotation.model,
                                             SalesQuotation.colour)
                                      .join(SalesOrder, SalesOrder.quotation_id
                                            == SalesQuotation.id)
                                      .where(SalesOrder.branch_id == branch_id,
                                             SalesOrder.stock_id.is_(None),
                                             SalesOrder.delivery_status == "pending"),
                                      SalesOrder, user))
    for make, model, colour in waiting:
        line(make, model, colour).waiting += 1
    plan = Plan(branch_id, day)
    purchases = session.scalars(visible(select(SalesPurchaseOrder).where(
        SalesPurchaseOrder.branch_id == branch_id,
        SalesPurchaseOrder.status.in_(OPEN_PURCHASES)).order_by(
        SalesPurchaseOrder.expected_on, SalesPurchaseOrder.id), SalesPurchaseOrder, user))
    for po in purchases:
        outstanding = 0
        for ln in po.lines:
            left = max(0, ln.quantity - ln.received)
            outstanding += left
            if left:
                line(ln.make, ln.model, ln.colour).coming += left
        plan.purchases.append((po, outstanding))
    plan.lines = sorted(lines.values(), key=lambda ln: (-ln.to_order, -ln.waiting,
                                                        ln.model.casefold(),
                                                        ln.colour.casefold()))
    return plan


__all__ = ["AGED_DAYS", "Plan", "PlanLine", "procurement_plan"]
