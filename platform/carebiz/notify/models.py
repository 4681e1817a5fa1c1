"""The notify service's tables: in-app notifications (what the bell counts), the outbox of
deliveries to other channels (e-mail, SMS …) with their attempts, and each user's choice of
channels.

The outbox exists so that a notice is never lost and never breaks its sender: ``send`` writes
the rows in the sender's transaction (they commit or vanish with the sender's change) and a
background job delivers them after the commit, retrying failures with growing pauses.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from carebiz.db import Base, utcnow

#: how important a notice is; channels may use it (an SMS gateway sends only "high")
IMPORTANCES = ("low", "normal", "high")

#: delivery states of the outbox: waiting (first try or a retry), being sent by a runner,
#: sent, given up after the last attempt, and never sent because no channel could take the
#: address (an outside recipient: the row is the record that the notice was not lost
#: silently; ``last_error`` holds ``<reason>:<kind of address>``)
PENDING, SENDING, SENT, FAILED, UNSENT = "pending", "sending", "sent", "failed", "unsent"
DELIVERY_STATUSES = (PENDING, SENDING, SENT, FAILED, UNSENT)


class Notification(Base):
    """A notice shown to a user in the application (the navbar's bell, ``/notifications``)."""

    __tablename__ = "notification"
    __table_args__ = (
        # the bell's count on every page: unread notices of one user
        Index("ix_notification_user_id_read_at", "user_id", "read_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    subject: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text, default="")
    #: a path of this site (``/gps/alarms/12``) the notice leads to; empty for none
    link: Mapped[str] = mapped_column(String(500), default="")
    #: what it is about, ``<plugin>.<what>`` (``gps.alarm``), for filters and preferences
    kind: Mapped[str] = mapped_column(String(80), default="")
    #: the plugin that sent it (``core``, ``gps``)
    source: Mapped[str] = mapped_column(String(40), default="core")
    importance: Mapped[str] = mapped_column(String(10), default="normal")
    read_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class NotificationDelivery(Base):
    """One notice on its way to one address through one channel (the outbox)."""

    __tablename__ = "notification_delivery"
    __table_args__ = (
        # the retry sweep: waiting deliveries whose time has come
        Index("ix_notification_delivery_status_next_attempt_at", "status", "next_attempt_at"),
        # a record's page asking what became of the notices about it
        Index("ix_notification_delivery_about", "about_type", "about_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(40))
    address: Mapped[str] = mapped_column(String(254))
    #: the user or customer the address belongs to, when it is not a bare address
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"))
    party_id: Mapped[int | None] = mapped_column(ForeignKey("party.id", ondelete="SET NULL"))
    subject: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text, default="")
    link: Mapped[str] = mapped_column(String(500), default="")
    kind: Mapped[str] = mapped_column(String(80), default="")
    source: Mapped[str] = mapped_column(String(40), default="core")
    importance: Mapped[str] = mapped_column(String(10), default="normal")
    status: Mapped[str] = mapped_column(String(10), default=PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[dt.datetime | None]
    #: the record the notice is about (``Notice.about_type``/``about_id``); empty for none
    about_type: Mapped[str] = mapped_column(String(40), default="", server_default="")
    about_id: Mapped[int | None]


class NotificationPreference(Base):
    """A user's choice for one channel; no row means the channel's default."""

    __tablename__ = "notification_preference"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True)
    channel: Mapped[str] = mapped_column(String(40), primary_key=True)
    enabled: Mapped[bool] = mapped_column(default=True)


NOTIFY_MODELS: list[type] = [Notification, NotificationDelivery, NotificationPreference]
