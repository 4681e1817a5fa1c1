"""Marshmallow schemas of the query API.

They check the *shape* of a request and document it; the condition tree itself is taken as
raw JSON and checked by :mod:`carebiz.query.compiler`, which names the bad node by its JSON
path (``where.and[1].op``)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from carebiz.query.charts import KINDS
from carebiz.query.models import BRANCH, PRIVATE, ROLE
from carebiz.query.service import MAX_PER_PAGE

MAX_ID = 2**31 - 1


class QueryBody(Schema):
    where = fields.Raw(load_default=None, metadata={
        "description": 'A condition {"field", "op", "value"} or a group {"and": [...]} / '
                       '{"or": [...]}.'})
    q = fields.String(load_default=None, allow_none=True,
                      metadata={"description": "Words to find in any text field."})
    sort = fields.Raw(load_default=None, metadata={"description": 'e.g. ["-created_at", "name"]'})
    page = fields.Integer(strict=True, load_default=1,
                          validate=validate.Range(min=1, max=1_000_000))
    per_page = fields.Integer(strict=True, load_default=50,
                              validate=validate.Range(min=1, max=MAX_PER_PAGE))


class AggregateBody(Schema):
    where = fields.Raw(load_default=None)
    q = fields.String(load_default=None, allow_none=True)
    group_by = fields.Raw(required=True, metadata={
        "description": 'One or two fields; dates as {"field": F, "by": '
                       '"day|week|month|quarter|year"}.'})
    measures = fields.Raw(load_default=None, metadata={
        "description": '[{"fn": "count|sum|avg|min|max", "field": F}]; default: count.'})
    chart = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(KINDS))
    title = fields.String(load_default="", validate=validate.Length(max=200))


class AggregateArgs(Schema):
    format = fields.String(load_default="json", validate=validate.OneOf(("json", "svg")))
    chart = fields.String(load_default=None, validate=validate.OneOf(KINDS))


LABELS_DOC = ("Each row keeps the codes (choice values, branch ids, date groups such as "
              "2026-11) and adds ``labels``: {field: label} for its choice, branch, yes/no "
              "and date-group values, in the reader's language (Accept-Language), e.g. "
              '{"segment": "at_risk", "labels": {"segment": "At risk"}}.')


class Page(Schema):
    items = fields.List(fields.Dict(), metadata={"description": LABELS_DOC})
    total = fields.Integer(metadata={"description": "Exact up to 10,000; see total_capped."})
    total_capped = fields.Boolean(metadata={
        "description": "True when more rows match than ``total`` says (counting stops at "
                       "10,000 to keep wide queries fast)."})
    page = fields.Integer()
    per_page = fields.Integer()


class AggregateResult(Schema):
    group_by = fields.List(fields.String())
    measures = fields.List(fields.String())
    rows = fields.List(fields.Dict(), metadata={"description": LABELS_DOC})
    currencies = fields.Dict(keys=fields.String(), values=fields.String(), metadata={
        "description": 'The ISO 4217 currency of each money measure, e.g. '
                       '{"sum_lifetime_value": "CNY"}.'})


class SourceField(Schema):
    name = fields.String()
    label = fields.String()
    type = fields.String()
    operators = fields.List(fields.String())
    choices = fields.List(fields.Dict())
    relation = fields.String(allow_none=True, metadata={
        "description": 'What the value points at ("branch": a branch id); its label is the '
                       "record's name."})
    currency = fields.String(allow_none=True, metadata={
        "description": 'A money field\'s currency: an ISO code, "base" (the company\'s base '
                       "currency) or the field holding each row's code."})


class Source(Schema):
    name = fields.String()
    label = fields.String()
    fields_ = fields.List(fields.Nested(SourceField), data_key="fields", attribute="fields")


class Sources(Schema):
    sources = fields.List(fields.Nested(Source))
    relative_dates = fields.List(fields.String())


class SavedArgs(Schema):
    source = fields.String(load_default=None)


class SavedIn(Schema):
    source = fields.String(required=True, validate=validate.Length(min=1, max=60))
    name = fields.String(required=True, validate=validate.Length(min=1, max=120))
    definition = fields.Dict(load_default=dict)
    visibility = fields.String(load_default=PRIVATE,
                               validate=validate.OneOf((PRIVATE, ROLE, BRANCH)))
    role_id = fields.Integer(strict=True, allow_none=True, load_default=None,
                             validate=validate.Range(min=1, max=MAX_ID))
    branch_id = fields.Integer(strict=True, allow_none=True, load_default=None,
                               validate=validate.Range(min=1, max=MAX_ID))


class SavedUpdate(Schema):
    version = fields.Integer(strict=True, allow_none=True, validate=validate.Range(min=1),
                             metadata={"description": "The version you read (or If-Match "
                                                      "with the ETag): 409 if it changed "
                                                      "since; without it the change is "
                                                      "saved as sent."})
    name = fields.String(validate=validate.Length(min=1, max=120))
    definition = fields.Dict()
    visibility = fields.String(validate=validate.OneOf((PRIVATE, ROLE, BRANCH)))
    role_id = fields.Integer(strict=True, allow_none=True,
                             validate=validate.Range(min=1, max=MAX_ID))
    branch_id = fields.Integer(strict=True, allow_none=True,
                               validate=validate.Range(min=1, max=MAX_ID))


class Saved(Schema):
    id = fields.Integer()
    source = fields.String()
    name = fields.String()
    definition = fields.Dict()
    owner_id = fields.Integer()
    visibility = fields.String()
    role_id = fields.Integer(allow_none=True)
    branch_id = fields.Integer(allow_none=True)
    version = fields.Integer(metadata={"description": "Raised by every change; also the "
                                                      "ETag header."})
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class SavedList(Schema):
    items = fields.List(fields.Nested(Saved))
