"""A background job's page: a progress bar that polls the API until the job ends."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, render_template
from flask_login import current_user, login_required

from carebiz import db
from carebiz.models import Job
from carebiz.security import can

bp = Blueprint("jobs", __name__, url_prefix="/jobs")


@bp.route("/<job_id>")
@login_required
def show(job_id: str) -> Any:
    job = db.session().get(Job, job_id)
    if job is None or (job.created_by != current_user.id and not can(current_user, "jobs.view")):
        abort(404)
    return render_template("jobs/show.html", job=job)
