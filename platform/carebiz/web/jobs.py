"""A background job's page: a progress bar that polls the API until the job ends."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app, render_template
from flask_login import current_user, login_required

from carebiz import db
from carebiz.jobs import task_registry, visible_job

bp = Blueprint("jobs", __name__, url_prefix="/jobs")


@bp.app_template_global()
def task_label(name: str) -> str:
    """A task's translated label for pages (its code name if its plugin is switched off)."""
    task = task_registry(current_app.extensions["carebiz"].host).get(name)
    return str(task.label) if task is not None else name


@bp.route("/<job_id>")
@login_required
def show(job_id: str) -> Any:
    job = visible_job(db.session(), job_id, current_user)
    if job is None:
        abort(404)
    return render_template("jobs/show.html", job=job)
