"""Import API for customers and vehicles.

``POST /api/v1/import/customers`` takes a multipart upload. ``dry_run`` (the default, so a
forgotten flag never writes) answers the report at once; otherwise the file is stored and
imported by a background job (202 with the job to poll at ``GET /api/v1/jobs/<id>``, whose
``result`` is the same report). An unreadable file is refused at once with 422 either way, so
a client does not wait for a job to learn it sent the wrong file.
"""

from __future__ import annotations

from typing import Any

from flask import current_app, jsonify, url_for
from flask.views import MethodView
from flask_babel import get_locale
from flask_login import current_user
from flask_smorest.fields import Upload
from marshmallow import Schema, fields, validate

from carebiz import db
from carebiz.api import schemas as s
from carebiz.api.common import ApiBlueprint
from carebiz.crm import importing
from carebiz.jobs import submit
from carebiz.security import require
from carebiz.web.limits import large_upload

blp = ApiBlueprint("crm_import_api", __name__, url_prefix="/api/v1/import",
                   description="Import customers and vehicles from CSV or Excel, with a "
                               "dry run.")


class ImportArgs(Schema):
    """One multipart form: the file and the options."""

    file = Upload(required=True, metadata={"description": "A .csv (UTF-8 or GB18030; comma, "
                                                          "semicolon or tab) or .xlsx file."})
    dry_run = fields.Boolean(load_default=True, metadata={
        "description": "Only check the file and answer the report (default)."})
    only_valid = fields.Boolean(load_default=False, metadata={
        "description": "Import the valid rows even when others are not valid; by default "
                       "nothing is imported unless every row is valid."})
    on_existing = fields.String(load_default="attach",
                                validate=validate.OneOf(importing.ON_EXISTING), metadata={
        "description": "A row with the phone or ID number of a customer on file: attach "
                       "its vehicle to that customer, skip it, or create a new customer."})


class IssueSchema(Schema):
    row = fields.Integer(allow_none=True, metadata={"description": "As Excel numbers it: "
                                                                   "the header is row 1."})
    column = fields.String(metadata={"description": "The header as written in the file."})
    reason = fields.String()


class MatchSchema(Schema):
    row = fields.Integer()
    customer_id = fields.Integer()
    name = fields.String()
    by = fields.String(metadata={"enum": ["phone", "id_number"]})
    value = fields.String()
    action = fields.String(metadata={"enum": list(importing.ON_EXISTING)})


class ReportSchema(Schema):
    valid = fields.Boolean()
    rows = fields.Integer()
    dry_run = fields.Boolean()
    committed = fields.Boolean()
    errors = fields.List(fields.Nested(IssueSchema))
    warnings = fields.List(fields.Nested(IssueSchema))
    matches = fields.List(fields.Nested(MatchSchema))
    counts = fields.Dict(keys=fields.String(), values=fields.Integer())
    columns = fields.List(fields.Dict(keys=fields.String(), values=fields.String()))
    options = fields.Dict()
    imported_through = fields.Integer(allow_none=True, metadata={
        "description": "The import writes in batches: the last row written."})
    stopped_at = fields.Integer(allow_none=True, metadata={
        "description": "An import that stopped part way: the row it stopped at; that row "
                       "and the rows after it were not imported."})


@blp.route("/customers")
@large_upload
class ImportCustomers(MethodView):
    @require("crm.customers.import")
    @blp.arguments(ImportArgs, location="form_and_files")
    @blp.response(200, ReportSchema)
    @blp.alt_response(202, schema=s.JobSchema, description="The import job was started.")
    @blp.alt_response(413, description="More than 20 MB or 50,000 rows.")
    def post(self, args: dict[str, Any]) -> Any:
        """Check (``dry_run``) or import customers, with a vehicle on rows that have a VIN."""
        storage = args["file"]
        filename = (storage.filename or "").replace("\\", "/").rsplit("/", 1)[-1][:200]
        data = importing.read_stream(storage.stream)
        # a dry run needs every row now; an import only needs to know the file is readable
        table = importing.read_table(data, filename, sample=None if args["dry_run"] else 1)
        options = importing.Options(args["on_existing"], args["only_valid"]).check()
        if args["dry_run"]:
            sess = db.session()
            try:
                sess.commit()  # nothing pending; the check's batches run on their own
                report = importing.import_table(sess, table, options,
                                                user=current_user._get_current_object(),
                                                dry_run=True,
                                                batch_rows=importing.loop.BATCH_ROWS)
            finally:
                sess.rollback()  # end the transaction the dry run held open
            return report.as_dict()
        name = importing.store_upload(current_app.instance_path, data, filename)
        job = submit(db.session(), "crm.import", {
            "upload": name, "dry_run": False, "only_valid": options.only_valid,
            "on_existing": options.on_existing, "rows": options.rows, "filename": filename,
            "locale": str(get_locale() or "en")}, user_id=current_user.id)
        db.session().refresh(job)  # the inline backend may have run it already
        response = jsonify(s.JobSchema().dump(job))
        response.status_code = 202
        response.headers["Location"] = url_for("core_api.JobItem", job_id=job.id)
        return response
