"""Wash cards (a customer's loyalty card number) and wash tickets (one wash of one car)."""

from datetime import datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column

from carebiz.db import Base, BranchOwned, TimestampMixin, UTCDateTime


class WashCard(TimestampMixin, Base):
    """A loyalty card: its number finds the customer in the search box."""

    __tablename__ = "wash_card"
    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("party.id"), index=True)


class WashTicket(BranchOwned, TimestampMixin, Base):
    """One wash: open until the car is done, then on the customer's timeline."""

    __tablename__ = "wash_ticket"
    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("party.id"), index=True)
    vehicle_id: Mapped[int | None] = mapped_column(ForeignKey("vehicle.id"), index=True)
    plate: Mapped[str] = mapped_column(String(20))
    program: Mapped[str] = mapped_column(String(40))
    price: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    status: Mapped[str] = mapped_column(String(10), default="open")
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
