"""The conversion funnel: of the prospects registered in a period, how many got as far as
each step of a sale, and the rate from one step to the next.

Steps, in order (:data:`STEPS`): ``prospects`` (registered), ``consulted`` (came to the
showroom or had a return visit done), ``test_drive``, ``quotation``, ``order`` (not
cancelled) and ``delivered``. A step counts what happened to the prospect's customer *in
the prospect's branch, after it was registered*: a car bought three years ago does not make
a new prospect "delivered", and another branch's records are neither counted nor hinted at.

A prospect counts at a step when it reached that step **or a later one**: a customer
quoted without a test drive has still passed the test-drive step. So each step is a subset
of the one before, rates never exceed 100 % and the funnel reads as a funnel.

The counts come from the core query service (source :data:`FUNNEL_SOURCE`, one 0/1 field
per step summed per group), so the row filters and the source's permission apply as on
every other figure, the reports ``sales.funnel_by_*`` are the same numbers with their own
page, chart and CSV, and :func:`reached` is the condition the prospect list filters by
(``?reached=test_drive``), so every count is one click from the prospects behind it.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import case, exists, or_
from sqlalchemy.orm import Session

from carebiz.contributions import QueryField, QuerySource
from carebiz.query import service as query
from carebiz.toolkit import business_tz, host

from ..models import (
    SalesOrder,
    SalesProspect,
    SalesQuotation,
    SalesReturnVisit,
    SalesShowroomVisit,
    SalesTestDrive,
)

#: the steps of the funnel, first to last, with their labels
STEPS: dict[str, Any] = {
    "prospects": _l("Prospects"),
    "consulted": _l("Visited or consulted"),
    "test_drive": _l("Test drive"),
    "quotation": _l("Quotation"),
    "order": _l("Order"),
    "delivered": _l("Delivered"),
}
#: the steps a prospect may be filtered by (the first one is every prospect)
LATER_STEPS = tuple(STEPS)[1:]
#: what a funnel can be broken down by: the query field grouped on
BREAKDOWNS = {"source": "source", "salesperson": "salesperson_id", "month": "registered_at"}


def _since_registered(model: Any) -> Any:
    """A record of the prospect's customer, in its branch, written since it registered."""
    return (model.customer_id == SalesProspect.customer_id,
            model.branch_id == SalesProspect.branch_id,
            model.created_at >= SalesProspect.registered_at)


def _evidence() -> dict[str, Any]:
    """Per step after the first: the condition that the prospect did that step itself."""
    return {
        "consulted": or_(
            exists().where(SalesShowroomVisit.prospect_id == SalesProspect.id),
            exists().where(SalesReturnVisit.prospect_id == SalesProspect.id,
                           SalesReturnVisit.status == "done")),
        "test_drive": exists().where(*_since_registered(SalesTestDrive),
                                     SalesTestDrive.status != "cancelled"),
        "quotation": exists().where(*_since_registered(SalesQuotation)),
        "order": exists().where(*_since_registered(SalesOrder),
                                SalesOrder.delivery_status != "cancelled"),
        "delivered": exists().where(*_since_registered(SalesOrder),
                                    SalesOrder.delivered_at.is_not(None)),
    }


def reached(step: str) -> Any:
    """The condition "the prospect got to ``step`` or further" (see the module)."""
    evidence = _evidence()
    later = list(LATER_STEPS)[list(LATER_STEPS).index(step):]
    return or_(*(evidence[s] for s in later))


def _flag(step: str) -> Any:
    return case((reached(step), 1), else_=0)


FUNNEL_SOURCE = QuerySource("sales_funnel", _l("Conversion funnel"), SalesProspect, (
    QueryField("id", _l("No."), "number"),
    QueryField("source", _l("Source"), "text"),
    QueryField("salesperson_id", _l("Salesperson"), "number"),
    QueryField("branch_id", _l("Branch"), "number", relation="branch"),
    QueryField("registered_at", _l("Registered"), "datetime"),
    *(QueryField(step, STEPS[step], "number", column=lambda _m, s=step: _flag(s))
      for step in LATER_STEPS),
), permission="sales.view", weight=305)

MEASURES = [{"fn": "count"}, *({"fn": "sum", "field": s} for s in LATER_STEPS)]


def rate(part: int, whole: int) -> Decimal | None:
    """``part`` of ``whole`` in percent with one decimal; None when there is no whole."""
    if not whole:
        return None
    return (Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.1"), ROUND_HALF_UP)


def steps_of(counts: list[int]) -> list[dict[str, Any]]:
    """Each step's count, its rate from the step before and from the first step."""
    out = []
    for i, (step, count) in enumerate(zip(STEPS, counts, strict=True)):
        out.append({"step": step, "label": str(STEPS[step]), "count": count,
                    "rate": rate(count, counts[i - 1]) if i else None,
                    "overall_rate": rate(count, counts[0])})
    return out


def _bounds(first: dt.date, last: dt.date) -> tuple[str, str]:
    tz = business_tz()
    start = dt.datetime.combine(first, dt.time.min, tzinfo=tz)
    end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time.min, tzinfo=tz)
    return start.isoformat(), end.isoformat()


def funnel(session: Session, user: Any, first: dt.date, last: dt.date,
           by: str = "source") -> dict[str, Any]:
    """The funnel of the prospects registered from ``first`` to ``last`` (business days),
    as ``user`` may see them: ``{"from", "to", "by", "total": [step…], "groups": [{"key",
    "label", "steps": [step…]}]}``, each step ``{"step", "label", "count", "rate",
    "overall_rate"}`` (rates in percent, None where the step before has none). ``by`` is
    ``source``, ``salesperson`` or ``month`` (of registration); ``label`` of a group is the
    query service's (a month reads ``Nov 2026``), the caller names sources and people."""
    start, end = _bounds(first, last)
    field = BREAKDOWNS[by]
    group = {"field": field, "by": "month"} if by == "month" else field
    body = {"where": {"and": [{"field": "registered_at", "op": "ge", "value": start},
                              {"field": "registered_at", "op": "lt", "value": end}]},
            "group_by": [group], "measures": MEASURES}
    result = query.aggregate(session, user, FUNNEL_SOURCE.name, body, host=host())
    key_name = result["group_by"][0]
    measures = result["measures"]
    totals = [0] * len(STEPS)
    groups = []
    for row in result["rows"]:
        counts = [int(row[m] or 0) for m in measures]
        totals = [a + b for a, b in zip(totals, counts, strict=True)]
        key = row[key_name]
        groups.append({"key": "" if key is None else str(key),
                       "label": str((row.get("labels") or {}).get(key_name, key or "")),
                       "steps": steps_of(counts)})
    return {"from": first.isoformat(), "to": last.isoformat(), "by": by,
            "total": steps_of(totals), "groups": groups}
