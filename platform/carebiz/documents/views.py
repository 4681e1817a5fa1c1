"""The document preview page: the document inside the app layout with PDF, Word and Print."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template, request
from flask_babel import get_locale
from flask_login import current_user, login_required

from carebiz import db
from carebiz.documents import service

bp = Blueprint("documents", __name__, url_prefix="/documents", template_folder="templates")


@bp.route("/<string:type_name>/<int:record_id>")
@login_required
def preview(type_name: str, record_id: int) -> Any:
    paper = service.check_paper(request.args.get("paper", "A4"))
    content, _mimetype, _filename = service.produce(
        db.session(), type_name, [record_id], "html", current_user._get_current_object(),
        str(get_locale() or "zh_CN"), paper)
    doc_type = service.get_type(type_name)
    return render_template("documents/preview.html", doc_type=doc_type, record_id=record_id,
                           paper=paper, papers=service.PAPERS,
                           document_html=content.decode("utf-8"))
