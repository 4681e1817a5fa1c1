"""Customer merges a switched-off plugin has not seen yet."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from carebiz.db import Base, utcnow


class PendingMerge(Base):
    """``remove`` was merged into ``keep`` while ``plugin`` was switched off, so its
    ``customer_merge`` hook did not run and its rows may still point at ``remove``. When the
    plugin is switched on again the hook runs for each of its rows, oldest first, and the row
    goes: no plugin row is left pointing at a merged-away customer."""

    __tablename__ = "pending_merge"

    id: Mapped[int] = mapped_column(primary_key=True)
    plugin: Mapped[str] = mapped_column(String(64), index=True)
    keep_id: Mapped[int] = mapped_column(ForeignKey("party.id"))
    remove_id: Mapped[int] = mapped_column(ForeignKey("party.id"))
    merged_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
