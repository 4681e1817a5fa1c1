"""Customer value: revenue reported by plugins, lifetime value, RFM scores and segments, and
satisfaction from return visits. Raw sums move with each event (incremental); the quintile
scores are recomputed over all customers by a scheduled job."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from carebiz.crm import signals
from carebiz.crm.models import Party, PartyValue, RevenueEvent
from carebiz.crm.services.common import setting
from carebiz.currency.money import Money
from carebiz.currency.rates import convert
from carebiz.errors import NotFound, ValidationFailed
from carebiz.events import emit

SEGMENTS = {
    "champion": _l("Champion"),
    "loyal": _l("Loyal"),
    "big_spender": _l("Big spender"),
    "new": _l("New"),
    "at_risk": _l("At risk"),
    "lost": _l("Lost"),
    "regular": _l("Regular"),
}


def segment_of(recency: int, frequency: int, monetary: int) -> str:
    """Name the segment of R/F/M quintile scores (5 best)."""
    if recency >= 4 and frequency >= 4 and monetary >= 4:
        return "champion"
    if recency <= 1:
        return "lost"
    if recency <= 2 and frequency >= 3:
        return "at_risk"
    if frequency >= 4:
        return "loyal"
    if monetary >= 5:
        return "big_spender"
    if frequency <= 1 and recency >= 4:
        return "new"
    return "regular"


def record_revenue(session: Session, *, party_id: int, amount: Any, currency: str,
                   occurred_on: dt.date, source: str, ref: Any,
                   vehicle_id: int | None = None) -> RevenueEvent | None:
    """A plugin reports money a customer brought, in the document's own currency. Reporting
    the same (source, ref) again changes nothing and returns None. Values are kept in the
    company's base currency, converted at the rate in force on the document's date; a
    missing rate is an error naming the pair and the date (never 1:1)."""
    try:
        amount = Decimal(str(amount))
    except InvalidOperation:
        raise ValidationFailed(_("The amount is not a number."),
                               {"amount": _("A decimal number.")}) from None
    base = setting(session, "core.base_currency")
    money = Money(amount, (currency or "").upper())
    currency = money.currency
    in_base = convert(session, money, base, occurred_on).amount
    party = session.get(Party, party_id)
    if party is None:
        raise NotFound(_("No customer with id %(id)s.", id=party_id))
    ref = str(ref)
    if session.scalar(select(RevenueEvent.id).where(RevenueEvent.source == source,
                                                    RevenueEvent.ref == ref)) is not None:
        return None
    event = RevenueEvent(party_id=party.id, vehicle_id=vehicle_id, amount=amount,
                         currency=currency, base_amount=in_base, occurred_on=occurred_on,
                         source=source, ref=ref, branch_id=party.branch_id)
    session.add(event)
    value = _value_row(session, party.id, base)
    value.lifetime_value = (value.lifetime_value or Decimal(0)) + in_base
    value.purchases = (value.purchases or 0) + 1
    value.first_purchase = min(filter(None, [value.first_purchase, occurred_on]))
    value.last_purchase = max(filter(None, [value.last_purchase, occurred_on]))
    session.flush()
    emit(session, signals.revenue_recorded, party_id=party.id, amount=amount,
         currency=currency, source=source, ref=ref)
    return event


def _value_row(session: Session, party_id: int, currency: str) -> PartyValue:
    value = session.get(PartyValue, party_id)
    if value is None:
        value = PartyValue(party_id=party_id, currency=currency, lifetime_value=Decimal(0),
                           purchases=0, satisfaction_count=0)
        session.add(value)
    return value


def add_satisfaction(session: Session, party_id: int, score: int) -> None:
    """Fold one return-visit score into the running average."""
    value = _value_row(session, party_id, setting(session, "core.base_currency"))
    count = value.satisfaction_count or 0
    total = (value.satisfaction or Decimal(0)) * count + score
    value.satisfaction_count = count + 1
    value.satisfaction = (Decimal(total) / value.satisfaction_count).quantize(Decimal("0.01"))
    session.flush()


def refresh_scores(session: Session) -> int:
    """Recompute R, F and M quintiles and segments for every customer with purchases."""
    recency = func.ntile(5).over(order_by=PartyValue.last_purchase.asc())
    frequency = func.ntile(5).over(order_by=PartyValue.purchases.asc())
    monetary = func.ntile(5).over(order_by=PartyValue.lifetime_value.asc())
    rows = session.execute(select(PartyValue.party_id, recency, frequency, monetary)
                           .where(PartyValue.purchases > 0)).all()
    params = [{"party_id": party_id, "recency_score": r, "frequency_score": f,
               "monetary_score": m, "segment": segment_of(r, f, m)} for party_id, r, f, m in rows]
    for start in range(0, len(params), 5000):  # ORM bulk UPDATE by primary key
        session.execute(update(PartyValue), params[start:start + 5000])
    session.flush()
    return len(rows)


def run_refresh_task(ctx: Any) -> dict[str, int]:
    """The ``crm.refresh_scores`` task: recompute customers' RFM quintiles and segments."""
    count = refresh_scores(ctx.session)
    ctx.progress(100)
    return {"customers": count}


def value_of(session: Session, party_id: int) -> PartyValue | None:
    return session.get(PartyValue, party_id)
