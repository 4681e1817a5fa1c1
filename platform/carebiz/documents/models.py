"""Per-company overrides of a document type's look: the whole template source, or just the
terms text, the accent colour and the logo handed to the default template."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from carebiz.db import Base, Versioned, utcnow


class DocumentTemplate(Versioned, Base):
    """A company's own look of one document type, kept apart from the type's template so an
    upgrade of the plugin never overwrites what the company changed.

    Attributes:
        id: the row's key.
        doc_type: the :class:`~carebiz.contributions.DocumentType` name it overrides.
        body: the whole Jinja source, rendered in a sandbox; None keeps the default template.
        terms: the terms and conditions text handed to the default template.
        accent_colour: ``#rrggbb``, or None for the default look.
        logo: a ``data:image/...;base64,`` URI, or None for the configured logo.
        updated_at: when it last changed.
        updated_by: the user name of who changed it last.
        version: raised by every change (optimistic locking, see ``Versioned``).
    """

    __tablename__ = "document_template"

    id: Mapped[int] = mapped_column(primary_key=True)
    doc_type: Mapped[str] = mapped_column(String(80), unique=True)
    #: the whole Jinja source (rendered in a sandbox); None keeps the default template
    body: Mapped[str | None] = mapped_column(Text)
    terms: Mapped[str] = mapped_column(Text, default="")
    #: ``#rrggbb`` or None for the default look
    accent_colour: Mapped[str | None] = mapped_column(String(7))
    #: a ``data:image/...;base64,`` URI
    logo: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    updated_by: Mapped[str] = mapped_column(String(80), default="")
