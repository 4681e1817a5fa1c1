"""The pipeline pages under ``/sales``: the kanban board (``/sales/pipeline``), the
opportunity list with its "open an opportunity" form, and one opportunity's page.

Moving a card is a plain form post (``POST /sales/pipeline/<id>/move`` with ``stage``,
``version`` and, to the lost stage, ``lost_reason``): every card carries that form, so the
board works without JavaScript; ``static/pipeline.js`` only lets a card be dragged onto a
column and then submits the same form. A refused move comes back as the service's message.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from flask import Blueprint, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import or_, select
from wtforms import DateField, DecimalField, HiddenField, IntegerField, SelectField, StringField
from wtforms.validators import NumberRange, Optional

from carebiz import db, lists
from carebiz.concurrency import VersionConflict, parse_version
from carebiz.currency.format import format_money
from carebiz.currency.rates import base_currency
from carebiz.models import Branch, User
from carebiz.security.rows import visible
from carebiz.services.branches import usable_branches
from carebiz.toolkit import (
    check_permission,
    form_status,
    record_id,
    require,
    safe_next,
    saving,
    today,
    visible_or_404,
)

from .lists import OPPORTUNITIES, customer_names
from .models import SalesOpportunity
from .services import opportunities as rules
from .services import stage_names as names
from .services.choices import LOST_REASON_LIST

bp = Blueprint("sales_pipeline", __name__, url_prefix="/sales", template_folder="templates",
               static_folder="static", static_url_path="/pipeline-static")

#: how long won and lost cards stay on the board
CLOSED_DAYS = 30


def _user() -> Any:
    return current_user._get_current_object()


class MoveForm(FlaskForm):
    stage = SelectField(_l("Move to"), validate_choice=False)
    lost_reason = SelectField(_l("Lost reason"), validators=[Optional()], validate_choice=False)
    version = HiddenField()
    next = HiddenField()


class OpportunityForm(FlaskForm):
    """Opening or editing an opportunity (the customer only when opening)."""

    customer_id = IntegerField(_l("Customer number"), validators=[Optional()])
    brand = StringField(_l("Make"), validators=[Optional()])
    model = StringField(_l("Model of interest"), validators=[Optional()])
    title = StringField(_l("Title"), validators=[Optional()])
    expected_value = DecimalField(_l("Expected value"), validators=[Optional()])
    currency = StringField(_l("Currency"), default="CNY")
    expected_close_on = DateField(_l("Expected close"), validators=[Optional()])
    salesperson_id = SelectField(_l("Salesperson"), validators=[Optional()],
                                 validate_choice=False)
    probability = IntegerField(_l("Probability % (empty: the stage's)"),
                               validators=[Optional(), NumberRange(0, 100)])
    branch_id = SelectField(_l("Branch"), validators=[Optional()], validate_choice=False)
    notes = StringField(_l("Notes"), validators=[Optional()])
    version = HiddenField()

    def fill(self) -> OpportunityForm:
        session = db.session()
        self.salesperson_id.choices = [("", "—"), *_salespeople(session)]
        self.branch_id.choices = [("", "—"), *[(str(b.id), b.name) for b in
                                                usable_branches(session, _user())]]
        return self

    def values(self, creating: bool) -> dict[str, Any]:
        out = {"brand": self.brand.data or "", "model": self.model.data or "",
               "title": self.title.data or "",
               "expected_value": self.expected_value.data or 0,
               "currency": self.currency.data or "CNY",
               "expected_close_on": self.expected_close_on.data,
               "salesperson_id": self.salesperson_id.data or None,
               "probability": self.probability.data, "notes": self.notes.data or ""}
        if creating:
            out["customer_id"] = self.customer_id.data
            out["branch_id"] = self.branch_id.data or None
        return out


def _salespeople(session: Any) -> list[tuple[str, str]]:
    """Active people of the reader's branches (or everyone for company-wide readers)."""
    user = _user()
    stmt = select(User).where(User.active.is_(True)).order_by(User.username)
    people = session.scalars(stmt.limit(500)).all()
    if not (user.all_branches or user.is_superuser):
        mine = set(user.branch_ids)
        people = [p for p in people if p.all_branches or set(p.branch_ids) & mine]
    return [(str(p.id), p.username) for p in people]


def _filters() -> dict[str, Any]:
    branches = {b.id: b for b in usable_branches(db.session(), _user())}
    branch_id = record_id(request.args.get("branch_id"))
    return {"branch_id": branch_id if branch_id in branches else None,
            "brand": (request.args.get("brand") or "").strip()[:60],
            "salesperson_id": record_id(request.args.get("salesperson_id")),
            "branches": list(branches.values())}


@bp.get("/pipeline")
@require("sales.view")
def board() -> Any:
    """The kanban: open cards and the last month's won and lost ones, a board per pipeline
    they run through (under "All my branches" a Toyota store's and a BYD store's cards each
    stand in their own stages), a column per stage with count, value and weighted value."""
    session = db.session()
    f = _filters()
    since = dt.datetime.now(dt.UTC) - dt.timedelta(days=CLOSED_DAYS)
    stmt = select(SalesOpportunity).where(or_(SalesOpportunity.status == rules.OPEN,
                                              SalesOpportunity.closed_at >= since))
    if f["branch_id"]:
        stmt = stmt.where(SalesOpportunity.branch_id == f["branch_id"])
    if f["brand"]:
        stmt = stmt.where(SalesOpportunity.brand.ilike(f["brand"]))
    if f["salesperson_id"]:
        stmt = stmt.where(SalesOpportunity.salesperson_id == f["salesperson_id"])
    rows = list(session.scalars(visible(stmt, SalesOpportunity, _user()).order_by(
        SalesOpportunity.expected_close_on.is_(None), SalesOpportunity.expected_close_on,
        SalesOpportunity.id).limit(1000)).all())
    boards, unconverted = rules.boards(session, rows, branch_id=f["branch_id"],
                                       brand=f["brand"])
    names = customer_names(session, current_user, {o.customer_id for o in rows})
    people = dict(session.execute(select(User.id, User.username).where(
        User.id.in_({o.salesperson_id for o in rows if o.salesperson_id}))).all())
    branch_names = dict(session.execute(select(Branch.id, Branch.name).where(
        Branch.id.in_({o.branch_id for o in rows}))).all())
    open_cards = [c for b in boards for col in b.columns for c in col.cards
                  if c.status == rules.OPEN]
    totals = {"count": len(open_cards),
              "value": sum((col.value for b in boards for col in b.columns
                            if col.stage is None or col.stage.kind == rules.OPEN), Decimal(0)),
              "weighted_value": sum((col.weighted_value for b in boards for col in b.columns
                                     if col.stage is None or col.stage.kind == rules.OPEN),
                                    Decimal(0))}
    return render_template(
        "sales/pipeline.html", boards=boards, names=names, people=people, filters=f,
        totals=totals, currency=base_currency(session), unconverted=unconverted,
        titles=[", ".join(" · ".join(p for p in (branch_names.get(branch, ""), brand) if p)
                          for branch, brand in b.scopes) for b in boards],
        salespeople=_salespeople(session), reasons=LOST_REASON_LIST.pairs(session),
        money=format_money, age=rules.age_days, day=today(),
        here=request.full_path.rstrip("?"),
        can_move=current_user.is_authenticated and _can("sales.opportunities"))


def _can(permission: str) -> bool:
    from carebiz.security import can

    return bool(can(_user(), permission))


@bp.post("/pipeline/<int:opportunity_id>/move")
@require("sales.opportunities")
def move(opportunity_id: int) -> Any:
    """A card moved (by a drop or by its form): the transition with the version read."""
    found = visible_or_404(SalesOpportunity, opportunity_id)
    form = MoveForm()
    back = safe_next(form.next.data) or url_for(".board")
    if form.validate_on_submit():
        with saving():
            rules.move(db.session(), found, form.stage.data, user=_user(),
                       lost_reason=form.lost_reason.data or None,
                       expected_version=parse_version(form.version.data))
    return redirect(back)


@bp.route("/opportunities", methods=["GET", "POST"])
@require("sales.view")
def opportunities() -> Any:
    form = OpportunityForm().fill()
    if request.method == "GET" and request.args.get("customer_id"):
        form.customer_id.data = record_id(request.args.get("customer_id"))
    if form.is_submitted():
        check_permission("sales.opportunities")
    if form.validate_on_submit():
        with saving(form) as done:
            opp = rules.create_opportunity(db.session(), form.values(creating=True),
                                           user=_user())
        if done.ok:
            return redirect(url_for(".opportunity", opportunity_id=opp.id))
    session = db.session()
    listed = lists.prepare(OPPORTUNITIES, request.args, session, current_user)
    page = lists.page(listed, session, request.args.get("page", 1, type=int), 50)
    names = customer_names(session, current_user, {o.customer_id for o in page.items})
    pipelines = rules.pipelines_of(session, page.items)
    return render_template("sales/pipeline_list.html", form=form, listed=listed, page=page,
                           names=names, money=format_money, statuses=rules.STATUS_LABELS,
                           stage_of=lambda o: rules.stage_label(pipelines[o.id], o.stage)
                           ), form_status(form)


@bp.route("/opportunities/<int:opportunity_id>", methods=["GET", "POST"])
@require("sales.view")
def opportunity(opportunity_id: int) -> Any:
    found = visible_or_404(SalesOpportunity, opportunity_id)
    session = db.session()
    form = OpportunityForm(obj=None if request.method == "POST" else found).fill()
    if request.method == "GET":
        form.salesperson_id.data = str(found.salesperson_id or "")
        form.probability.data = found.probability if found.probability_manual else None
        form.version.data = str(found.version)
    if form.is_submitted():
        check_permission("sales.opportunities")
    if form.validate_on_submit():
        with saving(form) as done:
            rules.update_opportunity(session, found, form.values(creating=False),
                                     user=_user(),
                                     expected_version=parse_version(form.version.data))
        if done.ok:
            return redirect(url_for(".opportunity", opportunity_id=opportunity_id))
    stages = rules.stages_for(session, found.branch_id, found.brand)
    names = customer_names(session, current_user, [found.customer_id])
    seller = session.get(User, found.salesperson_id) if found.salesperson_id else None
    return render_template(
        "sales/pipeline_item.html", opp=found, form=form, stages=stages,
        allowed=rules.flow_of(stages, found).allowed(found.stage),
        label_for=rules.flow(stages).label,
        stage_label={s.code: s.label for s in stages}, statuses=rules.STATUS_LABELS,
        customer_name=names.get(found.customer_id, ""), seller=seller,
        reasons=LOST_REASON_LIST.pairs(session), money=format_money,
        age=rules.age_days(found), can_move=_can("sales.opportunities"),
        here=url_for(".opportunity", opportunity_id=found.id)), form_status(form)


class StagesForm(FlaskForm):
    """The setup form's CSRF token and version; the stage rows are read from
    ``code-<i>``, ``label_en-<i>`` and ``label_zh-<i>`` (the name per language),
    ``probability-<i>``, ``position-<i>`` and ``kind-<i>`` (any number of rows; a row
    without a code or a name is left out)."""

    version = HiddenField()


#: empty rows the setup form offers after the stages, for adding some
SPARE_ROWS = 2


def _typed_rows() -> list[dict[str, str]]:
    """The stage rows as typed, in the order given by their ``position`` (then as shown)."""
    rows = []
    i = 0
    while f"code-{i}" in request.form and i < 50:
        row = {k: (request.form.get(f"{k}-{i}") or "").strip()
               for k in ("code", "label_en", "label_zh", "probability", "position", "kind")}
        row["index"] = str(i)
        i += 1
        if row["code"] or row["label_en"] or row["label_zh"]:
            rows.append(row)

    def order(row: dict[str, str]) -> tuple[int, int]:
        try:
            return int(row["position"]), int(row["index"])
        except ValueError:
            return 10_000, int(row["index"])

    return sorted(rows, key=order)


@bp.route("/pipeline/setup", methods=["GET", "POST"])
@require("sales.pipeline_setup")
def setup() -> Any:
    """Set up the stages of one branch (or every branch) and make (or every make): name,
    probability, order and won/lost per stage, saved as one set with its version (a set
    changed meanwhile is a 409 that keeps what was typed)."""
    session = db.session()
    f = _filters()
    branch_id, brand = f["branch_id"], f["brand"]
    form = StagesForm()
    row_errors: dict[int, dict[str, str]] = {}
    status, inherited, set_error = 200, False, ""
    if form.validate_on_submit():
        typed = _typed_rows()
        with saving() as done:
            rules.set_stages(session, branch_id, brand, [
                {"code": r["code"], "kind": r["kind"] or rules.OPEN,
                 "labels": {names.EN: r["label_en"], names.ZH: r["label_zh"]},
                 "probability": r["probability"] or 0} for r in typed],
                user=_user(), expected_version=parse_version(form.version.data))
        if done.ok:
            return redirect(url_for(".setup", branch_id=branch_id or "", brand=brand))
        error = done.error
        status = 409 if isinstance(error, VersionConflict) else 422
        if isinstance(error, VersionConflict):
            form.version.data = str(error.details.get("current_version") or "")
        for key, message in (getattr(error, "errors", None) or {}).items():
            if key.startswith("stages[") and "]." in key:
                number, field_name = key[len("stages["):].split("].", 1)
                row_errors.setdefault(int(number), {})[field_name] = str(message)
        set_error = str((getattr(error, "errors", None) or {}).get("stages") or "")
        rows = typed
    else:
        own = rules.own_stages(session, branch_id, brand)
        # the set in force, to start from: a broader saved set's names come along (the
        # built-in stages have none saved, so they keep their built-in names)
        stages = rules.stages_for(session, branch_id, brand)
        rows = [{"code": s.code, "label_en": s.label_en, "label_zh": s.label_zh,
                 "kind": s.kind,
                 "probability": str(s.probability), "position": str(i + 1)}
                for i, s in enumerate(stages)]
        form.version.data = str(rules.stages_version(session, branch_id, brand))
        inherited = not own
    blank = {"code": "", "label_en": "", "label_zh": "", "kind": rules.OPEN,
             "probability": "", "position": ""}
    rows = [*rows, *(dict(blank) for _i in range(SPARE_ROWS))]
    return render_template(
        "sales/pipeline_setup.html", form=form, rows=rows, row_errors=row_errors,
        filters=f, kinds=rules.STATUS_LABELS, inherited=inherited, set_error=set_error,
        builtin={code: names.in_each_language(label)
                 for code, (label, _p, _k) in rules.DEFAULT_STAGES.items()},
        languages={names.EN: _l("Name in English"), names.ZH: _l("Name in Chinese")},
        en=names.EN, zh=names.ZH), status
