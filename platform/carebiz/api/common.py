"""Shared pieces of the API: the blueprint class every API module uses (its argument parser
guards every body and query string), paging arguments and the ``{"items", "total"}``
answer, the documented error bodies, and the pattern of decimals sent as strings."""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import flask_smorest
from flask_babel import gettext as _
from marshmallow import Schema, ValidationError, fields, validate
from sqlalchemy import Select
from sqlalchemy.orm import Session
from webargs import core
from webargs.flaskparser import FlaskParser, abort, is_json_request
from werkzeug.datastructures import CombinedMultiDict

from carebiz import text
from carebiz.lists import paging

MAX_PER_PAGE = 500

#: a decimal as the API takes it: digits with an optional fraction, no exponent, no spaces
#: (floats cannot hold 0.10 exactly, so JSON numbers are refused where decimals belong)
DECIMAL_PATTERN = r"^-?[0-9]{1,20}(\.[0-9]{1,20})?$"



class Parser(FlaskParser):
    """webargs' parser with the platform's rules for what comes in:

    - the JSON body is parsed by :func:`carebiz.text.load_json`: nesting deeper than
      :data:`~carebiz.text.MAX_JSON_DEPTH` is a 400 before any parser recurses;
    - a body that is not JSON is a clean 400 naming ``body`` (webargs reports a bare list
      the error format cannot name a field for);
    - a string anywhere in the body, the query string or a form holding a character no field
      may hold (control characters, lone surrogates) is a 422 naming the field, for every
      schema alike.
    """

    def _raw_load_json(self, req: Any) -> Any:
        if not is_json_request(req):
            return core.missing
        try:
            return text.load_json(req.get_data(cache=True))
        except text.JsonTooDeep:
            message = _("The JSON body is nested too deeply (at most %(max)d levels).",
                        max=text.MAX_JSON_DEPTH)
            abort(400, message=message, messages={"json": {"body": [message]}})

    def _handle_invalid_json_error(self, error: Any, req: Any, *args: Any,
                                   **kwargs: Any) -> Any:
        abort(400, exc=error, message=_("The request body is not valid JSON."),
              messages={"json": {"body": [_("Not valid JSON.")]}})

    def pre_load(self, location_data: Mapping[str, Any], *, schema: Schema, req: Any,
                 location: str) -> Mapping[str, Any]:
        errors: dict[str, str] = {}
        if location in ("json", "json_or_form") and is_json_request(req):
            if text.may_hold_bad_text(req.get_data(cache=True, as_text=True)):
                errors = text.bad_text_in(location_data)
        elif location in ("query", "querystring", "form", "json_or_form"):
            values = req.args if location in ("query", "querystring") else req.form
            for key in values:
                problem = text.bad_text_in([key, *values.getlist(key)])
                if problem:
                    errors[key] = next(iter(problem.values()))
        if errors:
            raise ValidationError({key: [problem] for key, problem in errors.items()})
        return location_data


class ListArgs(Schema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=1_000_000))
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=MAX_PER_PAGE))


def page_of(session: Session, stmt: Select[Any], page: int, per_page: int) -> dict[str, Any]:
    """One page of ``stmt`` and the total count of rows it selects, as the API's page schema
    answers it (the paging of :mod:`carebiz.lists`; a page beyond the last is empty)."""
    found = paging.page_of(session, stmt, page, per_page)
    return {"items": found.items, "total": found.total, "page": found.page,
            "per_page": found.per_page}


def page_schema(item: type[Schema], name: str) -> type[Schema]:
    """A ``{"items": [item], "total": N, "page", "per_page"}`` schema for ``item``."""
    return Schema.from_dict({
        "items": fields.List(fields.Nested(item)),
        "total": fields.Integer(),
        "page": fields.Integer(),
        "per_page": fields.Integer(),
    }, name=name)


class DecimalString(fields.Decimal):
    """A decimal sent and answered as a string (documented ``type: string, format:
    decimal``). Anything but a string is refused on input — JSON numbers cannot hold 0.10
    exactly — and the string must match ``pattern``, which the document states, so what it
    calls invalid is refused."""

    def __init__(self, pattern: str = DECIMAL_PATTERN, **kwargs: Any):
        self.pattern = re.compile(pattern)
        kwargs["metadata"] = {"pattern": pattern, **kwargs.get("metadata", {})}
        super().__init__(as_string=True, allow_nan=False, **kwargs)

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Decimal:
        if not isinstance(value, str):
            raise ValidationError(_("Send decimals as strings, e.g. \"148.50\"."))
        if not self.pattern.fullmatch(value):
            raise ValidationError(_("Not a decimal written like 148.50."))
        return super()._deserialize(value, attr, data, **kwargs)

    def _serialize(self, value: Any, attr: Any, obj: Any, **kwargs: Any) -> str | None:
        if value is None:
            return None
        value = Decimal(value)
        if value == value.to_integral_value() and value.as_tuple().exponent < 0:
            value = value.quantize(Decimal(1))
        elif value.as_tuple().exponent < 0:
            value = value.normalize()
        return format(value, "f")


class StrictBoolean(fields.Boolean):
    """A boolean in a JSON body: ``true`` or ``false`` only. marshmallow also takes 1, "yes",
    "on" …, which the document calls invalid (query strings and forms, where every value is
    text, keep the plain Boolean)."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value


def decimal_as_string(converter: Any, field: Any, **_kwargs: Any) -> dict[str, Any]:
    """apispec attribute function: a Decimal field dumped as a string is documented as a
    string of format ``decimal``, not as the number apispec assumes for every Decimal."""
    if isinstance(field, fields.Decimal) and field.as_string:
        return {"type": "string", "format": "decimal"}
    return {}


# --- parsing ------------------------------------------------------------------------------


class ApiParser(Parser):
    """webargs' Flask parser with the platform's rules for bodies.

    - A body that is not JSON is a clean 400 naming ``body`` (webargs reports it as a bare
      list, which the error format cannot name a field for).
    - Every JSON body the document declares is required: an empty one is a 400, not an
      empty object that would pass for "change nothing" or "all defaults"; a body in another
      content type is a 415.
    - ``form_and_files`` reads one multipart form of fields and files, so an upload with
      options is one documented request body (flask-smorest documents one body location per
      operation)."""

    __location_map__ = {**FlaskParser.__location_map__,
                        "form_and_files": "load_form_and_files"}

    def load_json(self, req: Any, schema: Schema) -> Any:
        data = super().load_json(req, schema)
        if data is core.missing:
            if req.get_data(cache=True):
                abort(415, message=_("Send the request body as JSON "
                                     "(Content-Type: application/json)."))
            abort(400, message=_("This request needs a JSON body."),
                  messages={"json": {"body": [_("Missing.")]}})
        return data

    def load_form_and_files(self, req: Any, schema: Schema) -> Any:
        return self._makeproxy(CombinedMultiDict([req.form, req.files]), schema)


class Blueprint(flask_smorest.Blueprint):
    """The blueprint of every API module (plugins too: ``from carebiz.api.common import
    Blueprint``), so every endpoint parses its arguments under the same rules
    (:class:`ApiParser`)."""

    ARGUMENTS_PARSER = ApiParser()
    DEFAULT_LOCATION_CONTENT_TYPE_MAPPING = {
        **flask_smorest.Blueprint.DEFAULT_LOCATION_CONTENT_TYPE_MAPPING,
        "form_and_files": "multipart/form-data"}


#: the same class under the name the API modules first knew it by
ApiBlueprint = Blueprint


# --- error bodies -------------------------------------------------------------------------


class ErrorSchema(Schema):
    """Every error answer of the API (documentation only; built by
    :func:`carebiz.api.errors.error_body`)."""

    code = fields.Integer(required=True, metadata={"description": "The HTTP status."})
    status = fields.String(required=True, metadata={
        "description": "What went wrong, as a stable machine word to branch on: "
                       "`bad_request`, `unauthorized`, `forbidden`, `not_found`, "
                       "`method_not_allowed`, `conflict`, `payload_too_large`, "
                       "`uri_too_long`, `unsupported_media_type`, `validation_failed`, "
                       "`rate_limited`, `internal_error`, `unavailable`, or a more specific "
                       "one such as `version_conflict`, `possible_duplicate`, `busy`, "
                       "`missing_rate`. Never an HTTP reason phrase.",
        "pattern": "^[a-z][a-z0-9_]*$"})
    message = fields.String(required=True, metadata={
        "description": "What to do, in the request's language."})
    errors = fields.Dict(required=True, keys=fields.String(),
                         values=fields.List(fields.String()), metadata={
        "description": "Every field at fault with the list of its messages, all of them "
                       "at once. Nested fields are one key per leaf, written as a path "
                       "(`phones[0].number`, `custom.colour`, `where.and[1].op`); "
                       "`_schema` holds messages about the input as a whole. Empty when "
                       "no single field is at fault."})


class DuplicateSchema(Schema):
    id = fields.Integer(allow_none=True, metadata={
        "description": "null for a customer of a branch you may not see."})
    name = fields.String()
    reason = fields.String(metadata={"enum": ["phone", "email", "id_number", "vin"]})
    value = fields.String()


class DuplicateErrorSchema(ErrorSchema):
    duplicates = fields.List(fields.Nested(DuplicateSchema), metadata={
        "description": "The customers on file that the data matches."})


class ExistingVehicleSchema(Schema):
    id = fields.Integer()
    vin = fields.String()


class VinConflictErrorSchema(ErrorSchema):
    existing = fields.Nested(ExistingVehicleSchema, metadata={
        "description": "The vehicle registered with this VIN already."})


class UnitErrorSchema(ErrorSchema):
    known_units = fields.List(fields.String(), metadata={
        "description": "With an unknown unit: the units known (packaging units included)."})


class MissingRateErrorSchema(ErrorSchema):
    base = fields.String(metadata={"description": "With `missing_rate`: the pair and date "
                                                  "that have no rate."})
    quote = fields.String()
    date = fields.Date()
