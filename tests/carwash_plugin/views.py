"""Pages: the list of wash tickets with a form to open one, and a ticket's own page."""

from typing import Any

from flask import Blueprint, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import IntegerField, SelectField, StringField
from wtforms.validators import Optional

from carebiz import db, lists
from carebiz.toolkit import check_permission, form_status, require, saving, visible_or_404

from . import services
from .models import WashTicket
from .ticket_list import TICKETS

bp = Blueprint("wash", __name__, url_prefix="/wash", template_folder="templates")


class TicketForm(FlaskForm):
    FIELDS = ("customer_id", "vehicle_id", "plate", "program")
    customer_id = IntegerField(_l("Customer number"))
    vehicle_id = IntegerField(_l("Vehicle number"), validators=[Optional()])
    plate = StringField(_l("Plate"))
    program = SelectField(_l("Program"), choices=list(services.PROGRAMS))


@bp.route("/", methods=["GET", "POST"])
@require("wash.view")
def index() -> Any:
    form = TicketForm()
    if form.is_submitted():
        check_permission("wash.wash")
    if form.validate_on_submit():
        with saving(form) as done:
            ticket = services.create_ticket(db.session(), user=current_user._get_current_object(),
                                            **{k: form.data[k] for k in TicketForm.FIELDS})
        if done.ok:
            return redirect(url_for(".ticket", ticket_id=ticket.id))
    listed = lists.prepare(TICKETS, request.args, db.session(), current_user)
    page = lists.page(listed, db.session(), request.args.get("page", 1, type=int) or 1,
                      clamp=True)
    return render_template("wash/index.html", page=page, listed=listed,
                           form=form), form_status(form)


@bp.get("/tickets/<int:ticket_id>")
@require("wash.view")
def ticket(ticket_id: int) -> Any:
    return render_template("wash/ticket.html", ticket=visible_or_404(WashTicket, ticket_id))


@bp.post("/tickets/<int:ticket_id>/finish")
@require("wash.wash")
def finish(ticket_id: int) -> Any:
    record = visible_or_404(WashTicket, ticket_id)
    with saving():
        services.finish_ticket(db.session(), record, current_user._get_current_object())
    return redirect(url_for(".ticket", ticket_id=ticket_id))
