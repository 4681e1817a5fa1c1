"""The core notify service: channels, delivery after commit, failure isolation and retries,
preferences, users' phones, the bell, the page and the API."""

from __future__ import annotations

import datetime as dt
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select, update

from carebiz.db import utcnow
from carebiz.errors import NotFound, ValidationFailed
from carebiz.models import User
from carebiz.notify import Notice, Recipient, send, service, set_preferences, unread_count
from carebiz.notify.models import (
    FAILED,
    PENDING,
    SENT,
    Notification,
    NotificationDelivery,
)
from carebiz.testing import make_customer, make_user, seed
from carebiz.testing.smtp import SmtpSink


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    with SmtpSink() as server:
        yield server


def _closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def app(make_app: Any, sink: SmtpSink) -> Flask:
    app = make_app(CAREBIZ_PLUGINS="none", CAREBIZ_SMTP_HOST="127.0.0.1",
                   CAREBIZ_SMTP_PORT=sink.port, CAREBIZ_SMTP_SENDER="alarms@dealer.example",
                   CAREBIZ_PUBLIC_URL="https://dms.dealer.example/")
    return app


def _session(app: Flask) -> Any:
    return app.extensions["carebiz"].session_factory()


def _user(session: Any, name: str) -> User:
    user = session.scalar(select(User).where(User.username == name))
    assert user is not None
    return user


def _give_email(app: Flask, name: str, email: str) -> int:
    from carebiz.services.users import update_user

    with app.app_context(), _session(app) as s:
        user = _user(s, name)
        update_user(s, user, email=email)
        s.commit()
        return user.id


def test_a_notice_reaches_the_bell_and_the_mail_server_after_commit(app: Flask, seeded: Any,
                                                                    sink: SmtpSink) -> None:
    user_id = _give_email(app, "sales", "sales@dealer.example")
    with app.app_context(), _session(app) as s:
        went = send(s, Notice(Recipient.user(user_id), "SOS on 沪A12345", "Pressed at 10:02",
                              link="/gps/alarms/7", kind="gps.alarm", source="gps",
                              importance="high"))
        assert went == ["inapp", "email"]
        assert sink.messages == []          # nothing leaves before the commit
        s.commit()
    assert len(sink.messages) == 1
    mail = sink.messages[0]
    assert mail["Subject"] == "SOS on 沪A12345" and mail["To"] == "sales@dealer.example"
    assert mail["From"] == "alarms@dealer.example"
    body = mail.get_content()
    assert "Pressed at 10:02" in body
    assert "https://dms.dealer.example/gps/alarms/7" in body  # absolute outside the site
    with app.app_context(), _session(app) as s:
        assert unread_count(s, user_id) == 1
        row = s.scalar(select(Notification))
        assert (row.kind, row.source, row.importance, row.link) == (
            "gps.alarm", "gps", "high", "/gps/alarms/7")
        delivery = s.scalar(select(NotificationDelivery))
        assert (delivery.status, delivery.attempts, delivery.address) == (
            SENT, 1, "sales@dealer.example")


def test_a_rolled_back_sender_notifies_nobody(app: Flask, seeded: Any, sink: SmtpSink) -> None:
    user_id = _give_email(app, "sales", "sales@dealer.example")
    with app.app_context(), _session(app) as s:
        send(s, Notice(Recipient.user(user_id), "Never happened"))
        s.rollback()
    with app.app_context(), _session(app) as s:
        assert s.scalar(select(Notification)) is None
        assert s.scalar(select(NotificationDelivery)) is None
    assert sink.messages == []


def test_a_failing_mail_server_never_breaks_the_sender_and_is_retried(
        make_app: Any, sink: SmtpSink) -> None:
    app = make_app(CAREBIZ_PLUGINS="none", CAREBIZ_SMTP_HOST="127.0.0.1",
                   CAREBIZ_SMTP_PORT=_closed_port(), CAREBIZ_SMTP_TIMEOUT=2)
    seed(app)
    user_id = _give_email(app, "sales", "sales@dealer.example")
    with app.app_context(), _session(app) as s:
        send(s, Notice(Recipient.user(user_id), "Low battery"))
        s.commit()                          # the refused connection does not reach here
        assert unread_count(s, user_id) == 1
    with app.app_context(), _session(app) as s:
        delivery = s.scalar(select(NotificationDelivery))
        assert delivery.status == PENDING and delivery.attempts == 1
        assert "ConnectionRefused" in delivery.last_error
        assert delivery.next_attempt_at > utcnow()  # waits before the retry
        host = app.extensions["carebiz"].host
        # not due yet: the retry job leaves it
        assert service.deliver_due(s, host, app) == {"sent": 0, "retry": 0, "failed": 0}
    # the server is back and the pause is over: the retry job sends it
    app.config["CAREBIZ_SMTP_PORT"] = sink.port
    with app.app_context(), _session(app) as s:
        s.execute(update(NotificationDelivery).values(next_attempt_at=utcnow()))
        s.commit()
        assert service.deliver_due(s, host, app) == {"sent": 1, "retry": 0, "failed": 0}
        assert s.scalar(select(NotificationDelivery.status)) == SENT
    assert [m["Subject"] for m in sink.messages] == ["Low battery"]


def test_a_delivery_is_given_up_after_the_last_attempt(make_app: Any) -> None:
    app = make_app(CAREBIZ_PLUGINS="none", CAREBIZ_SMTP_HOST="127.0.0.1",
                   CAREBIZ_SMTP_PORT=_closed_port(), CAREBIZ_SMTP_TIMEOUT=2)
    seed(app)
    user_id = _give_email(app, "sales", "sales@dealer.example")
    host = app.extensions["carebiz"].host
    with app.app_context(), _session(app) as s:
        send(s, Notice(Recipient.user(user_id), "Offline"))
        s.commit()
        for _attempt in range(service.MAX_ATTEMPTS - 1):
            s.execute(update(NotificationDelivery).values(next_attempt_at=utcnow()))
            s.commit()
            service.deliver_due(s, host, app)
        delivery = s.scalar(select(NotificationDelivery))
        s.refresh(delivery)
        assert (delivery.status, delivery.attempts) == (FAILED, service.MAX_ATTEMPTS)


def test_a_claimed_delivery_is_not_sent_twice(app: Flask, seeded: Any, sink: SmtpSink) -> None:
    user_id = _give_email(app, "sales", "sales@dealer.example")
    host = app.extensions["carebiz"].host
    with app.app_context(), _session(app) as s:
        send(s, Notice(Recipient.user(user_id), "Once"))
        s.commit()
        # delivered after the commit; a second runner finds nothing left to do
        assert service.deliver_due(s, host, app) == {"sent": 0, "retry": 0, "failed": 0}
    assert len(sink.messages) == 1


def test_preferences_choose_the_channels_and_unknown_channels_are_refused(
        app: Flask, seeded: Any, sink: SmtpSink) -> None:
    user_id = _give_email(app, "sales", "sales@dealer.example")
    host = app.extensions["carebiz"].host
    with app.app_context(), _session(app) as s:
        set_preferences(s, host, _user(s, "sales"), {"email": False})
        assert send(s, Notice(Recipient.user(user_id), "Quiet")) == ["inapp"]
        with pytest.raises(ValidationFailed) as refused:
            set_preferences(s, host, _user(s, "sales"), {"pigeon": True})
        assert "pigeon" in refused.value.errors
        s.commit()
    assert sink.messages == []


def test_who_receives_what(app: Flask, seeded: Any, sink: SmtpSink) -> None:
    ids = {"A": None}
    with app.app_context(), _session(app) as s:
        from carebiz.models import Branch
        from carebiz.services.users import update_user

        ids["A"] = s.scalar(select(Branch.id).where(Branch.code == "A"))
        viewer = _user(s, "viewer")
        update_user(s, viewer, active=False)
        customer = make_customer(s, "Wang Fang", ids["A"], emails=["wang@example.com"])
        silent = make_customer(s, "Li Lei", ids["A"])
        s.flush()
        # an inactive user: nothing; a user without an e-mail: in-app only
        assert send(s, Notice(Recipient.user(viewer.id), "x")) == []
        assert send(s, Notice(Recipient.user(_user(s, "manager").id), "x")) == ["inapp"]
        # a customer: the channels their record has an address for, never in-app
        assert send(s, Notice(Recipient.customer(customer.id), "Renewal due")) == ["email"]
        assert send(s, Notice(Recipient.customer(silent.id), "Renewal due")) == []
        # a bare address: its channel only
        assert send(s, Notice(Recipient.to("email", "fleet@example.com"), "Waybill")) == [
            "email"]
        s.commit()
    assert sorted(r[0] for r in sink.recipients) == ["fleet@example.com", "wang@example.com"]


@pytest.mark.parametrize(("notice", "field"), [
    (Notice(Recipient.user(1), "  "), "subject"),
    (Notice(Recipient.user(1), "x", importance="urgent"), "importance"),
    (Notice(Recipient.user(1), "x", link="https://evil.example/"), "link"),
    (Notice(Recipient(), "x"), "recipient"),
    (Notice(Recipient(user_id=1, party_id=2), "x"), "recipient"),
    (Notice(Recipient(address="a@b.example"), "x"), "recipient"),
    (Notice(Recipient(user_id=1, addresses=(("phone", "1"),)), "x"), "recipient"),
    (Notice(Recipient.external(user="1"), "x"), "recipient"),
    (Notice(Recipient.external(phone="1"), "x", about_type="gps_waybill"), "about"),
])
def test_a_malformed_notice_is_refused_naming_the_field(app: Flask, seeded: Any, notice: Notice,
                                                        field: str) -> None:
    with app.app_context(), _session(app) as s, pytest.raises(ValidationFailed) as refused:
        send(s, notice)
    assert field in refused.value.errors


def test_unknown_recipients_and_channels(app: Flask, seeded: Any) -> None:
    with app.app_context(), _session(app) as s:
        with pytest.raises(NotFound):
            send(s, Notice(Recipient.user(99999), "x"))
        with pytest.raises(NotFound):
            send(s, Notice(Recipient.customer(99999), "x"))
        with pytest.raises(ValidationFailed):
            send(s, Notice(Recipient.to("sms", "+8613800138000"), "x"))  # no SMS channel
        with pytest.raises(ValidationFailed):
            send(s, Notice(Recipient.to("inapp", "1"), "x"))  # in-app is for users


def test_email_is_off_without_a_host(make_app: Any) -> None:
    app = make_app(CAREBIZ_PLUGINS="none")
    seed(app)
    user_id = _give_email(app, "sales", "sales@dealer.example")
    with app.app_context(), _session(app) as s:
        assert send(s, Notice(Recipient.user(user_id), "x")) == ["inapp"]


# -- users' phones ---------------------------------------------------------------------------
def test_a_users_phone_is_validated_and_stored_in_e164(app: Flask, seeded: Any) -> None:
    from carebiz.services.users import update_user

    with app.app_context(), _session(app) as s:
        user = make_user(s, "driver", phone="138 0013 8000")
        assert user.phone == "+8613800138000"
        with pytest.raises(ValidationFailed) as refused:
            update_user(s, user, phone="12345")
        assert "phone" in refused.value.errors
        update_user(s, user, phone="")
        assert user.phone == ""


def test_the_admin_page_takes_a_phone(app: Flask, seeded: Any, client_for: Any) -> None:
    admin = client_for("admin")
    answer = admin.post("/admin/users/new", data={
        "username": "fleet", "password": "a-long-Password-1", "phone": "13800138001",
        "locale": ""})
    assert answer.status_code == 302, answer.get_data(as_text=True)
    refused = admin.post("/admin/users/new", data={
        "username": "fleet2", "password": "a-long-Password-1", "phone": "12", "locale": ""})
    assert refused.status_code == 422
    with app.app_context(), _session(app) as s:
        assert _user(s, "fleet").phone == "+8613800138001"


# -- the bell, the page, the API -------------------------------------------------------------
def _notify(app: Flask, name: str, *subjects: str, link: str = "") -> list[int]:
    with app.app_context(), _session(app) as s:
        user = _user(s, name)
        for subject in subjects:
            send(s, Notice(Recipient.user(user.id), subject, link=link, channels=("inapp",)))
        s.commit()
        return list(s.scalars(select(Notification.id).where(Notification.user_id == user.id)
                              .order_by(Notification.id)))


def test_the_bell_counts_unread_notices_and_the_page_marks_them_read(app: Flask, seeded: Any,
                                                                   client_for: Any) -> None:
    ids = _notify(app, "sales", "First", "Second", link="/crm/customers")
    _notify(app, "manager", "Not yours")
    sales = client_for("sales")
    home = sales.get("/").get_data(as_text=True)
    assert 'data-testid="notification-bell"' in home and 'data-unread="2"' in home
    page = sales.get("/notifications/").get_data(as_text=True)
    assert "First" in page and "Second" in page and "Not yours" not in page
    opened = sales.post(f"/notifications/{ids[0]}/read", data={"open": "1"})
    assert opened.status_code == 302 and opened.headers["Location"] == "/crm/customers"
    assert 'data-unread="1"' in sales.get("/").get_data(as_text=True)
    assert sales.get("/notifications/?unread=1").get_data(as_text=True).count(
        "data-notification=") == 1
    sales.post("/notifications/read-all")
    assert 'data-unread="0"' in sales.get("/").get_data(as_text=True)
    # another user's notice answers as missing
    foreign = _notify(app, "manager")[0]
    assert sales.post(f"/notifications/{foreign}/read").status_code == 404


def test_the_page_saves_channel_preferences(app: Flask, seeded: Any, client_for: Any) -> None:
    sales = client_for("sales")
    page = sales.get("/notifications/").get_data(as_text=True)
    assert 'name="channel_email"' in page and 'name="channel_inapp"' in page
    sales.post("/notifications/preferences", data={"channel_inapp": "on"})
    with app.app_context(), _session(app) as s:
        assert service.preferences(s, _user(s, "sales").id) == {"inapp": True, "email": False}


def test_the_api_lists_and_marks_the_callers_own_notifications(app: Flask, seeded: Any,
                                                              api_client: Any) -> None:
    ids = _notify(app, "sales", "One", "Two")
    foreign = _notify(app, "manager", "Theirs")[0]
    sales = api_client("sales")
    listed = sales.get("/api/v1/notifications").get_json()
    assert listed["total"] == 2 and [i["subject"] for i in listed["items"]] == ["Two", "One"]
    assert listed["items"][0]["read"] is False
    marked = sales.post(f"/api/v1/notifications/{ids[0]}/read")
    assert marked.status_code == 200 and marked.get_json()["read"] is True
    assert sales.get("/api/v1/notifications?unread=true").get_json()["total"] == 1
    assert sales.post(f"/api/v1/notifications/{foreign}/read").status_code == 404
    assert sales.post("/api/v1/notifications/read-all").get_json() == {"marked": 1}
    assert app.test_client().get("/api/v1/notifications").status_code == 401


def test_old_read_notifications_are_purged(app: Flask, seeded: Any) -> None:
    _notify(app, "sales", "Old", "New")
    with app.app_context(), _session(app) as s:
        old = s.scalar(select(Notification).where(Notification.subject == "Old"))
        old.read_at = utcnow()
        old.created_at = utcnow() - dt.timedelta(days=100)
        s.commit()
        assert service.purge(s, 90) == 1
        s.commit()
        assert [n.subject for n in s.scalars(select(Notification))] == ["New"]


def test_migration_0012_adds_the_tables_and_users_phones(make_app: Any) -> None:
    from sqlalchemy import inspect, text

    from carebiz import migrate

    app = make_app(schema=False, CAREBIZ_PLUGINS="none")
    migrate.upgrade(app, "core_0011_plate_only_vehicles")
    engine = app.extensions["carebiz"].engine
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO user_account (username, display_name, email, "
                          "password_hash, active, all_branches, session_epoch, created_at, "
                          "updated_at) VALUES ('old', '', '', '', TRUE, FALSE, 0, "
                          "'2026-01-01 00:00:00', '2026-01-01 00:00:00')"))
    migrate.upgrade(app)
    assert migrate.current(app) == {"core": ("core_0013_notice_about",)}
    tables = set(inspect(engine).get_table_names())
    assert {"notification", "notification_delivery", "notification_preference"} <= tables
    with engine.connect() as conn:
        assert conn.execute(text("SELECT phone FROM user_account")).scalar() == ""
    assert migrate.differences(app, "core") == []
    from alembic import command

    with engine.begin() as conn:
        command.downgrade(migrate.alembic_config(app, "core", conn),
                          "core_0011_plate_only_vehicles")
    assert "notification" not in set(inspect(engine).get_table_names())
    assert "phone" not in {c["name"] for c in inspect(engine).get_columns("user_account")}


def test_notices_of_one_transaction_are_delivered_by_one_job(app: Flask, seeded: Any,
                                                             sink: SmtpSink) -> None:
    from carebiz.models import Job

    ids = [_give_email(app, name, f"{name}@dealer.example") for name in ("sales", "manager")]
    with app.app_context(), _session(app) as s:
        for user_id in ids:
            send(s, Notice(Recipient.user(user_id), "Fleet alarm"))
        s.commit()
        jobs = list(s.scalars(select(Job).where(Job.task == "core.notify.deliver")))
        assert len(jobs) == 1 and sorted(jobs[0].params["ids"]) == [1, 2]
        assert jobs[0].result == {"sent": 2, "retry": 0, "failed": 0}
    assert sorted(r[0] for r in sink.recipients) == ["manager@dealer.example",
                                                     "sales@dealer.example"]


# -- outside recipients ------------------------------------------------------------------------
def test_an_outside_person_gets_the_channels_that_take_their_addresses(
        app: Flask, seeded: Any, sink: SmtpSink) -> None:
    """E-mail reaches the address; the phone, with no phone channel in the core, is not
    mentioned: one channel reached them, nothing was lost."""
    with app.app_context(), _session(app) as s:
        used = send(s, Notice(Recipient.external(phone="13800138000", email="c@example.com"),
                              "Consignment on its way", about_type="thing", about_id=7))
        assert used == ["email"]
        s.commit()
        rows = service.deliveries_about(s, "thing", [7, 8])
        assert [(d.channel, d.address, d.status) for d in rows[7]] == [
            ("email", "c@example.com", SENT)]
        assert rows[8] == [] and service.problem(rows[7][0]) == ""
    assert sink.recipients == [["c@example.com"]]


def test_an_outside_person_no_channel_can_reach_is_recorded_with_the_reason(
        app: Flask, seeded: Any, sink: SmtpSink) -> None:
    from carebiz.notify.models import UNSENT

    with app.app_context(), _session(app) as s:
        assert send(s, Notice(Recipient.external(phone="138 0013 8000"), "x",
                              about_type="thing", about_id=1)) == []
        assert send(s, Notice(Recipient.external(phone="12"), "x", about_type="thing",
                              about_id=2)) == []
        assert send(s, Notice(Recipient.external(phone=""), "x", about_type="thing",
                              about_id=3)) == []
        s.commit()
        rows = service.deliveries_about(s, "thing", [1, 2, 3])
        assert {i: [(d.channel, d.address, d.status, d.last_error) for d in r]
                for i, r in rows.items()} == {
            1: [("", "+8613800138000", UNSENT, "no_channel:phone")],  # E.164, as channels get
            2: [("", "12", UNSENT, "bad_address:phone")],
            3: [("", "", UNSENT, "no_address:phone")]}
        assert service.problem(rows[1][0]) == (
            "Not sent: no notification channel can reach this phone number (an SMS gateway "
            "plugin adds one for phones).")
        assert service.problem(rows[2][0]) == "Not sent: “12” is not a phone number."
        assert service.problem(rows[3][0]) == "Not sent: no phone number to send it to."
        # never picked up by the delivery jobs, and purged like finished rows
        assert service.deliver_due(s, app.extensions["carebiz"].host, app) == {
            "sent": 0, "retry": 0, "failed": 0}
    assert sink.recipients == []


def test_a_rolled_back_sender_records_no_unsent_notice(app: Flask, seeded: Any) -> None:
    with app.app_context(), _session(app) as s:
        send(s, Notice(Recipient.external(phone="13800138000"), "x", about_type="thing",
                       about_id=1))
        s.rollback()
        assert service.deliveries_about(s, "thing", [1]) == {1: []}


def test_someone_who_is_no_user_reads_the_business_language(make_app: Any) -> None:
    app = make_app(CAREBIZ_PLUGINS="none", CAREBIZ_DEFAULT_LOCALE="zh_Hans_CN")
    with app.app_context():
        assert service.locale_of(None) == "zh_Hans_CN"
