"""The document preview page (the document inside the app layout with PDF, Word and Print),
and the admin pages where a company overrides a document's template (terms, colour, logo, or
the whole template)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import BooleanField, HiddenField, StringField, TextAreaField
from wtforms.validators import Optional

from carebiz import db
from carebiz.concurrency import parse_version
from carebiz.documents import custom as customs
from carebiz.documents import service
from carebiz.errors import ValidationFailed
from carebiz.security import require
from carebiz.toolkit import apply_errors, form_status, saving
from carebiz.web.limits import large_form
from carebiz.web.links import record_label, record_url

bp = Blueprint("documents", __name__, url_prefix="/documents", template_folder="templates")


@bp.route("/<string:type_name>/<int:record_id>")
@login_required
def preview(type_name: str, record_id: int) -> Any:
    paper = service.check_paper(request.args.get("paper", "A4"))
    content, _mimetype, _filename = service.produce(
        db.session(), type_name, [record_id], "html", current_user._get_current_object(),
        str(get_locale() or "zh_CN"), paper)
    doc_type = service.get_type(type_name)
    back_url = back_label = None
    if doc_type.record_type:  # the record the document prints: back to its page
        back_url = record_url(doc_type.record_type, record_id)
        back_label = record_label(doc_type.record_type, record_id)
    return render_template("documents/preview.html", doc_type=doc_type, record_id=record_id,
                           paper=paper, papers=service.PAPERS, back_url=back_url,
                           back_label=back_label, auto_print=request.args.get("print") == "1",
                           document_html=content.decode("utf-8"))


# --- the company's templates ---------------------------------------------------------------


class TemplateForm(FlaskForm):
    body = TextAreaField(_l("Whole template (Jinja)"), validators=[Optional()],
                         description=_l("Leave it as the default template, or empty, to use "
                                        "the default template with the settings below."),
                         render_kw={"rows": 20, "spellcheck": "false"})
    terms = TextAreaField(_l("Terms printed at the end"), validators=[Optional()],
                          render_kw={"rows": 4})
    colour = StringField(_l("Accent colour (#rrggbb)"), validators=[Optional()],
                         render_kw={"placeholder": "#1f5fa8"})
    logo = FileField(_l("Logo (PNG, JPEG or SVG, at most 500 KB)"))
    remove_logo = BooleanField(_l("Remove the logo"))
    #: the version the form was filled from: saving over a newer one is refused (409)
    version = HiddenField()


@bp.route("/templates")
@require("admin.settings")
def templates() -> Any:
    sess = db.session()
    types = sorted(service.document_types().values(), key=lambda t: (t.weight, t.name))
    customised = {t.name: customs.get_template(sess, t.name) for t in types}
    return render_template("documents/templates.html", types=types, customised=customised)


@bp.route("/templates/<string:type_name>", methods=["GET", "POST"])
@large_form(4 * customs.MAX_BODY + 1024)  # UTF-8 takes up to 4 bytes a character
@require("admin.settings")
def template_edit(type_name: str) -> Any:
    doc_type = service.get_type(type_name)
    sess = db.session()
    row = customs.get_template(sess, doc_type.name)
    default = customs.default_source(doc_type)
    form = TemplateForm(data={"body": (row.body if row and row.body else default),
                              "terms": row.terms if row else "",
                              "colour": (row.accent_colour or "") if row else "",
                              "version": str(row.version) if row else ""})
    if form.validate_on_submit():
        body = (form.body.data or "").replace("\r\n", "\n")
        if body.strip() == default.strip():
            body = ""  # unchanged: keep following the default template
        logo = row.logo if row else None
        upload = form.logo.data
        ok = False
        try:
            if form.remove_logo.data:
                logo = None
            elif upload is not None and getattr(upload, "filename", ""):
                logo = customs.logo_data_uri(upload.read(customs.MAX_LOGO + 1),
                                             upload.mimetype)
        except ValidationFailed as exc:
            apply_errors(form, exc)
        else:
            with saving(form, {"accent_colour": "colour"}) as outcome:
                customs.save_template(sess, doc_type, body, form.terms.data, form.colour.data,
                                      logo, actor=current_user.username,
                                      expected_version=parse_version(form.version.data))
            ok = outcome.ok
        if ok:
            flash(_("The template of %(type)s was saved.", type=doc_type.label), "success")
            return redirect(url_for(".template_edit", type_name=doc_type.name))
    row = customs.get_template(sess, doc_type.name)
    return render_template("documents/template_form.html", form=form, doc_type=doc_type,
                           row=row), form_status(form)


@bp.route("/templates/<string:type_name>/preview")
@require("admin.settings")
def template_preview(type_name: str) -> Any:
    """The saved template with sample data (no record needed)."""
    doc_type = service.get_type(type_name)
    row = customs.get_template(db.session(), doc_type.name)
    paper = service.check_paper(request.args.get("paper", "A4"))
    html = service.render_html(doc_type, customs.sample_data(doc_type), paper, custom=row)
    response = Response(html, mimetype="text/html")
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; img-src data: 'self'; style-src 'self' 'unsafe-inline'; "
        "font-src 'self' data:")
    return response
