"""The document machinery: the registry of document types, building their data, and rendering
it as HTML, PDF and DOCX.

Rules kept here so every document type follows them:

- The registry is what the switched-on plugins return from ``document_types``: a type of a
  switched-off plugin does not exist (404).
- ``build`` checks the type's permission (403) and calls the type's builder exactly as
  :class:`~carebiz.contributions.DocumentBuilder` documents it, with the user, so it applies
  row filters (a record the user may not see is 404).
- Rendering finishes in memory before anything is answered: an error in a template is a
  :class:`DocumentFailed` with a clear message, never a half-written file.
- The PDF renderer fetches nothing but ``data:`` URIs and the app's own ``/static/`` files
  (:class:`StaticOnlyFetcher`); ``file://`` and every other host are refused.
"""

from __future__ import annotations

import base64
import io
import logging
import mimetypes
import os
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

import jinja2
import jinja2.sandbox
from flask import current_app, render_template
from flask_babel import gettext as _
from werkzeug.security import safe_join

from carebiz.documents.limits import TemplateLimitError
from carebiz.errors import Forbidden, NotFound, ServiceError, ValidationFailed
from carebiz.text import printable

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from carebiz.contributions import DocumentType
    from carebiz.models import User

log = logging.getLogger(__name__)

#: format -> (mimetype, file extension)
FORMATS: dict[str, tuple[str, str]] = {
    "html": ("text/html; charset=utf-8", "html"),
    "pdf": ("application/pdf", "pdf"),
    "docx": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document",
             "docx"),
}
PAPERS = ("A4", "A5")
#: documents are rendered with this base URL so ``/static/...`` has a host the fetcher knows
BASE_URL = "https://carebiz-documents.invalid/"
#: most records one batch may print within the request
MAX_BATCH = 200
#: batches of more records than this are printed by a background job
SYNC_BATCH = 20
#: most records one background job may print
MAX_BACKGROUND_BATCH = 2000


class DocumentFailed(ServiceError):
    """A document could not be produced (an error in its template or its data builder)."""

    status = 500
    code = "document_failed"


class TemplateTooCostly(ServiceError):
    """The company's template goes beyond the bounds of its sandbox with this record's data
    (too many loop iterations, too long a text, too much output): a clear 422 at once
    instead of a worker that hangs."""

    status = 422
    code = "template_too_costly"


# --- registry ------------------------------------------------------------------------------


def _host(host: Any = None) -> Any:
    return host or current_app.extensions["carebiz"].host


def document_types(host: Any = None) -> dict[str, Any]:
    """The document types of the switched-on plugins, by name."""
    return {t.name: t for t in _host(host).collect("document_types")}


def types_for_record(record_type: str, host: Any = None) -> tuple[Any, ...]:
    """The document types that print a record of ``record_type`` (``DocumentType.
    record_type``), in print-menu order: worked out once per switched-on set of plugins
    (a registration), so a record page pays no hook call for its print buttons."""
    host = _host(host)

    def build() -> dict[str, tuple[Any, ...]]:
        by_record: dict[str, list[Any]] = {}
        for doc_type in host.collect("document_types"):
            if getattr(doc_type, "record_type", None):
                by_record.setdefault(doc_type.record_type, []).append(doc_type)
        return {k: tuple(v) for k, v in by_record.items()}

    return host.registry("documents.by_record_type", build).get(record_type, ())


def offered(record_type: str, user: Any, host: Any = None) -> list[Any]:
    """The documents of a ``record_type`` record that ``user`` may print, for the record's
    page (the builder still checks the record itself when one is printed)."""
    from carebiz.security import can

    return [t for t in types_for_record(record_type, host)
            if not t.permission or can(user, t.permission)]


def get_type(name: str, host: Any = None) -> Any:
    doc_type = document_types(host).get(name)
    if doc_type is None:
        raise NotFound(_("No document type named '%(name)s', or its subsystem is switched "
                         "off.", name=name))
    return doc_type


def check_format(fmt: str) -> str:
    fmt = (fmt or "").lower()
    if fmt not in FORMATS:
        raise ValidationFailed(
            _("Unknown format '%(format)s'; use one of: %(allowed)s.", format=fmt,
              allowed=", ".join(FORMATS)),
            {"format": _("Must be one of: %(allowed)s.", allowed=", ".join(FORMATS))})
    return fmt


def check_paper(paper: str) -> str:
    paper = (paper or "A4").upper()
    if paper not in PAPERS:
        raise ValidationFailed(
            _("Unknown paper size '%(paper)s'; use one of: %(allowed)s.", paper=paper,
              allowed=", ".join(PAPERS)),
            {"paper": _("Must be one of: %(allowed)s.", allowed=", ".join(PAPERS))})
    return paper


def check_permission(doc_type: Any, user: Any) -> None:
    from carebiz.security import can

    if doc_type.permission and not can(user, doc_type.permission):
        raise Forbidden(_("You do not have the permission to print this document."))


def build(session: Session, doc_type: DocumentType, record_id: int, user: User,
          locale: Any) -> dict[str, Any]:
    """The data of one document, after the permission check: the type's
    :class:`~carebiz.contributions.DocumentBuilder` called exactly as documented,
    ``build(session, record_id, user=user, locale=locale)``, so it applies the row filters of
    ``user`` (a record the user may not see is 404)."""
    check_permission(doc_type, user)
    return dict(doc_type.build(session, record_id, user=user, locale=str(locale or "zh_CN")))


# --- HTML ----------------------------------------------------------------------------------


def logo_url() -> str | None:
    """The company logo for document headers: ``CAREBIZ_DOCUMENT_LOGO`` is a data URI, a
    ``/static/`` path, or the path of an uploaded image file (inlined as a data URI)."""
    logo = current_app.config.get("CAREBIZ_DOCUMENT_LOGO")
    if not logo:
        return None
    logo = str(logo)
    if logo.startswith("data:") or logo.startswith(_static_prefix()):
        return logo
    if os.path.isfile(logo):
        mime = mimetypes.guess_type(logo)[0] or "application/octet-stream"
        if not mime.startswith("image/"):
            return None
        with open(logo, "rb") as fh:
            return f"data:{mime};base64,{base64.b64encode(fh.read()).decode('ascii')}"
    return None


def _static_prefix() -> str:
    return (current_app.static_url_path or "/static").rstrip("/") + "/"


def render_html(doc_type: Any, data: Mapping[str, Any], paper: str = "A4",
                for_print: bool = False, custom: Any = None) -> str:
    """The document as a standalone HTML page (the template gets ``doc``, ``paper``,
    ``logo_url``, ``terms`` and ``accent_colour``). ``custom`` is the company's
    :class:`~carebiz.documents.models.DocumentTemplate`: its terms, colour and logo go to the
    default template, and its body, when it has one, is rendered instead in a sandbox."""
    from carebiz.documents import custom as customs

    look = customs.look(custom)
    context = {"doc": data, "paper": paper, "logo_url": look["custom_logo"] or logo_url(),
               "document_type": doc_type, "for_print": for_print, "terms": look["terms"],
               "accent_colour": look["accent_colour"]}
    template = doc_type.template
    try:
        if custom is not None and custom.body:
            template = _("the company's template")
            return customs.render_body(custom.body, customs.sandbox_context(context))
        return render_template(doc_type.template, **context)
    except TemplateLimitError as exc:
        raise TemplateTooCostly(
            _("The document could not be produced: the company's template of %(type)s "
              "goes beyond a limit (%(error)s). Simplify it on the document templates page.",
              type=doc_type.label, error=str(exc))) from exc
    except (jinja2.TemplateError, jinja2.sandbox.SecurityError) as exc:
        log.exception("template %s of document type %s failed", template, doc_type.name)
        raise DocumentFailed(
            _("The document could not be produced: its template '%(template)s' has an error "
              "(%(error)s).", template=template, error=str(exc))) from exc


# --- PDF -----------------------------------------------------------------------------------


def _weasy_fetcher_base() -> type:
    from weasyprint.urls import URLFetcher

    return URLFetcher


class StaticOnlyFetcher(_weasy_fetcher_base()):  # type: ignore[misc]
    """A WeasyPrint URL fetcher that answers ``data:`` URIs and the app's own static files
    (``BASE_URL`` + ``/static/...``, read from the static folder) and refuses everything else
    (``file://``, other hosts, other paths)."""

    def __init__(self, static_folder: str, static_url_path: str = "/static",
                 base_url: str = BASE_URL, **kwargs: Any) -> None:
        super().__init__(allowed_protocols=("data",), allow_redirects=False, **kwargs)
        self.static_folder = static_folder
        self.prefix = static_url_path.rstrip("/") + "/"
        self.netloc = urlsplit(base_url).netloc

    def fetch(self, url: str, headers: Any = None) -> Any:
        from weasyprint.urls import URLFetcherResponse

        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme == "data":
            return super().fetch(url, headers)
        if scheme in ("http", "https") and parts.netloc == self.netloc \
                and parts.path.startswith(self.prefix):
            relative = unquote(parts.path[len(self.prefix):])
            path = safe_join(self.static_folder, relative)
            if path and os.path.isfile(path):
                with open(path, "rb") as fh:
                    body = fh.read()
                mime = mimetypes.guess_type(path)[0] or "application/octet-stream"
                return URLFetcherResponse(url, body, {"Content-Type": mime})
            raise ValueError(f"no static file {parts.path}")
        raise ValueError(f"documents may not fetch {url!r}")


def fetcher() -> StaticOnlyFetcher:
    return StaticOnlyFetcher(current_app.static_folder or "",
                             current_app.static_url_path or "/static")


def render_documents(html_pages: Iterable[str], *, wait: bool = True) -> Any:
    """Lay out one or more HTML documents into a single WeasyPrint document (after the
    server's PDF warm-up, if one is running: :mod:`carebiz.documents.warmup`)."""
    if wait:
        from carebiz.documents import warmup

        warmup.wait()
    from weasyprint import HTML
    from weasyprint.text.fonts import FontConfiguration

    font_config = FontConfiguration()
    url_fetcher = fetcher()
    rendered = [HTML(string=html, base_url=BASE_URL, url_fetcher=url_fetcher)
                .render(font_config=font_config) for html in html_pages]
    if not rendered:
        raise ValidationFailed(_("Nothing to print."))
    if len(rendered) == 1:
        return rendered[0]
    pages = [page for doc in rendered for page in doc.pages]
    return rendered[0].copy(pages)


def render_pdf(html_pages: str | Sequence[str]) -> bytes:
    """PDF bytes of one HTML document, or of several joined page after page."""
    if isinstance(html_pages, str):
        html_pages = [html_pages]
    try:
        document = render_documents(html_pages)
        return document.write_pdf()
    except ServiceError:
        raise
    except Exception as exc:
        log.exception("PDF rendering failed")
        raise DocumentFailed(_("The PDF could not be produced (%(error)s).",
                               error=str(exc))) from exc


# --- DOCX ----------------------------------------------------------------------------------


def _text(value: Any) -> str:
    """Text for Word without the characters XML cannot hold (a name stored with a control
    character before they were refused must not make the document fail)."""
    return printable(str(value))


def render_docx(data: Mapping[str, Any]) -> bytes:
    """A simple editable Word document from the generic keys of a document's data: ``title``,
    ``company``, ``parties`` (label/value pairs), ``columns`` and ``rows`` (a table),
    ``totals`` (label/value pairs), ``capital`` (the amount in words), ``notes``."""
    from docx import Document
    from docx.oxml.ns import qn
    from docx.shared import Pt

    doc = Document()
    normal = doc.styles["Normal"]
    normal.font.name = "Microsoft YaHei"
    normal.font.size = Pt(10)
    rpr = normal.element.get_or_add_rPr()
    rpr.get_or_add_rFonts().set(qn("w:eastAsia"), "Microsoft YaHei")

    if data.get("company"):
        doc.add_paragraph(_text(data["company"]))
    doc.add_heading(_text(data.get("title") or ""), level=1)
    for label, value in data.get("parties") or ():
        para = doc.add_paragraph()
        para.add_run(f"{label}: ").bold = True
        para.add_run(_text(value))
    columns = list(data.get("columns") or ())
    rows = list(data.get("rows") or ())
    if columns:
        table = doc.add_table(rows=1, cols=len(columns))
        table.style = "Table Grid"
        header = table.rows[0]
        # repeat the header row on every page (python-docx has no API for it)
        trpr = header._tr.get_or_add_trPr()
        trpr.append(trpr.makeelement(qn("w:tblHeader"), {}))
        for cell, label in zip(header.cells, columns, strict=True):
            cell.text = _text(label)
            for run in cell.paragraphs[0].runs:
                run.bold = True
        for row in rows:
            cells = table.add_row().cells
            for cell, value in zip(cells, row, strict=False):
                cell.text = "" if value is None else _text(value)
    for label, value in data.get("totals") or ():
        para = doc.add_paragraph()
        para.add_run(f"{label}: ").bold = True
        para.add_run(_text(value))
    if data.get("capital"):
        para = doc.add_paragraph()
        para.add_run(_("Amount in words") + ": ").bold = True
        para.add_run(_text(data["capital"]))
    if data.get("notes"):
        doc.add_paragraph(_text(data["notes"]))
    if data.get("generated_at"):
        doc.add_paragraph(_text(_("Generated at %(when)s", when=data["generated_at"])))
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


# --- one call for the web and API layers ---------------------------------------------------


def produce(session: Any, type_name: str, record_ids: Sequence[int], fmt: str, user: Any,
            locale: Any, paper: str = "A4") -> tuple[bytes, str, str]:
    """``(content, mimetype, filename)`` of the document(s), fully rendered in memory."""
    doc_type = get_type(type_name)
    fmt = check_format(fmt)
    paper = check_paper(paper)
    check_permission(doc_type, user)
    if not record_ids:
        raise ValidationFailed(_("Give at least one record id."), {"ids": _("Required.")})
    if len(record_ids) > MAX_BATCH:
        raise ValidationFailed(_("At most %(max)s documents at once.", max=MAX_BATCH),
                               {"ids": _("Too many.")})
    if len(record_ids) > 1 and fmt != "pdf":
        raise ValidationFailed(_("Several documents can only be printed as one PDF."),
                               {"format": _("Must be pdf.")})
    datas = [build(session, doc_type, rid, user, locale) for rid in record_ids]
    mimetype, ext = FORMATS[fmt]
    filename = file_name(doc_type, record_ids, ext)
    if fmt == "docx":
        try:
            return render_docx(datas[0]), mimetype, filename
        except Exception as exc:
            log.exception("DOCX rendering failed")
            raise DocumentFailed(_("The Word document could not be produced (%(error)s).",
                                   error=str(exc))) from exc
    custom = get_custom(session, doc_type)
    pages = [render_html(doc_type, data, paper, for_print=(fmt == "pdf"), custom=custom)
             for data in datas]
    if fmt == "html":
        return pages[0].encode("utf-8"), mimetype, filename
    return render_pdf(pages), mimetype, filename


def file_name(doc_type: Any, record_ids: Sequence[int], ext: str) -> str:
    if len(record_ids) == 1:
        return f"{doc_type.name}-{record_ids[0]}.{ext}"
    return f"{doc_type.name}-batch-{len(record_ids)}.{ext}"


def get_custom(session: Any, doc_type: Any) -> Any:
    """The company's override of the type's template, if any."""
    from carebiz.documents.custom import get_template

    return get_template(session, doc_type.name)


# --- background printing -------------------------------------------------------------------


def start_render(session: Any, type_name: str, record_ids: Sequence[int], user: Any,
                 locale: Any, paper: str = "A4") -> Any:
    """Check what can be checked at once (type, permission, paper, count), then submit the
    ``documents.render`` job that prints the PDF into the instance folder."""
    from carebiz.jobs import submit

    doc_type = get_type(type_name)
    paper = check_paper(paper)
    check_permission(doc_type, user)
    ids = [int(i) for i in record_ids]
    if not ids:
        raise ValidationFailed(_("Give at least one record id."), {"ids": _("Required.")})
    if len(ids) > MAX_BACKGROUND_BATCH:
        raise ValidationFailed(_("At most %(max)s documents at once.",
                                 max=MAX_BACKGROUND_BATCH), {"ids": _("Too many.")})
    return submit(session, "documents.render",
                  {"type_name": doc_type.name, "ids": ids, "paper": paper,
                   "locale": str(locale or "zh_CN")}, user_id=user.id)


def run_render(ctx: Any, type_name: str, ids: list[int], paper: str = "A4",
               locale: str | None = None) -> dict[str, Any]:
    """The background task: render the documents as the submitting user may see them into
    one PDF in the instance folder; the job page offers it to its owner."""
    import uuid

    from flask_babel import force_locale

    from carebiz.export.service import exports_folder
    from carebiz.models import User

    app = ctx.app
    user = ctx.session.get(User, ctx.user_id)
    if user is None:
        raise NotFound(_("The user who asked for these documents no longer exists."))
    loc = locale or "zh_CN"
    ids = [int(i) for i in ids]
    if not ids or len(ids) > MAX_BACKGROUND_BATCH:
        raise ValidationFailed(_("At most %(max)s documents at once.",
                                 max=MAX_BACKGROUND_BATCH), {"ids": _("Too many.")})
    with app.test_request_context(), force_locale(loc):
        doc_type = get_type(type_name, app.extensions["carebiz"].host)
        paper = check_paper(paper)
        check_permission(doc_type, user)
        custom = get_custom(ctx.session, doc_type)
        pages = []
        step = max(1, len(ids) // 20)
        for done, rid in enumerate(ids, start=1):
            data = build(ctx.session, doc_type, rid, user, loc)
            pages.append(render_html(doc_type, data, paper, for_print=True, custom=custom))
            if done % step == 0:
                ctx.progress(done * 60 // len(ids), _("%(done)s of %(total)s documents",
                                                      done=done, total=len(ids)))
        ctx.progress(60, _("Laying out the pages"))
        content = render_pdf(pages)
        name = f"{uuid.uuid4().hex}.pdf"
        (exports_folder(app) / name).write_bytes(content)
        mimetype, ext = FORMATS["pdf"]
        return {"file": name, "filename": file_name(doc_type, ids, ext), "mimetype": mimetype,
                "documents": len(ids)}
