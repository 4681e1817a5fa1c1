"""GPS through the core notify service: alarms reach the people who watch the vehicle (in
their language, in-app and by e-mail), and a registered phone may ask where a vehicle is."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from carebiz.events import emit
from carebiz.models import User
from carebiz.notify.models import Notification
from carebiz.services.users import update_user
from carebiz.testing import make_user, make_vehicle
from carebiz.testing.smtp import SmtpSink
from carebiz_plugins.gps import signals
from carebiz_plugins.gps.models import GpsAlarm, GpsDevice, GpsDeviceState

IMEI = "358899051234567"
OTHER_IMEI = "358899057654321"
TOKEN = "gateway-secret"
FIX = dt.datetime(2026, 12, 2, 2, 5, tzinfo=dt.UTC)  # 10:05 in Shanghai


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    with SmtpSink() as server:
        yield server


@pytest.fixture
def app(make_app: Callable[..., Flask], sink: SmtpSink) -> Flask:
    return make_app(CAREBIZ_PLUGINS="gps", CAREBIZ_SMTP_HOST="127.0.0.1",
                    CAREBIZ_SMTP_PORT=sink.port, CAREBIZ_PUBLIC_URL="https://dms.example",
                    CAREBIZ_INBOUND_TOKENS=f"sms={TOKEN}", CAREBIZ_INBOUND_LIMIT="5 per minute")


def _user(session: Any, name: str) -> User:
    user = session.scalar(select(User).where(User.username == name))
    assert user is not None
    return user


@pytest.fixture
def fleet(app: Flask, seeded: dict[str, Any]) -> dict[str, Any]:
    """A tracked car in branch A (with a live position), one in branch B; users with phones
    and e-mails: sales (A), viewer (A, Chinese), salesb (B)."""
    a, b = seeded["branches"]["A"], seeded["branches"]["B"]
    with app.app_context(), app.extensions["carebiz"].session_factory() as s:
        car = make_vehicle(s, 1, a, plate="沪A12345")
        other = make_vehicle(s, 2, b, plate="京B54321")
        mine = GpsDevice(imei=IMEI, vehicle_id=car.id, branch_id=a, status="active")
        theirs = GpsDevice(imei=OTHER_IMEI, vehicle_id=other.id, branch_id=b, status="active")
        s.add_all([mine, theirs])
        s.flush()
        s.add(GpsDeviceState(device_id=mine.id, fix_time=FIX, latitude=31.230416,
                             longitude=121.473701, speed_kmh=42.4))
        update_user(s, _user(s, "sales"), email="sales@dealer.example", phone="13800138000")
        update_user(s, _user(s, "viewer"), locale="zh_CN", phone="13800138001")
        make_user(s, "salesb", roles=["salesperson"], branches=["B"],
                  email="salesb@dealer.example", phone="13800138002")
        make_user(s, "nogps", roles=[], branches=["A"], phone="13800138003")
        s.commit()
        return {"device": mine.id, "vehicle": car.id, "branch": a, "other": theirs.id}


def _raise(app: Flask, fleet: dict[str, Any], kind: str = "power_cut") -> int:
    with app.app_context(), app.extensions["carebiz"].session_factory() as s:
        alarm = GpsAlarm(device_id=fleet["device"], vehicle_id=fleet["vehicle"],
                         branch_id=fleet["branch"], type=kind, fix_time=FIX,
                         latitude=31.230416, longitude=121.473701, details={})
        s.add(alarm)
        s.flush()
        emit(s, signals.alarm_raised, alarm_id=alarm.id, device_id=fleet["device"],
             vehicle_id=fleet["vehicle"], branch_id=fleet["branch"], type=kind,
             fix_time=FIX, latitude=31.230416, longitude=121.473701, details={})
        s.commit()
        return int(alarm.id)


def _inbox(app: Flask) -> dict[str, list[Notification]]:
    with app.app_context(), app.extensions["carebiz"].session_factory() as s:
        rows = s.execute(select(User.username, Notification).join(
            Notification, Notification.user_id == User.id).order_by(Notification.id))
        out: dict[str, list[Notification]] = {}
        for name, row in rows:
            out.setdefault(name, []).append(row)
        return out


def test_an_alarm_reaches_the_watchers_of_its_branch_only(app: Flask, fleet: dict[str, Any],
                                                          sink: SmtpSink) -> None:
    _raise(app, fleet)
    inbox = _inbox(app)
    # gps.view in branch A (or every branch); not branch B, not a user without gps.view
    assert set(inbox) == {"admin", "manager", "sales", "viewer"}
    sales = inbox["sales"][0]
    assert sales.subject == "Power cut: 沪A12345"
    assert sales.text == "Power cut on 沪A12345 at 2026-12-02 10:05. " \
                         "Position: 31.23042,121.47370."
    assert (sales.link, sales.kind, sales.source, sales.importance) == (
        "/gps/alarms", "gps.alarm.power_cut", "gps", "high")
    assert inbox["viewer"][0].subject.startswith("断电")  # in the reader's language
    # e-mail to those with an address, with the link made absolute
    assert [r for [r] in sink.recipients] == ["sales@dealer.example"]
    assert "https://dms.example/gps/alarms" in sink.messages[0].get_content()


def test_a_minor_alarm_is_of_normal_importance(app: Flask, fleet: dict[str, Any]) -> None:
    _raise(app, fleet, "low_battery")
    assert _inbox(app)["sales"][0].importance == "normal"


def test_a_failing_notice_leaves_the_alarm_stored(app: Flask, fleet: dict[str, Any],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from carebiz_plugins.gps import notify

    def broken(*_args: Any, **_kw: Any) -> list[Any]:
        raise RuntimeError("notices broke")

    monkeypatch.setattr(notify, "alarm_notices", broken)
    alarm_id = _raise(app, fleet)
    with app.app_context(), app.extensions["carebiz"].session_factory() as s:
        assert s.get(GpsAlarm, alarm_id) is not None
    assert _inbox(app) == {}


def _ask(app: Flask, sender: str, text: str, token: str = TOKEN) -> Any:
    return app.test_client().post("/api/v1/notifications/inbound/sms",
                                  json={"sender": sender, "text": text},
                                  headers={"X-Gateway-Token": token})


def test_a_registered_phone_gets_the_position_by_plate_or_imei(app: Flask,
                                                               fleet: dict[str, Any]) -> None:
    expected = ("沪A12345 2026-12-02 10:05 42 km/h 31.23042,121.47370 "
                f"https://dms.example/gps/playback?device={IMEI}")
    by_plate = _ask(app, "138 0013 8000", "沪A12345")
    assert by_plate.status_code == 200 and by_plate.get_json() == {"reply": expected}
    assert _ask(app, "+8613800138000", f" {IMEI} ").get_json() == {"reply": expected}
    assert _ask(app, "+8613800138000", "a12345").get_json() == {"reply": expected}  # key


def test_a_vehicle_of_another_branch_reads_as_not_found(app: Flask,
                                                        fleet: dict[str, Any]) -> None:
    for text in ("京B54321", OTHER_IMEI, "沪Z99999"):
        reply = _ask(app, "+8613800138000", text).get_json()["reply"]
        assert "no tracked vehicle found" in reply and "54321" not in reply.replace(text, "")
    # branch B's own user sees it; a user without gps.view sees nothing
    assert _ask(app, "+8613800138002", "京B54321").get_json()["reply"].startswith(
        "京B54321: no position")
    assert "no tracked vehicle found" in _ask(app, "+8613800138003", "沪A12345").get_json()[
        "reply"]


def test_unknown_senders_are_refused_politely_and_tokens_are_checked(
        app: Flask, fleet: dict[str, Any]) -> None:
    stranger = _ask(app, "+8613900139000", "沪A12345").get_json()["reply"]
    assert "not registered" in stranger and "31.2" not in stranger
    assert _ask(app, "not a number", "沪A12345").get_json()["reply"] == stranger
    wrong = _ask(app, "+8613800138000", "沪A12345", token="guess")
    assert wrong.status_code == 401 and wrong.get_json()["status"] == "unauthorized"
    other_channel = app.test_client().post(
        "/api/v1/notifications/inbound/wechat", json={"sender": "+8613800138000",
                                                      "text": "沪A12345"},
        headers={"X-Gateway-Token": TOKEN})
    assert other_channel.status_code == 401  # the token is the sms channel's only
    # text that names no vehicle is not GPS's: the core's "not understood"
    assert "not understood" in _ask(app, "+8613800138000", "hello").get_json()["reply"]


def test_inbound_messages_are_rate_limited_per_sender(app: Flask,
                                                      fleet: dict[str, Any]) -> None:
    codes = [_ask(app, "+8613800138000", "沪A12345").status_code for _ in range(6)]
    assert codes == [200] * 5 + [429]
    assert _ask(app, "+8613800138002", "京B54321").status_code == 200  # another sender
