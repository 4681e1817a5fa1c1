"""Printable business documents: plugins register ``DocumentType`` objects through the
``document_types`` hook; this package renders them as HTML (preview), PDF (WeasyPrint) and
Word (python-docx), one at a time or many into one PDF."""

from carebiz.documents.service import (
    FORMATS,
    PAPERS,
    DocumentFailed,
    StaticOnlyFetcher,
    build,
    document_types,
    get_type,
    render_docx,
    render_html,
    render_pdf,
)

__all__ = ["FORMATS", "PAPERS", "DocumentFailed", "StaticOnlyFetcher", "build",
           "document_types", "get_type", "render_docx", "render_html", "render_pdf"]
