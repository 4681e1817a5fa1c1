"""Packaging units defined by users."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import Numeric, String
from sqlalchemy.orm import Mapped, mapped_column

from carebiz.db import Base, utcnow


class PackagingUnit(Base):
    """``1 <name> = factor <base_unit>`` (e.g. box12 = 12 piece, drum200 = 200 L). Its
    category is the base unit's, so a packaging unit never converts across categories."""

    __tablename__ = "packaging_unit"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(40), unique=True)
    label: Mapped[str] = mapped_column(String(100), default="")
    base_unit: Mapped[str] = mapped_column(String(40))
    factor: Mapped[Decimal] = mapped_column(Numeric(24, 10))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
