"""Which installed subsystems a business has switched on."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from carebiz.db import Base, utcnow


class PluginState(Base):
    """One row per plugin that was ever switched; a plugin without a row is on. Switching off
    never touches the plugin's own tables, so switching back on restores everything."""

    __tablename__ = "plugin_state"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    enabled: Mapped[bool] = mapped_column(default=True)
    changed_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    changed_by: Mapped[str] = mapped_column(String(80), default="")
