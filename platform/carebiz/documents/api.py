"""Documents over the API: ``GET /api/v1/documents/<type>/<id>?format=pdf|html|docx&paper=A4``
answers the file; ``POST /api/v1/documents/<type>/batch {"ids": [...]}`` one PDF of many.
A batch of more than ``SYNC_BATCH`` records, or any document asked with ``?background=1``, is
printed by a background job instead: the answer is 202 with the job (poll
``GET /api/v1/jobs/<id>``; its page offers the PDF to its owner).

Everything is rendered in memory before the answer starts, so an error is a clean JSON error
(unknown type 404, unknown format 422, no permission 403, a record the user may not see 404,
a broken template 500 with its message), never a half-written download."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, url_for
from flask.views import MethodView
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user
from marshmallow import Schema, fields, validate

from carebiz import db
from carebiz.api import schemas as s
from carebiz.api.common import ApiBlueprint
from carebiz.documents import service
from carebiz.errors import ValidationFailed
from carebiz.security import api_login_required

blp = ApiBlueprint("documents_api", __name__, url_prefix="/api/v1/documents",
                   description="Printable documents as HTML, PDF and Word.")

ID = "int(min=1, max=2147483647)"


class DocumentArgs(Schema):
    format = fields.String(load_default="pdf",
                           metadata={"description": "html, pdf or docx"})
    paper = fields.String(load_default="A4", metadata={"description": "A4 or A5"})
    background = fields.Boolean(load_default=False,
                                metadata={"description": "print as a background job (pdf)"})


class BatchArgs(Schema):
    ids = fields.List(fields.Integer(strict=True,
                                     validate=validate.Range(min=1, max=2147483647)),
                      required=True,
                      validate=validate.Length(min=1, max=service.MAX_BACKGROUND_BATCH))
    paper = fields.String(load_default="A4")


def file_response(content: bytes, mimetype: str, filename: str, inline: bool) -> Response:
    response = Response(content, mimetype=mimetype)
    disposition = "inline" if inline else "attachment"
    response.headers["Content-Disposition"] = f'{disposition}; filename="{filename}"'
    response.headers["Content-Length"] = str(len(content))
    response.headers["X-Content-Type-Options"] = "nosniff"
    if mimetype.startswith("text/html"):  # a company's own template may not run scripts
        response.headers["Content-Security-Policy"] = (
            "default-src 'none'; img-src data: 'self'; style-src 'self' 'unsafe-inline'; "
            "font-src 'self' data:")
    return response


def job_response(type_name: str, ids: list[int], paper: str) -> Response:
    """Submit the print job and answer 202 with it."""
    sess = db.session()
    job = service.start_render(sess, type_name, ids, _user(), str(get_locale() or "zh_CN"),
                               paper)
    sess.refresh(job)  # the inline backend may have run it already
    response = jsonify(s.JobSchema().dump(job))
    response.status_code = 202
    response.headers["Location"] = url_for("core_api.JobItem", job_id=job.id)
    return response


def _user() -> Any:
    return current_user._get_current_object()


@blp.route(f"/<string:type_name>/<{ID}:record_id>")
class DocumentItem(MethodView):
    @api_login_required
    @blp.arguments(DocumentArgs, location="query")
    @blp.doc(responses={"200": {"description": "The document file",
                                "content": {"application/pdf": {}, "text/html": {},
                                            service.FORMATS["docx"][0]: {}}}})
    @blp.alt_response(202, schema=s.JobSchema, description="The print job was started "
                      "(``background=1``).")
    def get(self, args: dict[str, Any], type_name: str, record_id: int) -> Any:
        """One document (``customer_statement``: the id is the customer's); with
        ``background=1`` a PDF printed by a background job (202 with the job)."""
        if args["background"]:
            if service.check_format(args["format"]) != "pdf":
                raise ValidationFailed(
                    _("Only PDF documents are printed in the background."),
                    {"format": _("Must be pdf.")})
            return job_response(type_name, [record_id], args["paper"])
        content, mimetype, filename = service.produce(
            db.session(), type_name, [record_id], args["format"], _user(),
            str(get_locale() or "zh_CN"), args["paper"])
        return file_response(content, mimetype, filename, inline=args["format"] != "docx")


@blp.route("/<string:type_name>/batch")
class DocumentBatch(MethodView):
    @api_login_required
    @blp.arguments(BatchArgs)
    @blp.doc(responses={"200": {"description": "One PDF of all the documents",
                                "content": {"application/pdf": {}}}})
    @blp.alt_response(202, schema=s.JobSchema,
                      description="More than 20 records: the print job was started.")
    def post(self, args: dict[str, Any], type_name: str) -> Any:
        """Many documents of one type as one PDF, in the order of ``ids``; more than 20 are
        printed by a background job (202 with the job)."""
        if len(args["ids"]) > service.SYNC_BATCH:
            return job_response(type_name, list(args["ids"]), args["paper"])
        content, mimetype, filename = service.produce(
            db.session(), type_name, list(args["ids"]), "pdf", _user(),
            str(get_locale() or "zh_CN"), args["paper"])
        return file_response(content, mimetype, filename, inline=False)
