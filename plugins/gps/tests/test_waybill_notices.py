"""Waybill status notices to the consignee (issue 12): every scan tells the consignee, after
the commit, through whatever channel reaches a phone — an SMS gateway plugin registered here
gets them with no change to gps — and without such a channel the waybill's page and API say
that the consignee was not told, and why."""

from __future__ import annotations

import datetime as dt
import importlib
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from carebiz.services import settings
from carebiz.testing import make_vehicle, seed, token_for
from carebiz.testing.dists import FakeDists, manifest_module
from carebiz.testing.plugin import ApiClient

GATEWAY = """
from carebiz.contributions import NotificationChannel

#: what the gateway was handed: (notice, address); FAIL makes it raise
SENT = []
FAIL = []


def deliver(notice, address):
    if FAIL:
        raise RuntimeError(FAIL[0])
    SENT.append((notice, address))


@hookimpl
def notification_channels():
    return [NotificationChannel("sms", "Text message", deliver, address="phone",
                                default_on=False)]
"""


def _gateway_app(make_app: Callable[..., Flask], fake_dists: FakeDists, **config: Any
                 ) -> tuple[Flask, Any]:
    """An app with gps and a test plugin "smsgw" contributing an ``sms`` channel."""
    fake_dists.module("smsgw_pkg.plugin", manifest_module("smsgw", body=GATEWAY))
    fake_dists.dist("carebiz-smsgw", {"smsgw": "smsgw_pkg.plugin"})
    app = make_app(CAREBIZ_PLUGINS="gps,smsgw", **config)
    gateway = importlib.import_module("smsgw_pkg.plugin")
    gateway.SENT.clear()
    gateway.FAIL.clear()
    return app, gateway


@pytest.fixture
def gw(make_app: Callable[..., Flask], fake_dists: FakeDists) -> tuple[Flask, Any, Any]:
    """(app, the gateway module, the seeded business) in Chinese by default."""
    app, gateway = _gateway_app(make_app, fake_dists, CAREBIZ_DEFAULT_LOCALE="zh_Hans_CN",
                                CAREBIZ_PUBLIC_URL="https://dms.example")
    return app, gateway, seed(app)


def _db(app: Flask) -> Any:
    return app.extensions["carebiz"].session_factory()


def _waybill(app: Flask, seeded: dict[str, Any], phone: str = "138 0013 8000",
             branch: str = "A", email: str = "") -> dict[str, Any]:
    """A waybill on a tracked van (live fix at a known place), created and committed."""
    from carebiz_plugins.gps.models import GpsDevice, GpsDeviceState
    from carebiz_plugins.gps.services import waybills

    branch_id = seeded["branches"][branch]
    with app.app_context(), _db(app) as sess:
        car = make_vehicle(sess, 900 if branch == "A" else 901, branch_id,
                           plate="沪D12345" if branch == "A" else "沪D54321")
        device = GpsDevice(imei="356307042449000" if branch == "A" else "356307042449001",
                           vehicle_id=car.id, branch_id=branch_id, status="active")
        sess.add(device)
        sess.flush()
        sess.add(GpsDeviceState(device_id=device.id, fix_time=dt.datetime.now(dt.UTC),
                                latitude=31.230416, longitude=121.473701))
        bill = waybills.create_waybill(sess, {
            "shipper_name": "发货人", "consignee_name": "收货人", "consignee_phone": phone,
            "consignee_email": email, "goods": "配件",
            "pieces": 3, "vehicle_id": car.id, "branch_id": branch_id})
        sess.commit()
        return {"id": bill.id, "number": bill.number}


def _scan(app: Flask, waybill_id: int, status: str | None = None) -> int:
    from carebiz_plugins.gps.models import GpsWaybill
    from carebiz_plugins.gps.services import waybills

    with app.app_context(), _db(app) as sess:
        bill = sess.get(GpsWaybill, waybill_id)
        assert bill is not None
        event = waybills.move(sess, bill, status)
        sess.commit()
        return int(event.id)


def _states(app: Flask, waybill_id: int) -> list[tuple[str, list[dict[str, Any]]]]:
    """(status of each scan, what became of its notice), oldest first."""
    from carebiz_plugins.gps.models import GpsWaybill
    from carebiz_plugins.gps.notify_consignee import notice_states
    from carebiz_plugins.gps.services import waybills

    with app.app_context(), _db(app) as sess:
        bill = sess.get(GpsWaybill, waybill_id)
        assert bill is not None
        history = waybills.events(sess, bill)
        states = notice_states(sess, [e.id for e in history])
        return [(e.status, states[e.id]) for e in history]


# --- services -----------------------------------------------------------------------------


def test_an_sms_gateway_plugin_gets_every_status_notice(gw: tuple[Flask, Any, Any]) -> None:
    from carebiz.toolkit import business_tz
    from carebiz_plugins.gps.services import waybills

    app, gateway, seeded = gw
    bill = _waybill(app, seeded)
    for _step in range(3):
        _scan(app, bill["id"])
    sent = gateway.SENT
    assert [address for _notice, address in sent] == ["+8613800138000"] * 4  # E.164
    assert [n.kind for n, _a in sent] == ["gps.waybill.received", "gps.waybill.loaded",
                                          "gps.waybill.in_transit", "gps.waybill.delivered"]
    notice = sent[2][0]
    # in the business's language, the time in its zone, the position of the scan
    assert notice.subject == f"货物 {bill['number']}：运输中"
    with app.app_context(), _db(app) as sess:
        from carebiz_plugins.gps.models import GpsWaybillEvent

        at = sess.scalars(select(GpsWaybillEvent.at).order_by(GpsWaybillEvent.id)).all()[2]
        local = at.astimezone(business_tz()).strftime("%Y-%m-%d %H:%M")  # Asia/Shanghai
    assert notice.text == (f"货物 {bill['number']}（3 件）：{local} 运输中。 "
                           "位置：31.23042,121.47370。 在跟踪页面查看：")
    # the public tracking link with a token that opens the waybill
    assert notice.link.startswith(f"/track/{bill['number']}?t=")
    with app.test_request_context(), _db(app) as sess:
        token = notice.link.split("?t=", 1)[1]
        assert waybills.read_token(sess, bill["number"], token).id == bill["id"]
    page = app.test_client().get(notice.link)
    assert page.status_code == 200 and bill["number"] in page.get_data(as_text=True)
    # each scan's notice is recorded as sent through the gateway
    assert [(status, [(d["channel"], d["status"], d["problem"]) for d in rows])
            for status, rows in _states(app, bill["id"])] == [
        (status, [("sms", "sent", "")])
        for status in ("received", "loaded", "in_transit", "delivered")]


def test_without_a_phone_channel_the_page_shows_the_consignee_was_not_told(
        app: Flask, seeded: dict[str, Any], client_for: Any) -> None:
    bill = _waybill(app, seeded)
    _scan(app, bill["id"])
    states = _states(app, bill["id"])
    assert [(s, [(d["channel"], d["address"], d["status"]) for d in rows])
            for s, rows in states] == [
        ("received", [("", "+8613800138000", "unsent")]),
        ("loaded", [("", "+8613800138000", "unsent")])]
    assert "no notification channel can reach this phone number" in states[1][1][0]["problem"]
    html = client_for("sales").get(f"/gps/waybills/{bill['id']}").get_data(as_text=True)
    assert html.count('data-notice-status="unsent"') == 2
    assert "Not sent" in html and "no notification channel can reach" in html


def test_a_rolled_back_scan_notifies_nobody(gw: tuple[Flask, Any, Any]) -> None:
    from carebiz_plugins.gps.models import GpsWaybill
    from carebiz_plugins.gps.services import waybills

    app, gateway, seeded = gw
    bill = _waybill(app, seeded)
    gateway.SENT.clear()
    with app.app_context(), _db(app) as sess:
        row = sess.get(GpsWaybill, bill["id"])
        assert row is not None
        waybills.move(sess, row)
        sess.rollback()
    assert gateway.SENT == []
    assert [s for s, _rows in _states(app, bill["id"])] == ["received"]


def test_a_failing_notice_never_fails_the_scan(app: Flask, seeded: dict[str, Any],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from carebiz_plugins.gps import notify_consignee

    bill = _waybill(app, seeded)

    def broken(*_args: Any, **_kw: Any) -> Any:
        raise RuntimeError("notices broke")

    monkeypatch.setattr(notify_consignee, "consignee_notice", broken)
    _scan(app, bill["id"])
    assert [s for s, _rows in _states(app, bill["id"])] == ["received", "loaded"]


def test_a_gateway_that_fails_is_retried_and_shown_as_waiting(gw: tuple[Flask, Any, Any]) -> None:
    app, gateway, seeded = gw
    gateway.FAIL.append("gateway down")
    bill = _waybill(app, seeded)
    [(_status, [row])] = _states(app, bill["id"])
    assert (row["channel"], row["status"], row["attempts"]) == ("sms", "pending", 1)
    assert "gateway down" in row["problem"]


def test_a_consignee_phone_that_is_no_number_is_recorded(gw: tuple[Flask, Any, Any]) -> None:
    app, gateway, seeded = gw
    bill = _waybill(app, seeded, phone="门卫室")
    [(_status, [row])] = _states(app, bill["id"])
    assert (row["status"], row["address"]) == ("unsent", "门卫室")
    assert row["problem"] == "未发送：“门卫室”不是电话号码。"
    assert gateway.SENT == []


def test_notices_switch_off_globally_and_per_branch(gw: tuple[Flask, Any, Any]) -> None:
    from carebiz_plugins.gps.notify_consignee import notices_on

    app, gateway, seeded = gw
    host = app.extensions["carebiz"].host
    with app.app_context(), _db(app) as sess:
        settings.set_value(sess, host, "gps.waybill_consignee_notices_off", "b, x")
        sess.commit()
    in_a, in_b = _waybill(app, seeded), _waybill(app, seeded, branch="B")
    assert [n.kind for n, _a in gateway.SENT] == ["gps.waybill.received"]  # A's only
    assert _states(app, in_b["id"]) == [("received", [])]
    with app.app_context(), _db(app) as sess:
        assert not notices_on(sess, seeded["branches"]["B"])
        settings.set_value(sess, host, "gps.waybill_consignee_notices", False)
        sess.commit()
    _scan(app, in_a["id"])
    assert len(gateway.SENT) == 1
    with app.app_context(), _db(app) as sess:
        assert not notices_on(sess, seeded["branches"]["A"])


# --- API ----------------------------------------------------------------------------------


def test_the_scan_api_answers_what_became_of_the_notice(make_app: Callable[..., Flask],
                                                        fake_dists: FakeDists) -> None:
    app, gateway = _gateway_app(make_app, fake_dists)
    seeded = seed(app)
    bill = _waybill(app, seeded)
    sales = ApiClient(app, token_for(app, "sales"))
    gateway.FAIL.append("no credit left")
    scanned = sales.post("/api/v1/gps/waybills/scan", json={"code": bill["number"]})
    assert scanned.status_code == 200, scanned.get_json()
    body = scanned.get_json()
    assert body["status"] == "loaded" and body["consignee_notices"] is True
    [received, loaded] = body["events"]
    assert [d["status"] for d in received["notices"]] == ["sent"]
    [notice] = loaded["notices"]
    assert (notice["channel"], notice["address"], notice["status"]) == (
        "sms", "+8613800138000", "pending")
    assert "no credit left" in notice["problem"]
    again = sales.get(f"/api/v1/gps/waybills/{bill['id']}").get_json()
    assert again["events"][1]["notices"] == loaded["notices"]


def test_a_consignee_with_an_e_mail_address_is_told_by_the_shipped_mail_channel(
        make_app: Callable[..., Flask]) -> None:
    """A bare install (no SMS gateway) reaches a consignee who left an e-mail address: the
    address is checked and normalised on the waybill, each scan's notice is mailed after its
    commit, and the waybill's page shows it as sent; the phone stays recorded as unreachable."""
    from carebiz.errors import ValidationFailed
    from carebiz.testing.smtp import SmtpSink
    from carebiz_plugins.gps.services import waybills

    with SmtpSink() as sink:
        app = make_app(CAREBIZ_PLUGINS="gps", CAREBIZ_SMTP_HOST="127.0.0.1",
                       CAREBIZ_SMTP_PORT=sink.port, CAREBIZ_PUBLIC_URL="https://dms.example")
        seeded = seed(app)
        with app.app_context(), _db(app) as sess, pytest.raises(ValidationFailed) as bad:
            waybills.create_waybill(sess, {
                "shipper_name": "S", "consignee_name": "C", "consignee_phone": "13800138000",
                "consignee_email": "shou huo@example.com", "goods": "G",
                "branch_id": seeded["branches"]["A"]})
        assert "space" in bad.value.errors["consignee_email"]
        bill = _waybill(app, seeded, email="Shou.Huo@Example.COM")
        _scan(app, bill["id"])
        assert [m["To"] for m in sink.messages] == ["Shou.Huo@example.com"] * 2
        assert bill["number"] in sink.messages[1]["Subject"]
        assert f"https://dms.example/track/{bill['number']}?t=" in sink.messages[1].get_content()
    rows = _states(app, bill["id"])[1][1]
    assert sorted((d["channel"], d["address"], d["status"]) for d in rows) == [
        ("email", "Shou.Huo@example.com", "sent")]
    api = ApiClient(app, token_for(app, "sales"))
    got = api.get(f"/api/v1/gps/waybills/{bill['id']}").get_json()
    assert got["consignee_email"] == "Shou.Huo@example.com"
