"""The start page: a dashboard of the user's work. Each switched-on subsystem puts what it
wants the user to see first (follow-ups due and overdue, recent records …) through the
``home_widgets`` hook; a failing subsystem's widget reads "unavailable" and the rest of the
page stands. Below: the user's recent background jobs and the links to every page."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, render_template
from flask_login import current_user, login_required
from sqlalchemy import select

from carebiz import db
from carebiz.models import Job

bp = Blueprint("home", __name__, template_folder="templates")


@bp.route("/")
@login_required
def index() -> Any:
    sess = db.session()
    user = current_user._get_current_object()
    widgets = current_app.extensions["carebiz"].host.collect("home_widgets", session=sess,
                                                             user=user)
    jobs = sess.scalars(
        select(Job).where(Job.created_by == current_user.id)
        .order_by(Job.created_at.desc()).limit(5)
    ).all()
    return render_template("home.html", jobs=jobs, widgets=widgets)
