"""Service subscriptions of trackers: start (first year free), renewal as a payment and a
revenue event, reminders once per period, the expired flag — services without HTTP first,
then the API, the CLI and the branch privacy."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from carebiz.testing import make_customer, make_vehicle
from carebiz.toolkit import today as business_today

UTC = dt.UTC


@pytest.fixture
def session(app: Flask, seeded: dict[str, Any]) -> Iterator[Session]:
    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        yield sess


def _device(sess: Session, branch: int, n: int, *, owner: bool = True) -> Any:
    from carebiz_plugins.gps.models import GpsDevice

    party = make_customer(sess, f"车主{n}", branch) if owner else None
    car = make_vehicle(sess, 700 + n, branch, owner_id=party.id if party else None,
                       plate=f"沪B5{n:04d}")
    device = GpsDevice(imei=f"3563070424{n:05d}", vehicle_id=car.id, branch_id=branch,
                       status="active")
    sess.add(device)
    sess.flush()
    return device


@pytest.fixture
def fleet(app: Flask, seeded: dict[str, Any]) -> dict[str, Any]:
    """A subscribed tracker in branch A (owner 车主1) and one in branch B."""
    from carebiz_plugins.gps.services import subscriptions

    out: dict[str, Any] = {}
    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        for n, code in ((1, "A"), (2, "B")):
            device = _device(sess, seeded["branches"][code], n)
            sub = subscriptions.subscribe(sess, device, start_on=dt.date(2026, 1, 10))
            out[code] = {"device": device.id, "subscription": sub.id,
                         "vehicle": device.vehicle_id}
        sess.commit()
    return out


def test_first_year_is_free_and_lasts_a_year(session: Session, seeded: dict[str, Any]) -> None:
    from carebiz_plugins.gps.models import GpsSubscriptionPayment
    from carebiz_plugins.gps.services import subscriptions

    device = _device(session, seeded["branches"]["A"], 5)
    sub = subscriptions.subscribe(session, device, start_on=dt.date(2028, 2, 29))
    assert (sub.start_on, sub.end_on) == (dt.date(2028, 2, 29), dt.date(2029, 2, 27))
    assert sub.yearly_price == Decimal("360.00") and sub.currency == "CNY"
    assert session.scalar(select(func.count(GpsSubscriptionPayment.id))) == 0
    with pytest.raises(Exception, match="already has a subscription") as err:
        subscriptions.subscribe(session, device)
    assert getattr(err.value, "status", 409) == 409


def test_a_pending_device_gets_no_subscription(session: Session) -> None:
    from carebiz.errors import ValidationFailed
    from carebiz_plugins.gps.models import GpsDevice
    from carebiz_plugins.gps.services import subscriptions

    pending = GpsDevice(imei="356307042449999", status="pending")
    session.add(pending)
    session.flush()
    with pytest.raises(ValidationFailed) as err:
        subscriptions.subscribe(session, pending)
    assert "device_id" in err.value.errors


def test_without_a_free_year_the_first_year_is_paid_and_earned(
        app: Flask, session: Session, seeded: dict[str, Any]) -> None:
    from carebiz.crm.models import RevenueEvent
    from carebiz.services import settings
    from carebiz_plugins.gps.services import subscriptions

    host = app.extensions["carebiz"].host
    settings.set_value(session, host, "gps.subscription_first_year_free", False)
    settings.set_value(session, host, "gps.subscription_price", "480.50")
    session.commit()
    device = _device(session, seeded["branches"]["A"], 6)
    sub = subscriptions.subscribe(session, device, start_on=dt.date(2026, 3, 1))
    revenue = session.scalars(select(RevenueEvent).where(
        RevenueEvent.source == subscriptions.REVENUE_SOURCE)).all()
    assert [(r.amount, r.currency, r.party_id) for r in revenue] == [
        (Decimal("480.50"), "CNY", sub.customer_id)]


def test_renewal_extends_by_a_year_and_reports_revenue_once(
        app: Flask, fleet: dict[str, Any]) -> None:
    from carebiz.crm.models import PartyValue, RevenueEvent
    from carebiz.errors import Conflict
    from carebiz_plugins.gps.models import GpsSubscription, GpsSubscriptionPayment
    from carebiz_plugins.gps.services import subscriptions

    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        sub = sess.get(GpsSubscription, fleet["A"]["subscription"])
        assert sub is not None
        today = business_today()
        sub.end_on = today + dt.timedelta(days=3)
        sess.commit()
        payment = subscriptions.renew(sess, sub, {"method": "wechat", "reference": "T-1"})
        sess.commit()
        assert payment.period_start == today + dt.timedelta(days=4)
        assert sub.end_on == subscriptions.plus_year(payment.period_start) - dt.timedelta(1)
        assert (payment.amount, payment.currency, payment.method) == (
            Decimal("360.00"), "CNY", "wechat")
        events = sess.scalars(select(RevenueEvent).where(
            RevenueEvent.source == "gps.subscription")).all()
        assert [(e.party_id, e.amount, e.ref) for e in events] == [
            (sub.customer_id, Decimal("360.00"), str(payment.id))]
        value = sess.get(PartyValue, sub.customer_id)
        assert value is not None and value.lifetime_value == Decimal("360.00")
        # a stale version is refused before anything is written
        with pytest.raises(Conflict):
            subscriptions.renew(sess, sub, {}, expected_version=[sub.version - 1])
        sess.rollback()
        assert sess.scalar(select(func.count(GpsSubscriptionPayment.id))) == 1


def test_renewing_an_expired_subscription_starts_today(app: Flask,
                                                        fleet: dict[str, Any]) -> None:
    from carebiz_plugins.gps.models import GpsSubscription
    from carebiz_plugins.gps.services import subscriptions

    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        sub = sess.get(GpsSubscription, fleet["A"]["subscription"])
        assert sub is not None
        sub.end_on = business_today() - dt.timedelta(days=40)
        sess.flush()
        assert subscriptions.state(sub) == "expired"
        payment = subscriptions.renew(sess, sub, {"amount": "300"})
        assert payment.period_start == business_today() and payment.amount == Decimal("300.00")
        assert subscriptions.state(sub) == "active"


def test_renewal_input_is_checked_field_by_field(app: Flask, fleet: dict[str, Any]) -> None:
    from carebiz.errors import ValidationFailed
    from carebiz_plugins.gps.models import GpsSubscription
    from carebiz_plugins.gps.services import subscriptions

    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        sub = sess.get(GpsSubscription, fleet["A"]["subscription"])
        with pytest.raises(ValidationFailed) as err:
            subscriptions.renew(sess, sub, {"amount": "-1", "method": "gold",
                                            "paid_on": "yesterday", "colour": "red"})
        assert set(err.value.errors) == {"amount", "method", "paid_on", "colour"}


def test_reminders_once_per_period_on_the_timeline(app: Flask, fleet: dict[str, Any]) -> None:
    from carebiz.crm.models import TimelineEntry
    from carebiz_plugins.gps.models import GpsSubscription
    from carebiz_plugins.gps.services import subscriptions

    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        sub = sess.get(GpsSubscription, fleet["A"]["subscription"])
        assert sub is not None
        end = sub.end_on
        # nine days before the end: too early; six days before: A's and B's, once
        assert subscriptions.send_reminders(sess, end - dt.timedelta(days=9)) == 0
        assert subscriptions.send_reminders(sess, end - dt.timedelta(days=6)) == 2
        sess.commit()
        assert subscriptions.send_reminders(sess, end - dt.timedelta(days=6)) == 0
        assert subscriptions.send_reminders(sess, end - dt.timedelta(days=1)) == 0
        entries = sess.scalars(select(TimelineEntry).where(
            TimelineEntry.kind == "gps.subscription_reminder",
            TimelineEntry.party_id == sub.customer_id)).all()
        assert len(entries) == 1
        entry = entries[0]
        assert entry.party_id == sub.customer_id and entry.ref_id == str(sub.id)
        assert entry.due_at is not None and "renewal due" in entry.subject
        # renewed: the next period gets its own reminder
        subscriptions.renew(sess, sub, {})
        sess.commit()
        assert subscriptions.send_reminders(sess, sub.end_on - dt.timedelta(days=2)) == 1


def test_reminders_skip_cars_without_owner(session: Session, seeded: dict[str, Any]) -> None:
    from carebiz_plugins.gps.services import subscriptions

    device = _device(session, seeded["branches"]["A"], 7, owner=False)
    sub = subscriptions.subscribe(session, device, start_on=dt.date(2026, 1, 1))
    assert subscriptions.send_reminders(session, sub.end_on - dt.timedelta(days=3)) == 0


def test_cli_reminders_is_idempotent(app: Flask, fleet: dict[str, Any]) -> None:
    from carebiz_plugins.gps.models import GpsSubscription

    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        end = sess.get(GpsSubscription, fleet["A"]["subscription"]).end_on  # type: ignore[union-attr]
    on = (end - dt.timedelta(days=5)).isoformat()
    runner = app.test_cli_runner()
    first = runner.invoke(args=["gps", "reminders", "--on", on])
    assert first.exit_code == 0, first.output
    assert "2 renewal reminder(s)" in first.output  # A's and B's share the start date
    again = runner.invoke(args=["gps", "reminders", "--on", on])
    assert "0 renewal reminder(s)" in again.output
    bad = runner.invoke(args=["gps", "reminders", "--on", "soon"])
    assert bad.exit_code != 0 and "YYYY-MM-DD" in bad.output


def test_the_scheduled_job_and_its_task_are_registered(app: Flask) -> None:
    host = app.extensions["carebiz"].host
    assert "gps.subscription_reminders" in {t.name for t in host.collect("tasks")}
    jobs = {j.name: j for j in host.collect("scheduled_jobs")}
    assert jobs["gps.daily_subscription_reminders"].every == dt.timedelta(days=1)
