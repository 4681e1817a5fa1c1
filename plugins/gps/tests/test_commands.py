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
