"""The GPS plugin's tables, all named ``gps_…`` and owned by its own Alembic history
(``plugins/gps/migrations``: ``gps_0001``).

Two kinds of table live here, and they are built differently on purpose:

* **records people edit** (devices, geofences, groups, alarms, commands) are ORM models with
  a ``version`` (stale edits → 409) and a branch: a device's branch is its vehicle's (the
  vehicle belongs to a customer of that branch), its alarms and commands carry it too, so the
  core's branch row filter limits them without code here;
* **high-volume ingest tables** (positions, live state, trips, stops, daily mileage) are
  written by the ingest sink with Core ``insert`` statements in batches, never an ORM object
  per fix. They carry no branch of their own (a position row stays small): the plugin's
  ``row_filters`` hook limits them through their device's branch.

A pending device (an unknown IMEI that tried to log in) has no vehicle and no branch yet: the
core's branch rule ``branch_id IN (...)`` hides it from everyone but users who see every
branch, which is who assigns it.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Numeric,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from carebiz.db import Base, BranchOwned, TimestampMixin, UTCDateTime, Versioned, utcnow

#: a 64-bit key on PostgreSQL (positions run into the billions) that SQLite still
#: auto-increments (it only does so for an ``INTEGER PRIMARY KEY``)
BigId = BigInteger().with_variant(Integer(), "sqlite")

DEVICE_STATUSES = ("pending", "active", "disabled")
DEVICE_PROTOCOLS = ("gt06", "osmand")
ALARM_STATUSES = ("open", "acknowledged")
GEOFENCE_KINDS = ("circle", "polygon", "corridor")
COMMAND_KINDS = ("cut_off", "restore", "custom")
COMMAND_STATUSES = ("queued", "sent", "replied", "failed", "cancelled")


# --- devices ---------------------------------------------------------------------------------


class GpsDevice(Versioned, BranchOwned, TimestampMixin, Base):
    """A tracker, known by its IMEI, fitted to a core vehicle.

    ``status`` is ``pending`` (an unknown IMEI that logged in: no vehicle, no branch, shown
    to admins to assign), ``active`` (its frames are stored) or ``disabled`` (logins refused,
    history kept). ``branch_id`` follows the vehicle's branch when the device is linked.

    Attributes:
        imei: 15 digits, Luhn-checked on registration; the HTTP ingest's ``id`` too.
        vehicle_id: the core vehicle it is fitted to (None while pending).
        label: a name people give it ("Van 3 tracker"); the plate is shown otherwise.
        model: the hardware (GT06N, GT02A …).
        phone: the SIM's number, for SMS commands.
        password: the device password DYD/HFYD commands need on older units.
        protocol: ``gt06`` or ``osmand`` (what it spoke last).
        tz_offset_min: the offset its login frame declared; device times are shifted by it.
        speed_limit_kmh: this vehicle's own overspeed limit (a group's applies otherwise).
        first_seen / last_seen / last_peer: when and from where it last spoke.
        login_attempts: logins counted while pending (an admin sees how insistent it is).
    """

    __tablename__ = "gps_device"

    id: Mapped[int] = mapped_column(primary_key=True)
    imei: Mapped[str] = mapped_column(String(20), unique=True)
    vehicle_id: Mapped[int | None] = mapped_column(
        ForeignKey("vehicle.id", ondelete="SET NULL"), index=True)
    #: nullable, unlike other branch-owned rows: a pending device belongs to no branch yet
    branch_id: Mapped[int | None] = mapped_column(  # type: ignore[assignment]
        ForeignKey("branch.id"), index=True)
    status: Mapped[str] = mapped_column(String(12), default="pending", index=True)
    label: Mapped[str] = mapped_column(String(80), default="")
    model: Mapped[str] = mapped_column(String(40), default="")
    phone: Mapped[str] = mapped_column(String(32), default="")
    password: Mapped[str] = mapped_column(String(32), default="")
    protocol: Mapped[str] = mapped_column(String(12), default="gt06")
    tz_offset_min: Mapped[int] = mapped_column(Integer, default=0)
    speed_limit_kmh: Mapped[float | None] = mapped_column(Float)
    first_seen: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    last_seen: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    last_peer: Mapped[str] = mapped_column(String(64), default="")
    login_attempts: Mapped[int] = mapped_column(Integer, default=0)
    notes: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"))

    def __repr__(self) -> str:
        return f"<GpsDevice {self.imei} {self.status}>"


class GpsDeviceState(Base):
    """A device's live state: its latest fix and what its heartbeats said, one row per
    device, updated in place at ingest (the live map reads this table, never positions).

    The latest-fix columns only move forward in ``fix_time``: re-uploaded history never
    takes the marker back."""

    __tablename__ = "gps_device_state"

    device_id: Mapped[int] = mapped_column(
        ForeignKey("gps_device.id", ondelete="CASCADE"), primary_key=True)
    fix_time: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    speed_kmh: Mapped[float | None] = mapped_column(Float)
    course: Mapped[int | None] = mapped_column(SmallInteger)
    valid: Mapped[bool | None] = mapped_column(Boolean)
    ignition: Mapped[bool | None] = mapped_column(Boolean)
    moving: Mapped[bool] = mapped_column(Boolean, default=False)
    online: Mapped[bool] = mapped_column(Boolean, default=False)
    last_seen: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    alarm_open: Mapped[int] = mapped_column(Integer, default=0)
    cut_off: Mapped[bool | None] = mapped_column(Boolean)
    charging: Mapped[bool | None] = mapped_column(Boolean)
    voltage_level: Mapped[int | None] = mapped_column(SmallInteger)
    gsm_signal: Mapped[int | None] = mapped_column(SmallInteger)
    odometer_m: Mapped[float] = mapped_column(Float, default=0.0)  #: GPS distance so far
    attributes: Mapped[dict[str, Any] | None] = mapped_column(JSON)


# --- positions and what is derived from them -------------------------------------------------


class GpsPosition(Base):
    """One fix of one device. ``UNIQUE(device_id, fix_time)`` makes every write idempotent
    (a device resending after a lost acknowledgement stores nothing twice) and is the index
    every read by device and period uses.

    ``distance_m`` is from the device's previous accepted fix, 0 when this fix was filtered
    as noise (invalid, 0/0, an implausible jump): summing it is the GPS mileage.
    ``raw`` keeps the frame as received, for diagnosing a device.

    On PostgreSQL migration ``gps_0003`` partitions the table by month of ``fix_time``
    (``services/retention.py`` keeps the partitions), and PostgreSQL then requires the
    primary key to be ``(id, fix_time)``. The model still declares ``id`` alone, on purpose:
    SQLite only auto-increments a single ``INTEGER PRIMARY KEY``, so a composite key here
    would leave every SQLite insert without an id; ids stay unique on PostgreSQL because they
    all come from one sequence; and Alembic's comparison does not look at primary keys, so
    ``carebiz.migrate.differences`` stays empty on both databases without a special rule.
    The tables built from the models (the tests' ``create_all``) are plain, unpartitioned."""

    __tablename__ = "gps_position"
    __table_args__ = (
        UniqueConstraint("device_id", "fix_time", name="uq_gps_position_device_time"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("gps_device.id", ondelete="CASCADE"))
    fix_time: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    latitude: Mapped[float] = mapped_column(Float)
    longitude: Mapped[float] = mapped_column(Float)
    speed_kmh: Mapped[float] = mapped_column(Float, default=0.0)
    course: Mapped[int] = mapped_column(SmallInteger, default=0)
    valid: Mapped[bool] = mapped_column(Boolean, default=True)
    satellites: Mapped[int | None] = mapped_column(SmallInteger)
    ignition: Mapped[bool | None] = mapped_column(Boolean)
    reupload: Mapped[bool] = mapped_column(Boolean, default=False)
    odometer_m: Mapped[int | None] = mapped_column(BigInteger)
    fuel_l: Mapped[float | None] = mapped_column(Float)
    distance_m: Mapped[float] = mapped_column(Float, default=0.0)
    attributes: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    raw: Mapped[bytes | None] = mapped_column(LargeBinary)


class GpsTrip(Base):
    """A closed trip (ignition on / moving to a stop), written at ingest from the
    incremental detector so the trips report is SQL over a small table. Unique by device and
    start: a detector replaying the same fixes writes nothing twice."""

    __tablename__ = "gps_trip"
    __table_args__ = (
        UniqueConstraint("device_id", "start_time", name="uq_gps_trip_device_start"),
        Index("ix_gps_trip_vehicle_start", "vehicle_id", "start_time"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("gps_device.id", ondelete="CASCADE"))
    vehicle_id: Mapped[int | None] = mapped_column(ForeignKey("vehicle.id", ondelete="SET NULL"))
    start_time: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    end_time: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    start_lat: Mapped[float] = mapped_column(Float)
    start_lon: Mapped[float] = mapped_column(Float)
    end_lat: Mapped[float] = mapped_column(Float)
    end_lon: Mapped[float] = mapped_column(Float)
    distance_m: Mapped[float] = mapped_column(Float, default=0.0)
    duration_s: Mapped[int] = mapped_column(Integer, default=0)
    avg_speed_kmh: Mapped[float] = mapped_column(Float, default=0.0)
    max_speed_kmh: Mapped[float] = mapped_column(Float, default=0.0)
    fuel_l: Mapped[float | None] = mapped_column(Float)


class GpsStop(Base):
    """A closed stop (not moving for at least the minimal stop time), with its place."""

    __tablename__ = "gps_stop"
    __table_args__ = (
        UniqueConstraint("device_id", "start_time", name="uq_gps_stop_device_start"),
        Index("ix_gps_stop_vehicle_start", "vehicle_id", "start_time"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("gps_device.id", ondelete="CASCADE"))
    vehicle_id: Mapped[int | None] = mapped_column(ForeignKey("vehicle.id", ondelete="SET NULL"))
    start_time: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    end_time: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    latitude: Mapped[float] = mapped_column(Float)
    longitude: Mapped[float] = mapped_column(Float)
    duration_s: Mapped[int] = mapped_column(Integer, default=0)
    ignition: Mapped[bool | None] = mapped_column(Boolean)


class GpsMileageDaily(Base):
    """A device's distance, engine time, fuel and top speed per day (the business's time
    zone), upserted at ingest: the daily / weekly / monthly mileage reports of a whole fleet
    read this table, never positions."""

    __tablename__ = "gps_mileage_daily"
    __table_args__ = (Index("ix_gps_mileage_daily_day", "day", "device_id"),
                      Index("ix_gps_mileage_daily_vehicle", "vehicle_id", "day"))

    device_id: Mapped[int] = mapped_column(
        ForeignKey("gps_device.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    vehicle_id: Mapped[int | None] = mapped_column(ForeignKey("vehicle.id", ondelete="SET NULL"))
    distance_m: Mapped[float] = mapped_column(Float, default=0.0)
    engine_seconds: Mapped[int] = mapped_column(Integer, default=0)
    fuel_l: Mapped[float | None] = mapped_column(Float)
    max_speed_kmh: Mapped[float] = mapped_column(Float, default=0.0)
    positions: Mapped[int] = mapped_column(Integer, default=0)


# --- alarms ----------------------------------------------------------------------------------


class GpsAlarm(Versioned, BranchOwned, Base):
    """An alarm raised by a device (SOS, power cut …) or by a rule at ingest (overspeed,
    geofence, idle …): stored, shown live, acknowledged by a person with a note.

    Attributes:
        type: one of :data:`carebiz_plugins.gps.fixes.ALARM_TYPES` (``other:<hex>`` for a
            device alarm the plugin does not name).
        details: what the rule knew (fence id, speed and limit, minutes …).
        status: ``open`` or ``acknowledged``.
    """

    __tablename__ = "gps_alarm"
    __table_args__ = (
        Index("ix_gps_alarm_device_time", "device_id", "fix_time"),
        Index("ix_gps_alarm_branch_time", "branch_id", "fix_time"),
        Index("ix_gps_alarm_status_time", "status", "fix_time", "branch_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("gps_device.id", ondelete="CASCADE"))
    vehicle_id: Mapped[int | None] = mapped_column(
        ForeignKey("vehicle.id", ondelete="SET NULL"), index=True)
    type: Mapped[str] = mapped_column(String(32))
    fix_time: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="open")
    acknowledged_by: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"))
    acknowledged_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    note: Mapped[str] = mapped_column(Text, default="")


# --- geofences and groups --------------------------------------------------------------------


class GpsGeofence(Versioned, BranchOwned, TimestampMixin, Base):
    """A fence drawn on the map: a circle (centre point + ``radius_m``), a polygon or a
    route corridor (a line + ``half_width_m``), stored as GeoJSON text in WGS-84.

    ``schedule`` (optional) says when it is active, e.g.
    ``{"days": [1, 2, 3, 4, 5], "from": "08:00", "to": "18:00"}`` in the business's zone;
    ``speed_limit_kmh`` is an overspeed limit inside the fence."""

    __tablename__ = "gps_geofence"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    kind: Mapped[str] = mapped_column(String(12), default="circle")
    geometry: Mapped[str] = mapped_column(Text)
    radius_m: Mapped[float | None] = mapped_column(Float)
    half_width_m: Mapped[float | None] = mapped_column(Float)
    schedule: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    speed_limit_kmh: Mapped[float | None] = mapped_column(Float)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    notes: Mapped[str] = mapped_column(Text, default="")


class GpsGeofenceVehicle(Base):
    """A fence assigned to one vehicle."""

    __tablename__ = "gps_geofence_vehicle"

    geofence_id: Mapped[int] = mapped_column(
        ForeignKey("gps_geofence.id", ondelete="CASCADE"), primary_key=True)
    vehicle_id: Mapped[int] = mapped_column(
        ForeignKey("vehicle.id", ondelete="CASCADE"), primary_key=True, index=True)


class GpsGroup(Versioned, BranchOwned, TimestampMixin, Base):
    """A group of vehicles (a fleet, a customer's cars) that share alarm limits and
    fences: overspeed (with a minimal duration for one episode), idle, fatigue driving,
    allowed ignition hours and the offline delay. Empty limits: that rule is off."""

    __tablename__ = "gps_group"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    overspeed_kmh: Mapped[float | None] = mapped_column(Float)
    overspeed_min_seconds: Mapped[int] = mapped_column(Integer, default=10)
    idle_minutes: Mapped[int | None] = mapped_column(Integer)
    fatigue_hours: Mapped[float | None] = mapped_column(Float)
    fatigue_break_minutes: Mapped[int] = mapped_column(Integer, default=20)
    #: e.g. ``{"days": [1, 2, 3, 4, 5], "from": "07:00", "to": "20:00"}``
    allowed_hours: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    offline_minutes: Mapped[int | None] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    notes: Mapped[str] = mapped_column(Text, default="")


class GpsGroupVehicle(Base):
    """A vehicle in a group."""

    __tablename__ = "gps_group_vehicle"

    group_id: Mapped[int] = mapped_column(
        ForeignKey("gps_group.id", ondelete="CASCADE"), primary_key=True)
    vehicle_id: Mapped[int] = mapped_column(
        ForeignKey("vehicle.id", ondelete="CASCADE"), primary_key=True, index=True)


class GpsGeofenceGroup(Base):
    """A fence assigned to a group (every vehicle of the group is watched by it)."""

    __tablename__ = "gps_geofence_group"

    geofence_id: Mapped[int] = mapped_column(
        ForeignKey("gps_geofence.id", ondelete="CASCADE"), primary_key=True)
    group_id: Mapped[int] = mapped_column(
        ForeignKey("gps_group.id", ondelete="CASCADE"), primary_key=True, index=True)


# --- commands --------------------------------------------------------------------------------


class GpsCommand(Versioned, BranchOwned, Base):
    """A command for a device: fuel/power cut-off, restore, or free text. Queued while the
    device is offline, sent when it connects, its reply recorded (``replied``), or
    ``failed`` / ``cancelled``. Carries the device's branch so who may see it follows the
    same rule as the device."""

    __tablename__ = "gps_command"
    __table_args__ = (Index("ix_gps_command_device_status", "device_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("gps_device.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(12), default="custom")
    text: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(12), default="queued")
    requested_by: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"))
    requested_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    reply: Mapped[str] = mapped_column(Text, default="")
    replied_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


#: the ingest tables without a branch of their own: limited through their device's branch
DEVICE_SCOPED = (GpsPosition, GpsDeviceState, GpsTrip, GpsStop, GpsMileageDaily)


# --- service subscriptions and waybills (gps_0002, helper gsubs) -----------------------------
#
# Money is ``Numeric(14, 2)`` beside its ISO currency code and read as ``Decimal``. A
# subscription's period and a waybill's status only move through
# ``services.subscriptions`` and ``services.waybills``.

WAYBILL_STATUSES = ("received", "loaded", "in_transit", "delivered")


class GpsSubscription(Versioned, BranchOwned, TimestampMixin, Base):
    """A device's platform service subscription: the period it is paid (or free) for.

    One per device (``device_id`` unique): a renewal moves ``end_on`` forward by a year and
    records a :class:`GpsSubscriptionPayment`; the subscription is expired when ``end_on``
    is before today (read, never stored, so it cannot go stale). ``reminded_for`` is the
    ``end_on`` a renewal reminder was last sent for: the daily reminder job sends one per
    period, whatever how often it runs. ``customer_id`` is the vehicle's owner when the
    subscription was made or last renewed — who the reminder goes to.

    Attributes:
        yearly_price / currency: the price of one more year, fixed when it was made (the
            setting may change later; a customer keeps the price agreed).
        start_on: the first day of service; ``end_on`` the last paid (or free) day.
    """

    __tablename__ = "gps_subscription"
    __table_args__ = (
        CheckConstraint("yearly_price >= 0", name="yearly_price"),
        CheckConstraint("end_on >= start_on", name="period"),
        Index("ix_gps_subscription_end_on", "end_on", "branch_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    device_id: Mapped[int] = mapped_column(
        ForeignKey("gps_device.id", ondelete="CASCADE"), unique=True)
    customer_id: Mapped[int | None] = mapped_column(
        ForeignKey("party.id", ondelete="SET NULL"), index=True)
    yearly_price: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    currency: Mapped[str] = mapped_column(String(3), default="CNY")
    start_on: Mapped[dt.date] = mapped_column(Date)
    end_on: Mapped[dt.date] = mapped_column(Date)
    reminded_for: Mapped[dt.date | None] = mapped_column(Date)
    reminded_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    notes: Mapped[str] = mapped_column(Text, default="")


class GpsSubscriptionPayment(BranchOwned, TimestampMixin, Base):
    """Money received for one year of service (a renewal), with the period it pays for.

    ``UNIQUE(subscription_id, period_start)``: the same period cannot be paid twice, even by
    two clerks pressing "renew" at the same moment."""

    __tablename__ = "gps_subscription_payment"
    __table_args__ = (
        UniqueConstraint("subscription_id", "period_start",
                         name="uq_gps_subscription_payment_period"),
        CheckConstraint("amount >= 0", name="amount"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subscription_id: Mapped[int] = mapped_column(
        ForeignKey("gps_subscription.id", ondelete="CASCADE"), index=True)
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    currency: Mapped[str] = mapped_column(String(3))
    period_start: Mapped[dt.date] = mapped_column(Date)
    period_end: Mapped[dt.date] = mapped_column(Date)
    paid_on: Mapped[dt.date] = mapped_column(Date)
    method: Mapped[str] = mapped_column(String(20), default="cash")
    reference: Mapped[str] = mapped_column(String(60), default="")
    recorded_by: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"))


class GpsWaybill(Versioned, BranchOwned, TimestampMixin, Base):
    """A consignment carried by a fleet vehicle: who sends it, who receives it, what and
    how much, on which vehicle with which driver.

    ``number`` (``WB20261202-0001``: the day it was received and a counter of that day) is
    what the barcode encodes and what the public tracking page is asked for. ``status``:
    ``received`` → ``loaded`` → ``in_transit`` → ``delivered``, each change a
    :class:`GpsWaybillEvent`. ``token_generation`` is part of every tracking token issued:
    raising it withdraws the links given out before.
    """

    __tablename__ = "gps_waybill"
    __table_args__ = (
        CheckConstraint("pieces >= 1", name="pieces"),
        CheckConstraint("weight_kg >= 0", name="weight_kg"),
        Index("ix_gps_waybill_status_created", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(24), unique=True)
    status: Mapped[str] = mapped_column(String(12), default="received")
    shipper_id: Mapped[int | None] = mapped_column(
        ForeignKey("party.id", ondelete="SET NULL"), index=True)
    shipper_name: Mapped[str] = mapped_column(String(120))
    shipper_phone: Mapped[str] = mapped_column(String(32), default="")
    consignee_name: Mapped[str] = mapped_column(String(120))
    consignee_phone: Mapped[str] = mapped_column(String(32), default="")
    #: optional: status notices go here by e-mail too (the phone needs an SMS gateway)
    consignee_email: Mapped[str] = mapped_column(String(254), default="")
    destination: Mapped[str] = mapped_column(String(200), default="")
    goods: Mapped[str] = mapped_column(String(200))
    pieces: Mapped[int] = mapped_column(Integer, default=1)
    weight_kg: Mapped[Decimal | None] = mapped_column(Numeric(10, 2))
    vehicle_id: Mapped[int | None] = mapped_column(
        ForeignKey("vehicle.id", ondelete="SET NULL"), index=True)
    driver_name: Mapped[str] = mapped_column(String(80), default="")
    driver_phone: Mapped[str] = mapped_column(String(32), default="")
    delivered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    token_generation: Mapped[int] = mapped_column(Integer, default=1)
    notes: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"))


class GpsWaybillEvent(BranchOwned, Base):
    """One status change of a waybill, as scanned: when, by whom, and where the vehicle
    was at that moment (its device's live state then; empty when it had no fix)."""

    __tablename__ = "gps_waybill_event"
    __table_args__ = (Index("ix_gps_waybill_event_waybill_at", "waybill_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    waybill_id: Mapped[int] = mapped_column(ForeignKey("gps_waybill.id", ondelete="CASCADE"))
    from_status: Mapped[str | None] = mapped_column(String(12))
    status: Mapped[str] = mapped_column(String(12))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    vehicle_id: Mapped[int | None] = mapped_column(ForeignKey("vehicle.id", ondelete="SET NULL"))
    device_id: Mapped[int | None] = mapped_column(
        ForeignKey("gps_device.id", ondelete="SET NULL"))
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    fix_time: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    scanned_by: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"))
    note: Mapped[str] = mapped_column(Text, default="")
