"""Comparing supplier quotes and picking the winner.

A price inquiry goes to several suppliers for the same car (make, model, trim, colour) in
one branch; their quotes are compared side by side, cheapest first. Picking the winner
orders from it (a purchase order at its price) and declines the other open quotes of the
same car in the same transaction, so no second order is placed from a losing quote."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from carebiz.security.rows import visible

from ..models import SalesPurchaseOrder, SalesSupplierQuote
from .purchasing import decline_quote, order_from_quote

OPEN = ("requested", "quoted")


def car_key(quote: SalesSupplierQuote) -> tuple[Any, ...]:
    """What makes two quotes comparable: the same car asked of suppliers in one branch."""
    return (quote.branch_id, *(str(v or "").strip().casefold()
                               for v in (quote.make, quote.model, quote.trim, quote.colour)))


def compared(quotes: Iterable[SalesSupplierQuote]) -> list[list[SalesSupplierQuote]]:
    """Quotes grouped by car, each group cheapest first (unpriced last), newest car first."""
    groups: dict[tuple[Any, ...], list[SalesSupplierQuote]] = {}
    for quote in quotes:
        groups.setdefault(car_key(quote), []).append(quote)
    out = [sorted(g, key=lambda q: (q.unit_cost is None, q.unit_cost or 0, q.id))
           for g in groups.values()]
    return sorted(out, key=lambda g: -max(q.id for q in g))


def pick_winner(session: Session, quote: SalesSupplierQuote, *, user: Any = None
                ) -> SalesPurchaseOrder:
    """Order from ``quote`` and decline the other open quotes of the same car."""
    po = order_from_quote(session, quote, user=user)
    rivals = session.scalars(visible(select(SalesSupplierQuote).where(
        SalesSupplierQuote.branch_id == quote.branch_id,
        SalesSupplierQuote.id != quote.id,
        SalesSupplierQuote.status.in_(OPEN)), SalesSupplierQuote, user))
    for rival in list(rivals):
        if car_key(rival) == car_key(quote):
            decline_quote(session, rival)
    return po
