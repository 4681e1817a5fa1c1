"""Waybill status notices to the consignee through the core notify service (issue 12).

The consignee is no user of ours: all we know is the phone number on the waybill and, when
the clerk took it, an e-mail address. So the notice goes to
``Recipient.external(phone=..., email=...)`` and the core picks whatever enabled channel takes
one of them — the shipped e-mail channel for the address, an SMS gateway for the phone once a
plugin contributes one, with no change here. When nothing can reach the consignee the core
records an ``unsent`` delivery, and the waybill's page and API show it next to the scan
(:func:`notice_states`), so a clerk sees that the consignee was *not* told instead of
assuming they were.

Timing: the notice is built by receivers of ``gps.waybill.created`` and
``gps.waybill.status_changed``, which the events machinery sends only after the scan's
transaction committed — a scan that rolled back never notifies anyone — and in a session of
their own (:func:`carebiz.signals.receiver_session`), so a failing notice is logged and never
fails the scan. The text is in the business's default language (the consignee has no
language of their own on record), with the scan's time in the business's time zone.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from flask import Flask
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from carebiz.contributions import EventReceiver
from carebiz.models import Branch
from carebiz.notify import Notice, Recipient, deliveries_about, locale_of, problem, send
from carebiz.services import settings
from carebiz.signals import receiver_session
from carebiz.toolkit import business_tz, host

from . import signals
from .models import GpsWaybill, GpsWaybillEvent
from .services.waybills import issue_token, status_label, tracking_path

#: the switch for every branch, and the branches (by code) where notices are off anyway
ENABLED = "gps.waybill_consignee_notices"
OFF_BRANCHES = "gps.waybill_consignee_notices_off"
#: what a notice's deliveries are recorded against: the scan (event) that caused it
ABOUT = "gps_waybill_event"


def _codes(text: str) -> set[str]:
    return {part.strip().upper() for part in str(text or "").replace(";", ",").split(",")
            if part.strip()}


def notices_on(session: Session, branch_id: int | None) -> bool:
    """Whether waybills of ``branch_id`` notify their consignee: the global switch, less the
    branches listed by code in :data:`OFF_BRANCHES` (a depot whose customers asked not to get
    text messages)."""
    if not settings.get(session, host(), ENABLED):
        return False
    off = _codes(settings.get(session, host(), OFF_BRANCHES))
    if not off or branch_id is None:
        return True
    code = session.scalar(select(Branch.code).where(Branch.id == branch_id))
    return (code or "").upper() not in off


def _local(moment: dt.datetime) -> str:
    return moment.astimezone(business_tz()).strftime("%Y-%m-%d %H:%M")


def consignee_notice(session: Session, bill: GpsWaybill, event: GpsWaybillEvent) -> Notice:
    """The notice of one scan: number, status in words, time (business zone) and position
    when the vehicle had a fix, and the public tracking link with a fresh token (issuing it
    is audited like a link a clerk hands out)."""
    token, _expires = issue_token(session, bill)
    with force_locale(locale_of(None)):
        status = status_label(event.status)
        subject = _("Consignment %(number)s: %(status)s", number=bill.number, status=status)
        text = _("Consignment %(number)s (%(pieces)s pieces): %(status)s at %(time)s.",
                 number=bill.number, pieces=bill.pieces, status=status,
                 time=_local(event.at))
        if event.latitude is not None and event.longitude is not None:
            text += " " + _("Position: %(where)s.",
                            where=f"{event.latitude:.5f},{event.longitude:.5f}")
        text += " " + _("Follow it on the tracking page:")
    return Notice(Recipient.external(phone=bill.consignee_phone,
                                     email=bill.consignee_email or None), subject, text,
                  link=tracking_path(bill.number, token), kind=f"gps.waybill.{event.status}",
                  source="gps", about_type=ABOUT, about_id=event.id)


def notify_scan(session: Session, waybill_id: int, event_id: int) -> list[str]:
    """Send the notice of one scan (nothing when notices are off for the waybill's branch);
    answer the channels it goes through (``[]``: recorded as not sent)."""
    bill = session.get(GpsWaybill, waybill_id)
    event = session.get(GpsWaybillEvent, event_id)
    if bill is None or event is None or not notices_on(session, bill.branch_id):
        return []
    return send(session, consignee_notice(session, bill, event))


def on_status_changed(sender: Flask, waybill_id: int, event_id: int, **_: Any) -> None:
    """Receiver of ``gps.waybill.status_changed`` (after the scan's commit)."""
    with sender.app_context(), receiver_session(sender) as session:
        notify_scan(session, waybill_id, event_id)


def on_created(sender: Flask, waybill_id: int, **_: Any) -> None:
    """Receiver of ``gps.waybill.created``: the first status, ``received``, is news for the
    consignee too (and brings them the tracking link early)."""
    with sender.app_context(), receiver_session(sender) as session:
        first = session.scalar(select(GpsWaybillEvent.id)
                               .where(GpsWaybillEvent.waybill_id == waybill_id)
                               .order_by(GpsWaybillEvent.at, GpsWaybillEvent.id).limit(1))
        if first is not None:
            notify_scan(session, waybill_id, first)


def receivers() -> list[EventReceiver]:
    return [EventReceiver(signals.waybill_created, on_created,
                          name="gps.notify_consignee.created"),
            EventReceiver(signals.waybill_status_changed, on_status_changed,
                          name="gps.notify_consignee")]


def notice_states(session: Session, event_ids: Iterable[int]) -> dict[int, list[dict[str, Any]]]:
    """What became of each scan's notice, for the waybill's page and API: one entry per
    delivery (channel, address, status, attempts, sent_at, ``problem`` in words)."""
    found = deliveries_about(session, ABOUT, event_ids)
    return {event_id: [{"channel": d.channel, "address": d.address, "status": d.status,
                        "attempts": d.attempts, "sent_at": d.sent_at, "problem": problem(d)}
                       for d in rows] for event_id, rows in found.items()}
