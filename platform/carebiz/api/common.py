"""Shared pieces of the API: the blueprint class every API module uses (its argument parser
guards every body and query string), paging arguments and the ``{"items", "total"}``
answer."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import flask_smorest
from flask_babel import gettext as _
from marshmallow import Schema, ValidationError, fields, validate
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session
from webargs import core
from webargs.flaskparser import FlaskParser, abort, is_json_request

from carebiz import text

MAX_PER_PAGE = 500


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


class Blueprint(flask_smorest.Blueprint):
    """The blueprint of every API module (plugins too: ``from carebiz.api.common import
    Blueprint``), so every endpoint parses its arguments under the same rules."""

    ARGUMENTS_PARSER = Parser()


class ListArgs(Schema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=1_000_000))
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=MAX_PER_PAGE))


def page_of(session: Session, stmt: Select[Any], page: int, per_page: int) -> dict[str, Any]:
    """One page of ``stmt`` and the total count of rows it selects."""
    total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    items = session.scalars(stmt.limit(per_page).offset((page - 1) * per_page)).all()
    return {"items": items, "total": total or 0, "page": page, "per_page": per_page}


def page_schema(item: type[Schema], name: str) -> type[Schema]:
    """A ``{"items": [item], "total": N, "page", "per_page"}`` schema for ``item``."""
    return Schema.from_dict({
        "items": fields.List(fields.Nested(item)),
        "total": fields.Integer(),
        "page": fields.Integer(),
        "per_page": fields.Integer(),
    }, name=name)
