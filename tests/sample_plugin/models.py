"""A branch-owned record, to test models, migrations-free schema creation and row filters."""

from __future__ import annotations

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from carebiz.db import Base, BranchOwned


class SampleRecord(BranchOwned, Base):
    __tablename__ = "sample_record"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(100))
    secret: Mapped[bool] = mapped_column(default=False)
    customer_id: Mapped[int | None]
