"""The audit log: who changed what and when, with before/after values."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask_babel import gettext
from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from carebiz.db import Base, utcnow


class AuditEntry(Base):
    """Written in the same transaction as the change it records, from the domain event that
    describes the change, so a change and its audit entry are committed or dropped together."""

    __tablename__ = "audit_entry"
    __table_args__ = (Index("ix_audit_entry_entity", "entity_type", "entity_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), index=True
    )
    actor_name: Mapped[str] = mapped_column(String(80), default="")
    event: Mapped[str] = mapped_column(String(120))
    entity_type: Mapped[str] = mapped_column(String(80))
    entity_id: Mapped[str] = mapped_column(String(64))
    branch_id: Mapped[int | None] = mapped_column(ForeignKey("branch.id", ondelete="SET NULL"))
    summary: Mapped[str] = mapped_column(String(500), default="")
    summary_args: Mapped[dict[str, Any] | None]
    before: Mapped[dict[str, Any] | None]
    after: Mapped[dict[str, Any] | None]
    #: the version of a versioned record after this change (what changed since a version)
    version: Mapped[int | None]

    @property
    def actor_label(self) -> str:
        """Who acted, for pages: the user name, or "system" in the reader's language."""
        if self.actor_id is None and self.actor_name == "system":
            return gettext("system")
        return self.actor_name

    @property
    def summary_text(self) -> str:
        """The summary in the current language (its message is translated when shown)."""
        if not self.summary:
            return ""
        try:
            return gettext(self.summary, **(self.summary_args or {}))
        except (KeyError, TypeError, ValueError):  # arguments that do not fit the message
            return self.summary
