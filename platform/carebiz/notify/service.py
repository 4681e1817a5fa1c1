"""Sending notices: one call for every plugin, delivered after the sender commits.

``send(session, notice)`` works out the channels and addresses of the recipient and writes
them in the sender's transaction: an in-app notification row (the bell counts it the moment
the sender commits) and one outbox row (:class:`NotificationDelivery`) per other channel.
After the commit the ``notification.queued`` event submits a background job that hands each
outbox row to its channel's ``deliver``. A channel that raises marks that attempt failed
(logged, retried with growing pauses by the scheduled ``core.notify.retry`` job, given up
after :data:`MAX_ATTEMPTS`); the sender's change was committed long before and stays.

An outside recipient (:meth:`Recipient.external`, a waybill's consignee) whom no enabled
channel can reach gets an ``unsent`` outbox row instead of nothing: who should have been told
is not a user who could look at the bell, so the sender's page must be able to say that the
notice did not go out and why (:func:`deliveries_about`, :func:`problem`).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Sequence
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import Session

from carebiz.contributions import NotificationChannel
from carebiz.db import utcnow
from carebiz.errors import NotFound, ValidationFailed
from carebiz.events import emit
from carebiz.generations import NOTICES, kept
from carebiz.i18n import N_
from carebiz.models import User
from carebiz.notify.models import (
    FAILED,
    IMPORTANCES,
    PENDING,
    SENDING,
    SENT,
    UNSENT,
    Notification,
    NotificationDelivery,
    NotificationPreference,
)
from carebiz.notify.notice import Notice, Recipient
from carebiz.notify.signals import deliveries_queued
from carebiz.text import printable

log = logging.getLogger(__name__)

INAPP = "inapp"
EMAIL = "email"
#: pause before the n-th retry of a failed delivery; after the last one it is given up
BACKOFF = (dt.timedelta(minutes=1), dt.timedelta(minutes=5), dt.timedelta(minutes=30),
           dt.timedelta(hours=2), dt.timedelta(hours=12))
MAX_ATTEMPTS = len(BACKOFF) + 1
#: how long a runner may hold a delivery it claimed before another may take it over (the
#: first process died while sending)
CLAIM = dt.timedelta(minutes=15)
#: deliveries one run of the delivery job works through at most
BATCH = 500


def locale_of(user: User | None) -> str:
    """The language to write a notice to ``user`` in: theirs, else the business default
    (``CAREBIZ_DEFAULT_LOCALE``), for ``flask_babel.force_locale``. ``None`` (someone who
    is no user, e.g. a consignee) gets the business default: we know nothing better."""
    from flask import current_app, has_app_context

    default = current_app.config.get("CAREBIZ_DEFAULT_LOCALE") if has_app_context() else None
    return str((user.locale if user is not None else None) or default or "en")


def channels(host: Any, app: Any = None) -> dict[str, NotificationChannel]:
    """The registered channels by name, those switched off by their configuration left out
    when ``app`` is given."""
    found: dict[str, NotificationChannel] = {}
    for channel in host.collect("notification_channels"):
        if app is not None:
            try:
                if not channel.enabled(app):
                    continue
            except Exception:  # a broken check must not stop the other channels
                log.exception("notification channel %s: enabled() failed", channel.name)
                continue
        found.setdefault(channel.name, channel)
    return found


def preferences(session: Session, user_id: int) -> dict[str, bool]:
    """The user's explicit choices, channel -> on/off (channels not named take their
    default)."""
    rows = session.execute(select(NotificationPreference.channel, NotificationPreference.enabled)
                           .where(NotificationPreference.user_id == user_id))
    return {channel: enabled for channel, enabled in rows}


def set_preferences(session: Session, host: Any, user: User, choices: dict[str, bool]) -> None:
    """Record which channels ``user`` receives notices through (unknown channels are
    refused, naming them)."""
    known = channels(host)
    unknown = sorted(set(choices) - set(known))
    if unknown:
        raise ValidationFailed(_("Unknown notification channels: %(names)s.",
                                 names=", ".join(unknown)),
                               {name: _("No such channel.") for name in unknown})
    held = {p.channel: p for p in session.scalars(
        select(NotificationPreference).where(NotificationPreference.user_id == user.id))}
    for name, enabled in choices.items():
        row = held.get(name)
        if row is None:
            session.add(NotificationPreference(user_id=user.id, channel=name,
                                               enabled=bool(enabled)))
        else:
            row.enabled = bool(enabled)
    session.flush()


def _check(notice: Notice) -> None:
    errors: dict[str, str] = {}
    if not notice.subject.strip():
        errors["subject"] = _("A notice needs a subject.")
    if notice.importance not in IMPORTANCES:
        errors["importance"] = _("One of: %(allowed)s.", allowed=", ".join(IMPORTANCES))
    if notice.link and (not notice.link.startswith("/") or notice.link.startswith("//")):
        errors["link"] = _("A link is a path of this site, starting with /.")
    recipient = notice.recipient
    given = [recipient.user_id is not None, recipient.party_id is not None,
             recipient.address is not None, bool(recipient.addresses)]
    if sum(given) != 1 or (recipient.address is not None) != (recipient.channel is not None) \
            or any(not kind or kind == "user" for kind, _address in recipient.addresses):
        errors["recipient"] = _("Name one user, one customer, a channel and an address, or "
                                "an outside person's addresses.")
    if len(notice.about_type) > 40 or (notice.about_id is None) != (not notice.about_type):
        errors["about"] = _("Name the record a notice is about by its type and id, or "
                            "neither.")
    if errors:
        raise ValidationFailed(_("The notice was not sent: %(fields)s.",
                                 fields=", ".join(sorted(errors))), errors)


def _party_addresses(session: Session, party_id: int) -> dict[str, str]:
    from carebiz.crm.models import Party

    party = session.get(Party, party_id)
    if party is None:
        raise NotFound(_("No customer %(id)s.", id=party_id))
    out: dict[str, str] = {}
    if party.email_addresses:
        out["email"] = party.email_addresses[0]
    if party.phone_numbers:
        out["phone"] = party.phone_numbers[0]
    return out


#: why an outside recipient got no delivery (``last_error`` of an ``unsent`` row)
NO_ADDRESS, BAD_ADDRESS, NO_CHANNEL = "no_address", "bad_address", "no_channel"


def _external_addresses(session: Session, recipient: Recipient
                        ) -> tuple[dict[str, str], dict[str, str]]:
    """The usable addresses of an outside recipient by kind, and the reason for each kind
    that is not usable. Phones are written in E.164 (read in the business's phone region),
    the form channels of kind ``phone`` are promised."""
    usable: dict[str, str] = {}
    unusable: dict[str, str] = {}
    for kind, address in recipient.addresses:
        if kind in usable:
            continue
        if not address:
            unusable.setdefault(kind, NO_ADDRESS)
            continue
        if kind == "phone":
            from carebiz.notify.inbound import normalise_sender

            e164 = normalise_sender(session, address)
            if e164 is None:
                unusable.setdefault(kind, BAD_ADDRESS)
                continue
            address = e164
        usable[kind] = address
        unusable.pop(kind, None)
    return usable, unusable


def send(session: Session, notice: Notice) -> list[str]:
    """Record ``notice`` for delivery after the caller commits; answer the channels it will
    go through (empty when the recipient takes none, e.g. an inactive user or a customer
    without an address). Never commits and never talks to a mail server: the caller's
    transaction decides whether the notice exists at all."""
    _check(notice)
    host = session.info["carebiz.host"]
    app = session.info.get("carebiz.app")
    offered = channels(host, app)
    if notice.channels:
        offered = {n: c for n, c in offered.items() if n in notice.channels}
    recipient = notice.recipient
    targets: list[tuple[NotificationChannel, str]] = []
    if recipient.user_id is not None:
        # the columns only: a whole User loads its roles, grants and branches (alarms go to
        # many users at once)
        found = session.execute(select(User.active, User.email, User.phone)
                                .where(User.id == recipient.user_id)).first()
        if found is None:
            raise NotFound(_("No user %(id)s.", id=recipient.user_id))
        active, email, phone = found
        if not active:
            return []
        chosen = preferences(session, recipient.user_id)
        addresses = {"user": str(recipient.user_id), "email": email, "phone": phone}
        for channel in sorted(offered.values(), key=lambda c: (c.weight, c.name)):
            if chosen.get(channel.name, channel.default_on):
                address = addresses.get(channel.address) or ""
                if address:
                    targets.append((channel, address))
    elif recipient.party_id is not None:
        addresses = _party_addresses(session, recipient.party_id)
        for channel in sorted(offered.values(), key=lambda c: (c.weight, c.name)):
            if channel.address != "user" and addresses.get(channel.address):
                targets.append((channel, addresses[channel.address]))
    elif recipient.addresses:
        addresses, unusable = _external_addresses(session, recipient)
        for channel in sorted(offered.values(), key=lambda c: (c.weight, c.name)):
            if channel.address != "user" and addresses.get(channel.address):
                targets.append((channel, addresses[channel.address]))
        if not targets:
            _record_unsent(session, notice, addresses, unusable)
            return []
    else:
        named = offered.get(recipient.channel or "")
        if named is None or named.address == "user":
            raise ValidationFailed(
                _("No notification channel '%(name)s' is available.", name=recipient.channel),
                {"recipient": _("Unknown or switched-off channel.")})
        targets.append((named, str(recipient.address)))
    subject = notice.subject.strip()[:200]
    queued: list[NotificationDelivery] = []
    for channel, address in targets:
        if channel.address == "user":
            session.add(Notification(
                user_id=int(address), subject=subject, text=notice.text, link=notice.link,
                kind=notice.kind, source=notice.source, importance=notice.importance))
            continue
        delivery = NotificationDelivery(
            channel=channel.name, address=address[:254], user_id=recipient.user_id,
            party_id=recipient.party_id, subject=subject, text=notice.text, link=notice.link,
            kind=notice.kind, source=notice.source, importance=notice.importance,
            about_type=notice.about_type, about_id=notice.about_id)
        session.add(delivery)
        queued.append(delivery)
    if queued:
        session.flush()
        _queue(session, [d.id for d in queued])
    return [channel.name for channel, _address in targets]


def _record_unsent(session: Session, notice: Notice, addresses: dict[str, str],
                   unusable: dict[str, str]) -> None:
    """One ``unsent`` row per kind of address the outside recipient was given: the record
    that the notice was meant for them and could not go (``<reason>:<kind>``)."""
    reasons = {**{kind: NO_CHANNEL for kind in addresses}, **unusable}
    given = dict(notice.recipient.addresses)
    for kind, reason in reasons.items():
        address = addresses.get(kind, given.get(kind, ""))
        log.warning("notice %r to %s %r not sent: %s", notice.kind, kind, address, reason)
        session.add(NotificationDelivery(
            channel="", address=address[:254], subject=notice.subject.strip()[:200],
            text=notice.text, link=notice.link, kind=notice.kind, source=notice.source,
            importance=notice.importance, status=UNSENT, last_error=f"{reason}:{kind}"[:500],
            about_type=notice.about_type, about_id=notice.about_id))
    session.flush()


def deliveries_about(session: Session, about_type: str,
                     about_ids: Iterable[int]) -> dict[int, list[NotificationDelivery]]:
    """What became of the notices about these records: their deliveries by record id, oldest
    first (the caller shows only records the user may see, so this filters nothing more)."""
    wanted = sorted(set(about_ids))
    out: dict[int, list[NotificationDelivery]] = {i: [] for i in wanted}
    if not wanted:
        return out
    rows = session.scalars(select(NotificationDelivery).where(
        NotificationDelivery.about_type == about_type,
        NotificationDelivery.about_id.in_(wanted))
        .order_by(NotificationDelivery.created_at, NotificationDelivery.id))
    for row in rows:
        out[int(row.about_id or 0)].append(row)
    return out


_KINDS = {"phone": N_("phone number"), "email": N_("e-mail address")}


def problem(delivery: NotificationDelivery) -> str:
    """Why a delivery did not (yet) reach its recipient, for a person, in the current
    language; empty for one that was sent or waits for its first attempt."""
    if delivery.status == SENT or (delivery.status != UNSENT and not delivery.last_error):
        return ""
    if delivery.status == UNSENT:
        reason, _sep, kind = delivery.last_error.partition(":")
        what = _(_KINDS[kind]) if kind in _KINDS else kind
        if reason == NO_ADDRESS:
            return str(_("Not sent: no %(what)s to send it to.", what=what))
        if reason == BAD_ADDRESS:
            return str(_("Not sent: “%(address)s” is not a phone number.",
                         address=delivery.address))
        return str(_("Not sent: no notification channel can reach this %(what)s (an SMS "
                     "gateway plugin adds one for phones).", what=what))
    if delivery.status == FAILED:
        return str(_("Given up after %(n)s attempts: %(error)s", n=delivery.attempts,
                     error=delivery.last_error))
    return str(_("Attempt %(n)s failed, will be retried: %(error)s", n=delivery.attempts,
                 error=delivery.last_error))


BATCH_KEY = "carebiz.notify.batch"


def _queue(session: Session, ids: list[int]) -> None:
    """One ``notification.queued`` event (so one delivery job) per transaction, however many
    notices it sends: an alarm to twenty watchers is one job, not twenty. Later sends in the
    same (innermost) transaction add their ids to the event already recorded; a rolled-back
    SAVEPOINT drops its own event and ids with it."""
    transaction = session.get_nested_transaction() or session.get_transaction()
    held = session.info.get(BATCH_KEY)
    if held is not None and held[0] is transaction and transaction is not None:
        held[1].extend(ids)
        return
    batch = list(ids)
    emit(session, deliveries_queued, delivery_ids=batch)
    transaction = session.get_nested_transaction() or session.get_transaction()
    session.info[BATCH_KEY] = (transaction, batch)


def send_many(session: Session, notices: Iterable[Notice]) -> int:
    """Send several notices; answer how many channel deliveries they make in all."""
    return sum(len(send(session, notice)) for notice in notices)


# -- delivery ----------------------------------------------------------------------------------
def notice_of(delivery: NotificationDelivery) -> Notice:
    """The notice an outbox row carries, as its channel's ``deliver`` receives it."""
    if delivery.user_id is not None:
        recipient = Recipient.user(delivery.user_id)
    elif delivery.party_id is not None:
        recipient = Recipient.customer(delivery.party_id)
    else:
        recipient = Recipient.to(delivery.channel, delivery.address)
    return Notice(recipient, delivery.subject, delivery.text, delivery.link, delivery.kind,
                  delivery.source, delivery.importance, (delivery.channel,),
                  delivery.about_type, delivery.about_id)


def _claim(session: Session, delivery_id: int, now: dt.datetime) -> bool:
    """Take one waiting delivery for this runner (another runner's claim lapses after
    :data:`CLAIM`), committed at once so a second runner sees it taken."""
    taken = _rowcount(session.execute(
        update(NotificationDelivery)
        .where(NotificationDelivery.id == delivery_id,
               NotificationDelivery.status.in_((PENDING, SENDING)),
               NotificationDelivery.next_attempt_at <= now)
        .values(status=SENDING, next_attempt_at=now + CLAIM,
                attempts=NotificationDelivery.attempts + 1)))
    session.commit()
    return bool(taken)


def due(session: Session, ids: Sequence[int] | None = None, limit: int = BATCH) -> list[int]:
    """Deliveries waiting whose time has come (of ``ids`` only, when given), oldest first."""
    stmt = (select(NotificationDelivery.id)
            .where(NotificationDelivery.status.in_((PENDING, SENDING)),
                   NotificationDelivery.next_attempt_at <= utcnow())
            .order_by(NotificationDelivery.next_attempt_at, NotificationDelivery.id)
            .limit(limit))
    if ids is not None:
        stmt = stmt.where(NotificationDelivery.id.in_(list(ids)))
    return list(session.scalars(stmt))


def deliver_due(session: Session, host: Any, app: Any,
                ids: Sequence[int] | None = None) -> dict[str, int]:
    """Hand every due delivery (of ``ids``, when given) to its channel, each in its own
    transaction; answer how many were sent, failed for now (to be retried) and given up."""
    counts = {"sent": 0, "retry": 0, "failed": 0}
    offered = channels(host, app)
    for delivery_id in due(session, ids):
        now = utcnow()
        if not _claim(session, delivery_id, now):
            continue  # another runner took it
        delivery = session.get(NotificationDelivery, delivery_id)
        if delivery is None:  # pragma: no cover - deleted between claim and read
            continue
        session.refresh(delivery)
        channel = offered.get(delivery.channel)
        try:
            if channel is None or channel.deliver is None:
                raise LookupError(f"channel {delivery.channel!r} is not available")
            channel.deliver(notice_of(delivery), delivery.address)
        except Exception as exc:  # any failure of a channel is this delivery's, not ours
            log.warning("notification %s via %s to %s failed (attempt %s): %s", delivery.id,
                        delivery.channel, delivery.address, delivery.attempts, exc,
                        exc_info=True)
            delivery.last_error = printable(f"{type(exc).__name__}: {exc}")[:500]
            if delivery.attempts >= MAX_ATTEMPTS:
                delivery.status = FAILED
                counts["failed"] += 1
            else:
                delivery.status = PENDING
                delivery.next_attempt_at = utcnow() + BACKOFF[delivery.attempts - 1]
                counts["retry"] += 1
        else:
            delivery.status, delivery.sent_at, delivery.last_error = SENT, utcnow(), ""
            counts["sent"] += 1
        session.commit()
    return counts


# -- in-app ------------------------------------------------------------------------------------
#: the process-wide memo of :func:`unread_count` (``carebiz.generations.kept``)
UNREAD_MEMO = "unread_notices"
#: more users counted than this since the last notice: start over
UNREAD_LIMIT = 10_000


def unread_count(session: Session, user_id: int) -> int:
    """The bell's number: an indexed count, kept per process and user under the ``notices``
    generation (every page asks; any notice written, read or removed, in any worker, bumps
    that counter in its own transaction, so the next request everywhere counts again).
    Nothing is kept without counters, nor from a session with notices in flight. The
    statement is built once, of the table's columns: building an ORM statement cost more
    than the count."""
    counts: dict[int, int] | None = kept(session, NOTICES, UNREAD_MEMO, Notification)
    found = counts.get(user_id) if counts is not None else None
    if found is not None:
        return found
    count = int(session.scalar(_UNREAD, {"user_id": user_id}) or 0)
    if counts is not None:
        if len(counts) >= UNREAD_LIMIT:
            counts.clear()
        counts[user_id] = count
    return count


_UNREAD = (select(func.count(Notification.__table__.c.id))
           .where(Notification.__table__.c.user_id == bindparam("user_id"),
                  Notification.__table__.c.read_at.is_(None)))


def for_user(user_id: int, unread: bool = False) -> Any:
    """The statement of a user's notifications, newest first (only theirs, whoever asks)."""
    stmt = select(Notification).where(Notification.user_id == user_id)
    if unread:
        stmt = stmt.where(Notification.read_at.is_(None))
    return stmt.order_by(Notification.created_at.desc(), Notification.id.desc())


def own(session: Session, user_id: int, notification_id: int) -> Notification:
    """The user's notification, or a 404 (another user's reads as missing)."""
    row = session.get(Notification, notification_id)
    if row is None or row.user_id != user_id:
        raise NotFound(_("No notification with this id."))
    return row


def mark_read(session: Session, user_id: int, notification_id: int) -> Notification:
    """Mark one of the user's notifications read (again: keeps the first time)."""
    row = own(session, user_id, notification_id)
    if row.read_at is None:
        row.read_at = utcnow()
        session.flush()
    return row


def mark_all_read(session: Session, user_id: int) -> int:
    """Mark every unread notification of the user read; answer how many."""
    return _rowcount(session.execute(
        update(Notification).where(Notification.user_id == user_id,
                                   Notification.read_at.is_(None))
        .values(read_at=utcnow())))


def purge(session: Session, keep_days: int) -> int:
    """Delete read notifications and finished deliveries older than ``keep_days``."""
    from sqlalchemy import delete

    cutoff = utcnow() - dt.timedelta(days=keep_days)
    gone = _rowcount(session.execute(delete(Notification).where(
        Notification.read_at.is_not(None), Notification.created_at < cutoff)))
    gone += _rowcount(session.execute(delete(NotificationDelivery).where(
        NotificationDelivery.status.in_((SENT, FAILED, UNSENT)),
        NotificationDelivery.created_at < cutoff)))
    return gone


def _rowcount(result: Any) -> int:
    """Rows an UPDATE or DELETE touched (typed results of ``execute`` hide it)."""
    return int(getattr(result, "rowcount", 0) or 0)
