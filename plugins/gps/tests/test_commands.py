"""Command texts per device dialect (Relay for newer units, DYD/HFYD with the password)."""

from __future__ import annotations

import pytest

from carebiz_plugins.gps.models import GpsDevice
from carebiz_plugins.gps.services.commands import command_text


def test_relay_dialect() -> None:
    dev = GpsDevice(imei="123456789012345", password="")
    assert command_text(dev, "cut_off") == "Relay,1#"
    assert command_text(dev, "restore") == "Relay,0#"


def test_password_dialect() -> None:
    dev = GpsDevice(imei="123456789012345", password="123456")
    assert command_text(dev, "cut_off") == "DYD,123456#"
    assert command_text(dev, "restore") == "HFYD,123456#"


def test_custom_and_unknown() -> None:
    dev = GpsDevice(imei="123456789012345", password="")
    assert command_text(dev, "custom", " WHERE# ") == "WHERE#"
    with pytest.raises(ValueError):
        command_text(dev, "custom", "")
    with pytest.raises(ValueError):
        command_text(dev, "explode")


def test_queue_sent_replied(app: object, seeded: dict) -> None:
    """queued → sent → replied as the ingest sink drives it; a second queued one waits."""
    from carebiz_plugins.gps.models import GpsCommand
    from carebiz_plugins.gps.services import commands

    with app.app_context(), app.extensions["carebiz"].session_factory() as s:  # type: ignore[attr-defined]
        branch = seeded["branches"]["A"]
        dev = GpsDevice(imei="123456789012345", status="active", protocol="gt06",
                        branch_id=branch)
        s.add(dev)
        s.flush()
        a = GpsCommand(device_id=dev.id, kind="cut_off", text=command_text(dev, "cut_off"),
                       branch_id=branch)
        b = GpsCommand(device_id=dev.id, kind="restore", text=command_text(dev, "restore"),
                       branch_id=branch)
        s.add_all([a, b])
        s.flush()
        assert [c.id for c in commands.queued_for(s, dev.id)] == [a.id, b.id]
        commands.mark_sent(s, a.id)
        assert a.status == "sent" and [c.id for c in commands.queued_for(s, dev.id)] == [b.id]
        assert commands.record_reply(s, dev.id, "Relay OK") is a
        assert a.status == "replied" and a.reply == "Relay OK"
        assert commands.record_reply(s, dev.id, "stray") is None
