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

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Numeric,
    SmallInteger,
    String,
    Text,
)
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


# --- vehicle stock, quotations, orders and purchasing (sales_0002) ------------------------
#
# Money is ``Numeric(14, 2)`` beside its ISO currency code and read as ``Decimal``; statuses
# move only through the machines of ``services.stock``, ``services.quotations``,
# ``services.orders`` and ``services.purchasing``.


class SalesStock(Versioned, BranchOwned, TimestampMixin, Base):
    """One vehicle of the dealership's stock, by VIN: a core vehicle (``vehicle_id``) with
    what the stock needs besides — where it stands, what it cost, its status.

    ``status``: ``ordered`` → ``in_transit`` → ``in_stock`` → ``reserved`` → ``sold`` →
    ``delivered`` (``release`` takes a reservation back). ``received_on`` starts its days in
    stock (aging); ``order_id`` is the sales order the car is allocated to, even before it
    arrives (it is then reserved on receipt)."""

    __tablename__ = "sales_stock"
    __table_args__ = (Index("ix_sales_stock_status_received", "status", "received_on"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    vehicle_id: Mapped[int] = mapped_column(ForeignKey("vehicle.id"), unique=True)
    vin: Mapped[str] = mapped_column(String(17), unique=True)
    make: Mapped[str] = mapped_column(String(60), default="")
    model: Mapped[str] = mapped_column(String(80), default="", index=True)
    trim: Mapped[str] = mapped_column(String(80), default="")
    colour: Mapped[str] = mapped_column(String(40), default="")
    year: Mapped[int | None]
    location: Mapped[str] = mapped_column(String(60), default="")
    status: Mapped[str] = mapped_column(String(12), default="in_stock")
    cost: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    currency: Mapped[str] = mapped_column(String(3), default="CNY")
    received_on: Mapped[dt.date | None] = mapped_column(Date)
    delivered_on: Mapped[dt.date | None] = mapped_column(Date)
    inspection_notes: Mapped[str] = mapped_column(Text, default="")
    purchase_order_id: Mapped[int | None] = mapped_column(
        ForeignKey("sales_purchase_order.id", ondelete="SET NULL"), index=True)
    order_id: Mapped[int | None] = mapped_column(index=True)


class SalesQuotation(Versioned, BranchOwned, TimestampMixin, Base):
    """A price offered to a customer for a car: a specific stock vehicle or a model, trim
    and colour, priced by its lines (:class:`SalesQuotationLine`).

    ``status``: ``open`` (may be accepted), ``pending_approval`` (its discount exceeds the
    author's limit and waits for a manager), ``accepted``, ``declined``, ``expired``. Every
    change of lines is a new ``revision``; the earlier ones stay in
    :class:`SalesQuotationRevision`."""

    __tablename__ = "sales_quotation"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("party.id"), index=True)
    stock_id: Mapped[int | None] = mapped_column(
        ForeignKey("sales_stock.id", ondelete="SET NULL"), index=True)
    make: Mapped[str] = mapped_column(String(60), default="")
    model: Mapped[str] = mapped_column(String(80), default="", index=True)
    trim: Mapped[str] = mapped_column(String(80), default="")
    colour: Mapped[str] = mapped_column(String(40), default="")
    currency: Mapped[str] = mapped_column(String(3), default="CNY")
    total: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=Decimal(0))
    discount: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=Decimal(0))
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)
    revision: Mapped[int] = mapped_column(default=1)
    valid_until: Mapped[dt.date | None] = mapped_column(Date)
    finance: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    notes: Mapped[str] = mapped_column(Text, default="")
    salesperson_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), index=True)
    approved_by: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"))
    approved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())

    lines: Mapped[list[SalesQuotationLine]] = relationship(
        cascade="all, delete-orphan", order_by="SalesQuotationLine.position")


class SalesQuotationLine(BranchOwned, Base):
    """One line of a quotation's current revision. ``amount`` is always positive; ``kind``
    says its sign: ``discount`` and ``trade_in`` (the customer's old car, credited) are
    taken off, ``vehicle``, ``option``, ``accessory`` and ``fee`` added."""

    __tablename__ = "sales_quotation_line"

    id: Mapped[int] = mapped_column(primary_key=True)
    quotation_id: Mapped[int] = mapped_column(
        ForeignKey("sales_quotation.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(default=0)
    kind: Mapped[str] = mapped_column(String(12))
    description: Mapped[str] = mapped_column(String(200), default="")
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    trade_in_vehicle_id: Mapped[int | None] = mapped_column(
        ForeignKey("vehicle.id", ondelete="SET NULL"))


class SalesQuotationRevision(BranchOwned, Base):
    """An earlier revision of a quotation as it was offered: its lines and total, kept so
    what the customer was shown before can always be printed again."""

    __tablename__ = "sales_quotation_revision"

    id: Mapped[int] = mapped_column(primary_key=True)
    quotation_id: Mapped[int] = mapped_column(
        ForeignKey("sales_quotation.id", ondelete="CASCADE"), index=True)
    revision: Mapped[int]
    total: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    currency: Mapped[str] = mapped_column(String(3))
    lines: Mapped[list[Any]] = mapped_column(JSON, default=list)
    saved_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    saved_by: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"))


class SalesOrder(Versioned, BranchOwned, TimestampMixin, Base):
    """A booking made from an accepted quotation, followed through parallel sub-statuses:
    payment (stored as ``unpaid``/``partly_paid``/``paid``; ``overdue`` is read from
    ``payment_due_on``), vehicle (``to_allocate``/``in_transit``/``in_stock``/``ready``),
    pre-delivery inspection, registration and delivery. ``status`` is the headline derived
    from them (:func:`carebiz_plugins.sales.services.orders.headline`), stored so lists
    filter by it."""

    __tablename__ = "sales_order"

    id: Mapped[int] = mapped_column(primary_key=True)
    quotation_id: Mapped[int] = mapped_column(ForeignKey("sales_quotation.id"), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("party.id"), index=True)
    stock_id: Mapped[int | None] = mapped_column(
        ForeignKey("sales_stock.id", ondelete="SET NULL"), index=True)
    currency: Mapped[str] = mapped_column(String(3))
    total: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    paid: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=Decimal(0))
    deposit: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=Decimal(0))
    payment_due_on: Mapped[dt.date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20), default="confirmed", index=True)
    payment_state: Mapped[str] = mapped_column(String(12), default="unpaid")
    vehicle_status: Mapped[str] = mapped_column(String(12), default="to_allocate")
    pdi_status: Mapped[str] = mapped_column(String(12), default="pending")
    pdi_notes: Mapped[str] = mapped_column(Text, default="")
    registration_status: Mapped[str] = mapped_column(String(12), default="pending")
    plate: Mapped[str] = mapped_column(String(20), default="")
    delivery_status: Mapped[str] = mapped_column(String(12), default="pending")
    delivered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    override_reason: Mapped[str] = mapped_column(Text, default="")
    override_by: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"))
    salesperson_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), index=True)

    stock: Mapped[SalesStock | None] = relationship(lazy="selectin", viewonly=True)

    @property
    def vin(self) -> str | None:
        return self.stock.vin if self.stock is not None else None


class SalesPayment(BranchOwned, TimestampMixin, Base):
    """Money received against an order, in the currency it was paid in and converted to
    the order's at the rate of the day it was paid (``order_amount``)."""

    __tablename__ = "sales_payment"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(
        ForeignKey("sales_order.id", ondelete="CASCADE"), index=True)
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    currency: Mapped[str] = mapped_column(String(3))
    order_amount: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    method: Mapped[str] = mapped_column(String(20), default="cash")
    paid_on: Mapped[dt.date] = mapped_column(Date)
    recorded_by: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"))


class SalesPurchaseOrder(Versioned, BranchOwned, TimestampMixin, Base):
    """Vehicles ordered from a supplier (a core party in the ``supplier`` role).

    ``status``: ``ordered`` → ``partly_received`` → ``received``, or ``cancelled`` before
    anything arrived. ``paid`` against the cost of what was received is what the business
    still owes (payables)."""

    __tablename__ = "sales_purchase_order"

    id: Mapped[int] = mapped_column(primary_key=True)
    supplier_id: Mapped[int] = mapped_column(ForeignKey("party.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="ordered", index=True)
    currency: Mapped[str] = mapped_column(String(3), default="CNY")
    total: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=Decimal(0))
    received_value: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=Decimal(0))
    paid: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=Decimal(0))
    expected_on: Mapped[dt.date | None] = mapped_column(Date)
    notes: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"))

    lines: Mapped[list[SalesPurchaseLine]] = relationship(
        cascade="all, delete-orphan", order_by="SalesPurchaseLine.id")


class SalesPurchaseLine(BranchOwned, Base):
    """So many cars of one make, model, trim and colour at a unit cost; ``received`` counts
    those that arrived (each became a :class:`SalesStock` row)."""

    __tablename__ = "sales_purchase_line"

    id: Mapped[int] = mapped_column(primary_key=True)
    purchase_order_id: Mapped[int] = mapped_column(
        ForeignKey("sales_purchase_order.id", ondelete="CASCADE"), index=True)
    make: Mapped[str] = mapped_column(String(60), default="")
    model: Mapped[str] = mapped_column(String(80), default="")
    trim: Mapped[str] = mapped_column(String(80), default="")
    colour: Mapped[str] = mapped_column(String(40), default="")
    year: Mapped[int | None]
    quantity: Mapped[int] = mapped_column(default=1)
    received: Mapped[int] = mapped_column(default=0)
    unit_cost: Mapped[Decimal] = mapped_column(Numeric(14, 2))


class SalesSupplierQuote(Versioned, BranchOwned, TimestampMixin, Base):
    """A price inquiry to a supplier and, once answered, its quote: so many cars of a model
    at a unit cost, valid until a date. ``status``: ``requested`` → ``quoted`` →
    ``ordered`` (a purchase order was placed from it), or ``declined``."""

    __tablename__ = "sales_supplier_quote"

    id: Mapped[int] = mapped_column(primary_key=True)
    supplier_id: Mapped[int] = mapped_column(ForeignKey("party.id"), index=True)
    make: Mapped[str] = mapped_column(String(60), default="")
    model: Mapped[str] = mapped_column(String(80), default="")
    trim: Mapped[str] = mapped_column(String(80), default="")
    colour: Mapped[str] = mapped_column(String(40), default="")
    year: Mapped[int | None]
    quantity: Mapped[int] = mapped_column(default=1)
    unit_cost: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    currency: Mapped[str] = mapped_column(String(3), default="CNY")
    valid_until: Mapped[dt.date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(12), default="requested", index=True)
    purchase_order_id: Mapped[int | None] = mapped_column(
        ForeignKey("sales_purchase_order.id", ondelete="SET NULL"))
    notes: Mapped[str] = mapped_column(Text, default="")


# --- opportunities and their pipeline (spipe) -----------------------------------------------
# Appended as one block: :mod:`carebiz_plugins.sales.services.opportunities` holds the rules,
# ``sales_0003_opportunities`` the tables.


class SalesPipelineStage(TimestampMixin, Base):
    """One stage of a configured pipeline. A pipeline is the ordered set of stages with the
    same ``branch_id`` and ``brand``: a branch may run its own, a make (丰田, 比亚迪 …) its own,
    and the most specific set wins (branch + brand, branch, brand, company-wide). Without
    any row the built-in stages apply, so a new install has a pipeline without setup.

    Not :class:`~carebiz.db.BranchOwned`: a company-wide set has no branch, and the stages
    are configuration everyone selling reads, not records to hide.

    Attributes:
        branch_id: the branch the set is for; None for every branch.
        brand: the make the set is for (as written on opportunities); empty for every make.
        code: the stage's code, what opportunities store and the API speaks.
        label: the stage's name in English (``en``); empty: the Chinese one is shown, or,
            for a built-in code without either, its built-in name in the reader's language.
        label_zh: the stage's name in Simplified Chinese (``zh_Hans``), likewise. Names
            saved before there were two were put by their script (``sales_0004``).
        probability: the default chance of winning, in percent, an opportunity takes on
            entering the stage.
        kind: ``open``, ``won`` or ``lost`` — a set has exactly one won and one lost stage,
            both terminal.
    """

    __tablename__ = "sales_pipeline_stage"
    __table_args__ = (
        Index("ix_sales_pipeline_stage_scope", "branch_id", "brand"),
        CheckConstraint("probability >= 0 AND probability <= 100", name="probability"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    branch_id: Mapped[int | None] = mapped_column(ForeignKey("branch.id", ondelete="CASCADE"))
    brand: Mapped[str] = mapped_column(String(60), default="")
    code: Mapped[str] = mapped_column(String(32))
    label: Mapped[str] = mapped_column(String(80), default="")
    label_zh: Mapped[str] = mapped_column(String(80), default="", server_default="")
    position: Mapped[int] = mapped_column(SmallInteger, default=0)
    probability: Mapped[int] = mapped_column(SmallInteger, default=0)
    kind: Mapped[str] = mapped_column(String(8), default="open")


class SalesOpportunity(Versioned, BranchOwned, TimestampMixin, Base):
    """A chance to sell a car to a customer (and their prospect, when there is one): the
    model they want, what it is worth, when it should close, who sells it and where it is
    in its pipeline.

    ``stage`` moves only through the pipeline's transitions; ``status`` follows the stage's
    kind (``open``, ``won``, ``lost``). ``probability`` is the stage's default unless someone
    set it by hand (``probability_manual``); ``weighted_value`` (value × probability) is
    stored so the pipeline summary and the forecast are sums in SQL.
    """

    __tablename__ = "sales_opportunity"
    __table_args__ = (
        Index("ix_sales_opportunity_status_stage", "status", "stage", "branch_id"),
        Index("ix_sales_opportunity_close", "expected_close_on", "branch_id"),
        CheckConstraint("expected_value >= 0 AND weighted_value >= 0", name="value"),
        CheckConstraint("probability >= 0 AND probability <= 100", name="probability"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("party.id"), index=True)
    prospect_id: Mapped[int | None] = mapped_column(
        ForeignKey("sales_prospect.id", ondelete="SET NULL"), index=True)
    title: Mapped[str] = mapped_column(String(120), default="")
    brand: Mapped[str] = mapped_column(String(60), default="")
    model: Mapped[str] = mapped_column(String(80), default="")
    expected_value: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=Decimal(0))
    currency: Mapped[str] = mapped_column(String(3), default="CNY")
    expected_close_on: Mapped[dt.date | None] = mapped_column(Date)
    salesperson_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), index=True)
    stage: Mapped[str] = mapped_column(String(32), default="")
    status: Mapped[str] = mapped_column(String(8), default="open")
    probability: Mapped[int] = mapped_column(SmallInteger, default=0)
    probability_manual: Mapped[bool] = mapped_column(default=False)
    weighted_value: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=Decimal(0))
    stage_entered_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    lost_reason: Mapped[str] = mapped_column(String(60), default="")
    order_id: Mapped[int | None] = mapped_column(
        ForeignKey("sales_order.id", ondelete="SET NULL"))
    notes: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"))

    def __repr__(self) -> str:
        return f"<SalesOpportunity {self.id} {self.stage} {self.status}>"
