"""Small helpers for CRM tests."""

from __future__ import annotations

from carebiz.crm.validation import vin_check_digit


def valid_vin(serial: int, wmi: str = "LGX") -> str:
    """A VIN with a correct check digit (9th character)."""
    body = f"{wmi}CE4C{serial % 100:02d}" + "0" + f"R1{serial:06d}"
    body = body[:17]
    return body[:8] + vin_check_digit(body) + body[9:]
