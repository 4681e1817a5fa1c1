"""Query API: the sources a user may query, composite and simple queries, analysis (as rows
or an SVG chart) and saved queries.

``POST /api/v1/query/<source>`` with ``{"where": node, "q": "words", "sort": ["-field"],
"page": 1, "per_page": 50}`` answers ``{"items": [...], "total": N}``. Row filters always
apply; a bad tree answers 422 with the JSON path of each bad node in ``errors``."""

from __future__ import annotations

from typing import Any

from flask import Response
from flask.views import MethodView
from flask_login import current_user

from carebiz import db
from carebiz.api.common import ApiBlueprint
from carebiz.concurrency import etag_headers, expected_version
from carebiz.query import operators, service
from carebiz.query import schemas as s
from carebiz.security import api_login_required
from carebiz.toolkit import saving

blp = ApiBlueprint("query_api", __name__, url_prefix="/api/v1/query",
                   description="Composite and simple queries, analysis, charts and saved "
                               "queries over the registered sources.")

SOURCE = "<string(maxlength=60):source>"


def _user() -> Any:
    return current_user._get_current_object()


@blp.route("/")
class SourceList(MethodView):
    @api_login_required
    @blp.response(200, s.Sources)
    def get(self) -> Any:
        """The sources you may query, with their fields, types, labels and operators."""
        return {"sources": [service.describe(src) for src in service.sources(_user())],
                "relative_dates": [*operators.RELATIVE, operators.LAST_DAYS]}


@blp.route(f"/{SOURCE}")
class Query(MethodView):
    @api_login_required
    @blp.arguments(s.QueryBody)
    @blp.response(200, s.Page)
    def post(self, body: dict[str, Any], source: str) -> Any:
        """Rows of ``source`` you may see that match ``where`` (and the words ``q``)."""
        return service.run(db.session(), _user(), source, body)


@blp.route(f"/{SOURCE}/aggregate")
class Aggregate(MethodView):
    @api_login_required
    @blp.arguments(s.AggregateArgs, location="query")
    @blp.arguments(s.AggregateBody)
    @blp.response(200, s.AggregateResult)
    def post(self, args: dict[str, Any], body: dict[str, Any], source: str) -> Any:
        """Group the matching rows by one or two fields and compute measures;
        ``?format=svg`` answers a chart (``chart``: bar, line, pie, stacked)."""
        result = service.aggregate(db.session(), _user(), source, body)
        if args["format"] == "svg":
            from carebiz.query.views import analysis_view, chart_svg

            kind = args["chart"] or body.get("chart") or "bar"
            # the chart reads as the page's does: labels, translated measure names
            view = analysis_view(service.get_source(_user(), source), result,
                                 body.get("title") or "")
            return Response(chart_svg(view, kind), mimetype="image/svg+xml")
        return result


@blp.route("/saved")
class SavedQueries(MethodView):
    @api_login_required
    @blp.arguments(s.SavedArgs, location="query")
    @blp.response(200, s.SavedList)
    def get(self, args: dict[str, Any]) -> Any:
        """Saved queries you may use: yours, your roles' and your branches'."""
        return {"items": service.saved_list(db.session(), _user(), args.get("source"))}

    @api_login_required
    @blp.arguments(s.SavedIn)
    @blp.response(201, s.Saved)
    def post(self, data: dict[str, Any]) -> Any:
        """Save a query (private, or shared with a role or a branch of yours)."""
        sess = db.session()
        with saving():
            saved = service.saved_create(sess, _user(), data)
        return saved


@blp.route("/saved/<int(min=1, max=2147483647):saved_id>")
class SavedQuery(MethodView):
    @api_login_required
    @blp.response(200, s.Saved)
    def get(self, saved_id: int) -> Any:
        """A saved query; the ``ETag`` header is its version."""
        saved = service.saved_get(db.session(), _user(), saved_id)
        return saved, 200, etag_headers(saved)

    @api_login_required
    @blp.arguments(s.SavedUpdate)
    @blp.response(200, s.Saved)
    def put(self, data: dict[str, Any], saved_id: int) -> Any:
        """Change a saved query (its owner only). Send the ``version`` you read (or
        ``If-Match``) so the change cannot overwrite one you have not seen (409)."""
        sess = db.session()
        expected = expected_version(data.pop("version", None))
        with saving():
            saved = service.saved_update(sess, _user(), saved_id, data, expected_version=expected)
        return saved, 200, etag_headers(saved)

    @api_login_required
    @blp.response(204)
    def delete(self, saved_id: int) -> None:
        """Delete a saved query (its owner only)."""
        sess = db.session()
        with saving():
            service.saved_delete(sess, _user(), saved_id)
