"""The JSON API of opportunities and the pipeline under ``/api/v1/sales``: thin routes over
:mod:`.services.opportunities`.

- ``GET/POST /opportunities`` — the list (``{"items", "total"}`` from the list definition,
  so ``?format=csv`` exports the same rows) and opening one;
- ``GET/PATCH /opportunities/<id>`` — with ``version`` (or ``If-Match``): stale is a 409;
- ``POST /opportunities/<id>/move`` ``{"stage", "version"?, "lost_reason"?}`` — a move the
  pipeline does not allow is a 409 ``{"status", "allowed"}`` (``status`` the stage it
  stands in, ``allowed`` the stages it may go to);
- ``POST /opportunities/<id>/won`` and ``/lost`` ``{"lost_reason"}``;
- ``GET /pipeline?branch=&brand=&salesperson=`` — per stage count, value, weighted value;
- ``GET/PUT /pipeline/stages?branch=&brand=`` — the stage set in force / replacing one,
  with the set's ``version`` (send it back, or ``If-Match``: a set changed meanwhile is a
  409 with ``current_version``; without either the last save wins, as on every versioned
  write). Each stage has ``label`` (in the reader's language) and ``labels`` (the names
  saved per language, ``en`` and ``zh_Hans``).
"""

from __future__ import annotations

from typing import Any

from flask import request
from flask.views import MethodView
from flask_babel import gettext as _
from flask_login import current_user
from flask_smorest import abort
from marshmallow import Schema, fields, validate

from carebiz import db, lists
from carebiz.api.common import Blueprint, DecimalString, ListArgs, page_schema
from carebiz.concurrency import etag, etag_headers, expected_version
from carebiz.errors import ValidationFailed
from carebiz.models import Branch
from carebiz.toolkit import MAX_ID, record_id, require, saving, visible_or_404

from .lists import OPPORTUNITIES, customer_names
from .models import SalesOpportunity
from .services import opportunities as rules
from .services import stage_names as names

ID = f"int(min=1, max={MAX_ID})"
ID_RANGE = validate.Range(min=1, max=MAX_ID)

blp = Blueprint("sales_pipeline_api", __name__, url_prefix="/api/v1/sales",
                description="Sales: opportunities and the pipeline.")


# --- shapes ---------------------------------------------------------------------------------

class SalesOpportunitySchema(Schema):
    id = fields.Integer(dump_only=True)
    customer_id = fields.Integer()
    customer_name = fields.String(dump_only=True, metadata={
        "description": "The customer's name, or a mask for a customer of another branch."})
    prospect_id = fields.Integer(allow_none=True)
    title = fields.String()
    brand = fields.String()
    model = fields.String()
    expected_value = DecimalString()
    currency = fields.String()
    expected_close_on = fields.Date(allow_none=True)
    salesperson_id = fields.Integer(allow_none=True)
    stage = fields.String()
    stage_label = fields.String(dump_only=True)
    status = fields.String(dump_only=True, metadata={"description": "open, won or lost"})
    allowed = fields.List(fields.String(), dump_only=True, metadata={
        "description": "The stages it may move to from here."})
    probability = fields.Integer(metadata={"description": "percent"})
    probability_manual = fields.Boolean(dump_only=True)
    weighted_value = DecimalString(dump_only=True)
    lost_reason = fields.String(dump_only=True)
    order_id = fields.Integer(dump_only=True, allow_none=True)
    notes = fields.String()
    branch_id = fields.Integer()
    stage_entered_at = fields.DateTime(dump_only=True)
    closed_at = fields.DateTime(dump_only=True, allow_none=True)
    created_at = fields.DateTime(dump_only=True)
    version = fields.Integer(dump_only=True)


SalesOpportunityPage = page_schema(SalesOpportunitySchema, "SalesOpportunityPage")


class SalesOpportunityListArgs(ListArgs):
    status = fields.String(validate=validate.OneOf(rules.KINDS))
    stage = fields.String(validate=validate.Length(max=32))
    branch_id = fields.Integer(validate=ID_RANGE)
    brand = fields.String(validate=validate.Length(max=60))
    salesperson_id = fields.Integer(validate=ID_RANGE)
    customer_id = fields.Integer(validate=ID_RANGE)
    q = fields.String(validate=validate.Length(max=100))
    sort = fields.String(validate=validate.OneOf(OPPORTUNITIES.sort_values))


class SalesOpportunityCreateSchema(Schema):
    customer_id = fields.Integer(required=True, strict=True, validate=ID_RANGE)
    prospect_id = fields.Integer(allow_none=True, strict=True, validate=ID_RANGE)
    title = fields.String()
    brand = fields.String()
    model = fields.String()
    expected_value = DecimalString()
    currency = fields.String()
    expected_close_on = fields.String(allow_none=True)
    salesperson_id = fields.Integer(allow_none=True, strict=True, validate=ID_RANGE)
    probability = fields.Integer(allow_none=True, strict=True)
    notes = fields.String()
    branch_id = fields.Integer(allow_none=True, strict=True, validate=ID_RANGE)
    stage = fields.String()


class SalesOpportunityUpdateSchema(Schema):
    title = fields.String()
    brand = fields.String()
    model = fields.String()
    expected_value = DecimalString()
    currency = fields.String()
    expected_close_on = fields.String(allow_none=True)
    salesperson_id = fields.Integer(allow_none=True, strict=True, validate=ID_RANGE)
    probability = fields.Integer(allow_none=True, strict=True, metadata={
        "description": "percent; null goes back to the stage's default"})
    notes = fields.String()
    version = fields.Integer(load_default=None)


class SalesOpportunityMoveSchema(Schema):
    stage = fields.String(required=True, validate=validate.Length(min=1, max=32))
    lost_reason = fields.String(load_default=None)
    version = fields.Integer(load_default=None)


class SalesOpportunityLostSchema(Schema):
    lost_reason = fields.String(load_default=None)
    version = fields.Integer(load_default=None)


class SalesOpportunityWonSchema(Schema):
    version = fields.Integer(load_default=None)


class SalesPipelineArgs(Schema):
    branch = fields.Integer(validate=ID_RANGE)
    brand = fields.String(load_default="", validate=validate.Length(max=60))
    salesperson = fields.Integer(validate=ID_RANGE)


class SalesCurrencyTotalSchema(Schema):
    currency = fields.String()
    count = fields.Integer()
    value = DecimalString()
    weighted_value = DecimalString()


class SalesPipelineStageSummarySchema(Schema):
    stage = fields.String()
    label = fields.String()
    kind = fields.String()
    probability = fields.Integer()
    count = fields.Integer()
    value = DecimalString(metadata={"description": "in the base currency"})
    weighted_value = DecimalString()
    by_currency = fields.List(fields.Nested(SalesCurrencyTotalSchema))


class SalesPipelineTotalSchema(Schema):
    count = fields.Integer()
    value = DecimalString()
    weighted_value = DecimalString()


class SalesPipelineSchema(Schema):
    branch_id = fields.Integer(allow_none=True)
    brand = fields.String()
    currency = fields.String(metadata={"description": "the base currency of the sums"})
    stages = fields.List(fields.Nested(SalesPipelineStageSummarySchema))
    open = fields.Nested(SalesPipelineTotalSchema)
    unconverted = fields.List(fields.String())


class SalesStageNamesSchema(Schema):
    en = fields.String(load_default="", validate=validate.Length(max=names.MAX_NAME),
                       metadata={"description": "The name in English."})
    zh_Hans = fields.String(load_default="", validate=validate.Length(max=names.MAX_NAME),
                            metadata={"description": "The name in Simplified Chinese."})


class SalesStageSchema(Schema):
    code = fields.String(required=True)
    label = fields.String(load_default="", metadata={
        "description": "Read: the name in your language (else the other one's; a built-in "
                       "code without either: its built-in name). Written without "
                       "`labels`: one name, put in the language of its script."})
    labels = fields.Nested(SalesStageNamesSchema, metadata={
        "description": "The names saved per language; an empty one shows the other's. "
                       "Written, it wins over `label`."})
    probability = fields.Integer(load_default=0)
    kind = fields.String(load_default="open", validate=validate.OneOf(rules.KINDS))


class SalesStagesArgs(Schema):
    branch = fields.Integer(validate=ID_RANGE)
    brand = fields.String(load_default="", validate=validate.Length(max=60))


class SalesStagesSchema(Schema):
    stages = fields.List(fields.Nested(SalesStageSchema), required=True)
    version = fields.Integer(load_default=None, metadata={
        "description": "The version of the set you read (or If-Match); a set changed "
                       "meanwhile is a 409 with current_version. Without it the last "
                       "save wins."})


class SalesStagesOutSchema(Schema):
    stages = fields.List(fields.Nested(SalesStageSchema))
    version = fields.Integer(metadata={
        "description": "The version of the set saved for exactly this branch and make "
                       "(also the ETag): send it back with PUT."})
    inherited = fields.Boolean(metadata={
        "description": "No set is saved for exactly this branch and make: the stages are "
                       "a broader set's or the built-in ones."})


# --- helpers --------------------------------------------------------------------------------

def _user() -> Any:
    return current_user._get_current_object()


def opportunity_out(rows: list[SalesOpportunity]) -> list[dict[str, Any]]:
    """Opportunities as the API answers them, customers named as the reader may see them."""
    session = db.session()
    names = customer_names(session, current_user, {o.customer_id for o in rows})
    pipelines = rules.pipelines_of(session, rows)
    out = []
    for o in rows:
        stages = pipelines[o.id]
        out.append({**{c: getattr(o, c) for c in (
            "id", "customer_id", "prospect_id", "title", "brand", "model", "expected_value",
            "currency", "expected_close_on", "salesperson_id", "stage", "status",
            "probability", "probability_manual", "weighted_value", "lost_reason",
            "order_id", "notes", "branch_id", "stage_entered_at", "closed_at",
            "created_at", "version")},
            "customer_name": names.get(o.customer_id, ""),
            "stage_label": rules.stage_label(stages, o.stage),
            "allowed": rules.flow_of(stages, o).allowed(o.stage)})
    return out


def stages_out(branch_id: int | None, brand: str) -> tuple[dict[str, Any], int,
                                                          dict[str, str]]:
    """The stage set in force for ``branch_id``/``brand`` with the version of exactly
    that scope's saved set (what a PUT replaces), as body, status and ETag."""
    session = db.session()
    version = rules.stages_version(session, branch_id, brand)
    stages = [{"code": s.code, "label": s.label, "labels": s.labels,
               "probability": s.probability, "kind": s.kind}
              for s in rules.stages_for(session, branch_id, brand)]
    inherited = not rules.own_stages(session, branch_id, brand)
    return ({"stages": stages, "version": version, "inherited": inherited}, 200,
            {"ETag": etag(version)})


def _opportunity(opportunity_id: int) -> SalesOpportunity:
    return visible_or_404(SalesOpportunity, opportunity_id,
                          _("No opportunity with this id."))


def _scope_branch(args: dict[str, Any], key: str = "branch") -> int | None:
    """A branch filter the user may use: another branch's is a 422, not an empty answer."""
    branch_id = args.get(key)
    if branch_id is None:
        return None
    user = _user()
    if not (user.all_branches or user.is_superuser or branch_id in user.branch_ids):
        raise ValidationFailed(_("Choose a branch you work in."),
                               {key: _("Choose a branch you work in.")})
    return int(branch_id)


# --- routes ---------------------------------------------------------------------------------

@blp.route("/opportunities")
class Opportunities(MethodView):
    @require("sales.view")
    @blp.arguments(SalesOpportunityListArgs, location="query")
    @blp.response(200, SalesOpportunityPage)
    def get(self, args: dict[str, Any]) -> Any:
        """Opportunities in your branches, newest first, filtered as on the page;
        ``?format=`` exports the same rows."""
        listed = lists.prepare(OPPORTUNITIES, request.args, db.session(), _user())
        found = lists.page(listed, db.session(), args["page"], args["per_page"])
        return {"items": opportunity_out(list(found.items)), "total": found.total,
                "page": found.page, "per_page": found.per_page}

    @require("sales.opportunities")
    @blp.arguments(SalesOpportunityCreateSchema)
    @blp.response(201, SalesOpportunitySchema)
    def post(self, data: dict[str, Any]) -> Any:
        """Open an opportunity for a customer (their open prospect is linked by itself)."""
        with saving():
            opp = rules.create_opportunity(db.session(), data, user=_user())
        return opportunity_out([opp])[0], 201, etag_headers(opp)


@blp.route(f"/opportunities/<{ID}:opportunity_id>")
class Opportunity(MethodView):
    @require("sales.view")
    @blp.response(200, SalesOpportunitySchema)
    def get(self, opportunity_id: int) -> Any:
        opp = _opportunity(opportunity_id)
        return opportunity_out([opp])[0], 200, etag_headers(opp)

    @require("sales.opportunities")
    @blp.arguments(SalesOpportunityUpdateSchema)
    @blp.response(200, SalesOpportunitySchema)
    def patch(self, data: dict[str, Any], opportunity_id: int) -> Any:
        """Change what is known; send ``version`` (or ``If-Match``): a stale one is 409."""
        opp = _opportunity(opportunity_id)
        expected = expected_version(data.pop("version", None))
        with saving():
            rules.update_opportunity(db.session(), opp, data, user=_user(),
                                     expected_version=expected)
        return opportunity_out([opp])[0], 200, etag_headers(opp)


@blp.route(f"/opportunities/<{ID}:opportunity_id>/move")
class MoveOpportunity(MethodView):
    @require("sales.opportunities")
    @blp.arguments(SalesOpportunityMoveSchema)
    @blp.response(200, SalesOpportunitySchema)
    def post(self, data: dict[str, Any], opportunity_id: int) -> Any:
        """Move to a stage: 409 ``{"status", "allowed"}`` when the pipeline does not allow
        it; to the lost stage a ``lost_reason`` is required (422 without one)."""
        opp = _opportunity(opportunity_id)
        expected = expected_version(data.pop("version", None))
        with saving():
            opp = rules.move(db.session(), opp, data["stage"], user=_user(),
                             lost_reason=data.get("lost_reason"), expected_version=expected)
        return opportunity_out([opp])[0], 200, etag_headers(opp)


def _close(opportunity_id: int, outcome: str, data: dict[str, Any]) -> Any:
    """``/won`` and ``/lost``: the same close through the pipeline's won or lost stage,
    with the version the client read (a lost reason only matters to ``/lost``)."""
    opp = _opportunity(opportunity_id)
    expected = expected_version(data.pop("version", None))
    with saving():
        opp = rules.close(db.session(), opp, outcome, user=_user(),
                          lost_reason=data.get("lost_reason"), expected_version=expected)
    return opportunity_out([opp])[0], 200, etag_headers(opp)


@blp.route(f"/opportunities/<{ID}:opportunity_id>/won")
class WinOpportunity(MethodView):
    @require("sales.opportunities")
    @blp.arguments(SalesOpportunityWonSchema)
    @blp.response(200, SalesOpportunitySchema)
    def post(self, data: dict[str, Any], opportunity_id: int) -> Any:
        """Won: to the pipeline's won stage (409 when already closed)."""
        return _close(opportunity_id, rules.WON, data)


@blp.route(f"/opportunities/<{ID}:opportunity_id>/lost")
class LoseOpportunity(MethodView):
    @require("sales.opportunities")
    @blp.arguments(SalesOpportunityLostSchema)
    @blp.response(200, SalesOpportunitySchema)
    def post(self, data: dict[str, Any], opportunity_id: int) -> Any:
        """Lost, with a ``lost_reason`` from ``sales.lost_reasons`` (422 without one)."""
        return _close(opportunity_id, rules.LOST, data)


@blp.route("/pipeline")
class Pipeline(MethodView):
    @require("sales.view")
    @blp.arguments(SalesPipelineArgs, location="query")
    @blp.response(200, SalesPipelineSchema)
    def get(self, args: dict[str, Any]) -> Any:
        """Per stage of the pipeline of ``branch``/``brand``: count, value and weighted
        value of what stands there (your branches only), summed in the base currency."""
        branch_id = _scope_branch(args)
        return rules.summary(db.session(), _user(), branch_id=branch_id,
                             brand=args.get("brand", ""),
                             salesperson_id=args.get("salesperson"))


@blp.route("/pipeline/stages")
class PipelineStages(MethodView):
    @require("sales.view")
    @blp.arguments(SalesStagesArgs, location="query")
    @blp.response(200, SalesStagesOutSchema)
    def get(self, args: dict[str, Any]) -> Any:
        """The stages in force for ``branch``/``brand`` (the most specific set), named in
        your language, with the ``version`` a PUT of this scope sends back."""
        return stages_out(args.get("branch"), (args.get("brand") or "").strip())

    @require("sales.pipeline_setup")
    @blp.arguments(SalesStagesArgs, location="query")
    @blp.arguments(SalesStagesSchema)
    @blp.response(200, SalesStagesOutSchema)
    def put(self, args: dict[str, Any], data: dict[str, Any]) -> Any:
        """Replace the stage set of exactly this ``branch`` (none: every branch) and
        ``brand`` (empty: every make); an empty list removes it. Send the ``version`` you
        read (or ``If-Match``): a set changed meanwhile is a 409 with ``current_version``.
        An unknown ``branch`` is a 404, as an unknown record in the path is."""
        branch_id = record_id(args.get("branch"))
        if branch_id is not None and db.session().get(Branch, branch_id) is None:
            abort(404, message=_("No branch with this id."))
        brand = (args.get("brand") or "").strip()
        expected = expected_version(data.pop("version", None))
        with saving():
            rules.set_stages(db.session(), branch_id, brand, data["stages"], user=_user(),
                             expected_version=expected)
        return stages_out(branch_id, brand)
