"""CRM tables.

Phones, e-mails, roles and tags are rows of their own (not JSON lists) so that a lookup by
phone or a filter by role is an indexed equality, not a scan: the call-centre screen-pop must
answer in milliseconds with a million customers.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    DDL,
    JSON,
    Date,
    ForeignKey,
    Index,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    event,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, object_session, relationship, validates

from carebiz.crm import search_keys
from carebiz.db import Base, BranchOwned, TimestampMixin, Versioned, utcnow

PERSON, ORGANIZATION = "person", "organization"
KINDS = (PERSON, ORGANIZATION)
ROLES = ("customer", "prospect", "agent", "partner", "supplier", "insurer", "fleet")
ID_KINDS = ("cn_resident", "cn_uscc", "passport", "other")
CHANNELS = ("phone", "sms", "email", "wechat", "mail", "visit")
FUEL_TYPES = ("petrol", "diesel", "hybrid", "phev", "bev", "fcev", "cng", "other")


class Party(Versioned, BranchOwned, TimestampMixin, Base):
    """A person or an organization the business deals with, in any number of roles."""

    __tablename__ = "party"
    __table_args__ = (
        # text_pattern_ops lets PostgreSQL serve LIKE 'prefix%' from the index whatever the
        # database collation; SQLite uses the plain index for GLOB 'prefix*'
        Index("ix_party_name_key", "name_key", postgresql_ops={"name_key": "text_pattern_ops"}),
        # the query service's date conditions ("created in the last 30 days")
        Index("ix_party_created_at", "created_at"),
        Index("ix_party_name_initials", "name_initials",
              postgresql_ops={"name_initials": "text_pattern_ops"}),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), default=PERSON)
    name: Mapped[str] = mapped_column(String(200))
    #: case-folded name without spaces, for prefix search (an index serves LIKE 'abc%')
    name_key: Mapped[str] = mapped_column(String(200))
    #: pinyin initials of a Chinese name ('王建国' → 'wjg'), for prefix search; None otherwise
    name_initials: Mapped[str | None] = mapped_column(String(40))
    gender: Mapped[str | None] = mapped_column(String(8))
    birthday: Mapped[dt.date | None] = mapped_column(Date)
    id_kind: Mapped[str | None] = mapped_column(String(16))
    id_number: Mapped[str | None] = mapped_column(String(40), index=True)
    source: Mapped[str] = mapped_column(String(40), default="")
    province: Mapped[str] = mapped_column(String(60), default="")
    city: Mapped[str] = mapped_column(String(60), default="")
    district: Mapped[str] = mapped_column(String(60), default="")
    street: Mapped[str] = mapped_column(String(300), default="")
    postal_code: Mapped[str] = mapped_column(String(16), default="")
    do_not_contact: Mapped[bool] = mapped_column(default=False)
    preferred_channel: Mapped[str | None] = mapped_column(String(16))
    notes: Mapped[str] = mapped_column(Text, default="")
    custom: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    active: Mapped[bool] = mapped_column(default=True)
    #: set on the record that was merged away; it stays as a pointer for old links
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("party.id"))
    created_by: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"))

    phones: Mapped[list[PartyPhone]] = relationship(
        back_populates="party", cascade="all, delete-orphan", lazy="selectin",
        order_by="PartyPhone.position")
    emails: Mapped[list[PartyEmail]] = relationship(
        back_populates="party", cascade="all, delete-orphan", lazy="selectin",
        order_by="PartyEmail.position")
    role_rows: Mapped[list[PartyRole]] = relationship(
        back_populates="party", cascade="all, delete-orphan", lazy="selectin")
    tag_rows: Mapped[list[PartyTag]] = relationship(
        back_populates="party", cascade="all, delete-orphan", lazy="selectin")
    #: the later parts of the name ('thomas' of 'Ava Thomas', '建国' of '王建国'), kept by
    #: :meth:`_keys_of_name`; never loaded with the party
    name_parts: Mapped[list[PartyNamePart]] = relationship(
        cascade="all, delete-orphan", lazy="select", passive_deletes=True)

    @validates("name")
    def _keys_of_name(self, _key: str, name: str) -> str:
        """Every write of a name — the services, an import, a plugin, the demo — keeps its
        search keys with it: the name key, the pinyin initials and the name's parts."""
        if name != self.name or self.name_key is None:
            self.name_key = search_keys.name_key(name)
            self.name_initials = search_keys.name_initials(name)
            parts = [PartyNamePart(key=k[:200]) for k in search_keys.name_parts(name)]
            session = object_session(self)
            if session is None:
                self.name_parts = parts
            else:  # loading the old parts must not flush the half-made change (two versions)
                with session.no_autoflush:
                    self.name_parts = parts
        return name

    @property
    def roles(self) -> list[str]:
        return sorted(r.role for r in self.role_rows)

    @property
    def tags(self) -> list[str]:
        return sorted(t.tag for t in self.tag_rows)

    @property
    def phone_numbers(self) -> list[str]:
        return [p.e164 for p in self.phones]

    @property
    def email_addresses(self) -> list[str]:
        return [e.email for e in self.emails]

    def __repr__(self) -> str:
        return f"<Party {self.id} {self.name}>"


class PartyNamePart(Base):
    """A later part of a customer's name (see :func:`search_keys.name_parts`): a search
    for 'Thomas' or '建国' is a prefix range of this table's index, on any database."""

    __tablename__ = "party_name_part"
    __table_args__ = (Index("ix_party_name_part_key", "key",
                            postgresql_ops={"key": "text_pattern_ops"}),)

    party_id: Mapped[int] = mapped_column(ForeignKey("party.id", ondelete="CASCADE"),
                                          primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)


class PartyPhone(Base):
    __tablename__ = "party_phone"
    __table_args__ = (
        # a number's tail (尾号) is a prefix of its reversed digits
        Index("ix_party_phone_digits_rev", "digits_rev",
              postgresql_ops={"digits_rev": "text_pattern_ops"}),
        # any run of digits inside the number: trigrams (PostgreSQL; SQLite has an FTS5
        # trigram table instead, see PHONE_TRIGRAMS below)
        Index("ix_party_phone_e164_trgm", "e164", postgresql_using="gin",
              postgresql_ops={"e164": "gin_trgm_ops"}).ddl_if(dialect="postgresql"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    party_id: Mapped[int] = mapped_column(ForeignKey("party.id", ondelete="CASCADE"), index=True)
    e164: Mapped[str] = mapped_column(String(20), index=True)
    #: the number's digits last first, kept by :meth:`_keys_of_number`
    digits_rev: Mapped[str | None] = mapped_column(String(20))
    label: Mapped[str] = mapped_column(String(20), default="")  # mobile, work, home …
    position: Mapped[int] = mapped_column(default=0)

    party: Mapped[Party] = relationship(back_populates="phones")

    @validates("e164")
    def _keys_of_number(self, _key: str, e164: str) -> str:
        self.digits_rev = search_keys.digits_reversed(e164)
        return e164


#: SQLite's index of runs of digits inside phone numbers: an FTS5 table with the trigram
#: tokenizer over ``party_phone.e164`` (external content: it stores only the index), kept
#: in step by triggers, so every write to ``party_phone`` — whatever path — updates it.
#: PostgreSQL gets the ``pg_trgm`` GIN index ``ix_party_phone_e164_trgm`` instead.
PHONE_TRIGRAMS = "party_phone_trgm"
SQLITE_PHONE_TRIGRAM_DDL = (
    f"CREATE VIRTUAL TABLE IF NOT EXISTS {PHONE_TRIGRAMS} USING fts5(e164, "
    "content='party_phone', content_rowid='id', tokenize='trigram')",
    f"CREATE TRIGGER IF NOT EXISTS {PHONE_TRIGRAMS}_ai AFTER INSERT ON party_phone BEGIN "
    f"INSERT INTO {PHONE_TRIGRAMS}(rowid, e164) VALUES (new.id, new.e164); END",
    f"CREATE TRIGGER IF NOT EXISTS {PHONE_TRIGRAMS}_ad AFTER DELETE ON party_phone BEGIN "
    f"INSERT INTO {PHONE_TRIGRAMS}({PHONE_TRIGRAMS}, rowid, e164) "
    "VALUES ('delete', old.id, old.e164); END",
    f"CREATE TRIGGER IF NOT EXISTS {PHONE_TRIGRAMS}_au AFTER UPDATE OF e164 ON party_phone "
    f"BEGIN INSERT INTO {PHONE_TRIGRAMS}({PHONE_TRIGRAMS}, rowid, e164) "
    "VALUES ('delete', old.id, old.e164); "
    f"INSERT INTO {PHONE_TRIGRAMS}(rowid, e164) VALUES (new.id, new.e164); END",
)
SQLITE_PHONE_TRIGRAM_DROP = (
    f"DROP TRIGGER IF EXISTS {PHONE_TRIGRAMS}_au", f"DROP TRIGGER IF EXISTS {PHONE_TRIGRAMS}_ad",
    f"DROP TRIGGER IF EXISTS {PHONE_TRIGRAMS}_ai", f"DROP TABLE IF EXISTS {PHONE_TRIGRAMS}")
#: the extension the trigram index needs (the migration creates it when it may)
PG_TRIGRAM_EXTENSION = "CREATE EXTENSION IF NOT EXISTS pg_trgm"

event.listen(PartyPhone.__table__, "before_create",
             DDL(PG_TRIGRAM_EXTENSION).execute_if(dialect="postgresql"))
for _statement in SQLITE_PHONE_TRIGRAM_DDL:
    event.listen(PartyPhone.__table__, "after_create",
                 DDL(_statement).execute_if(dialect="sqlite"))
for _statement in SQLITE_PHONE_TRIGRAM_DROP:
    event.listen(PartyPhone.__table__, "before_drop",
                 DDL(_statement).execute_if(dialect="sqlite"))


class PartyEmail(Base):
    __tablename__ = "party_email"

    id: Mapped[int] = mapped_column(primary_key=True)
    party_id: Mapped[int] = mapped_column(ForeignKey("party.id", ondelete="CASCADE"), index=True)
    email: Mapped[str] = mapped_column(String(254), index=True)
    position: Mapped[int] = mapped_column(default=0)

    party: Mapped[Party] = relationship(back_populates="emails")


class PartyRole(Base):
    __tablename__ = "party_role"
    __table_args__ = (Index("ix_party_role_role", "role", "party_id"),)

    party_id: Mapped[int] = mapped_column(ForeignKey("party.id", ondelete="CASCADE"),
                                          primary_key=True)
    role: Mapped[str] = mapped_column(String(20), primary_key=True)

    party: Mapped[Party] = relationship(back_populates="role_rows")


class PartyTag(Base):
    __tablename__ = "party_tag"
    __table_args__ = (Index("ix_party_tag_tag", "tag", "party_id"),)

    party_id: Mapped[int] = mapped_column(ForeignKey("party.id", ondelete="CASCADE"),
                                          primary_key=True)
    tag: Mapped[str] = mapped_column(String(40), primary_key=True)

    party: Mapped[Party] = relationship(back_populates="tag_rows")


class ContactLink(Base):
    """A person who is a contact of an organization (buyer, fleet manager, accountant)."""

    __tablename__ = "contact_link"

    organization_id: Mapped[int] = mapped_column(ForeignKey("party.id", ondelete="CASCADE"),
                                                 primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("party.id", ondelete="CASCADE"),
                                           primary_key=True, index=True)
    position: Mapped[str] = mapped_column(String(100), default="")
    is_primary: Mapped[bool] = mapped_column(default=False)

    organization: Mapped[Party] = relationship(foreign_keys=[organization_id])
    person: Mapped[Party] = relationship(foreign_keys=[person_id])


class Vehicle(Versioned, BranchOwned, TimestampMixin, Base):
    """A vehicle identified by its VIN; its history follows the vehicle across owners.

    The VIN may be missing for a while (a walk-in's old car known by its plate only): it is
    unique when present (NULLs do not collide) and the services require a VIN or a plate.
    Show a vehicle by :func:`carebiz.crm.services.vehicles.vehicle_label`, never by ``vin``."""

    __tablename__ = "vehicle"
    __table_args__ = (
        # the query service's common vehicle filters: energy type, make, model year
        Index("ix_vehicle_fuel_make_year", "fuel_type", "make", "year"),
        Index("ix_vehicle_vin_rev", "vin_rev", postgresql_ops={"vin_rev": "text_pattern_ops"}),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    vin: Mapped[str | None] = mapped_column(String(17), unique=True)
    plate: Mapped[str | None] = mapped_column(String(16), index=True)
    #: the plate without its province character, O read as 0 and I as 1 (kept by
    #: :meth:`_keys_of_plate`): 'A4W9XT' finds 沪A4W9XT
    plate_key: Mapped[str | None] = mapped_column(String(16), index=True)
    #: the VIN last character first: its last 6 characters are an index prefix
    vin_rev: Mapped[str | None] = mapped_column(String(17))
    make: Mapped[str] = mapped_column(String(60), default="")
    model: Mapped[str] = mapped_column(String(80), default="")
    year: Mapped[int | None]
    colour: Mapped[str] = mapped_column(String(40), default="")
    engine_number: Mapped[str] = mapped_column(String(40), default="")
    fuel_type: Mapped[str | None] = mapped_column(String(16))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("party.id"), index=True)
    #: latest accepted odometer value, kept with the readings for quick display
    odometer_km: Mapped[int | None]
    custom: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    notes: Mapped[str] = mapped_column(Text, default="")

    owner: Mapped[Party | None] = relationship(lazy="joined")

    @validates("plate")
    def _keys_of_plate(self, _key: str, plate: str | None) -> str | None:
        self.plate_key = search_keys.plate_key(plate)
        return plate

    @validates("vin")
    def _keys_of_vin(self, _key: str, vin: str) -> str:
        self.vin_rev = search_keys.vin_reversed(vin)
        return vin

    def __repr__(self) -> str:
        return f"<Vehicle {self.vin or self.plate}>"


class VehicleOwnership(Base):
    """Who owned the vehicle when. The current owner has ``until`` empty."""

    __tablename__ = "vehicle_ownership"
    __table_args__ = (Index("ix_vehicle_ownership_vehicle", "vehicle_id", "since"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    vehicle_id: Mapped[int] = mapped_column(ForeignKey("vehicle.id", ondelete="CASCADE"))
    party_id: Mapped[int] = mapped_column(ForeignKey("party.id"), index=True)
    since: Mapped[dt.date] = mapped_column(Date)
    until: Mapped[dt.date | None] = mapped_column(Date)
    note: Mapped[str] = mapped_column(String(200), default="")

    party: Mapped[Party] = relationship(lazy="joined")


class OdometerReading(Base):
    __tablename__ = "odometer_reading"
    __table_args__ = (Index("ix_odometer_reading_vehicle", "vehicle_id", "read_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    vehicle_id: Mapped[int] = mapped_column(ForeignKey("vehicle.id", ondelete="CASCADE"))
    value_km: Mapped[int]
    read_at: Mapped[dt.datetime]
    source: Mapped[str] = mapped_column(String(20), default="manual")
    meter_replaced: Mapped[bool] = mapped_column(default=False)
    recorded_by: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class TimelineEntry(BranchOwned, Base):
    """One interaction with a customer: a call, a visit, a note, a task, a scheduled return
    visit (回访), or a plugin's event linked to its document (``ref_type``/``ref_id``).

    Plugins write one with :func:`carebiz.crm.timeline.add_entry`, which checks the kind is
    registered and the customer visible, and sends ``timeline_entry_added`` after commit.

    Attributes:
        id: the row's key.
        party_id: the customer it is about.
        vehicle_id: the vehicle it is about, if one (it stays when the vehicle changes owner).
        kind: a :class:`~carebiz.contributions.TimelineKind` name (``call``, ``repair.closed``).
        subject: a one-line summary (at most 200 characters).
        body: longer text (optional).
        occurred_at: when it happened (a follow-up: when it was closed), timezone-aware.
        due_at: a follow-up's due time (tasks, return visits); None for other kinds.
        assignee_id: the user a follow-up is assigned to.
        status: ``open`` (a follow-up not yet closed), ``done`` or ``cancelled``.
        outcome: how a follow-up went, written when it is closed.
        satisfaction: a return visit's score from 1 to 5, feeding the customer's score.
        ref_type: the entity type of the record it refers to (a
            :class:`~carebiz.contributions.RecordPage` makes it a link).
        ref_id: that record's id, as text.
        created_by: the user who wrote it (None: written by the system).
        branch_id: the customer's branch when it was written (row filters read it).
    """

    __tablename__ = "timeline_entry"
    __table_args__ = (
        Index("ix_timeline_entry_party_time", "party_id", "occurred_at"),
        Index("ix_timeline_entry_vehicle_time", "vehicle_id", "occurred_at"),
        Index("ix_timeline_entry_due", "assignee_id", "status", "due_at"),
        Index("ix_timeline_entry_ref", "ref_type", "ref_id"),
        # open follow-ups are few among millions of entries: a partial index counts them
        Index("ix_timeline_entry_party_open", "party_id", sqlite_where=text("status = 'open'"),
              postgresql_where=text("status = 'open'")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    party_id: Mapped[int] = mapped_column(ForeignKey("party.id"))
    vehicle_id: Mapped[int | None] = mapped_column(ForeignKey("vehicle.id"))
    kind: Mapped[str] = mapped_column(String(60))
    subject: Mapped[str] = mapped_column(String(200), default="")
    body: Mapped[str] = mapped_column(Text, default="")
    occurred_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    #: follow-ups (tasks, return visits): when, who, and how it went
    due_at: Mapped[dt.datetime | None]
    assignee_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(12), default="done")  # open, done, cancelled
    outcome: Mapped[str] = mapped_column(Text, default="")
    satisfaction: Mapped[int | None]  # 1..5 from a return visit
    ref_type: Mapped[str | None] = mapped_column(String(60))
    ref_id: Mapped[str | None] = mapped_column(String(64))
    created_by: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"))


class CustomField(Base):
    """A field an admin adds to customers or vehicles without changing code."""

    __tablename__ = "custom_field"
    __table_args__ = (UniqueConstraint("entity", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    entity: Mapped[str] = mapped_column(String(20))  # party, vehicle
    name: Mapped[str] = mapped_column(String(40))
    label: Mapped[str] = mapped_column(String(100))
    type: Mapped[str] = mapped_column(String(10))  # text, number, date, choice
    choices: Mapped[list[Any]] = mapped_column(JSON, default=list)
    required: Mapped[bool] = mapped_column(default=False)
    position: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = mapped_column(default=True)


class RevenueEvent(BranchOwned, Base):
    """Money a customer brought, reported by a plugin (a delivered car, a paid repair). The
    pair (source, ref) is unique so a plugin may report the same document twice safely."""

    __tablename__ = "revenue_event"
    __table_args__ = (UniqueConstraint("source", "ref"),
                      Index("ix_revenue_event_party", "party_id", "occurred_on"))

    id: Mapped[int] = mapped_column(primary_key=True)
    party_id: Mapped[int] = mapped_column(ForeignKey("party.id"))
    vehicle_id: Mapped[int | None] = mapped_column(ForeignKey("vehicle.id"))
    amount: Mapped[Decimal] = mapped_column(Numeric(18, 4))
    currency: Mapped[str] = mapped_column(String(3))
    #: the amount in the company's base currency at the rate of ``occurred_on``
    base_amount: Mapped[Decimal] = mapped_column(Numeric(18, 4))
    occurred_on: Mapped[dt.date] = mapped_column(Date)
    source: Mapped[str] = mapped_column(String(60))
    ref: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class PartyValue(Base):
    """A customer's value figures, kept up to date as revenue and return visits arrive.
    Recency/frequency/monetary scores (1-5) are quintiles over all customers, recomputed by a
    scheduled job; the raw sums move at once with each event."""

    __tablename__ = "party_value"
    __table_args__ = (Index("ix_party_value_segment", "segment"),)

    party_id: Mapped[int] = mapped_column(ForeignKey("party.id", ondelete="CASCADE"),
                                          primary_key=True)
    currency: Mapped[str] = mapped_column(String(3))
    lifetime_value: Mapped[Decimal] = mapped_column(Numeric(18, 4), default=Decimal(0))
    purchases: Mapped[int] = mapped_column(default=0)
    first_purchase: Mapped[dt.date | None] = mapped_column(Date)
    last_purchase: Mapped[dt.date | None] = mapped_column(Date)
    recency_score: Mapped[int | None]
    frequency_score: Mapped[int | None]
    monetary_score: Mapped[int | None]
    segment: Mapped[str | None] = mapped_column(String(30))
    satisfaction: Mapped[Decimal | None] = mapped_column(Numeric(4, 2))
    satisfaction_count: Mapped[int] = mapped_column(default=0)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class RecentView(Base):
    """A user's trail of recently opened records, to step back along the path."""

    __tablename__ = "recent_view"
    __table_args__ = (Index("ix_recent_view_user_time", "user_id", "viewed_at"),)

    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"),
                                         primary_key=True)
    entity_type: Mapped[str] = mapped_column(String(40), primary_key=True)
    entity_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    label: Mapped[str] = mapped_column(String(200), default="")
    viewed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


CRM_MODELS: list[type] = [Party, PartyNamePart, PartyPhone, PartyEmail, PartyRole, PartyTag,
                          ContactLink,
                          Vehicle, VehicleOwnership, OdometerReading, TimelineEntry,
                          CustomField, RevenueEvent, PartyValue, RecentView]
