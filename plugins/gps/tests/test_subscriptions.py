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


# --- the expired flag: device list, device page, customer panel ------------------------------


def _expire(app: Flask, subscription_id: int) -> None:
    from carebiz_plugins.gps.models import GpsSubscription

    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        sub = sess.get(GpsSubscription, subscription_id)
        assert sub is not None
        sub.end_on = business_today() - dt.timedelta(days=3)
        sess.commit()


def test_expired_subscription_is_flagged_in_the_device_list(app: Flask,
                                                            fleet: dict[str, Any],
                                                            seeded: dict[str, Any]) -> None:
    from carebiz import lists
    from carebiz.models import User
    from carebiz_plugins.gps.device_list import DEVICES

    _expire(app, fleet["A"]["subscription"])
    with app.test_request_context(), app.extensions["carebiz"].session_factory() as sess:
        admin = sess.get(User, seeded["users"]["admin"])

        def ids(**args: str) -> list[int]:
            listed = lists.prepare(DEVICES, args, sess, admin)
            return [d.id for d in lists.page(listed, sess, 1).items]

        assert ids(service="expired") == [fleet["A"]["device"]]
        assert ids(service="active") == [fleet["B"]["device"]]
        assert ids(service="none") == []
        rows = {r["id"]: r for r in DEVICES.export.rows(sess, admin, lists.prepare(
            DEVICES, {}, sess, admin).stmt)}
        assert rows[fleet["A"]["device"]]["service_until"] < business_today()


def test_device_page_row_and_customer_panel_flag_the_expiry(app: Flask,
                                                           fleet: dict[str, Any],
                                                           seeded: dict[str, Any]) -> None:
    from flask import render_template

    from carebiz.crm.models import Party
    from carebiz.models import User
    from carebiz_plugins.gps import panel
    from carebiz_plugins.gps.models import GpsDevice, GpsSubscription

    _expire(app, fleet["A"]["subscription"])
    with app.test_request_context(), app.extensions["carebiz"].session_factory() as sess:
        device = sess.get(GpsDevice, fleet["A"]["device"])
        html = render_template("gps/_subscription_flag.html", device=device)
        assert 'data-subscription="expired"' in html
        admin = sess.get(User, seeded["users"]["admin"])
        sub = sess.get(GpsSubscription, fleet["A"]["subscription"])
        owner = sess.get(Party, sub.customer_id)  # type: ignore[union-attr]
        [shown] = panel.customer_panel(sess, owner, admin)
        assert shown.summary["expired_services"] == 1
        assert shown.summary["trackers"][0]["service_expired"] is True
        assert "data-service-expired" in shown.html


# --- API and privacy ---------------------------------------------------------------------


def test_api_lists_renews_and_hides_other_branches(api_client: Any, app: Flask,
                                                   fleet: dict[str, Any]) -> None:
    manager, sales = api_client("manager"), api_client("sales")
    mine = sales.get("/api/v1/gps/subscriptions").get_json()
    assert [i["id"] for i in mine["items"]] == [fleet["A"]["subscription"]]
    assert mine["items"][0]["customer_name"] == "车主1" and mine["items"][0]["imei"]
    assert sales.get(f"/api/v1/gps/subscriptions/{fleet['B']['subscription']}"
                     ).status_code == 404
    # salespeople read, only managers renew
    url = f"/api/v1/gps/subscriptions/{fleet['A']['subscription']}"
    assert sales.post(f"{url}/renew", json={}).status_code == 403
    renewed = manager.post(f"{url}/renew", json={"amount": "360.00", "method": "card"})
    assert renewed.status_code == 201, renewed.get_json()
    body = renewed.get_json()
    assert body["end_on"] == "2028-01-09" and body["payments"][0]["amount"] == "360"
    stale = manager.post(f"{url}/renew", json={"version": 1})
    assert stale.status_code == 409
    floats = manager.post(f"{url}/renew", json={"amount": 360.5})
    assert floats.status_code == 422 and "amount" in floats.get_json()["errors"]
    again = manager.post("/api/v1/gps/subscriptions", json={"device_id": fleet["A"]["device"]})
    assert again.status_code == 409
    expired = manager.get("/api/v1/gps/subscriptions?state=expired").get_json()
    assert expired["total"] == 0


def test_customer_of_another_branch_is_masked(app: Flask, fleet: dict[str, Any],
                                              seeded: dict[str, Any]) -> None:
    """A tracker of branch A fitted to a car whose owner is a customer of branch B: the
    subscription is A's, the owner's name stays with B."""
    from carebiz.crm.models import Vehicle
    from carebiz.models import User
    from carebiz_plugins.gps.lists_logistics import customer_names
    from carebiz_plugins.gps.models import GpsSubscription

    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        other = make_customer(sess, "别家客户", seeded["branches"]["B"])
        sub = sess.get(GpsSubscription, fleet["A"]["subscription"])
        assert sub is not None
        sub.customer_id = other.id
        car = sess.get(Vehicle, fleet["A"]["vehicle"])
        assert car is not None
        sess.commit()
        sales = sess.get(User, seeded["users"]["sales"])
        names = customer_names(sess, {other.id}, sales)
        assert names[other.id] == "a customer of another branch"


def test_pages_show_list_and_renew(client_for: Any, fleet: dict[str, Any]) -> None:
    manager = client_for("manager")
    listing = manager.get("/gps/subscriptions?state=all")
    assert listing.status_code == 200 and "车主1" in listing.get_data(as_text=True)
    page = manager.get(f"/gps/subscriptions/{fleet['A']['subscription']}")
    assert page.status_code == 200 and 'data-testid="renew-form"' in page.get_data(as_text=True)
    refused = manager.post(f"/gps/subscriptions/{fleet['A']['subscription']}/renew",
                           data={"amount": "lots", "method": "cash"})
    assert refused.status_code == 422
    done = manager.post(f"/gps/subscriptions/{fleet['A']['subscription']}/renew",
                        data={"method": "cash"})
    assert done.status_code == 302
    sales = client_for("sales")
    assert sales.get(f"/gps/subscriptions/{fleet['B']['subscription']}").status_code == 404
    assert 'data-testid="renew-form"' not in sales.get(
        f"/gps/subscriptions/{fleet['A']['subscription']}").get_data(as_text=True)


def test_demo_data_runs_twice(app: Flask, seeded: dict[str, Any]) -> None:
    from carebiz.models import Branch, User
    from carebiz_plugins.gps.demo_logistics import load
    from carebiz_plugins.gps.models import GpsSubscription, GpsWaybill

    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        branch = sess.get(Branch, seeded["branches"]["A"])
        for n in range(4):
            owner = make_customer(sess, f"演示{n}", branch.id)  # type: ignore[union-attr]
            make_vehicle(sess, 600 + n, branch.id, owner_id=owner.id)  # type: ignore[union-attr]
        users = {"admin": sess.get(User, seeded["users"]["admin"])}
        load(sess, [branch], users)
        load(sess, [branch], users)
        sess.commit()
        bills = sess.scalars(select(GpsWaybill)).all()
        assert len(bills) == 6 and {b.status for b in bills} == {
            "received", "loaded", "in_transit", "delivered"}
        from carebiz_plugins.gps.services import subscriptions

        states = sorted(subscriptions.state(s) for s in sess.scalars(select(GpsSubscription)))
        assert states == ["active", "active", "expired", "expiring"]


def test_a_newly_registered_tracker_is_subscribed(app: Flask, seeded: dict[str, Any]) -> None:
    """The ``gps.device.registered`` receiver gives a fitted tracker its free first year,
    in its own transaction after the registration commits."""
    from carebiz.models import User
    from carebiz_plugins.gps.services import devices, subscriptions

    with app.test_request_context(), app.extensions["carebiz"].session_factory() as sess:
        admin = sess.get(User, seeded["users"]["admin"])
        owner = make_customer(sess, "新车主", seeded["branches"]["A"])
        car = make_vehicle(sess, 750, seeded["branches"]["A"], owner_id=owner.id)
        device = devices.register_device(sess, admin, "356307042441013", car.id)
        assert subscriptions.for_device(sess, device.id) is None  # not before the commit
        sess.commit()
        sub = subscriptions.for_device(sess, device.id)
        assert sub is not None and sub.customer_id == owner.id
        assert sub.start_on == business_today() and subscriptions.state(sub) == "active"


def test_merging_customers_moves_subscriptions_and_waybills(app: Flask, fleet: dict[str, Any],
                                                            seeded: dict[str, Any]) -> None:
    from carebiz.crm.models import Party
    from carebiz.crm.services.merge import merge_parties
    from carebiz.models import User
    from carebiz_plugins.gps.models import GpsSubscription
    from carebiz_plugins.gps.services import waybills

    with app.test_request_context(), app.extensions["carebiz"].session_factory() as sess:
        admin = sess.get(User, seeded["users"]["admin"])
        sub = sess.get(GpsSubscription, fleet["A"]["subscription"])
        assert sub is not None
        twin = make_customer(sess, "车主1", seeded["branches"]["A"])
        bill = waybills.create_waybill(sess, {
            "shipper_id": sub.customer_id, "consignee_name": "C", "consignee_phone": "1",
            "goods": "G", "branch_id": seeded["branches"]["A"]}, user=admin)
        assert bill.shipper_name == "车主1"
        sess.commit()
        gone = sub.customer_id
        merge_parties(sess, sess.get(Party, twin.id), sess.get(Party, gone), user=admin)
        sess.commit()
        sess.expire_all()
        assert sess.get(GpsSubscription, sub.id).customer_id == twin.id  # type: ignore[union-attr]
        assert sess.get(type(bill), bill.id).shipper_id == twin.id  # type: ignore[union-attr]


def test_cli_subscribes_trackers_that_have_none(app: Flask, seeded: dict[str, Any]) -> None:
    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        _device(sess, seeded["branches"]["A"], 8)
        _device(sess, seeded["branches"]["B"], 9)
        sess.commit()
    runner = app.test_cli_runner()
    first = runner.invoke(args=["gps", "subscribe-all", "--start", "2026-06-01"])
    assert first.exit_code == 0 and "2 tracker(s) subscribed" in first.output, first.output
    assert "0 tracker(s)" in runner.invoke(args=["gps", "subscribe-all"]).output


def test_the_reminder_goes_out_through_notify_once(make_app: Any) -> None:
    """With e-mail configured, the customer's address gets one notice per period."""
    from carebiz.notify.models import NotificationDelivery
    from carebiz.testing import seed
    from carebiz_plugins.gps.services import subscriptions

    app = make_app(CAREBIZ_PLUGINS="gps", CAREBIZ_SMTP_HOST="127.0.0.1", CAREBIZ_SMTP_PORT=9,
                   CAREBIZ_SMTP_TIMEOUT=1)
    seeded = seed(app)
    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        from carebiz_plugins.gps.models import GpsDevice

        owner = make_customer(sess, "邮件车主", seeded["branches"]["A"],
                              emails=["owner@example.com"])
        car = make_vehicle(sess, 760, seeded["branches"]["A"], owner_id=owner.id)
        device = GpsDevice(imei="356307042446001", vehicle_id=car.id,
                           branch_id=seeded["branches"]["A"], status="active")
        sess.add(device)
        sess.flush()
        sub = subscriptions.subscribe(sess, device, start_on=dt.date(2026, 1, 1))
        on = sub.end_on - dt.timedelta(days=2)
        assert subscriptions.send_reminders(sess, on) == 1
        assert subscriptions.send_reminders(sess, on) == 0
        # the outbox row is written in the reminder's own transaction (delivered after its
        # commit by the core's job, which this test does not need to run)
        rows = sess.scalars(select(NotificationDelivery)).all()
        assert [(r.channel, r.address) for r in rows] == [("email", "owner@example.com")]
        sess.rollback()
