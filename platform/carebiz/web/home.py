"""The start page: what the user can reach, and their recent background jobs."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template
from flask_login import current_user, login_required
from sqlalchemy import select

from carebiz import db
from carebiz.models import Job

bp = Blueprint("home", __name__, template_folder="templates")


@bp.route("/")
@login_required
def index() -> Any:
    jobs = db.session().scalars(
        select(Job).where(Job.created_by == current_user.id)
        .order_by(Job.created_at.desc()).limit(5)
    ).all()
    return render_template("home.html", jobs=jobs)
