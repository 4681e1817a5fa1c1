"""Reports over the API, beside their pages: ``GET /api/v1/reports`` lists the reports you may
run with their parameters; ``GET /api/v1/reports/<name>?<param>=<value>…`` runs one and
answers its groups, measures and rows as JSON.

A report runs through the query service like its page, so the row filters and the source's
permission always apply. A parameter left out takes its default; an argument that is not a
parameter of the report, or a value not of the parameter's type, is a 422 naming each; a
report nobody registered (or of a switched-off plugin) is a 404, one you may not run a 403."""

from __future__ import annotations

from typing import Any

from flask import request
from flask.views import MethodView
from flask_login import current_user
from marshmallow import Schema, fields

from carebiz import db
from carebiz.api.common import ApiBlueprint, ErrorSchema
from carebiz.query import reports
from carebiz.security import api_login_required

blp = ApiBlueprint("reports_api", __name__, url_prefix="/api/v1",
                   description="Ready-made reports of the plugins: their parameters, and "
                               "their results as JSON.")


class ReportChoice(Schema):
    value = fields.String(required=True)
    label = fields.String(required=True)


class ReportParameter(Schema):
    name = fields.String(required=True, metadata={
        "description": "The query-string argument that sets it."})
    label = fields.String(required=True)
    type = fields.String(required=True, metadata={
        "description": "text, number, money, date (YYYY-MM-DD), datetime, bool or choice.",
        "enum": ["text", "number", "money", "date", "datetime", "bool", "choice"]})
    default = fields.Raw(allow_none=True, metadata={
        "description": "The value used when the argument is left out (as of now)."})
    choices = fields.List(fields.Nested(ReportChoice), required=True, metadata={
        "description": "The values a choice parameter takes."})


class ReportInfo(Schema):
    name = fields.String(required=True)
    label = fields.String(required=True)
    description = fields.String(required=True)
    source = fields.String(required=True, metadata={
        "description": "The query source it analyses (see GET /api/v1/query/)."})
    chart = fields.String(required=True, metadata={"enum": ["bar", "line", "pie", "stacked"]})
    params = fields.List(fields.Nested(ReportParameter), required=True)


class ReportList(Schema):
    items = fields.List(fields.Nested(ReportInfo), required=True)


class ReportResult(Schema):
    report = fields.Nested(ReportInfo, required=True)
    params = fields.Dict(keys=fields.String(), required=True, metadata={
        "description": "The parameter values the report ran with (defaults included)."})
    group_by = fields.List(fields.String(), required=True, metadata={
        "description": "The grouping columns of each row."})
    measures = fields.List(fields.String(), required=True, metadata={
        "description": "The measure columns of each row."})
    rows = fields.List(fields.Dict(keys=fields.String()), required=True, metadata={
        "description": "One object per group: each grouping and measure by its name."})


def _user() -> Any:
    return current_user._get_current_object()


@blp.route("/reports")
class Reports(MethodView):
    @api_login_required
    @blp.response(200, ReportList)
    def get(self) -> Any:
        """The reports you may run, with the parameters each takes."""
        return {"items": [reports.describe(r) for r in reports.available(_user())]}


@blp.route("/reports/<string(maxlength=120):name>")
class ReportRun(MethodView):
    @api_login_required
    @blp.response(200, ReportResult)
    @blp.alt_response(403, schema=ErrorSchema,
                      description="You may not run this report (its permission, or that of "
                                  "the source it analyses).")
    @blp.alt_response(404, schema=ErrorSchema,
                      description="No such report, or its subsystem is switched off.")
    @blp.alt_response(422, schema=ErrorSchema,
                      description="An argument that is not a parameter of the report, or a "
                                  "value not of the parameter's type; each is named in "
                                  "`errors`.")
    def get(self, name: str) -> Any:
        """Run a report. Give its parameters (as ``GET /api/v1/reports`` lists them) as
        query-string arguments, e.g. ``?days=30``; a parameter left out takes its default.
        Row filters apply: the rows are those you may see."""
        user = _user()
        report = reports.get(user, name)
        values = reports.read_api_params(report, request.args)
        result = reports.run(db.session(), user, report, values)
        return {"report": reports.describe(report), "params": values, **result}
