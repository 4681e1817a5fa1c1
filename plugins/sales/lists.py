"""The sales lists, each declared once: its page, its API and every export format read the
definition, so they list the same rows in the same order for the same arguments.

Customers are named through :func:`customer_names`: a customer of a branch the reader does
not see reads as the core's mask, in the page, the API and the files alike.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import exists, func, or_, select
from sqlalchemy.orm import Session

from carebiz.crm.models import Party, PartyPhone
from carebiz.crm.services.parties import OTHER_BRANCH, hidden_parties, name_key
from carebiz.export.table import DATE, DATETIME, MONEY, NUMBER, Column
from carebiz.lists import (
    BOOL,
    CHOICE,
    DATE_RANGE,
    ID,
    TEXT,
    DateRange,
    ExportSpec,
    Filter,
    ListDefinition,
    Search,
    Searched,
)
from carebiz.toolkit import business_tz
from carebiz.toolkit import today as business_today

from .models import (
    SalesOpportunity,
    SalesProspect,
    SalesProspectInterest,
    SalesProspectModel,
    SalesReturnVisit,
    SalesShowroomVisit,
    SalesTestDrive,
)
from .services import funnel
from .services import opportunities as opportunity_rules
from .services import prospects as prospect_rules
from .services import visits as visit_rules
from .services.choices import LOST_REASON_LIST, POINT_LIST, SOURCE_LIST


def customer_names(session: Session, user: Any, ids: Iterable[Any]) -> dict[int, str]:
    """Names of these customers as ``user`` may read them (one query each way)."""
    wanted = {int(i) for i in ids if i}
    if not wanted:
        return {}
    hidden = hidden_parties(session, user, wanted)
    names = dict(session.execute(select(Party.id, Party.name).where(Party.id.in_(wanted))).all())
    return {i: (_(OTHER_BRANCH) if i in hidden else names.get(i, "")) for i in wanted}


def _day_bounds(value: DateRange) -> tuple[dt.datetime | None, dt.datetime | None]:
    tz = business_tz()
    start = dt.datetime.combine(value.start, dt.time.min, tzinfo=tz) if value.start else None
    end = (dt.datetime.combine(value.end + dt.timedelta(days=1), dt.time.min, tzinfo=tz)
           if value.end else None)
    return start, end


def _between(column: Any) -> Any:
    def apply(stmt: Any, value: DateRange, user: Any) -> Any:
        start, end = _day_bounds(value)
        if start is not None:
            stmt = stmt.where(column >= start)
        if end is not None:
            stmt = stmt.where(column < end)
        return stmt
    return apply


def _customer_search(column: Any) -> Search:
    """``?q=``: a customer's name (any spelling of spaces and width) or phone digits."""

    def apply(session: Session, user: Any, stmt: Any, q: str) -> Searched:
        key = name_key(q)
        digits = "".join(ch for ch in q if ch.isdigit())
        matches = [Party.name_key.startswith(key, autoescape=True)] if key else []
        if len(digits) >= 4:
            matches.append(exists().where(PartyPhone.party_id == Party.id,
                                          PartyPhone.e164.contains(digits, autoescape=True)))
        if not matches:
            return Searched(stmt)
        return Searched(stmt.where(column.in_(select(Party.id).where(or_(*matches)))))

    return Search(apply, label=_l("Name or phone"))


# --- prospects ------------------------------------------------------------------------------

def _prospect_rows(session: Session, user: Any, stmt: Any) -> Iterator[Mapping[str, Any]]:
    batch: list[SalesProspect] = []
    for prospect in session.scalars(stmt.execution_options(yield_per=500)):
        batch.append(prospect)
        if len(batch) == 500:
            yield from _prospect_batch(session, user, batch)
            batch = []
    yield from _prospect_batch(session, user, batch)


def _prospect_batch(session: Session, user: Any, batch: list[SalesProspect]
                    ) -> Iterator[Mapping[str, Any]]:
    names = customer_names(session, user, {p.customer_id for p in batch})
    for p in batch:
        yield {"id": p.id, "customer": names.get(p.customer_id, ""), "status": p.status,
               "source": SOURCE_LIST.label(p.source),
               "points": ", ".join(POINT_LIST.label(k) for k in p.points_of_interest),
               "models": ", ".join(p.models_of_interest),
               "registered_at": p.registered_at, "closed_at": p.closed_at,
               "lost_reason": LOST_REASON_LIST.label(p.lost_reason) if p.lost_reason else ""}


PROSPECTS = ListDefinition(
    name="sales.prospects", label=_l("Prospects"), model=SalesProspect, key=SalesProspect.id,
    permission="sales.view", page="sales.prospects", api="sales_api.Prospects",
    filters=(
        Filter("status", _l("Status"), type=CHOICE, choices=prospect_rules.STATUSES,
               apply=lambda stmt, value, user: stmt.where(SalesProspect.status == value)),
        Filter("open", _l("Still open"), type=BOOL,
               apply=lambda stmt, value, user: stmt.where(
                   SalesProspect.status.in_(prospect_rules.OPEN_STATUSES) if value else
                   SalesProspect.status.notin_(prospect_rules.OPEN_STATUSES))),
        Filter("source", _l("Source"), max_length=40,
               apply=lambda stmt, value, user: stmt.where(SalesProspect.source == value)),
        Filter("salesperson_id", _l("Salesperson"), type=ID,
               apply=lambda stmt, value, user: stmt.where(SalesProspect.salesperson_id == value)),
        Filter("mine", _l("Mine"), type=BOOL,
               apply=lambda stmt, value, user: stmt.where(
                   SalesProspect.salesperson_id == getattr(user, "id", None)) if value else stmt),
        Filter("branch_id", _l("Branch"), type=ID,
               apply=lambda stmt, value, user: stmt.where(SalesProspect.branch_id == value)),
        Filter("customer_id", _l("Customer"), type=ID,
               apply=lambda stmt, value, user: stmt.where(SalesProspect.customer_id == value)),
        Filter("industry", _l("Industry"), max_length=60,
               apply=lambda stmt, value, user: stmt.where(SalesProspect.industry == value)),
        Filter("point", _l("Point of interest"), max_length=40,
               apply=lambda stmt, value, user: stmt.where(exists().where(
                   SalesProspectInterest.prospect_id == SalesProspect.id,
                   SalesProspectInterest.point == value))),
        Filter("model", _l("Model of interest"), max_length=80,
               apply=lambda stmt, value, user: stmt.where(exists().where(
                   SalesProspectModel.prospect_id == SalesProspect.id,
                   SalesProspectModel.model == value))),
        Filter("registered", _l("Registered"), type=DATE_RANGE,
               apply=_between(SalesProspect.registered_at)),
        Filter("closed", _l("Closed"), type=DATE_RANGE, apply=_between(SalesProspect.closed_at)),
        Filter("reached", _l("Reached in the funnel"), type=CHOICE, choices=funnel.LATER_STEPS,
               apply=lambda stmt, value, user: stmt.where(funnel.reached(value))),
    ),
    search=_customer_search(SalesProspect.customer_id),
    sorts={"registered_at": SalesProspect.registered_at, "closed_at": SalesProspect.closed_at,
           "status": SalesProspect.status},
    default_sort="-registered_at",
    export=ExportSpec(_l("Prospects"), lambda user: [
        Column("id", _l("Id"), NUMBER), Column("customer", _l("Customer")),
        Column("status", _l("Status")), Column("source", _l("Source")),
        Column("points", _l("Points of interest")), Column("models", _l("Models of interest")),
        Column("registered_at", _l("Registered"), DATETIME),
        Column("closed_at", _l("Closed"), DATETIME), Column("lost_reason", _l("Lost reason"))],
        _prospect_rows),
)


# --- return visits --------------------------------------------------------------------------

def _overdue(stmt: Any, value: bool, user: Any) -> Any:
    cut = visit_rules.start_of_day(business_today())
    if value:
        return stmt.where(SalesReturnVisit.status == visit_rules.OPEN,
                          SalesReturnVisit.due_at < cut)
    return stmt.where(or_(SalesReturnVisit.status != visit_rules.OPEN,
                          SalesReturnVisit.due_at >= cut))


def _visit_rows(session: Session, user: Any, stmt: Any) -> Iterator[Mapping[str, Any]]:
    visits = list(session.scalars(stmt.execution_options(yield_per=500)))
    names = customer_names(session, user, {v.customer_id for v in visits})
    day = business_today()
    for v in visits:
        yield {"id": v.id, "prospect_id": v.prospect_id,
               "customer": names.get(v.customer_id, ""), "due_at": v.due_at,
               "status": v.status, "overdue": visit_rules.is_overdue(v, day),
               "outcome": visit_rules.outcome_label(v.outcome) if v.outcome else "",
               "done_at": v.done_at}


RETURN_VISITS = ListDefinition(
    name="sales.return_visits", label=_l("Return visits"), model=SalesReturnVisit,
    key=SalesReturnVisit.id, permission="sales.view", page="sales.return_visits",
    api="sales_api.ReturnVisits",
    filters=(
        Filter("status", _l("Status"), type=CHOICE,
               choices=(visit_rules.OPEN, visit_rules.DONE, visit_rules.CANCELLED),
               apply=lambda stmt, value, user: stmt.where(SalesReturnVisit.status == value)),
        Filter("overdue", _l("Overdue"), type=BOOL, apply=_overdue),
        Filter("due", _l("Due"), type=DATE_RANGE, apply=_between(SalesReturnVisit.due_at)),
        Filter("assignee_id", _l("Assigned to"), type=ID,
               apply=lambda stmt, value, user: stmt.where(SalesReturnVisit.assignee_id == value)),
        Filter("mine", _l("Mine"), type=BOOL,
               apply=lambda stmt, value, user: stmt.where(
                   SalesReturnVisit.assignee_id == getattr(user, "id", None)) if value else stmt),
        Filter("prospect_id", _l("Prospect"), type=ID,
               apply=lambda stmt, value, user: stmt.where(SalesReturnVisit.prospect_id == value)),
        Filter("customer_id", _l("Customer"), type=ID,
               apply=lambda stmt, value, user: stmt.where(SalesReturnVisit.customer_id == value)),
    ),
    search=_customer_search(SalesReturnVisit.customer_id),
    sorts={"due_at": SalesReturnVisit.due_at, "done_at": SalesReturnVisit.done_at},
    default_sort="due_at",
    export=ExportSpec(_l("Return visits"), lambda user: [
        Column("id", _l("Id"), NUMBER), Column("prospect_id", _l("Prospect"), NUMBER),
        Column("customer", _l("Customer")), Column("due_at", _l("Due"), DATETIME),
        Column("status", _l("Status")), Column("overdue", _l("Overdue"), "bool"),
        Column("outcome", _l("Outcome")), Column("done_at", _l("Done"), DATETIME)],
        _visit_rows),
)


# --- showroom and test drives -----------------------------------------------------------------

def _showroom_rows(session: Session, user: Any, stmt: Any) -> Iterator[Mapping[str, Any]]:
    visits = list(session.scalars(stmt.execution_options(yield_per=500)))
    names = customer_names(session, user, {v.customer_id for v in visits})
    for v in visits:
        yield {"id": v.id, "customer": names.get(v.customer_id, "") if v.customer_id else "",
               "arrived_at": v.arrived_at, "left_at": v.left_at, "party_size": v.party_size,
               "first_visit": v.first_visit, "models": ", ".join(v.models or []),
               "outcome": v.outcome}


SHOWROOM_VISITS = ListDefinition(
    name="sales.showroom_visits", label=_l("Showroom traffic"), model=SalesShowroomVisit,
    key=SalesShowroomVisit.id, permission="sales.view", page="sales.showroom_log",
    api="sales_api.ShowroomVisits",
    filters=(
        Filter("arrived", _l("Arrived"), type=DATE_RANGE,
               apply=_between(SalesShowroomVisit.arrived_at)),
        Filter("salesperson_id", _l("Salesperson"), type=ID,
               apply=lambda stmt, value, user: stmt.where(
                   SalesShowroomVisit.salesperson_id == value)),
        Filter("first_visit", _l("First visit"), type=BOOL,
               apply=lambda stmt, value, user: stmt.where(
                   SalesShowroomVisit.first_visit.is_(value))),
        Filter("outcome", _l("Outcome"), type=TEXT, max_length=20,
               apply=lambda stmt, value, user: stmt.where(SalesShowroomVisit.outcome == value)),
    ),
    sorts={"arrived_at": SalesShowroomVisit.arrived_at},
    default_sort="-arrived_at",
    export=ExportSpec(_l("Showroom traffic"), lambda user: [
        Column("id", _l("Id"), NUMBER), Column("customer", _l("Customer")),
        Column("arrived_at", _l("Arrived"), DATETIME), Column("left_at", _l("Left"), DATETIME),
        Column("party_size", _l("Party size"), NUMBER),
        Column("first_visit", _l("First visit"), "bool"), Column("models", _l("Models")),
        Column("outcome", _l("Outcome"))], _showroom_rows),
)


def _drive_rows(session: Session, user: Any, stmt: Any) -> Iterator[Mapping[str, Any]]:
    drives = list(session.scalars(stmt.execution_options(yield_per=500)))
    names = customer_names(session, user, {d.customer_id for d in drives})
    for d in drives:
        yield {"id": d.id, "customer": names.get(d.customer_id, ""), "vehicle_id": d.vehicle_id,
               "starts_at": d.starts_at, "ends_at": d.ends_at, "status": d.status,
               "odometer_out": d.odometer_out, "odometer_in": d.odometer_in}


TEST_DRIVES = ListDefinition(
    name="sales.test_drives", label=_l("Test drives"), model=SalesTestDrive,
    key=SalesTestDrive.id, permission="sales.view", page="sales.test_drives_page",
    api="sales_api.TestDrives",
    filters=(
        Filter("status", _l("Status"), type=CHOICE,
               choices=("booked", "out", "returned", "cancelled"),
               apply=lambda stmt, value, user: stmt.where(SalesTestDrive.status == value)),
        Filter("vehicle_id", _l("Demo car"), type=ID,
               apply=lambda stmt, value, user: stmt.where(SalesTestDrive.vehicle_id == value)),
        Filter("customer_id", _l("Customer"), type=ID,
               apply=lambda stmt, value, user: stmt.where(SalesTestDrive.customer_id == value)),
        Filter("starts", _l("Starts"), type=DATE_RANGE, apply=_between(SalesTestDrive.starts_at)),
    ),
    sorts={"starts_at": SalesTestDrive.starts_at},
    default_sort="-starts_at",
    export=ExportSpec(_l("Test drives"), lambda user: [
        Column("id", _l("Id"), NUMBER), Column("customer", _l("Customer")),
        Column("vehicle_id", _l("Vehicle"), NUMBER),
        Column("starts_at", _l("Starts"), DATETIME), Column("ends_at", _l("Ends"), DATETIME),
        Column("status", _l("Status")), Column("odometer_out", _l("Odometer out"), NUMBER),
        Column("odometer_in", _l("Odometer in"), NUMBER)], _drive_rows),
)

LISTS = (PROSPECTS, RETURN_VISITS, SHOWROOM_VISITS, TEST_DRIVES)


# --- opportunities --------------------------------------------------------------------------


def _opportunity_rows(session: Session, user: Any, stmt: Any) -> Iterator[Mapping[str, Any]]:
    rows = list(session.scalars(stmt.execution_options(yield_per=500)))
    names = customer_names(session, user, {o.customer_id for o in rows})
    pipelines: dict[tuple[int, str], dict[str, str]] = {}
    for o in rows:
        key = (o.branch_id, o.brand.lower())
        if key not in pipelines:
            pipelines[key] = {s.code: s.label for s in
                              opportunity_rules.stages_for(session, o.branch_id, o.brand)}
        yield {"id": o.id, "customer": names.get(o.customer_id, ""), "brand": o.brand,
               "model": o.model, "stage": pipelines[key].get(o.stage, o.stage),
               "status": str(opportunity_rules.STATUS_LABELS.get(o.status, o.status)),
               "expected_value": o.expected_value, "currency": o.currency,
               "probability": o.probability, "weighted_value": o.weighted_value,
               "expected_close_on": o.expected_close_on,
               "salesperson_id": o.salesperson_id, "created_at": o.created_at}


OPPORTUNITIES = ListDefinition(
    name="sales.opportunities", label=_l("Opportunities"), model=SalesOpportunity,
    key=SalesOpportunity.id, permission="sales.view", page="sales_pipeline.opportunities",
    api="sales_pipeline_api.Opportunities",
    search=_customer_search(SalesOpportunity.customer_id),
    filters=(
        Filter("status", _l("Status"), type=CHOICE, choices=opportunity_rules.KINDS,
               apply=lambda stmt, value, user: stmt.where(SalesOpportunity.status == value)),
        Filter("stage", _l("Stage"), type=TEXT, max_length=32,
               apply=lambda stmt, value, user: stmt.where(SalesOpportunity.stage == value)),
        Filter("branch_id", _l("Branch"), type=ID,
               apply=lambda stmt, value, user: stmt.where(SalesOpportunity.branch_id == value)),
        Filter("brand", _l("Make"), type=TEXT, max_length=60,
               apply=lambda stmt, value, user: stmt.where(
                   func.lower(SalesOpportunity.brand) == value.lower())),
        Filter("salesperson_id", _l("Salesperson"), type=ID,
               apply=lambda stmt, value, user: stmt.where(
                   SalesOpportunity.salesperson_id == value)),
        Filter("customer_id", _l("Customer"), type=ID,
               apply=lambda stmt, value, user: stmt.where(
                   SalesOpportunity.customer_id == value)),
        Filter("closes", _l("Expected close"), type=DATE_RANGE,
               apply=lambda stmt, value, user: stmt.where(*(
                   ([SalesOpportunity.expected_close_on >= value.start] if value.start else [])
                   + ([SalesOpportunity.expected_close_on <= value.end] if value.end else [])))),
    ),
    sorts={"created_at": SalesOpportunity.created_at,
           "expected_close_on": SalesOpportunity.expected_close_on,
           "expected_value": SalesOpportunity.expected_value,
           "weighted_value": SalesOpportunity.weighted_value},
    default_sort="-created_at",
    export=ExportSpec(_l("Opportunities"), lambda user: [
        Column("id", _l("Id"), NUMBER), Column("customer", _l("Customer")),
        Column("brand", _l("Make")), Column("model", _l("Model")),
        Column("stage", _l("Stage")), Column("status", _l("Status")),
        Column("expected_value", _l("Expected value"), MONEY),
        Column("currency", _l("Currency")), Column("probability", _l("Probability %"), NUMBER),
        Column("weighted_value", _l("Weighted value"), MONEY),
        Column("expected_close_on", _l("Expected close"), DATE),
        Column("salesperson_id", _l("Salesperson"), NUMBER),
        Column("created_at", _l("Opened"), DATETIME)], _opportunity_rows),
)

LISTS = (*LISTS, OPPORTUNITIES)
