"""The API's shapes. Schemas check types and document the API; the business rules stay in
:mod:`carebiz_plugins.sales.services`, so the pages and the API share them.

Class names carry the ``Sales`` prefix: they become component names of the one shared
OpenAPI document."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields
from marshmallow.validate import Length, OneOf, Range

from carebiz.api.common import ListArgs, page_schema
from carebiz.lists.definition import FALSE_WORDS, TRUE_WORDS
from carebiz.toolkit import MAX_ID

from .lists import PROSPECTS, RETURN_VISITS, SHOWROOM_VISITS, TEST_DRIVES
from .services.funnel import LATER_STEPS
from .services.prospects import STATUSES
from .services.visits import CHANNELS, OUTCOMES


def _qid(**kwargs: Any) -> fields.Integer:
    """An id in the query string: 1 … MAX_ID, as the list filters read it."""
    return fields.Integer(validate=Range(min=1, max=MAX_ID), **kwargs)


def _bid(**kwargs: Any) -> fields.Integer:
    """An id in a JSON body."""
    return fields.Integer(strict=True, validate=Range(min=1, max=MAX_ID), **kwargs)


def _yes_no() -> fields.String:
    return fields.String(validate=OneOf((*TRUE_WORDS, *FALSE_WORDS)))


def _text(limit: int) -> fields.String:
    return fields.String(validate=Length(max=limit))


class SalesProspectSchema(Schema):
    id = fields.Integer(dump_only=True)
    customer_id = fields.Integer(dump_only=True)
    customer_name = fields.String(dump_only=True, metadata={
        "description": "The customer's name, or a mask for a customer of another branch."})
    status = fields.String(dump_only=True, metadata={"description": ", ".join(STATUSES)})
    allowed = fields.List(fields.String(), dump_only=True, metadata={
        "description": "The actions possible from this status."})
    source = fields.String(dump_only=True)
    industry = fields.String(dump_only=True)
    salesperson_id = fields.Integer(dump_only=True, allow_none=True)
    budget = fields.Decimal(as_string=True, dump_only=True, allow_none=True)
    currency = fields.String(dump_only=True)
    intended_purchase_on = fields.Date(dump_only=True, allow_none=True)
    points_of_interest = fields.List(fields.String(), dump_only=True)
    models_of_interest = fields.List(fields.String(), dump_only=True)
    lost_reason = fields.String(dump_only=True)
    notes = fields.String(dump_only=True)
    branch_id = fields.Integer(dump_only=True)
    registered_at = fields.DateTime(dump_only=True)
    closed_at = fields.DateTime(dump_only=True, allow_none=True)
    version = fields.Integer(dump_only=True)


class SalesProspectCreateSchema(Schema):
    name = fields.String(load_default="", metadata={
        "description": "Required unless the phone finds an existing customer."})
    phone = fields.String(required=True, metadata={"description": "Any common notation."})
    source = fields.String(required=True, metadata={
        "description": "A key of the sales.sources setting (walk_in, phone, website …)."})
    models_of_interest = fields.List(fields.String(), load_default=list)
    points_of_interest = fields.List(fields.String(), load_default=list, metadata={
        "description": "Keys of the sales.points_of_interest setting (price, safety …)."})
    budget = fields.Decimal(allow_none=True, load_default=None)
    currency = fields.String(load_default="CNY")
    industry = fields.String(load_default="")
    intended_purchase_on = fields.Date(allow_none=True, load_default=None)
    salesperson_id = fields.Integer(allow_none=True, load_default=None, metadata={
        "description": "Default: the user registering."})
    branch_id = fields.Integer(allow_none=True, load_default=None, metadata={
        "description": "Default: your default (or only) branch."})
    notes = fields.String(load_default="")


class SalesProspectUpdateSchema(Schema):
    source = fields.String()
    models_of_interest = fields.List(fields.String())
    points_of_interest = fields.List(fields.String())
    budget = fields.Decimal(allow_none=True)
    currency = fields.String()
    industry = fields.String()
    intended_purchase_on = fields.Date(allow_none=True)
    salesperson_id = fields.Integer(allow_none=True)
    notes = fields.String()
    version = fields.Integer(metadata={"description": "The version you saw (or If-Match)."})


class SalesProspectCloseSchema(Schema):
    outcome = fields.String(required=True, validate=OneOf(("won", "lost")))
    lost_reason = fields.String(load_default=None, allow_none=True, metadata={
        "description": "Required when lost: a key of the sales.lost_reasons setting."})
    version = fields.Integer()


class SalesProspectActionSchema(Schema):
    version = fields.Integer()


class SalesProspectListArgs(ListArgs):
    status = fields.String(validate=OneOf(STATUSES))
    open = _yes_no()
    source = _text(40)
    salesperson_id = _qid()
    mine = _yes_no()
    branch_id = _qid()
    customer_id = _qid()
    industry = _text(60)
    point = _text(40)
    model = _text(80)
    registered_from = fields.Date()
    registered_to = fields.Date()
    closed_from = fields.Date()
    closed_to = fields.Date()
    reached = fields.String(validate=OneOf(LATER_STEPS), metadata={
        "description": "prospects that got to this step of the conversion funnel or further"})
    q = _text(200)
    sort = fields.String(validate=OneOf(PROSPECTS.sort_values))


SalesProspectPage = page_schema(SalesProspectSchema, "SalesProspectPage")


class SalesReturnVisitSchema(Schema):
    id = fields.Integer(dump_only=True)
    prospect_id = fields.Integer(required=True)
    customer_id = fields.Integer(dump_only=True)
    assignee_id = fields.Integer(allow_none=True, load_default=None)
    channel = fields.String(load_default="phone", validate=OneOf(tuple(CHANNELS)))
    due_at = fields.DateTime(required=True)
    done_at = fields.DateTime(dump_only=True, allow_none=True)
    status = fields.String(dump_only=True)
    overdue = fields.Boolean(dump_only=True)
    outcome = fields.String(dump_only=True)
    notes = fields.String(load_default="")
    next_visit_id = fields.Integer(dump_only=True, allow_none=True)
    branch_id = fields.Integer(dump_only=True)


class SalesReturnVisitDoneSchema(Schema):
    outcome = fields.String(required=True, validate=OneOf(tuple(OUTCOMES)))
    notes = fields.String(load_default="")
    satisfaction = fields.Integer(load_default=None, allow_none=True)
    next_due_at = fields.DateTime(load_default=None, allow_none=True)


class SalesReturnVisitListArgs(ListArgs):
    status = fields.String(validate=OneOf(("open", "done", "cancelled")))
    overdue = _yes_no()
    due_from = fields.Date()
    due_to = fields.Date()
    assignee_id = _qid()
    mine = _yes_no()
    prospect_id = _qid()
    customer_id = _qid()
    q = _text(200)
    sort = fields.String(validate=OneOf(RETURN_VISITS.sort_values))


SalesReturnVisitPage = page_schema(SalesReturnVisitSchema, "SalesReturnVisitPage")


class SalesCountSchema(Schema):
    key = fields.String()
    label = fields.String()
    count = fields.Integer()


class SalesDashboardArgs(Schema):
    date = fields.Date(load_default=None, metadata={"description": "Default: today."})
    period = fields.String(load_default="month", validate=OneOf(("day", "month", "year")))


class SalesDashboardSchema(Schema):
    date = fields.String()
    period = fields.Dict()
    won = fields.Integer()
    lost = fields.Integer()
    consulting = fields.Integer()
    visits_due = fields.Integer()
    visits_overdue = fields.Integer()
    by_source = fields.List(fields.Nested(SalesCountSchema))
    by_salesperson = fields.List(fields.Nested(SalesCountSchema))
    by_industry = fields.List(fields.Nested(SalesCountSchema))
    by_point_of_interest = fields.List(fields.Nested(SalesCountSchema))
    by_model = fields.List(fields.Nested(SalesCountSchema))


class SalesShowroomVisitSchema(Schema):
    id = fields.Integer(dump_only=True)
    customer_id = fields.Integer(allow_none=True, load_default=None)
    prospect_id = fields.Integer(allow_none=True, load_default=None)
    salesperson_id = fields.Integer(allow_none=True, load_default=None)
    arrived_at = fields.DateTime(allow_none=True, load_default=None)
    left_at = fields.DateTime(allow_none=True, load_default=None)
    party_size = fields.Integer(load_default=1)
    first_visit = fields.Boolean(allow_none=True, load_default=None)
    models = fields.List(fields.String(), load_default=list)
    outcome = fields.String(load_default="browsing")
    notes = fields.String(load_default="")
    branch_id = fields.Integer(allow_none=True, load_default=None)


class SalesShowroomListArgs(ListArgs):
    arrived_from = fields.Date()
    arrived_to = fields.Date()
    salesperson_id = _qid()
    first_visit = _yes_no()
    outcome = _text(20)
    sort = fields.String(validate=OneOf(SHOWROOM_VISITS.sort_values))


SalesShowroomPage = page_schema(SalesShowroomVisitSchema, "SalesShowroomVisitPage")


class SalesTestDriveSchema(Schema):
    id = fields.Integer(dump_only=True)
    vehicle_id = fields.Integer(required=True, metadata={"description": "A demo car."})
    customer_id = fields.Integer(required=True)
    prospect_id = fields.Integer(allow_none=True, load_default=None)
    starts_at = fields.DateTime(required=True)
    ends_at = fields.DateTime(required=True)
    licence_number = fields.String(required=True)
    licence_expiry = fields.Date(required=True)
    waiver_signed = fields.Boolean(load_default=False)
    status = fields.String(dump_only=True)
    odometer_out = fields.Integer(dump_only=True, allow_none=True)
    odometer_in = fields.Integer(dump_only=True, allow_none=True)
    feedback = fields.String(dump_only=True)
    branch_id = fields.Integer(dump_only=True)
    version = fields.Integer(dump_only=True)


class SalesTestDriveListArgs(ListArgs):
    status = fields.String(validate=OneOf(("booked", "out", "returned", "cancelled")))
    vehicle_id = _qid()
    customer_id = _qid()
    starts_from = fields.Date()
    starts_to = fields.Date()
    sort = fields.String(validate=OneOf(TEST_DRIVES.sort_values))


SalesTestDrivePage = page_schema(SalesTestDriveSchema, "SalesTestDrivePage")


class SalesOdometerSchema(Schema):
    odometer_km = fields.Integer(required=True)
    waiver_signed = fields.Boolean(load_default=None, allow_none=True)
    feedback = fields.String(load_default="")
