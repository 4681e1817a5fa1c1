"""The sales pages under ``/sales``: thin views over the services, forms with Flask-WTF,
lists from their list definitions (:mod:`.lists`), saves through
:func:`carebiz.toolkit.saving` (one commit; refusals shown next to the fields)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    DateTimeLocalField,
    DecimalField,
    HiddenField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import Optional

from carebiz import db, lists
from carebiz.concurrency import parse_version
from carebiz.toolkit import (
    aware,
    check_permission,
    form_status,
    local_now,
    require,
    saving,
    today,
    visible_or_404,
)
from carebiz.web.admin_forms import options

from . import dashboard_charts, views_funnel
from .labels import label
from .lists import PROSPECTS, RETURN_VISITS, SHOWROOM_VISITS, TEST_DRIVES, customer_names
from .models import SalesProspect, SalesReturnVisit, SalesTestDrive
from .services import dashboard as dashboard_rules
from .services import drives, funnel, showroom, visits
from .services import prospects as rules
from .services.choices import INDUSTRY_LIST, LOST_REASON_LIST, POINT_LIST, SOURCE_LIST

bp = Blueprint("sales", __name__, url_prefix="/sales", template_folder="templates")


@bp.context_processor
def _labels() -> dict[str, Any]:
    """``label(kind, code)`` in every sales page: people read labels, never codes."""
    return {"label": label}


def _user() -> Any:
    return current_user._get_current_object()


class ProspectForm(FlaskForm):
    """The walk-in form: name, phone and source are enough; the rest when known."""

    name = StringField(_l("Name"), render_kw={"autocomplete": "off"})
    phone = StringField(_l("Phone"), render_kw={"inputmode": "tel", "required": True})
    source = SelectField(_l("Source"))
    models_of_interest = StringField(_l("Models of interest"),
                                     description=_l("Comma-separated, e.g. Camry, RAV4"))
    points_of_interest = SelectMultipleField(_l("Points of interest"))
    budget = DecimalField(_l("Budget"), validators=[Optional()])
    industry = SelectField(_l("Industry"), validators=[Optional()])
    intended_purchase_on = DateField(_l("Intends to buy by"), validators=[Optional()])

    def fill(self) -> ProspectForm:
        session = db.session()
        self.source.choices = options(SOURCE_LIST.pairs(session))
        self.points_of_interest.choices = options(POINT_LIST.pairs(session))
        self.industry.choices = options([("", "—"), *INDUSTRY_LIST.pairs(session)])
        return self

    def values(self) -> dict[str, Any]:
        return {"name": self.name.data if self.name else None,
                "phone": self.phone.data if self.phone else None, "source": self.source.data,
                "models_of_interest": [m for m in (self.models_of_interest.data or "")
                                       .replace("，", ",").split(",") if m.strip()],
                "points_of_interest": self.points_of_interest.data or [],
                "budget": self.budget.data, "industry": self.industry.data or "",
                "intended_purchase_on": self.intended_purchase_on.data}


class ProspectEditForm(ProspectForm):
    """What was learnt about a prospect since: the walk-in form without the customer's own
    name and phone (those are the customer's, edited on the customer page), plus the
    version the editor saw, so a stale save is refused with a message instead of
    overwriting a colleague's change."""

    name = None  # type: ignore[assignment]
    phone = None  # type: ignore[assignment]
    notes = StringField(_l("Notes"), validators=[Optional()])
    version = HiddenField()

    def values(self) -> dict[str, Any]:
        values = super().values()
        values.pop("name"), values.pop("phone")
        values["notes"] = self.notes.data or ""
        return values


class CloseForm(FlaskForm):
    outcome = SelectField(_l("Outcome"), choices=options([("won", _l("Won")),
                                                          ("lost", _l("Deal lost"))]))
    lost_reason = SelectField(_l("Lost reason"), validators=[Optional()])
    version = HiddenField()


class VisitForm(FlaskForm):
    due_at = DateTimeLocalField(_l("Due"), format="%Y-%m-%dT%H:%M")
    channel = SelectField(_l("Channel"), choices=options(visits.CHANNELS.items()))
    notes = StringField(_l("Notes"), validators=[Optional()])


class VisitDoneForm(FlaskForm):
    outcome = SelectField(_l("Outcome"),
                          choices=options((k, v[0]) for k, v in visits.OUTCOMES.items()))
    notes = StringField(_l("Notes"), validators=[Optional()])
    next_due_at = DateTimeLocalField(_l("Next visit (appointment)"), format="%Y-%m-%dT%H:%M",
                                     validators=[Optional()])


class ShowroomForm(FlaskForm):
    party_size = IntegerField(_l("Party size"), default=1)
    customer_id = IntegerField(_l("Customer number"), validators=[Optional()])
    models = StringField(_l("Models looked at"), validators=[Optional()])
    outcome = SelectField(_l("Outcome"), choices=options(showroom.OUTCOMES.items()))


class DriveForm(FlaskForm):
    vehicle_id = IntegerField(_l("Demo car (vehicle number)"))
    customer_id = IntegerField(_l("Customer number"))
    starts_at = DateTimeLocalField(_l("From"), format="%Y-%m-%dT%H:%M")
    ends_at = DateTimeLocalField(_l("Until"), format="%Y-%m-%dT%H:%M")
    licence_number = StringField(_l("Driving licence number"))
    licence_expiry = DateField(_l("Licence valid until"))
    waiver_signed = BooleanField(_l("Waiver signed"))


class OdometerForm(FlaskForm):
    odometer_km = IntegerField(_l("Odometer (km)"))
    feedback = TextAreaField(_l("Feedback"), validators=[Optional()])


def _listed(definition: Any) -> tuple[Any, Any]:
    listed = lists.prepare(definition, request.args, db.session(), current_user)
    page = lists.page(listed, db.session(), request.args.get("page", 1, type=int) or 1,
                      clamp=True)
    return listed, page


@bp.get("/")
@require("sales.view")
def dashboard() -> Any:
    """Today's work: the day's figures, the charts of the month's deals, visits due."""
    day = today()
    figures = dashboard_rules.dashboard(db.session(), current_user, day)
    due = lists.prepare(RETURN_VISITS, {"status": "open", "due_to": day.isoformat(),
                                        "mine": "1"}, db.session(), current_user)
    due_page = lists.page(due, db.session(), 1, 20)
    names = customer_names(db.session(), current_user, {v.customer_id for v in due_page.items})
    first = dt.date.fromisoformat(figures["period"]["from"])
    steps = funnel.funnel(db.session(), current_user, first, day)["total"]
    charts = _charts(figures, day)
    charts["funnel"] = dashboard_charts.funnel(steps, "") if steps[0]["count"] else None
    return render_template("sales/dashboard.html", figures=figures, day=day, due=due_page,
                           names=names, is_overdue=visits.is_overdue,
                           form=ProspectForm().fill(), charts=charts, funnel_steps=steps,
                           step_args=views_funnel.step_args, funnel_from=first)


def _charts(figures: dict[str, Any], day: Any) -> dict[str, Any]:
    """The dashboard's pygal charts (only of breakdowns that have deals: an empty chart
    says less than the page's "no deals" line)."""
    drawn: dict[str, Any] = {
        name: dashboard_charts.breakdown(figures[key], "") if figures[key] else None
        for name, key in (("source", "by_source"), ("salesperson", "by_salesperson"),
                          ("industry", "by_industry"), ("point", "by_point_of_interest"),
                          ("model", "by_model"))}
    drawn["trend"] = dashboard_charts.trend(
        dashboard_rules.won_lost_trend(db.session(), current_user, day), "")
    return drawn


@bp.route("/prospects", methods=["GET", "POST"])
@require("sales.view")
def prospects() -> Any:
    form = ProspectForm().fill()
    if form.is_submitted():
        check_permission("sales.prospects")
    if form.validate_on_submit():
        with saving(form) as done:
            prospect, _created = rules.register_prospect(db.session(), form.values(),
                                                         user=_user())
        if done.ok:
            return redirect(url_for(".prospect", prospect_id=prospect.id))
    listed, page = _listed(PROSPECTS)
    names = customer_names(db.session(), current_user, {p.customer_id for p in page.items})
    return render_template("sales/prospects.html", form=form, listed=listed, page=page,
                           names=names, sources=SOURCE_LIST, points=POINT_LIST,
                           statuses=rules.STATUSES), form_status(form)


@bp.get("/prospects/<int:prospect_id>")
@require("sales.view")
def prospect(prospect_id: int) -> Any:
    found = visible_or_404(SalesProspect, prospect_id)
    return _prospect_page(found, CloseForm(), VisitForm(data={"due_at": local_now()}))


def _prospect_page(found: SalesProspect, close: CloseForm, visit: VisitForm,
                   status: int = 200) -> Any:
    session = db.session()
    close.lost_reason.choices = options([("", "—"), *LOST_REASON_LIST.pairs(session)])
    close.version.data = str(found.version)
    found_visits = list(session.scalars(
        lists.prepare(RETURN_VISITS, {"prospect_id": str(found.id)}, session,
                      current_user).stmt))
    names = customer_names(session, current_user, [found.customer_id])
    return render_template("sales/prospect.html", prospect=found, close=close, visit=visit,
                           done=VisitDoneForm(), visits=found_visits,
                           customer_name=names.get(found.customer_id, ""),
                           allowed=rules.PROSPECT_FLOW.allowed(found.status),
                           sources=SOURCE_LIST, points=POINT_LIST, reasons=LOST_REASON_LIST,
                           industries=INDUSTRY_LIST, day=today(),
                           is_overdue=visits.is_overdue,
                           outcome_label=visits.outcome_label), status


@bp.route("/prospects/<int:prospect_id>/edit", methods=["GET", "POST"])
@require("sales.prospects")
def edit_prospect(prospect_id: int) -> Any:
    """The versioned edit form: a save against a version someone else has changed since is
    refused (409) with the core's conflict message beside the form, the edits kept on
    screen to re-apply."""
    found = visible_or_404(SalesProspect, prospect_id)
    form = ProspectEditForm(obj=found) if request.method == "GET" else ProspectEditForm()
    form.fill()
    if request.method == "GET":
        form.models_of_interest.data = ", ".join(found.models_of_interest or [])
        form.version.data = str(found.version)
    if form.validate_on_submit():
        with saving(form) as done:
            rules.update_prospect(db.session(), found, form.values(), user=_user(),
                                  expected_version=parse_version(form.version.data))
        if done.ok:
            return redirect(url_for(".prospect", prospect_id=prospect_id))
    return render_template("sales/prospect_edit.html", prospect=found, form=form
                           ), form_status(form)


@bp.post("/prospects/<int:prospect_id>/close")
@require("sales.prospects")
def close(prospect_id: int) -> Any:
    found = visible_or_404(SalesProspect, prospect_id)
    form = CloseForm()
    form.lost_reason.choices = options([("", "—"),
                                        *LOST_REASON_LIST.pairs(db.session())])
    if form.validate_on_submit():
        with saving(form) as done:
            rules.close_prospect(db.session(), found, outcome=form.outcome.data,
                                 lost_reason=form.lost_reason.data, user=_user(),
                                 expected_version=parse_version(form.version.data))
        if done.ok:
            return redirect(url_for(".prospect", prospect_id=prospect_id))
    return _prospect_page(found, form, VisitForm(), form_status(form) or 422)


@bp.post("/prospects/<int:prospect_id>/<any(approve,reject,reopen):action>")
@require("sales.prospects")
def act(prospect_id: int, action: str) -> Any:
    found = visible_or_404(SalesProspect, prospect_id)
    with saving():
        rules.transition(db.session(), found, action, user=_user())
    return redirect(url_for(".prospect", prospect_id=prospect_id))


@bp.post("/prospects/<int:prospect_id>/visits")
@require("sales.prospects")
def plan_visit(prospect_id: int) -> Any:
    found = visible_or_404(SalesProspect, prospect_id)
    form = VisitForm()
    if form.validate_on_submit():
        with saving(form) as done:
            visits.schedule_visit(db.session(), found, due_at=aware(form.due_at.data),
                                  channel=form.channel.data, notes=form.notes.data or "",
                                  user=_user())
        if done.ok:
            return redirect(url_for(".prospect", prospect_id=prospect_id))
    return _prospect_page(found, CloseForm(), form, form_status(form) or 422)


@bp.post("/return-visits/<int:visit_id>/done")
@require("sales.prospects")
def visit_done(visit_id: int) -> Any:
    visit = visible_or_404(SalesReturnVisit, visit_id)
    form = VisitDoneForm()
    if form.validate_on_submit():
        with saving():
            visits.complete_visit(db.session(), visit, outcome=form.outcome.data,
                                  notes=form.notes.data or "", user=_user(),
                                  next_due_at=aware(form.next_due_at.data))
    return redirect(request.form.get("next") and url_for(".return_visits")
                    or url_for(".prospect", prospect_id=visit.prospect_id))


@bp.get("/return-visits")
@require("sales.view")
def return_visits() -> Any:
    listed, page = _listed(RETURN_VISITS)
    names = customer_names(db.session(), current_user, {v.customer_id for v in page.items})
    return render_template("sales/return_visits.html", listed=listed, page=page, names=names,
                           day=today(), is_overdue=visits.is_overdue,
                           outcome_label=visits.outcome_label, done=VisitDoneForm())


@bp.route("/showroom", methods=["GET", "POST"])
@require("sales.view")
def showroom_log() -> Any:
    form = ShowroomForm()
    if form.is_submitted():
        check_permission("sales.showroom")
    if form.validate_on_submit():
        with saving(form) as done:
            showroom.log_visit(db.session(), {
                "party_size": form.party_size.data, "customer_id": form.customer_id.data,
                "models": [m for m in (form.models.data or "").split(",") if m.strip()],
                "outcome": form.outcome.data}, user=_user())
        if done.ok:
            return redirect(url_for(".showroom_log"))
    listed, page = _listed(SHOWROOM_VISITS)
    return render_template("sales/showroom.html", form=form, listed=listed, page=page,
                           outcomes=showroom.OUTCOMES), form_status(form)


@bp.route("/test-drives", methods=["GET", "POST"])
@require("sales.view")
def test_drives_page() -> Any:
    form = DriveForm()
    if form.is_submitted():
        check_permission("sales.showroom")
    if form.validate_on_submit():
        with saving(form) as done:
            drive = drives.book_drive(db.session(), {
                "vehicle_id": form.vehicle_id.data, "customer_id": form.customer_id.data,
                "starts_at": aware(form.starts_at.data), "ends_at": aware(form.ends_at.data),
                "licence_number": form.licence_number.data,
                "licence_expiry": form.licence_expiry.data,
                "waiver_signed": form.waiver_signed.data}, user=_user())
        if done.ok:
            return redirect(url_for(".test_drive", drive_id=drive.id))
    listed, page = _listed(TEST_DRIVES)
    names = customer_names(db.session(), current_user, {d.customer_id for d in page.items})
    return render_template("sales/test_drives.html", form=form, listed=listed, page=page,
                           names=names), form_status(form)


@bp.route("/test-drives/<int:drive_id>", methods=["GET", "POST"])
@require("sales.view")
def test_drive(drive_id: int) -> Any:
    drive = visible_or_404(SalesTestDrive, drive_id)
    form = OdometerForm()
    if form.is_submitted():
        check_permission("sales.showroom")
    if form.validate_on_submit():
        with saving(form) as done:
            if drive.status == "booked":
                drives.start_drive(db.session(), drive, odometer_out=form.odometer_km.data,
                                        user=_user(), waiver_signed=True)
            else:
                drives.return_car(db.session(), drive, odometer_in=form.odometer_km.data,
                                       feedback=form.feedback.data or "", user=_user())
        if done.ok:
            return redirect(url_for(".test_drive", drive_id=drive_id))
    names = customer_names(db.session(), current_user, [drive.customer_id])
    return render_template("sales/test_drive.html", drive=drive, form=form,
                           customer_name=names.get(drive.customer_id, "")), form_status(form)
