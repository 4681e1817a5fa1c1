"""The plugin module named by the ``carebiz.plugins`` entry point ``export``."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from carebiz import hookimpl
from carebiz.contributions import ExportFormat
from carebiz.plugins import PluginManifest

from . import __version__

manifest = PluginManifest(
    name="export",
    version=__version__,
    label=_l("Export"),
    description=_l("Export lists and reports to Excel, Word, HTML, text and PDF."),
    package="carebiz_plugins.export",
)

XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DOCX_MIME = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


@hookimpl
def export_formats() -> list[ExportFormat]:
    # writers are imported lazily: xlsxwriter, python-docx and WeasyPrint load on first use
    from .formats import docx, html, pdf, txt, xlsx

    return [
        ExportFormat("xlsx", _l("Excel (xlsx)"), "xlsx", XLSX_MIME, xlsx.write_xlsx, weight=60),
        ExportFormat("docx", _l("Word (docx)"), "docx", DOCX_MIME, docx.write_docx, weight=70,
                     documents=True),
        ExportFormat("html", _l("Web page (HTML)"), "html", "text/html", html.write_html,
                     weight=80, documents=True),
        ExportFormat("txt", _l("Plain text (TXT)"), "txt", "text/plain", txt.write_txt,
                     weight=90),
        ExportFormat("pdf", _l("PDF"), "pdf", "application/pdf", pdf.write_pdf, weight=100,
                     documents=True, sync_rows=pdf.SYNC_ROWS),
    ]
