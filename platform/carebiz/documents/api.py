"""Documents over the API: ``GET /api/v1/documents/<type>/<id>?format=pdf|html|docx&paper=A4``
answers the file; ``POST /api/v1/documents/<type>/batch {"ids": [...]}`` one PDF of many.

Everything is rendered in memory before the answer starts, so an error is a clean JSON error
(unknown type 404, unknown format 422, no permission 403, a record the user may not see 404,
a broken template 500 with its message), never a half-written download."""

from __future__ import annotations

from typing import Any

from flask import Response
from flask.views import MethodView
from flask_babel import get_locale
from flask_login import current_user
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from carebiz import db
from carebiz.documents import service
from carebiz.security import api_login_required

blp = Blueprint("documents_api", __name__, url_prefix="/api/v1/documents",
                description="Printable documents as HTML, PDF and Word.")

ID = "int(min=1, max=2147483647)"


class DocumentArgs(Schema):
    format = fields.String(load_default="pdf",
                           metadata={"description": "html, pdf or docx"})
    paper = fields.String(load_default="A4", metadata={"description": "A4 or A5"})


class BatchArgs(Schema):
    ids = fields.List(fields.Integer(validate=validate.Range(min=1, max=2147483647)),
                      required=True, validate=validate.Length(min=1, max=service.MAX_BATCH))
    paper = fields.String(load_default="A4")


def file_response(content: bytes, mimetype: str, filename: str, inline: bool) -> Response:
    response = Response(content, mimetype=mimetype)
    disposition = "inline" if inline else "attachment"
    response.headers["Content-Disposition"] = f'{disposition}; filename="{filename}"'
    response.headers["Content-Length"] = str(len(content))
    response.headers["X-Content-Type-Options"] = "nosniff"
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
    def get(self, args: dict[str, Any], type_name: str, record_id: int) -> Any:
        """One document (``customer_statement``: the id is the customer's)."""
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
    def post(self, args: dict[str, Any], type_name: str) -> Any:
        """Many documents of one type as one PDF, in the order of ``ids``."""
        content, mimetype, filename = service.produce(
            db.session(), type_name, list(args["ids"]), "pdf", _user(),
            str(get_locale() or "zh_CN"), args["paper"])
        return file_response(content, mimetype, filename, inline=False)
