"""Today's dashboard: what a salesperson (or their manager) needs at a glance.

- ``won`` / ``lost``: prospects closed so on the day;
- ``consulting``: prospects in touch on the day (registered, a return visit done, or a
  showroom visit), each counted once;
- ``visits_due``: open return visits due on the day; ``visits_overdue``: open ones due
  before it;
- ``by_source``, ``by_salesperson``, ``by_industry``, ``by_point_of_interest``,
  ``by_model``: the deals (prospects won) of the period, each a list of
  ``{"key", "label", "count"}``. The period is the month up to the day (``period=month``,
  the default), the day alone (``day``) or the year to date (``year``).

The breakdowns run through the core query service over the sources this plugin registers
(:data:`PROSPECT_SOURCE` …), so the row filters and the source's permission apply exactly as
in the query page, and each chart is one click from the same analysis there. Every count is
an indexed range read: the day's figures stay fast at millions of return visits.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, union
from sqlalchemy.orm import Session

from carebiz.contributions import QueryField, QuerySource
from carebiz.models import User
from carebiz.query import service as query
from carebiz.security import visible
from carebiz.toolkit import business_tz, host

from ..models import (
    SalesProspect,
    SalesProspectInterest,
    SalesProspectModel,
    SalesReturnVisit,
    SalesShowroomVisit,
)
from .choices import INDUSTRY_LIST, SOURCE_LIST
from .choices import POINT_LIST as POINTS
from .prospects import LOST, STATUSES, WON
from .visits import OPEN

PERIODS = ("day", "month", "year")

_status_choices = tuple((s, s) for s in STATUSES)
_prospect_join = (SalesProspect, SalesProspect.id == SalesProspectInterest.prospect_id)
_model_join = (SalesProspect, SalesProspect.id == SalesProspectModel.prospect_id)

PROSPECT_SOURCE = QuerySource("sales_prospects", _l("Prospects"), SalesProspect, (
    QueryField("id", _l("No."), "number"),
    QueryField("status", _l("Status"), "choice", choices=_status_choices),
    QueryField("source", _l("Source"), "text"),
    QueryField("industry", _l("Industry"), "text"),
    QueryField("salesperson_id", _l("Salesperson"), "number"),
    QueryField("branch_id", _l("Branch"), "number"),
    QueryField("budget", _l("Budget"), "money"),
    QueryField("registered_at", _l("Registered"), "datetime"),
    QueryField("closed_at", _l("Closed"), "datetime"),
    QueryField("lost_reason", _l("Lost reason"), "text"),
), permission="sales.view", weight=300)

POINT_SOURCE = QuerySource("sales_prospect_points", _l("Prospects' points of interest"),
                           SalesProspectInterest, (
    QueryField("point", _l("Point of interest"), "text"),
    QueryField("status", _l("Status"), "choice", choices=_status_choices,
               column=SalesProspect.status, join=_prospect_join),
    QueryField("closed_at", _l("Closed"), "datetime", column=SalesProspect.closed_at,
               join=_prospect_join),
), permission="sales.view", weight=301)

MODEL_SOURCE = QuerySource("sales_prospect_models", _l("Prospects' models of interest"),
                           SalesProspectModel, (
    QueryField("model", _l("Model"), "text"),
    QueryField("status", _l("Status"), "choice", choices=_status_choices,
               column=SalesProspect.status, join=_model_join),
    QueryField("closed_at", _l("Closed"), "datetime", column=SalesProspect.closed_at,
               join=_model_join),
), permission="sales.view", weight=302)

VISIT_SOURCE = QuerySource("sales_return_visits", _l("Return visits"), SalesReturnVisit, (
    QueryField("id", _l("No."), "number"),
    QueryField("status", _l("Status"), "choice",
               choices=(("open", "open"), ("done", "done"), ("cancelled", "cancelled"))),
    QueryField("outcome", _l("Outcome"), "text"),
    QueryField("channel", _l("Channel"), "text"),
    QueryField("assignee_id", _l("Assigned to"), "number"),
    QueryField("due_at", _l("Due"), "datetime"),
    QueryField("done_at", _l("Done"), "datetime"),
), permission="sales.view", weight=303)

_outcomes = tuple((k, k) for k in ("browsing", "test_drive", "quotation", "order", "left"))
SHOWROOM_SOURCE = QuerySource("sales_showroom_visits", _l("Showroom traffic"),
                              SalesShowroomVisit, (
    QueryField("arrived_at", _l("Arrived"), "datetime"),
    QueryField("arrived_hour", _l("Hour of arrival"), "number"),
    QueryField("salesperson_id", _l("Salesperson"), "number"),
    QueryField("party_size", _l("Party size"), "number"),
    QueryField("first_visit", _l("First visit"), "bool"),
    QueryField("outcome", _l("Outcome"), "choice", choices=_outcomes),
    QueryField("branch_id", _l("Branch"), "number"),
), permission="sales.view", weight=304)

QUERY_SOURCES = (PROSPECT_SOURCE, POINT_SOURCE, MODEL_SOURCE, VISIT_SOURCE, SHOWROOM_SOURCE)


def day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """``[midnight, next midnight)`` of ``day`` on the business's wall clock."""
    start = dt.datetime.combine(day, dt.time.min, tzinfo=business_tz())
    return start, dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min,
                                      tzinfo=business_tz())


def period_bounds(day: dt.date, period: str) -> tuple[dt.date, dt.date]:
    """The first and last date of the period ending on ``day``."""
    if period == "day":
        return day, day
    if period == "year":
        return day.replace(month=1, day=1), day
    return day.replace(day=1), day


def _count(session: Session, stmt: Any) -> int:
    return int(session.scalar(select(func.count()).select_from(stmt.subquery())) or 0)


def _closed(session: Session, user: Any, status: str, start: Any, end: Any) -> int:
    stmt = select(SalesProspect.id).where(SalesProspect.status == status,
                                          SalesProspect.closed_at >= start,
                                          SalesProspect.closed_at < end)
    return _count(session, visible(stmt, SalesProspect, user))


def _consulting(session: Session, user: Any, start: Any, end: Any) -> int:
    """Prospects in touch on the day, each once: registered, visited back, or in the
    showroom."""
    registered = visible(select(SalesProspect.id.label("pid")).where(
        SalesProspect.registered_at >= start, SalesProspect.registered_at < end),
        SalesProspect, user)
    called = visible(select(SalesReturnVisit.prospect_id.label("pid")).where(
        SalesReturnVisit.done_at >= start, SalesReturnVisit.done_at < end),
        SalesReturnVisit, user)
    walked_in = visible(select(SalesShowroomVisit.prospect_id.label("pid")).where(
        SalesShowroomVisit.arrived_at >= start, SalesShowroomVisit.arrived_at < end,
        SalesShowroomVisit.prospect_id.is_not(None)), SalesShowroomVisit, user)
    return _count(session, union(registered, called, walked_in))


def _visits(session: Session, user: Any, start: Any, end: Any | None) -> int:
    stmt = select(SalesReturnVisit.id).where(SalesReturnVisit.status == OPEN)
    stmt = stmt.where(SalesReturnVisit.due_at < start) if end is None else stmt.where(
        SalesReturnVisit.due_at >= start, SalesReturnVisit.due_at < end)
    return _count(session, visible(stmt, SalesReturnVisit, user))


def _won_by(session: Session, user: Any, source: str, field: str, start: Any,
            end: Any) -> list[tuple[Any, int]]:
    """Deals won in ``[start, end)`` grouped by ``field`` of a query source."""
    body = {"where": {"and": [
        {"field": "status", "op": "eq", "value": WON},
        {"field": "closed_at", "op": "ge", "value": start.isoformat()},
        {"field": "closed_at", "op": "lt", "value": end.isoformat()}]},
        "group_by": [field], "measures": []}
    result = query.aggregate(session, user, source, body, host=host())
    label = result["group_by"][0]
    measure = result["measures"][0]
    rows = [(row[label], int(row[measure] or 0)) for row in result["rows"]]
    return sorted(rows, key=lambda kv: (-kv[1], str(kv[0])))


def user_names(session: Session, ids: list[Any]) -> dict[int, str]:
    """Salespeople as charts name them (their display name, else their login), one query
    for a whole breakdown."""
    wanted = [int(i) for i in ids if i]
    if not wanted:
        return {}
    rows = session.execute(select(User.id, User.display_name, User.username)
                           .where(User.id.in_(wanted))).all()
    return {uid: full or username for uid, full, username in rows}


def dashboard(session: Session, user: Any, day: dt.date, period: str = "month"
              ) -> dict[str, Any]:
    """The figures of ``day`` and the deals of the period ending on it (see the module)."""
    start, end = day_bounds(day)
    first, last = period_bounds(day, period)
    p_start, p_end = day_bounds(first)[0], day_bounds(last)[1]

    def items(pairs: list[tuple[Any, int]], label: Any) -> list[dict[str, Any]]:
        return [{"key": "" if key is None else str(key), "label": label(key),
                 "count": count} for key, count in pairs]

    people = _won_by(session, user, "sales_prospects", "salesperson_id", p_start, p_end)
    names = user_names(session, [k for k, _n in people])
    return {
        "date": day.isoformat(), "period": {"name": period, "from": first.isoformat(),
                                            "to": last.isoformat()},
        "won": _closed(session, user, WON, start, end),
        "lost": _closed(session, user, LOST, start, end),
        "consulting": _consulting(session, user, start, end),
        "visits_due": _visits(session, user, start, end),
        "visits_overdue": _visits(session, user, start, None),
        "by_source": items(_won_by(session, user, "sales_prospects", "source", p_start, p_end),
                           lambda k: SOURCE_LIST.label(k or "")),
        "by_salesperson": items(people, lambda k: names.get(int(k), str(k)) if k else "—"),
        "by_industry": items(_won_by(session, user, "sales_prospects", "industry", p_start,
                                     p_end), lambda k: INDUSTRY_LIST.label(k or "") or "—"),
        "by_point_of_interest": items(_won_by(session, user, "sales_prospect_points", "point",
                                              p_start, p_end), lambda k: POINTS.label(k or "")),
        "by_model": items(_won_by(session, user, "sales_prospect_models", "model", p_start,
                                  p_end), lambda k: k or "—"),
    }


def won_lost_trend(session: Session, user: Any, day: dt.date, months: int = 6
                   ) -> list[dict[str, Any]]:
    """Deals won and lost per month, the ``months`` months up to ``day``'s, oldest first:
    ``[{"month": label, "won": n, "lost": n}]``, through the core query service (so the
    row filters of ``user`` apply as on every other figure)."""
    first = day.replace(day=1)
    for _i in range(months - 1):
        first = (first - dt.timedelta(days=1)).replace(day=1)
    start = day_bounds(first)[0]
    end = day_bounds(day)[1]
    by_month: dict[str, dict[str, Any]] = {}
    for status in (WON, LOST):
        body = {"where": {"and": [
            {"field": "status", "op": "eq", "value": status},
            {"field": "closed_at", "op": "ge", "value": start.isoformat()},
            {"field": "closed_at", "op": "lt", "value": end.isoformat()}]},
            "group_by": [{"field": "closed_at", "by": "month"}], "measures": []}
        result = query.aggregate(session, user, "sales_prospects", body, host=host())
        group, measure = result["group_by"][0], result["measures"][0]
        for row in result["rows"]:
            key = str(row[group])
            label = (row.get("labels") or {}).get(group, key)
            entry = by_month.setdefault(key, {"month": str(label), WON: 0, LOST: 0})
            entry[status] = int(row[measure] or 0)
    return [by_month[k] for k in sorted(by_month)]
