"""The sales plugin's tables, all named ``sales_…`` and owned by its own Alembic history
(``plugins/sales/migrations``: ``sales_0001`` prospects and showroom, ``sales_0002``
quotations, orders, stock and purchasing).

Every record that belongs to a customer names it by ``party.id`` (the CRM is the core's) and
every record is :class:`~carebiz.db.BranchOwned`, so the core's branch row filter limits
each list, lookup and chart to the reader's branches without code here. Child rows that
charts group by (a prospect's points of interest and models) carry their prospect's branch
too: the query service filters a source by its own model's branch, and a child without one
would count other branches' prospects.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Index, Numeric, SmallInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from carebiz.db import Base, BranchOwned, TimestampMixin, UTCDateTime, Versioned, utcnow

# --- prospects and return visits ------------------------------------------------------------


class SalesProspect(Versioned, BranchOwned, TimestampMixin, Base):
    """A person interested in buying a car: a core customer in the ``prospect`` role, with
    what the salesperson learnt at the first contact.

    ``status`` moves only through :mod:`carebiz_plugins.sales.services.prospects`'s
    transitions (``pending_review`` → ``consulting`` → ``won``/``lost``; ``rejected``).
    ``registered_at`` and ``closed_at`` are what the day's dashboard counts by.

    Attributes:
        customer_id: the core customer (``party``) this prospect is.
        salesperson_id: the user following the prospect up.
        source: how the prospect came (a value of the ``sales.sources`` setting).
        industry: the customer's line of work, for "deals by industry".
        budget: what the prospect means to spend, in ``currency``.
        intended_purchase_on: when the prospect means to buy.
        status: ``pending_review``, ``consulting``, ``won``, ``lost`` or ``rejected``.
        lost_reason: why a lost prospect was lost (a value of ``sales.lost_reasons``).
        reviewed_by / reviewed_at: the manager who approved or rejected, and when.
    """

    __tablename__ = "sales_prospect"
    __table_args__ = (
        # the branch last: the row filter is read from the index, not from each row
        Index("ix_sales_prospect_status_closed", "status", "closed_at", "branch_id"),
        Index("ix_sales_prospect_registered", "registered_at", "branch_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("party.id"), index=True)
    salesperson_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), index=True)
    source: Mapped[str] = mapped_column(String(40), default="")
    industry: Mapped[str] = mapped_column(String(60), default="")
    budget: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    currency: Mapped[str] = mapped_column(String(3), default="CNY")
    intended_purchase_on: Mapped[dt.date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default="consulting")
    lost_reason: Mapped[str] = mapped_column(String(60), default="")
    notes: Mapped[str] = mapped_column(Text, default="")
    registered_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    reviewed_by: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"))
    reviewed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    created_by: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"))

    interests: Mapped[list[SalesProspectInterest]] = relationship(
        cascade="all, delete-orphan", order_by="SalesProspectInterest.id",
        back_populates="prospect")
    model_rows: Mapped[list[SalesProspectModel]] = relationship(
        cascade="all, delete-orphan", order_by="SalesProspectModel.id",
        back_populates="prospect")

    @property
    def points_of_interest(self) -> list[str]:
        return [row.point for row in self.interests]

    @property
    def models_of_interest(self) -> list[str]:
        return [row.model for row in self.model_rows]

    def __repr__(self) -> str:
        return f"<SalesProspect {self.id} customer={self.customer_id} {self.status}>"


class SalesProspectInterest(BranchOwned, Base):
    """One point of interest of a prospect (价格, 油耗, 安全 …): a row each, so charts count
    prospects per point with an index rather than by parsing text."""

    __tablename__ = "sales_prospect_interest"

    id: Mapped[int] = mapped_column(primary_key=True)
    prospect_id: Mapped[int] = mapped_column(
        ForeignKey("sales_prospect.id", ondelete="CASCADE"), index=True)
    point: Mapped[str] = mapped_column(String(40), index=True)
    prospect: Mapped[SalesProspect] = relationship(back_populates="interests")


class SalesProspectModel(BranchOwned, Base):
    """One model a prospect is interested in ("Camry 2.0", "Model Y"): a row each, as for
    points of interest."""

    __tablename__ = "sales_prospect_model"

    id: Mapped[int] = mapped_column(primary_key=True)
    prospect_id: Mapped[int] = mapped_column(
        ForeignKey("sales_prospect.id", ondelete="CASCADE"), index=True)
    model: Mapped[str] = mapped_column(String(80), index=True)
    prospect: Mapped[SalesProspect] = relationship(back_populates="model_rows")


class SalesReturnVisit(BranchOwned, TimestampMixin, Base):
    """A return visit (回访) of a prospect: planned for ``due_at``, done with an outcome.

    Each one is also a core ``return_visit`` follow-up on the customer's timeline
    (``timeline_entry_id``), so it appears in the salesperson's day and on the 360° page;
    this row keeps what sales needs besides (the prospect, the channel, the outcome as a
    value to count) with indexes for the dashboard.

    Attributes:
        status: ``open``, ``done`` or ``cancelled``.
        outcome: one of :data:`carebiz_plugins.sales.services.visits.OUTCOMES` once done.
        next_visit_id: the visit planned from this one's outcome.
    """

    __tablename__ = "sales_return_visit"
    __table_args__ = (
        # the branch last: counting a branch's overdue visits reads the index only
        Index("ix_sales_return_visit_status_due", "status", "due_at", "branch_id"),
        Index("ix_sales_return_visit_done", "done_at", "branch_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    prospect_id: Mapped[int] = mapped_column(
        ForeignKey("sales_prospect.id", ondelete="CASCADE"), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("party.id"), index=True)
    timeline_entry_id: Mapped[int | None] = mapped_column(
        ForeignKey("timeline_entry.id", ondelete="SET NULL"))
    assignee_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), index=True)
    channel: Mapped[str] = mapped_column(String(12), default="phone")
    due_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    done_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(12), default="open")
    outcome: Mapped[str] = mapped_column(String(20), default="")
    notes: Mapped[str] = mapped_column(Text, default="")
    next_visit_id: Mapped[int | None] = mapped_column(
        ForeignKey("sales_return_visit.id", ondelete="SET NULL"))


# --- showroom and test drives ------------------------------------------------------------


class SalesShowroomVisit(BranchOwned, TimestampMixin, Base):
    """One party walking into the showroom: when, how many, first or return visit, what they
    looked at, who served them and how it ended (the traffic log)."""

    __tablename__ = "sales_showroom_visit"
    __table_args__ = (Index("ix_sales_showroom_visit_arrived", "arrived_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("party.id"), index=True)
    prospect_id: Mapped[int | None] = mapped_column(
        ForeignKey("sales_prospect.id", ondelete="SET NULL"), index=True)
    salesperson_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), index=True)
    arrived_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    #: the hour of arrival on the business's wall clock (0–23), for traffic by hour
    arrived_hour: Mapped[int] = mapped_column(SmallInteger, default=0)
    left_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    party_size: Mapped[int] = mapped_column(default=1)
    first_visit: Mapped[bool] = mapped_column(default=True)
    models: Mapped[list[Any]] = mapped_column(JSON, default=list)
    outcome: Mapped[str] = mapped_column(String(20), default="browsing")
    notes: Mapped[str] = mapped_column(Text, default="")


class SalesDemoCar(BranchOwned, TimestampMixin, Base):
    """A core vehicle of the branch's demo fleet, bookable for test drives."""

    __tablename__ = "sales_demo_car"

    id: Mapped[int] = mapped_column(primary_key=True)
    vehicle_id: Mapped[int] = mapped_column(ForeignKey("vehicle.id"), unique=True)
    active: Mapped[bool] = mapped_column(default=True)


class SalesTestDrive(Versioned, BranchOwned, TimestampMixin, Base):
    """A test drive booked on a demo car: the driver's licence (checked), the waiver, the
    odometer out and in (written to the core vehicle) and the driver's feedback.

    ``status`` moves ``booked`` → ``out`` → ``returned``, or ``booked`` → ``cancelled``; a
    booked or running drive holds the car from ``starts_at`` to ``ends_at``, and no other
    may overlap it."""

    __tablename__ = "sales_test_drive"
    __table_args__ = (Index("ix_sales_test_drive_car_time", "demo_car_id", "starts_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    demo_car_id: Mapped[int] = mapped_column(ForeignKey("sales_demo_car.id"))
    vehicle_id: Mapped[int] = mapped_column(ForeignKey("vehicle.id"), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("party.id"), index=True)
    prospect_id: Mapped[int | None] = mapped_column(
        ForeignKey("sales_prospect.id", ondelete="SET NULL"), index=True)
    salesperson_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"))
    starts_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    licence_number: Mapped[str] = mapped_column(String(40))
    licence_expiry: Mapped[dt.date] = mapped_column(Date)
    waiver_signed: Mapped[bool] = mapped_column(default=False)
    status: Mapped[str] = mapped_column(String(12), default="booked")
    odometer_out: Mapped[int | None]
    odometer_in: Mapped[int | None]
    feedback: Mapped[str] = mapped_column(Text, default="")
