"""Import pages for customers and vehicles: upload, the dry-run report, the import itself.

Both the check and the import run as background jobs (task ``crm.import``): a file of 50,000
rows takes minutes either way, longer than a page request may wait. The upload is checked
for readability at once, so a wrong file is refused next to the field; it is then stored in
the instance folder under a random name and the dry-run job's page shows the progress bar
until the report is ready. "Import" takes that same stored file (never a name or path from
the form) for the import job and sends the user to its job page.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, SelectField

from carebiz import db
from carebiz.crm import importing
from carebiz.errors import ServiceError
from carebiz.export.csv_format import inert
from carebiz.jobs import submit, visible_job
from carebiz.models import Job
from carebiz.models.job import FINISHED
from carebiz.security import require
from carebiz.toolkit import form_status
from carebiz.web.admin_forms import options
from carebiz.web.limits import large_upload

bp = Blueprint("crm_import", __name__, url_prefix="/import", template_folder="templates")

PERMISSION = "crm.customers.import"
TASK = "crm.import"
#: bad rows listed on the page; all of them are in the CSV download
SHOWN_ERRORS = 1000
SHOWN_MATCHES = 200


class ImportForm(FlaskForm):
    file = FileField(_l("File (CSV or Excel .xlsx)"),
                     validators=[FileRequired(_l("Choose a file."))],
                     description=_l("At most 50,000 rows and 20 MB. The first row names the "
                                    "columns; the template shows them."))
    rows = SelectField(_l("The rows hold"), default="customers", choices=options([
        ("customers", _l("Customers, each with a vehicle where the row has a VIN"))]))
    on_existing = SelectField(
        _l("When a row has the phone or ID number of a customer on file"), default="attach",
        choices=options([("attach", _l("Add the row's vehicle to that customer")),
                         ("skip", _l("Skip the row")),
                         ("create", _l("Register a new customer anyway"))]))
    only_valid = BooleanField(_l("Import the valid rows even when some rows are not valid"))


def _locale() -> str:
    return str(get_locale() or "en")


def _display_name(filename: str | None) -> str:
    """The user's file name, for display only (it never becomes a path)."""
    return (filename or "").replace("\\", "/").rsplit("/", 1)[-1][:200]


@bp.route("", methods=["GET", "POST"])
@large_upload
@require(PERMISSION)
def upload() -> Any:
    """The upload form; a readable file is stored and checked by a dry-run job."""
    form = ImportForm()
    if form.validate_on_submit():
        storage = form.file.data
        filename = _display_name(storage.filename)
        try:
            data = importing.read_stream(storage.stream)
            importing.read_table(data, filename, sample=1)
            name = importing.store_upload(current_app.instance_path, data, filename)
        except ServiceError as exc:
            form.file.errors = [*form.file.errors, exc.message]
        else:
            job = submit(db.session(), TASK, {
                "upload": name, "dry_run": True, "rows": form.rows.data,
                "on_existing": form.on_existing.data, "only_valid": form.only_valid.data,
                "filename": filename, "locale": _locale()}, user_id=current_user.id)
            return redirect(url_for(".report", job_id=job.id))
    return render_template("crm_import/upload.html", form=form), form_status(form)


@bp.route("/template.csv")
@require(PERMISSION)
def template() -> Response:
    """An empty file with the headers the importer knows, in the user's language, with a
    BOM so Excel shows Chinese headers correctly when it opens the file."""
    headers = importing.template_headers(db.session(), _locale())
    return _csv_response([headers], "customers-template.csv")


def _csv_response(rows: list[list[Any]], filename: str) -> Response:
    """A CSV download Excel opens correctly (BOM). Cells that Excel would run as a formula
    (a header from the uploaded file such as ``=HYPERLINK(…)``) are quoted with ``'``."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerows([[inert(cell) for cell in row] for row in rows])
    return Response("\ufeff" + buffer.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": f"attachment; filename={filename}"})


def _check_job(job_id: str) -> Job:
    """A dry-run job of this importer that the user may see (``carebiz.jobs.access``: their
    own; administrators: all); anything else is a 404, as on the job pages."""
    job = visible_job(db.session(), job_id, current_user)
    if job is None or job.task != TASK or not (job.params or {}).get("dry_run"):
        abort(404)
    return job


@bp.route("/<job_id>")
@require(PERMISSION)
def report(job_id: str) -> Any:
    """The dry-run report: a progress bar while the check runs, then the bad rows, the
    warnings, what would happen, and the button that imports."""
    job = _check_job(job_id)
    result = job.result if job.status == FINISHED and isinstance(job.result, dict) else None
    return render_template("crm_import/report.html", job=job, report=result,
                           filename=(job.params or {}).get("filename", ""),
                           shown_errors=SHOWN_ERRORS, shown_matches=SHOWN_MATCHES,
                           importable=_importable(result))


def _importable(result: dict[str, Any] | None) -> int:
    """How many rows an import would write: all when the file is valid, else the valid ones
    (imported only on request)."""
    if not result:
        return 0
    counts = result.get("counts", {})
    return int(result.get("rows", 0)) - int(counts.get("invalid", 0)) - int(
        counts.get("skip", 0))


@bp.route("/<job_id>/errors.csv")
@require(PERMISSION)
def errors_csv(job_id: str) -> Response:
    """Every bad row of a dry run, to fix the file beside the list."""
    job = _check_job(job_id)
    result = job.result if isinstance(job.result, dict) else {}
    rows: list[list[Any]] = [[_("Row"), _("Column"), _("Reason")]]
    rows += [[e.get("row"), e.get("column"), e.get("reason")] for e in result.get("errors", [])]
    return _csv_response(rows, "import-errors.csv")


@bp.route("/<job_id>/import", methods=["POST"])
@require(PERMISSION)
def run(job_id: str) -> Any:
    """Import the file a dry run checked, as a background job with the same options (and
    ``only_valid`` when the user chose to leave the bad rows out)."""
    job = _check_job(job_id)
    if job.status != FINISHED:
        flash(_("The check of the file has not finished."), "warning")
        return redirect(url_for(".report", job_id=job.id))
    params = job.params or {}
    only_valid = bool(params.get("only_valid")) or request.form.get("only_valid") in (
        "1", "y", "true", "on")
    try:
        name = importing.claim_upload(current_app.instance_path, params.get("upload", ""))
    except ServiceError as exc:
        flash(exc.message, "danger")
        return redirect(url_for(".report", job_id=job.id))
    new = submit(db.session(), TASK, {
        "upload": name, "dry_run": False, "rows": params.get("rows", "customers"),
        "on_existing": params.get("on_existing", "attach"), "only_valid": only_valid,
        "filename": params.get("filename", ""), "locale": _locale()}, user_id=current_user.id)
    return redirect(url_for("jobs.show", job_id=new.id))
