"""Platform service subscriptions of trackers: one per device, a year at a time.

A dealer charges for the tracking service (by default 360 CNY a year, the first year free:
settings ``gps.subscription_price``, ``…_currency``, ``…_first_year_free``). Each device has
one :class:`~carebiz_plugins.gps.models.GpsSubscription` whose ``end_on`` is the last day of
service paid for; it is *expired* when that day has passed — read from the date, never a
stored flag, so a subscription cannot "forget" to expire.

* :func:`subscribe` starts it (also done for every newly registered device by the
  ``gps.device.registered`` receiver, see :func:`on_device_registered`);
* :func:`renew` records a year's payment, moves ``end_on`` on and reports the money to the
  core as the customer's revenue — the same call the sales plugin makes on delivery
  (:func:`carebiz.crm.services.value.record_revenue`), so the customer's lifetime value moves;
* :func:`send_reminders` (the daily job and ``carebiz gps reminders``) writes a renewal
  reminder on the customer's timeline a week before the end (and sends it through
  :mod:`carebiz.notify` to the customer's e-mail or phone), once per period whatever how
  often it runs.

Services never commit: the caller (page, API, job, CLI) owns the transaction.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from carebiz.concurrency import check_version, lock
from carebiz.crm.models import Vehicle
from carebiz.crm.services import value
from carebiz.crm.timeline import add_entry
from carebiz.currency.codes import check_code
from carebiz.currency.money import quantize, to_decimal
from carebiz.errors import Conflict, ValidationFailed
from carebiz.events import Audit, emit
from carebiz.i18n import N_
from carebiz.notify import Notice, Recipient, send
from carebiz.services import settings
from carebiz.text import text_problem
from carebiz.toolkit import business_tz, host, today

from ..models import GpsDevice, GpsSubscription, GpsSubscriptionPayment
from ..signals import subscription_reminder, subscription_renewed, subscription_started

#: ``source`` of the revenue events this plugin reports (with the payment id as ``ref``)
REVENUE_SOURCE = "gps.subscription"
#: the timeline kind of a renewal reminder (registered by the plugin's ``timeline_kinds``)
REMINDER_KIND = "gps.subscription_reminder"
STATES = ("active", "expiring", "expired")
METHODS = ("cash", "card", "transfer", "wechat", "alipay", "invoice")

PRICE = "gps.subscription_price"
CURRENCY = "gps.subscription_currency"
FIRST_YEAR_FREE = "gps.subscription_first_year_free"
REMINDER_DAYS = "gps.subscription_reminder_days"


@dataclass(frozen=True)
class Terms:
    """What a new subscription costs, from the settings at the time it is made."""

    price: Decimal
    currency: str
    first_year_free: bool
    reminder_days: int


def terms(session: Session) -> Terms:
    """The current settings (a wrong currency code in them is a 422 naming the setting,
    never a subscription in an unknown currency)."""
    plugins = host()
    currency = check_code(str(settings.get(session, plugins, CURRENCY) or "CNY"), CURRENCY)
    price = quantize(to_decimal(settings.get(session, plugins, PRICE), PRICE), currency)
    return Terms(price=price, currency=currency,
                 first_year_free=bool(settings.get(session, plugins, FIRST_YEAR_FREE)),
                 reminder_days=max(0, int(settings.get(session, plugins, REMINDER_DAYS) or 0)))


def plus_year(day: dt.date) -> dt.date:
    """The same day a year later (29 February → 28 February)."""
    try:
        return day.replace(year=day.year + 1)
    except ValueError:
        return day.replace(year=day.year + 1, day=28)


def period_from(start: dt.date) -> tuple[dt.date, dt.date]:
    """One year of service starting on ``start``: its first and last day."""
    return start, plus_year(start) - dt.timedelta(days=1)


def state(sub: GpsSubscription, on: dt.date | None = None, reminder_days: int = 7) -> str:
    """``expired`` (its last day has passed), ``expiring`` (ends within ``reminder_days``)
    or ``active``."""
    on = on or today()
    if sub.end_on < on:
        return "expired"
    if sub.end_on <= on + dt.timedelta(days=reminder_days):
        return "expiring"
    return "active"


def snapshot(sub: GpsSubscription) -> dict[str, Any]:
    return {"device_id": sub.device_id, "customer_id": sub.customer_id,
            "yearly_price": str(sub.yearly_price), "currency": sub.currency,
            "start_on": sub.start_on.isoformat(), "end_on": sub.end_on.isoformat()}


def _owner(session: Session, device: GpsDevice) -> int | None:
    if device.vehicle_id is None:
        return None
    return session.scalar(select(Vehicle.owner_id).where(Vehicle.id == device.vehicle_id))


def for_device(session: Session, device_id: int) -> GpsSubscription | None:
    return session.scalar(select(GpsSubscription).where(GpsSubscription.device_id == device_id))


def subscribe(session: Session, device: GpsDevice, *, start_on: dt.date | None = None,
              user: Any = None) -> GpsSubscription:
    """Start the device's subscription at the current price, for a year from ``start_on``
    (today). With ``gps.subscription_first_year_free`` the first year costs nothing;
    otherwise it is recorded as paid like a renewal. A device has one subscription (409
    for a second); a pending device (no vehicle, no branch yet) gets none (422)."""
    if device.vehicle_id is None or device.branch_id is None:
        message = _("The tracker is not fitted to a vehicle yet: assign it first.")
        raise ValidationFailed(message, {"device_id": message})
    existing = for_device(session, device.id)
    if existing is not None:
        raise Conflict(_("This tracker already has a subscription, until %(day)s.",
                         day=existing.end_on.isoformat()),
                       {"device_id": _("Already subscribed.")},
                       {"subscription_id": existing.id})
    deal = terms(session)
    first, last = period_from(start_on or today())
    sub = GpsSubscription(device_id=device.id, customer_id=_owner(session, device),
                          yearly_price=deal.price, currency=deal.currency, start_on=first,
                          end_on=last, branch_id=device.branch_id)
    session.add(sub)
    session.flush()
    emit(session, subscription_started, subscription_id=sub.id, device_id=device.id,
         customer_id=sub.customer_id, branch_id=sub.branch_id, start_on=first, end_on=last,
         audit=Audit("gps_subscription", sub.id, N_("Subscription %(id)s started"), None,
                     snapshot(sub), branch_id=sub.branch_id, args={"id": sub.id},
                     version=sub.version))
    if not deal.first_year_free and deal.price > 0:
        _pay(session, sub, first, last, deal.price, {"method": "invoice", "paid_on": first},
             user)
    return sub


def _amount(data: dict[str, Any], sub: GpsSubscription, errors: dict[str, str]) -> Decimal:
    raw = data.get("amount")
    if raw in (None, ""):
        return sub.yearly_price
    try:
        number = to_decimal(raw, "amount")
    except ValidationFailed as exc:
        errors["amount"] = str(exc.errors.get("amount") or exc)
        return Decimal(0)
    if number < 0 or number >= Decimal("1e12"):
        errors["amount"] = _("Give an amount of zero or more.")
        return Decimal(0)
    return quantize(number, sub.currency)


def renew(session: Session, sub: GpsSubscription, data: dict[str, Any] | None = None, *,
          user: Any = None, expected_version: Any = None) -> GpsSubscriptionPayment:
    """Renew for a year: a payment (``amount``, by default the subscription's yearly
    price, in its currency; ``method``, ``reference``, ``paid_on``) extends ``end_on`` by a
    year — from the old end while it runs, from today once it has expired (the gap is not
    charged). The same period is never paid twice (the payment table is unique by period,
    and the row is locked while renewing). The payment is reported to the core as revenue
    of the vehicle's owner, who becomes the subscription's customer."""
    data = dict(data or {})
    errors: dict[str, str] = {}
    unknown = set(data) - {"amount", "method", "reference", "paid_on"}
    errors.update({f: _("Unknown field.") for f in sorted(unknown)})
    check_version(session, sub, expected_version, entity_type="gps_subscription",
                  current=snapshot(sub))
    sub = lock(session, GpsSubscription, [sub.id])[sub.id]
    amount = _amount(data, sub, errors)
    method = str(data.get("method") or "cash")
    if method not in METHODS:
        errors["method"] = _("One of: %(choices)s.", choices=", ".join(METHODS))
    reference = str(data.get("reference") or "").strip()
    problem = text_problem(reference, 60)
    if problem:
        errors["reference"] = problem
    paid_on = data.get("paid_on") or today()
    if not isinstance(paid_on, dt.date):
        try:
            paid_on = dt.date.fromisoformat(str(paid_on))
        except ValueError:
            errors["paid_on"] = _("A date as YYYY-MM-DD.")
    if errors:
        raise ValidationFailed(_("The renewal was not recorded: %(fields)s.",
                                 fields=", ".join(sorted(errors))), errors)
    on = today()
    start = sub.end_on + dt.timedelta(days=1) if sub.end_on >= on else on
    first, last = period_from(start)
    return _pay(session, sub, first, last, amount,
                {"method": method, "reference": reference, "paid_on": paid_on}, user)


def _pay(session: Session, sub: GpsSubscription, first: dt.date, last: dt.date,
         amount: Decimal, data: dict[str, Any], user: Any) -> GpsSubscriptionPayment:
    paid = session.scalar(select(GpsSubscriptionPayment.id).where(
        GpsSubscriptionPayment.subscription_id == sub.id,
        GpsSubscriptionPayment.period_start == first))
    if paid is not None:
        raise Conflict(_("The year from %(day)s is already paid.", day=first.isoformat()),
                       {"period_start": _("Already paid.")}, {"payment_id": paid})
    before = snapshot(sub)
    device = session.get(GpsDevice, sub.device_id)
    owner = _owner(session, device) if device is not None else None
    payment = GpsSubscriptionPayment(
        subscription_id=sub.id, amount=amount, currency=sub.currency, period_start=first,
        period_end=last, paid_on=data["paid_on"], method=data.get("method") or "cash",
        reference=data.get("reference") or "", recorded_by=getattr(user, "id", None),
        branch_id=sub.branch_id)
    session.add(payment)
    sub.end_on = max(sub.end_on, last)
    if owner is not None:
        sub.customer_id = owner
    session.flush()
    if owner is not None and amount > 0:
        value.record_revenue(session, party_id=owner, amount=amount, currency=sub.currency,
                             occurred_on=payment.paid_on, source=REVENUE_SOURCE,
                             ref=payment.id, vehicle_id=device.vehicle_id if device else None)
    emit(session, subscription_renewed, subscription_id=sub.id, payment_id=payment.id,
         device_id=sub.device_id, customer_id=owner, amount=amount, currency=sub.currency,
         end_on=sub.end_on,
         audit=Audit("gps_subscription", sub.id,
                     N_("Subscription %(id)s renewed until %(day)s"), before,
                     {**snapshot(sub), "payment_id": payment.id, "amount": str(amount)},
                     branch_id=sub.branch_id, args={"id": sub.id, "day": sub.end_on.isoformat()},
                     version=sub.version))
    return payment


def due_for_reminder(session: Session, on: dt.date, days: int) -> list[GpsSubscription]:
    """Subscriptions ending between ``on`` and ``on + days`` that have not been reminded of
    this end yet, of devices still in service."""
    return list(session.scalars(
        select(GpsSubscription).join(GpsDevice, GpsDevice.id == GpsSubscription.device_id)
        .where(GpsSubscription.end_on >= on,
               GpsSubscription.end_on <= on + dt.timedelta(days=days),
               or_(GpsSubscription.reminded_for.is_(None),
                   GpsSubscription.reminded_for != GpsSubscription.end_on),
               GpsDevice.status == "active")
        .order_by(GpsSubscription.end_on, GpsSubscription.id)))


def _end_of(day: dt.date) -> dt.datetime:
    """The last minute of ``day`` on the business's clock, aware."""
    return dt.datetime.combine(day, dt.time(23, 59), tzinfo=business_tz())


def send_reminders(session: Session, on: dt.date | None = None) -> int:
    """Write a renewal reminder on each customer's timeline whose subscription ends within
    ``gps.subscription_reminder_days`` (7) of ``on`` (today), with the end as its due date.
    Idempotent: a subscription is reminded once per period (``reminded_for`` keeps the end
    it was reminded of, re-checked under a row lock so two runs at once write one entry).
    A device whose vehicle has no owner has nobody to remind and is skipped. Returns how
    many reminders were written."""
    on = on or today()
    days = terms(session).reminder_days
    candidates = due_for_reminder(session, on, days)
    if not candidates:
        return 0
    locked = lock(session, GpsSubscription, [s.id for s in candidates])
    # the vehicles of all of them in one query, never one per subscription
    vehicles = {device_id: vehicle for device_id, vehicle in session.execute(
        select(GpsDevice.id, Vehicle).join(Vehicle, Vehicle.id == GpsDevice.vehicle_id)
        .where(GpsDevice.id.in_({s.device_id for s in candidates})))}
    sent = 0
    for sub in (locked[s.id] for s in candidates):
        if sub.reminded_for == sub.end_on:
            continue  # a concurrent run got there first
        vehicle = vehicles.get(sub.device_id)
        if vehicle is None or vehicle.owner_id is None:
            continue
        label = vehicle.plate or vehicle.vin or str(vehicle.id)
        entry = add_entry(
            session, party_id=vehicle.owner_id, kind=REMINDER_KIND,
            subject=_("GPS service for %(vehicle)s ends on %(day)s: renewal due",
                      vehicle=label, day=sub.end_on.isoformat()),
            body=_("Renewal: %(price)s %(currency)s for one more year.",
                   price=sub.yearly_price, currency=sub.currency),
            ref_type="gps_subscription", ref_id=sub.id, vehicle_id=vehicle.id,
            due_at=_end_of(sub.end_on), user=None)
        # and through the core notify service: every channel the customer's record has an
        # address for (none: nothing is sent, nothing fails)
        send(session, Notice(Recipient.customer(vehicle.owner_id), entry.subject, entry.body,
                             kind=REMINDER_KIND, source="gps"))
        sub.customer_id = vehicle.owner_id
        sub.reminded_for = sub.end_on
        sub.reminded_at = dt.datetime.now(dt.UTC)
        session.flush()
        emit(session, subscription_reminder, subscription_id=sub.id,
             customer_id=vehicle.owner_id, entry_id=entry.id, end_on=sub.end_on)
        sent += 1
    return sent


def on_device_registered(sender: Any, device_id: int, **_payload: Any) -> None:
    """Receiver of ``gps.device.registered``: a newly fitted tracker gets its
    subscription (free first year by default) in a transaction of its own."""
    from carebiz.signals import receiver_session

    with receiver_session(sender) as session:
        device = session.get(GpsDevice, device_id)
        if device is not None and device.vehicle_id is not None \
                and for_device(session, device.id) is None:
            subscribe(session, device)
