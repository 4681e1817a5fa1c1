"""Saved queries, private or shared with a role or a branch."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from carebiz.db import Base, TimestampMixin, Versioned

PRIVATE, ROLE, BRANCH = "private", "role", "branch"


class SavedQuery(Versioned, TimestampMixin, Base):
    __tablename__ = "saved_query"
    __table_args__ = (Index("ix_saved_query_owner_source", "owner_id", "source"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(60))
    name: Mapped[str] = mapped_column(String(120))
    #: {"where": node, "sort": [...], "group_by": [...], "measures": [...], "chart": ...}
    definition: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    owner_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    visibility: Mapped[str] = mapped_column(String(10), default=PRIVATE)
    role_id: Mapped[int | None] = mapped_column(ForeignKey("role.id", ondelete="SET NULL"))
    branch_id: Mapped[int | None] = mapped_column(ForeignKey("branch.id", ondelete="SET NULL"))
